/* Importing into the cache: from an OCI layout directory, from an archive
 * unpacked into one (archive.c), and from a resolved manifest through any
 * nb_source (the layout's, the registry's); each import is recorded. */
#ifndef NESTBOX_IMAGES_IMPORT_H
#define NESTBOX_IMAGES_IMPORT_H

#include "images/cache.h"
#include "images/types.h"
#include "nestbox/err.h"

/* Import from an OCI layout directory (dir with oci-layout and index.json);
 * tag, when not NULL, picks the index entry with that ref.name. */
int nb_import_layout(struct nb_cache *c, const char *dir, const char *tag, const char *record_name,
		     const struct nb_pull_opts *opts, struct nb_image *out, struct nb_err *err);

/* Import from a resolved manifest through src and record it. */
int nb_import_manifest(struct nb_cache *c, const struct nb_source *src, const char *record_name,
		       const struct nb_desc *mdesc, const struct nb_manifest *m,
		       const struct nb_pull_opts *opts, struct nb_image *out, struct nb_err *err);

/* What an archive must be: either (detected), or one of the two. */
enum nb_archive_kind { NB_ARCHIVE_ANY, NB_ARCHIVE_OCI, NB_ARCHIVE_DOCKER };
#define NB_ARCHIVE_MAX_IMAGES 1024u /* manifest.json entries looked at */

/* Unpack an OCI archive or docker-archive tarball into dir as an OCI layout
 * (docker-archive gets a generated index and manifest for one image: the
 * one whose RepoTags names want, else the only one). */
int nb_archive_to_layout(const char *tar_path, const char *dir, enum nb_archive_kind kind,
			 const char *want, struct nb_err *err);

#endif
