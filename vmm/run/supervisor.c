#include "vmm/run/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "nestbox/abi.h"
#include "vmm/confine/cgroup.h"
#include "vmm/confine/jail.h"
#include "vmm/run/monitor.h"
#include "vmm/run/network.h"
#include "vmm/run/records.h"

#define PIDS_SLACK 8u /* main, event, and glibc's occasional helper */

int nb_confine_check(const struct nb_run_options *opts, struct nb_err *err)
{
	const struct nb_run_confine *c = &opts->confine;

	if ((c->has_uid || c->has_gid) && !c->jail)
		return nb_err_set(err, 0, "--uid and --gid need --jail DIR");
	if (c->jail && (!c->has_uid || !c->has_gid))
		return nb_err_set(err, 0,
				  "--jail needs --uid U and --gid G (the unprivileged ids "
				  "the VMM runs as)");
	if (c->jail && c->jail[0] != '/')
		return nb_err_set(err, 0, "--jail %s: give an absolute path", c->jail);
	return 0;
}

/* MemTotal of /proc/meminfo in bytes, 0 if unknown. */
static uint64_t host_ram(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	uint64_t kib = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %" SCNu64 " kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib << 10;
}

int nb_confine_check_memory(const struct nb_run_options *opts, struct nb_err *err)
{
	uint64_t ram = host_ram();

	/* Guest RAM is never preallocated, but a guest that touches more than
	 * the host has would end in the host's OOM killer: refuse up front. */
	if (ram && opts->mem_size > ram)
		return nb_err_set(err, 0,
				  "guest RAM %" PRIu64
				  " MiB (--memory plus the guest's overhead) is "
				  "more than this host's RAM (%" PRIu64 " MiB): lower --memory",
				  opts->mem_size >> 20, ram >> 20);
	return 0;
}

bool nb_confine_supervised(const struct nb_run_options *opts)
{
	return opts->confine.jail || opts->confine.cgroup || nb_network_joins(opts) ||
	       opts->detach.on;
}

/* ---- the supervising parent ---------------------------------------------- */

static const int forwarded_signals[] = { SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
					 SIGUSR1, SIGUSR2, SIGWINCH };
