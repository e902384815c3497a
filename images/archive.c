/* OCI archive and docker-archive tarballs -> an OCI layout directory.
 * The outer tar is as hostile as a layer: its members are sanitised, only
 * directories and regular files are written, under limits. A docker-archive
 * (`docker save`, `skopeo copy ... docker-archive:`) names files by path in
 * manifest.json; it gets a generated OCI manifest and index whose digests
 * are computed here, and its layers are checked against the config's
 * rootfs.diff_ids (docker-archive layers are uncompressed tars, so the
 * two must be equal). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "images/import.h"
#include "images/json.h"
#include "images/reference.h"
#include "nestbox/cleanup.h"

#define ARCHIVE_MAX_ENTRIES 100000u
#define ARCHIVE_MAX_BYTES (64ull << 30)
#define ARCHIVE_MAX_PATH 1024u
#define COPY_CHUNK (256u << 10)

/* The member's data blocks go where libarchive says they belong. A sparse
 * member (old GNU 'S', pax GNU.sparse) comes as blocks at the offsets of its
 * map, and the map is the archive's to invent: every block must lie within
 * the size the member declares, the size the archive's limit counted. */
static int write_member(struct archive *a, int dirfd, char *rel, int64_t size, struct nb_err *err)
{
	cleanup_close int fd = -1;
	const void *buf;
	size_t len;
	la_int64_t offset;
	int r;

	if (nb_mkdir_p(dirfd, rel, 0755, NB_MKDIR_PARENTS, err) < 0)
		return -1;
	/* O_EXCL: a member named twice is refused, never overwritten. */
	fd = openat(dirfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return nb_err_sys(err, "cannot write member '%.200s'", rel);
	while ((r = archive_read_data_block(a, &buf, &len, &offset)) == ARCHIVE_OK) {
		if (offset < 0 || offset > size || len > (uint64_t)(size - offset))
			return nb_err_set(err, 0,
					  "member '%.200s' holds data at bytes %lld..%llu, "
					  "beyond the %lld bytes it declares (refused)",
					  rel, (long long)offset, (unsigned long long)offset + len,
					  (long long)size);
		if (pwrite(fd, buf, len, offset) != (ssize_t)len)
			return nb_err_sys(err, "cannot write member '%.200s'", rel);
	}
	if (r != ARCHIVE_EOF)
		return nb_err_set(err, 0, "member '%.200s' is truncated or corrupt: %s", rel,
				  archive_error_string(a));
	/* A sparse member may end in a hole. */
	if (ftruncate(fd, size) < 0)
		return nb_err_sys(err, "cannot write member '%.200s'", rel);
	return 0;
}

static int unpack_member(struct archive *a, struct archive_entry *e, int dirfd, uint64_t *bytes,
			 struct nb_err *err)
{
	char rel[ARCHIVE_MAX_PATH + 1];
	int64_t size = archive_entry_size(e);

	if (nb_layer_sanitize_path(archive_entry_pathname(e), rel, ARCHIVE_MAX_PATH, err) < 0)
		return -1;
	if (size < 0 || (uint64_t)size > ARCHIVE_MAX_BYTES - *bytes)
		return nb_err_set(err, 0,
				  "member '%.200s' claims %lld bytes: the archive would "
				  "exceed %llu bytes",
				  rel, (long long)size, ARCHIVE_MAX_BYTES);
	*bytes += (uint64_t)size;
	if (!rel[0])
		return 0;
	switch (archive_entry_filetype(e)) {
	case AE_IFDIR:
		return nb_mkdir_p(dirfd, rel, 0755, 0, err);
	case AE_IFREG:
		return archive_entry_hardlink(e) ? 0 : write_member(a, dirfd, rel, size, err);
	default:
		/* Symlinks, devices: nothing an image archive needs. */
		return 0;
	}
}

static int unpack(const char *tar_path, int dirfd, struct nb_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	uint64_t entries = 0, bytes = 0;
	int r, rc = -1;

	if (!a)
		return nb_err_set(err, ENOMEM, "libarchive");
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	if (archive_read_open_filename(a, tar_path, COPY_CHUNK) != ARCHIVE_OK) {
		nb_err_set(err, 0, "not a tar archive: %s", archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (++entries > ARCHIVE_MAX_ENTRIES) {
			nb_err_set(err, 0, "archive has more than %u members", ARCHIVE_MAX_ENTRIES);
			goto out;
		}
		if (unpack_member(a, e, dirfd, &bytes, err) < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF) {
		nb_err_set(err, 0, "archive is truncated or corrupt: %s", archive_error_string(a));
		goto out;
	}
	rc = 0;
out:
	archive_read_free(a);
	return rc;
}

/* ---- docker-archive ------------------------------------------------------- */

/* Hash the staged file at rel and hard-link it as blobs/sha256/<hex>. */
static int blob_from_file(int dirfd, const char *rel, struct nb_digest *d, uint64_t *size,
			  struct nb_err *err)
{
	char clean[ARCHIVE_MAX_PATH + 1], blob[80];
	cleanup_close int fd = -1;

	if (!rel || nb_layer_sanitize_path(rel, clean, ARCHIVE_MAX_PATH, err) < 0)
		return rel ? -1 : nb_err_set(err, 0, "missing path");
	fd = openat(dirfd, clean, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return nb_err_sys(err, "manifest.json names '%.200s', which the archive lacks",
				  rel);
	if (nb_sha256_fd(fd, d, size, err) < 0)
		return -1;
	snprintf(blob, sizeof(blob), "blobs/sha256/%s", d->hex);
	if (nb_mkdir_p(dirfd, blob, 0755, NB_MKDIR_PARENTS, err) < 0)
		return nb_err_wrap(err, "cannot stage blob for '%.200s'", rel);
	if (linkat(dirfd, clean, dirfd, blob, 0) < 0 && errno != EEXIST)
		return nb_err_sys(err, "cannot stage blob for '%.200s'", rel);
	return 0;
}

static struct json_object *desc_json(const char *media_type, const struct nb_digest *d,
				     uint64_t size)
{
	struct json_object *o = json_object_new_object();
	char ds[NB_DIGEST_STR_LEN + 1];

	nb_digest_format(d, ds);
	json_object_object_add(o, "mediaType", json_object_new_string(media_type));
	json_object_object_add(o, "digest", json_object_new_string(ds));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)size));
	return o;
}

static int write_blob_json(int dirfd, struct json_object *o, struct nb_digest *d, size_t *len,
			   struct nb_err *err)
{
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	char blob[80];
	cleanup_close int fd = -1;

	*len = strlen(text);
	if (nb_sha256_buf(text, *len, d, err) < 0)
		return -1;
	snprintf(blob, sizeof(blob), "blobs/sha256/%s", d->hex);
	fd = openat(dirfd, blob, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, *len) != (ssize_t)*len)
		return nb_err_sys(err, "cannot write generated manifest");
	return 0;
}

