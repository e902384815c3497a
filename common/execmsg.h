/* `nestbox exec` frames (include/nestbox/abi.h, "OCI runtime: exec"): the
 * encoder both sides use, a reader that reassembles a hostile stream into
 * whole frames, and the request's codec. Host and guest: libc only. */
#ifndef NESTBOX_COMMON_EXECMSG_H
#define NESTBOX_COMMON_EXECMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nestbox/abi.h"
#include "nestbox/err.h"

#define NB_EXEC_FRAME_MAX (NB_EXEC_HEADER + NB_EXEC_MAX_PAYLOAD)

/* The process to run, as in NB_EXEC_REQUEST. Decoded, the strings point
 * into the reader's frame: copy what must outlive the next read. */
struct nb_exec_request {
	uint32_t flags;      /* NB_EXEC_TTY */
	uint16_t rows, cols; /* the pty's size, 0 0: unknown */
	const char *user, *cwd;
	const char *argv[NB_EXEC_MAX_ARGS + 1]; /* NULL-terminated */
	size_t argc;
	const char *env[NB_EXEC_MAX_ENV + 1]; /* NULL-terminated */
	size_t nenv;
};

/* Frame type and len payload bytes (len <= NB_EXEC_MAX_PAYLOAD) into buf
 * (NB_EXEC_HEADER + len bytes). Returns the frame's length. */
size_t nb_execmsg_frame(uint8_t type, const void *payload, size_t len, uint8_t *buf);

/* The request as a frame in buf (NB_EXEC_FRAME_MAX bytes): its length, or
 * 0 with err when r breaks a bound of the ABI. */
size_t nb_exec_request_encode(const struct nb_exec_request *r, uint8_t *buf, struct nb_err *err);

/* Check and decode a request's payload (NUL bytes included). */
int nb_exec_request_decode(const uint8_t *p, size_t len, struct nb_exec_request *r,
			   struct nb_err *err);

struct nb_execmsg {
	uint8_t type;
	const uint8_t *payload; /* in the reader, until its next call */
	size_t len;
};

struct nb_execmsg_reader {
	uint8_t buf[2 * NB_EXEC_FRAME_MAX];
	size_t len, used; /* used: the frame handed out last */
};

/* Where the next read may put bytes (room > 0 unless a frame is pending). */
uint8_t *nb_execmsg_reader_space(struct nb_execmsg_reader *r, size_t *room);
void nb_execmsg_reader_add(struct nb_execmsg_reader *r, size_t n);

/* The next whole frame: 1 with *m (a known type, its length within the
 * bound the type allows), 0 when more bytes are needed, -1 with err when
 * the stream is broken (close the connection). from_guest: which side's
 * types are valid (the guest's when the host reads). */
int nb_execmsg_next(struct nb_execmsg_reader *r, bool from_guest, struct nb_execmsg *m,
		    struct nb_err *err);

#endif
