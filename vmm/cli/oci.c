/* The OCI runtime command line (issue 14), as podman's conmon and
 * containerd's runc shim call runc: global options, then create, start,
 * state, kill, delete, exec, features. A container is one VM: `create` forks its
 * monitor (the VMM, the pid in --pid-file, which exits with the workload's
 * status) and returns once the VM runs with the workload held at the start
 * gate (include/nestbox/abi.h); `start` releases it with NB_SIGNAL_START.
 * `exec` reaches nestbox-init through the VM's vsock socket in the state
 * directory (vmm/run/oci_exec.h).
 * State: vmm/run/oci_state.h; the bundle: vmm/run/oci_bundle.h. */
#include "vmm/cli/oci.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "common/parse.h"
#include "common/procstat.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/cli/cli.h"
#include "vmm/cli/commands.h"
#include "vmm/cli/print.h"
#include "vmm/run/oci_bundle.h"
#include "vmm/run/oci_exec.h"
#include "vmm/run/oci_netns.h"
#include "vmm/run/oci_state.h"
#include "vmm/run/sigforward.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define DELETE_WAIT_MS 10000
#define EXEC_CONNECT_MS 20000

static struct {
	const char *root;
	const char *log;
	bool json;
	bool given; /* a global option was given: an engine calls */
} g = { .root = NB_OCI_DEFAULT_ROOT };

/* ---- global options and errors ------------------------------------------------ */

/* "--name VALUE" or "--name=VALUE" at argv[*i]; advances *i past it. */
static bool take_value(const char *name, int argc, char **argv, int *i, const char **value)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return false;
	if (argv[*i][n] == '=') {
		*value = argv[*i] + n + 1;
		return true;
	}
	if (argv[*i][n] != '\0' || *i + 1 >= argc)
		return false;
	*value = argv[++*i];
	return true;
}

int nb_oci_global_options(int *argc, char ***argv)
{
	char **av = *argv;
	int i = 1;

	for (; i < *argc && av[i][0] == '-'; i++) {
		const char *v;

		if (take_value("--root", *argc, av, &i, &v)) {
			g.root = v;
		} else if (take_value("--log-format", *argc, av, &i, &v)) {
			if (strcmp(v, "json") && strcmp(v, "text")) {
				fprintf(stderr, "nestbox: --log-format %s: use text or json\n", v);
				return -1;
			}
			g.json = strcmp(v, "json") == 0;
		} else if (take_value("--log", *argc, av, &i, &v)) {
			g.log = v;
		} else if (strcmp(av[i], "--systemd-cgroup") == 0 ||
			   strcmp(av[i], "--debug") == 0) {
			/* accepted: the VMM's cgroup is the engine's business */
		} else {
			break; /* the command's own options (-h, --help) */
		}
	}
	g.given = i > 1;
	if (i > 1) {
		av[i - 1] = av[0];
		*argv = av + i - 1;
		*argc -= i - 1;
	}
	return 0;
}

static void now_rfc3339(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);

	snprintf(buf + n, size - n, ".%09dZ", (int)(ts.tv_nsec % 1000000000));
}

char *nb_oci_log_line(bool json, const char *time, const char *msg)
{
	cleanup_free char *text = strdup(msg);
	json_object *m = text ? json_object_new_string(nb_utf8_scrub(text)) : NULL;
	const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
	char *line = NULL;

	if (!m)
		return NULL;
	if (json) {
		json_object *o = json_object_new_object();

		if (o) {
			json_object_object_add(o, "level", json_object_new_string("error"));
			json_object_object_add(o, "msg", json_object_get(m));
			json_object_object_add(o, "time", json_object_new_string(time));
			if (asprintf(&line, "%s\n", json_object_to_json_string_ext(o, flags)) < 0)
				line = NULL;
			json_object_put(o);
		}
	} else if (asprintf(&line, "time=\"%s\" level=error msg=%s\n", time,
			    json_object_to_json_string_ext(m, flags)) < 0) {
		line = NULL;
	}
	json_object_put(m);
	return line;
}

/* The error on stderr and, with --log, as runc writes it there (conmon
 * reads the last JSON line's "msg" with --log-format json). */
