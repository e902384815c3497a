/* The monitor of a detached VM (`run -d`, issue 15), like conmon: the
 * supervising parent of vmm/run/supervisor.c, daemonized. It owns the VM's
 * directory (vmm/run/vmdir.h): writes its state, keeps its output in
 * bounded, rotated logs (reading the VMM's stdout and stderr pipes at once,
 * so the VMM never waits on a slow `logs` reader), serves the control
 * socket (vmm/run/ctl_proto.h) and emits events (vmm/run/vmevents.h). The
 * VMM is its child and dies with it (PR_SET_PDEATHSIG). Host only. */
#ifndef NESTBOX_VMM_RUN_MONITOR_H
#define NESTBOX_VMM_RUN_MONITOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "nestbox/err.h"
#include "vmm/run/run.h"

/* What the VMM tells its monitor on opts->detach.notify_fd. */
#define NB_MONITOR_STARTED 'R'         /* the guest is about to run */
#define NB_MONITOR_OOM 'O'             /* the guest reported an OOM kill (abi.h) */
#define NB_MONITOR_SNAPSHOT 'S'        /* NB_SIGNAL_SNAPSHOT: saved into NB_VM_SNAPSHOT_DIR */
#define NB_MONITOR_SNAPSHOT_FAILED 'F' /* ... not saved (why: on its stderr) */
/* ... saved, and the VM held until the monitor has copied its -v disks
 * and written a byte to opts->detach.hold_fd (then 'S' or 'F' as above) */
#define NB_MONITOR_SNAPSHOT_HELD 'H'

/* In the VM's directory: where a VMM that can be snapshotted keeps the
 * files of its last live snapshot (vmm/run/warm.h); the monitor copies
 * them out. */
#define NB_VM_SNAPSHOT_DIR "snapshot"

struct nb_monitor;

/* Become the monitor: fork; the calling process waits until the VM
 * started and returns 1 (or -1 with err: why it did not start, the VM's
 * directory removed); the new process, in a session of its own with stdio
 * on /dev/null, returns 0 and *m (freed by nb_monitor_finish) and goes on
 * to start the VMM. */
int nb_monitor_detach(const struct nb_run_options *opts, struct nb_monitor **m, struct nb_err *err);

/* Before forking the VMM: its pipes and the control socket. */
int nb_monitor_prepare(struct nb_monitor *m, struct nb_err *err);

/* In the VMM child, before any jail: stdout/stderr to the pipes, stdin
 * /dev/null, the notify descriptor in opts, and for a VM that can be
 * snapshotted its snapshot files (opts->detach.snapshot_*_fd). */
int nb_monitor_child(struct nb_monitor *m, struct nb_run_options *opts, struct nb_err *err);

/* --cgroup: the VMM's group (path) and its memory.max, which a snapshot
 * raises by the guest's RAM while its copy of it exists. */
void nb_monitor_set_cgroup(struct nb_monitor *m, const char *path, uint64_t memory_max);

/* Serve until the VMM (pid) exits; its wait status in *wstatus. */
int nb_monitor_run(struct nb_monitor *m, pid_t pid, int *wstatus, struct nb_err *err);

/* The end: the final state (exit code, or rc < 0: err's message and
 * status), the die event, --rm; tells a still waiting `run -d` why it did
 * not start. Never returns: the monitor exits. */
_Noreturn void nb_monitor_finish(struct nb_monitor *m, int rc, int status,
				 const struct nb_err *err);

#endif
