#include "images/oci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "images/json.h"

static const struct {
	const char *type;
	enum nb_media media;
} media_types[] = {
	{ "application/vnd.oci.image.index.v1+json", NB_MEDIA_INDEX },
	{ "application/vnd.docker.distribution.manifest.list.v2+json", NB_MEDIA_INDEX },
	{ "application/vnd.oci.image.manifest.v1+json", NB_MEDIA_MANIFEST },
	{ "application/vnd.docker.distribution.manifest.v2+json", NB_MEDIA_MANIFEST },
	{ "application/vnd.oci.image.config.v1+json", NB_MEDIA_CONFIG },
	{ "application/vnd.docker.container.image.v1+json", NB_MEDIA_CONFIG },
	{ "application/vnd.oci.image.layer.v1.tar", NB_MEDIA_LAYER_TAR },
	{ "application/vnd.oci.image.layer.v1.tar+gzip", NB_MEDIA_LAYER_GZIP },
	{ "application/vnd.oci.image.layer.v1.tar+zstd", NB_MEDIA_LAYER_ZSTD },
	{ "application/vnd.docker.image.rootfs.diff.tar", NB_MEDIA_LAYER_TAR },
	{ "application/vnd.docker.image.rootfs.diff.tar.gzip", NB_MEDIA_LAYER_GZIP },
	{ "application/vnd.docker.image.rootfs.diff.tar.zstd", NB_MEDIA_LAYER_ZSTD },
};

enum nb_media nb_media_classify(const char *media_type)
{
	for (size_t i = 0; media_type && i < sizeof(media_types) / sizeof(media_types[0]); i++)
		if (strcmp(media_type, media_types[i].type) == 0)
			return media_types[i].media;
	return NB_MEDIA_UNKNOWN;
}

static int copy_str(char *dst, size_t size, const char *src, const char *field, struct nb_err *err)
{
	size_t len = src ? strlen(src) : 0;

	if (len >= size)
		return nb_err_set(err, 0, "field \"%s\" is longer than %zu bytes", field, size - 1);
	memcpy(dst, src ? src : "", len + 1);
	return 0;
}

static int parse_platform(struct json_object *o, struct nb_desc *d, struct nb_err *err)
{
	struct json_object *p;
	const char *os, *arch, *variant;

	if (nb_json_obj(o, "platform", false, &p, err) < 0)
		return -1;
	if (!p)
		return 0;
	if (nb_json_str(p, "os", true, 31, &os, err) < 0 ||
	    nb_json_str(p, "architecture", true, 31, &arch, err) < 0 ||
	    nb_json_str(p, "variant", false, 31, &variant, err) < 0)
		return nb_err_wrap(err, "platform");
	copy_str(d->os, sizeof(d->os), os, "os", err);
	copy_str(d->arch, sizeof(d->arch), arch, "architecture", err);
	copy_str(d->variant, sizeof(d->variant), variant, "variant", err);
	return 0;
}

static int parse_desc(struct json_object *o, struct nb_desc *d, struct nb_err *err)
{
	const char *mt, *digest, *ref = NULL;
	struct json_object *ann;

	memset(d, 0, sizeof(*d));
	if (nb_json_str(o, "mediaType", true, NB_OCI_MT_MAX - 1, &mt, err) < 0 ||
	    nb_json_str(o, "digest", true, NB_DIGEST_STR_LEN, &digest, err) < 0 ||
	    nb_json_int(o, "size", true, &d->size, err) < 0)
		return -1;
	if (d->size < 0)
		return nb_err_set(err, 0, "negative size %lld", (long long)d->size);
	if (nb_digest_parse(digest, &d->digest, err) < 0)
		return -1;
	copy_str(d->media_type, sizeof(d->media_type), mt, "mediaType", err);
	d->media = nb_media_classify(mt);
	if (parse_platform(o, d, err) < 0 || nb_json_obj(o, "annotations", false, &ann, err) < 0)
		return -1;
	if (ann && nb_json_str(ann, "org.opencontainers.image.ref.name", false, NB_OCI_REF_MAX - 1,
			       &ref, err) < 0)
		return -1;
	return copy_str(d->ref_name, sizeof(d->ref_name), ref, "ref.name", err);
}

