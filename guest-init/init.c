/* nestbox-init: PID 1 of the guest. Mounts the API file systems, reads the
 * workload spec from the initramfs, starts the workload, reaps every child
 * and forwards signals, then flushes the console, reports the exit status
 * to the VMM's exit device and powers off.
 *
 * Run by hand (PID != 1), as `nestbox-init [SPEC]`, it skips mounts and the
 * report and exits with the workload's status: handy for host-side tests.
 *
 * Debug output (start time, the workload's status, the status reported) is
 * printed when the kernel command line has `nestbox.debug` (or
 * nestbox.debug=1), or, run by hand, when NESTBOX_DEBUG is set to anything
 * but "" or "0"; nestbox.debug=2 (NESTBOX_DEBUG=2) adds each setup step's
 * duration (bench/guestboot.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/spec.h"
#include "container/container.h"
#include "guest-init/memory.h"
#include "guest-init/mounts.h"
#include "guest-init/layers.h"
#include "guest-init/net.h"
#include "guest-init/signals.h"
#include "guest-init/supervise.h"
#include "guest-init/volumes.h"
#include "guest-init/warm.h"
#include "guest-init/workload.h"
#include "common/file.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

#define CMDLINE_MAX 4096

struct init {
	bool pid1;
	bool debug;
	bool steps;    /* nestbox.debug=2: each setup step's time too */
	long start_us; /* CLOCK_BOOTTIME at main(), for the container's debug line */
	const char *spec_path;
};

/* Signals sent to init itself that it passes on to the workload; the host's
 * come over the signal port (guest-init/signals.h). */
static const int forwarded_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };

/* ---- output ---------------------------------------------------------------- */

/* Where init's own messages go: the UART, also once the workload's stdio
 * moved to the virtio-console ports (nb_console_attach). */
static int log_fd = STDERR_FILENO;

/* The host's signals and window sizes (NB_PORT_SIGNAL); fd -1: none. */
static struct nb_signal_port signal_port = { .fd = -1 };
/* The container was OOM-killed: reported with the status (abi.h). */
static bool workload_oom;

/* A template's container, made before the snapshot so that a clone only
 * has to hand it the workload's spec (blob, len: encoded) when the spec
 * fits it (container/container.h); live while its child waits. */
static struct {
	struct nb_prepared prep;
	bool live;
	const void *blob;
	size_t len;
} warm;

