/* Waiting for the workload: nestbox-init reaps every child (orphans come to
 * PID 1), passes signals on (its own, and the host's from the signal port,
 * guest-init/signals.h) and, for -t, relays the pty's master to the stdin
 * and stdout ports; with exec_fd it serves `nestbox exec` (guest-init/exec.h).
 * It returns once the workload ended and the pty's
 * output is out, so the status is reported after the output. */
#ifndef NESTBOX_GUEST_SUPERVISE_H
#define NESTBOX_GUEST_SUPERVISE_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "guest-init/exec.h"
#include "guest-init/signals.h"
#include "nestbox/err.h"

struct nb_supervise {
	pid_t workload;
	bool pid_ns_init;            /* the workload is PID 1 of its namespace */
	const sigset_t *signals;     /* blocked in init: SIGCHLD and the ones passed on */
	struct nb_signal_port *port; /* NULL: no signal port */
	int tty_master;              /* -1: no pty */
	int cgroup_fd;               /* the container's cgroup (memory limits), -1: none */
	int in_fd, out_fd;           /* with a pty: where its input comes from, output goes */
	int exec_fd;                 /* nb_exec_listen()'s socket while the workload runs, or -1 */
	struct nb_exec_target exec;  /* with exec_fd */
	/* eth0's address (0: none) and the container's root, for a restore's
	 * new network (guest-init/signals.h) */
	uint32_t net_ipv4, net_prefix;
	const char *rootfs;
};

/* Returns 0 with the workload's status (Docker's convention) in *status. */
int nb_supervise(const struct nb_supervise *s, int *status, struct nb_err *err);

#endif
