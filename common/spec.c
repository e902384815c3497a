#include "spec.h"

#include <libfdt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/tmpfs.h"
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

/* Container properties (format 2): checks, encode and decode live at the
 * end of this file. */
static int validate_container(const struct nb_spec *spec, struct nb_err *err);
static size_t container_size(const struct nb_spec *spec, size_t tmpfs_len);
static int validate_volumes(const struct nb_spec *spec, struct nb_err *err);
static size_t volumes_size(const struct nb_spec *spec);
static int write_volumes(void *buf, const struct nb_spec *spec);
struct raw_prop;
static int decode_volumes(const struct raw_prop *p, struct nb_spec *out, struct nb_err *err);
static int check_net(const struct nb_spec *spec, struct nb_err *err);
static int check_layers(const struct nb_spec_layer *l, size_t n, struct nb_err *err);
static int write_layers(void *buf, const struct nb_spec *spec);
static int decode_layers(const struct raw_prop *p, struct nb_spec *out, struct nb_err *err);
static int write_net(void *buf, const struct nb_spec *spec);
static int decode_net(const struct raw_prop *props, struct nb_spec *out, struct nb_err *err);
static int check_tty(const struct nb_spec *spec, struct nb_err *err);
static int write_tty(void *buf, const struct nb_spec *spec);
static int decode_tty(const struct raw_prop *props, struct nb_spec *out, struct nb_err *err);
static int write_container(void *buf, const struct nb_spec *spec, const char *tmpfs,
			   size_t tmpfs_len);

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
	if (check_rootfs(spec->rootfs, strnlen(spec->rootfs, NB_SPEC_MAX_STRING + 1), err))
		return -1;
	return validate_container(spec, err) || validate_volumes(spec, err) ||
	       check_net(spec, err) || check_layers(spec->layers, spec->nlayers, err) ||
	       check_tty(spec, err) ? -1 : 0;
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
	char *argv, *env, *tmpfs;
	size_t argv_len, env_len, tmpfs_len;
	const char *rootfs;
	const struct nb_spec *spec;
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
	    (rc = write_container(buf, j->spec, j->tmpfs, j->tmpfs_len)) < 0 ||
	    (rc = write_volumes(buf, j->spec)) < 0 || (rc = write_net(buf, j->spec)) < 0 ||
	    (rc = write_layers(buf, j->spec)) < 0 ||
	    (rc = write_tty(buf, j->spec)) < 0 || (rc = fdt_end_node(buf)) < 0 || (rc = fdt_finish(buf)) < 0)
		return rc;
	return 0;
}

static int encode_joined(const struct joined *j, void **blob, size_t *len, struct nb_err *err)
{
	size_t cap = FDT_OVERHEAD + j->argv_len + j->env_len + strlen(j->rootfs) + 16 +
		     container_size(j->spec, j->tmpfs_len) + volumes_size(j->spec) + 64 +
		     j->spec->nlayers * NB_LAYER_RECORD + 32;

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
	cleanup_free char *tmpfs = NULL;
	struct joined j = { .rootfs = spec->rootfs, .spec = spec };

	if (nb_spec_validate(spec, err) ||
	    join_list(spec->argv, spec->argc, &argv, &j.argv_len, err) ||
	    join_list(spec->env, spec->envc, &env, &j.env_len, err) ||
	    join_list(spec->tmpfs, spec->ntmpfs, &tmpfs, &j.tmpfs_len, err))
		return -1;
	j.argv = argv;
	j.env = env;
	j.tmpfs = tmpfs;
	return encode_joined(&j, blob, len, err);
}

/* ---- decode -------------------------------------------------------------- */

enum {
	PROP_VERSION,
	PROP_ARGV,
	PROP_ENV,
	PROP_ROOTFS,
	PROP_HOSTNAME,
	PROP_WORKDIR,
	PROP_USER,
	PROP_CAPS,
	PROP_RLIMITS,
	PROP_MEMORY_MAX,
	PROP_SWAP_MAX,
	PROP_CPU_MAX,
	PROP_PIDS_MAX,
	PROP_NAMESPACES,
	PROP_READONLY,
	PROP_TMPFS,
	PROP_SECCOMP,
	PROP_VOLUMES,
	PROP_NET_IPV4,
	PROP_NET_GATEWAY,
	PROP_TTY,
	PROP_LAYERS,
	PROP_COUNT
};