static __attribute__((format(printf, 1, 2))) void say(const char *fmt, ...)
{
	char line[NB_ERR_MSG_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line: lines do not interleave with the workload's. */
	dprintf(log_fd, "nestbox-init: %s\n", line);
}

static int report_error(const struct nb_err *err)
{
	say("%s", err->msg);
	return nb_err_status(err);
}

static long uptime_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return -1;
	return ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long uptime_ms(void)
{
	return uptime_us() / 1000;
}

/* Under nestbox.debug=2, one line per setup step: how long it took and when
 * it ended (bench/guestboot.sh adds them up). */
static void say_step(const struct init *self, const char *what, long from, long to)
{
	if (self->steps)
		say("step %s took %ld us, done at %ld us uptime", what, to - from, to);
}

/* A step that ends now; *since: the previous step's end, then this one's. */
static void step_done(const struct init *self, const char *what, long *since)
{
	long now = uptime_us();

	say_step(self, what, *since, now);
	*since = now;
}

/* ---- PID 1 setup --------------------------------------------------------------- */

static int mount_base(struct nb_err *err)
{
	static const struct {
		struct nb_mount m;
		mode_t mode;
	} base[] = {
		{ { "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL }, 0555 },
		{ { "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL }, 0555 },
		{ { "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755" }, 0755 },
		{ { "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		    "newinstance,ptmxmode=0666,mode=0620,gid=5" },
		  0755 },
		{ { "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" }, 01777 },
	};

	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		if (mkdir(base[i].m.target, base[i].mode) < 0 && errno != EEXIST)
			return nb_err_sys(err, "cannot create %s", base[i].m.target);
		if (nb_mount(&base[i].m, err) < 0)
			return -1;
	}
	return 0;
}

/* The kernel opens /dev/console as fds 0-2 only if it existed in the
 * initramfs; make sure every later write has somewhere to go. */
static void ensure_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		if (open("/dev/console", O_RDWR | O_NOCTTY) != fd)
			open("/dev/null", O_RDWR);
	}
}

/* 0: no nestbox.debug on the kernel command line; 1: nestbox.debug or
 * nestbox.debug=1; 2: nestbox.debug=2 (also the setup steps' times). */
static int cmdline_debug_level(void)
{
	char buf[CMDLINE_MAX];
	cleanup_close int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	int level = 0;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (char *save, *tok = strtok_r(buf, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save))
		if (strcmp(tok, "nestbox.debug") == 0 || strcmp(tok, "nestbox.debug=1") == 0)
			level = 1;
		else if (strcmp(tok, "nestbox.debug=2") == 0)
			level = 2;
	return level;
}

static int debug_level(bool pid1)
{
	const char *env = getenv("NESTBOX_DEBUG");

	if (pid1)
		return cmdline_debug_level();
	if (!env || !*env || strcmp(env, "0") == 0)
		return 0;
	return strcmp(env, "2") == 0 ? 2 : 1;
}

/* ---- the spec ----------------------------------------------------------------- */

/* Bounded read: a spec larger than the codec takes is refused unread. */
static int read_spec(const char *path, void **blob, size_t *len, struct nb_err *err)
{
	char *buf;

	if (nb_file_read(AT_FDCWD, path, NB_SPEC_MAX_SIZE, &buf, len, err) < 0)
		return nb_err_wrap(err, "workload spec");
	*blob = buf;
	return 0;
}

static int load_spec(const char *path, void **blob, struct nb_spec *spec, struct nb_err *err)
{
	char why[NB_ERR_MSG_MAX];
	size_t len = 0;

	memset(spec, 0, sizeof(*spec));
	if (read_spec(path, blob, &len, err) < 0)
		return -1;
	if (nb_spec_decode(*blob, len, spec, err) == 0)
		return 0;
	/* The codec's messages start "spec: "; say it once. */
	snprintf(why, sizeof(why), "%s",
		 strncmp(err->msg, "spec: ", 6) == 0 ? err->msg + 6 : err->msg);
	return nb_err_set(err, 0, "invalid workload spec: %s", why);
}

/* ---- warm start ---------------------------------------------------------------- */

static void report_ready(void);

static struct nb_container_opts container_opts(const struct init *self, const sigset_t *mask)
{
	return (struct nb_container_opts){ .sigmask = mask,
					   .debug = self->debug,
					   .debug_steps = self->steps,
					   .init_start_us = self->start_us,
					   .log_fd = log_fd };
}

/* A template boot (NB_SPEC_TEMPLATE): the root is ready; the container is
 * made ahead (when it can be: it is made at start otherwise); say so, and
 * the VMM snapshots the VM right here. What follows runs in each clone:
 * the workload's spec from the stdin port replaces the template's, the
 * clone gets fresh entropy and the host's clock (guest-init/warm.h), and
 * its eth0 (down in the template) its own MAC and addresses. */
static int await_workload(const struct init *self, void **blob, struct nb_spec *spec,
			  struct nb_err *err)
{
	static sigset_t mask; /* the workload's: init's now (run_workload's orig) */
	struct nb_container_opts copts = container_opts(self, &mask);
	void *wblob = NULL;
	size_t len = 0;
	struct nb_spec wspec;

	sigprocmask(SIG_SETMASK, NULL, &mask);
	if (strcmp(spec->rootfs, "/") != 0) /* not with a tty: it says so */
		warm.live = nb_container_prepare(spec, &copts, &warm.prep, &(struct nb_err){ 0 }) ==
			    0;
	report_ready();
	if (nb_warm_read_spec(STDIN_FILENO, &wblob, &len, err) < 0)
		return -1;
	if (nb_spec_decode(wblob, len, &wspec, err) < 0) {
		free(wblob);
		return nb_err_wrap(err, "invalid workload spec after restore");
	}
	if (warm.live && !nb_spec_same_container(spec, &wspec)) {
		nb_container_discard(&warm.prep);
		warm.live = false;
	}
	nb_spec_free(spec);
	free(*blob);
	*blob = wblob;
	*spec = wspec;
	warm.blob = wblob;
	warm.len = len;
	if (nb_warm_apply(spec, err) < 0 ||
	    nb_volumes_mount(spec, err) < 0) /* its -v directories, in the share slots */
		return -1;
	return nb_net_setup(spec, err); /* the clone's own MAC and addresses */
}

/* ---- running the workload ------------------------------------------------------- */

static void wait_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
		sigaddset(set, forwarded_signals[i]);
}

static void say_status(int status)
{
	if (status > NB_STATUS_SIGNAL_BASE && status < NB_STATUS_SIGNAL_BASE + NSIG)
		say("workload killed by signal %d (%s), status %d", status - NB_STATUS_SIGNAL_BASE,
		    strsignal(status - NB_STATUS_SIGNAL_BASE), status);
	else
		say("workload exited with status %d", status);
}

/* As PID 1 with a rootfs of its own the workload is a container
 * (container/); run by hand, or in the initramfs root itself, it is a plain
 * child (guest-init/workload.c). */
static int start(const struct init *self, const struct nb_spec *spec,
		 const struct nb_workload_opts *opts, pid_t *pid, struct nb_container *ct,
		 struct nb_err *err)
{
	struct nb_container_opts copts = container_opts(self, opts->sigmask);

	if (warm.live) {
		warm.live = false;
		if (nb_container_start_prepared(&warm.prep, warm.blob, warm.len, ct, err) < 0)
			return -1;
	} else if (!self->pid1 || strcmp(spec->rootfs, "/") == 0) {
		return nb_workload_start(spec, opts, pid, err);
	} else if (nb_container_start(spec, &copts, ct, err) < 0) {
		return -1;
	}
	*pid = ct->pid;
	return 0;
}

static int run_workload(const struct init *self, const struct nb_spec *spec, int *status,
			struct nb_err *err)
{
	sigset_t set, orig;
	struct nb_workload_opts opts = {
		.mount_api_fs = self->pid1,
		.own_namespaces = self->pid1,
		.sigmask = &orig,
	};
	struct nb_container ct = { .pid = -1, .cgroup_fd = -1, .tty_master = -1, .mounts_fd = -1 };
	struct nb_supervise sup = { .pid_ns_init = self->pid1,
				    .signals = &set,
				    .port = signal_port.fd >= 0 ? &signal_port : NULL,
				    .in_fd = STDIN_FILENO,
				    .out_fd = STDOUT_FILENO,
				    .exec_fd = -1,
				    .net_ipv4 = spec->net_ipv4,
				    .net_prefix = spec->net_prefix,
				    .rootfs = spec->rootfs };
	pid_t pid = -1;
	int rc;

	wait_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, &orig) < 0)
		return nb_err_sys(err, "cannot block signals");
	/* Run by hand, orphans should still come to us to be reaped. */
	if (!self->pid1)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	rc = start(self, spec, &opts, &pid, &ct, err);
	sup.workload = pid;
	sup.tty_master = ct.tty_master;
	sup.cgroup_fd = ct.cgroup_fd;
	/* an OCI container takes `nestbox exec` (a failure only costs that) */
	if (rc == 0 && spec->start_gate && self->pid1 &&
	    (sup.exec_fd = nb_exec_listen(&(struct nb_err){ 0 })) >= 0)
		sup.exec = (struct nb_exec_target){
			.spec = spec, .workload = pid, .cgroup_fd = ct.cgroup_fd, .sigmask = &orig
		};
	if (rc == 0)
		rc = nb_supervise(&sup, status, err);
	if (sup.exec_fd >= 0)
		close(sup.exec_fd);
	/* Nobody acts on the host's signals any more: closing the port tells
	 * the host, which then stops the VM on one instead (abi.h). */
	if (signal_port.fd >= 0)
		close(NB_STEAL(signal_port.fd, -1));
	if (rc == 0 && ct.pid > 0) {
		char reason[NB_ERR_MSG_MAX];

		*status = nb_container_finish(&ct, *status, reason, sizeof(reason));
		workload_oom = ct.oom_killed;
		if (reason[0])
			say("%s", reason);
	}
	sigprocmask(SIG_SETMASK, &orig, NULL);
	if (rc == 0 && self->debug)
		say_status(*status);
	return rc;
}