static int write_file_at(int dirfd, const char *name, const char *text, struct nb_err *err)
{
	cleanup_close int fd = openat(dirfd, name,
				      O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return nb_err_sys(err, "cannot write %s", name);
	return 0;
}

static int check_layer_diff(int dirfd, const struct nb_digest *cfg, uint64_t cfg_size,
			    const struct nb_digest *layers, size_t n, struct nb_err *err)
{
	char blob[80];
	cleanup_free char *data = NULL;
	struct nb_image_config c;
	struct stat st;
	cleanup_close int fd = -1;
	int rc = 0;

	snprintf(blob, sizeof(blob), "blobs/sha256/%s", cfg->hex);
	if (cfg_size > NB_JSON_MAX_BYTES)
		return nb_err_set(err, 0, "image config is larger than %u bytes",
				  NB_JSON_MAX_BYTES);
	fd = openat(dirfd, blob, O_RDONLY | O_CLOEXEC);
	data = malloc(cfg_size + 1);
	if (fd < 0 || !data || fstat(fd, &st) < 0 || read(fd, data, cfg_size) != (ssize_t)cfg_size)
		return nb_err_sys(err, "cannot read the image config");
	if (nb_oci_parse_config(data, cfg_size, &c, err) < 0)
		return -1;
	if (c.diff_ids && c.n_diff_ids != n)
		rc = nb_err_set(err, 0, "config lists %zu layers, manifest.json %zu", c.n_diff_ids,
				n);
	for (size_t i = 0; rc == 0 && c.diff_ids && i < n; i++)
		if (!nb_digest_equal(&c.diff_ids[i], &layers[i]))
			rc = nb_err_set(err, 0,
					"layer %zu is sha256:%.12s but the config's "
					"rootfs.diff_ids says sha256:%.12s (corrupt archive)",
					i, layers[i].hex, c.diff_ids[i].hex);
	nb_image_config_free(&c);
	return rc;
}

/* Whether name (a RepoTags entry) is the reference want, both normalised. */
static bool same_image(const char *name, const struct nb_ref *want)
{
	char a[NB_REF_TEXT_MAX], b[NB_REF_TEXT_MAX];
	struct nb_ref ref;
	struct nb_err ignored;

	return nb_ref_parse(name, &ref, &ignored) == 0 && nb_ref_format(&ref, a, sizeof(a)) == 0 &&
	       nb_ref_format(want, b, sizeof(b)) == 0 && strcmp(a, b) == 0;
}

/* The manifest.json entry to import and its name: the one whose RepoTags
 * has want (docker-archive:PATH:REF), else the only one. */
static int select_entry(struct json_object *top, const char *want, struct json_object **entry,
			const char **tag, struct nb_err *err)
{
	struct nb_ref ref;
	size_t n;

	if (!json_object_is_type(top, json_type_array) || json_object_array_length(top) == 0)
		return nb_err_set(err, 0, "manifest.json must list the archive's images");
	n = json_object_array_length(top);
	if (!want) {
		if (n != 1)
			return nb_err_set(err, 0,
					  "manifest.json lists %zu images; name one with "
					  "docker-archive:PATH:NAME:TAG",
					  n);
		*entry = json_object_array_get_idx(top, 0);
		return 0;
	}
	if (nb_ref_parse(want, &ref, err) < 0)
		return -1;
	for (size_t i = 0; i < n && i < NB_ARCHIVE_MAX_IMAGES; i++) {
		struct json_object *e = json_object_array_get_idx(top, i), *tags;

		if (!json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "RepoTags", &tags) ||
		    !json_object_is_type(tags, json_type_array))
			continue;
		for (size_t j = 0; j < json_object_array_length(tags) && j < 64; j++) {
			struct json_object *t = json_object_array_get_idx(tags, j);

			if (json_object_is_type(t, json_type_string) &&
			    same_image(json_object_get_string(t), &ref)) {
				*entry = e;
				*tag = json_object_get_string(t);
				return 0;
			}
		}
	}
	return nb_err_set(err, 0, "no image named '%.200s' in the archive (its RepoTags)", want);
}

