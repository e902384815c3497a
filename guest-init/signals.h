/* Signals for the workload, from init's own signal set and from the host
 * over the signal port (include/nestbox/abi.h, NB_PORT_SIGNAL).
 *
 * The PID-1 rule: the kernel drops a signal sent to a PID namespace's init
 * while it has no handler for it (pid_namespaces(7)), even from the parent
 * namespace; only SIGKILL and SIGSTOP get through. So a `sleep` or a shell
 * without a trap would shrug off TERM. nestbox-init applies the default
 * action itself, as `docker run --init` does: when the workload neither
 * catches, ignores nor blocks a signal whose default action ends a process,
 * it kills it with SIGKILL and reports 128+N for that signal N. Between
 * reading the masks and the kill the workload may install a handler; that
 * window is short and the signal was meant to end it anyway.
 */
#ifndef NESTBOX_GUEST_SIGNALS_H
#define NESTBOX_GUEST_SIGNALS_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/sigmsg.h"

/* Send sig to pid. pid_ns_init: pid is PID 1 of its own namespace (apply
 * the default action as above). Returns the signal N whose default action
 * was applied (pid got SIGKILL for it), else 0. */
int nb_signal_deliver(pid_t pid, int sig, bool pid_ns_init);

struct nb_signal_port {
	int fd; /* non-blocking; -1 once closed or failed */
	struct nb_sigmsg_reader reader;
	int log_fd; /* where invalid messages are reported */
};

/* What nb_signal_port_read asks the supervisor to do. */
struct nb_signal_target {
	pid_t pid;
	bool pid_ns_init;
	int tty_master; /* -1: no pty, window sizes are ignored */
	int forced;     /* out: as nb_signal_deliver's result, if not 0 */
};

/* Read what the port holds and act on every valid message: signals go to
 * t->pid, window sizes to t->tty_master (the kernel then sends the
 * workload SIGWINCH). Invalid bytes are logged and skipped. */
void nb_signal_port_read(struct nb_signal_port *port, struct nb_signal_target *t);

/* The OCI start gate (include/nestbox/abi.h): block until the port brings
 * NB_SIGMSG_START (returns 0) or a signal (returns its number: the
 * workload is not to run). The last window size seen is left in *rows,
 * *cols (untouched if none). -1: the port is closed or failed. */
int nb_signal_port_wait_start(struct nb_signal_port *port, uint32_t *rows, uint32_t *cols);

#endif
