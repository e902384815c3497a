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
#include "common/spec.h"

/* Send sig to pid. pid_ns_init: pid is PID 1 of its own namespace (apply
 * the default action as above). Returns the signal N whose default action
 * was applied (pid got SIGKILL for it), else 0. */
int nb_signal_deliver(pid_t pid, int sig, bool pid_ns_init);

struct nb_signal_port {
	int fd; /* non-blocking; -1 once closed or failed */
	struct nb_sigmsg_reader reader;
	int log_fd; /* where invalid messages are reported */
};

/* A restored VM's eth0 as the NB_SIGMSG_NET_* messages bring it, until
 * NB_SIGMSG_NET_APPLY (abi.h). */
struct nb_net_next {
	uint64_t mac; /* with has_mac: the bytes, the first lowest */
	bool has_mac;
	uint32_t ipv4, prefix, gateway; /* ipv4 0: none (eth0 goes down) */
	uint32_t dns[NB_SPEC_MAX_DNS];
	unsigned ndns;
};

/* What nb_signal_port_read asks the supervisor to do. */
struct nb_signal_target {
	pid_t pid;
	bool pid_ns_init;
	int tty_master; /* -1: no pty, window sizes are ignored */
	int cgroup_fd;  /* the container's cgroup (memory limits), -1: none */
	int forced;     /* out: as nb_signal_deliver's result, if not 0 */
	/* eth0's address now (0: none) and the container's root (its
	 * resolv.conf), for a restore's NB_SIGMSG_NET_APPLY */
	uint32_t net_ipv4, net_prefix;
	const char *rootfs;
	struct nb_net_next net;
};

/* Take one NB_SIGMSG_NET_* message into next: 1 on NET_APPLY (apply
 * next, then clear it), 0 taken, -1 dropped (a fourth nameserver). */
int nb_net_next_take(struct nb_net_next *next, const struct nb_sigmsg *m);

/* next as a spec's network fields, pointing into mac, text and dns. */
void nb_net_next_spec(const struct nb_net_next *next, struct nb_spec *spec,
		      uint8_t mac[NB_SPEC_MAC_LEN], char text[NB_SPEC_MAX_DNS][16],
		      const char *dns[NB_SPEC_MAX_DNS]);

/* Read what the port holds and act on every valid message: signals go to
 * t->pid, window sizes to t->tty_master (the kernel then sends the
 * workload SIGWINCH), memory limits to t->cgroup_fd's memory.max (logged),
 * a restore's network to eth0 (guest-init/net.h; failures logged).
 * Invalid bytes are logged and skipped. */
void nb_signal_port_read(struct nb_signal_port *port, struct nb_signal_target *t);

/* The OCI start gate (include/nestbox/abi.h): block until the port brings
 * NB_SIGMSG_START (returns 0) or a signal (returns its number: the
 * workload is not to run). The last window size seen is left in *rows,
 * *cols (untouched if none). -1: the port is closed or failed. */
int nb_signal_port_wait_start(struct nb_signal_port *port, uint32_t *rows, uint32_t *cols);

#endif
