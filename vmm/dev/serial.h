/* 8250/16550A UART at COM1 (0x3f8, IRQ 4): the guest kernel's console.
 * Transmit is interrupt driven (THRE interrupts, 16-byte FIFO) so the
 * console never depends on polling; bytes written to THR are batched and
 * written to the output fd at line ends, at the end of each transmit burst
 * and when the batch is full, by the vCPU that wrote them: a slow reader of
 * the output fd holds the guest's UART back, nothing is dropped. A write
 * that fails (EPIPE, ENOSPC, ...) stops the VM (nb_stop_write_failed).
 * Receive: nb_serial_rx() queues host input. */
#ifndef NESTBOX_DEV_SERIAL_H
#define NESTBOX_DEV_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/kvm/stop.h"

#define NB_SERIAL_COM1_PORT 0x3f8u
#define NB_SERIAL_COM1_IRQ 4u
#define NB_SERIAL_NREGS 8u
#define NB_SERIAL_RX_FIFO 64u
#define NB_SERIAL_TX_BATCH 4096u

/* Drives the interrupt line: level true = asserted. */
typedef void nb_irq_set(void *opaque, unsigned irq, bool level);

struct nb_serial {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thr_irq_pending; /* THRE interrupt latched, cleared by IIR read/THR write */
	bool irq_level;       /* last level driven on the line */
	uint8_t rx[NB_SERIAL_RX_FIFO];
	unsigned rx_head, rx_count;
	uint8_t tx[NB_SERIAL_TX_BATCH];
	size_t tx_len;
	int out_fd;           /* where transmitted bytes go; -1 discards */
	bool out_dead;        /* a write to out_fd failed: the rest is dropped */
	struct nb_stop *stop; /* told of a failed write; NULL: none (tests) */
	uint64_t tx_bytes;    /* total transmitted, for stats */
	nb_irq_set *set_irq;
	void *irq_opaque;
	unsigned irq;
};

void nb_serial_init(struct nb_serial *s, int out_fd, nb_irq_set *set_irq, void *irq_opaque,
		    unsigned irq);
/* Writes what the output fd takes now (without waiting), then frees. */
void nb_serial_destroy(struct nb_serial *s);

/* Bus handler: offset 0..7 from the base port, 1-byte accesses. */
void nb_serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Queue up to len bytes of input; returns how many fit in the RX FIFO. */
size_t nb_serial_rx(struct nb_serial *s, const uint8_t *buf, size_t len);

/* Write out any batched transmit bytes, blocking (as the vCPU does). */
void nb_serial_flush(struct nb_serial *s);

/* Waits until fd takes output; false gives up (nb_event_wait_writable). */
typedef bool nb_serial_wait(void *opaque, int fd);

/* On the main thread once the vCPUs stopped: write out what a kicked vCPU
 * left in the batch, waiting with wait before each write (NULL: only what
 * the fd takes now). */
void nb_serial_drain(struct nb_serial *s, nb_serial_wait *wait, void *opaque);

/* Snapshot: the UART's registers and RX FIFO (the TX batch is drained
 * first), a fixed-size blob. Load checks every field. */
struct nb_serial_state {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	uint8_t thr_irq_pending, irq_level, pad[3];
	uint32_t rx_head, rx_count;
	uint8_t rx[NB_SERIAL_RX_FIFO];
};
void nb_serial_save(struct nb_serial *s, struct nb_serial_state *st);
int nb_serial_load(struct nb_serial *s, const struct nb_serial_state *st, struct nb_err *err);

#endif
