/* Workload spec codec: the struct the launcher fills and nestbox-init runs,
 * encoded as a flattened device tree (see include/nestbox/abi.h for the
 * properties and limits). Built for host (glibc) and guest (musl): libc and
 * libfdt only.
 */
#ifndef NESTBOX_SPEC_H
#define NESTBOX_SPEC_H

#include <stddef.h>

#include "nestbox/err.h"

struct nb_spec {
	/* argc entries (1..NB_SPEC_MAX_ARGS), each non-empty. A decoded spec
	 * also has argv[argc] == NULL, so it can go straight to execvp(). */
	const char *const *argv;
	size_t argc;
	/* envc "NAME=value" entries (0..NB_SPEC_MAX_ARGS); NULL when envc == 0
	 * on encode; NULL-terminated (never NULL) when decoded. */
	const char *const *env;
	size_t envc;
	/* Absolute path of the workload's root inside the guest. */
	const char *rootfs;
};

/* Check spec against the limits the guest enforces, so the host rejects
 * what nestbox-init would reject. */
int nb_spec_validate(const struct nb_spec *spec, struct nb_err *err);

/* Encode spec into a new malloc'd blob of *len bytes (<= NB_SPEC_MAX_SIZE).
 * The caller frees *blob. */
int nb_spec_encode(const struct nb_spec *spec, void **blob, size_t *len, struct nb_err *err);

/* Decode and validate a hostile blob. On success the strings in *out point
 * into blob (keep it alive); release the arrays with nb_spec_free(). On
 * failure *out is zeroed and nothing needs freeing. Unknown properties and
 * subnodes are ignored (the format version covers incompatible changes);
 * a known property that appears twice is an error. */
int nb_spec_decode(const void *blob, size_t len, struct nb_spec *out, struct nb_err *err);

/* Free what nb_spec_decode() allocated; safe on a zeroed spec. */
void nb_spec_free(struct nb_spec *spec);

#endif
