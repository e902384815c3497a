/* libFuzzer: the OCI runtime's readers of what an engine or a user hands
 * it (vmm/run/oci_bundle.h): config.json of a bundle (nb_oci_bundle_parse,
 * for a bundle directory made at start-up beside the binary with a rootfs/
 * and data/ directory and hosts and resolv.conf files, as runc's bundles
 * and podman's have) and `exec --process`'s process object
 * (nb_oci_process_parse), both on every input. Whatever the bytes, options
 * they accept are ones a run may take as they are: argv of
 * 1..NB_SPEC_MAX_ARGS strings, NULL-terminated, the first not empty; env
 * "NAME=value"; cwd absolute without ".."; user "UID:GID"; a capability
 * mask within the kernel's; distinct rlimits with soft <= hard; a console
 * size within NB_WINSIZE_MAX; and for a bundle: the root shared at "/" and
 * at most NB_RUN_MAX_VOLUMES shares of absolute host directories at
 * checked paths; tmpfs entries the guest's parser takes, each at a
 * destination config.json gives a tmpfs; vCPUs and memory
 * in range, 2 MiB-aligned and room for the memory limit; seccomp either
 * off or a JSON object. A refusal leaves a message and nothing to free;
 * freeing leaves the bundle zeroed; no descriptor is left open,
 * nothing leaks.
 *
 * Covers: vmm/run/oci_bundle.c */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "common/tmpfs.h"
#include "fuzz_check.h"
#include "nestbox/abi.h"
#include "vmm/kvm/memory.h"
#include "vmm/kvm/x86_64/mptable.h"
#include "vmm/run/oci_bundle.h"
#include "vmm/run/resources.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Beside the binary (build/fuzz/), made once and kept: a crash (abort)
 * would leave a temporary one behind. */
static char bundle[PATH_MAX];

/* The bundle directory: rootfs/ and data/, hosts and resolv.conf. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const dirs[] = { "rootfs", "data" };
	static const char *const files[] = { "hosts", "resolv.conf" };
	char path[PATH_MAX + 32], *slash;
	FILE *f;

	(void)argc, (void)argv;
	FZ_CHECK(realpath("/proc/self/exe", bundle), "/proc/self/exe: %s", strerror(errno));
	slash = strrchr(bundle, '/');
	snprintf(slash, sizeof(bundle) - (size_t)(slash - bundle), "/fuzz_oci_bundle.bundle");
	FZ_CHECK(mkdir(bundle, 0755) == 0 || errno == EEXIST, "%s: %s", bundle, strerror(errno));
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", bundle, dirs[i]);
		FZ_CHECK(mkdir(path, 0755) == 0 || errno == EEXIST, "%s: %s", path,
			 strerror(errno));
		snprintf(path, sizeof(path), "%s/%s", bundle, files[i]);
		FZ_CHECK((f = fopen(path, "w")) && fclose(f) == 0, "%s: %s", path, strerror(errno));
	}
	return 0;
}

/* Absolute, at most NB_SPEC_MAX_PATH bytes, no ".." component. */
static bool path_ok(const char *p)
{
	size_t len = strnlen(p, NB_SPEC_MAX_PATH + 1);

	if (p[0] != '/' || len > NB_SPEC_MAX_PATH)
		return false;
	for (const char *c = p; *c; c++)
		if (c[0] == '/' && c[1] == '.' && c[2] == '.' && (c[3] == '/' || c[3] == '\0'))
			return false;
	return true;
}

static size_t touch(const char *s)
{
	return strlen(s);
}