static int fail(const char *cmd, struct nb_err *err)
{
	int fd = g.log ? open(g.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;

	nb_err_wrap(err, "%s", cmd);
	if (fd >= 0) {
		char t[40];
		cleanup_free char *line = NULL;

		now_rfc3339(t, sizeof(t));
		line = nb_oci_log_line(g.json, t, err->msg);
		if (line && nb_write_all(fd, line, strlen(line)) < 0) {
			/* the error still reaches stderr below */
		}
		close(fd);
	}
	return nb_cli_error(NULL, err);
}

static int usage(const char *cmd, const char *text, bool help)
{
	fputs(text, help ? stdout : stderr);
	if (!help) {
		struct nb_err err;

		nb_err_set(&err, 0, "bad arguments (see nestbox %s --help)", cmd);
		return fail(cmd, &err);
	}
	return 0;
}

/* The container's state directory, root/id. */
static void state_dir(const char *id, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", g.root, id);
}

/* The redirect the monitor left in the engine's namespace. Best effort:
 * the engine removes the namespace, and the redirect with it, anyway. */
static void release_netns(const char *id)
{
	char dir[4200];

	state_dir(id, dir, sizeof(dir));
	nb_oci_netns_release(dir, &(struct nb_err){ 0 });
}

/* ---- create ----------------------------------------------------------------------- */

struct create_args {
	const char *bundle, *pid_file, *console_socket, *id;
};

/* A pty pair for process.terminal: the master goes to the console socket
 * (SCM_RIGHTS, as runc sends it), the slave becomes the monitor's stdio. */
static int open_pty(const struct nb_oci_bundle *b, int *master, int *slave, char *name, size_t size,
		    struct nb_err *err)
{
	struct winsize ws = { .ws_row = b->tty_rows, .ws_col = b->tty_cols };

	*master = *slave = -1;

	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0 || grantpt(*master) < 0 || unlockpt(*master) < 0 ||
	    ptsname_r(*master, name, size) != 0)
		return nb_err_sys(err, "cannot make a pty");
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0)
		return nb_err_sys(err, "cannot open %s", name);
	if (ws.ws_row && ws.ws_col)
		ioctl(*master, TIOCSWINSZ, &ws);
	return 0;
}

static int send_console(const char *path, int master, const char *name, struct nb_err *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	cleanup_close int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)name, strlen(name) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	if (strlen(path) >= sizeof(addr.sun_path))
		return nb_err_set(err, 0, "--console-socket %s: path too long", path);
	strcpy(addr.sun_path, path);
	if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return nb_err_sys(err, "--console-socket %s", path);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		return nb_err_sys(err, "--console-socket %s: sendmsg", path);
	return 0;
}

/* The container's process: the VMM, held at the start gate. ready gets
 * "r" once the VM runs, or "e" and the reason it could not. */
static _Noreturn void monitor(struct nb_oci_bundle *b, const char *id, int ready, int slave)
{
	struct nb_err err = { 0 };
	int status = NB_STATUS_ERROR;
	char dir[4200];

	signal(SIGPIPE, SIG_IGN);
	if (slave >= 0) {
		/* its controlling terminal: an engine's resize reaches it as
		 * SIGWINCH, which the VMM passes on */
		if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0 || dup2(slave, 0) < 0 ||
		    dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
			nb_err_sys(&err, "the pty");
		close(slave);
	}
	state_dir(id, dir, sizeof(dir));
	if (!err.msg[0] && chdir(dir) < 0)
		nb_err_sys(&err, "%s", dir);
	/* the engine's network namespace, entered here: the tap is made
	 * there and its descriptor goes to the VMM */
	if (!err.msg[0])
		nb_oci_netns_join(b, dir, &err);
	b->opts.oci.start_gate = true;
	b->opts.oci.ready_fd = ready;
	b->opts.report = nb_cli_reporter();
	if (!err.msg[0] && nb_run(&b->opts, &status, &err) == 0) {
		close(ready);
		_exit(status);
	}
	/* before "r" `create` reports it; after, its reader is gone (EPIPE)
	 * and the engine's log gets it on stderr. Once the VM ran, this
	 * thread is in the VMM's seccomp sandbox: write(2) it is (dprintf's
	 * stream would fstat, and the filter kills that). */
	char line[sizeof(err.msg) + 1];
	int n = snprintf(line, sizeof(line), "e%s", err.msg);

	if (nb_write_all(ready, line, (size_t)n) < 0)
		nb_cli_error(NULL, &err);
	_exit(nb_err_status(&err));
}

/* The monitor into linux.cgroupsPath (cgroupfs layout; a systemd
 * "slice:prefix:name" is left to the engine). Best effort: path is "" if
 * it did not work. */
