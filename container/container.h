/* The in-guest container runtime: nestbox-init's way of starting the
 * workload as a container (namespaces, cgroup v2, rootfs with pivot_root or
 * its initramfs fallback, capabilities, rlimits, user, seccomp, exec).
 * Guest-only: libc, kernel UAPI and libfdt.
 *
 * One concern per file, crun style:
 *   container.c   orchestration, the start-report pipe, the parent/child sync
 *   namespaces.c  which namespaces, user-namespace id maps
 *   cgroup.c      the container's cgroup v2 group and its limits, OOM report
 *   rootfs.c      the root file system, /dev, /proc, /sys, masks, chroot
 *   caps.c        capability sets (raw capset/prctl)
 *   process.c     rlimits, user/groups, hostname, workdir, env, seccomp, exec
 *   terminal.c    the pty for -t (child side, and the master's hand-off)
 *   reaper.c      --init: a reaper as the container's PID 1
 *   preload.c     a template's program and libraries read ahead (preload.h)
 */
#ifndef NESTBOX_CONTAINER_H
#define NESTBOX_CONTAINER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/spec.h"
#include "nestbox/err.h"

struct nb_container_opts {
	/* Signal mask the workload starts with (init blocks the signals it
	 * waits for; the workload must not inherit that). */
	const sigset_t *sigmask;
	/* Print debug lines (namespace ids, start-to-execve time) to stderr. */
	bool debug;
	/* Also one line per start step with its duration (nestbox.debug=2). */
	bool debug_steps;
	/* CLOCK_BOOTTIME (us) when nestbox-init started, for the debug line
	 * "container execve at T us uptime, D us after nestbox-init started". */
	long init_start_us;
	/* Where those debug lines go (init's log, the UART). */
	int log_fd;
};

struct nb_container {
	pid_t pid;           /* the workload, PID 1 of its PID namespace */
	int cgroup_fd;       /* its cgroup directory, -1 when none */
	uint64_t memory_max; /* as written to memory.max, 0 when unlimited */
	int tty_master;      /* spec->tty: the pty's master (init owns it), else -1 */
	bool oom_killed;     /* set by nb_container_finish: memory.events counted an OOM kill */
	/* Its mount namespace, held by nestbox-init (-1: not held): see
	 * nb_container_start. */
	int mounts_fd;
};

/* Read the start report a child sends over its CLOEXEC pipe: EOF means it
 * exec'd (returns 0); a whole struct nb_err means it did not (the child is
 * reaped and err holds its reason, -1). `what` names the child in errors. */
int nb_start_report_read(int fd, pid_t pid, const char *what, struct nb_err *err);

/* Fill err for an execve of cmd that failed with errnum: 127 "command not
 * found" for ENOENT, else 126 with the reason (Docker's statuses). */
void nb_exec_failed(const char *cmd, int errnum, struct nb_err *err);

/* The value spec's env gives the variable named in entry ("NAME=..."):
 * what follows its '='; NULL when it sets none. */
const char *nb_env_value(const struct nb_spec *spec, const char *entry);

/* Create the container and exec spec->argv in it. Returns 0 once the
 * command has been exec'd (c->pid is the process to wait for), or -1 when
 * the child could not get there: the child has been reaped and err->status
 * says why (127 command not found, 126 not executable, 125 setup failed).
 * A close-on-exec pipe carries a setup or exec failure, so "exec failed" is
 * never confused with "the program exited 127".
 * Unless spec has a writable volume, c->mounts_fd holds the container's
 * mount namespace until nestbox-init ends: the workload's exit then
 * unmounts nothing (the kernel unmounts a namespace's overlay, layers,
 * /proc and shares in its last process's exit, before the parent's wait
 * returns) and the VM stops with them mounted, nothing of theirs to write
 * back. A writable volume is unmounted when the container's last process
 * ends, as before: a disk cleanly, and a share without the final sync()
 * asking the host to sync its file system (FUSE_SYNCFS). */
int nb_container_start(const struct nb_spec *spec, const struct nb_container_opts *opts,
		       struct nb_container *c, struct nb_err *err);

/* A container prepared ahead of its workload (a template, issue 16): its
 * cgroup, namespaces and root made, its first process waiting, before
 * user, capabilities and exec, for the spec it is to run. */
struct nb_prepared {
	struct nb_container c; /* pid: the waiting process; cgroup_fd */
	int spec_fd;           /* the spec goes here, then EOF */
	int report_fd;         /* its start report */
};

