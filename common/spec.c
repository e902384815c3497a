#include "spec.h"

#include <libfdt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

/* Room for the header, the empty reserve map, the root node, the property
 * headers and the strings block; value bytes are added on top. */
#define FDT_OVERHEAD 256u

/* ---- checks shared by encode and decode --------------------------------- */

/* One argv/env entry of len bytes (no NUL inside). Messages name the
 * property and the index, never the hostile bytes themselves. */
static int check_entry(const char *prop, size_t index, const char *s, size_t len, bool is_env,
		       struct nb_err *err)
{
	const char *eq;

	if (len == 0)
		return nb_err_set(err, 0, "spec: property %s entry %zu is empty", prop, index);
	if (len > NB_SPEC_MAX_STRING)
		return nb_err_set(err, 0, "spec: property %s entry %zu is longer than %u bytes",
				  prop, index, NB_SPEC_MAX_STRING);
	if (!is_env)
		return 0;
	eq = memchr(s, '=', len);
	if (!eq)
		return nb_err_set(err, 0, "spec: property %s entry %zu has no '='", prop, index);
	if (eq == s)
		return nb_err_set(err, 0, "spec: property %s entry %zu has an empty name", prop,
				  index);
	return 0;
}

static int check_count(const char *prop, size_t count, size_t min, struct nb_err *err)
{
	if (count < min)
		return nb_err_set(err, 0, "spec: property %s is empty", prop);
	if (count > NB_SPEC_MAX_ARGS)
		return nb_err_set(err, 0, "spec: property %s has more than %u entries", prop,
				  NB_SPEC_MAX_ARGS);
	return 0;
}

static int check_rootfs(const char *path, size_t len, struct nb_err *err)
{
	if (len > NB_SPEC_MAX_STRING)
		return nb_err_set(err, 0, "spec: property %s is longer than %u bytes",
				  NB_SPEC_ROOTFS, NB_SPEC_MAX_STRING);
	if (len == 0 || path[0] != '/')
		return nb_err_set(err, 0, "spec: property %s is not an absolute path",
				  NB_SPEC_ROOTFS);
	return 0;
}

/* ---- encode -------------------------------------------------------------- */

static int validate_list(const char *prop, const char *const *list, size_t count, size_t min,
			 bool is_env, struct nb_err *err)
{
	if (check_count(prop, count, min, err))
		return -1;
	if (count > 0 && !list)
		return nb_err_set(err, 0, "spec: property %s has %zu entries but no array", prop,
				  count);
	for (size_t i = 0; i < count; i++) {
		if (!list[i])
			return nb_err_set(err, 0, "spec: property %s entry %zu is NULL", prop, i);
		if (check_entry(prop, i, list[i], strnlen(list[i], NB_SPEC_MAX_STRING + 1),
				is_env, err))
			return -1;
	}
	return 0;
}

int nb_spec_validate(const struct nb_spec *spec, struct nb_err *err)
{
	if (validate_list(NB_SPEC_ARGV, spec->argv, spec->argc, 1, false, err) ||
	    validate_list(NB_SPEC_ENV, spec->env, spec->envc, 0, true, err))
		return -1;
	if (!spec->rootfs)
		return nb_err_set(err, 0, "spec: property %s is missing", NB_SPEC_ROOTFS);
	return check_rootfs(spec->rootfs, strnlen(spec->rootfs, NB_SPEC_MAX_STRING + 1), err);
}

/* Join a validated list into one NUL-separated buffer. Entries are bounded
 * by validation, so the sum cannot overflow. */
static int join_list(const char *const *list, size_t count, char **out, size_t *out_len,
		     struct nb_err *err)
{
	size_t total = 0, off = 0;
	char *buf;

	for (size_t i = 0; i < count; i++)
		total += strlen(list[i]) + 1;
	buf = malloc(total ? total : 1);
	if (!buf)
		return nb_err_sys(err, "spec: cannot allocate %zu bytes", total);
	for (size_t i = 0; i < count; i++) {
		size_t n = strlen(list[i]) + 1;

		memcpy(buf + off, list[i], n);
		off += n;
	}
	*out = buf;
	*out_len = total;
	return 0;
}

struct joined {
	char *argv, *env;
	size_t argv_len, env_len;
	const char *rootfs;
};

