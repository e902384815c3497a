#include "vmm/run/oci_bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/parse.h"
#include "common/tmpfs.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/kvm/memory.h"
#include "vmm/run/resources.h"
#include "vmm/kvm/x86_64/mptable.h"
#include "vmm/run/container_seccomp.h"
#include "vmm/run/container_spec.h"

#define JSON_DEPTH 64

/* ---- typed access ------------------------------------------------------------ */

/* obj[key] if it is of type t; absent or null: NULL; another type: error. */
static int get(json_object *obj, const char *key, json_type t, json_object **out,
	       struct nb_err *err)
{
	json_object *v = NULL;

	*out = NULL;
	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, t))
		return nb_err_set(err, 0, "%s is not %s", key,
				  t == json_type_object   ? "an object"
				  : t == json_type_array  ? "an array"
				  : t == json_type_string ? "a string"
				  : t == json_type_int    ? "an integer"
							  : "a boolean");
	*out = v;
	return 0;
}

static int get_str(json_object *obj, const char *key, const char **out, struct nb_err *err)
{
	json_object *v;

	*out = NULL;
	if (get(obj, key, json_type_string, &v, err) < 0)
		return -1;
	*out = v ? json_object_get_string(v) : NULL;
	return 0;
}

static int get_bool(json_object *obj, const char *key, bool *out, struct nb_err *err)
{
	json_object *v;

	if (get(obj, key, json_type_boolean, &v, err) < 0)
		return -1;
	*out = v && json_object_get_boolean(v);
	return 0;
}

/* An integer in [min, max]; absent: *out untouched, *has false. */
static int get_int(json_object *obj, const char *key, int64_t min, int64_t max, int64_t *out,
		   bool *has, struct nb_err *err)
{
	json_object *v;

	*has = false;
	if (get(obj, key, json_type_int, &v, err) < 0)
		return -1;
	if (!v)
		return 0;
	errno = 0;
	int64_t x = json_object_get_int64(v);
	if (errno || x < min || x > max)
		return nb_err_set(err, 0, "%s is out of range", key);
	*out = x;
	*has = true;
	return 0;
}

/* An array of at most max entries, each a string (checked here). */
static int get_strings(json_object *obj, const char *key, size_t max, json_object **out,
		       struct nb_err *err)
{
	if (get(obj, key, json_type_array, out, err) < 0)
		return -1;
	if (!*out)
		return 0;
	if (json_object_array_length(*out) > max)
		return nb_err_set(err, 0, "%s has more than %zu entries", key, max);
	for (size_t i = 0; i < json_object_array_length(*out); i++)
		if (!json_object_is_type(json_object_array_get_idx(*out, i), json_type_string))
			return nb_err_set(err, 0, "%s[%zu] is not a string", key, i);
	return 0;
}

static const char *str_at(json_object *array, size_t i)
{
	return json_object_get_string(json_object_array_get_idx(array, i));
}

static char *keep(struct nb_oci_bundle *b, char *s, struct nb_err *err)
{
	char **grown;

	if (!s) {
		nb_err_sys(err, "out of memory");
		return NULL;
	}
	grown = realloc(b->owned, (b->nowned + 1) * sizeof(*grown));
	if (!grown) {
		free(s);
		nb_err_sys(err, "out of memory");
		return NULL;
	}
	b->owned = grown;
	b->owned[b->nowned++] = s;
	return s;
}

/* Absolute, at most NB_SPEC_MAX_PATH bytes, no ".." component. */
static bool path_ok(const char *p)
{
	size_t len = strnlen(p, NB_SPEC_MAX_PATH + 1);

	if (p[0] != '/' || len > NB_SPEC_MAX_PATH)
		return false;
	for (const char *c = p; (c = strstr(c, "..")); c += 2)
		if (c[-1] == '/' && (c[2] == '/' || c[2] == '\0'))
			return false;
	return true;
}

