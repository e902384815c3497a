#include "guest-init/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "common/exec_stdin.h"
#include "common/execmsg.h"
#include "common/file.h"
#include "common/le.h"
#include "container/container.h"
#include "nestbox/cleanup.h"

#define RELAY_CHUNK 16384u

int nb_exec_listen(struct nb_err *err)
{
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK,
				    .svm_cid = VMADDR_CID_ANY,
				    .svm_port = NB_EXEC_PORT };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return nb_err_sys(err, "exec: vsock socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 8) < 0) {
		close(fd);
		return nb_err_sys(err, "exec: vsock port %u", NB_EXEC_PORT);
	}
	return fd;
}

/* ---- the connection ------------------------------------------------------- */

static int send_frame(int conn, uint8_t type, const void *p, size_t len)
{
	static uint8_t buf[NB_EXEC_FRAME_MAX];

	return nb_write_all(conn, buf, nb_execmsg_frame(type, p, len, buf));
}

static void send_exit(int conn, int status)
{
	uint8_t v[4];

	nb_put_le32(v, (uint32_t)status);
	send_frame(conn, NB_EXEC_EXIT, v, sizeof(v));
}

static _Noreturn void fail(int conn, const struct nb_err *err)
{
	send_frame(conn, NB_EXEC_ERROR, err->msg, strnlen(err->msg, sizeof(err->msg) - 1));
	send_exit(conn, nb_err_status(err));
	_exit(0);
}

/* One whole frame into *m; -1 at EOF or a broken stream. */
static int read_frame(int conn, struct nb_execmsg_reader *rd, struct nb_execmsg *m,
		      struct nb_err *err)
{
	int rc;

	while ((rc = nb_execmsg_next(rd, false, m, err)) == 0) {
		size_t room;
		uint8_t *space = nb_execmsg_reader_space(rd, &room);
		ssize_t n = read(conn, space, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return nb_err_set(err, 0, "exec: the host closed the connection");
		nb_execmsg_reader_add(rd, (size_t)n);
	}
	return rc < 0 ? -1 : 0;
}

/* ---- entering the container ------------------------------------------------ */

static int join_ns(pid_t pid, const char *name, int type, struct nb_err *err)
{
	char path[64];
	struct stat theirs, ours;
	cleanup_close int fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &theirs) < 0)
		return nb_err_sys(err, "exec: %s", path);
	snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	if (stat(path, &ours) == 0 && ours.st_ino == theirs.st_ino)
		return 0; /* the same one (setns would refuse a user ns) */
	if (setns(fd, type) < 0)
		return nb_err_sys(err, "exec: entering the %s namespace", name);
	return 0;
}

/* The relay itself joins the cgroup and every namespace but the PID one,
 * which only its child enters (a relay in init's can wait for it). */