static void check_process(const struct nb_oci_bundle *b)
{
	const struct nb_run_options *o = &b->opts;
	const struct nb_run_container *c = &o->container;
	uint64_t all = (2ull << NB_SPEC_CAP_LAST) - 1;
	unsigned uid, gid;
	int end = 0;

	FZ_CHECK(o->argc >= 1 && o->argc <= NB_SPEC_MAX_ARGS && o->argv && o->argv[0][0] &&
			 !o->argv[o->argc],
		 "argv of %zu", o->argc);
	for (size_t i = 0; i < o->argc; i++)
		touch(o->argv[i]);
	FZ_CHECK(c->nenv <= NB_SPEC_MAX_ARGS && !c->nenv == !c->env, "env of %zu", c->nenv);
	for (size_t i = 0; i < c->nenv; i++)
		FZ_CHECK(c->env[i][0] != '=' && strchr(c->env[i], '='), "env[%zu] \"%.64s\"", i,
			 c->env[i]);
	FZ_CHECK(!c->workdir || (path_ok(c->workdir) && strcmp(c->workdir, "/")), "cwd \"%.64s\"",
		 c->workdir);
	FZ_CHECK(c->user && sscanf(c->user, "%u:%u%n", &uid, &gid, &end) == 2 && !c->user[end] &&
			 uid != UINT32_MAX && gid != UINT32_MAX,
		 "user \"%.64s\"", c->user ? c->user : "(none)");
	FZ_CHECK(o->tty == b->terminal && o->interactive, "tty %d, terminal %d", o->tty,
		 b->terminal);
	FZ_CHECK(b->tty_rows <= NB_WINSIZE_MAX && b->tty_cols <= NB_WINSIZE_MAX &&
			 !b->tty_rows == !b->tty_cols,
		 "console %ux%u", b->tty_rows, b->tty_cols);
	FZ_CHECK(c->cap_add == all && !(c->cap_drop & ~all), "caps %llx - %llx",
		 (unsigned long long)c->cap_add, (unsigned long long)c->cap_drop);
	FZ_CHECK(c->nrlimits <= NB_SPEC_MAX_RLIMITS, "%zu rlimits", c->nrlimits);
	for (size_t i = 0; i < c->nrlimits; i++) {
		FZ_CHECK(c->rlimits[i].resource < RLIM_NLIMITS &&
				 c->rlimits[i].soft <= c->rlimits[i].hard,
			 "rlimit %u", c->rlimits[i].resource);
		for (size_t j = 0; j < i; j++)
			FZ_CHECK(c->rlimits[i].resource != c->rlimits[j].resource,
				 "rlimit %u twice", c->rlimits[i].resource);
	}
}

/* Is there a tmpfs at path among config.json's mounts? */
static bool tmpfs_in_config(const struct nb_oci_bundle *b, const char *path)
{
	json_object *mounts, *v;

	if (!json_object_object_get_ex(b->root, "mounts", &mounts))
		return false;
	for (size_t i = 0; i < json_object_array_length(mounts); i++) {
		json_object *m = json_object_array_get_idx(mounts, i);

		if (json_object_object_get_ex(m, "type", &v) &&
		    !strcmp(json_object_get_string(v), "tmpfs") &&
		    json_object_object_get_ex(m, "destination", &v) &&
		    !strcmp(json_object_get_string(v), path))
			return true;
	}
	return false;
}

/* Entries the guest's parser takes, each mounting a tmpfs of config.json
 * where config.json puts it. */
static void check_tmpfs(const struct nb_oci_bundle *b)
{
	const struct nb_run_container *c = &b->opts.container;
	struct nb_tmpfs_mount m;
	struct nb_err err;

	FZ_CHECK(c->ntmpfs <= sizeof(c->tmpfs) / sizeof(c->tmpfs[0]), "%zu tmpfs", c->ntmpfs);
	for (size_t i = 0; i < c->ntmpfs; i++) {
		FZ_CHECK(nb_tmpfs_parse(c->tmpfs[i], &m, &err) == 0, "tmpfs %.64s: %s", c->tmpfs[i],
			 err.msg);
		FZ_CHECK(tmpfs_in_config(b, m.path), "tmpfs \"%.64s\" mounts at %.64s", c->tmpfs[i],
			 m.path);
	}
}

