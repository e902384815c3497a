#include "vmm/run/oci_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "common/file.h"
#include "common/le.h"
#include "nestbox/cleanup.h"

#define CHUNK 16384u
/* room for the signal and window-size frames queued behind a chunk */
#define CONTROL_ROOM 1024u

int nb_oci_exec_connect(const char *dir, struct nb_err *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cleanup_close int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char line[32];
	size_t len = 0;

	/* through the directory's descriptor: any length of dir fits */
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/" NB_EXEC_SOCKET, dfd);
	if (fd < 0 || dfd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return nb_err_sys(err, "the container's VM (%s/" NB_EXEC_SOCKET ")", dir);
	if (dprintf(fd, "CONNECT %u\n", NB_EXEC_PORT) < 0)
		return nb_err_sys(err, "the container's VM");
	/* "OK <port>\n", byte by byte: the guest's frames may follow at once */
	while (len < sizeof(line) - 1) {
		ssize_t n = read(fd, line + len, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			nb_err_set(err, 0,
				   "nothing answers exec in the container's VM (its process is "
				   "not running)");
			err->errnum = ECONNRESET;
			return -1;
		}
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	if (strncmp(line, "OK ", 3) != 0)
		return nb_err_set(err, 0, "the container's VM answered \"%.16s\"", line);
	return NB_STEAL(fd, -1);
}

/* What goes to the guest waits in q: sent as the connection takes it, so
 * that a guest that takes no more (its process reads no stdin) never stops
 * the relay from reading the output and the status. Stdin is read only
 * once q is empty. */
struct relay {
	int conn;
	const struct nb_oci_exec_io *io;
	bool in_open, done;
	int status;
	size_t qlen;
	uint8_t q[NB_EXEC_HEADER + CHUNK + CONTROL_ROOM];
	struct nb_execmsg_reader rd;
};

static void flush(struct relay *x)
{
	while (x->qlen) {
		ssize_t n = send(x->conn, x->q, x->qlen, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) { /* the guest's end is gone: its EOF says why */
			x->qlen = 0;
			x->in_open = false;
			return;
		}
		memmove(x->q, x->q + n, x->qlen - (size_t)n);
		x->qlen -= (size_t)n;
	}
}

static void queue(struct relay *x, uint8_t type, const void *p, size_t len)
{
	if (x->qlen + NB_EXEC_HEADER + len > sizeof(x->q))
		return; /* a flood of signals while the guest takes nothing */
	x->qlen += nb_execmsg_frame(type, p, len, x->q + x->qlen);
	flush(x);
}

static void send_winsize(struct relay *x)
{
	struct winsize ws;
	uint8_t v[4];

	if (ioctl(x->io->in, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col ||
	    ws.ws_row > NB_WINSIZE_MAX || ws.ws_col > NB_WINSIZE_MAX)
		return;
	nb_put_le16(v, ws.ws_row);
	nb_put_le16(v + 2, ws.ws_col);
	queue(x, NB_EXEC_WINSIZE, v, sizeof(v));
}

static void take_signals(struct relay *x)
{
	struct signalfd_siginfo si;

	while (read(x->io->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		uint8_t v[4];

		if (si.ssi_signo == SIGWINCH) {
			send_winsize(x);
			continue;
		}
		nb_put_le32(v, si.ssi_signo);
		queue(x, NB_EXEC_SIGNAL, v, sizeof(v));
	}
}

static void from_stdin(struct relay *x)
{
	uint8_t buf[CHUNK];
	ssize_t n = read(x->io->in, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) { /* its end (an empty frame): the guest closes or sends VEOF */
		x->in_open = false;
		queue(x, NB_EXEC_STDIN, NULL, 0);
		return;
	}
	queue(x, NB_EXEC_STDIN, buf, (size_t)n);
}

static int from_guest(struct relay *x, struct nb_err *err)
{
	struct nb_execmsg m;
	size_t room;
	uint8_t *space = nb_execmsg_reader_space(&x->rd, &room);
	ssize_t n = read(x->conn, space, room);
	int rc;

	if (n < 0 && errno == EINTR)
		return 0;
	if (n <= 0)
		return nb_err_set(err, 0,
				  "the VM closed the exec connection (the container ended?)");
	nb_execmsg_reader_add(&x->rd, (size_t)n);
	while ((rc = nb_execmsg_next(&x->rd, true, &m, err)) > 0) {
		if (m.type == NB_EXEC_STDOUT || m.type == NB_EXEC_STDERR) {
			/* a reader that went away loses the rest, as with runc */
			nb_write_all(m.type == NB_EXEC_STDOUT ? x->io->out : x->io->err, m.payload,
				     m.len);
		} else if (m.type == NB_EXEC_STARTED && x->io->started_fd >= 0) {
			if (write(x->io->started_fd, "s", 1) < 0) {
				/* the waiting parent is gone */
			}
		} else if (m.type == NB_EXEC_ERROR) {
			nb_err_set(err, 0, "%.*s", (int)m.len, (const char *)m.payload);
		} else if (m.type == NB_EXEC_EXIT) {
			x->status = (int)nb_get_le32(m.payload);
			x->done = true;
			return 0;
		}
	}
	return rc;
}

int nb_oci_exec_run(int conn, const struct nb_exec_request *r, const struct nb_oci_exec_io *io,
		    int *status, struct nb_err *err)
{
	static uint8_t frame[NB_EXEC_FRAME_MAX];
	static struct relay x;
	size_t len = nb_exec_request_encode(r, frame, err);

	memset(&x, 0, sizeof(x));
	x.conn = conn;
	x.io = io;
	x.in_open = io->in >= 0;
	err->msg[0] = '\0';
	if (!len)
		return -1;
	if (nb_write_all(conn, frame, len) < 0)
		return nb_err_sys(err, "exec: sending the request");
	if ((r->flags & NB_EXEC_TTY) && io->signal_fd >= 0)
		send_winsize(&x); /* the engine may have sized it since */
	while (!x.done) {
		struct pollfd p[3] = { { .fd = conn, .events = POLLIN | (x.qlen ? POLLOUT : 0) },
				       { .fd = x.in_open && !x.qlen ? io->in : -1,
					 .events = POLLIN },
				       { .fd = io->signal_fd, .events = POLLIN } };

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return nb_err_sys(err, "exec: poll");
		}
		if (p[0].revents & POLLOUT)
			flush(&x);
		if (p[2].revents)
			take_signals(&x);
		if (p[1].revents)
			from_stdin(&x);
		if ((p[0].revents & ~POLLOUT) && from_guest(&x, err) < 0)
			return -1;
	}
	*status = x.status;
	if (!err->msg[0])
		return 0;
	err->status = x.status; /* the guest's reason it could not run the process */
	return -1;
}
