/* -t: the workload's pty. The child opens it from the container's own
 * devpts (after pivot_root), so `tty` names /dev/pts/N as the workload sees
 * it; the slave becomes its controlling terminal and stdio; the master goes
 * to init over a socketpair (SCM_RIGHTS), as runc's console socket does. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "container/container.h"
#include "nestbox/cleanup.h"

static int send_fd(int sock, int fd, struct nb_err *err)
{
	char byte = 'm';
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl = { 0 };
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return nb_err_sys(err, "cannot hand the pty to init");
	return 0;
}

int nb_terminal_child(const struct nb_spec *spec, int sock, struct nb_err *err)
{
	cleanup_close int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	cleanup_close int slave = -1;
	struct winsize ws = { .ws_row = (unsigned short)spec->tty_rows,
			      .ws_col = (unsigned short)spec->tty_cols };
	int unlock = 0;

	if (master < 0)
		return nb_err_sys(err, "-t: cannot open /dev/ptmx");
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return nb_err_sys(err, "-t: cannot unlock the pty");
	/* TIOCGPTPEER: the slave without a path lookup a hostile rootfs
	 * could redirect. */
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (slave < 0)
		return nb_err_sys(err, "-t: cannot open the pty's slave");
	/* Sized before the workload can ask (`stty size` first thing). */
	if (spec->tty_rows && ioctl(master, TIOCSWINSZ, &ws) < 0)
		return nb_err_sys(err, "-t: cannot size the pty");
	if (send_fd(sock, master, err) < 0)
		return -1;
	if (setsid() < 0 && errno != EPERM)
		return nb_err_sys(err, "-t: setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return nb_err_sys(err, "-t: cannot make the pty the controlling terminal");
	for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
		if (dup2(slave, fd) < 0)
			return nb_err_sys(err, "-t: cannot put the pty on fd %d", fd);
	return 0;
}

int nb_terminal_receive(int sock, int *master, struct nb_err *err)
{
	char byte;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl = { 0 };
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	ssize_t n;

	*master = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return nb_err_sys(err, "-t: cannot receive the pty");
	if (n == 0) /* the child failed first: its start report says why */
		return 0;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return nb_err_set(err, 0, "-t: the container sent no pty");
	memcpy(master, CMSG_DATA(c), sizeof(int));
	return 0;
}
