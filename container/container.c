/* Orchestration of one container start. In init: the cgroup, the clone
 * into new namespaces, moving the child into its group (and writing its id
 * maps), then a go byte. In the child: cgroup namespace, hostname, rootfs,
 * user, rlimits, capabilities, workdir, env, seccomp, execve. A setup or
 * exec failure travels back over a close-on-exec pipe as a struct nb_err. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

#include "common/file.h"
#include "container/container.h"
#include "container/preload.h"
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
 * new root, the bounding set before giving up uid 0, seccomp last. First
 * the container's half (what nb_spec_same_container() compares), ... */
static int setup_container(const struct nb_spec *spec, const struct nb_container_opts *opts,
			   int sync_fd, struct nb_err *err)
{
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
	return 0;
}

/* ... then the process's. */
static int setup_process(const struct nb_spec *spec, const struct nb_container_opts *opts,
			 int tty_sock, char ***env, struct nb_err *err)
{
	uint64_t keep = nb_caps_effective_mask(spec);
	struct nb_ids ids;

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

/* Returns only when the exec failed, with err filled. */
static void exec_workload(const struct nb_spec *spec, const struct nb_container_opts *opts,
			  char **env, int report_fd, struct nb_err *err)
{
	/* execvp() searches the PATH of environ. */
	environ = env;
	if (spec->init)
		nb_reaper_run(spec, opts->sigmask, report_fd);
	execvp(spec->argv[0], (char *const *)spec->argv);
	nb_exec_failed(spec->argv[0], errno, err);
}

static _Noreturn void report_and_exit(int report_fd, const struct nb_err *err)
{
	if (write(report_fd, err, sizeof(*err)) < 0) {
		/* nothing left to tell it with; the exit status still says it */
	}
	_exit(nb_err_status(err));
}

static _Noreturn void run_child(const struct nb_spec *spec, const struct nb_container_opts *opts,
				int sync_fd, int tty_sock, int report_fd)
{
	struct nb_err err = { 0 };
	char **env = NULL;

	if (setup_container(spec, opts, sync_fd, &err) == 0 &&
	    setup_process(spec, opts, tty_sock, &env, &err) == 0)
		exec_workload(spec, opts, env, report_fd, &err);
	report_and_exit(report_fd, &err);
}

static int say_ready(int spec_fd, struct nb_err *err)
{
	if (write(spec_fd, "r", 1) != 1)
		return nb_err_sys(err, "cannot tell init the container is prepared");
	return 0;
}

/* The program the clones of a template most likely run, and its
 * interpreters, into the page cache (container/preload.h), with the user
 * databases every clone's user is looked up in (setup_process). A hint:
 * what is not found is not an error. */
static void preload(const struct nb_spec *spec, const struct nb_container_opts *opts)
{
	static const char *const user_dbs[] = { "/etc/passwd", "/etc/group" };
	const char *path = nb_env_value(spec, NB_DEFAULT_PATH);
	unsigned files;
	uint64_t bytes;

	if (chdir(spec->workdir ? spec->workdir : "/") < 0) {
		/* relative paths then resolve from where we are: a hint still */
	}
	bytes = nb_preload_program(spec->argv[0], path, &files);
	for (size_t i = 0; i < sizeof(user_dbs) / sizeof(user_dbs[0]); i++) {
		uint64_t n = nb_preload_file(user_dbs[i]);

		bytes += n;
		files += n > 0;
	}
	if (opts->debug)
		dprintf(opts->log_fd, "nestbox-init: preloaded %s: %u file%s, %" PRIu64 " bytes\n",
			spec->argv[0], files, files == 1 ? "" : "s", bytes);
	step_done(opts, "preload");
}

/* A prepared container's child: its half done, it says so ("r") and
 * waits for the spec it is to run (init writes the encoded blob and shuts
 * its side of the socket). */
static _Noreturn void run_prepared_child(const struct nb_spec *spec,
					 const struct nb_container_opts *opts, int sync_fd,
					 int spec_fd, int report_fd)
{
	struct nb_err err = { 0 };
	struct nb_spec run = { 0 };
	char *blob = NULL, **env = NULL;
	size_t len = 0;

	if (setup_container(spec, opts, sync_fd, &err) < 0)
		report_and_exit(report_fd, &err);
	preload(spec, opts);
	if (say_ready(spec_fd, &err) == 0 &&
	    nb_file_read_fd(spec_fd, NB_SPEC_MAX_SIZE, &blob, &len, &err) == 0 &&
	    nb_spec_decode(blob, len, &run, &err) == 0) {
		close(spec_fd);
		step_end_us = uptime_us();
		if (setup_process(&run, opts, -1, &env, &err) == 0)
			exec_workload(&run, opts, env, report_fd, &err);
	}
	report_and_exit(report_fd, &err);
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

/* The child's mount namespace held while it waits for "go" (it cannot
 * have ended); a failure only costs its unmounts at the end. */
static int hold_mounts(pid_t child)
{
	char path[40];

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)child);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static void drop_mounts(struct nb_container *c)
{
	if (c->mounts_fd >= 0)
		close(NB_STEAL(c->mounts_fd, -1));
}

static int release_child(const struct nb_spec *spec, struct nb_container *c, pid_t child,
			 int sync_fd, struct nb_err *err)
{
	/* Its mounts may outlive its processes (nb_container_start) unless a
	 * volume is writable. */
	if (!nb_spec_writable_volume(spec))
		c->mounts_fd = hold_mounts(child);
	if (nb_cgroup_add(c->cgroup_fd, child, err) ||
	    ((spec->namespaces & NB_NS_USER) && nb_ns_write_id_maps(child, err)))
		return -1;
	if (write(sync_fd, "g", 1) != 1)
		return nb_err_sys(err, "cannot release the container");
	return 0;
}

/* The pipes of one start; -1 where unused. report and sync: [0] the read
 * end. tty: [1] the child's. spec (a socket pair): [0] the child's. */
struct start_pipes {
	int report[2], sync[2], tty[2], spec[2];
};

static void close_pair(int fds[2])
{
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(NB_STEAL(fds[i], -1));
}

static void close_pipes(struct start_pipes *p)
{
	close_pair(p->report);
	close_pair(p->sync);
	close_pair(p->tty);
	close_pair(p->spec);
}

static int open_pipes(const struct nb_spec *spec, bool prepare, struct start_pipes *p,
		      struct nb_err *err)
{
	*p = (struct start_pipes){ { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 } };
	if (pipe2(p->report, O_CLOEXEC) < 0 || pipe2(p->sync, O_CLOEXEC) < 0 ||
	    (prepare && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->spec) < 0)) {
		nb_err_sys(err, "cannot create the container's start pipes");
		close_pipes(p);
		return -1;
	}
	if (spec->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->tty) < 0) {
		nb_err_sys(err, "cannot create the pty socket");
		close_pipes(p);
		return -1;
	}
	return 0;
}

