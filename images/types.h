/* The types the importers (import.c), the registry (registry.c), the
 * records (records.c) and the run path share: an image as the run path
 * sees it, the import options, a source of blobs. Their own header, so
 * that none of those files needs another's. */
#ifndef NESTBOX_IMAGES_TYPES_H
#define NESTBOX_IMAGES_TYPES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/report.h"
#include "images/layers.h"
#include "images/oci.h"
#include "nestbox/err.h"

/* What the run path needs from an image. */
struct nb_image {
	char *ref;                 /* the name it is recorded under */
	struct nb_digest manifest; /* manifest digest */
	char **layers;             /* erofs image paths, bottom layer first, NULL-terminated */
	size_t n_layers;
	struct nb_image_config config; /* entrypoint, cmd, env, workdir, user */
};

void nb_image_free(struct nb_image *img);

/* Options and progress reporting for imports. */
struct nb_pull_opts {
	bool insecure;           /* plain HTTP to the registry */
	bool progress;           /* progress bar on stderr (a terminal) */
	bool quiet;              /* nothing on stderr but errors */
	struct nb_report report; /* the front end's printer: layer lines, the progress bar */
	const struct nb_layer_limits *limits;
};

/* An image source: fetch small JSON blobs, open layer blobs. */
struct nb_source {
	int (*fetch)(void *ctx, const struct nb_desc *d, char **data, size_t *len,
		     struct nb_err *err);
	int (*open_blob)(void *ctx, const struct nb_desc *d, struct nb_err *err);
	void *ctx;
};

#endif