/* Parse descriptors in array arr (already bounded) into a malloc'd vector. */
static int parse_descs(struct json_object *arr, const char *field, struct nb_desc **out, size_t *n,
		       struct nb_err *err)
{
	size_t len = json_object_array_length(arr);

	*out = calloc(len ? len : 1, sizeof(**out));
	*n = 0;
	if (!*out)
		return nb_err_set(err, ENOMEM, "%s", field);
	for (size_t i = 0; i < len; i++) {
		if (parse_desc(json_object_array_get_idx(arr, i), &(*out)[i], err) < 0) {
			free(*out);
			*out = NULL;
			return nb_err_wrap(err, "%s[%zu]", field, i);
		}
	}
	*n = len;
	return 0;
}

static int check_schema(struct json_object *o, struct nb_err *err)
{
	int64_t version = 0;

	if (nb_json_int(o, "schemaVersion", true, &version, err) < 0)
		return -1;
	if (version != 2)
		return nb_err_set(err, 0, "schemaVersion %lld is not supported (want 2)",
				  (long long)version);
	return 0;
}

int nb_oci_parse_index(const char *data, size_t len, struct nb_index *out, struct nb_err *err)
{
	struct json_object *o = nb_json_parse(data, len, "image index", err), *arr;
	int rc = -1;

	*out = (struct nb_index){ 0 };
	if (!o)
		return -1;
	if (check_schema(o, err) < 0 ||
	    nb_json_arr(o, "manifests", true, NB_OCI_MAX_MANIFESTS, &arr, err) < 0 ||
	    parse_descs(arr, "manifests", &out->manifests, &out->n, err) < 0)
		nb_err_wrap(err, "image index");
	else
		rc = 0;
	json_object_put(o);
	return rc;
}

int nb_oci_parse_manifest(const char *data, size_t len, struct nb_manifest *out, struct nb_err *err)
{
	struct json_object *o = nb_json_parse(data, len, "image manifest", err), *cfg, *arr;
	int rc = -1;

	*out = (struct nb_manifest){ 0 };
	if (!o)
		return -1;
	if (check_schema(o, err) < 0 || nb_json_obj(o, "config", true, &cfg, err) < 0 ||
	    parse_desc(cfg, &out->config, err) < 0 ||
	    nb_json_arr(o, "layers", true, NB_OCI_MAX_LAYERS, &arr, err) < 0 ||
	    parse_descs(arr, "layers", &out->layers, &out->n_layers, err) < 0)
		goto out;
	if (out->config.media != NB_MEDIA_CONFIG) {
		nb_err_set(err, 0, "config media type '%s' is not an image config",
			   out->config.media_type);
		goto out;
	}
	for (size_t i = 0; i < out->n_layers; i++) {
		enum nb_media m = out->layers[i].media;
		if (m != NB_MEDIA_LAYER_TAR && m != NB_MEDIA_LAYER_GZIP &&
		    m != NB_MEDIA_LAYER_ZSTD) {
			nb_err_set(err, 0,
				   "layers[%zu]: media type '%s' is not a tar, tar+gzip or "
				   "tar+zstd layer",
				   i, out->layers[i].media_type);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc < 0) {
		nb_manifest_free(out);
		nb_err_wrap(err, "image manifest");
	}
	json_object_put(o);
	return rc;
}

static int dup_opt(struct json_object *o, const char *key, char **out, struct nb_err *err)
{
	const char *s;

	*out = NULL;
	if (nb_json_str(o, key, false, NB_OCI_MAX_STR, &s, err) < 0)
		return -1;
	if (s && *s && !(*out = strdup(s)))
		return nb_err_set(err, ENOMEM, "%s", key);
	return 0;
}

static int parse_diff_ids(struct json_object *o, struct nb_image_config *c, struct nb_err *err)
{
	struct json_object *rootfs, *arr;

	if (nb_json_obj(o, "rootfs", false, &rootfs, err) < 0)
		return -1;
	if (!rootfs)
		return 0;
	if (nb_json_arr(rootfs, "diff_ids", false, NB_OCI_MAX_LAYERS, &arr, err) < 0)
		return nb_err_wrap(err, "rootfs");
	if (!arr)
		return 0;
	c->n_diff_ids = json_object_array_length(arr);
	c->diff_ids = calloc(c->n_diff_ids + 1, sizeof(*c->diff_ids));
	if (!c->diff_ids)
		return nb_err_set(err, ENOMEM, "diff_ids");
	for (size_t i = 0; i < c->n_diff_ids; i++) {
		struct json_object *s = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(s, json_type_string))
			return nb_err_set(err, 0, "rootfs.diff_ids[%zu] must be a string", i);
		if (nb_digest_parse(json_object_get_string(s), &c->diff_ids[i], err) < 0)
			return nb_err_wrap(err, "rootfs.diff_ids[%zu]", i);
	}
	return 0;
}