static const char *const prop_names[PROP_COUNT] = {
	[PROP_VERSION] = NB_SPEC_VERSION,
	[PROP_ARGV] = NB_SPEC_ARGV,
	[PROP_ENV] = NB_SPEC_ENV,
	[PROP_ROOTFS] = NB_SPEC_ROOTFS,
	[PROP_HOSTNAME] = NB_SPEC_HOSTNAME,
	[PROP_WORKDIR] = NB_SPEC_WORKDIR,
	[PROP_USER] = NB_SPEC_USER,
	[PROP_CAPS] = NB_SPEC_CAPS,
	[PROP_RLIMITS] = NB_SPEC_RLIMITS,
	[PROP_MEMORY_MAX] = NB_SPEC_MEMORY_MAX,
	[PROP_SWAP_MAX] = NB_SPEC_SWAP_MAX,
	[PROP_CPU_MAX] = NB_SPEC_CPU_MAX,
	[PROP_PIDS_MAX] = NB_SPEC_PIDS_MAX,
	[PROP_NAMESPACES] = NB_SPEC_NAMESPACES,
	[PROP_READONLY] = NB_SPEC_READONLY,
	[PROP_TMPFS] = NB_SPEC_TMPFS,
	[PROP_SECCOMP] = NB_SPEC_SECCOMP,
	[PROP_VOLUMES] = NB_SPEC_VOLUMES,
	[PROP_NET_IPV4] = NB_SPEC_NET_IPV4,
	[PROP_NET_GATEWAY] = NB_SPEC_NET_GATEWAY,
	[PROP_TTY] = NB_SPEC_TTY,
	[PROP_LAYERS] = NB_SPEC_LAYERS,
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
	/* libfdt 1.6.1's fdt_check_full() dereferences NULL on older headers
	 * (version 2 has no strings block size); nb_spec_encode writes 17. */
	if (fdt_magic(blob) == FDT_MAGIC && fdt_version(blob) < 17)
		return nb_err_set(err, 0, "spec: device tree header version %u, not 17 or later",
				  fdt_version(blob));
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

static int decode_container(const struct raw_prop *props, struct nb_spec *out,
			    struct nb_err *err);

int nb_spec_decode(const void *blob, size_t len, struct nb_spec *out, struct nb_err *err)
{
	struct raw_prop props[PROP_COUNT] = { 0 };

	memset(out, 0, sizeof(*out));
	if (check_blob(blob, len, err) || collect_props(blob, props, err) ||
	    decode_version(&props[PROP_VERSION], err))
		return -1;
	if (decode_list(NB_SPEC_ARGV, &props[PROP_ARGV], 1, false, &out->argv, &out->argc, err) ||
	    decode_list(NB_SPEC_ENV, &props[PROP_ENV], 0, true, &out->env, &out->envc, err) ||
	    decode_rootfs(&props[PROP_ROOTFS], &out->rootfs, err) ||
	    decode_container(props, out, err) ||
	    decode_volumes(&props[PROP_VOLUMES], out, err) || decode_net(props, out, err) ||
	    decode_layers(&props[PROP_LAYERS], out, err) || decode_tty(props, out, err)) {
		nb_spec_free(out);
		return -1;
	}
	return 0;
}

void nb_spec_free(struct nb_spec *spec)
{
	free((void *)spec->argv);
	free((void *)spec->env);
	free((void *)spec->tmpfs);
	free((void *)spec->volumes);
	free((void *)spec->layers);
	memset(spec, 0, sizeof(*spec));
}

/* ---- container properties (format 2) -------------------------------------- */

static int check_hostname(const char *s, size_t len, struct nb_err *err)
{
	if (len == 0 || len > NB_SPEC_MAX_HOSTNAME)
		return nb_err_set(err, 0, "spec: property %s must be 1..%u bytes", NB_SPEC_HOSTNAME,
				  NB_SPEC_MAX_HOSTNAME);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return nb_err_set(err, 0, "spec: property %s has a character other than "
						  "letters, digits, '-' and '.'", NB_SPEC_HOSTNAME);
	}
	return 0;
}

static int check_workdir(const char *s, size_t len, struct nb_err *err)
{
	if (len == 0 || len > NB_SPEC_MAX_PATH || s[0] != '/')
		return nb_err_set(err, 0, "spec: property %s is not an absolute path of at most %u "
					  "bytes", NB_SPEC_WORKDIR, NB_SPEC_MAX_PATH);
	return 0;
}

/* "user[:group]": both parts non-empty printable ASCII without ':' or '/'. */
static int check_user(const char *s, size_t len, struct nb_err *err)
{
	const char *colon = memchr(s, ':', len);

	if (len == 0 || len > NB_SPEC_MAX_USER)
		return nb_err_set(err, 0, "spec: property %s must be 1..%u bytes", NB_SPEC_USER,
				  NB_SPEC_MAX_USER);
	if (colon && (colon == s || colon == s + len - 1 || memchr(colon + 1, ':', (size_t)(s + len - colon - 1))))
		return nb_err_set(err, 0, "spec: property %s is not user[:group]", NB_SPEC_USER);
	for (size_t i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '/')
			return nb_err_set(err, 0, "spec: property %s has an invalid character",
					  NB_SPEC_USER);
	return 0;
}