/* Returns 0 or a negative libfdt error (-FDT_ERR_NOSPACE: buffer too small). */
static int write_fdt(void *buf, size_t cap, const struct joined *j)
{
	int rc;

	if ((rc = fdt_create(buf, (int)cap)) < 0 || (rc = fdt_finish_reservemap(buf)) < 0 ||
	    (rc = fdt_begin_node(buf, "")) < 0 ||
	    (rc = fdt_property_u32(buf, NB_SPEC_VERSION, NB_SPEC_FORMAT)) < 0 ||
	    (rc = fdt_property(buf, NB_SPEC_ARGV, j->argv, (int)j->argv_len)) < 0)
		return rc;
	if (j->env_len && (rc = fdt_property(buf, NB_SPEC_ENV, j->env, (int)j->env_len)) < 0)
		return rc;
	if ((rc = fdt_property_string(buf, NB_SPEC_ROOTFS, j->rootfs)) < 0 ||
	    (rc = fdt_end_node(buf)) < 0 || (rc = fdt_finish(buf)) < 0)
		return rc;
	return 0;
}

static int encode_joined(const struct joined *j, void **blob, size_t *len, struct nb_err *err)
{
	size_t cap = FDT_OVERHEAD + j->argv_len + j->env_len + strlen(j->rootfs) + 16;

	if (cap > NB_SPEC_MAX_SIZE + FDT_OVERHEAD)
		return nb_err_set(err, 0, "spec: encoded spec would exceed the limit of %u bytes",
				  NB_SPEC_MAX_SIZE);
	for (int attempt = 0; attempt < 4; attempt++, cap *= 2) {
		cleanup_free void *buf = malloc(cap);
		int rc;

		if (!buf)
			return nb_err_sys(err, "spec: cannot allocate %zu bytes", cap);
		rc = write_fdt(buf, cap, j);
		if (rc == -FDT_ERR_NOSPACE)
			continue;
		if (rc < 0)
			return nb_err_set(err, 0, "spec: libfdt: %s", fdt_strerror(rc));
		if (fdt_totalsize(buf) > NB_SPEC_MAX_SIZE)
			return nb_err_set(err, 0, "spec: encoded spec is %u bytes, more than %u",
					  fdt_totalsize(buf), NB_SPEC_MAX_SIZE);
		*len = fdt_totalsize(buf);
		*blob = NB_STEAL(buf, NULL);
		return 0;
	}
	return nb_err_set(err, 0, "spec: libfdt kept running out of space");
}

int nb_spec_encode(const struct nb_spec *spec, void **blob, size_t *len, struct nb_err *err)
{
	cleanup_free char *argv = NULL;
	cleanup_free char *env = NULL;
	struct joined j = { .rootfs = spec->rootfs };

	if (nb_spec_validate(spec, err) ||
	    join_list(spec->argv, spec->argc, &argv, &j.argv_len, err) ||
	    join_list(spec->env, spec->envc, &env, &j.env_len, err))
		return -1;
	j.argv = argv;
	j.env = env;
	return encode_joined(&j, blob, len, err);
}

/* ---- decode -------------------------------------------------------------- */

enum { PROP_VERSION, PROP_ARGV, PROP_ENV, PROP_ROOTFS, PROP_COUNT };

static const char *const prop_names[PROP_COUNT] = {
	[PROP_VERSION] = NB_SPEC_VERSION,
	[PROP_ARGV] = NB_SPEC_ARGV,
	[PROP_ENV] = NB_SPEC_ENV,
	[PROP_ROOTFS] = NB_SPEC_ROOTFS,
};

struct raw_prop {
	const char *data;
	size_t len;
	bool present;
};

static int check_blob(const void *blob, size_t len, struct nb_err *err)
{
	int rc;

	if (len > NB_SPEC_MAX_SIZE)
		return nb_err_set(err, 0, "spec: %zu bytes, more than the limit of %u", len,
				  NB_SPEC_MAX_SIZE);
	/* fdt_check_full() reads the whole v17 header before comparing
	 * against bufsize, so a shorter buffer must not reach it. */
	if (len < sizeof(struct fdt_header))
		return nb_err_set(err, 0, "spec: %zu bytes is too short for a device tree", len);
	rc = fdt_check_full(blob, len);
	if (rc < 0)
		return nb_err_set(err, 0, "spec: not a valid device tree: %s", fdt_strerror(rc));
	return 0;
}

static int prop_index(const char *name)
{
	for (int i = 0; i < PROP_COUNT; i++)
		if (strcmp(name, prop_names[i]) == 0)
			return i;
	return -1;
}

/* One pass over the root node's properties, so a duplicate is noticed
 * instead of silently shadowed. */
