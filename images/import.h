/* Importing into the cache: from an OCI layout directory, from an archive
 * unpacked into one (archive.c), and from a resolved manifest through any
 * nb_source (the layout's, the registry's); each import is recorded. */
#ifndef NESTBOX_IMAGES_IMPORT_H
#define NESTBOX_IMAGES_IMPORT_H

#include "images/cache.h"
#include "images/types.h"
#include "nestbox/err.h"

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

#endif