static void join_cgroup(const char *cg, pid_t pid, char *path, size_t size)
{
	struct nb_err err;
	char procs[4200];
	int fd;

	path[0] = '\0';
	if (!cg || cg[0] != '/' || strstr(cg, "..") || strchr(cg, ':') ||
	    (size_t)snprintf(path, size, CGROUP_ROOT "%s", cg) >= size)
		return;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	if (nb_mkdir_p(AT_FDCWD, path, 0755, 0, &err) < 0 ||
	    (fd = open(procs, O_WRONLY | O_CLOEXEC)) < 0) {
		path[0] = '\0';
		return;
	}
	if (dprintf(fd, "%d", (int)pid) < 0)
		path[0] = '\0';
	close(fd);
}

static int wait_ready(int fd, struct nb_err *err)
{
	char buf[NB_ERR_MSG_MAX + 1];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return nb_err_sys(err, "waiting for the VM");
		len += (size_t)n;
		if (buf[0] == 'r')
			return 0;
	}
	buf[len] = '\0';
	if (len > 1 && buf[0] == 'e')
		return nb_err_set(err, 0, "%s", buf + 1);
	return nb_err_set(err, 0, "the VM's monitor ended before the VM ran");
}

static int write_pid_file(const char *path, pid_t pid, struct nb_err *err)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%d", (int)pid);

	return nb_file_write_atomic(AT_FDCWD, path, NULL, text, (size_t)n, 0644, err);
}

static int load(const struct create_args *a, struct nb_oci_bundle *b, char **bundle,
		struct nb_err *err)
{
	static char *kernel, *init, vsock[4200];
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	cleanup_free char *self = nb_cli_self_dir();

	*bundle = realpath(a->bundle, NULL);
	if (!*bundle)
		return nb_err_sys(err, "--bundle %s", a->bundle);
	if (nb_oci_bundle_load(*bundle, b, err) < 0)
		return -1;
	if (!self || (!b->opts.kernel_path && asprintf(&kernel, "%s/vmlinux", self) < 0) ||
	    asprintf(&init, "%s/nestbox-init", self) < 0)
		return nb_err_sys(err, "out of memory");
	if (!b->opts.kernel_path)
		b->opts.kernel_path = kernel;
	b->opts.init_path = init;
	/* the way `exec` reaches the guest: a path too long for a Unix
	 * socket is made relative to the state directory, where the monitor
	 * runs (monitor()) */
	state_dir(a->id, vsock, sizeof(vsock));
	if (strlen(vsock) + sizeof("/" NB_EXEC_SOCKET) <= max)
		strcat(vsock, "/" NB_EXEC_SOCKET);
	else
		snprintf(vsock, sizeof(vsock), "%s", NB_EXEC_SOCKET);
	b->opts.net.vsock_path = vsock;
	if (b->terminal && !a->console_socket)
		return nb_err_set(err, 0, "process.terminal needs --console-socket");
	return 0;
}

