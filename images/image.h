/* Images: import from an OCI layout directory, an OCI or docker archive
 * tarball, or a registry (import.h, registry.h); the record of what is
 * cached (records.h); the run path's view of one image (types.h). This is
 * the entry point above them all. */
#ifndef NESTBOX_IMAGES_IMAGE_H
#define NESTBOX_IMAGES_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/report.h"
#include "images/types.h"
#include "nestbox/err.h"

/* How IMAGE is read (images/reference.h has the grammar):
 *   oci:PATH[:TAG], oci-archive:PATH[:TAG], docker-archive:PATH[:REF],
 *   docker://REF   that transport (a prefix always wins: a directory named
 *                  "oci:x" is ./oci:x);
 *   an existing path, or one starting with '/' or '.'
 *                  a directory with oci-layout is an image layout (its only
 *                  or linux/amd64 image), any other directory a plain root
 *                  file system, a file an OCI or docker archive;
 *   anything else  a registry reference by Docker's rules.
 * True when arg names an image rather than a plain rootfs directory. */
bool nb_image_is_reference(const char *arg);

/* ref_or_path as any working directory names the same image: a path on
 * disk (plain, or after oci:, oci-archive:, docker-archive:) made absolute
 * and free of symlinks, a registry reference as it is. Malloc'd. */
char *nb_image_absolute(const char *ref_or_path, struct nb_err *err);

/* The name an image is recorded under: a registry reference's canonical
 * DOMAIN/PATH:TAG, anything else as given. -1 if it does not fit. */
int nb_image_record_name(const char *text, char *name, size_t size);

/* Resolve ref_or_path into cached layers and config: an OCI layout
 * directory, an OCI/docker archive .tar, or a registry reference (pulled
 * when not cached yet), reporting a pull's progress to report. Imports
 * take the cache lock shared; prune waits. */
int nb_image_resolve(const char *ref_or_path, const struct nb_report *report, struct nb_image *out,
		     struct nb_err *err);

/* Import (or pull) and record ref_or_path; fills out when not NULL. */
int nb_image_pull(const char *ref_or_path, const struct nb_pull_opts *opts, struct nb_image *out,
		  struct nb_err *err);

#endif
