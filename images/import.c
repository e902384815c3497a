#include "images/import.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file.h"
#include "images/json.h"
#include "images/records.h"
#include "nestbox/cleanup.h"

/* ---- OCI layout directory -------------------------------------------------- */

struct layout {
	int dirfd;
	const char *dir;
};

static int layout_open(void *ctx, const struct nb_desc *d, struct nb_err *err)
{
	struct layout *l = ctx;
	char rel[80];
	int fd;

	snprintf(rel, sizeof(rel), "blobs/sha256/%s", d->digest.hex);
	fd = openat(l->dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nb_err_sys(err, "blob sha256:%.12s is missing from %s", d->digest.hex,
				  l->dir);
	return fd;
}

static int layout_fetch(void *ctx, const struct nb_desc *d, char **data, size_t *len,
			struct nb_err *err)
{
	cleanup_close int fd = layout_open(ctx, d, err);

	if (fd < 0)
		return -1;
	if (nb_file_read_fd(fd, NB_JSON_MAX_BYTES, data, len, err) < 0)
		return nb_err_wrap(err, "blob sha256:%.12s", d->digest.hex);
	if (nb_desc_check(d, *data, *len, err) < 0) {
		free(*data);
		*data = NULL;
		return -1;
	}
	return 0;
}

static int check_oci_layout(int dirfd, const char *dir, struct nb_err *err)
{
	cleanup_close int fd = openat(dirfd, "oci-layout", O_RDONLY | O_CLOEXEC);
	cleanup_free char *data = NULL;
	struct json_object *o;
	const char *version;
	size_t len;
	int rc;

	if (fd < 0)
		return nb_err_sys(err, "%s is not an OCI image layout (no oci-layout file)", dir);
	if (nb_file_read_fd(fd, 4096, &data, &len, err) < 0)
		return nb_err_wrap(err, "%s/oci-layout", dir);
	o = nb_json_parse(data, len, "oci-layout", err);
	if (!o)
		return nb_err_wrap(err, "%s", dir);
	rc = nb_json_str(o, "imageLayoutVersion", true, 16, &version, err);
	if (rc == 0 && strcmp(version, "1.0.0") != 0)
		rc = nb_err_set(err, 0, "imageLayoutVersion '%s' is not supported (want 1.0.0)",
				version);
	json_object_put(o);
	return rc < 0 ? nb_err_wrap(err, "%s/oci-layout", dir) : 0;
}

int nb_import_layout(struct nb_cache *c, const char *dir, const char *tag, const char *record_name,
		     const struct nb_pull_opts *opts, struct nb_image *out, struct nb_err *err)
{
	cleanup_close int dirfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	cleanup_close int ifd = -1;
	cleanup_free char *index = NULL;
	struct layout l = { .dir = dir };
	struct nb_source src = { layout_fetch, layout_open, &l };
	struct nb_desc mdesc;
	struct nb_manifest m;
	size_t len;
	int rc;

	if (dirfd < 0)
		return nb_err_sys(err, "cannot open image layout %s", dir);
	l.dirfd = dirfd;
	if (check_oci_layout(dirfd, dir, err) < 0)
		return -1;
	ifd = openat(dirfd, "index.json", O_RDONLY | O_CLOEXEC);
	if (ifd < 0)
		return nb_err_sys(err, "%s has no index.json", dir);
	if (nb_file_read_fd(ifd, NB_JSON_MAX_BYTES, &index, &len, err) < 0)
		return nb_err_wrap(err, "%s/index.json", dir);
	if (nb_oci_resolve_index(layout_fetch, &l, index, len, tag, &mdesc, &m, err) < 0)
		return nb_err_wrap(err, "%s", dir);
	rc = nb_import_manifest(c, &src, record_name, &mdesc, &m, opts, out, err);
	nb_manifest_free(&m);
	return rc;
}

/* ---- from a manifest to cached layers ------------------------------------ */

/* Keep the verified manifest and config in the cache's blob store so a
 * recorded image is complete without its source. */
static int store_blob(struct nb_cache *c, const struct nb_source *src, const struct nb_desc *d,
		      char **data, size_t *len, struct nb_err *err)
{
	if (src->fetch(src->ctx, d, data, len, err) < 0)
		return -1;
	if (nb_cache_put_blob(c, &d->digest, *data, *len, err) < 0) {
		free(*data);
		return -1;
	}
	return 0;
}

/* On a terminal: one overwritten status line on stderr; otherwise one
 * machine-readable line per layer on stdout. */
static void report_layer(const struct nb_pull_opts *opts, size_t i, size_t n,
			 const struct nb_desc *d, bool converted)
{
	if (opts->quiet)
		return;
	if (opts->progress) {
		nb_report(&opts->report, NB_REPORT_PROGRESS,
			  "\r\033[Klayer %zu/%zu sha256:%.12s %s%s", i + 1, n, d->digest.hex,
			  converted ? "converted" : "cached", i + 1 == n ? "\n" : "");
		return;
	}
	nb_report(&opts->report, NB_REPORT_OUTPUT, "layer %zu/%zu sha256:%s %lld %s", i + 1, n,
		  d->digest.hex, (long long)d->size, converted ? "converted" : "cached");
}

static int check_diff_ids(const struct nb_manifest *m, const struct nb_image_config *cfg,
			  struct nb_err *err)
{
	if (cfg->diff_ids && cfg->n_diff_ids != m->n_layers)
		return nb_err_set(err, 0,
				  "image config lists %zu layers (rootfs.diff_ids) but the "
				  "manifest has %zu",
				  cfg->n_diff_ids, m->n_layers);
	return 0;
}

int nb_import_manifest(struct nb_cache *c, const struct nb_source *src, const char *record_name,
		       const struct nb_desc *mdesc, const struct nb_manifest *m,
		       const struct nb_pull_opts *opts, struct nb_image *out, struct nb_err *err)
{
	struct nb_image img = { 0 };
	cleanup_free char *mdata = NULL, *cdata = NULL;
	cleanup_free uint64_t *sizes = NULL;
	size_t mlen, clen;
	int rc = -1;

	if (m->config.size > NB_JSON_MAX_BYTES)
		return nb_err_set(err, 0, "image config claims %lld bytes, more than %u",
				  (long long)m->config.size, NB_JSON_MAX_BYTES);
	if (store_blob(c, src, mdesc, &mdata, &mlen, err) < 0 ||
	    store_blob(c, src, &m->config, &cdata, &clen, err) < 0 ||
	    nb_oci_parse_config(cdata, clen, &img.config, err) < 0 ||
	    check_diff_ids(m, &img.config, err) < 0)
		goto out;
	img.layers = calloc(m->n_layers + 1, sizeof(*img.layers));
	sizes = calloc(m->n_layers + 1, sizeof(*sizes));
	img.ref = strdup(record_name);
	if (!img.layers || !sizes || !img.ref) {
		nb_err_set(err, ENOMEM, "image");
		goto out;
	}
	img.manifest = mdesc->digest;
	for (size_t i = 0; i < m->n_layers; i++) {
		bool converted;
		if (nb_layer_get(c, &m->layers[i], src->open_blob, src->ctx, opts->limits,
				 &opts->report, &img.layers[i], &converted, err) < 0)
			goto out;
		img.n_layers++;
		sizes[i] = (uint64_t)m->layers[i].size;
		report_layer(opts, i, m->n_layers, &m->layers[i], converted);
	}
	if (nb_records_put(c, &img, &m->config, sizes, err) < 0)
		goto out;
	rc = 0;
out:
	if (rc == 0 && out)
		*out = img;
	else
		nb_image_free(&img);
	return rc;
}