static int create(const struct create_args *a, struct nb_err *err)
{
	struct nb_oci_bundle b = { 0 };
	cleanup_free char *bundle = NULL;
	struct nb_oci_state st = { 0 };
	cleanup_close int master = -1;
	int slave = -1, ready[2];
	char pty[64];
	pid_t pid;

	if (load(a, &b, &bundle, err) < 0) {
		nb_oci_bundle_free(&b);
		return -1;
	}
	if (nb_oci_state_create_dir(g.root, a->id, err) < 0) {
		nb_oci_bundle_free(&b);
		return -1;
	}
	if ((b.terminal && (open_pty(&b, &master, &slave, pty, sizeof(pty), err) < 0 ||
			    send_console(a->console_socket, master, pty, err) < 0)) ||
	    (pipe2(ready, O_CLOEXEC) < 0 && nb_err_sys(err, "pipe"))) {
		if (slave >= 0)
			close(slave);
		goto fail;
	}
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		monitor(&b, a->id, ready[1], slave);
	}
	close(ready[1]);
	if (slave >= 0)
		close(slave);
	if (pid < 0) {
		close(ready[0]);
		nb_err_sys(err, "fork");
		goto fail;
	}
	snprintf(st.id, sizeof(st.id), "%s", a->id);
	snprintf(st.status, sizeof(st.status), "creating");
	snprintf(st.bundle, sizeof(st.bundle), "%s", bundle);
	snprintf(st.rootfs, sizeof(st.rootfs), "%s", b.rootfs);
	now_rfc3339(st.created, sizeof(st.created));
	st.pid = pid;
	st.start = nb_proc_start_time(pid);
	st.annotations = b.annotations;
	join_cgroup(b.cgroups_path, pid, st.cgroup, sizeof(st.cgroup));
	if (nb_oci_state_write(g.root, &st, err) < 0 || wait_ready(ready[0], err) < 0) {
		close(ready[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (st.cgroup[0])
			rmdir(st.cgroup);
		goto fail;
	}
	close(ready[0]);
	snprintf(st.status, sizeof(st.status), "created");
	if (nb_oci_state_write(g.root, &st, err) < 0 ||
	    (a->pid_file && write_pid_file(a->pid_file, pid, err) < 0)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto fail;
	}
	nb_oci_bundle_free(&b);
	return 0;
fail:
	nb_oci_bundle_free(&b);
	release_netns(a->id);
	nb_oci_state_remove(g.root, a->id, &(struct nb_err){ 0 });
	return -1;
}

static const char create_usage[] =
	"Usage: nestbox create [--bundle DIR] [--pid-file FILE] [--console-socket SOCKET]\n"
	"                      [--no-pivot] [--no-new-keyring] [--preserve-fds 0] ID\n"
	"\n"
	"Boot a microVM for the OCI bundle DIR (default .) and hold its process at the\n"
	"start gate until `nestbox start ID`. The pid in FILE is the VM's monitor; it\n"
	"exits with the process's status.\n";

static int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "console-socket", required_argument, NULL, 'c' },
		{ "no-pivot", no_argument, NULL, 'n' },
		{ "no-new-keyring", no_argument, NULL, 'k' },
		{ "preserve-fds", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct create_args a = { .bundle = "." };
	struct nb_err err = { 0 };
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+b:h", opts, NULL)) != -1) {
		if (opt == 'h')
			return usage("create", create_usage, true);
		if (opt == 'b')
			a.bundle = optarg;
		else if (opt == 'p')
			a.pid_file = optarg;
		else if (opt == 'c')
			a.console_socket = optarg;
		else if (opt == 'f' && strcmp(optarg, "0") != 0) {
			nb_err_set(&err, 0,
				   "--preserve-fds %s: descriptors cannot be passed into the VM",
				   optarg);
			return fail("create", &err);
		} else if (opt == '?' || opt == ':')
			return usage("create", create_usage, false);
	}
	if (optind != argc - 1)
		return usage("create", create_usage, false);
	a.id = argv[optind];
	if (create(&a, &err) < 0)
		return fail("create", &err);
	return 0;
}

/* ---- start, state, kill, delete -------------------------------------------------- */

/* The one ID argument after the command's flags (flags: "-f"-style names
 * allowed, each setting a bool in *set). */
static int one_id(int argc, char **argv, const char *const *flags, bool *set, int *next)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		bool known = false;

		for (size_t f = 0; flags && flags[f]; f++)
			if (strcmp(argv[i], flags[f]) == 0)
				known = set[f] = true;
		if (!known)
			return -1;
	}
	if (i >= argc)
		return -1;
	*next = i + 1;
	return i;
}

static int read_state(const char *id, struct nb_oci_state *st, struct nb_err *err)
{
	return nb_oci_state_read(g.root, id, st, err);
}

static int cmd_start(int argc, char **argv)
{
	struct nb_oci_state st;
	struct nb_err err = { 0 };
	int next, i = one_id(argc, argv, NULL, NULL, &next);

	if (i < 0 || next != argc)
		return usage("start", "Usage: nestbox start ID\n", i < 0 && argc == 2);
	if (read_state(argv[i], &st, &err) < 0)
		return fail("start", &err);
	if (strcmp(nb_oci_state_status(&st), "created") != 0) {
		nb_err_set(&err, 0, "container %s is %s, not created", st.id,
			   nb_oci_state_status(&st));
	} else if (kill(st.pid, NB_SIGNAL_START) < 0) {
		nb_err_sys(&err, "container %s", st.id);
	} else {
		snprintf(st.status, sizeof(st.status), "running");
		nb_oci_state_write(g.root, &st, &err);
	}
	nb_oci_state_free(&st);
	return err.msg[0] ? fail("start", &err) : 0;
}

static int cmd_state(int argc, char **argv)
{
	struct nb_oci_state st;
	struct nb_err err = { 0 };
	int next, i = one_id(argc, argv, NULL, NULL, &next);
	json_object *o;

	if (i < 0 || next != argc)
		return usage("state", "Usage: nestbox state ID\n", false);
	if (read_state(argv[i], &st, &err) < 0)
		return fail("state", &err);
	const char *status = nb_oci_state_status(&st);
	o = json_object_new_object();
	json_object_object_add(o, "ociVersion", json_object_new_string(NB_OCI_VERSION));
	json_object_object_add(o, "id", json_object_new_string(st.id));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "pid",
			       json_object_new_int(strcmp(status, "stopped") ? st.pid : 0));
	json_object_object_add(o, "bundle", json_object_new_string(st.bundle));
	json_object_object_add(o, "rootfs",
			       json_object_new_string(st.rootfs[0] ? st.rootfs : st.bundle));
	json_object_object_add(o, "created", json_object_new_string(st.created));
	json_object_object_add(o, "annotations",
			       st.annotations ? json_object_get(st.annotations)
					      : json_object_new_object());
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	json_object_put(o);
	nb_oci_state_free(&st);
	return 0;
}