static int docker_to_layout(int dirfd, struct json_object *top, const char *want,
			    struct nb_err *err)
{
	struct json_object *entry = NULL, *layers, *tags, *manifest, *larr, *index, *marr, *mdesc,
			   *ann;
	const char *config_path, *tag = NULL;
	struct nb_digest cfg, mdig, ldig[NB_OCI_MAX_LAYERS];
	uint64_t cfg_size, lsize;
	size_t n, mlen;
	int rc = -1;

	if (select_entry(top, want, &entry, &tag, err) < 0)
		return nb_err_wrap(err, "manifest.json");
	if (nb_json_str(entry, "Config", true, ARCHIVE_MAX_PATH, &config_path, err) < 0 ||
	    nb_json_arr(entry, "Layers", true, NB_OCI_MAX_LAYERS, &layers, err) < 0 ||
	    nb_json_arr(entry, "RepoTags", false, 64, &tags, err) < 0)
		return nb_err_wrap(err, "manifest.json");
	if (!tag && tags && json_object_array_length(tags) &&
	    json_object_is_type(json_object_array_get_idx(tags, 0), json_type_string))
		tag = json_object_get_string(json_object_array_get_idx(tags, 0));
	if (blob_from_file(dirfd, config_path, &cfg, &cfg_size, err) < 0)
		return nb_err_wrap(err, "config");
	manifest = json_object_new_object();
	larr = json_object_new_array();
	json_object_object_add(manifest, "schemaVersion", json_object_new_int(2));
	json_object_object_add(manifest, "mediaType",
			       json_object_new_string(
				       "application/vnd.oci.image.manifest.v1+json"));
	json_object_object_add(manifest, "config",
			       desc_json("application/vnd.oci.image.config.v1"
					 "+json",
					 &cfg, cfg_size));
	json_object_object_add(manifest, "layers", larr);
	n = json_object_array_length(layers);
	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(layers, i);
		if (!json_object_is_type(p, json_type_string)) {
			nb_err_set(err, 0, "manifest.json: Layers[%zu] must be a string", i);
			goto out;
		}
		if (blob_from_file(dirfd, json_object_get_string(p), &ldig[i], &lsize, err) < 0) {
			nb_err_wrap(err, "layer %zu", i);
			goto out;
		}
		json_object_array_add(larr, desc_json("application/vnd.oci.image.layer.v1.tar",
						      &ldig[i], lsize));
	}
	if (check_layer_diff(dirfd, &cfg, cfg_size, ldig, n, err) < 0 ||
	    write_blob_json(dirfd, manifest, &mdig, &mlen, err) < 0)
		goto out;
	index = json_object_new_object();
	marr = json_object_new_array();
	mdesc = desc_json("application/vnd.oci.image.manifest.v1+json", &mdig, mlen);
	if (tag) {
		ann = json_object_new_object();
		json_object_object_add(ann, "org.opencontainers.image.ref.name",
				       json_object_new_string(tag));
		json_object_object_add(mdesc, "annotations", ann);
	}
	json_object_array_add(marr, mdesc);
	json_object_object_add(index, "schemaVersion", json_object_new_int(2));
	json_object_object_add(index, "manifests", marr);
	rc = write_file_at(dirfd, "index.json", json_object_to_json_string(index), err);
	json_object_put(index);
	if (rc == 0)
		rc = write_file_at(dirfd, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", err);
out:
	json_object_put(manifest);
	return rc;
}