static int check_platform(struct json_object *o, struct nb_err *err)
{
	const char *os, *arch;

	if (nb_json_str(o, "os", false, 31, &os, err) < 0 ||
	    nb_json_str(o, "architecture", false, 31, &arch, err) < 0)
		return -1;
	if ((os && strcmp(os, "linux") != 0) || (arch && strcmp(arch, "amd64") != 0))
		return nb_err_set(err, 0, "image is for %s/%s; nestbox runs linux/amd64 images",
				  os ? os : "?", arch ? arch : "?");
	return 0;
}

int nb_oci_parse_config(const char *data, size_t len, struct nb_image_config *out,
			struct nb_err *err)
{
	struct json_object *o = nb_json_parse(data, len, "image config", err), *cfg;
	int rc = -1;

	*out = (struct nb_image_config){ 0 };
	if (!o)
		return -1;
	if (!json_object_is_type(o, json_type_object)) {
		nb_err_set(err, 0, "not a JSON object");
		goto out;
	}
	if (check_platform(o, err) < 0 || nb_json_obj(o, "config", false, &cfg, err) < 0 ||
	    parse_diff_ids(o, out, err) < 0)
		goto out;
	if (cfg && (nb_json_strv(cfg, "Entrypoint", NB_OCI_MAX_STRV, NB_OCI_MAX_STR,
				 &out->entrypoint, err) < 0 ||
		    nb_json_strv(cfg, "Cmd", NB_OCI_MAX_STRV, NB_OCI_MAX_STR, &out->cmd, err) < 0 ||
		    nb_json_strv(cfg, "Env", NB_OCI_MAX_STRV, NB_OCI_MAX_STR, &out->env, err) < 0 ||
		    dup_opt(cfg, "WorkingDir", &out->workdir, err) < 0 ||
		    dup_opt(cfg, "User", &out->user, err) < 0))
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		nb_image_config_free(out);
		nb_err_wrap(err, "image config");
	}
	json_object_put(o);
	return rc;
}

void nb_index_free(struct nb_index *i)
{
	free(i->manifests);
	*i = (struct nb_index){ 0 };
}

void nb_manifest_free(struct nb_manifest *m)
{
	free(m->layers);
	*m = (struct nb_manifest){ 0 };
}

void nb_image_config_free(struct nb_image_config *c)
{
	nb_strv_free(c->entrypoint);
	nb_strv_free(c->cmd);
	nb_strv_free(c->env);
	free(c->workdir);
	free(c->user);
	free(c->diff_ids);
	*c = (struct nb_image_config){ 0 };
}

static bool is_ours(const struct nb_desc *d)
{
	return strcmp(d->os, "linux") == 0 && strcmp(d->arch, "amd64") == 0;
}

int nb_oci_select(const struct nb_index *idx, const char *name, struct nb_err *err)
{
	int found = -1, candidates = 0;

	for (size_t i = 0; i < idx->n; i++) {
		const struct nb_desc *d = &idx->manifests[i];
		if (d->media != NB_MEDIA_INDEX && d->media != NB_MEDIA_MANIFEST)
			continue;
		if (name && *name && strcmp(d->ref_name, name) != 0)
			continue;
		candidates++;
		if (is_ours(d) && found < 0)
			found = (int)i;
	}
	if (found >= 0)
		return found;
	/* A layout written by umoci or skopeo has no platform on its entries. */
	if (candidates == 1)
		for (size_t i = 0; i < idx->n; i++) {
			const struct nb_desc *d = &idx->manifests[i];
			if ((d->media == NB_MEDIA_INDEX || d->media == NB_MEDIA_MANIFEST) &&
			    (!name || !*name || strcmp(d->ref_name, name) == 0) && !d->os[0])
				return (int)i;
		}
	if (candidates == 0)
		return nb_err_set(err, 0, "image index has no manifest%s%s",
				  name && *name ? " named " : "", name && *name ? name : "");
	/* A layout with several named images (skopeo copy to oci:DIR:TAG twice):
	 * say which names there are to choose from. */
	for (size_t i = 0; i < idx->n; i++)
		if (idx->manifests[i].ref_name[0] && (!name || !*name))
			return nb_err_set(err, 0,
					  "image index has %d images and no tag was given (one is "
					  "named '%.100s'): choose one with oci:PATH:TAG",
					  candidates, idx->manifests[i].ref_name);
	return nb_err_set(err, 0,
			  "image index has %d manifests but none for linux/amd64 "
			  "(first is %s/%s)",
			  candidates, idx->manifests[0].os[0] ? idx->manifests[0].os : "?",
			  idx->manifests[0].arch[0] ? idx->manifests[0].arch : "?");
}

