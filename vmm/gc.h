/* Run records and `nestbox gc`. A run that creates host state which a
 * crash (kill -9) would leave behind (its cgroup, its vsock socket) first
 * writes a record naming it in the run directory; a clean exit removes
 * state and record. Records whose process is gone are collected by `nestbox
 * gc` and automatically at the start of every confined run. Host only. */
#ifndef NESTBOX_VMM_GC_H
#define NESTBOX_VMM_GC_H

#include <limits.h>
#include <stdio.h>

#include "nestbox/err.h"

struct nb_run_record {
	char path[PATH_MAX]; /* the record file; "" when none was written */
};

/* Record this process's cgroup and vsock socket (either may be NULL). */
int nb_gc_record(struct nb_run_record *rec, const char *cgroup, const char *vsock,
		 struct nb_err *err);

/* The run is over: remove what its record names that is still there (a
 * cgroup, a socket nobody listens on), then the record. -1 if something
 * could not be removed (the record stays for nestbox gc). */
int nb_gc_release(struct nb_run_record *rec);

/* Remove what dead runs left: their cgroups (killing any task still in
 * them), vsock sockets nobody listens on, the records, and the image
 * cache's temporary files. Reports each removal on out (NULL: quiet).
 * Returns how many leftovers it could not remove. */
int nb_gc_collect(FILE *out);

/* `nestbox gc`. */
int nb_gc_main(int argc, char **argv);

#endif
