/* Where networks live: one JSON definition per network (DEFS/NAME.json,
 * persistent) and one lease file per network in use (LEASES/NAME.json:
 * which VM holds which address and published ports; under the run
 * directory, so a reboot, which ends every VM, forgets them). Every
 * operation runs under one exclusive lock (flock on DEFS/.lock) taken by
 * nb_netstore_open(); files are written atomically (common/file.h). The
 * allocation and pruning rules are pure functions, for tests. Host only. */
#ifndef NESTBOX_VMM_HOSTNET_STORE_H
#define NESTBOX_VMM_HOSTNET_STORE_H

#include <stdbool.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "nestbox/err.h"
#include "vmm/hostnet/netdef.h"
#include "vmm/hostnet/publish.h"

#define NB_LEASES_MAX 4096u /* VMs per network */

struct nb_netstore {
	int defs_fd, leases_fd, lock_fd;
};

/* One VM's hold on an address: its owner (the nestbox process, known by
 * pid and start time so a reused pid is not mistaken for it), its tap and
 * its published ports. */
struct nb_lease {
	uint32_t ip;
	int pid;
	uint64_t start; /* /proc/PID/stat starttime */
	char tap[16];
	struct nb_publish publish[NB_PUBLISH_MAX];
	size_t npublish;
};

struct nb_leases {
	struct nb_lease *v;
	size_t n;
};

/* Create the directories if missing (0700) and take the lock (waits). */
int nb_netstore_open(struct nb_netstore *s, const char *defs_dir, const char *leases_dir,
		     struct nb_err *err);
/* Release the lock and the directories. */
void nb_netstore_close(struct nb_netstore *s);

/* The definition of name: 0, 1 if there is none, -1 on error. */
int nb_netstore_get(struct nb_netstore *s, const char *name, struct nb_netdef *def,
		    struct nb_err *err);
int nb_netstore_put(struct nb_netstore *s, const struct nb_netdef *def, struct nb_err *err);
int nb_netstore_del(struct nb_netstore *s, const char *name, struct nb_err *err);
/* Every definition, sorted by name (*defs malloc'd). A file that does
 * not parse is skipped. */
int nb_netstore_list(struct nb_netstore *s, struct nb_netdef **defs, size_t *n, struct nb_err *err);

/* name's leases (none: n = 0). save with n = 0 removes the file. */
int nb_leases_load(struct nb_netstore *s, const char *name, struct nb_leases *l,
		   struct nb_err *err);
int nb_leases_save(struct nb_netstore *s, const char *name, const struct nb_leases *l,
		   struct nb_err *err);
void nb_leases_free(struct nb_leases *l);
/* Append a copy of one lease. */
int nb_leases_add(struct nb_leases *l, const struct nb_lease *lease, struct nb_err *err);

/* A lease as the lease file holds it: ip, pid, start, tap, publish. */
json_object *nb_lease_json(const struct nb_lease *lease);

/* A free host address of def for a new lease: want if it is one (0: the
 * lowest free one, the gateway excluded). */
int nb_leases_alloc(const struct nb_netdef *def, const struct nb_leases *l, uint32_t want,
		    uint32_t *ip, struct nb_err *err);

/* Drop the leases alive() says are dead; returns how many. */
size_t nb_leases_prune(struct nb_leases *l, bool (*alive)(const struct nb_lease *));

/* Remove pid's lease; true if it had one. */
bool nb_leases_remove(struct nb_leases *l, int pid);

/* The start time of process pid (/proc/PID/stat), 0 if there is none. */
uint64_t nb_proc_start(int pid);
/* Is the lease's owner still running? */
bool nb_lease_alive(const struct nb_lease *lease);

#endif