static int check_caps(uint64_t caps, struct nb_err *err)
{
	if (caps >> (NB_SPEC_CAP_LAST + 1))
		return nb_err_set(err, 0, "spec: property %s has bits above capability %u",
				  NB_SPEC_CAPS, NB_SPEC_CAP_LAST);
	return 0;
}

static int check_rlimits(const struct nb_spec_rlimit *r, size_t n, struct nb_err *err)
{
	uint32_t seen = 0;

	if (n > NB_SPEC_MAX_RLIMITS)
		return nb_err_set(err, 0, "spec: property %s has more than %u entries",
				  NB_SPEC_RLIMITS, NB_SPEC_MAX_RLIMITS);
	for (size_t i = 0; i < n; i++) {
		if (r[i].resource >= NB_SPEC_MAX_RLIMITS)
			return nb_err_set(err, 0, "spec: property %s entry %zu: unknown resource %u",
					  NB_SPEC_RLIMITS, i, r[i].resource);
		if (r[i].soft > r[i].hard)
			return nb_err_set(err, 0, "spec: property %s entry %zu: soft above hard",
					  NB_SPEC_RLIMITS, i);
		if (seen & (1u << r[i].resource))
			return nb_err_set(err, 0, "spec: property %s entry %zu: resource %u twice",
					  NB_SPEC_RLIMITS, i, r[i].resource);
		seen |= 1u << r[i].resource;
	}
	return 0;
}

static int check_cgroup(const struct nb_spec *spec, struct nb_err *err)
{
	if (spec->memory_max && spec->memory_max < NB_SPEC_MIN_MEMORY)
		return nb_err_set(err, 0, "spec: property %s is below %u bytes", NB_SPEC_MEMORY_MAX,
				  NB_SPEC_MIN_MEMORY);
	if (!spec->memory_max && spec->swap_max)
		return nb_err_set(err, 0, "spec: property %s without %s", NB_SPEC_SWAP_MAX,
				  NB_SPEC_MEMORY_MAX);
	if ((spec->cpu_quota_us || spec->cpu_period_us) &&
	    (spec->cpu_period_us < 1000 || spec->cpu_period_us > 1000000 ||
	     spec->cpu_quota_us < 1000))
		return nb_err_set(err, 0, "spec: property %s needs period 1000..1000000 and quota "
					  ">= 1000 microseconds", NB_SPEC_CPU_MAX);
	if (spec->namespaces & ~(NB_NS_NET | NB_NS_USER))
		return nb_err_set(err, 0, "spec: property %s has unknown flags %#x",
				  NB_SPEC_NAMESPACES, spec->namespaces & ~(NB_NS_NET | NB_NS_USER));
	return 0;
}

static int check_tmpfs_entry(size_t i, const char *s, size_t len, struct nb_err *err)
{
	struct nb_tmpfs_mount m;

	if (len == 0 || len > NB_SPEC_MAX_PATH || s[0] != '/')
		return nb_err_set(err, 0, "spec: property %s entry %zu is not an absolute path of "
					  "at most %u bytes", NB_SPEC_TMPFS, i, NB_SPEC_MAX_PATH);
	if (nb_tmpfs_parse(s, &m, err) < 0)
		return nb_err_wrap(err, "spec: property %s entry %zu", NB_SPEC_TMPFS, i);
	return 0;
}

static int check_seccomp(size_t len, struct nb_err *err)
{
	if (len == 0 || len % NB_SPEC_BPF_INSN || len > NB_SPEC_MAX_BPF * NB_SPEC_BPF_INSN)
		return nb_err_set(err, 0, "spec: property %s is not 1..%u BPF instructions",
				  NB_SPEC_SECCOMP, NB_SPEC_MAX_BPF);
	return 0;
}

/* strnlen bound one past the limit, so "too long" is noticed. */
#define SLEN(s, max) strnlen((s), (size_t)(max) + 1)

static int validate_container(const struct nb_spec *spec, struct nb_err *err)
{
	if (spec->hostname && check_hostname(spec->hostname, SLEN(spec->hostname, NB_SPEC_MAX_HOSTNAME), err))
		return -1;
	if (spec->workdir && check_workdir(spec->workdir, SLEN(spec->workdir, NB_SPEC_MAX_PATH), err))
		return -1;
	if (spec->user && check_user(spec->user, SLEN(spec->user, NB_SPEC_MAX_USER), err))
		return -1;
	if ((spec->has_caps && check_caps(spec->caps, err)) ||
	    check_rlimits(spec->rlimits, spec->nrlimits, err) || check_cgroup(spec, err))
		return -1;
	if (spec->ntmpfs > NB_SPEC_MAX_TMPFS)
		return nb_err_set(err, 0, "spec: property %s has more than %u entries",
				  NB_SPEC_TMPFS, NB_SPEC_MAX_TMPFS);
	if (spec->ntmpfs && !spec->tmpfs)
		return nb_err_set(err, 0, "spec: property %s has entries but no array",
				  NB_SPEC_TMPFS);
	for (size_t i = 0; i < spec->ntmpfs; i++)
		if (!spec->tmpfs[i] ||
		    check_tmpfs_entry(i, spec->tmpfs[i], SLEN(spec->tmpfs[i], NB_SPEC_MAX_PATH), err))
			return spec->tmpfs[i] ? -1 : nb_err_set(err, 0, "spec: property %s entry %zu is NULL", NB_SPEC_TMPFS, i);
	if (spec->seccomp_len || spec->seccomp) {
		if (!spec->seccomp)
			return nb_err_set(err, 0, "spec: property %s has a length but no data",
					  NB_SPEC_SECCOMP);
		return check_seccomp(spec->seccomp_len, err);
	}
	return 0;
}

