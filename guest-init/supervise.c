#include "guest-init/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

#define RELAY_BUF 4096
#define DRAIN_MS \
	5000 /* pty output after the workload ended (not counting the host's
			* slowness); others holding the pty are then killed */

/* One direction of the pty relay: read `from` into buf, write it to `to`. */
struct relay {
	int from, to;
	char buf[RELAY_BUF];
	size_t len, off;
	bool eof;
};

struct state {
	const struct nb_supervise *s;
	struct nb_signal_target target;
	struct relay in, out; /* in_fd -> master, master -> out_fd */
	bool done;            /* the workload was reaped */
	int ws;
	struct pollfd pfd[6];
	int npfd;
};

static int exit_status(int ws)
{
	if (WIFEXITED(ws))
		return WEXITSTATUS(ws);
	if (WIFSIGNALED(ws))
		return NB_STATUS_SIGNAL_BASE + WTERMSIG(ws);
	return NB_STATUS_ERROR;
}

static void reap(struct state *st)
{
	int s;
	pid_t pid;

	while ((pid = waitpid(-1, &s, WNOHANG)) > 0) {
		if (pid == st->s->workload) {
			st->ws = s;
			st->done = true;
		}
	}
}

static int take_signals(struct state *st, int sfd, struct nb_err *err)
{
	struct signalfd_siginfo si;
	ssize_t n;

	while ((n = read(sfd, &si, sizeof(si))) == sizeof(si)) {
		int sig = (int)si.ssi_signo;

		if (sig == SIGCHLD) {
			reap(st);
		} else if (!st->done) {
			int forced = nb_signal_deliver(st->s->workload, sig, st->s->pid_ns_init);

			if (forced)
				st->target.forced = forced;
		}
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return nb_err_sys(err, "reading init's signals");
	return 0;
}

/* ---- the pty relay -------------------------------------------------------- */

static void relay_read(struct relay *r)
{
	ssize_t n = read(r->from, r->buf, sizeof(r->buf));

	if (n > 0) {
		r->len = (size_t)n;
		r->off = 0;
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		r->eof = true; /* EIO on the master: every slave is closed */
	}
}

static void relay_write(struct relay *r)
{
	ssize_t n = write(r->to, r->buf + r->off, r->len - r->off);

	if (n > 0)
		r->off += (size_t)n;
	else if (n < 0 && errno != EAGAIN && errno != EINTR)
		r->off = r->len; /* the reader is gone: drop it, keep the pty flowing */
	if (r->off == r->len)
		r->len = r->off = 0;
}

/* The fd this direction waits on next, and for what. */
static void relay_poll(struct state *st, struct relay *r)
{
	if (r->eof && !r->len)
		return;
	st->pfd[st->npfd++] = r->len ? (struct pollfd){ .fd = r->to, .events = POLLOUT }
				     : (struct pollfd){ .fd = r->from, .events = POLLIN };
}

static void relay_serve(struct relay *r, const struct pollfd *p)
{
	if (!p->revents)
		return;
	if (r->len)
		relay_write(r);
	else
		relay_read(r);
}

/* ---- the loop ------------------------------------------------------------ */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static bool tty_pending(const struct state *st)
{
	return st->s->tty_master >= 0 && (!st->out.eof || st->out.len);
}

/* One poll round; the slots are: signals, port, exec, stdin relay, stdout relay. */
static int round_trip(struct state *st, int sfd, int timeout, struct nb_err *err)
{
	struct nb_signal_port *port = st->s->port;
	int port_slot = -1, exec_slot = -1, in_slot = -1, out_slot = -1;

	st->npfd = 0;
	st->pfd[st->npfd++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	if (port && port->fd >= 0 && !st->done) {
		port_slot = st->npfd;
		st->pfd[st->npfd++] = (struct pollfd){ .fd = port->fd, .events = POLLIN };
	}
	if (st->s->exec_fd >= 0 && !st->done) {
		exec_slot = st->npfd;
		st->pfd[st->npfd++] = (struct pollfd){ .fd = st->s->exec_fd, .events = POLLIN };
	}
	if (st->s->tty_master >= 0) {
		if (!st->done && (!st->in.eof || st->in.len)) {
			in_slot = st->npfd;
			relay_poll(st, &st->in);
		}
		out_slot = st->npfd;
		relay_poll(st, &st->out);
		if (out_slot == st->npfd)
			out_slot = -1;
	}
	int n = poll(st->pfd, (nfds_t)st->npfd, timeout);
	if (n < 0 && errno == EINTR)
		return 0;
	if (n < 0)
		return nb_err_sys(err, "poll");
	if (st->pfd[0].revents && take_signals(st, sfd, err) < 0)
		return -1;
	if (port_slot >= 0 && st->pfd[port_slot].revents && !st->done)
		nb_signal_port_read(port, &st->target);
	if (exec_slot >= 0 && st->pfd[exec_slot].revents && !st->done)
		nb_exec_accept(st->s->exec_fd, &st->s->exec);
	if (in_slot >= 0)
		relay_serve(&st->in, &st->pfd[in_slot]);
	if (out_slot >= 0)
		relay_serve(&st->out, &st->pfd[out_slot]);
	return n;
}

int nb_supervise(const struct nb_supervise *s, int *status, struct nb_err *err)
{
	cleanup_close int sfd = signalfd(-1, s->signals, SFD_NONBLOCK | SFD_CLOEXEC);
	struct state st = {
		.s = s,
		.target = { .pid = s->workload,
			    .pid_ns_init = s->pid_ns_init,
			    .tty_master = s->tty_master,
			    .cgroup_fd = s->cgroup_fd,
			    .net_ipv4 = s->net_ipv4,
			    .net_prefix = s->net_prefix,
			    .rootfs = s->rootfs },
		.in = { .from = s->in_fd, .to = s->tty_master },
		.out = { .from = s->tty_master, .to = s->out_fd },
	};
	long drain_until = 0;

	if (sfd < 0)
		return nb_err_sys(err, "signalfd");
	if (s->tty_master >= 0 && fcntl(s->tty_master, F_SETFL, O_NONBLOCK) < 0)
		return nb_err_sys(err, "-t: the pty");
	reap(&st); /* it may be gone already */
	while (!st.done || tty_pending(&st)) {
		int timeout = -1;
		/* Waiting for the host to take output does not count against
		 * DRAIN_MS: a slow reader on the host gets all of it. */
		bool host_slow = st.done && st.out.len;
		long t0 = now_ms();

		if (st.done) {
			if (!drain_until)
				drain_until = t0 + DRAIN_MS;
			timeout = host_slow ? -1 : (int)(drain_until - t0);
			if (timeout <= 0 && !host_slow)
				break;
		}
		if (round_trip(&st, sfd, timeout, err) < 0)
			return -1;
		if (host_slow)
			drain_until += now_ms() - t0;
	}
	*status = exit_status(st.ws);
	/* The workload died of the SIGKILL standing in for signal N. */
	if (st.target.forced && WIFSIGNALED(st.ws) && WTERMSIG(st.ws) == SIGKILL)
		*status = NB_STATUS_SIGNAL_BASE + st.target.forced;
	return 0;
}
