/* --jail: the VMM process confined on the host, in the manner of
 * Firecracker's jailer. Called in a child that is already PID 1 of a new
 * PID namespace: it enters new mount, network, IPC and UTS namespaces,
 * makes DIR its root (an empty tmpfs holding /dev/kvm and bind mounts of
 * the files and shared directories this VM needs, at their host paths,
 * read-only where possible, and with shared directories a /proc of its own
 * PID namespace showing only pid directories),
 * becomes U:G without capabilities, with no_new_privs, not dumpable, and
 * closes every descriptor it does not need. Host only. */
#ifndef NESTBOX_VMM_CONFINE_JAIL_H
#define NESTBOX_VMM_CONFINE_JAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "nestbox/err.h"

#define NB_JAIL_MAX_PATHS 160u

struct nb_jail_paths {
	size_t n;
	struct nb_jail_path {
		const char *host; /* absolute; exposed at the same path in the jail */
		bool writable;
		bool dir; /* bind the directory (vsock sockets appear in it) */
	} path[NB_JAIL_MAX_PATHS];
	size_t nkeep;
	int keep_fds[NB_JAIL_MAX_PATHS]; /* open descriptors the VMM keeps (>= 3) */
	/* Shared directories (virtio-fs): the descriptors their tables may
	 * hold beyond the jail's own bound, and a private /proc (this PID
	 * namespace's, pid directories only) through which the device
	 * reopens files by their /proc/self/fd magic links. */
	unsigned extra_fds;
	bool proc;
};

/* Add host (made absolute; the string is kept) to paths. */
int nb_jail_paths_add(struct nb_jail_paths *paths, const char *host, bool writable, bool dir,
		      struct nb_err *err);

/* Enter the jail rooted at dir as uid:gid; of the descriptors above 2 only
 * paths->keep_fds stay open. */
int nb_jail_enter(const char *dir, unsigned uid, unsigned gid, const struct nb_jail_paths *paths,
		  struct nb_err *err);

#endif
