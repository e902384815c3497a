/* Which namespaces a container gets, and the id maps of a user namespace.
 * Mount, PID, UTS and IPC come from clone(); the cgroup namespace is
 * unshared by the child once it sits in its own group (container.c), so
 * that group is the root of what it sees. */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "container/container.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

int nb_ns_clone_flags(const struct nb_spec *spec)
{
	int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;

	if (spec->namespaces & NB_NS_NET)
		flags |= CLONE_NEWNET;
	if (spec->namespaces & NB_NS_USER)
		flags |= CLONE_NEWUSER;
	return flags;
}

static int write_proc_file(pid_t pid, const char *name, const char *text, struct nb_err *err)
{
	char path[64];
	cleanup_close int fd = -1;
	size_t len = strlen(text);

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return nb_err_sys(err, "cannot write %s", path);
	return 0;
}

/* Ids 0..65535 inside are the same ids outside: the container's root is
 * uid 0 on files, but its capabilities count only in namespaces its user
 * namespace owns (no ioperm, no module or device-level mounts). */
int nb_ns_write_id_maps(pid_t pid, struct nb_err *err)
{
	if (write_proc_file(pid, "uid_map", "0 0 65536\n", err) ||
	    write_proc_file(pid, "setgroups", "allow\n", err) ||
	    write_proc_file(pid, "gid_map", "0 0 65536\n", err))
		return nb_err_wrap(err, "user namespace");
	return 0;
}

/* "nestbox-init: ns WHO mnt:[..] pid:[..] ..." for the guest tests, which
 * compare it with the workload's /proc/self/ns. */
void nb_ns_debug_print(int fd, const char *who)
{
	static const char *const names[] = { "mnt", "pid", "uts", "ipc", "cgroup", "net", "user" };
	char line[512];
	size_t off = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && off < sizeof(line); i++) {
		char path[32], target[64];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/ns/%s", names[i]);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s", target);
	}
	line[sizeof(line) - 1] = '\0';
	dprintf(fd, "nestbox-init: ns %s%s\n", who, line);
}