/* The cgroup, the clone into new namespaces, the release. The child runs
 * the whole start, or with prepare only the container's half and then
 * waits for its spec on p->spec[1]. On success p keeps the parent's ends
 * (report[0], tty[0], spec[1]) and c the child and its cgroup. */
static int spawn(const struct nb_spec *spec, const struct nb_container_opts *opts, bool prepare,
		 struct nb_container *c, struct start_pipes *p, struct nb_err *err)
{
	pid_t child;

	*c = (struct nb_container){ .pid = -1, .cgroup_fd = -1, .tty_master = -1, .mounts_fd = -1 };
	if (opts->debug)
		nb_ns_debug_print(opts->log_fd, "init");
	step_end_us = uptime_us();
	if (nb_cgroup_create(spec, c, err))
		return -1;
	step_done(opts, "cgroup");
	if (open_pipes(spec, prepare, p, err) < 0)
		return -1;
	/* clone(2) without a new stack behaves as fork(2) in the child. */
	child = (pid_t)syscall(SYS_clone, nb_ns_clone_flags(spec) | SIGCHLD, 0, 0, 0, 0);
	if (child == 0) {
		close(p->report[0]);
		close(p->sync[1]);
		if (p->tty[0] >= 0)
			close(p->tty[0]);
		if (p->spec[1] >= 0)
			close(p->spec[1]);
		if (prepare)
			run_prepared_child(spec, opts, p->sync[0], p->spec[0], p->report[1]);
		run_child(spec, opts, p->sync[0], p->tty[1], p->report[1]);
	}
	close(NB_STEAL(p->report[1], -1));
	close(NB_STEAL(p->sync[0], -1));
	if (p->tty[1] >= 0)
		close(NB_STEAL(p->tty[1], -1));
	if (p->spec[0] >= 0)
		close(NB_STEAL(p->spec[0], -1));
	if (child < 0) {
		close_pipes(p);
		return nb_err_sys(err, "cannot clone the container");
	}
	if (release_child(spec, c, child, p->sync[1], err)) {
		kill(child, SIGKILL);
		reap(child);
		drop_mounts(c);
		close_pipes(p);
		return -1;
	}
	close(NB_STEAL(p->sync[1], -1));
	c->pid = child;
	return 0;
}