static int collect_props(const void *blob, struct raw_prop *props, struct nb_err *err)
{
	int off;

	fdt_for_each_property_offset(off, blob, 0) {
		const char *name;
		int plen, idx;
		const void *val = fdt_getprop_by_offset(blob, off, &name, &plen);

		if (!val || !name || plen < 0)
			return nb_err_set(err, 0, "spec: unreadable property: %s",
					  fdt_strerror(val ? -FDT_ERR_BADSTRUCTURE : plen));
		idx = prop_index(name);
		if (idx < 0)
			continue;
		if (props[idx].present)
			return nb_err_set(err, 0, "spec: property %s appears twice", name);
		props[idx] = (struct raw_prop){ .data = val, .len = (size_t)plen, .present = true };
	}
	if (off != -FDT_ERR_NOTFOUND)
		return nb_err_set(err, 0, "spec: bad root node: %s", fdt_strerror(off));
	return 0;
}

static int decode_version(const struct raw_prop *p, struct nb_err *err)
{
	uint32_t be, version;

	if (!p->present)
		return nb_err_set(err, 0, "spec: property %s is missing", NB_SPEC_VERSION);
	if (p->len != sizeof(be))
		return nb_err_set(err, 0, "spec: property %s is %zu bytes, expected 4",
				  NB_SPEC_VERSION, p->len);
	memcpy(&be, p->data, sizeof(be));
	version = fdt32_to_cpu(be);
	if (version != NB_SPEC_FORMAT)
		return nb_err_set(err, 0, "spec: property %s is %u, this nestbox-init reads %u",
				  NB_SPEC_VERSION, version, NB_SPEC_FORMAT);
	return 0;
}

/* Split a NUL-separated list into a NULL-terminated array of pointers into
 * the blob. */
static int decode_list(const char *prop, const struct raw_prop *p, size_t min, bool is_env,
		       const char *const **list, size_t *count, struct nb_err *err)
{
	size_t n = 0;
	const char **arr;

	if (!p->present && min > 0)
		return nb_err_set(err, 0, "spec: property %s is missing", prop);
	if (p->len > 0 && p->data[p->len - 1] != '\0')
		return nb_err_set(err, 0, "spec: property %s is not NUL-terminated", prop);
	for (size_t i = 0; i < p->len; i++)
		n += p->data[i] == '\0';
	if (check_count(prop, n, min, err))
		return -1;
	arr = calloc(n + 1, sizeof(*arr));
	if (!arr)
		return nb_err_sys(err, "spec: cannot allocate %zu entries", n + 1);
	for (size_t i = 0, off = 0; i < n; i++) {
		size_t elen = strlen(p->data + off);

		if (check_entry(prop, i, p->data + off, elen, is_env, err)) {
			free(arr);
			return -1;
		}
		arr[i] = p->data + off;
		off += elen + 1;
	}
	*list = arr;
	*count = n;
	return 0;
}

static int decode_rootfs(const struct raw_prop *p, const char **rootfs, struct nb_err *err)
{
	if (!p->present)
		return nb_err_set(err, 0, "spec: property %s is missing", NB_SPEC_ROOTFS);
	if (p->len == 0 || memchr(p->data, '\0', p->len) != p->data + p->len - 1)
		return nb_err_set(err, 0, "spec: property %s is not one NUL-terminated string",
				  NB_SPEC_ROOTFS);
	if (check_rootfs(p->data, p->len - 1, err))
		return -1;
	*rootfs = p->data;
	return 0;
}

int nb_spec_decode(const void *blob, size_t len, struct nb_spec *out, struct nb_err *err)
{
	struct raw_prop props[PROP_COUNT] = { 0 };

	memset(out, 0, sizeof(*out));
	if (check_blob(blob, len, err) || collect_props(blob, props, err) ||
	    decode_version(&props[PROP_VERSION], err))
		return -1;
	if (decode_list(NB_SPEC_ARGV, &props[PROP_ARGV], 1, false, &out->argv, &out->argc, err) ||
	    decode_list(NB_SPEC_ENV, &props[PROP_ENV], 0, true, &out->env, &out->envc, err) ||
	    decode_rootfs(&props[PROP_ROOTFS], &out->rootfs, err)) {
		nb_spec_free(out);
		return -1;
	}
	return 0;
}

void nb_spec_free(struct nb_spec *spec)
{
	free((void *)spec->argv);
	free((void *)spec->env);
	memset(spec, 0, sizeof(*spec));
}
