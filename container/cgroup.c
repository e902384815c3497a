/* The container's cgroup v2 group: /sys/fs/cgroup/container, with the
 * memory, pids and cpu controllers enabled from the root. Created by init
 * before the clone; init moves the child in before the child unshares its
 * cgroup namespace, so the group is the root the container sees. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "container/container.h"
#include "nestbox/cleanup.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_NAME "container"
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* favordynmods (Linux >= 6.0): moving a process into a group (the
 * container's, once per start) takes the threadgroup lock as a plain rwsem
 * instead of a per-CPU one, whose writer waits for an RCU grace period;
 * forks pay a little instead. Older kernels refuse the option: mount
 * without it. */
static int ensure_cgroup2(struct nb_err *err)
{
	const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	struct statfs sf;

	if (statfs(CGROUP_ROOT, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
		return 0;
	if (mount("cgroup2", CGROUP_ROOT, "cgroup2", flags, "favordynmods") < 0 &&
	    mount("cgroup2", CGROUP_ROOT, "cgroup2", flags, NULL) < 0)
		return nb_err_sys(err, "cannot mount cgroup2 on %s", CGROUP_ROOT);
	return 0;
}

static int write_at(int dirfd, const char *file, const char *text, struct nb_err *err)
{
	cleanup_close int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return nb_err_sys(err, "cgroup: cannot write \"%s\" to %s", text, file);
	return 0;
}

static int write_u64_at(int dirfd, const char *file, uint64_t v, struct nb_err *err)
{
	char text[32];

	snprintf(text, sizeof(text), "%" PRIu64, v);
	return write_at(dirfd, file, text, err);
}

static int write_limits(int fd, const struct nb_spec *spec, struct nb_err *err)
{
	char cpu[48];

	if (spec->memory_max && (write_u64_at(fd, "memory.max", spec->memory_max, err) ||
				 write_u64_at(fd, "memory.swap.max", spec->swap_max, err)))
		return -1;
	if (spec->cpu_period_us) {
		snprintf(cpu, sizeof(cpu), "%u %u", spec->cpu_quota_us, spec->cpu_period_us);
		if (write_at(fd, "cpu.max", cpu, err))
			return -1;
	}
	if (spec->pids_max && write_u64_at(fd, "pids.max", spec->pids_max, err))
		return -1;
	if (spec->memory_low && write_u64_at(fd, "memory.low", spec->memory_low, err))
		return -1;
	if (spec->cpu_weight && write_u64_at(fd, "cpu.weight", spec->cpu_weight, err))
		return -1;
	return 0;
}

int nb_cgroup_create(const struct nb_spec *spec, struct nb_container *c, struct nb_err *err)
{
	cleanup_close int root = -1;
	int fd;

	if (ensure_cgroup2(err))
		return -1;
	root = open(CGROUP_ROOT, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (root < 0)
		return nb_err_sys(err, "cannot open %s", CGROUP_ROOT);
	if (write_at(root, "cgroup.subtree_control", "+memory +pids +cpu", err))
		return -1;
	if (mkdirat(root, CGROUP_NAME, 0755) < 0 && errno != EEXIST)
		return nb_err_sys(err, "cannot create cgroup %s/%s", CGROUP_ROOT, CGROUP_NAME);
	fd = openat(root, CGROUP_NAME, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nb_err_sys(err, "cannot open cgroup %s/%s", CGROUP_ROOT, CGROUP_NAME);
	if (write_limits(fd, spec, err)) {
		close(fd);
		return -1;
	}
	c->cgroup_fd = fd;
	c->memory_max = spec->memory_max;
	return 0;
}

int nb_container_set_memory_max(int cgroup_fd, uint64_t bytes, struct nb_err *err)
{
	if (cgroup_fd < 0)
		return nb_err_set(err, 0, "memory limit: the container has no cgroup");
	return write_u64_at(cgroup_fd, "memory.max", bytes, err);
}

void nb_cgroup_remove(void)
{
	if (rmdir(CGROUP_ROOT "/" CGROUP_NAME) < 0) {
		/* still busy or gone: the next create reuses it */
	}
}

int nb_cgroup_add(int cgroup_fd, pid_t pid, struct nb_err *err)
{
	char text[16];

	snprintf(text, sizeof(text), "%d", (int)pid);
	return write_at(cgroup_fd, "cgroup.procs", text, err);
}

/* memory.events: "oom_kill N" counts processes the OOM killer took. */
bool nb_cgroup_oom_killed(int cgroup_fd)
{
	cleanup_close int fd = openat(cgroup_fd, "memory.events", O_RDONLY | O_CLOEXEC);
	char buf[512];
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	const char *p;

	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, "oom_kill ")) != NULL; p++)
		if (p == buf || p[-1] == '\n')
			return strtoull(p + 9, NULL, 10) > 0;
	return false;
}