static int parse_signal(const char *s)
{
	static const struct {
		const char *name;
		int signo;
	} names[] = {
		{ "HUP", SIGHUP },   { "INT", SIGINT },     { "QUIT", SIGQUIT },
		{ "KILL", SIGKILL }, { "USR1", SIGUSR1 },   { "USR2", SIGUSR2 },
		{ "TERM", SIGTERM }, { "ALRM", SIGALRM },   { "STOP", SIGSTOP },
		{ "CONT", SIGCONT }, { "WINCH", SIGWINCH }, { "PIPE", SIGPIPE },
	};
	char *end;
	long n = strtol(s, &end, 10);

	if (s[0] && !*end)
		return n >= 1 && n < SIGRTMIN ? (int)n : -1;
	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].signo;
	return -1;
}

static int cmd_kill(int argc, char **argv)
{
	static const char *const flags[] = { "--all", "-a", NULL };
	bool set[2] = { false, false };
	struct nb_oci_state st;
	struct nb_err err = { 0 };
	int next, i = one_id(argc, argv, flags, set, &next);
	int sig = next < argc ? parse_signal(argv[next]) : SIGTERM;

	if (i < 0 || next + 1 < argc)
		return usage("kill", "Usage: nestbox kill [--all] ID [SIGNAL]\n", false);
	if (sig < 0) {
		nb_err_set(&err, 0, "unknown signal %.32s", argv[next]);
		return fail("kill", &err);
	}
	if (read_state(argv[i], &st, &err) < 0)
		return fail("kill", &err);
	if (strcmp(nb_oci_state_status(&st), "stopped") == 0 || st.pid <= 0)
		nb_err_set(&err, 0, "container %s is not running", st.id);
	else if (kill(st.pid, sig) < 0)
		nb_err_sys(&err, "container %s", st.id);
	nb_oci_state_free(&st);
	return err.msg[0] ? fail("kill", &err) : 0;
}

/* SIGKILL the monitor and wait until it is gone (or a zombie its parent,
 * the engine, has to reap). */