static size_t container_size(const struct nb_spec *spec, size_t tmpfs_len)
{
	size_t n = 512 + tmpfs_len + spec->seccomp_len + spec->nrlimits * NB_SPEC_RLIMIT_RECORD;

	n += spec->hostname ? strlen(spec->hostname) : 0;
	n += spec->workdir ? strlen(spec->workdir) : 0;
	n += spec->user ? strlen(spec->user) : 0;
	return n;
}

static int put_u64(void *buf, const char *name, uint64_t v)
{
	return fdt_property_u64(buf, name, v);
}

static int write_rlimits(void *buf, const struct nb_spec *spec)
{
	unsigned char rec[NB_SPEC_MAX_RLIMITS * NB_SPEC_RLIMIT_RECORD];

	for (size_t i = 0; i < spec->nrlimits; i++) {
		fdt32_t res = cpu_to_fdt32(spec->rlimits[i].resource);
		fdt64_t soft = cpu_to_fdt64(spec->rlimits[i].soft);
		fdt64_t hard = cpu_to_fdt64(spec->rlimits[i].hard);
		unsigned char *p = rec + i * NB_SPEC_RLIMIT_RECORD;

		memcpy(p, &res, 4);
		memcpy(p + 4, &soft, 8);
		memcpy(p + 12, &hard, 8);
	}
	return fdt_property(buf, NB_SPEC_RLIMITS, rec, (int)(spec->nrlimits * NB_SPEC_RLIMIT_RECORD));
}

/* Returns 0 or a negative libfdt error. Only set properties are written. */
static int write_container(void *buf, const struct nb_spec *spec, const char *tmpfs,
			   size_t tmpfs_len)
{
	int rc = 0;

	if (spec->hostname && (rc = fdt_property_string(buf, NB_SPEC_HOSTNAME, spec->hostname)) < 0)
		return rc;
	if (spec->workdir && (rc = fdt_property_string(buf, NB_SPEC_WORKDIR, spec->workdir)) < 0)
		return rc;
	if (spec->user && (rc = fdt_property_string(buf, NB_SPEC_USER, spec->user)) < 0)
		return rc;
	if (spec->has_caps && (rc = put_u64(buf, NB_SPEC_CAPS, spec->caps)) < 0)
		return rc;
	if (spec->nrlimits && (rc = write_rlimits(buf, spec)) < 0)
		return rc;
	if (spec->memory_max && ((rc = put_u64(buf, NB_SPEC_MEMORY_MAX, spec->memory_max)) < 0 ||
				 (rc = put_u64(buf, NB_SPEC_SWAP_MAX, spec->swap_max)) < 0))
		return rc;
	if (spec->cpu_period_us) {
		fdt32_t cpu[2] = { cpu_to_fdt32(spec->cpu_quota_us), cpu_to_fdt32(spec->cpu_period_us) };

		if ((rc = fdt_property(buf, NB_SPEC_CPU_MAX, cpu, sizeof(cpu))) < 0)
			return rc;
	}
	if (spec->pids_max && (rc = put_u64(buf, NB_SPEC_PIDS_MAX, spec->pids_max)) < 0)
		return rc;
	if (spec->namespaces && (rc = fdt_property_u32(buf, NB_SPEC_NAMESPACES, spec->namespaces)) < 0)
		return rc;
	if (spec->read_only && (rc = fdt_property_u32(buf, NB_SPEC_READONLY, 1)) < 0)
		return rc;
	if (tmpfs_len && (rc = fdt_property(buf, NB_SPEC_TMPFS, tmpfs, (int)tmpfs_len)) < 0)
		return rc;
	if (spec->seccomp_len &&
	    (rc = fdt_property(buf, NB_SPEC_SECCOMP, spec->seccomp, (int)spec->seccomp_len)) < 0)
		return rc;
	return 0;
}

/* ---- decode ---- */

static int decode_u32(const char *name, const struct raw_prop *p, uint32_t *out,
		      struct nb_err *err)
{
	fdt32_t be;