static int walk(nb_fetch_fn fetch, void *ctx, const struct nb_desc *d, const char *name,
		unsigned depth, struct nb_desc *md, struct nb_manifest *m, struct nb_err *err);

static int walk_index(nb_fetch_fn fetch, void *ctx, const char *data, size_t len, const char *name,
		      unsigned depth, struct nb_desc *md, struct nb_manifest *m, struct nb_err *err)
{
	struct nb_index idx;
	int pick, rc;

	if (depth > NB_OCI_MAX_INDEX_DEPTH)
		return nb_err_set(err, 0, "image indexes nested more than %d deep (a loop?)",
				  NB_OCI_MAX_INDEX_DEPTH);
	if (nb_oci_parse_index(data, len, &idx, err) < 0)
		return -1;
	pick = nb_oci_select(&idx, name, err);
	/* The ref name selects only at the top level. */
	rc = pick < 0 ? -1 : walk(fetch, ctx, &idx.manifests[pick], NULL, depth + 1, md, m, err);
	nb_index_free(&idx);
	return rc;
}

static int walk(nb_fetch_fn fetch, void *ctx, const struct nb_desc *d, const char *name,
		unsigned depth, struct nb_desc *md, struct nb_manifest *m, struct nb_err *err)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	if (d->media != NB_MEDIA_INDEX && d->media != NB_MEDIA_MANIFEST)
		return nb_err_set(err, 0,
				  "descriptor sha256:%.12s has media type '%s', not an "
				  "index or manifest",
				  d->digest.hex, d->media_type);
	if (d->size > NB_JSON_MAX_BYTES)
		return nb_err_set(err, 0, "%s sha256:%.12s claims %lld bytes, more than %u",
				  d->media == NB_MEDIA_INDEX ? "index" : "manifest", d->digest.hex,
				  (long long)d->size, NB_JSON_MAX_BYTES);
	if (d->media == NB_MEDIA_INDEX && depth > NB_OCI_MAX_INDEX_DEPTH)
		return nb_err_set(err, 0, "image indexes nested more than %d deep (a loop?)",
				  NB_OCI_MAX_INDEX_DEPTH);
	if (fetch(ctx, d, &data, &len, err) < 0)
		return -1;
	if (d->media == NB_MEDIA_INDEX) {
		rc = walk_index(fetch, ctx, data, len, name, depth, md, m, err);
	} else {
		rc = nb_oci_parse_manifest(data, len, m, err);
		if (rc == 0)
			*md = *d;
	}
	free(data);
	return rc;
}

int nb_oci_resolve(nb_fetch_fn fetch, void *ctx, const struct nb_desc *start, const char *name,
		   struct nb_desc *manifest_desc, struct nb_manifest *manifest, struct nb_err *err)
{
	return walk(fetch, ctx, start, name, 0, manifest_desc, manifest, err);
}

int nb_oci_resolve_index(nb_fetch_fn fetch, void *ctx, const char *data, size_t len,
			 const char *name, struct nb_desc *manifest_desc,
			 struct nb_manifest *manifest, struct nb_err *err)
{
	return walk_index(fetch, ctx, data, len, name, 0, manifest_desc, manifest, err);
}

int nb_desc_check(const struct nb_desc *d, const void *data, size_t len, struct nb_err *err)
{
	return nb_digest_check(d->media == NB_MEDIA_CONFIG ? "config" : "manifest", &d->digest,
			       d->size, data, len, err);
}