/* The OCI start gate: -1 once `nestbox start` released the workload, else
 * the status to end with (a signal came first, or the port failed). */
static int start_gate(struct nb_spec *spec)
{
	uint32_t rows = spec->tty_rows, cols = spec->tty_cols;
	int rc = nb_signal_port_wait_start(&signal_port, &rows, &cols);

	if (spec->tty) { /* the engine's terminal as it is now */
		spec->tty_rows = rows;
		spec->tty_cols = cols;
	}

	if (rc == 0)
		return -1;
	if (rc < 0) {
		say("the signal port closed before the start message");
		return NB_STATUS_ERROR;
	}
	return NB_STATUS_SIGNAL_BASE + rc;
}

/* ---- the end ------------------------------------------------------------------- */

/* The console is the host's stdout: bytes must reach it unchanged, so no
 * "\n" -> "\r\n" translation (the tty default, ONLCR). */
static void raw_console_output(void)
{
	struct termios tio;

	for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++) {
		if (tcgetattr(fd, &tio) < 0)
			continue;
		tio.c_oflag &= ~(tcflag_t)ONLCR;
		tcsetattr(fd, TCSANOW, &tio);
	}
}

/* The console is the 8250 through the tty layer, which transmits
 * asynchronously: wait until the bytes are out before the VM stops. */
static void flush_output(void)
{
	tcdrain(STDOUT_FILENO);
	tcdrain(STDERR_FILENO);
	tcdrain(log_fd);
	sync();
}

