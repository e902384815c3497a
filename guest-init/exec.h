/* `nestbox exec` in the guest (include/nestbox/abi.h, "OCI runtime: exec"):
 * while the workload runs, nestbox-init listens on vsock port NB_EXEC_PORT;
 * each connection gets a relay process (a child of init) that reads the
 * request, enters the workload's namespaces, cgroup and root, starts the
 * process there as the container's own is started (user, rlimits,
 * capabilities, no_new_privs, seccomp from the spec), relays its stdio or
 * pty and ends with its status. Guest only. */
#ifndef NESTBOX_GUEST_EXEC_H
#define NESTBOX_GUEST_EXEC_H

#include <signal.h>
#include <sys/types.h>

#include "common/spec.h"
#include "nestbox/err.h"

struct nb_exec_target {
	const struct nb_spec *spec;
	pid_t workload;          /* its namespaces and root are entered */
	int cgroup_fd;           /* its cgroup, -1 none */
	const sigset_t *sigmask; /* the mask a process starts with */
};

/* The listening socket (non-blocking, close-on-exec), or -1 with err. */
int nb_exec_listen(struct nb_err *err);

/* Accept what is pending on fd and fork a relay for each connection. */
void nb_exec_accept(int fd, const struct nb_exec_target *t);

#endif