/* A host path from the bundle: absolute, or relative to the bundle. */
static char *host_path(struct nb_oci_bundle *b, const char *dir, const char *p, struct nb_err *err)
{
	char *s = NULL;

	if (!p[0] || strnlen(p, NB_SPEC_MAX_PATH + 1) > NB_SPEC_MAX_PATH)
		return nb_err_set(err, 0, "empty or too long path"), NULL;
	if (p[0] == '/')
		s = strdup(p);
	else if (asprintf(&s, "%s/%s", dir, p) < 0)
		s = NULL;
	return keep(b, s, err);
}

/* ---- process ----------------------------------------------------------------- */

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_CPU", RLIMIT_CPU },           { "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_DATA", RLIMIT_DATA },         { "RLIMIT_STACK", RLIMIT_STACK },
	{ "RLIMIT_CORE", RLIMIT_CORE },         { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },       { "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },   { "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },       { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },     { "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

static int parse_rlimit(json_object *r, struct nb_run_container *c, struct nb_err *err)
{
	const char *type;
	json_object *soft, *hard;
	int res = -1;

	if (!json_object_is_type(r, json_type_object))
		return nb_err_set(err, 0, "an entry is not an object");
	if (get_str(r, "type", &type, err) < 0 || get(r, "soft", json_type_int, &soft, err) < 0 ||
	    get(r, "hard", json_type_int, &hard, err) < 0)
		return -1;
	if (!type || !soft || !hard)
		return nb_err_set(err, 0, "an entry needs type, soft and hard");
	for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++)
		if (strcmp(type, rlimit_names[i].name) == 0)
			res = rlimit_names[i].resource;
	if (res < 0)
		return nb_err_set(err, 0, "unknown type \"%.32s\"", type);
	for (size_t i = 0; i < c->nrlimits; i++)
		if (c->rlimits[i].resource == (uint32_t)res)
			return nb_err_set(err, 0, "%s given twice", type);
	uint64_t s = json_object_get_uint64(soft), h = json_object_get_uint64(hard);
	if (json_object_get_int64(soft) < 0 || json_object_get_int64(hard) < 0 || s > h)
		return nb_err_set(err, 0, "%s: soft must be <= hard, both >= 0", type);
	c->rlimits[c->nrlimits++] = (struct nb_spec_rlimit){ (uint32_t)res, s, h };
	return 0;
}

static int parse_rlimits(json_object *process, struct nb_run_container *c, struct nb_err *err)
{
	json_object *list;

	if (get(process, "rlimits", json_type_array, &list, err) < 0)
		return -1;
	if (list && json_object_array_length(list) > NB_SPEC_MAX_RLIMITS)
		return nb_err_set(err, 0, "rlimits: more than %u entries", NB_SPEC_MAX_RLIMITS);
	for (size_t i = 0; list && i < json_object_array_length(list); i++)
		if (parse_rlimit(json_object_array_get_idx(list, i), c, err) < 0)
			return nb_err_wrap(err, "rlimits[%zu]", i);
	return 0;
}

/* The one mask nestbox has: what the workload may hold in every set. The
 * intersection of the sets given, so never more than any of them allows;
 * names this kernel's ABI does not know are ignored (as runc does). */
static int parse_caps(json_object *process, struct nb_run_container *c, struct nb_err *err)
{
	static const char *const sets[] = { "bounding", "effective", "permitted" };
	uint64_t all = (2ull << NB_SPEC_CAP_LAST) - 1, mask = all;
	json_object *caps, *list;

	if (get(process, "capabilities", json_type_object, &caps, err) < 0)
		return -1;
	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		uint64_t set = 0;

		if (get_strings(caps, sets[s], 64, &list, err) < 0)
			return nb_err_wrap(err, "capabilities");
		if (!list)
			continue;
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			int cap = nb_cap_by_name(str_at(list, i));

			if (cap >= 0 && cap <= (int)NB_SPEC_CAP_LAST)
				set |= 1ull << cap;
		}
		mask &= set;
	}
	if (!caps)
		mask = 0; /* none given: none held */
	/* nb_container_spec(): add ALL minus drop gives exactly mask */
	c->cap_add = all;
	c->cap_drop = all & ~mask;
	return 0;
}

