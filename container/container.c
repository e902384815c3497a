/* Orchestration of one container start. In init: the cgroup, the clone
 * into new namespaces, moving the child into its group (and writing its id
 * maps), then a go byte. In the child: cgroup namespace, hostname, rootfs,
 * user, rlimits, capabilities, workdir, env, seccomp, execve. A setup or
 * exec failure travels back over a close-on-exec pipe as a struct nb_err. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "container/container.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

/* ---- in the child ---------------------------------------------------------- */

static long uptime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Under nestbox.debug=2, one line per start step with its duration (bench/
 * guestboot.sh reads them); step_end_us: when the previous one ended (the
 * child inherits it with the clone). */
static long step_end_us;

static void step_done(const struct nb_container_opts *opts, const char *what)
{
	long now = uptime_us();

	if (opts->debug_steps)
		dprintf(opts->log_fd,
			"nestbox-init: step container-%s took %ld us, done at %ld us uptime\n",
			what, now - step_end_us, now);
	step_end_us = now;
}

void nb_exec_failed(const char *cmd, int errnum, struct nb_err *err)
{
	if (errnum == ENOENT) {
		nb_err_set(err, 0, "%.256s: command not found", cmd);
		err->status = NB_STATUS_NOT_FOUND;
	} else {
		nb_err_set(err, errnum, "%.256s", cmd);
		err->status = NB_STATUS_CANNOT_EXEC;
	}
}

/* Block until init has put us in our cgroup (and written our id maps). */
static int wait_for_go(int sync_fd, struct nb_err *err)
{
	char go;
	ssize_t n;

	do
		n = read(sync_fd, &go, 1);
	while (n < 0 && errno == EINTR);
	close(sync_fd);
	if (n != 1)
		return nb_err_set(err, 0, "init did not finish setting up the container");
	return 0;
}

/* Everything up to the exec, in the order the kernel's rules need:
 * mounts while we hold every capability, the user's files read from the
 * new root, the bounding set before giving up uid 0, seccomp last. */
static int setup_child(const struct nb_spec *spec, const struct nb_container_opts *opts,
		       int sync_fd, int tty_sock, char ***env, struct nb_err *err)
{
	uint64_t keep = nb_caps_effective_mask(spec);
	struct nb_ids ids;

	if (sigprocmask(SIG_SETMASK, opts->sigmask, NULL) < 0)
		return nb_err_sys(err, "cannot restore the signal mask");
	if (wait_for_go(sync_fd, err))
		return -1;
	step_done(opts, "clone+release");
	if (unshare(CLONE_NEWCGROUP) < 0)
		return nb_err_sys(err, "cannot create the cgroup namespace");
	if (nb_process_set_hostname(spec, err) || nb_rootfs_enter(spec, err))
		return -1;
	step_done(opts, "rootfs");
	if ((spec->tty && nb_terminal_child(spec, tty_sock, err)) ||
	    nb_process_resolve_user(spec->user, &ids, err) || nb_process_make_workdir(spec, err) ||
	    nb_process_set_rlimits(spec, err) || nb_caps_drop_bounding(keep, err) ||
	    nb_process_set_ids(&ids, err) || nb_caps_set(keep, ids.uid == 0, err) ||
	    nb_process_enter_workdir(spec, err))
		return -1;
	*env = nb_process_build_env(spec, &ids, err);
	if (!*env)
		return -1;
	step_done(opts, "user+caps+env");
	if (opts->debug) {
		long now = uptime_us();

		dprintf(opts->log_fd,
			"nestbox-init: container execve at %ld us uptime, %ld us "
			"after nestbox-init started\n",
			now, now - opts->init_start_us);
	}
	return nb_process_install_seccomp(spec, err);
}

static _Noreturn void run_child(const struct nb_spec *spec, const struct nb_container_opts *opts,
				int sync_fd, int tty_sock, int report_fd)
{
	struct nb_err err = { 0 };
	char **env = NULL;

	if (setup_child(spec, opts, sync_fd, tty_sock, &env, &err) == 0) {
		/* execvp() searches the PATH of environ. */
		environ = env;
		if (spec->init)
			nb_reaper_run(spec, opts->sigmask, report_fd);
		execvp(spec->argv[0], (char *const *)spec->argv);
		nb_exec_failed(spec->argv[0], errno, &err);
	}
	if (write(report_fd, &err, sizeof(err)) < 0) {
		/* nothing left to tell it with; the exit status still says it */
	}
	_exit(nb_err_status(&err));
}

