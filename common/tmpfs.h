/* --tmpfs PATH[:OPTIONS] entries, Docker's syntax, parsed the same way on
 * the host (to refuse bad options up front) and in the guest (to mount
 * them; the entry travels in the spec as written). Shared by both sides. */
#ifndef NESTBOX_COMMON_TMPFS_H
#define NESTBOX_COMMON_TMPFS_H

#include <stddef.h>

#include "nestbox/err.h"

#define NB_TMPFS_DATA_MAX 64

struct nb_tmpfs_mount {
	char path[4096];              /* absolute */
	unsigned long flags;          /* MS_*: Docker's default is nosuid, nodev, noexec */
	char data[NB_TMPFS_DATA_MAX]; /* "mode=1777[,size=N]" for mount(2) */
};

/* Parse "PATH[:OPT,OPT...]" with OPT one of rw ro exec noexec suid nosuid
 * dev nodev size=N[k|m|g] mode=OCTAL. */
int nb_tmpfs_parse(const char *entry, struct nb_tmpfs_mount *out, struct nb_err *err);

#endif