	if (p->len != sizeof(be))
		return nb_err_set(err, 0, "spec: property %s is %zu bytes, expected 4", name, p->len);
	memcpy(&be, p->data, sizeof(be));
	*out = fdt32_to_cpu(be);
	return 0;
}

static int decode_u64(const char *name, const struct raw_prop *p, uint64_t *out,
		      struct nb_err *err)
{
	fdt64_t be;

	if (p->len != sizeof(be))
		return nb_err_set(err, 0, "spec: property %s is %zu bytes, expected 8", name, p->len);
	memcpy(&be, p->data, sizeof(be));
	*out = fdt64_to_cpu(be);
	return 0;
}

/* One NUL-terminated string of at most max bytes (before the NUL). */
static int decode_string(const char *name, const struct raw_prop *p, size_t max,
			 const char **out, struct nb_err *err)
{
	if (p->len == 0 || memchr(p->data, '\0', p->len) != p->data + p->len - 1)
		return nb_err_set(err, 0, "spec: property %s is not one NUL-terminated string", name);
	if (p->len - 1 > max)
		return nb_err_set(err, 0, "spec: property %s is longer than %zu bytes", name, max);
	*out = p->data;
	return 0;
}

static int decode_strings(const struct raw_prop *props, struct nb_spec *out, struct nb_err *err)
{
	const struct raw_prop *p;

	p = &props[PROP_HOSTNAME];
	if (p->present && (decode_string(NB_SPEC_HOSTNAME, p, NB_SPEC_MAX_HOSTNAME, &out->hostname, err) ||
			   check_hostname(out->hostname, p->len - 1, err)))
		return -1;
	p = &props[PROP_WORKDIR];
	if (p->present && (decode_string(NB_SPEC_WORKDIR, p, NB_SPEC_MAX_PATH, &out->workdir, err) ||
			   check_workdir(out->workdir, p->len - 1, err)))
		return -1;
	p = &props[PROP_USER];
	if (p->present && (decode_string(NB_SPEC_USER, p, NB_SPEC_MAX_USER, &out->user, err) ||
			   check_user(out->user, p->len - 1, err)))
		return -1;
	return 0;
}

static int decode_rlimits(const struct raw_prop *p, struct nb_spec *out, struct nb_err *err)
{
	if (p->len % NB_SPEC_RLIMIT_RECORD || p->len > NB_SPEC_MAX_RLIMITS * NB_SPEC_RLIMIT_RECORD)
		return nb_err_set(err, 0, "spec: property %s is %zu bytes, not up to %u records of %u",
				  NB_SPEC_RLIMITS, p->len, NB_SPEC_MAX_RLIMITS, NB_SPEC_RLIMIT_RECORD);
	out->nrlimits = p->len / NB_SPEC_RLIMIT_RECORD;
	for (size_t i = 0; i < out->nrlimits; i++) {
		const char *rec = p->data + i * NB_SPEC_RLIMIT_RECORD;
		fdt32_t res;
		fdt64_t soft, hard;

		memcpy(&res, rec, 4);
		memcpy(&soft, rec + 4, 8);
		memcpy(&hard, rec + 12, 8);
		out->rlimits[i] = (struct nb_spec_rlimit){ fdt32_to_cpu(res), fdt64_to_cpu(soft),
							   fdt64_to_cpu(hard) };
	}
	return check_rlimits(out->rlimits, out->nrlimits, err);
}

static int decode_limits(const struct raw_prop *props, struct nb_spec *out, struct nb_err *err)
{
	const struct raw_prop *p = &props[PROP_CPU_MAX];
	uint32_t flag = 0;

	if (props[PROP_MEMORY_MAX].present &&
	    decode_u64(NB_SPEC_MEMORY_MAX, &props[PROP_MEMORY_MAX], &out->memory_max, err))
		return -1;
	if (props[PROP_MEMORY_MAX].present && out->memory_max == 0)
		return nb_err_set(err, 0, "spec: property %s is 0", NB_SPEC_MEMORY_MAX);
	if (props[PROP_SWAP_MAX].present &&
	    decode_u64(NB_SPEC_SWAP_MAX, &props[PROP_SWAP_MAX], &out->swap_max, err))
		return -1;
	if (props[PROP_SWAP_MAX].present && !out->memory_max)
		return nb_err_set(err, 0, "spec: property %s without %s", NB_SPEC_SWAP_MAX,
				  NB_SPEC_MEMORY_MAX);
	if (p->present) {
		fdt32_t cpu[2];

		if (p->len != sizeof(cpu))
			return nb_err_set(err, 0, "spec: property %s is %zu bytes, expected 8",
					  NB_SPEC_CPU_MAX, p->len);
		memcpy(cpu, p->data, sizeof(cpu));
		out->cpu_quota_us = fdt32_to_cpu(cpu[0]);
		out->cpu_period_us = fdt32_to_cpu(cpu[1]);
		if (!out->cpu_period_us)
			return nb_err_set(err, 0, "spec: property %s has period 0", NB_SPEC_CPU_MAX);
	}
	if (props[PROP_PIDS_MAX].present &&
	    (decode_u64(NB_SPEC_PIDS_MAX, &props[PROP_PIDS_MAX], &out->pids_max, err) ||
	     (out->pids_max == 0 && nb_err_set(err, 0, "spec: property %s is 0", NB_SPEC_PIDS_MAX))))
		return -1;
	if (props[PROP_NAMESPACES].present &&
	    decode_u32(NB_SPEC_NAMESPACES, &props[PROP_NAMESPACES], &out->namespaces, err))
		return -1;
	if (props[PROP_READONLY].present) {
		if (decode_u32(NB_SPEC_READONLY, &props[PROP_READONLY], &flag, err))
			return -1;
		if (flag > 1)
			return nb_err_set(err, 0, "spec: property %s is %u, not 0 or 1",
					  NB_SPEC_READONLY, flag);
		out->read_only = flag;
	}
	return check_cgroup(out, err);
}