static int stop_monitor(const struct nb_oci_state *st, struct nb_err *err)
{
	for (int ms = 0; strcmp(nb_oci_state_status(st), "stopped") != 0; ms += 10) {
		if (ms >= DELETE_WAIT_MS)
			return nb_err_set(err, 0, "container %s: its process %d does not die",
					  st->id, (int)st->pid);
		kill(st->pid, SIGKILL);
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	return 0;
}

static int cmd_delete(int argc, char **argv)
{
	static const char *const flags[] = { "--force", "-f", NULL };
	bool set[2] = { false, false };
	struct nb_oci_state st;
	struct nb_err err = { 0 };
	int next, i = one_id(argc, argv, flags, set, &next);

	if (i < 0 || next != argc)
		return usage("delete", "Usage: nestbox delete [--force] ID\n", false);
	if (read_state(argv[i], &st, &err) < 0)
		return fail("delete", &err);
	const char *status = nb_oci_state_status(&st);
	/* a created container is deleted as runc does: its process killed */
	if (strcmp(status, "running") == 0 && !set[0] && !set[1])
		nb_err_set(&err, 0, "container %s is running: stop it or use --force", st.id);
	else if (st.pid <= 0 || stop_monitor(&st, &err) == 0) {
		if (st.cgroup[0])
			rmdir(st.cgroup);
		release_netns(st.id);
		nb_oci_state_remove(g.root, st.id, &err);
	}
	nb_oci_state_free(&st);
	return err.msg[0] ? fail("delete", &err) : 0;
}

/* ---- exec ---------------------------------------------------------------------------- */

struct exec_args {
	const char *process, *pid_file, *console_socket, *id;
	bool detach, tty;
	char **cmd; /* without --process: the command */
	int ncmd;
};

/* The request from --process FILE (b owns its strings) or the command. */
static int exec_request(const struct exec_args *a, struct nb_oci_bundle *b,
			struct nb_exec_request *r, struct nb_err *err)
{
	cleanup_free char *text = NULL;
	size_t len;

	memset(r, 0, sizeof(*r));
	if (!a->process) {
		if ((size_t)a->ncmd > NB_EXEC_MAX_ARGS)
			return nb_err_set(err, 0, "more than %u arguments", NB_EXEC_MAX_ARGS);
		for (int i = 0; i < a->ncmd; i++)
			r->argv[r->argc++] = a->cmd[i];
		r->user = "0:0";
		r->cwd = "/";
		r->flags = a->tty ? NB_EXEC_TTY : 0;
		if (a->tty) { /* the pty's size: this terminal's */
			struct winsize ws;

			if (ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col &&
			    ws.ws_row <= NB_WINSIZE_MAX && ws.ws_col <= NB_WINSIZE_MAX) {
				r->rows = ws.ws_row;
				r->cols = ws.ws_col;
			}
		}
		return 0;
	}
	if (nb_file_read(AT_FDCWD, a->process, NB_OCI_CONFIG_MAX, &text, &len, err) < 0 ||
	    nb_oci_process_parse(text, len, b, err) < 0)
		return nb_err_wrap(err, "--process %s", a->process);
	if (b->opts.argc > NB_EXEC_MAX_ARGS || b->opts.container.nenv > NB_EXEC_MAX_ENV)
		return nb_err_set(err, 0, "--process: more than %u args or env entries",
				  NB_EXEC_MAX_ARGS);
	for (size_t i = 0; i < b->opts.argc; i++)
		r->argv[r->argc++] = b->opts.argv[i];
	for (size_t i = 0; i < b->opts.container.nenv; i++)
		r->env[r->nenv++] = b->opts.container.env[i];
	r->user = b->opts.container.user;
	r->cwd = b->opts.container.workdir ? b->opts.container.workdir : "/";
	r->flags = b->terminal || a->tty ? NB_EXEC_TTY : 0;
	r->rows = b->tty_rows;
	r->cols = b->tty_cols;
	return 0;
}

/* The signals passed on to the process, blocked, as a signalfd. */
static int exec_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Relay until the process ends; its status, or the error's. */
static int exec_relay(const struct exec_args *a, const struct nb_exec_request *r, int slave,
		      int started_fd)
{
	struct nb_err err = { 0 };
	char dir[4200];
	struct termios raw;
	cleanup_close int conn = -1, sfd = exec_signals();
	struct nb_oci_exec_io io = {
		.in = 0, .out = 1, .err = 2, .started_fd = started_fd, .signal_fd = sfd
	};
	int status = NB_STATUS_ERROR;

	signal(SIGPIPE, SIG_IGN);
	if (slave >= 0) { /* the engine's terminal: bytes pass unchanged */
		io.in = io.out = io.err = slave;
		/* its controlling process: a resize is a SIGWINCH, passed on */
		if (setsid() >= 0 || getsid(0) == getpid())
			ioctl(slave, TIOCSCTTY, 0);
		if (tcgetattr(slave, &raw) == 0) {
			cfmakeraw(&raw);
			tcsetattr(slave, TCSANOW, &raw);
		}
	}
	state_dir(a->id, dir, sizeof(dir));
	/* right after `start` the guest may not listen yet */
	for (int ms = 0; (conn = nb_oci_exec_connect(dir, &err)) < 0 && err.errnum == ECONNRESET &&
			 ms < EXEC_CONNECT_MS;
	     ms += 100)
		nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
	if (conn >= 0 && nb_oci_exec_run(conn, r, &io, &status, &err) == 0)
		return status;
	fail("exec", &err);
	return nb_err_status(&err);
}

static int exec_detached(const struct exec_args *a, const struct nb_exec_request *r, int slave,
			 struct nb_err *err)
{
	int started[2], ws = 0;
	char c = 0;
	pid_t pid;

	if (pipe2(started, O_CLOEXEC) < 0)
		return nb_err_sys(err, "pipe");
	pid = fork();
	if (pid == 0) {
		close(started[0]);
		setsid(); /* runc's detached process is not in our session either */
		_exit(exec_relay(a, r, slave, started[1]));
	}
	close(started[1]);
	if (pid < 0) {
		close(started[0]);
		return nb_err_sys(err, "fork");
	}
	while (read(started[0], &c, 1) < 0 && errno == EINTR)
		;
	close(started[0]);
	if (c == 's')
		return a->pid_file ? write_pid_file(a->pid_file, pid, err) : 0;
	/* it failed, and said why on stderr; podman reads 127 and 126 from
	 * runc's words for them */
	waitpid(pid, &ws, 0);
	int status = WIFEXITED(ws) ? WEXITSTATUS(ws) : NB_STATUS_ERROR;
	nb_err_set(err, 0, "the process did not start%s",
		   status == 127   ? ": executable file not found (no such file or directory)"
		   : status == 126 ? ": permission denied"
				   : "");
	err->status = status;
	return -1;
}

static int exec_cmd(const struct exec_args *a, struct nb_err *err)
{
	struct nb_oci_bundle b = { 0 };
	struct nb_exec_request r;
	struct nb_oci_state st;
	cleanup_close int master = -1;
	int slave = -1, rc = -1;
	char pty[64];

	if (read_state(a->id, &st, err) < 0)
		return -1;
	if (strcmp(nb_oci_state_status(&st), "running") != 0)
		nb_err_set(err, 0, "container %s is %s, not running", st.id,
			   nb_oci_state_status(&st));
	nb_oci_state_free(&st);
	if (err->msg[0] || exec_request(a, &b, &r, err) < 0)
		goto out;
	if ((r.flags & NB_EXEC_TTY) && a->console_socket &&
	    (open_pty(&b, &master, &slave, pty, sizeof(pty), err) < 0 ||
	     send_console(a->console_socket, master, pty, err) < 0))
		goto out;
	if (a->detach) {
		rc = exec_detached(a, &r, slave, err);
	} else if (a->pid_file && write_pid_file(a->pid_file, getpid(), err) < 0) {
		rc = -1;
	} else {
		/* --tty on this terminal: raw, the guest's pty does the rest */
		struct termios saved, raw;
		bool restore = slave < 0 && (r.flags & NB_EXEC_TTY) && tcgetattr(0, &saved) == 0;

		if (restore) {
			raw = saved;
			cfmakeraw(&raw);
			tcsetattr(0, TCSANOW, &raw);
		}
		rc = exec_relay(a, &r, slave, -1);
		if (restore)
			tcsetattr(0, TCSANOW, &saved);
		if (slave >= 0)
			close(slave);
		nb_oci_bundle_free(&b);
		exit(rc);
	}
out:
	if (slave >= 0)
		close(slave);
	nb_oci_bundle_free(&b);
	return rc;
}

static const char exec_usage[] =
	"Usage: nestbox exec [--process FILE] [--detach] [--pid-file FILE]\n"
	"                    [--console-socket SOCKET] [--tty] ID [COMMAND [ARG...]]\n"
	"\n"
	"Run a further process in the running container ID: the OCI process object in\n"
	"FILE, or COMMAND as root in /. Its stdio (or, for process.terminal or --tty,\n"
	"a pty; its master goes to SOCKET when given) and exit status are relayed;\n"
	"with --detach nestbox returns once it runs, and the pid in FILE exits with its\n"
	"status.\n";

static int cmd_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "process", required_argument, NULL, 'p' },
		{ "detach", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'P' },
		{ "console-socket", required_argument, NULL, 'c' },
		{ "tty", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct exec_args a = { 0 };
	struct nb_err err = { 0 };
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+p:dth", opts, NULL)) != -1) {
		if (opt == 'h')
			return usage("exec", exec_usage, true);
		if (opt == 'p')
			a.process = optarg;
		else if (opt == 'd')
			a.detach = true;
		else if (opt == 'P')
			a.pid_file = optarg;
		else if (opt == 'c')
			a.console_socket = optarg;
		else if (opt == 't')
			a.tty = true;
		else
			return usage("exec", exec_usage, false);
	}
	if (optind >= argc || (!a.process && optind + 1 >= argc) ||
	    (a.process && optind + 1 != argc))
		return usage("exec", exec_usage, false);
	a.id = argv[optind];
	a.cmd = argv + optind + 1;
	a.ncmd = argc - optind - 1;
	if (exec_cmd(&a, &err) < 0)
		return fail("exec", &err);
	return 0;
}

