/* Starting the workload process: the one seam between nestbox-init's
 * supervision (init.c) and how the process is confined. This first cut
 * chroots into spec->rootfs; the container runtime (container/) will provide
 * nb_container_start() with the same contract (namespaces, cgroups,
 * pivot_root, capabilities, seccomp) and init.c will call that instead.
 */
#ifndef NESTBOX_GUEST_WORKLOAD_H
#define NESTBOX_GUEST_WORKLOAD_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/spec.h"
#include "nestbox/err.h"

struct nb_workload_opts {
	/* Mount proc, sysfs and a bind of /dev into the rootfs where it has
	 * those directories (PID 1 in the guest; never when run by hand). */
	bool mount_api_fs;
	/* Start the workload as PID 1 of new PID and mount namespaces, as
	 * Docker does: its reboot(2) or poweroff then ends only the workload
	 * (killed by SIGHUP or SIGINT), never the guest kernel. */
	bool own_namespaces;
	/* Signal mask the workload starts with (init blocks the signals it
	 * waits for; the workload must not inherit that). */
	const sigset_t *sigmask;
};

/* Fork and exec the workload. Returns 0 once the command has been exec'd
 * (*pid is the process to wait for), or -1 when the child could not get
 * there: the child has been reaped and err->status says why (127 command
 * not found, 126 not executable, 125 setup failed). The parent learns of a
 * failed exec through a close-on-exec pipe, so "exec failed" is never
 * confused with "the program exited 127". */
int nb_workload_start(const struct nb_spec *spec, const struct nb_workload_opts *opts, pid_t *pid,
		      struct nb_err *err);

#endif
