#include "common/exec_stdin.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define CTRL_D 4u

void nb_exec_stdin_init(struct nb_exec_stdin *s, int fd, bool tty)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->tty = tty;
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

bool nb_exec_stdin_busy(const struct nb_exec_stdin *s)
{
	return s->fd >= 0 && (s->off < s->len || (s->eof && !s->tty));
}

/* The process is gone or closed its stdin: nothing more reaches it. */
static void drop(struct nb_exec_stdin *s)
{
	if (!s->tty && s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->off = s->len = 0;
}

void nb_exec_stdin_flush(struct nb_exec_stdin *s)
{
	while (s->fd >= 0 && s->off < s->len) {
		ssize_t n = write(s->fd, s->pend + s->off, s->len - s->off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) { /* EPIPE, or EIO once the pty's slave closed */
			drop(s);
			return;
		}
		s->off += (size_t)n;
	}
	s->off = s->len = 0;
	if (s->fd >= 0 && s->eof && !s->tty)
		drop(s);
}

void nb_exec_stdin_frame(struct nb_exec_stdin *s, const uint8_t *p, size_t len)
{
	struct termios t;

	if (s->fd < 0 || s->eof || nb_exec_stdin_busy(s))
		return;
	if (len > NB_EXEC_MAX_PAYLOAD)
		len = NB_EXEC_MAX_PAYLOAD;
	if (len)
		memcpy(s->pend, p, len);
	s->len = len;
	if (!len && s->tty) {
		/* the terminal's end of input: the line discipline's VEOF */
		s->pend[s->len++] = tcgetattr(s->fd, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE
					    ? t.c_cc[VEOF]
					    : CTRL_D;
	}
	s->eof = !len;
	nb_exec_stdin_flush(s);
}