static int parse_user(struct nb_oci_bundle *b, json_object *process, struct nb_err *err)
{
	json_object *user, *gids;
	int64_t uid = 0, gid = 0;
	bool has_uid, has_gid;
	char *s = NULL;

	if (get(process, "user", json_type_object, &user, err) < 0 ||
	    get_int(user, "uid", 0, UINT32_MAX - 1, &uid, &has_uid, err) < 0 ||
	    get_int(user, "gid", 0, UINT32_MAX - 1, &gid, &has_gid, err) < 0 ||
	    get(user, "additionalGids", json_type_array, &gids, err) < 0)
		return nb_err_wrap(err, "process.user");
	if (gids && json_object_array_length(gids) > NB_OCI_MAX_LIST)
		return nb_err_set(err, 0, "process.user.additionalGids: too many entries");
	if (asprintf(&s, "%lld:%lld", (long long)uid, (long long)gid) < 0)
		s = NULL;
	b->opts.container.user = keep(b, s, err);
	return b->opts.container.user ? 0 : -1;
}

static int parse_env(struct nb_oci_bundle *b, json_object *process, struct nb_err *err)
{
	struct nb_run_container *c = &b->opts.container;
	json_object *env;

	if (get_strings(process, "env", NB_SPEC_MAX_ARGS, &env, err) < 0)
		return nb_err_wrap(err, "process");
	if (!env || json_object_array_length(env) == 0)
		return 0;
	c->env = calloc(json_object_array_length(env), sizeof(*c->env));
	if (!c->env)
		return nb_err_sys(err, "process.env");
	for (size_t i = 0; i < json_object_array_length(env); i++) {
		const char *e = str_at(env, i);

		if (e[0] == '=' || !strchr(e, '='))
			return nb_err_set(err, 0, "process.env[%zu] is not NAME=value", i);
		c->env[c->nenv++] = e;
	}
	return 0;
}

static int parse_console(struct nb_oci_bundle *b, json_object *process, struct nb_err *err)
{
	json_object *size;
	int64_t h = 0, w = 0;
	bool has_h, has_w;

	if (get_bool(process, "terminal", &b->terminal, err) < 0 ||
	    get(process, "consoleSize", json_type_object, &size, err) < 0 ||
	    get_int(size, "height", 0, NB_WINSIZE_MAX, &h, &has_h, err) < 0 ||
	    get_int(size, "width", 0, NB_WINSIZE_MAX, &w, &has_w, err) < 0)
		return nb_err_wrap(err, "process");
	if (h && w) {
		b->tty_rows = (uint16_t)h;
		b->tty_cols = (uint16_t)w;
	}
	b->opts.tty = b->terminal;
	/* stdin always passes through, as runc's does (an engine gives
	 * /dev/null when it has none) */
	b->opts.interactive = true;
	return 0;
}

static int parse_process(struct nb_oci_bundle *b, struct nb_err *err)
{
	json_object *process, *args;
	const char *cwd;
	const char **argv;

	if (get(b->root, "process", json_type_object, &process, err) < 0)
		return -1;
	if (!process)
		return nb_err_set(err, 0, "process is missing (nestbox runs one process)");
	if (get_strings(process, "args", NB_SPEC_MAX_ARGS, &args, err) < 0)
		return nb_err_wrap(err, "process");
	if (!args || json_object_array_length(args) == 0 || !str_at(args, 0)[0])
		return nb_err_set(err, 0, "process.args must name a command");
	argv = calloc(json_object_array_length(args) + 1, sizeof(*argv));
	if (!argv || !keep(b, (char *)argv, err))
		return argv ? -1 : nb_err_sys(err, "process.args");
	for (size_t i = 0; i < json_object_array_length(args); i++)
		argv[i] = str_at(args, i);
	b->opts.argv = argv;
	b->opts.argc = json_object_array_length(args);
	if (get_str(process, "cwd", &cwd, err) < 0)
		return nb_err_wrap(err, "process");
	if (!cwd || !path_ok(cwd))
		return nb_err_set(err, 0, "process.cwd must be an absolute path without ..");
	b->opts.container.workdir = strcmp(cwd, "/") ? cwd : NULL;
	if (parse_env(b, process, err) < 0 || parse_user(b, process, err) < 0 ||
	    parse_caps(process, &b->opts.container, err) < 0 ||
	    parse_rlimits(process, &b->opts.container, err) < 0 ||
	    parse_console(b, process, err) < 0)
		return nb_err_wrap(err, "process");
	return 0;
}

