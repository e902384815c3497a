/* Images: import from an OCI layout directory, an OCI or docker archive
 * tarball, or a registry; the record of what is cached (images.json); and
 * the run path's view of one image. */
#ifndef NESTBOX_IMAGES_IMAGE_H
#define NESTBOX_IMAGES_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/report.h"
#include "images/cache.h"
#include "images/layers.h"
#include "images/oci.h"
#include "nestbox/err.h"

/* What the run path needs from an image. */
struct nb_image {
	char *ref;                   /* the name it is recorded under */
	struct nb_digest manifest;   /* manifest digest */
	char **layers;               /* erofs image paths, bottom layer first, NULL-terminated */
	size_t n_layers;
	struct nb_image_config config; /* entrypoint, cmd, env, workdir, user */
};

void nb_image_free(struct nb_image *img);

/* True when arg names an image rather than a plain rootfs directory: a
 * directory with an oci-layout file, a regular file (archive), or a name
 * that is no path on disk and does not start with '/' or '.' (registry). */
bool nb_image_is_reference(const char *arg);

/* Resolve ref_or_path into cached layers and config: an OCI layout
 * directory, an OCI/docker archive .tar, or a registry reference (pulled
 * when not cached yet), reporting a pull's progress to report. Imports
 * take the cache lock shared; prune waits. */
int nb_image_resolve(const char *ref_or_path, const struct nb_report *report,
		     struct nb_image *out, struct nb_err *err);

/* Options and progress reporting for imports. */
struct nb_pull_opts {
	bool insecure;  /* plain HTTP to the registry */
	bool progress;  /* progress bar on stderr (a terminal) */
	bool quiet;     /* nothing on stderr but errors */
	struct nb_report report; /* the front end's printer: layer lines, the progress bar */
	const struct nb_layer_limits *limits;
};

/* Import (or pull) and record ref_or_path; fills out when not NULL. */
int nb_image_pull(const char *ref_or_path, const struct nb_pull_opts *opts,
		  struct nb_image *out, struct nb_err *err);

/* ---- internals shared by the importers ----------------------------------- */

/* An image source: fetch small JSON blobs, open layer blobs. */
struct nb_source {
	int (*fetch)(void *ctx, const struct nb_desc *d, char **data, size_t *len,
		     struct nb_err *err);
	int (*open_blob)(void *ctx, const struct nb_desc *d, struct nb_err *err);
	void *ctx;
};

/* Import from an OCI layout directory (dir with oci-layout and index.json). */
int nb_import_layout(struct nb_cache *c, const char *dir, const char *record_name,
		     const struct nb_pull_opts *opts, struct nb_image *out, struct nb_err *err);

/* Import from a resolved manifest through src and record it. */
int nb_import_manifest(struct nb_cache *c, const struct nb_source *src, const char *record_name,
		       const struct nb_desc *mdesc, const struct nb_manifest *m,
		       const struct nb_pull_opts *opts, struct nb_image *out, struct nb_err *err);

/* Unpack an OCI archive or docker-archive tarball into dir as an OCI layout
 * (docker-archive gets a generated index and manifest). */
int nb_archive_to_layout(const char *tar_path, const char *dir, struct nb_err *err);

/* Registry pull (registry.c). */
int nb_registry_pull(struct nb_cache *c, const char *ref, const struct nb_pull_opts *opts,
		     struct nb_image *out, struct nb_err *err);

/* ---- records: images.json ------------------------------------------------ */

/* Load the image record for ref (exact name or manifest digest/prefix). */
int nb_records_find(const struct nb_cache *c, const char *ref, struct nb_image *out,
		    bool *found, struct nb_err *err);
int nb_records_put(const struct nb_cache *c, const struct nb_image *img,
		   const struct nb_desc *config_desc, const uint64_t *blob_sizes, struct nb_err *err);

#endif
