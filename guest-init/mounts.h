/* Mounting helpers for nestbox-init (base file systems, and the API file
 * systems inside the workload's rootfs). */
#ifndef NESTBOX_GUEST_MOUNTS_H
#define NESTBOX_GUEST_MOUNTS_H

#include <stdbool.h>

#include "nestbox/err.h"

struct nb_mount {
	const char *source, *target, *fstype;
	unsigned long flags;
	const char *data;
};

/* True when path is the root of a mount: its device differs from its
 * parent's (a bind mount within one file system is not detected). */
bool nb_is_mount_point(const char *path);

/* Mount m unless its target already is a mount point, so running twice or
 * on a kernel that mounted it already is harmless. */
int nb_mount(const struct nb_mount *m, struct nb_err *err);

#endif