/* ---- root and mounts ----------------------------------------------------------- */

static int add_share(struct nb_oci_bundle *b, char *host, const char *guest, bool ro,
		     struct nb_err *err)
{
	struct nb_run_options *o = &b->opts;
	struct stat st;

	if (o->nvolumes == NB_RUN_MAX_VOLUMES)
		return nb_err_set(err, 0, "more than %u shared directories (the root counts)",
				  NB_RUN_MAX_VOLUMES);
	if (stat(host, &st) < 0)
		return nb_err_sys(err, "%s", host);
	if (!S_ISDIR(st.st_mode))
		return nb_err_set(err, 0, "%s is not a directory", host);
	o->volumes[o->nvolumes++] = (struct nb_run_volume){
		.host = host, .guest = (char *)guest, .read_only = ro, .dir = true
	};
	return 0;
}

static int parse_root(struct nb_oci_bundle *b, const char *dir, struct nb_err *err)
{
	json_object *root;
	const char *path;
	char *host;
	bool ro = false;

	if (get(b->root, "root", json_type_object, &root, err) < 0 ||
	    get_str(root, "path", &path, err) < 0 || get_bool(root, "readonly", &ro, err) < 0)
		return nb_err_wrap(err, "root");
	if (!path)
		return nb_err_set(err, 0, "root.path is missing");
	/* Shared writable, as runc mounts it: mount points (podman's tmpfs
	 * for --read-only) are made first, then the container's root is
	 * remounted read-only (container/rootfs.c). */
	if (!(host = host_path(b, dir, path, err)) || add_share(b, host, "/", false, err) < 0)
		return nb_err_wrap(err, "root.path");
	b->opts.container.read_only = ro;
	b->rootfs = host;
	return 0;
}

/* Made in the guest whatever the bundle says (container/rootfs.c). */
static bool api_mount(const char *dest)
{
	static const char *const api[] = { "/proc",    "/sys",     "/sys/fs/cgroup", "/dev",
					   "/dev/pts", "/dev/shm", "/dev/mqueue" };

	for (size_t i = 0; i < sizeof(api) / sizeof(api[0]); i++)
		if (strcmp(dest, api[i]) == 0)
			return true;
	return false;
}

/* Files engines bind from their own state (podman, containerd's CRI): the
 * guest keeps the image's (see README.md). */
static bool engine_file(const char *dest)
{
	static const char *const files[] = { "/etc/hosts", "/etc/resolv.conf", "/etc/hostname",
					     "/run/.containerenv" };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (strcmp(dest, files[i]) == 0)
			return true;
	return false;
}

static bool has_option(json_object *options, const char *name)
{
	for (size_t i = 0; options && i < json_object_array_length(options); i++)
		if (strcmp(str_at(options, i), name) == 0)
			return true;
	return false;
}

/* Docker's --tmpfs syntax from the mount options nestbox applies; the
 * others (atime, propagation, tmpcopyup, nr_inodes) have no effect. */