static int decode_tmpfs(const struct raw_prop *p, struct nb_spec *out, struct nb_err *err)
{
	if (p->len > 0 && p->data[p->len - 1] != '\0')
		return nb_err_set(err, 0, "spec: property %s is not NUL-terminated", NB_SPEC_TMPFS);
	if (decode_list(NB_SPEC_TMPFS, p, 1, false, &out->tmpfs, &out->ntmpfs, err))
		return -1;
	if (out->ntmpfs > NB_SPEC_MAX_TMPFS)
		return nb_err_set(err, 0, "spec: property %s has more than %u entries",
				  NB_SPEC_TMPFS, NB_SPEC_MAX_TMPFS);
	for (size_t i = 0; i < out->ntmpfs; i++)
		if (check_tmpfs_entry(i, out->tmpfs[i], strlen(out->tmpfs[i]), err))
			return -1;
	return 0;
}

/* Errors leave partial results in out; the caller frees them. */
static int decode_container(const struct raw_prop *props, struct nb_spec *out,
			    struct nb_err *err)
{
	if (decode_strings(props, out, err) || decode_limits(props, out, err))
		return -1;
	if (props[PROP_CAPS].present) {
		if (decode_u64(NB_SPEC_CAPS, &props[PROP_CAPS], &out->caps, err) ||
		    check_caps(out->caps, err))
			return -1;
		out->has_caps = true;
	}
	if (props[PROP_RLIMITS].present && decode_rlimits(&props[PROP_RLIMITS], out, err))
		return -1;
	if (props[PROP_TMPFS].present && decode_tmpfs(&props[PROP_TMPFS], out, err))
		return -1;
	if (props[PROP_SECCOMP].present) {
		if (check_seccomp(props[PROP_SECCOMP].len, err))
			return -1;
		out->seccomp = props[PROP_SECCOMP].data;
		out->seccomp_len = props[PROP_SECCOMP].len;
	}
	return 0;
}

/* ---- volumes (virtio-blk, see include/nestbox/abi.h) ---------------------- */

/* MODE between the two colons: ro, rw, fs-ro or fs-rw. */
static bool volume_mode_ok(const char *mode, size_t len)
{
	if (len == 5 && strncmp(mode, NB_VOLUME_MODE_FS, 3) == 0) {
		mode += 3;
		len -= 3;
	}
	return len == 2 && (strncmp(mode, "ro", 2) == 0 || strncmp(mode, "rw", 2) == 0);
}

/* "ID:MODE:PATH" with the limits in abi.h. */
static int check_volume(size_t i, const char *s, struct nb_err *err)
{
	const char *mode = strchr(s, ':');
	const char *path = mode ? strchr(mode + 1, ':') : NULL;
	size_t serial_len = mode ? (size_t)(mode - s) : 0;

	if (!path || serial_len == 0 || serial_len > NB_VOLUME_SERIAL_MAX ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
		    serial_len)
		return nb_err_set(err, 0, "spec: property %s entry %zu: bad serial", NB_SPEC_VOLUMES, i);
	if (!volume_mode_ok(mode + 1, (size_t)(path - mode - 1)))
		return nb_err_set(err, 0, "spec: property %s entry %zu: mode is not ro, rw, fs-ro "
				  "or fs-rw", NB_SPEC_VOLUMES, i);
	path++;
	if (path[0] != '/' || strnlen(path, NB_SPEC_MAX_PATH + 1) > NB_SPEC_MAX_PATH)
		return nb_err_set(err, 0, "spec: property %s entry %zu: path is not absolute or too long",
				  NB_SPEC_VOLUMES, i);
	for (const char *c = path; (c = strstr(c, "..")); c += 2)
		if (c[-1] == '/' && (c[2] == '/' || c[2] == '\0'))
			return nb_err_set(err, 0, "spec: property %s entry %zu: path has a .. component",
					  NB_SPEC_VOLUMES, i);
	return 0;
}

