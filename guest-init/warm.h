/* Warm start, guest side (include/nestbox/abi.h, NB_SPEC_TEMPLATE): after
 * a template's snapshot is restored, nestbox-init reads the workload's
 * spec from the stdin port, then makes the clone its own: fresh entropy
 * into the kernel's pool and a reseed, and the host's wall clock. */
#ifndef NESTBOX_GUEST_WARM_H
#define NESTBOX_GUEST_WARM_H

#include <stddef.h>

#include "common/spec.h"
#include "nestbox/err.h"

/* Read one length-prefixed spec blob from fd (le32 length,
 * 1..NB_SPEC_MAX_SIZE, then the bytes): *blob is malloc'd. The bytes after
 * it stay in fd for the workload. */
int nb_warm_read_spec(int fd, void **blob, size_t *len, struct nb_err *err);

/* len (1 to NB_SPEC_SEED_LEN) bytes of host entropy into the kernel's
 * pool, credited. */
int nb_warm_add_entropy(const void *seed, size_t len, struct nb_err *err);

/* A CRNG reseed: what is read from now on depends on the pool's entropy. */
int nb_warm_reseed(struct nb_err *err);

/* The spec's seed into the kernel's pool and a CRNG reseed; the spec's
 * clock into CLOCK_REALTIME. A spec without a seed is refused: a clone
 * must never run on its template's random state. */
int nb_warm_apply(const struct nb_spec *spec, struct nb_err *err);

#endif
