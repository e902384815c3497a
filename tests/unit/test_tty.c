/* -t on the host (vmm/run/tty.c, vmm/run/sigforward.c): option parsing, Docker's
 * refusal of -i -t without a terminal, raw mode on and off on a real pty,
 * the window size, and which signals may stop the VM. */
#include <check.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "common/spec.h"
#include "vmm/cli/cli.h"
#include "vmm/run/sigforward.h"
#include "vmm/run/tty.h"
#include "unit/unit.h"

START_TEST(parse_it)
{
	char *argv[] = { "run", "-it", "rootfs", "--", "sh", NULL };
	char *argv2[] = { "run", "--tty", "rootfs", "sh", NULL };
	struct nb_run_options o;
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_cli_parse_run(5, argv, "/nb", &o, &err), 0);
	ck_assert(o.interactive && o.tty);
	ck_assert_int_eq(nb_cli_parse_run(4, argv2, "/nb", &o, &err), 0);
	ck_assert(!o.interactive && o.tty);
}
END_TEST

/* stdin a pipe: -i -t is refused, -t alone is fine and raw mode a no-op. */
START_TEST(no_terminal)
{
	int p[2];
	struct nb_err err = { 0 };
	struct nb_spec spec = { 0 };

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	ck_assert_int_eq(nb_tty_check(true, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "the input device is not a TTY"));
	ck_assert_int_eq(nb_tty_check(false, &err), 0);
	ck_assert_int_eq(nb_tty_raw(&err), 0);
	nb_tty_restore();
	nb_tty_spec(false, &spec);
	ck_assert(!spec.tty);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(raw_and_back)
{
	int master, slave;
	struct winsize ws = { .ws_row = 33, .ws_col = 101 };
	struct termios t;
	struct nb_err err = { 0 };
	struct nb_spec spec = { 0 };
	uint16_t rows = 0, cols = 0;

	ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, &ws), 0);
	ck_assert_int_eq(dup2(slave, STDIN_FILENO), STDIN_FILENO);
	ck_assert_int_eq(dup2(open("/dev/null", O_WRONLY), STDOUT_FILENO), STDOUT_FILENO);
	ck_assert(nb_tty_size(&rows, &cols)); /* stdout is no terminal: stdin's size */
	ck_assert_uint_eq(rows, 33);
	ck_assert_uint_eq(cols, 101);
	nb_tty_spec(true, &spec);
	ck_assert(spec.tty && spec.tty_rows == 33 && spec.tty_cols == 101);
	ck_assert_int_eq(nb_tty_raw(&err), 0);
	ck_assert_int_eq(tcgetattr(STDIN_FILENO, &t), 0);
	ck_assert(!(t.c_lflag & (ICANON | ECHO | ISIG)));
	nb_tty_restore();
	nb_tty_restore(); /* idempotent */
	ck_assert_int_eq(tcgetattr(STDIN_FILENO, &t), 0);
	ck_assert(t.c_lflag & ICANON && t.c_lflag & ECHO && t.c_lflag & ISIG);
	ws.ws_row = ws.ws_col = 0; /* a terminal that reports no size */
	ck_assert_int_eq(ioctl(master, TIOCSWINSZ, &ws), 0);
	ck_assert(!nb_tty_size(&rows, &cols));
	close(master);
	close(slave);
}
END_TEST

/* Without a listening guest, every signal but WINCH stops the VM. */
START_TEST(forward_without_guest)
{
	struct nb_sigforward f = { .con = NULL };
	const int stop[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

	for (size_t i = 0; i < sizeof(stop) / sizeof(stop[0]); i++)
		ck_assert(!nb_sigforward(&f, stop[i], 0));
	ck_assert(nb_sigforward(&f, SIGWINCH, 0));
	f.tty = true;
	ck_assert(nb_sigforward(&f, SIGWINCH, 0));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tty");
	TCase *tc = tcase_create("tty");

	tcase_add_test(tc, parse_it);
	tcase_add_test(tc, no_terminal);
	tcase_add_test(tc, raw_and_back);
	tcase_add_test(tc, forward_without_guest);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
