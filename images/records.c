#include "images/records.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "images/types.h"
#include "images/json.h"
#include "nestbox/cleanup.h"

static char *records_path(const struct nb_cache *c, const char *name)
{
	char *p;

	return asprintf(&p, "%s/%s", c->root, name) < 0 ? NULL : p;
}

struct json_object *nb_records_load(const struct nb_cache *c, struct nb_err *err)
{
	cleanup_free char *path = records_path(c, "images.json");
	struct json_object *o, *images;

	if (!path) {
		nb_err_set(err, ENOMEM, "records");
		return NULL;
	}
	if (access(path, F_OK) != 0) {
		o = json_object_new_object();
		json_object_object_add(o, "version", json_object_new_int(1));
		json_object_object_add(o, "images", json_object_new_array());
		return o;
	}
	o = nb_json_load(path, "image records", err);
	if (o && nb_json_arr(o, "images", true, NB_RECORDS_MAX, &images, err) < 0) {
		json_object_put(o);
		o = NULL;
	}
	if (!o)
		nb_err_wrap(err, "%s (remove it to start over; layers stay cached)", path);
	return o;
}

static const char *rec_str(struct json_object *rec, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(rec, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

int nb_records_match(struct json_object *images, const char *ref)
{
	size_t n = json_object_array_length(images), rlen = strlen(ref);
	const char *hex = strncmp(ref, "sha256:", 7) == 0 ? ref + 7 : ref;
	size_t hlen = strlen(hex);
	bool hexish = hlen >= 12 && hlen <= 64 && strspn(hex, "0123456789abcdef") == hlen;

	for (size_t i = 0; i < n; i++)
		if (strcmp(rec_str(json_object_array_get_idx(images, i), "ref"), ref) == 0)
			return (int)i;
	for (size_t i = 0; hexish && i < n; i++) {
		const char *m = rec_str(json_object_array_get_idx(images, i), "manifest");
		if (strlen(m) > 7 && strncmp(m + 7, hex, hlen) == 0)
			return (int)i;
	}
	(void)rlen;
	return -1;
}

static int with_lock(const struct nb_cache *c, struct nb_err *err)
{
	cleanup_free char *lock = records_path(c, "records.lock");

	if (!lock)
		return nb_err_set(err, ENOMEM, "records");
	return nb_lock_file(lock, true, err);
}

/* The records for a read-modify-write: loaded under records.lock, which
 * *lock holds until the caller closes it; *images is their array. */
static struct json_object *load_locked(const struct nb_cache *c, int *lock,
				       struct json_object **images, struct nb_err *err)
{
	struct json_object *o;

	*lock = with_lock(c, err);
	if (*lock < 0 || !(o = nb_records_load(c, err)))
		return NULL;
	json_object_object_get_ex(o, "images", images);
	return o;
}

static int save(const struct nb_cache *c, struct json_object *o, struct nb_err *err)
{
	cleanup_free char *path = records_path(c, "images.json");

	if (!path)
		return nb_err_set(err, ENOMEM, "records");
	return nb_json_write_atomic(path, o, 0644, err);
}

static struct json_object *new_record(const struct nb_image *img, const struct nb_desc *cfg,
				      const uint64_t *sizes)
{
	struct json_object *rec = json_object_new_object(), *layers = json_object_new_array();
	char d[NB_DIGEST_STR_LEN + 1];

	json_object_object_add(rec, "ref", json_object_new_string(img->ref));
	nb_digest_format(&img->manifest, d);
	json_object_object_add(rec, "manifest", json_object_new_string(d));
	nb_digest_format(&cfg->digest, d);
	json_object_object_add(rec, "config", json_object_new_string(d));
	for (size_t i = 0; i < img->n_layers; i++) {
		struct json_object *l = json_object_new_object();
		/* The layer digest is the erofs file's name: sha256-<hex>.erofs */
		const char *name = strrchr(img->layers[i], '/');
		char hex[NB_DIGEST_HEX_LEN + 1] = "";
		if (name && strlen(name) >= 8 + NB_DIGEST_HEX_LEN)
			memcpy(hex, name + 8, NB_DIGEST_HEX_LEN);
		snprintf(d, sizeof(d), "sha256:%s", hex);
		json_object_object_add(l, "digest", json_object_new_string(d));
		json_object_object_add(l, "size", json_object_new_int64((int64_t)sizes[i]));
		json_object_array_add(layers, l);
	}
	json_object_object_add(rec, "layers", layers);
	json_object_object_add(rec, "created", json_object_new_int64((int64_t)time(NULL)));
	return rec;
}

/* rec is img's record as new_record() would make it, but for when. */
static bool same_record(struct json_object *rec, const struct nb_image *img,
			const struct nb_desc *cfg)
{
	struct json_object *layers;
	char d[NB_DIGEST_STR_LEN + 1];

	if (strcmp(rec_str(rec, "ref"), img->ref) != 0)
		return false;
	nb_digest_format(&img->manifest, d);
	if (strcmp(rec_str(rec, "manifest"), d) != 0)
		return false;
	nb_digest_format(&cfg->digest, d);
	return strcmp(rec_str(rec, "config"), d) == 0 &&
	       json_object_object_get_ex(rec, "layers", &layers) &&
	       json_object_is_type(layers, json_type_array) &&
	       json_object_array_length(layers) == img->n_layers;
}

int nb_records_put(const struct nb_cache *c, const struct nb_image *img,
		   const struct nb_desc *config_desc, const uint64_t *blob_sizes,
		   struct nb_err *err)
{
	cleanup_close int lock = -1;
	struct json_object *images, *o = load_locked(c, &lock, &images, err);
	int i, rc;

	if (!o)
		return -1;
	/* The same image again (every run of a layout or an archive imports
	 * it): the record stands, and the file is not rewritten. */
	i = nb_records_match(images, img->ref);
	if (i >= 0 && same_record(json_object_array_get_idx(images, (size_t)i), img, config_desc)) {
		json_object_put(o);
		return 0;
	}
	for (; i >= 0; i = nb_records_match(images, img->ref))
		if (strcmp(rec_str(json_object_array_get_idx(images, (size_t)i), "ref"),
			   img->ref) == 0)
			json_object_array_del_idx(images, (size_t)i, 1);
		else
			break;
	if (json_object_array_length(images) >= NB_RECORDS_MAX) {
		json_object_put(o);
		return nb_err_set(err, 0,
				  "the cache holds %d images already: remove some with "
				  "nestbox rmi",
				  NB_RECORDS_MAX);
	}
	json_object_array_add(images, new_record(img, config_desc, blob_sizes));
	rc = save(c, o, err);
	json_object_put(o);
	return rc;
}

int nb_records_remove(const struct nb_cache *c, const char *ref, char *removed_name,
		      size_t name_size, struct nb_err *err)
{
	cleanup_close int lock = -1;
	struct json_object *images, *o;
	int i, rc = 0;

	removed_name[0] = '\0';
	if (!(o = load_locked(c, &lock, &images, err)))
		return -1;
	i = nb_records_match(images, ref);
	if (i >= 0) {
		snprintf(removed_name, name_size, "%s",
			 rec_str(json_object_array_get_idx(images, (size_t)i), "ref"));
		json_object_array_del_idx(images, (size_t)i, 1);
		rc = save(c, o, err);
	}
	json_object_put(o);
	return rc;
}

/* Build the run path's view of record rec; *complete is false when a layer
 * or the config went missing from the cache (then the caller re-imports). */
static int load_record(const struct nb_cache *c, struct json_object *rec, struct nb_image *out,
		       bool *complete, struct nb_err *err)
{
	struct json_object *layers;
	struct nb_digest config;
	cleanup_free char *cdata = NULL;
	size_t clen, n;

	*complete = false;
	if (nb_digest_parse(rec_str(rec, "manifest"), &out->manifest, err) < 0 ||
	    nb_digest_parse(rec_str(rec, "config"), &config, err) < 0 ||
	    nb_json_arr(rec, "layers", true, NB_OCI_MAX_LAYERS, &layers, err) < 0)
		return nb_err_wrap(err, "image record");
	if (nb_cache_get_blob(c, &config, NB_JSON_MAX_BYTES, &cdata, &clen, err) < 0)
		return 0;
	if (nb_oci_parse_config(cdata, clen, &out->config, err) < 0)
		return -1;
	n = json_object_array_length(layers);
	out->layers = calloc(n + 1, sizeof(*out->layers));
	out->ref = strdup(rec_str(rec, "ref"));
	if (!out->layers || !out->ref)
		return nb_err_set(err, ENOMEM, "image");
	for (size_t i = 0; i < n; i++) {
		struct nb_digest d;
		if (nb_digest_parse(rec_str(json_object_array_get_idx(layers, i), "digest"), &d,
				    err) < 0)
			return nb_err_wrap(err, "image record layer %zu", i);
		out->layers[i] = nb_cache_layer_path(c, &d);
		out->n_layers++;
		if (!out->layers[i])
			return nb_err_set(err, ENOMEM, "image");
		if (!nb_layer_cached(c, &d))
			return 0;
	}
	*complete = true;
	return 0;
}

int nb_records_find(const struct nb_cache *c, const char *ref, struct nb_image *out, bool *found,
		    struct nb_err *err)
{
	struct json_object *o = nb_records_load(c, err), *images;
	bool complete = false;
	int i, rc = 0;

	*found = false;
	if (!o)
		return -1;
	json_object_object_get_ex(o, "images", &images);
	i = nb_records_match(images, ref);
	if (i >= 0)
		rc = load_record(c, json_object_array_get_idx(images, (size_t)i), out, &complete,
				 err);
	json_object_put(o);
	if (rc < 0 || !complete)
		nb_image_free(out);
	*found = rc == 0 && complete;
	return rc;
}