static int validate_volumes(const struct nb_spec *spec, struct nb_err *err)
{
	if (spec->nvolumes > NB_SPEC_MAX_VOLUMES || (spec->nvolumes && !spec->volumes))
		return nb_err_set(err, 0, "spec: property %s: more than %u entries", NB_SPEC_VOLUMES,
				  NB_SPEC_MAX_VOLUMES);
	for (size_t i = 0; i < spec->nvolumes; i++)
		if (check_volume(i, spec->volumes[i], err))
			return -1;
	return 0;
}

static size_t volumes_size(const struct nb_spec *spec)
{
	size_t n = 64;

	for (size_t i = 0; i < spec->nvolumes; i++)
		n += strlen(spec->volumes[i]) + 1;
	return n;
}

static int write_volumes(void *buf, const struct nb_spec *spec)
{
	size_t total = volumes_size(spec) - 64, off = 0;
	void *val;
	int rc;

	if (!spec->nvolumes)
		return 0;
	rc = fdt_property_placeholder(buf, NB_SPEC_VOLUMES, (int)total, &val);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < spec->nvolumes; i++) {
		size_t n = strlen(spec->volumes[i]) + 1;

		memcpy((char *)val + off, spec->volumes[i], n);
		off += n;
	}
	return 0;
}

static int decode_volumes(const struct raw_prop *p, struct nb_spec *out, struct nb_err *err)
{
	if (!p->present)
		return 0;
	if (decode_list(NB_SPEC_VOLUMES, p, 0, false, &out->volumes, &out->nvolumes, err))
		return -1;
	if (out->nvolumes > NB_SPEC_MAX_VOLUMES)
		return nb_err_set(err, 0, "spec: property %s: more than %u entries", NB_SPEC_VOLUMES,
				  NB_SPEC_MAX_VOLUMES);
	for (size_t i = 0; i < out->nvolumes; i++)
		if (check_volume(i, out->volumes[i], err))
			return -1;
	return 0;
}

/* ---- network (virtio-net eth0, see include/nestbox/abi.h) ------------------ */

static int check_net(const struct nb_spec *spec, struct nb_err *err)
{
	if (spec->net_ipv4 && (spec->net_prefix < 1 || spec->net_prefix > 32))
		return nb_err_set(err, 0, "spec: property %s: prefix %u is not 1..32",
				  NB_SPEC_NET_IPV4, spec->net_prefix);
	if (!spec->net_ipv4 && (spec->net_prefix || spec->net_gateway))
		return nb_err_set(err, 0, "spec: a prefix or %s without %s", NB_SPEC_NET_GATEWAY,
				  NB_SPEC_NET_IPV4);
	return 0;
}

static int write_net(void *buf, const struct nb_spec *spec)
{
	fdt32_t ip[2] = { cpu_to_fdt32(spec->net_ipv4), cpu_to_fdt32(spec->net_prefix) };
	int rc;

	if (!spec->net_ipv4)
		return 0;
	if ((rc = fdt_property(buf, NB_SPEC_NET_IPV4, ip, sizeof(ip))) < 0)
		return rc;
	if (spec->net_gateway &&
	    (rc = fdt_property_u32(buf, NB_SPEC_NET_GATEWAY, spec->net_gateway)) < 0)
		return rc;
	return 0;
}

static int decode_net(const struct raw_prop *props, struct nb_spec *out, struct nb_err *err)
{
	const struct raw_prop *p = &props[PROP_NET_IPV4];

	if (p->present) {
		fdt32_t ip[2];

		if (p->len != sizeof(ip))
			return nb_err_set(err, 0, "spec: property %s is %zu bytes, expected 8",
					  NB_SPEC_NET_IPV4, p->len);
		memcpy(ip, p->data, sizeof(ip));
		out->net_ipv4 = fdt32_to_cpu(ip[0]);
		out->net_prefix = fdt32_to_cpu(ip[1]);
		if (!out->net_ipv4)
			return nb_err_set(err, 0, "spec: property %s is 0.0.0.0", NB_SPEC_NET_IPV4);
	}
	if (props[PROP_NET_GATEWAY].present &&
	    decode_u32(NB_SPEC_NET_GATEWAY, &props[PROP_NET_GATEWAY], &out->net_gateway, err))
		return -1;
	if (props[PROP_NET_GATEWAY].present && !out->net_gateway)
		return nb_err_set(err, 0, "spec: property %s is 0.0.0.0", NB_SPEC_NET_GATEWAY);
	return check_net(out, err);
}

/* ---- image layers (see include/nestbox/abi.h) -------------------------------- */

/* Aligned, non-empty, in order without overlap, inside NB_LAYER_MAX_DISK:
 * offset and size are hostile until this holds, and it rules out overflow
 * in offset + size (both are below 2^50 first). */
