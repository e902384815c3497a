#include "guest-init/workload.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container/container.h"
#include "guest-init/mounts.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

/* Environment entries the workload gets unless the spec sets the name. */
static const char *const default_env[] = {
	NB_DEFAULT_PATH,
	"HOME=/",
	"TERM=linux",
};
#define N_DEFAULT_ENV (sizeof(default_env) / sizeof(default_env[0]))

/* ---- in the child ---------------------------------------------------------- */

/* spec->env plus the defaults it does not override, NULL-terminated. */
static char **build_env(const struct nb_spec *spec, struct nb_err *err)
{
	char **env = calloc(spec->envc + N_DEFAULT_ENV + 1, sizeof(*env));
	size_t n = 0;

	if (!env) {
		nb_err_sys(err, "cannot allocate the environment");
		return NULL;
	}
	for (size_t i = 0; i < spec->envc; i++)
		env[n++] = (char *)spec->env[i];
	for (size_t i = 0; i < N_DEFAULT_ENV; i++)
		if (!nb_env_value(spec, default_env[i]))
			env[n++] = (char *)default_env[i];
	return env;
}

/* proc, sysfs and /dev inside the rootfs, where the image has the directory.
 * lstat, not stat: a symlink in a hostile image must not aim a mount
 * outside the rootfs. */
static int mount_api_fs(const char *rootfs, struct nb_err *err)
{
	static const struct nb_mount mounts[] = {
		{ "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
		{ "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
		{ "/dev", "/dev", NULL, MS_BIND | MS_REC, NULL },
	};

	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		struct nb_mount m = mounts[i];
		char target[4096];
		struct stat st;
		int n = snprintf(target, sizeof(target), "%s%s", rootfs, m.target);

		if (n < 0 || (size_t)n >= sizeof(target))
			return nb_err_set(err, 0, "rootfs path %s is too long", rootfs);
		if (lstat(target, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		m.target = target;
		if (nb_mount(&m, err) < 0)
			return -1;
	}
	return 0;
}

static int enter_rootfs(const char *rootfs, bool api_fs, struct nb_err *err)
{
	if (strcmp(rootfs, "/") == 0)
		return 0;
	if (api_fs && mount_api_fs(rootfs, err) < 0)
		return -1;
	if (chdir(rootfs) < 0)
		return nb_err_sys(err, "rootfs %s", rootfs);
	if (chroot(".") < 0 || chdir("/") < 0)
		return nb_err_sys(err, "cannot chroot into %s", rootfs);
	return 0;
}

/* Never returns: execs, or writes the error to report_fd and exits. */
static _Noreturn void run_child(const struct nb_spec *spec, const struct nb_workload_opts *opts,
				int report_fd)
{
	struct nb_err err = { 0 };
	char **env;

	if (sigprocmask(SIG_SETMASK, opts->sigmask, NULL) < 0)
		nb_err_sys(&err, "cannot restore the signal mask");
	else if (enter_rootfs(spec->rootfs, opts->mount_api_fs, &err) == 0 &&
		 (env = build_env(spec, &err)) != NULL) {
		/* execvp() searches the PATH of environ, so install the
		 * workload's environment first. */
		environ = env;
		execvp(spec->argv[0], (char *const *)spec->argv);
		nb_exec_failed(spec->argv[0], errno, &err);
	}
	if (write(report_fd, &err, sizeof(err)) < 0) {
		/* nothing left to tell it with; the exit status still says it */
	}
	_exit(nb_err_status(&err));
}

/* ---- in init ----------------------------------------------------------------- */

int nb_workload_start(const struct nb_spec *spec, const struct nb_workload_opts *opts, pid_t *pid,
		      struct nb_err *err)
{
	int fds[2];
	cleanup_close int report_fd = -1;
	pid_t child;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return nb_err_sys(err, "cannot create the start-report pipe");
	report_fd = fds[0];
	/* clone(2) without a new stack behaves as fork(2) in the child. */
	child = opts->own_namespaces
			? (pid_t)syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | SIGCHLD, 0, 0, 0,
					 0)
			: fork();
	if (child < 0) {
		close(fds[1]);
		return nb_err_sys(err, "cannot fork the workload");
	}
	if (child == 0) {
		close(fds[0]);
		run_child(spec, opts, fds[1]);
	}
	close(fds[1]);
	if (nb_start_report_read(report_fd, child, "workload", err) < 0)
		return -1;
	*pid = child;
	return 0;
}
