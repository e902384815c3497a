#include "vmm/confine/vsock_broker.h"

#include <errno.h>
#include <limits.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BROKER_FD 3 /* the broker's end of the socketpair, in the broker */
#define PEER_SOCKET_TYPE (SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC)

enum { OP_CONNECT = 1, OP_UNLINK = 2 };

struct request {
	uint32_t op, port;
};

struct reply {
	int32_t err; /* 0, or the errno of the broker's failed call */
};

union fd_cmsg {
	struct cmsghdr hdr;
	char buf[CMSG_SPACE(sizeof(int))];
};

/* ---- the broker process ---------------------------------------------------- */

static void send_reply(int err, int passed)
{
	struct reply r = { .err = err };
	struct iovec iov = { &r, sizeof(r) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	union fd_cmsg ctl;

	if (passed >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passed, sizeof(int));
	}
	/* A VMM that is gone ends the loop at its next read. */
	if (sendmsg(BROKER_FD, &msg, MSG_NOSIGNAL) < 0) {
	}
}

static void serve_connect(const char *path, uint32_t port)
{
	struct sockaddr_un addr;
	int s = -1, err = 0;

	if (nb_vsock_port_path(path, port, &addr) < 0 ||
	    (s = socket(AF_UNIX, PEER_SOCKET_TYPE, 0)) < 0 ||
	    connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		err = errno;
	if (err && s >= 0) {
		close(s); /* before the answer: the broker holds nothing between requests */
		s = -1;
	}
	send_reply(err, s);
	if (s >= 0)
		close(s);
}

static void serve(const char *path, const char *record)
{
	struct request req;
	ssize_t n;

	while ((n = read(BROKER_FD, &req, sizeof(req))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(req))
			return;
		if (req.op == OP_CONNECT)
			serve_connect(path, req.port);
		else if (req.op == OP_UNLINK) {
			int err = unlink(path) < 0 ? errno : 0;

			if (record[0])
				unlink(record); /* no socket left: the record is done */
			send_reply(err, -1);
		} else
			send_reply(EINVAL, -1);
	}
}

/* The broker's own allowlist: what serve() does and nothing else. */
static int confine(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc = ctx ? 0 : -1;

	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 1,
				      SCMP_A0(SCMP_CMP_EQ, BROKER_FD)) ||
		     seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 2,
				      SCMP_A0(SCMP_CMP_EQ, BROKER_FD),
				      SCMP_A2(SCMP_CMP_EQ, MSG_NOSIGNAL)) ||
		     seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 3,
				      SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
				      SCMP_A1(SCMP_CMP_EQ, PEER_SOCKET_TYPE),
				      SCMP_A2(SCMP_CMP_EQ, 0)) ||
		     seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(connect), 0) ||
		     seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlink), 0) ||
		     seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(close), 0) ||
		     seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit_group), 0) ||
		     seccomp_load(ctx); /* sets no_new_privs first */
	if (ctx)
		seccomp_release(ctx);
	return rc ? -1 : 0;
}

static __attribute__((noreturn)) void broker_main(int fd, const char *path, const char *record,
						  pid_t parent)
{
	char copy[sizeof(((struct sockaddr_un *)0)->sun_path)], record_copy[PATH_MAX];

	/* Never outlive the VMM (even one that died before this line). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(record_copy, sizeof(record_copy), "%s", record ? record : "");
	/* Only the socketpair stays open: no guest memory, no KVM, and no
	 * stdout (a pipe's reader would wait for us). */
	if (dup2(fd, BROKER_FD) < 0 || close_range(0, BROKER_FD - 1, 0) < 0 ||
	    close_range(BROKER_FD + 1, ~0u, 0) < 0 || confine() < 0)
		_exit(1);
	serve(copy, record_copy);
	syscall(SYS_exit_group, 0); /* the raw call: a sanitizer's _exit does more */
	_exit(0);
}

int nb_vsock_broker_start(struct nb_vsock_broker *b, const char *path, const char *record,
			  struct nb_err *err)
{
	int sv[2];
	pid_t parent = getpid();

	b->pid = 0;
	b->fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return nb_err_sys(err, "--vsock: the broker's socketpair");
	b->pid = fork();
	if (b->pid == 0)
		broker_main(sv[1], path, record, parent);
	close(sv[1]);
	if (b->pid < 0) {
		b->pid = 0;
		close(sv[0]);
		return nb_err_sys(err, "--vsock: starting the broker");
	}
	b->fd = sv[0];
	return 0;
}

/* ---- the VMM's side --------------------------------------------------------- */

static int ask(struct nb_vsock_broker *b, uint32_t op, uint32_t port)
{
	struct request req = { op, port };

	return write(b->fd, &req, sizeof(req)) == (ssize_t)sizeof(req) ? 0 : -1;
}

/* Event thread: the connected socket for PATH_port, or -1 with errno. */
static int broker_connect(void *opaque, uint32_t port)
{
	struct nb_vsock_broker *b = opaque;
	struct reply r = { 0 };
	struct iovec iov = { &r, sizeof(r) };
	union fd_cmsg ctl;
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	int fd = -1;
	ssize_t n;

	if (ask(b, OP_CONNECT, port) < 0)
		return -1;
	while ((n = recvmsg(b->fd, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	struct cmsghdr *c = n == (ssize_t)sizeof(r) ? CMSG_FIRSTHDR(&msg) : NULL;
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	if (n == (ssize_t)sizeof(r) && !r.err && fd >= 0 && !(msg.msg_flags & MSG_CTRUNC))
		return fd;
	if (fd >= 0)
		close(fd);
	errno = n == (ssize_t)sizeof(r) && r.err > 0 ? r.err : ECONNRESET;
	return -1;
}

/* Main thread at exit: remove PATH, and wait until it is gone. */
static void broker_unlink(void *opaque)
{
	struct nb_vsock_broker *b = opaque;
	struct reply r;

	if (ask(b, OP_UNLINK, 0) == 0)
		while (read(b->fd, &r, sizeof(r)) < 0 && errno == EINTR)
			;
}

struct nb_vsock_host nb_vsock_broker_host(struct nb_vsock_broker *b)
{
	return (struct nb_vsock_host){ broker_connect, broker_unlink, b };
}

void nb_vsock_broker_stop(struct nb_vsock_broker *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	b->pid = 0; /* it exits at EOF; the zombie goes with nestbox */
}
