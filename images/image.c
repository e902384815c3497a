#include "images/image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/json.h"
#include "nestbox/cleanup.h"

void nb_image_free(struct nb_image *img)
{
	free(img->ref);
	nb_strv_free(img->layers);
	nb_image_config_free(&img->config);
	*img = (struct nb_image){ 0 };
}

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
		return nb_err_sys(err, "blob sha256:%.12s is missing from %s", d->digest.hex, l->dir);
	return fd;
}

static int read_all(int fd, size_t max, char **data, size_t *len, struct nb_err *err)
{
	size_t cap = 4096, got = 0;
	char *buf = malloc(cap);

	if (!buf)
		return nb_err_set(err, ENOMEM, "blob");
	for (;;) {
		ssize_t n;
		if (got == cap) {
			char *p = cap > max ? NULL : realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				return nb_err_set(err, 0, "blob is larger than %zu bytes", max);
			}
			buf = p;
			cap *= 2;
		}
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return nb_err_sys(err, "read");
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > max) {
		free(buf);
		return nb_err_set(err, 0, "blob is larger than %zu bytes", max);
	}
	*data = buf;
	*len = got;
	return 0;
}

static int layout_fetch(void *ctx, const struct nb_desc *d, char **data, size_t *len,
			struct nb_err *err)
{
	cleanup_close int fd = layout_open(ctx, d, err);
	struct nb_digest got;

	if (fd < 0)
		return -1;
	if (read_all(fd, NB_JSON_MAX_BYTES, data, len, err) < 0)
		return nb_err_wrap(err, "blob sha256:%.12s", d->digest.hex);
	if (nb_sha256_buf(*data, *len, &got, err) < 0 ||
	    nb_digest_verify(d->media == NB_MEDIA_CONFIG ? "config" : "manifest", &d->digest,
			     d->size, &got, *len, err) < 0) {
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
	if (read_all(fd, 4096, &data, &len, err) < 0)
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

int nb_import_layout(struct nb_cache *c, const char *dir, const char *record_name,
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
	if (read_all(ifd, NB_JSON_MAX_BYTES, &index, &len, err) < 0)
		return nb_err_wrap(err, "%s/index.json", dir);
	if (nb_oci_resolve_index(layout_fetch, &l, index, len, NULL, &mdesc, &m, err) < 0)
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
		nb_report(&opts->report, NB_REPORT_PROGRESS, "\r\033[Klayer %zu/%zu sha256:%.12s %s%s",
			  i + 1, n, d->digest.hex, converted ? "converted" : "cached",
			  i + 1 == n ? "\n" : "");
		return;
	}
	nb_report(&opts->report, NB_REPORT_OUTPUT, "layer %zu/%zu sha256:%s %lld %s", i + 1, n,
		  d->digest.hex, (long long)d->size, converted ? "converted" : "cached");
}

static int check_diff_ids(const struct nb_manifest *m, const struct nb_image_config *cfg,
			  struct nb_err *err)
{
	if (cfg->diff_ids && cfg->n_diff_ids != m->n_layers)
		return nb_err_set(err, 0, "image config lists %zu layers (rootfs.diff_ids) but the "
				  "manifest has %zu", cfg->n_diff_ids, m->n_layers);
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

/* ---- entry points ---------------------------------------------------------- */

static int import_archive(struct nb_cache *c, const char *path, const char *name,
			  const struct nb_pull_opts *opts, struct nb_image *out, struct nb_err *err)
{
	cleanup_free char *dir = NULL;
	int rc;

	/* Staged under tmp/ with a name no layer lock covers: removed here, or
	 * by the next prune (which holds the cache lock exclusively). */
	if (asprintf(&dir, "%s/archive.XXXXXX", c->tmp) < 0 || !mkdtemp(dir))
		return nb_err_sys(err, "cannot create a staging directory in %s", c->tmp);
	rc = nb_archive_to_layout(path, dir, err);
	if (rc < 0)
		nb_err_wrap(err, "%s", path);
	else
		rc = nb_import_layout(c, dir, name, opts, out, err);
	nb_rm_rf(dir);
	return rc;
}

static int import_local(struct nb_cache *c, const char *path, const struct nb_pull_opts *opts,
			struct nb_image *out, struct nb_err *err)
{
	char real[PATH_MAX];
	struct stat st;

	if (!realpath(path, real) || stat(real, &st) < 0)
		return nb_err_sys(err, "image %s (want an OCI layout directory, an archive .tar or a "
				  "registry reference)", path);
	if (S_ISDIR(st.st_mode))
		return nb_import_layout(c, real, real, opts, out, err);
	if (S_ISREG(st.st_mode))
		return import_archive(c, real, real, opts, out, err);
	return nb_err_set(err, 0, "%s is neither an image layout directory nor an archive", path);
}

/* A local path when it names something on disk or looks like one. */
static bool is_local(const char *ref)
{
	struct stat st;

	return ref[0] == '/' || ref[0] == '.' || stat(ref, &st) == 0;
}

int nb_image_pull(const char *ref, const struct nb_pull_opts *opts, struct nb_image *out,
		  struct nb_err *err)
{
	struct nb_pull_opts o = *opts;
	struct nb_cache c;
	int rc;

	if (!o.limits)
		o.limits = &nb_layer_default_limits;
	if (nb_cache_open(&c, false, err) < 0)
		return -1;
	if (is_local(ref))
		rc = import_local(&c, ref, &o, out, err);
	else
		rc = nb_registry_pull(&c, ref, &o, out, err);
	nb_cache_close(&c);
	return rc;
}

bool nb_image_is_reference(const char *arg)
{
	struct stat st;
	char *layout;
	bool yes;

	if (stat(arg, &st) < 0)
		return arg[0] != '/' && arg[0] != '.';
	if (S_ISREG(st.st_mode))
		return true;
	if (!S_ISDIR(st.st_mode) || asprintf(&layout, "%s/oci-layout", arg) < 0)
		return false;
	yes = access(layout, F_OK) == 0;
	free(layout);
	return yes;
}

int nb_image_resolve(const char *ref, const struct nb_report *report, struct nb_image *out,
		     struct nb_err *err)
{
	/* stdout is the workload's: report on stderr (a terminal) or not at all. */
	struct nb_pull_opts opts = { .quiet = !isatty(2), .progress = isatty(2),
				     .report = *report };
	struct nb_cache c;
	bool found = false;
	int rc;

	*out = (struct nb_image){ 0 };
	if (is_local(ref))
		return nb_image_pull(ref, &opts, out, err);
	if (nb_cache_open(&c, false, err) < 0)
		return -1;
	rc = nb_records_find(&c, ref, out, &found, err);
	nb_cache_close(&c);
	if (rc < 0 || found)
		return rc;
	return nb_image_pull(ref, &opts, out, err);
}