static int add_tmpfs(struct nb_oci_bundle *b, const char *dest, json_object *options,
		     struct nb_err *err)
{
	static const char *const kept[] = { "rw",   "ro",     "exec", "noexec",
					    "suid", "nosuid", "dev",  "nodev" };
	struct nb_run_container *c = &b->opts.container;
	char buf[NB_SPEC_MAX_PATH + 256];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "%s", dest);
	char sep = ':';

	if (c->ntmpfs == sizeof(c->tmpfs) / sizeof(c->tmpfs[0]))
		return nb_err_set(err, 0, "more than %zu tmpfs mounts", c->ntmpfs);
	/* The entry is "PATH:OPTIONS": a ':' in dest would end the path there
	 * and make the rest options (a tmpfs elsewhere, exec, suid, dev). */
	if (strchr(dest, ':'))
		return nb_err_set(err, 0, "%.64s: a tmpfs destination with ':' is not supported",
				  dest);
	for (size_t i = 0; options && i < json_object_array_length(options); i++) {
		const char *o = str_at(options, i);
		bool use = strncmp(o, "size=", 5) == 0 || strncmp(o, "mode=", 5) == 0;

		for (size_t k = 0; k < sizeof(kept) / sizeof(kept[0]); k++)
			use |= strcmp(o, kept[k]) == 0;
		if (!use)
			continue;
		if (strlen(o) > 64 || n + strlen(o) + 2 >= sizeof(buf))
			return nb_err_set(err, 0, "option %.64s is too long", o);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%c%s", sep, o);
		sep = ',';
	}
	char *entry = keep(b, strdup(buf), err);
	if (!entry)
		return -1;
	struct nb_tmpfs_mount m;
	if (nb_tmpfs_parse(entry, &m, err) < 0)
		return -1;
	c->tmpfs[c->ntmpfs++] = entry;
	return 0;
}

