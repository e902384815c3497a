/* Signal-port messages (include/nestbox/abi.h, NB_PORT_SIGNAL): the host
 * encodes signals and window sizes; nestbox-init decodes a hostile byte
 * stream of them. Built for host and guest: libc only.
 */
#ifndef NESTBOX_SIGMSG_H
#define NESTBOX_SIGMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nestbox/abi.h"
#include "nestbox/err.h"

struct nb_sigmsg {
	uint8_t type; /* NB_SIGMSG_SIGNAL, _WINSIZE, _START, _MEMORY, _ENTROPY, _CLOCK, _NET_* */
	int signo;    /* SIGNAL: nb_sigmsg_signal_ok() */
	uint16_t rows, cols; /* WINSIZE: 1..NB_WINSIZE_MAX each */
	uint64_t memory;     /* MEMORY: nb_sigmsg_memory_ok() */
	uint64_t value;      /* ENTROPY: the 8 bytes (le64); CLOCK: ns, 1..INT64_MAX;
			      * NET_MAC: the MAC's bytes, the first lowest (le);
			      * NET_ADDR: address | prefix << 32; NET_GATEWAY,
			      * NET_DNS: the address; NET_APPLY: 0 (abi.h) */
};

/* Whether signo may travel on the port (the signals Docker forwards). */
bool nb_sigmsg_signal_ok(int signo);

/* Whether bytes may be a MEMORY message's memory.max (abi.h). */
bool nb_sigmsg_memory_ok(uint64_t bytes);

/* Encode m into buf (at least NB_SIGMSG_MAX bytes). Returns the length,
 * or 0 when m is not valid (the guest would reject it). */
size_t nb_sigmsg_encode(const struct nb_sigmsg *m, uint8_t *buf);

/* NB_SIGMSG_NET_MAC's value and a MAC's six bytes (byte 0, the first on
 * the wire, is the value's low one). */
uint64_t nb_sigmsg_mac_value(const uint8_t mac[6]);
void nb_sigmsg_mac_bytes(uint64_t value, uint8_t mac[6]);

/* Decode the message at the front of buf[0..len). Returns
 *    1  a valid message in *m, *used bytes consumed;
 *    0  buf holds the start of a message and needs more bytes (*used 0);
 *   -1  invalid: *used bytes to drop (one for a bad header byte, the whole
 *       frame for a bad type, length or value) and err says why. */
int nb_sigmsg_decode(const uint8_t *buf, size_t len, struct nb_sigmsg *m, size_t *used,
		     struct nb_err *err);

/* Reassembly of the stream the guest reads in arbitrary pieces. */
struct nb_sigmsg_reader {
	uint8_t buf[4 * NB_SIGMSG_MAX];
	size_t len;
};

/* Where the next read may put bytes, and how many; then nb_sigmsg_reader_add. */
static inline uint8_t *nb_sigmsg_reader_space(struct nb_sigmsg_reader *r, size_t *room)
{
	*room = sizeof(r->buf) - r->len;
	return r->buf + r->len;
}

void nb_sigmsg_reader_add(struct nb_sigmsg_reader *r, size_t n);

/* Next message from what was added: 1 with *m, 0 when it needs more bytes,
 * -1 when invalid bytes were dropped (err says why; call again). */
int nb_sigmsg_reader_next(struct nb_sigmsg_reader *r, struct nb_sigmsg *m, struct nb_err *err);

#endif