static int check_layers(const struct nb_spec_layer *l, size_t n, struct nb_err *err)
{
	uint64_t end = 0;

	if (n > NB_MAX_LAYERS || (n && !l))
		return nb_err_set(err, 0, "spec: property %s: %zu layers, more than %u",
				  NB_SPEC_LAYERS, n, NB_MAX_LAYERS);
	for (size_t i = 0; i < n; i++) {
		if (l[i].offset % NB_LAYER_ALIGN || l[i].offset < end)
			return nb_err_set(err, 0, "spec: property %s: layer %zu starts at %llu, not "
					  "a multiple of %u at or after %llu", NB_SPEC_LAYERS, i,
					  (unsigned long long)l[i].offset, NB_LAYER_ALIGN,
					  (unsigned long long)end);
		if (l[i].size == 0 || l[i].offset > NB_LAYER_MAX_DISK ||
		    l[i].size > NB_LAYER_MAX_DISK - l[i].offset)
			return nb_err_set(err, 0, "spec: property %s: layer %zu is empty or ends "
					  "past %llu bytes", NB_SPEC_LAYERS, i, NB_LAYER_MAX_DISK);
		end = l[i].offset + l[i].size;
	}
	return 0;
}

static int write_layers(void *buf, const struct nb_spec *spec)
{
	fdt64_t *val;
	int rc;

	if (!spec->nlayers)
		return 0;
	rc = fdt_property_placeholder(buf, NB_SPEC_LAYERS, (int)(spec->nlayers * NB_LAYER_RECORD),
				      (void **)&val);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < spec->nlayers; i++) {
		fdt64_t rec[2] = { cpu_to_fdt64(spec->layers[i].offset),
				   cpu_to_fdt64(spec->layers[i].size) };
		memcpy((char *)val + i * NB_LAYER_RECORD, rec, sizeof(rec));
	}
	return 0;
}

static int decode_layers(const struct raw_prop *p, struct nb_spec *out, struct nb_err *err)
{
	struct nb_spec_layer *l;
	size_t n = p->len / NB_LAYER_RECORD;

	if (!p->present)
		return 0;
	if (p->len % NB_LAYER_RECORD || n == 0 || n > NB_MAX_LAYERS)
		return nb_err_set(err, 0, "spec: property %s is %zu bytes, not 1..%u records of %u",
				  NB_SPEC_LAYERS, p->len, NB_MAX_LAYERS, NB_LAYER_RECORD);
	l = calloc(n, sizeof(*l));
	if (!l)
		return nb_err_sys(err, "spec: cannot allocate %zu layers", n);
	for (size_t i = 0; i < n; i++) {
		fdt64_t rec[2];

		memcpy(rec, p->data + i * NB_LAYER_RECORD, sizeof(rec));
		l[i] = (struct nb_spec_layer){ fdt64_to_cpu(rec[0]), fdt64_to_cpu(rec[1]) };
	}
	out->layers = l;
	out->nlayers = n;
	return check_layers(l, n, err);
}

/* ---- terminal (-t, see include/nestbox/abi.h) ------------------------------ */

static int check_tty(const struct nb_spec *spec, struct nb_err *err)
{
	bool unknown = spec->tty_rows == 0 && spec->tty_cols == 0;

	if (!spec->tty && (spec->tty_rows || spec->tty_cols))
		return nb_err_set(err, 0, "spec: a window size without %s", NB_SPEC_TTY);
	if (!unknown && (spec->tty_rows < 1 || spec->tty_rows > NB_WINSIZE_MAX ||
			 spec->tty_cols < 1 || spec->tty_cols > NB_WINSIZE_MAX))
		return nb_err_set(err, 0, "spec: property %s: %ux%u is not 1..%u each", NB_SPEC_TTY,
				  spec->tty_rows, spec->tty_cols, NB_WINSIZE_MAX);
	return 0;
}

static int write_tty(void *buf, const struct nb_spec *spec)
{
	fdt32_t size[2] = { cpu_to_fdt32(spec->tty_rows), cpu_to_fdt32(spec->tty_cols) };

	if (!spec->tty)
		return 0;
	return fdt_property(buf, NB_SPEC_TTY, size, sizeof(size));
}

static int decode_tty(const struct raw_prop *props, struct nb_spec *out, struct nb_err *err)
{
	const struct raw_prop *p = &props[PROP_TTY];
	fdt32_t size[2];

	if (!p->present)
		return 0;
	if (p->len != sizeof(size))
		return nb_err_set(err, 0, "spec: property %s is %zu bytes, expected 8", NB_SPEC_TTY,
				  p->len);
	memcpy(size, p->data, sizeof(size));
	out->tty = true;
	out->tty_rows = fdt32_to_cpu(size[0]);
	out->tty_cols = fdt32_to_cpu(size[1]);
	return check_tty(out, err);
}