static int enter(const struct nb_exec_target *t, struct nb_err *err)
{
	static const struct {
		const char *name;
		int type;
	} ns[] = { { "user", CLONE_NEWUSER }, { "ipc", CLONE_NEWIPC },
		   { "uts", CLONE_NEWUTS },   { "net", CLONE_NEWNET },
		   { "pid", CLONE_NEWPID },   { "cgroup", CLONE_NEWCGROUP },
		   { "mnt", CLONE_NEWNS } };
	char path[64];
	cleanup_close int root = -1;

	snprintf(path, sizeof(path), "/proc/%d/root", (int)t->workload);
	root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return nb_err_sys(err, "exec: the container's root");
	if (t->cgroup_fd >= 0 && nb_cgroup_add(t->cgroup_fd, getpid(), err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		if (join_ns(t->workload, ns[i].name, ns[i].type, err) < 0)
			return -1;
	if (fchdir(root) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return nb_err_sys(err, "exec: the container's root");
	return 0;
}

/* ---- the process ------------------------------------------------------------- */

struct stdio {
	int in[2], out[2], err[2]; /* pipes without a pty */
	int master, slave;         /* the pty, or -1 */
};

static int make_stdio(const struct nb_exec_request *r, struct stdio *io, struct nb_err *err)
{
	int unlock = 0;

	io->master = io->slave = -1;
	if (!(r->flags & NB_EXEC_TTY))
		return pipe2(io->in, O_CLOEXEC) < 0 || pipe2(io->out, O_CLOEXEC) < 0 ||
				       pipe2(io->err, O_CLOEXEC) < 0
			       ? nb_err_sys(err, "exec: pipes")
			       : 0;
	/* as container/terminal.c: the container's devpts, the slave without
	 * a path lookup */
	io->master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (io->master < 0 || ioctl(io->master, TIOCSPTLCK, &unlock) < 0 ||
	    (io->slave = ioctl(io->master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return nb_err_sys(err, "exec: a pty in the container");
	if (r->rows && r->cols) {
		struct winsize ws = { .ws_row = r->rows, .ws_col = r->cols };

		ioctl(io->master, TIOCSWINSZ, &ws);
	}
	return 0;
}

static int child_stdio(const struct stdio *io, struct nb_err *err)
{
	if (setsid() < 0)
		return nb_err_sys(err, "exec: setsid");
	if (io->master < 0)
		return dup2(io->in[0], 0) < 0 || dup2(io->out[1], 1) < 0 || dup2(io->err[1], 2) < 0
			       ? nb_err_sys(err, "exec: stdio")
			       : 0;
	if (ioctl(io->slave, TIOCSCTTY, 0) < 0 || dup2(io->slave, 0) < 0 ||
	    dup2(io->slave, 1) < 0 || dup2(io->slave, 2) < 0)
		return nb_err_sys(err, "exec: the pty");
	return 0;
}

/* As container.c's setup_child, for a process in a container that exists. */
static _Noreturn void run_child(const struct nb_exec_target *t, const struct nb_exec_request *r,
				const struct stdio *io, int report_fd)
{
	struct nb_spec spec = *t->spec;
	uint64_t keep = nb_caps_effective_mask(t->spec);
	struct nb_err err = { 0 };
	struct nb_ids ids;
	char **env;

	spec.user = r->user;
	spec.workdir = r->cwd;
	spec.env = r->env;
	spec.envc = r->nenv;
	if (sigprocmask(SIG_SETMASK, t->sigmask, NULL) == 0 && child_stdio(io, &err) == 0 &&
	    nb_process_resolve_user(spec.user, &ids, &err) == 0 &&
	    nb_process_set_rlimits(&spec, &err) == 0 && nb_caps_drop_bounding(keep, &err) == 0 &&
	    nb_process_set_ids(&ids, &err) == 0 && nb_caps_set(keep, ids.uid == 0, &err) == 0 &&
	    nb_process_enter_workdir(&spec, &err) == 0 &&
	    (env = nb_process_build_env(&spec, &ids, &err)) != NULL &&
	    nb_process_install_seccomp(&spec, &err) == 0) {
		environ = env;
		execvp(r->argv[0], (char *const *)r->argv);
		nb_exec_failed(r->argv[0], errno, &err);
	}
	if (write(report_fd, &err, sizeof(err)) < 0) {
		/* the status still says it */
	}
	_exit(nb_err_status(&err));
}

/* ---- relaying ------------------------------------------------------------------ */

struct relay {
	int conn, out, err; /* out/err: -1 at EOF */
	int master;         /* the pty master, or -1 */
	pid_t pid;
	struct nb_exec_stdin in;
};

/* Act on the whole frames rd holds, up to stdin the process does not take
 * yet: the rest waits in rd until it does (or drops its stdin). */
static void host_frames(struct relay *x, struct nb_execmsg_reader *rd)
{
	struct nb_execmsg m;
	struct nb_err err;
	int rc = 0;

	while (!nb_exec_stdin_busy(&x->in) && (rc = nb_execmsg_next(rd, false, &m, &err)) > 0) {
		if (m.type == NB_EXEC_STDIN) {
			nb_exec_stdin_frame(&x->in, m.payload, m.len);
		} else if (m.type == NB_EXEC_SIGNAL) {
			kill(x->pid, (int)nb_get_le32(m.payload));
		} else if (m.type == NB_EXEC_WINSIZE && x->master >= 0) {
			struct winsize ws = { .ws_row = nb_get_le16(m.payload),
					      .ws_col = nb_get_le16(m.payload + 2) };

			ioctl(x->master, TIOCSWINSZ, &ws);
		}
	}
	if (rc < 0) {
		kill(x->pid, SIGKILL);
		x->conn = -1;
	}
}

static void from_host(struct relay *x, struct nb_execmsg_reader *rd)
{
	size_t room;
	uint8_t *space = nb_execmsg_reader_space(rd, &room);
	ssize_t n = read(x->conn, space, room);

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) { /* the host is gone: so is the process */
		kill(x->pid, SIGKILL);
		x->conn = -1;
		return;
	}
	nb_execmsg_reader_add(rd, (size_t)n);
	host_frames(x, rd);
}

static void to_host(struct relay *x, int *fd, uint8_t type)
{
	static uint8_t buf[RELAY_CHUNK];
	ssize_t n = read(*fd, buf, sizeof(buf));

	/* the pty master is non-blocking (stdin's writes) */
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) { /* EOF, or EIO once a pty's last slave closed */
		if (*fd != x->master)
			close(*fd);
		*fd = -1;
		return;
	}
	if (x->conn >= 0 && send_frame(x->conn, type, buf, (size_t)n) < 0)
		x->conn = -1;
}

/* Output first: stdin the process does not read holds back neither its
 * output nor its status (the host's further frames wait meanwhile). */
static int relay(struct relay *x, struct nb_execmsg_reader *rd)
{
	int ws = 0;

	host_frames(x, rd); /* what came with the request */
	while (x->out >= 0 || x->err >= 0) {
		bool busy = nb_exec_stdin_busy(&x->in);
		/* busy: only the host's hang-up (no frame is read) */
		struct pollfd p[4] = { { .fd = x->conn, .events = busy ? 0 : POLLIN },
				       { .fd = x->out, .events = POLLIN },
				       { .fd = x->err, .events = POLLIN },
				       { .fd = busy ? x->in.fd : -1, .events = POLLOUT } };

		if (poll(p, 4, -1) < 0 && errno != EINTR)
			break;
		if (p[3].revents) {
			nb_exec_stdin_flush(&x->in);
			host_frames(x, rd); /* the frames that waited */
		}
		if (p[0].revents && busy) { /* the host is gone: so is the process */
			kill(x->pid, SIGKILL);
			x->conn = -1;
		} else if (p[0].revents) {
			from_host(x, rd);
		}
		if (p[1].revents)
			to_host(x, &x->out, NB_EXEC_STDOUT);
		if (p[2].revents)
			to_host(x, &x->err, NB_EXEC_STDERR);
	}
	while (waitpid(x->pid, &ws, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(ws))
		return NB_STATUS_SIGNAL_BASE + WTERMSIG(ws);
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : NB_STATUS_ERROR;
}

static _Noreturn void serve(int conn, const struct nb_exec_target *t)
{
	static struct nb_execmsg_reader rd;
	struct nb_exec_request r;
	struct nb_execmsg m;
	struct nb_err err = { 0 };
	struct stdio io;
	int report[2];
	pid_t pid;

	if (fcntl(conn, F_SETFL, 0) < 0 || read_frame(conn, &rd, &m, &err) < 0)
		_exit(0);
	if (m.type != NB_EXEC_REQUEST) {
		nb_err_set(&err, 0, "exec: the first frame is not a request");
		fail(conn, &err);
	}
	if (nb_exec_request_decode(m.payload, m.len, &r, &err) < 0 || enter(t, &err) < 0 ||
	    make_stdio(&r, &io, &err) < 0 || pipe2(report, O_CLOEXEC) < 0)
		fail(conn, &err);
	/* r points into rd's buffer: no frame is read before the child has it */
	pid = fork();
	if (pid == 0)
		run_child(t, &r, &io, report[1]);
	close(report[1]);
	/* a process that ended or closed its stdin is EPIPE, not our end */
	signal(SIGPIPE, SIG_IGN);
	if (pid < 0) {
		nb_err_sys(&err, "exec: fork");
		fail(conn, &err);
	}
	if (nb_start_report_read(report[0], pid, "exec'd process", &err) < 0)
		fail(conn, &err);
	close(report[0]);
	send_frame(conn, NB_EXEC_STARTED, NULL, 0);
	static struct relay x;
	x = (struct relay){ .conn = conn, .pid = pid, .master = io.master };
	if (x.master >= 0) {
		close(io.slave);
		nb_exec_stdin_init(&x.in, io.master, true);
		x.out = io.master;
		x.err = -1;
	} else {
		close(io.in[0]);
		close(io.out[1]);
		close(io.err[1]);
		nb_exec_stdin_init(&x.in, io.in[1], false);
		x.out = io.out[0];
		x.err = io.err[0];
	}
	int status = relay(&x, &rd);
	if (x.conn >= 0)
		send_exit(conn, status);
	_exit(0);
}

void nb_exec_accept(int fd, const struct nb_exec_target *t)
{
	int conn;

	while ((conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		pid_t pid = fork();

		if (pid == 0) {
			close(fd);
			serve(conn, t);
		}
		close(conn);
	}
}
