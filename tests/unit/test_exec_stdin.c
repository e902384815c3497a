/* The guest relay's end of an exec's stdin (common/exec_stdin.c): a
 * process that does not read never blocks the relay, nothing is lost or
 * reordered while it waits, the end closes a pipe or writes the pty's
 * VEOF, and a process gone (EPIPE) drops the rest. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "common/exec_stdin.h"
#include "unit/unit.h"

static struct nb_exec_stdin s;

/* A frame's worth into a 4 KiB pipe nobody reads: back at once, the rest
 * waits; read on the far side, flushed in order; then the end closes it. */
START_TEST(pipe_backs_off)
{
	static uint8_t frame[NB_EXEC_MAX_PAYLOAD], got[NB_EXEC_MAX_PAYLOAD + 1];
	int p[2];
	size_t have = 0;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_ge(fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7);
	nb_exec_stdin_init(&s, p[1], false);
	nb_exec_stdin_frame(&s, frame, sizeof(frame)); /* returns: no reader yet */
	ck_assert(nb_exec_stdin_busy(&s));
	/* busy: a further frame (here the end) is not taken */
	nb_exec_stdin_frame(&s, NULL, 0);
	ck_assert(!s.eof);
	while (have < sizeof(frame)) {
		ssize_t n = read(p[0], got + have, sizeof(got) - have);

		ck_assert_int_gt(n, 0);
		have += (size_t)n;
		nb_exec_stdin_flush(&s);
	}
	ck_assert_int_eq(memcmp(got, frame, sizeof(frame)), 0);
	ck_assert(!nb_exec_stdin_busy(&s));
	nb_exec_stdin_frame(&s, NULL, 0);
	ck_assert_int_eq(s.fd, -1);
	ck_assert_int_eq(read(p[0], got, 1), 0); /* EOF: the write end closed */
	close(p[0]);
}
END_TEST

/* The process exited or closed its stdin: EPIPE (not SIGPIPE, which the
 * relay ignores) drops stdin, the rest and every later frame. */
START_TEST(pipe_reader_gone)
{
	int p[2];

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	nb_exec_stdin_init(&s, p[1], false);
	nb_exec_stdin_frame(&s, (const uint8_t *)"yes\n", 4);
	ck_assert_int_eq(s.fd, -1);
	ck_assert(!nb_exec_stdin_busy(&s));
	nb_exec_stdin_frame(&s, (const uint8_t *)"yes\n", 4);
	nb_exec_stdin_frame(&s, NULL, 0);
	ck_assert(!nb_exec_stdin_busy(&s));
	ck_assert_int_eq(fcntl(p[1], F_GETFD), -1); /* closed once */
}
END_TEST

/* The end of input on a pty: its VEOF (here set to ^A) after the last
 * line, so a canonical reader gets the line, then EOF (read 0). */
START_TEST(pty_end_is_veof)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave;
	struct termios t;
	char buf[64] = { 0 };

	ck_assert_int_ge(master, 0);
	ck_assert_int_eq(grantpt(master), 0);
	ck_assert_int_eq(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(slave, 0);
	ck_assert_int_eq(tcgetattr(slave, &t), 0);
	t.c_lflag |= ICANON;
	t.c_lflag &= ~(tcflag_t)ECHO;
	t.c_cc[VEOF] = 1;
	ck_assert_int_eq(tcsetattr(slave, TCSANOW, &t), 0);
	nb_exec_stdin_init(&s, master, true);
	nb_exec_stdin_frame(&s, (const uint8_t *)"echo hi\n", 8);
	nb_exec_stdin_frame(&s, NULL, 0);
	ck_assert(!nb_exec_stdin_busy(&s));
	ck_assert_int_eq(s.fd, master); /* the relay still reads the output */
	ck_assert_int_eq(read(slave, buf, sizeof(buf)), 8);
	ck_assert_str_eq(buf, "echo hi\n");
	ck_assert_int_eq(read(slave, buf, sizeof(buf)), 0);
	/* raw mode: the byte itself, as a program reading keys expects */
	t.c_lflag &= ~(tcflag_t)ICANON;
	t.c_cc[VEOF] = 4;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	ck_assert_int_eq(tcsetattr(slave, TCSANOW, &t), 0);
	nb_exec_stdin_init(&s, master, true);
	nb_exec_stdin_frame(&s, NULL, 0);
	ck_assert_int_eq(read(slave, buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 4);
	close(slave);
	close(master);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("exec_stdin");
	TCase *tc = tcase_create("exec_stdin");

	tcase_add_test(tc, pipe_backs_off);
	tcase_add_test(tc, pipe_reader_gone);
	tcase_add_test(tc, pty_end_is_veof);
	suite_add_tcase(su, tc);
	return nb_unit_run(su);
}
