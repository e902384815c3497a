/* Images: import from an OCI layout directory, an OCI or docker archive
 * tarball, or a registry (import.h, registry.h); the record of what is
 * cached (records.h); the run path's view of one image (types.h). This is
 * the entry point above them all. */
#ifndef NESTBOX_IMAGES_IMAGE_H
#define NESTBOX_IMAGES_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/report.h"
#include "images/types.h"
#include "nestbox/err.h"

/* True when arg names an image rather than a plain rootfs directory: a
 * directory with an oci-layout file, a regular file (archive), or a name
 * that is no path on disk and does not start with '/' or '.' (registry). */
bool nb_image_is_reference(const char *arg);

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
