/* Docker's --init (NB_SPEC_INIT), as tini does it: the container's PID 1
 * forks the workload, forwards the signals it gets to it, reaps every
 * process that ends up its child (orphans are reparented to PID 1) and
 * exits with the workload's status, 128+N when signal N killed it. It runs
 * after the container's setup, so it has the workload's user, capabilities
 * and seccomp filter and nothing more. Every signal stays blocked and is
 * taken with sigwaitinfo(2), so none is lost between fork and the loop.
 * The forwarded ones also get a handler that never runs: while in
 * sigwaitinfo the kernel shows them unblocked, and nestbox-init's PID-1
 * rule (guest-init/signals.h) must see them caught to send them as they
 * are rather than apply their default action to the init. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container/container.h"
#include "nestbox/abi.h"

/* Signals the kernel sends to the process that caused them, or that only
 * concern job control on the init's own terminal: not for the workload. */
static bool forwarded(int sig)
{
	switch (sig) {
	case SIGCHLD:
	case SIGFPE:
	case SIGILL:
	case SIGSEGV:
	case SIGBUS:
	case SIGABRT:
	case SIGTRAP:
	case SIGSYS:
	case SIGTTIN:
	case SIGTTOU:
		return false;
	default:
		return true;
	}
}

static void never_runs(int sig)
{
	(void)sig;
}

/* The dispositions the workload inherits (an ignored signal stays ignored
 * across exec), saved by catch_forwarded for the workload's restore. */
static struct sigaction inherited[NSIG];

static void catch_forwarded(void)
{
	struct sigaction sa = { .sa_handler = never_runs };

	sigfillset(&sa.sa_mask);
	for (int sig = 1; sig < SIGRTMIN && sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && forwarded(sig))
			sigaction(sig, &sa, &inherited[sig]);
}

/* Docker's status for a wait status. */
static int exit_code(int status)
{
	if (WIFSIGNALED(status))
		return NB_STATUS_SIGNAL_BASE + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* The workload: its own process group, in the foreground of the pty if
 * there is one (so the terminal's Ctrl-C reaches it once, not through the
 * init as well), then the caller's signal mask and exec. */
static _Noreturn void start_workload(const struct nb_spec *spec, const sigset_t *mask,
				     int report_fd)
{
	struct nb_err err = { 0 };

	/* Back to what the workload inherits, before the mask opens. */
	for (int sig = 1; sig < SIGRTMIN && sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && forwarded(sig))
			sigaction(sig, &inherited[sig], NULL);
	setpgid(0, 0);
	if (spec->tty && isatty(STDIN_FILENO))
		tcsetpgrp(STDIN_FILENO, getpid()); /* SIGTTOU is blocked here */
	if (sigprocmask(SIG_SETMASK, mask, NULL) < 0) {
		nb_err_sys(&err, "cannot restore the signal mask");
	} else {
		execvp(spec->argv[0], (char *const *)spec->argv);
		nb_exec_failed(spec->argv[0], errno, &err);
	}
	if (write(report_fd, &err, sizeof(err)) < 0) {
		/* nothing left to tell it with; the exit status still says it */
	}
	_exit(nb_err_status(&err));
}

_Noreturn void nb_reaper_run(const struct nb_spec *spec, const sigset_t *mask, int report_fd)
{
	sigset_t all;
	pid_t child, pid;
	int status;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	catch_forwarded();
	child = fork();
	if (child == 0)
		start_workload(spec, mask, report_fd);
	if (child < 0) {
		struct nb_err err = { 0 };

		nb_err_sys(&err, "--init: cannot start %.200s", spec->argv[0]);
		if (write(report_fd, &err, sizeof(err)) < 0) {
			/* the exit status still says it */
		}
		_exit(NB_STATUS_ERROR);
	}
	/* The workload's exec (close-on-exec) or its failure report ends the
	 * start report now that the init's copy is gone. */
	close(report_fd);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);

		if (sig < 0)
			continue; /* EINTR */
		if (sig != SIGCHLD) {
			if (forwarded(sig))
				kill(child, sig);
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			if (pid == child)
				_exit(exit_code(status));
	}
}
