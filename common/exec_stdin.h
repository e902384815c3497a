/* The guest relay's end of an exec's stdin (guest-init/exec.c): the bytes
 * of NB_EXEC_STDIN frames go to the process's stdin pipe or pty master
 * without ever blocking the relay, so that its output and exit status get
 * through whatever the process does with its input. What the process does
 * not take yet waits here (at most one frame: the relay reads no further
 * frames meanwhile, and the host backs off in turn). The input's end closes
 * the pipe or, on a pty, writes the terminal's VEOF character (as conmon
 * does); a process that exits or closes its stdin (EPIPE, EIO) drops the
 * rest. libc only. */
#ifndef NESTBOX_COMMON_EXEC_STDIN_H
#define NESTBOX_COMMON_EXEC_STDIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nestbox/abi.h"

struct nb_exec_stdin {
	int fd;          /* the pipe's write end or the pty master; -1 once closed or dropped */
	bool tty;        /* fd is a pty master: the relay reads it too, never closed here */
	bool eof;        /* the end is queued: close the pipe once pend is written */
	size_t off, len; /* pend[off..len) waits for the process */
	uint8_t pend[NB_EXEC_MAX_PAYLOAD + 1]; /* a frame's bytes and a VEOF */
};

/* Take fd (made O_NONBLOCK; -1: no stdin). */
void nb_exec_stdin_init(struct nb_exec_stdin *s, int fd, bool tty);

/* Bytes wait for the process: poll fd for POLLOUT, take no further frame. */
bool nb_exec_stdin_busy(const struct nb_exec_stdin *s);

/* An NB_EXEC_STDIN frame's payload (len 0: the input's end); only when
 * not busy. Writes what the process takes now, keeps the rest. */
void nb_exec_stdin_frame(struct nb_exec_stdin *s, const uint8_t *p, size_t len);

/* fd polled writable (or in error): write what waits. */
void nb_exec_stdin_flush(struct nb_exec_stdin *s);

#endif