static void check_bundle(const struct nb_oci_bundle *b)
{
	const struct nb_run_options *o = &b->opts;
	const struct nb_run_container *c = &o->container;

	check_process(b);
	FZ_CHECK(o->nvolumes >= 1 && o->nvolumes <= NB_RUN_MAX_VOLUMES &&
			 strcmp(o->volumes[0].guest, "/") == 0,
		 "%zu shares", (size_t)o->nvolumes);
	for (size_t i = 0; i < o->nvolumes; i++)
		FZ_CHECK(o->volumes[i].host[0] == '/' && o->volumes[i].dir &&
				 path_ok(o->volumes[i].guest) &&
				 (i == 0) == !strcmp(o->volumes[i].guest, "/"),
			 "share %.64s:%.64s", o->volumes[i].host, o->volumes[i].guest);
	FZ_CHECK(b->rootfs && strcmp(b->rootfs, o->volumes[0].host) == 0,
		 "state's rootfs %.64s is not the root share", b->rootfs ? b->rootfs : "(null)");
	check_tmpfs(b);
	FZ_CHECK(!c->hostname || c->hostname[0], "an empty hostname");
	FZ_CHECK(o->cpus >= 1 && o->cpus <= NB_MAX_VCPUS, "%u vCPUs", o->cpus);
	FZ_CHECK(o->mem_size >= NB_MEM_MIN && o->mem_size <= NB_MEM_MAX &&
			 o->mem_size % (2u << 20) == 0,
		 "memory %llu", (unsigned long long)o->mem_size);
	FZ_CHECK(!c->memory_max || (c->memory_max >= NB_MEMORY_MIN &&
				    o->mem_size >= nb_guest_ram_for(c->memory_max)),
		 "limit %llu in %llu", (unsigned long long)c->memory_max,
		 (unsigned long long)o->mem_size);
	FZ_CHECK(c->cpu_quota_us <= NB_MAX_VCPUS * NB_CPU_PERIOD_US, "quota %u", c->cpu_quota_us);
	FZ_CHECK(!b->resolv_conf || b->resolv_conf[0] == '/', "resolv.conf %.64s", b->resolv_conf);
	FZ_CHECK(!b->netns || b->netns[0], "an empty netns");
	FZ_CHECK(!c->seccomp_json != !c->seccomp_unconfined, "seccomp both on and off");
	if (c->seccomp_json) {
		json_object *s = json_tokener_parse(c->seccomp_json);

		FZ_CHECK(json_object_is_type(s, json_type_object), "seccomp %.64s",
			 c->seccomp_json);
		json_object_put(s);
	}
	if (o->kernel_path)
		touch(o->kernel_path);
	if (b->cgroups_path)
		touch(b->cgroups_path);
}

/* After nb_oci_bundle_free (it memsets b). */
static bool zeroed(const struct nb_oci_bundle *b)
{
	static const struct nb_oci_bundle zero;

	return memcmp(b, &zero, sizeof(*b)) == 0;
}

/* After a refusal: nothing to free. */
static bool owns_nothing(const struct nb_oci_bundle *b)
{
	return !b->root && !b->owned && !b->nowned && !b->opts.container.env && !b->annotations;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nb_oci_bundle b;
	struct nb_err err = { 0 };
	int fd = fz_lowest_fd();
	char *json;

	if (size > NB_OCI_CONFIG_MAX + 1)
		return 0; /* nb_oci_bundle_load reads no more */
	json = fz_copy(data, size);
	if (nb_oci_bundle_parse(json, size, bundle, &b, &err) == 0) {
		check_bundle(&b);
		nb_oci_bundle_free(&b);
		FZ_CHECK(zeroed(&b), "config.json: free left the bundle set");
	} else {
		FZ_CHECK(err.msg[0], "config.json: a refusal without a message");
		FZ_CHECK(owns_nothing(&b), "config.json: a refusal (%s) left something to free",
			 err.msg);
	}
	err.msg[0] = '\0';
	if (nb_oci_process_parse(json, size, &b, &err) == 0) {
		check_process(&b);
		FZ_CHECK(!b.opts.nvolumes && !b.opts.container.ntmpfs, "a process with mounts");
		nb_oci_bundle_free(&b);
		FZ_CHECK(zeroed(&b), "--process: free left the bundle set");
	} else {
		FZ_CHECK(err.msg[0], "--process: a refusal without a message");
		FZ_CHECK(owns_nothing(&b), "--process: a refusal (%s) left something to free",
			 err.msg);
	}
	free(json);
	FZ_CHECK(fz_lowest_fd() == fd, "a descriptor left open");
	return 0;
}