/* nb_container_start() up to the container's half; spec without a tty.
 * On success prep holds the waiting child. */
int nb_container_prepare(const struct nb_spec *spec, const struct nb_container_opts *opts,
			 struct nb_prepared *prep, struct nb_err *err);

/* Hand the encoded spec (len bytes; nb_spec_same_container() with the
 * prepared one, and no tty) to
 * prep's child, which decodes and runs it: then as nb_container_start().
 * prep is used up either way. */
int nb_container_start_prepared(struct nb_prepared *prep, const void *blob, size_t len,
				struct nb_container *c, struct nb_err *err);

/* Give up a prepared container: kill and reap its child, remove its group. */
void nb_container_discard(struct nb_prepared *prep);

/* After the workload ended with status: if the cgroup saw an OOM kill,
 * return 137 and write a one-line reason into reason; else return status
 * and leave reason empty. Releases c's descriptors but mounts_fd, which
 * holds the mounts until nestbox-init ends. */
int nb_container_finish(struct nb_container *c, int status, char *reason, size_t reason_len);

/* `nestbox update --memory` (abi.h NB_SIGMSG_MEMORY): write bytes to the
 * container cgroup's memory.max (cgroup_fd: nb_container's). Lowering it
 * below what the container uses makes the kernel reclaim, then OOM-kill
 * the container's processes, before the write returns. */
int nb_container_set_memory_max(int cgroup_fd, uint64_t bytes, struct nb_err *err);

/* ---- internal, between the container/ files ---------------------------- */

/* cgroup.c (in init, before and after the workload) */
int nb_cgroup_create(const struct nb_spec *spec, struct nb_container *c, struct nb_err *err);
int nb_cgroup_add(int cgroup_fd, pid_t pid, struct nb_err *err);
void nb_cgroup_remove(void); /* the group, once empty; best effort */
bool nb_cgroup_oom_killed(int cgroup_fd);

/* namespaces.c */
int nb_ns_clone_flags(const struct nb_spec *spec);
int nb_ns_write_id_maps(pid_t pid, struct nb_err *err);
void nb_ns_debug_print(int fd, const char *who);

/* rootfs.c (in the child, in its new mount namespace) */
int nb_rootfs_enter(const struct nb_spec *spec, struct nb_err *err);

/* caps.c (in the child) */
uint64_t nb_caps_effective_mask(const struct nb_spec *spec);
int nb_caps_drop_bounding(uint64_t keep, struct nb_err *err);
int nb_caps_set(uint64_t keep, bool root, struct nb_err *err);

/* terminal.c: in the child, once in its root (before dropping privileges),
 * open a pty from the container's devpts, size it from the spec, send the
 * master over sock and make the slave the controlling terminal and fds 0-2;
 * in init, receive it: *master -1 (and 0) when the child closed sock
 * without sending, having failed before. */
int nb_terminal_child(const struct nb_spec *spec, int sock, struct nb_err *err);
int nb_terminal_receive(int sock, int *master, struct nb_err *err);

/* reaper.c (in the child, set up, instead of its exec): fork and exec
 * spec->argv with mask, forward signals to it, reap every child, and exit
 * with its status. report_fd is the start report's pipe (the workload's
 * exec closes it, a failure is written to it). */
_Noreturn void nb_reaper_run(const struct nb_spec *spec, const sigset_t *mask, int report_fd);

/* process.c (in the child) */
struct nb_ids {
	uid_t uid;
	gid_t gid;
	gid_t groups[64];
	size_t ngroups;
	const char *home; /* from /etc/passwd, NULL if none */
	char home_buf[256];
};
int nb_process_resolve_user(const char *user, struct nb_ids *ids, struct nb_err *err);
int nb_process_set_rlimits(const struct nb_spec *spec, struct nb_err *err);
int nb_process_set_ids(const struct nb_ids *ids, struct nb_err *err);
int nb_process_set_hostname(const struct nb_spec *spec, struct nb_err *err);
int nb_process_make_workdir(const struct nb_spec *spec, struct nb_err *err);
int nb_process_enter_workdir(const struct nb_spec *spec, struct nb_err *err);
char **nb_process_build_env(const struct nb_spec *spec, const struct nb_ids *ids,
			    struct nb_err *err);
int nb_process_install_seccomp(const struct nb_spec *spec, struct nb_err *err);

#endif