static void report_status(int status)
{
	unsigned int value = NB_EXIT_MAGIC | ((unsigned int)status & NB_EXIT_STATUS_MASK), host;

	if (ioperm(NB_EXIT_PORT, NB_EXIT_PORT_LEN, 1) < 0) {
		say("cannot reach the exit device at port %#x: ioperm: %s", NB_EXIT_PORT,
		    strerror(errno));
		flush_output();
		return;
	}
	/* The OOM flag only for a VMM that knows it (abi.h). */
	host = inl(NB_EXIT_PORT);
	if (workload_oom && (host & NB_EXIT_MAGIC_MASK) == NB_EXIT_MAGIC &&
	    (host & ~NB_EXIT_MAGIC_MASK) >= NB_EXIT_OOM_SINCE)
		value |= NB_EXIT_FLAG_OOM;
	outl(value, NB_EXIT_PORT);
}

static void report_ready(void)
{
	flush_output();
	if (ioperm(NB_EXIT_PORT, NB_EXIT_PORT_LEN, 1) == 0)
		outl(NB_EXIT_MAGIC | NB_EXIT_READY, NB_EXIT_PORT);
}

/* Reached only when no nestbox VMM stopped the VM at the report (e.g. plain
 * QEMU). Not RB_POWER_OFF: the guest kernel has no ACPI, hence no power-off
 * driver, so the kernel would turn it into a halt and the VM would sit
 * there forever. A restart is what a microVM treats as "done": with
 * reboot=k it is an i8042 reset, which QEMU -no-reboot (and the nestbox
 * VMM's i8042) turn into an exit. */
static _Noreturn void power_off(int status)
{
	reboot(RB_AUTOBOOT);
	say("reboot failed: %s", strerror(errno));
	flush_output();
	_exit(status);
}

/* The image's layers, the shared directories, the network. */
static int setup_guest(const struct init *self, const struct nb_spec *spec, long *since,
		       struct nb_err *err)
{
	if (nb_layers_mount(spec, err) < 0)
		return -1;
	step_done(self, "layers", since);
	if (nb_volumes_mount(spec, err) < 0)
		return -1;
	step_done(self, "volumes", since);
	if (nb_net_setup(spec, err) < 0)
		return -1;
	step_done(self, "network", since);
	return 0;
}

static int run(struct init *self)
{
	struct nb_err err = { 0 };
	cleanup_free void *blob = NULL;
	struct nb_spec spec;
	int status = NB_STATUS_ERROR;
	long since = self->start_us, mounted = self->start_us;

	if (self->pid1) {
		if (mount_base(&err) < 0)
			return report_error(&err);
		mounted = uptime_us();
		ensure_stdio();
		raw_console_output();
		nb_memory_tune();
		if (nb_console_attach(&log_fd, &signal_port.fd, &err) < 0)
			return report_error(&err);
		signal_port.log_fd = log_fd;
	}
	int level = debug_level(self->pid1);

	self->debug = level > 0;
	self->steps = level > 1;
	if (self->debug)
		say("started at %ld ms uptime", uptime_ms());
	if (self->pid1) { /* the level needs /proc: both steps told now */
		say_step(self, "api-mounts", since, mounted);
		since = mounted;
		step_done(self, "console", &since);
	}
	if (load_spec(self->spec_path, &blob, &spec, &err) < 0)
		return report_error(&err);
	step_done(self, "spec", &since);
	if (self->pid1 && setup_guest(self, &spec, &since, &err) < 0)
		status = report_error(&err);
	else if (self->pid1 && spec.template && await_workload(self, &blob, &spec, &err) < 0)
		status = report_error(&err);
	else if (spec.start_gate && (status = start_gate(&spec)) >= 0)
		say_status(status);
	else if (run_workload(self, &spec, &status, &err) < 0)
		status = report_error(&err);
	if (self->pid1)
		nb_volumes_unmount(&spec);
	nb_spec_free(&spec);
	return status;
}

int main(int argc, char **argv)
{
	struct init self = { .pid1 = getpid() == 1,
			     .spec_path = NB_SPEC_PATH,
			     .start_us = uptime_ms() * 1000 };
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) == 0)
		self.start_us = ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	int status;

	/* As PID 1, argv holds whatever the kernel did not recognise: ignore. */
	if (!self.pid1 && argc > 2) {
		say("usage: nestbox-init [SPEC]");
		return NB_STATUS_ERROR;
	}
	if (!self.pid1 && argc == 2)
		self.spec_path = argv[1];
	status = run(&self);
	if (!self.pid1)
		return status;
	if (self.debug)
		say("reporting status %d at %ld ms uptime", status, uptime_ms());
	flush_output();
	report_status(status);
	power_off(status);
}
