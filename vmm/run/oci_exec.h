/* The host side of `nestbox exec` (include/nestbox/abi.h, "OCI runtime:
 * exec"): connect through the container's vsock socket to nestbox-init's
 * exec port, send the request, then relay stdio (or a pty's stream), host
 * signals and window sizes until the guest reports the process's status.
 * Every frame from the guest is hostile (common/execmsg.h). Host only;
 * nothing here prints. */
#ifndef NESTBOX_VMM_RUN_OCI_EXEC_H
#define NESTBOX_VMM_RUN_OCI_EXEC_H

#include <stdbool.h>

#include "common/execmsg.h"
#include "nestbox/err.h"

/* A connection to the guest's exec port through the vsock socket
 * NB_EXEC_SOCKET in the container's state directory dir. err->errnum is
 * ECONNRESET when the guest does not listen (yet: the workload may be
 * starting). */
int nb_oci_exec_connect(const char *dir, struct nb_err *err);

struct nb_oci_exec_io {
	int in, out, err; /* the process's stdio on the host (a pty: in == out) */
	int started_fd;   /* gets "s" once the process runs, or -1 */
	int signal_fd;    /* a signalfd of the signals to pass on (WINCH: a size), or -1 */
};

/* Send r on conn, relay until the guest's EXIT: 0 with its status, -1 with
 * err (the guest's own message when it could not run the process). */
int nb_oci_exec_run(int conn, const struct nb_exec_request *r, const struct nb_oci_exec_io *io,
		    int *status, struct nb_err *err);

#endif