static int parse_mount(struct nb_oci_bundle *b, json_object *m, const char *dir, struct nb_err *err)
{
	const char *dest, *type, *source;
	json_object *options;
	struct stat st;
	char *host;

	if (!json_object_is_type(m, json_type_object))
		return nb_err_set(err, 0, "not an object");
	if (get_str(m, "destination", &dest, err) < 0 || get_str(m, "type", &type, err) < 0 ||
	    get_str(m, "source", &source, err) < 0 ||
	    get_strings(m, "options", 64, &options, err) < 0)
		return -1;
	if (!dest || !path_ok(dest) || strcmp(dest, "/") == 0)
		return nb_err_set(err, 0,
				  "destination must be an absolute path (not /) without ..");
	if (api_mount(dest))
		return 0;
	if (type && strcmp(type, "tmpfs") == 0)
		return add_tmpfs(b, dest, options, err);
	if (!(type && strcmp(type, "bind") == 0) && !has_option(options, "bind") &&
	    !has_option(options, "rbind"))
		return nb_err_set(err, 0, "%s: type %.32s is not supported (bind and tmpfs are)",
				  dest, type ? type : "(none)");
	if (!source || !(host = host_path(b, dir, source, err)))
		return nb_err_set(err, 0, "%s: a bind mount needs a source", dest);
	if (stat(host, &st) < 0)
		return nb_err_sys(err, "%s: source %s", dest, host);
	if (S_ISREG(st.st_mode) && engine_file(dest)) {
		if (strcmp(dest, "/etc/resolv.conf") == 0)
			b->resolv_conf = host;
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return nb_err_set(err, 0,
				  "%s: source %s is not a directory (nestbox shares directories; "
				  "files and devices cannot be bound into the VM)",
				  dest, host);
	return add_share(b, host, dest, has_option(options, "ro"), err);
}

static int parse_mounts(struct nb_oci_bundle *b, const char *dir, struct nb_err *err)
{
	json_object *mounts;

	if (get(b->root, "mounts", json_type_array, &mounts, err) < 0)
		return -1;
	if (mounts && json_object_array_length(mounts) > NB_OCI_MAX_MOUNTS)
		return nb_err_set(err, 0, "mounts: more than %u entries", NB_OCI_MAX_MOUNTS);
	for (size_t i = 0; mounts && i < json_object_array_length(mounts); i++)
		if (parse_mount(b, json_object_array_get_idx(mounts, i), dir, err) < 0)
			return nb_err_wrap(err, "mounts[%zu]", i);
	return 0;
}

/* ---- linux --------------------------------------------------------------------- */

static int parse_namespace(struct nb_oci_bundle *b, json_object *ns, struct nb_err *err)
{
	const char *type, *path;

	if (!json_object_is_type(ns, json_type_object))
		return nb_err_set(err, 0, "not an object");
	if (get_str(ns, "type", &type, err) < 0 || get_str(ns, "path", &path, err) < 0)
		return -1;
	if (!type)
		return nb_err_set(err, 0, "type is missing");
	if (strcmp(type, "network") == 0) {
		b->opts.container.namespaces |= NB_NS_NET;
		b->netns = path && path[0] ? path : NULL;
		return 0;
	}
	if (strcmp(type, "user") == 0)
		return nb_err_set(err, 0,
				  "user namespaces are not supported yet (the VM is the "
				  "isolation boundary; run the engine rootful)");
	if (strcmp(type, "pid") && strcmp(type, "mount") && strcmp(type, "ipc") &&
	    strcmp(type, "uts") && strcmp(type, "cgroup") && strcmp(type, "time"))
		return nb_err_set(err, 0, "unknown type \"%.32s\"", type);
	if (path && path[0])
		return nb_err_set(err, 0,
				  "%s: joining another container's namespace is not supported "
				  "(each nestbox container is its own VM)",
				  type);
	return 0;
}

static int parse_resources(struct nb_oci_bundle *b, json_object *res, struct nb_err *err)
{
	struct nb_run_options *o = &b->opts;
	json_object *mem, *cpu, *pids;
	int64_t limit = 0, quota = 0, period = 0, max_pids = 0;
	bool has;

	if (get(res, "memory", json_type_object, &mem, err) < 0 ||
	    get(res, "cpu", json_type_object, &cpu, err) < 0 ||
	    get(res, "pids", json_type_object, &pids, err) < 0 ||
	    get_int(mem, "limit", -1, (int64_t)NB_MEM_MAX, &limit, &has, err) < 0 ||
	    get_int(cpu, "quota", -1, INT64_MAX, &quota, &has, err) < 0 ||
	    get_int(cpu, "period", 0, 1000000, &period, &has, err) < 0 ||
	    get_int(pids, "limit", -1, INT64_MAX, &max_pids, &has, err) < 0)
		return nb_err_wrap(err, "linux.resources");
	if (limit > 0) {
		uint64_t vm = nb_guest_ram_for((uint64_t)limit);

		if ((uint64_t)limit < NB_MEMORY_MIN)
			return nb_err_set(err, 0,
					  "linux.resources.memory.limit %lld: at least %llu MiB "
					  "(Docker's minimum)",
					  (long long)limit, NB_MEMORY_MIN >> 20);
		if (vm > NB_MEM_MAX)
			return nb_err_set(err, 0, "linux.resources.memory.limit is too large");
		o->mem_size = vm > NB_MEM_MIN ? vm : NB_MEM_MIN;
		o->container.memory_max = (uint64_t)limit;
	}
	if (quota > 0) {
		double v = (double)quota / (double)(period ? period : NB_CPU_PERIOD_US);

		if (v > NB_MAX_VCPUS || v < 0.01)
			return nb_err_set(err, 0,
					  "linux.resources.cpu: quota/period must be 0.01 to %u",
					  NB_MAX_VCPUS);
		o->cpus = (unsigned)v + ((double)(unsigned)v < v);
		o->container.cpu_quota_us = (uint32_t)(v * NB_CPU_PERIOD_US + 0.5);
	}
	if (max_pids > 0)
		o->container.pids_limit = (uint64_t)max_pids;
	return 0;
}

static int parse_linux(struct nb_oci_bundle *b, struct nb_err *err)
{
	json_object *lx, *list, *res, *sysctl, *seccomp;
	const char *cg;

	if (get(b->root, "linux", json_type_object, &lx, err) < 0)
		return -1;
	if (get(lx, "namespaces", json_type_array, &list, err) < 0)
		return nb_err_wrap(err, "linux");
	if (list && json_object_array_length(list) > 16)
		return nb_err_set(err, 0, "linux.namespaces: more than 16 entries");
	for (size_t i = 0; list && i < json_object_array_length(list); i++)
		if (parse_namespace(b, json_object_array_get_idx(list, i), err) < 0)
			return nb_err_wrap(err, "linux.namespaces[%zu]", i);
	if (get(lx, "resources", json_type_object, &res, err) < 0 ||
	    parse_resources(b, res, err) < 0)
		return nb_err_wrap(err, "linux");
	if (get(lx, "sysctl", json_type_object, &sysctl, err) < 0)
		return nb_err_wrap(err, "linux");
	if (sysctl) {
		json_object_object_foreach(sysctl, name, value) {
			(void)value;
			/* podman's default_sysctls: only widens who may open ICMP
			 * sockets; not applied (README.md) */
			if (strcmp(name, "net.ipv4.ping_group_range") != 0)
				return nb_err_set(err, 0, "linux.sysctl %.64s: not supported yet",
						  name);
		}
	}
	/* Docker's lists of masked and read-only paths apply whatever these say
	 * (container/rootfs.c); they are checked for shape only. */
	if (get_strings(lx, "maskedPaths", NB_OCI_MAX_LIST, &list, err) < 0 ||
	    get_strings(lx, "readonlyPaths", NB_OCI_MAX_LIST, &list, err) < 0 ||
	    get_str(lx, "cgroupsPath", &cg, err) < 0 ||
	    get(lx, "seccomp", json_type_object, &seccomp, err) < 0)
		return nb_err_wrap(err, "linux");
	b->cgroups_path = cg;
	if (!seccomp) {
		b->opts.container.seccomp_unconfined = true; /* OCI: no filter */
		return 0;
	}
	/* The Docker profile compiler takes it as it is (same format). */
	b->opts.container.seccomp_json = keep(
		b, strdup(json_object_to_json_string_ext(seccomp, JSON_C_TO_STRING_PLAIN)), err);
	return b->opts.container.seccomp_json ? 0 : -1;
}

/* ---- the rest ------------------------------------------------------------------ */

static int parse_annotations(struct nb_oci_bundle *b, struct nb_err *err)
{
	const char *vcpus, *mem, *kernel;
	json_object *ann;

	if (get(b->root, "annotations", json_type_object, &ann, err) < 0 ||
	    get_str(ann, NB_OCI_ANN_VCPUS, &vcpus, err) < 0 ||
	    get_str(ann, NB_OCI_ANN_MEMORY, &mem, err) < 0 ||
	    get_str(ann, NB_OCI_ANN_KERNEL, &kernel, err) < 0)
		return nb_err_wrap(err, "annotations");
	b->annotations = ann;
	if (vcpus) {
		unsigned n;

		if (nb_parse_uint(NB_OCI_ANN_VCPUS, vcpus, 1, NB_MAX_VCPUS, &n, err) < 0)
			return -1;
		if (n > b->opts.cpus)
			b->opts.cpus = n;
	}
	if (mem) {
		uint64_t size;

		if (nb_parse_size(mem, &size, err) < 0)
			return nb_err_wrap(err, NB_OCI_ANN_MEMORY);
		if (size < NB_MEM_MIN || size > NB_MEM_MAX || size % (2u << 20))
			return nb_err_set(err, 0, "%s %.32s: use a multiple of 2 MiB from %llu MiB",
					  NB_OCI_ANN_MEMORY, mem, NB_MEM_MIN >> 20);
		if (size > b->opts.mem_size || !b->opts.container.memory_max)
			b->opts.mem_size = size;
	}
	b->opts.kernel_path = kernel;
	return 0;
}

static int parse_top(struct nb_oci_bundle *b, const char *dir, struct nb_err *err)
{
	const char *version, *hostname;
	json_object *hooks;

	if (!json_object_is_type(b->root, json_type_object))
		return nb_err_set(err, 0, "config.json is not a JSON object");
	if (get_str(b->root, "ociVersion", &version, err) < 0)
		return -1;
	if (!version || strncmp(version, "1.", 2) != 0)
		return nb_err_set(err, 0, "ociVersion must be 1.x (runtime-spec 1)");
	if (get_str(b->root, "hostname", &hostname, err) < 0 ||
	    get(b->root, "hooks", json_type_object, &hooks, err) < 0)
		return -1;
	if (hooks && json_object_object_length(hooks) > 0)
		return nb_err_set(err, 0, "hooks are not supported");
	b->opts.container.hostname = hostname && hostname[0] ? hostname : NULL;
	if (parse_process(b, err) < 0 || parse_root(b, dir, err) < 0 ||
	    parse_mounts(b, dir, err) < 0 || parse_linux(b, err) < 0 ||
	    parse_annotations(b, err) < 0)
		return -1;
	return 0;
}

/* The JSON object in json[0..len), bounded: NULL with err when it is not one. */
static json_object *parse_json(const char *json, size_t len, const char *what, struct nb_err *err)
{
	json_tokener *tok;
	json_object *o;

	if (len > NB_OCI_CONFIG_MAX) {
		nb_err_set(err, 0, "%s: more than %u bytes", what, NB_OCI_CONFIG_MAX);
		return NULL;
	}
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok) {
		nb_err_sys(err, "%s", what);
		return NULL;
	}
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    (size_t)json_tokener_get_parse_end(tok) != len) {
		nb_err_set(err, 0, "%s: invalid JSON (%s)", what,
			   o ? "trailing data"
			     : json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int nb_oci_bundle_parse(const char *json, size_t len, const char *dir, struct nb_oci_bundle *b,
			struct nb_err *err)
{
	int rc;

	memset(b, 0, sizeof(*b));
	b->opts = (struct nb_run_options){ .cpus = 1, .mem_size = NB_OCI_DEFAULT_MEM };
	b->root = parse_json(json, len, "config.json", err);
	if (!b->root)
		return -1;
	rc = parse_top(b, dir, err);
	if (rc < 0) {
		nb_err_wrap(err, "config.json");
		nb_oci_bundle_free(b);
	}
	return rc;
}

int nb_oci_process_parse(const char *json, size_t len, struct nb_oci_bundle *b, struct nb_err *err)
{
	json_object *process;

	memset(b, 0, sizeof(*b));
	process = parse_json(json, len, "--process", err);
	if (!process)
		return -1;
	b->root = json_object_new_object();
	if (!b->root || json_object_object_add(b->root, "process", process) < 0) {
		json_object_put(process);
		nb_oci_bundle_free(b);
		return nb_err_sys(err, "--process");
	}
	if (parse_process(b, err) < 0) {
		nb_err_wrap(err, "--process");
		nb_oci_bundle_free(b);
		return -1;
	}
	return 0;
}

int nb_oci_bundle_load(const char *dir, struct nb_oci_bundle *b, struct nb_err *err)
{
	cleanup_free char *buf = NULL;
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t len;

	memset(b, 0, sizeof(*b));
	if (dfd < 0)
		return nb_err_sys(err, "bundle %s", dir);
	if (nb_file_read(dfd, "config.json", NB_OCI_CONFIG_MAX, &buf, &len, err) < 0)
		return nb_err_wrap(err, "bundle %s", dir);
	return nb_oci_bundle_parse(buf, len, dir, b, err);
}

void nb_oci_bundle_free(struct nb_oci_bundle *b)
{
	free(b->opts.container.env);
	for (size_t i = 0; i < b->nowned; i++)
		free(b->owned[i]);
	free(b->owned);
	if (b->root)
		json_object_put(b->root);
	memset(b, 0, sizeof(*b));
}