/* ---- features ------------------------------------------------------------------------- */

static const char features_json[] =
	"{\n"
	"  \"ociVersionMin\": \"1.0.0\",\n"
	"  \"ociVersionMax\": \"" NB_OCI_VERSION "\",\n"
	"  \"hooks\": [],\n"
	"  \"mountOptions\": [\"bind\", \"rbind\", \"ro\", \"rw\", \"exec\", \"noexec\", \"suid\",\n"
	"    \"nosuid\", \"dev\", \"nodev\", \"size\", \"mode\"],\n"
	"  \"linux\": {\n"
	"    \"namespaces\": [\"pid\", \"network\", \"mount\", \"ipc\", \"uts\", \"cgroup\"],\n"
	"    \"capabilities\": [\"CAP_CHOWN\", \"CAP_DAC_OVERRIDE\", \"CAP_DAC_READ_SEARCH\",\n"
	"      \"CAP_FOWNER\", \"CAP_FSETID\", \"CAP_KILL\", \"CAP_SETGID\", \"CAP_SETUID\",\n"
	"      \"CAP_SETPCAP\", \"CAP_LINUX_IMMUTABLE\", \"CAP_NET_BIND_SERVICE\",\n"
	"      \"CAP_NET_BROADCAST\", \"CAP_NET_ADMIN\", \"CAP_NET_RAW\", \"CAP_IPC_LOCK\",\n"
	"      \"CAP_IPC_OWNER\", \"CAP_SYS_MODULE\", \"CAP_SYS_RAWIO\", \"CAP_SYS_CHROOT\",\n"
	"      \"CAP_SYS_PTRACE\", \"CAP_SYS_PACCT\", \"CAP_SYS_ADMIN\", \"CAP_SYS_BOOT\",\n"
	"      \"CAP_SYS_NICE\", \"CAP_SYS_RESOURCE\", \"CAP_SYS_TIME\", \"CAP_SYS_TTY_CONFIG\",\n"
	"      \"CAP_MKNOD\", \"CAP_LEASE\", \"CAP_AUDIT_WRITE\", \"CAP_AUDIT_CONTROL\",\n"
	"      \"CAP_SETFCAP\", \"CAP_MAC_OVERRIDE\", \"CAP_MAC_ADMIN\", \"CAP_SYSLOG\",\n"
	"      \"CAP_WAKE_ALARM\", \"CAP_BLOCK_SUSPEND\", \"CAP_AUDIT_READ\", \"CAP_PERFMON\",\n"
	"      \"CAP_BPF\", \"CAP_CHECKPOINT_RESTORE\"],\n"
	"    \"cgroup\": { \"v1\": false, \"v2\": true, \"systemd\": false, \"systemdUser\": false },\n"
	"    \"seccomp\": {\n"
	"      \"enabled\": true,\n"
	"      \"actions\": [\"SCMP_ACT_ALLOW\", \"SCMP_ACT_ERRNO\", \"SCMP_ACT_KILL\",\n"
	"        \"SCMP_ACT_KILL_THREAD\", \"SCMP_ACT_KILL_PROCESS\", \"SCMP_ACT_TRAP\",\n"
	"        \"SCMP_ACT_LOG\", \"SCMP_ACT_TRACE\"],\n"
	"      \"operators\": [\"SCMP_CMP_NE\", \"SCMP_CMP_LT\", \"SCMP_CMP_LE\", \"SCMP_CMP_EQ\",\n"
	"        \"SCMP_CMP_GE\", \"SCMP_CMP_GT\", \"SCMP_CMP_MASKED_EQ\"],\n"
	"      \"archs\": [\"SCMP_ARCH_X86_64\"]\n"
	"    },\n"
	"    \"apparmor\": { \"enabled\": false },\n"
	"    \"selinux\": { \"enabled\": false }\n"
	"  },\n"
	"  \"annotations\": {\n"
	"    \"io.nestbox.vcpus\": \"vCPUs of the VM (1-32)\",\n"
	"    \"io.nestbox.memory\": \"guest RAM, e.g. 512m\",\n"
	"    \"io.nestbox.kernel\": \"guest kernel path\"\n"
	"  }\n"
	"}\n";

static int cmd_features(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage("features", "Usage: nestbox features\n", false);
	fputs(features_json, stdout);
	return 0;
}

bool nb_oci_kill_applies(int argc, char **argv)
{
	char path[4096];
	int i = 1;

	while (i < argc && argv[i][0] == '-')
		i++;
	if (g.given)
		return true;
	if (i >= argc || !nb_oci_id_ok(argv[i]) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", g.root, argv[i]) >= sizeof(path))
		return false;
	return access(path, F_OK) == 0;
}

int nb_oci_main(int argc, char **argv)
{
	static const struct nb_cli_command cmds[] = {
		{ "create", NULL, cmd_create }, { "start", NULL, cmd_start },
		{ "state", NULL, cmd_state },   { "kill", NULL, cmd_kill },
		{ "delete", NULL, cmd_delete }, { "features", NULL, cmd_features },
		{ "exec", NULL, cmd_exec },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[0], cmds[i].name) == 0)
			return cmds[i].main(argc, argv);
	return NB_STATUS_ERROR;
}