int nb_archive_to_layout(const char *tar_path, const char *dir, enum nb_archive_kind kind,
			 const char *want, struct nb_err *err)
{
	cleanup_close int dirfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	struct json_object *top;
	cleanup_free char *mpath = NULL;
	int rc;

	if (dirfd < 0)
		return nb_err_sys(err, "cannot open %s", dir);
	if (unpack(tar_path, dirfd, err) < 0)
		return -1;
	if (faccessat(dirfd, "index.json", F_OK, 0) == 0) {
		if (kind == NB_ARCHIVE_DOCKER)
			return nb_err_set(err, 0,
					  "an OCI archive (index.json), not a docker-archive: use "
					  "oci-archive:PATH[:TAG]");
		return 0; /* an OCI archive is a layout in a tar */
	}
	if (faccessat(dirfd, "manifest.json", F_OK, 0) != 0)
		return nb_err_set(err, 0,
				  "neither an OCI archive (index.json) nor a docker-archive "
				  "(manifest.json)");
	if (kind == NB_ARCHIVE_OCI)
		return nb_err_set(err, 0,
				  "a docker-archive (manifest.json), not an OCI archive: use "
				  "docker-archive:PATH[:NAME:TAG]");
	if (asprintf(&mpath, "%s/manifest.json", dir) < 0)
		return nb_err_set(err, ENOMEM, "path");
	top = nb_json_load(mpath, "docker-archive manifest.json", err);
	if (!top)
		return -1;
	rc = docker_to_layout(dirfd, top, want, err);
	json_object_put(top);
	return rc < 0 ? nb_err_wrap(err, "docker-archive") : 0;
}