static volatile pid_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static void set_forwarding(bool on)
{
	struct sigaction sa = { .sa_handler = on ? forward : SIG_DFL, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
		sigaction(forwarded_signals[i], &sa, NULL);
}

static void block_forwarded(void)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
		sigaddset(&set, forwarded_signals[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

static void report_usage(const struct nb_report *report, const struct nb_hostcg *cg,
			 const struct nb_hostcg_limits *limits)
{
	struct nb_hostcg_usage u;

	nb_hostcg_usage(cg->path, &u);
	nb_report(report, NB_REPORT_STATS,
		  "{\"cgroup\":\"%s\",\"memory_max_kib\":%" PRIu64 ",\"memory_peak_kib\":%" PRIu64
		  ",\"cpu_usage_us\":%" PRIu64 ",\"oom_kills\":%" PRIu64 "}",
		  cg->path, limits->memory_max >> 10, u.memory_peak >> 10, u.cpu_usec, u.oom_kills);
}

/* How the child ended, as nestbox's result. */
static int child_result(int wstatus, const struct nb_hostcg *cg, int *status, struct nb_err *err)
{
	struct nb_hostcg_usage u = { 0 };

	if (WIFEXITED(wstatus)) {
		*status = WEXITSTATUS(wstatus);
		return 0;
	}
	int sig = WTERMSIG(wstatus);
	if (cg)
		nb_hostcg_usage(cg->path, &u);
	if (sig == SIGSYS)
		return nb_err_set(err, 0,
				  "the VMM was killed by SIGSYS: one of its threads made a "
				  "system call outside its seccomp allowlist (nestbox seccomp-dump "
				  "lists them; --seccomp-log logs instead of killing)");
	if (sig == SIGKILL && u.oom_kills)
		return nb_err_set(err, 0,
				  "the VMM was killed by the OOM killer: its cgroup %s "
				  "reached memory.max",
				  cg->path);
	return nb_err_set(err, 0, "the VMM was killed by signal %d (%s)", sig, strsignal(sig));
}

static int wait_child(pid_t pid, int *wstatus, struct nb_err *err)
{
	while (waitpid(pid, wstatus, 0) < 0)
		if (errno != EINTR)
			return nb_err_sys(err, "waiting for the VMM process");
	return 0;
}

/* ---- the confined child --------------------------------------------------- */

/* True once the parent is gone: it holds the pipe's write end open. */
static bool parent_gone(int alive_fd)
{
	struct pollfd p = { .fd = alive_fd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

/* A descriptor the jail leaves open (room for the alive pipe's kept). */
static void keep_fd(struct nb_jail_paths *paths, int fd)
{
	if (paths->nkeep + 1 < NB_JAIL_MAX_PATHS)
		paths->keep_fds[paths->nkeep++] = fd;
}

static void child_main(const struct nb_run_options *given, struct nb_jail_paths *paths,
		       const struct nb_hostcg *cg, int alive[2], struct nb_monitor *mon,
		       nb_confine_body *body, void *arg)
{
	struct nb_err err = { 0 };
	int status = NB_STATUS_ERROR;
	struct nb_run_options own = *given, *opts = &own;
	int rc = 0;

	if (mon) { /* run -d: stdio to the monitor's pipes, its fds kept */
		rc = nb_monitor_child(mon, opts, &err);
		keep_fd(paths, opts->detach.notify_fd);
		keep_fd(paths, opts->detach.hold_fd);
		if (opts->detach.has_snapshot_fds) {
			keep_fd(paths, opts->detach.snapshot_state_fd);
			keep_fd(paths, opts->detach.snapshot_memory_fd);
		}
	}
	/* Never outlive nestbox: a kill -9 of the parent takes the VMM along
	 * (even one that died before this line). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close(alive[1]);
	if (parent_gone(alive[0]))
		_exit(NB_STATUS_ERROR);
	set_forwarding(false);
	block_forwarded(); /* until the event loop's signalfd reads them */
	if (rc == 0 && cg)
		rc = nb_hostcg_join(cg, &err);
	if (rc == 0 && opts->confine.jail) {
		/* A credential change clears the parent-death signal: set it
		 * again, and look once more whether the parent is still there. */
		paths->keep_fds[paths->nkeep++] = alive[0];
		rc = nb_jail_enter(opts->confine.jail, opts->confine.uid, opts->confine.gid, paths,
				   &err);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (parent_gone(alive[0]))
			_exit(NB_STATUS_ERROR);
	}
	close(alive[0]);
	if (rc == 0)
		rc = body(arg, opts, &status, &err);
	if (rc < 0) { /* the parent sees only the status: the child reports */
		if (!opts->warm.has_error_fd)
			nb_report(&opts->report, NB_REPORT_MESSAGE, "%s", err.msg);
		else if (write(opts->warm.error_fd, err.msg, strlen(err.msg)) < 0) {
			/* its reader is gone */
		}
		status = nb_err_status(&err);
	}
	exit(status);
}

static int plan_cgroup(const struct nb_run_options *opts, uint64_t initrd_size,
		       struct nb_hostcg *cg, struct nb_hostcg_limits *limits, struct nb_err *err)
{
	*limits = (struct nb_hostcg_limits){
		.memory_max = opts->mem_size + nb_hostcg_overhead(opts->mem_size, initrd_size),
		.cpu_quota_us = opts->container.cpu_quota_us ? opts->container.cpu_quota_us
							     : opts->cpus * 100000u,
		.cpu_weight = opts->container.cpu_weight,
		.pids_max = opts->cpus + PIDS_SLACK,
	};
	return nb_hostcg_prepare(opts->confine.cgroup, limits, cg, err);
}

/* The tap opened in the host's network namespace survives the jail. */
static int keep_tap(const struct nb_network *net, struct nb_jail_paths *paths, struct nb_err *err)
{
	int fd = net->early_tap_fd;

	if (fd < 0)
		return 0;
	if (paths->nkeep == NB_JAIL_MAX_PATHS)
		return nb_err_set(err, 0, "--jail: too many descriptors to keep");
	paths->keep_fds[paths->nkeep++] = fd;
	return 0;
}

int nb_confine_run(const struct nb_run_options *opts, struct nb_jail_paths *paths,
		   uint64_t initrd_size, struct nb_network *net, nb_confine_body *body, void *arg,
		   int *status, struct nb_err *err)
{
	struct nb_hostcg cg = { 0 };
	struct nb_hostcg_limits limits = { 0 };
	struct nb_run_record rec = { 0 };
	bool has_cg = opts->confine.cgroup != NULL;
	int alive[2] = { -1, -1 };
	int wstatus = 0, rc = -1;
	struct termios tty;
	bool tty_saved = false;
	struct nb_monitor *mon = NULL;
	pid_t pid;

	/* run -d: this process returns once the VM started; a daemonized
	 * copy goes on as its monitor (vmm/run/monitor.h), holding the
	 * network's lease from then on. */
	pid_t attacher = getpid();

	if (opts->detach.on && (rc = nb_monitor_detach(opts, &mon, err)) != 0) {
		*status = NB_STATUS_OK;
		if (rc > 0)
			nb_network_disown(net);
		return rc > 0 ? 0 : -1;
	}
	rc = -1;
	if (mon && nb_network_adopt(net, attacher, err) < 0)
		goto out;
	/* What crashed runs left, before adding ours. */
	if (nb_gc_collect(NULL, err) < 0)
		return -1;
	if (has_cg && plan_cgroup(opts, initrd_size, &cg, &limits, err) < 0)
		return -1;
	/* Recorded before the group exists: a kill -9 in between leaves a
	 * record gc acts on, never a group no record names. */
	if (nb_gc_record(&rec, has_cg ? cg.path : NULL, opts->net.vsock_path,
			 opts->confine.jail ? opts->confine.uid : (unsigned)geteuid(), err) < 0)
		goto out;
	if (has_cg && nb_hostcg_create(&cg, &limits, err) < 0)
		goto out;
	if (has_cg && mon)
		nb_monitor_set_cgroup(mon, cg.path, limits.memory_max);
	if (opts->confine.jail &&
	    (nb_network_prepare(net, opts, err) < 0 || keep_tap(net, paths, err) < 0 ||
	     (unshare(CLONE_NEWPID) < 0 &&
	      nb_err_sys(err, "--jail: new PID namespace (run as root)"))))
		goto out;
	tty_saved = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tty) == 0;
	if (pipe2(alive, O_CLOEXEC) < 0) {
		nb_err_sys(err, "pipe");
		goto out;
	}
	if (mon && nb_monitor_prepare(mon, err) < 0)
		goto out;
	fflush(stdout);
	fflush(stderr);
	set_forwarding(true);
	pid = fork();
	if (pid == 0)
		child_main(opts, paths, has_cg ? &cg : NULL, alive, mon, body, arg);
	close(alive[0]);
	if (pid < 0) {
		nb_err_sys(err, "fork");
		goto out;
	}
	child_pid = pid;
	rc = mon ? nb_monitor_run(mon, pid, &wstatus, err) : wait_child(pid, &wstatus, err);
	child_pid = 0;
	if (tty_saved) /* the VMM may have died with the terminal in raw mode (-t) */
		tcsetattr(STDIN_FILENO, TCSADRAIN, &tty);
	if (rc == 0)
		rc = child_result(wstatus, has_cg ? &cg : NULL, status, err);
	if (rc < 0 && mon && WIFSIGNALED(wstatus)) /* a detached VM's status: 128+N */
		err->status = NB_STATUS_SIGNAL_BASE + WTERMSIG(wstatus);
	if (has_cg && opts->stats)
		report_usage(&opts->report, &cg, &limits);
out:
	if (alive[1] >= 0)
		close(alive[1]);
	set_forwarding(false);
	nb_network_cleanup(net);
	if (rec.path[0] ? nb_gc_release(&rec) < 0 : has_cg && nb_hostcg_remove(cg.path) < 0)
		nb_report(&opts->report, NB_REPORT_MESSAGE,
			  "could not remove all of this run's "
			  "host state; nestbox gc will");
	if (mon)
		nb_monitor_finish(mon, rc, *status, err);
	return rc;
}