/* The child's start report: 0 once it exec'd. */
static int await_exec(struct nb_container *c, struct start_pipes *p, struct nb_err *err)
{
	int rc = 0;

	if (p->tty[0] >= 0 && nb_terminal_receive(p->tty[0], &c->tty_master, err) < 0) {
		kill(c->pid, SIGKILL);
		reap(c->pid);
		rc = -1;
	} else if (nb_start_report_read(p->report[0], c->pid, "container", err) < 0) {
		rc = -1;
	}
	close_pipes(p);
	if (rc < 0) {
		drop_mounts(c);
		if (c->tty_master >= 0)
			close(NB_STEAL(c->tty_master, -1));
		c->pid = -1;
	}
	return rc;
}

int nb_container_start(const struct nb_spec *spec, const struct nb_container_opts *opts,
		       struct nb_container *c, struct nb_err *err)
{
	struct start_pipes p;

	if (spawn(spec, opts, false, c, &p, err) < 0)
		return -1;
	return await_exec(c, &p, err);
}

/* ---- prepared ahead (warm start) ----------------------------------------------- */

int nb_container_prepare(const struct nb_spec *spec, const struct nb_container_opts *opts,
			 struct nb_prepared *prep, struct nb_err *err)
{
	struct start_pipes p;
	ssize_t n;
	char ready = 0;

	*prep = (struct nb_prepared){ .report_fd = -1, .spec_fd = -1 };
	if (spec->tty)
		return nb_err_set(err, 0, "a container with a terminal cannot be prepared ahead");
	if (spawn(spec, opts, true, &prep->c, &p, err) < 0)
		return -1;
	prep->report_fd = NB_STEAL(p.report[0], -1);
	prep->spec_fd = NB_STEAL(p.spec[1], -1);
	do
		n = read(prep->spec_fd, &ready, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1 && ready == 'r')
		return 0;
	/* It failed on the way: its report says why. */
	if (nb_start_report_read(prep->report_fd, prep->c.pid, "container", err) < 0)
		prep->c.pid = -1; /* reaped */
	else
		nb_err_set(err, 0, "the container could not be prepared");
	nb_container_discard(prep);
	return -1;
}

int nb_container_start_prepared(struct nb_prepared *prep, const void *blob, size_t len,
				struct nb_container *c, struct nb_err *err)
{
	struct start_pipes p = { { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 } };
	int status;

	p.report[0] = NB_STEAL(prep->report_fd, -1);
	p.spec[1] = NB_STEAL(prep->spec_fd, -1);
	*c = prep->c;
	prep->c = (struct nb_container){
		.pid = -1, .cgroup_fd = -1, .tty_master = -1, .mounts_fd = -1
	};
	/* Ended while it waited (its SIGCHLD long gone): its report says why. */
	if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
		if (nb_start_report_read(p.report[0], c->pid, "container", err) == 0)
			nb_err_set(err, 0,
				   "the prepared container ended before its workload "
				   "(wait status %#x)",
				   (unsigned)status);
		c->pid = -1;
		drop_mounts(c);
		close_pipes(&p);
		return -1;
	}
	/* One that dies from here on reads nothing: its report says why. */
	if (nb_write_all(p.spec[1], blob, len) < 0 && errno != EPIPE) {
		nb_err_sys(err, "cannot hand the workload's spec to the prepared container");
		kill(c->pid, SIGKILL);
		reap(c->pid);
		drop_mounts(c);
		close_pipes(&p);
		c->pid = -1;
		return -1;
	}
	shutdown(p.spec[1], SHUT_WR);
	return await_exec(c, &p, err);
}

void nb_container_discard(struct nb_prepared *prep)
{
	if (prep->spec_fd >= 0)
		close(NB_STEAL(prep->spec_fd, -1));
	if (prep->report_fd >= 0)
		close(NB_STEAL(prep->report_fd, -1));
	if (prep->c.pid > 0) {
		kill(prep->c.pid, SIGKILL);
		reap(prep->c.pid);
		prep->c.pid = -1;
	}
	if (prep->c.cgroup_fd >= 0)
		close(NB_STEAL(prep->c.cgroup_fd, -1));
	drop_mounts(&prep->c);
	nb_cgroup_remove();
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