/* ---- in init ----------------------------------------------------------------- */

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

int nb_start_report_read(int fd, pid_t pid, const char *what, struct nb_err *err)
{
	struct nb_err child = { 0 };
	ssize_t n;

	do
		n = read(fd, &child, sizeof(child));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	reap(pid);
	if (n < 0)
		return nb_err_sys(err, "cannot read the %s's start report", what);
	if ((size_t)n != sizeof(child))
		return nb_err_set(err, 0, "short start report from the %s (%zd bytes)", what, n);
	child.msg[sizeof(child.msg) - 1] = '\0';
	*err = child;
	return -1;
}

static int release_child(const struct nb_spec *spec, struct nb_container *c, pid_t child,
			 int sync_fd, struct nb_err *err)
{
	if (nb_cgroup_add(c->cgroup_fd, child, err) ||
	    ((spec->namespaces & NB_NS_USER) && nb_ns_write_id_maps(child, err)))
		return -1;
	if (write(sync_fd, "g", 1) != 1)
		return nb_err_sys(err, "cannot release the container");
	return 0;
}

int nb_container_start(const struct nb_spec *spec, const struct nb_container_opts *opts,
		       struct nb_container *c, struct nb_err *err)
{
	int report[2], sync[2], tty[2] = { -1, -1 };
	cleanup_close int report_fd = -1;
	cleanup_close int sync_fd = -1;
	cleanup_close int tty_fd = -1;
	pid_t child;

	*c = (struct nb_container){ .pid = -1, .cgroup_fd = -1, .tty_master = -1 };
	if (opts->debug)
		nb_ns_debug_print(opts->log_fd, "init");
	step_end_us = uptime_us();
	if (nb_cgroup_create(spec, c, err))
		return -1;
	step_done(opts, "cgroup");
	if (pipe2(report, O_CLOEXEC) < 0)
		return nb_err_sys(err, "cannot create the start-report pipe");
	if (pipe2(sync, O_CLOEXEC) < 0) {
		close(report[0]);
		close(report[1]);
		return nb_err_sys(err, "cannot create the sync pipe");
	}
	report_fd = report[0];
	sync_fd = sync[1];
	if (spec->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tty) < 0) {
		nb_err_sys(err, "cannot create the pty socket");
		close(report[1]);
		close(sync[0]);
		return -1;
	}
	tty_fd = tty[0];
	/* clone(2) without a new stack behaves as fork(2) in the child. */
	child = (pid_t)syscall(SYS_clone, nb_ns_clone_flags(spec) | SIGCHLD, 0, 0, 0, 0);
	if (child == 0) {
		close(report[0]);
		close(sync[1]);
		if (tty[0] >= 0)
			close(tty[0]);
		run_child(spec, opts, sync[0], tty[1], report[1]);
	}
	close(report[1]);
	close(sync[0]);
	if (tty[1] >= 0)
		close(tty[1]);
	if (child < 0)
		return nb_err_sys(err, "cannot clone the container");
	if (release_child(spec, c, child, sync_fd, err) ||
	    (spec->tty && nb_terminal_receive(tty_fd, &c->tty_master, err))) {
		kill(child, SIGKILL);
		reap(child);
		return -1;
	}
	close(NB_STEAL(sync_fd, -1));
	if (nb_start_report_read(report_fd, child, "container", err) < 0) {
		if (c->tty_master >= 0)
			close(NB_STEAL(c->tty_master, -1));
		return -1;
	}
	c->pid = child;
	return 0;
}

int nb_container_finish(struct nb_container *c, int status, char *reason, size_t reason_len)
{
	if (reason_len)
		reason[0] = '\0';
	if (c->cgroup_fd >= 0 && nb_cgroup_oom_killed(c->cgroup_fd)) {
		snprintf(reason, reason_len,
			 "container killed: out of memory (memory.max %llu bytes)",
			 (unsigned long long)c->memory_max);
		status = NB_STATUS_SIGNAL_BASE + SIGKILL;
		c->oom_killed = true;
	}
	if (c->cgroup_fd >= 0)
		close(c->cgroup_fd);
	c->cgroup_fd = -1;
	if (c->tty_master >= 0)
		close(c->tty_master);
	c->tty_master = -1;
	return status;
}
