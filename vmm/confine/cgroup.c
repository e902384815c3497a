#include "vmm/confine/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "nestbox/cleanup.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CONTROLLERS "+memory +cpu +pids"

/* Fixed VMM cost (anonymous memory, thread stacks, page cache of the
 * kernel and disks, KVM's per-VM and per-vCPU state) and the share of
 * guest RAM KVM's page tables and reverse maps take. Measured in the test
 * host (tests/e2e/confine.sh): a guest touching 223 MiB of its 256 MiB
 * peaked at 237 MiB, ~14 MiB over what it touched; a console flood at 44
 * MiB with 30 MiB touched. About 3x headroom. */
#define OVERHEAD_FIXED (40ull << 20)
#define OVERHEAD_RAM_SHIFT 7 /* 1/128 of guest RAM */

uint64_t nb_hostcg_overhead(uint64_t guest_ram, uint64_t initrd_size)
{
	return OVERHEAD_FIXED + (guest_ram >> OVERHEAD_RAM_SHIFT) + initrd_size;
}

static int write_file(const char *dir, const char *name, const char *value, struct nb_err *err)
{
	char path[PATH_MAX];
	cleanup_close int fd = -1;
	size_t len = strlen(value);

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, value, len) != (ssize_t)len)
		return nb_err_sys(err, "writing '%s' to %s", value, path);
	return 0;
}

static int read_u64(const char *dir, const char *name, const char *key, uint64_t *value)
{
	char path[PATH_MAX], line[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cleanup_fclose FILE *f = fopen(path, "re");
	size_t klen = key ? strlen(key) : 0;

	while (f && fgets(line, sizeof(line), f)) {
		if (key && (strncmp(line, key, klen) != 0 || line[klen] != ' '))
			continue;
		return sscanf(line + (key ? klen + 1 : 0), "%" SCNu64, value) == 1 ? 0 : -1;
	}
	return -1; /* "max" is not a number: no limit */
}

static int check_parent_name(const char *parent, struct nb_err *err)
{
	if (!parent[0] || strstr(parent, "..") || strlen(parent) > 200)
		return nb_err_set(err, 0, "--cgroup %s: give a group path below %s without '..'",
				  parent, NB_CGROUP_ROOT);
	struct statfs fs;
	if (statfs(NB_CGROUP_ROOT, &fs) < 0 || fs.f_type != CGROUP2_SUPER_MAGIC)
		return nb_err_set(err, 0, "--cgroup needs cgroup v2 mounted at %s", NB_CGROUP_ROOT);
	return 0;
}

/* mkdir -p PARENT below the root, delegating the controllers at each
 * level (a group's children get a controller only from its
 * subtree_control) and checking each level's memory.max. */
static int make_parent(const char *parent, uint64_t memory_max, char *path, size_t size,
		       struct nb_err *err)
{
	const char *p = parent;

	snprintf(path, size, "%s", NB_CGROUP_ROOT);
	while (*p) {
		uint64_t level_max;
		size_t len = strcspn(p, "/");

		if (write_file(path, "cgroup.subtree_control", CONTROLLERS, err) < 0)
			return nb_err_wrap(err,
					   "--cgroup %s: cannot delegate the memory, cpu and "
					   "pids controllers (a group with processes in it cannot "
					   "have child groups: pick another PARENT)",
					   parent);
		if (len && strlen(path) + 1 + len < size) {
			size_t at = strlen(path);
			snprintf(path + at, size - at, "/%.*s", (int)len, p);
			if (mkdir(path, 0755) < 0 && errno != EEXIST)
				return nb_err_sys(err, "--cgroup: mkdir %s", path);
			if (read_u64(path, "memory.max", NULL, &level_max) == 0 &&
			    level_max < memory_max)
				return nb_err_set(
					err, 0,
					"--cgroup %s: %s/memory.max is %" PRIu64
					" MiB, less than this VM needs (%" PRIu64 " MiB: "
					"--memory plus the VMM's overhead); lower --memory",
					parent, path, level_max >> 20, memory_max >> 20);
		}
		p += len;
		while (*p == '/')
			p++;
	}
	return write_file(path, "cgroup.subtree_control", CONTROLLERS, err) < 0
		       ? nb_err_wrap(err, "--cgroup %s", parent)
		       : 0;
}

static int set_limits(const char *path, const struct nb_hostcg_limits *l, struct nb_err *err)
{
	char value[64];

	if (nb_hostcg_set_memory_max(path, l->memory_max, err) < 0)
		return -1;
	if (l->cpu_quota_us) {
		snprintf(value, sizeof(value), "%u 100000", l->cpu_quota_us);
		if (write_file(path, "cpu.max", value, err) < 0)
			return -1;
	}
	if (l->cpu_weight) {
		snprintf(value, sizeof(value), "%u", l->cpu_weight);
		if (write_file(path, "cpu.weight", value, err) < 0)
			return -1;
	}
	snprintf(value, sizeof(value), "%u", l->pids_max);
	return write_file(path, "pids.max", value, err);
}

int nb_hostcg_prepare(const char *parent, const struct nb_hostcg_limits *limits,
		      struct nb_hostcg *cg, struct nb_err *err)
{
	char dir[PATH_MAX];

	if (check_parent_name(parent, err) < 0 ||
	    make_parent(parent, limits->memory_max, dir, sizeof(dir), err) < 0)
		return -1;
	if (snprintf(cg->path, sizeof(cg->path), "%s/nestbox-%d", dir, (int)getpid()) >=
	    (int)sizeof(cg->path))
		return nb_err_set(err, 0, "--cgroup %s: path too long", parent);
	return 0;
}

int nb_hostcg_create(const struct nb_hostcg *cg, const struct nb_hostcg_limits *limits,
		     struct nb_err *err)
{
	/* A group of this name is a leftover of a crashed run of the same pid. */
	nb_hostcg_remove(cg->path);
	if (mkdir(cg->path, 0755) < 0)
		return nb_err_sys(err, "--cgroup: mkdir %s", cg->path);
	if (set_limits(cg->path, limits, err) < 0) {
		nb_hostcg_remove(cg->path);
		return nb_err_wrap(err, "--cgroup");
	}
	return 0;
}

int nb_hostcg_set_memory_max(const char *path, uint64_t bytes, struct nb_err *err)
{
	char value[32];

	snprintf(value, sizeof(value), "%" PRIu64, bytes);
	return write_file(path, "memory.max", value, err);
}

int nb_hostcg_join(const struct nb_hostcg *cg, struct nb_err *err)
{
	return write_file(cg->path, "cgroup.procs", "0", err);
}

void nb_hostcg_usage(const char *path, struct nb_hostcg_usage *usage)
{
	*usage = (struct nb_hostcg_usage){ 0 };
	read_u64(path, "memory.peak", NULL, &usage->memory_peak);
	read_u64(path, "cpu.stat", "usage_usec", &usage->cpu_usec);
	read_u64(path, "memory.events", "oom_kill", &usage->oom_kills);
}

int nb_hostcg_remove(const char *path)
{
	struct nb_err err;
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	uint64_t populated = 1;

	if (access(path, F_OK) < 0)
		return 0;
	write_file(path, "cgroup.kill", "1", &err);
	/* Killed tasks leave the group asynchronously: wait up to ~2 s. */
	for (int i = 0; i < 200; i++) {
		if (read_u64(path, "cgroup.events", "populated", &populated) < 0 || !populated)
			break;
		nanosleep(&pause, NULL);
	}
	for (int i = 0; i < 50; i++) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return 0;
		nanosleep(&pause, NULL);
	}
	return -1;
}
