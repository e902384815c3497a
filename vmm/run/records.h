/* Run records and `nestbox gc`. A run that creates host state which a
 * crash (kill -9) would leave behind (its cgroup, its vsock socket) first
 * writes a record naming it in the run directory; a clean exit removes
 * state and record. Records whose process is gone are collected by `nestbox
 * gc` and automatically at the start of every confined run. Host only.
 *
 * The run directory is NESTBOX_RUN_DIR, else /run/nestbox for root, else
 * $XDG_RUNTIME_DIR/nestbox, else /tmp/nestbox-UID. It must be a directory
 * (not a symlink) of the user's own with mode 0700 (nestbox creates it so);
 * anything else is refused, since another user could have made it first.
 * Records are written without following links, and gc acts only on
 * records and leftovers (sockets, cgroups) that belong to its own uid. */
#ifndef NESTBOX_VMM_RUN_RECORDS_H
#define NESTBOX_VMM_RUN_RECORDS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/procstat.h" /* nb_proc_start_time: records carry it */
#include "common/report.h"
#include "nestbox/err.h"

/* The run directory's path (see above), and the directory opened with
 * its ownership checked. create: make it (0700) when missing. Returns the
 * fd, -2 when it is missing and !create, -1 with err set when refused. */
const char *nb_run_dir(void);
int nb_run_dir_open(bool create, struct nb_err *err);

struct nb_run_record {
	char path[PATH_MAX]; /* the record file; "" when none was written */
};

/* Record this process's cgroup and vsock socket (either may be NULL;
 * neither may hold a newline). vsock_uid: the uid that binds the socket
 * (a jailed VMM's --uid): gc removes a socket of that uid or its own. */
int nb_gc_record(struct nb_run_record *rec, const char *cgroup, const char *vsock,
		 unsigned vsock_uid, struct nb_err *err);

/* The run is over: remove what its record names that is still there (a
 * cgroup, a socket nobody listens on), then the record. -1 if something
 * could not be removed (the record stays for nestbox gc). */
int nb_gc_release(struct nb_run_record *rec);

/* Remove what dead runs left: their cgroups (killing any task still in
 * them), vsock sockets nobody listens on, and the records. Reports each
 * removal to out (NULL: quiet).
 * Returns how many leftovers it could not remove, or -1 (err set) when
 * the run directory is refused. */
int nb_gc_collect(const struct nb_report *out, struct nb_err *err);

#endif
