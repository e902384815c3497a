/* common/procstat.c: /proc/PID/stat lines, whatever the command name. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/procstat.h"
#include "unit/unit.h"

/* fields 3..22 after the name: state R, utime 7, stime 9, starttime 4242 */
#define TAIL " R 1 2 3 4 5 6 7 8 9 10 7 9 11 12 20 0 3 0 4242 1000 50 18446744073709551615\n"

START_TEST(parses_fields)
{
	struct nb_procstat st;

	ck_assert(nb_procstat_parse("123 (sh)" TAIL, &st));
	ck_assert_int_eq(st.state, 'R');
	ck_assert_uint_eq(st.utime, 7);
	ck_assert_uint_eq(st.stime, 9);
	ck_assert_uint_eq(st.start, 4242);
}
END_TEST

START_TEST(hostile_names)
{
	/* a process names itself: spaces, ')' and digits must not shift the fields */
	static const char *lines[] = {
		"1 (a b) c) 1 2 3)" TAIL,
		"1 ()" TAIL,
		"1 () Z 0 0 0 0 0 0 0 0 0 0 1 1 0 0 0 0 0 0 1)" TAIL,
	};
	struct nb_procstat st;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		ck_assert_msg(nb_procstat_parse(lines[i], &st), "line %zu", i);
		ck_assert_int_eq(st.state, 'R');
		ck_assert_uint_eq(st.start, 4242);
	}
}
END_TEST

START_TEST(malformed)
{
	static const char *bad[] = {
		"",
		"123 sh R 1 2 3",                               /* no ')' */
		"123 (sh)",                                     /* nothing after */
		"123 (sh) R 1 2 3 4 5 6 7 8 9 10 7 9 11 12 20", /* cut before field 22 */
		"123 (sh) R 1 2 3 4 5 6 7 8 9 10 x 9 11 12 20 0 3 0 4242",
		"123 (sh) R 1 2 3 4 5 6 7 8 9 10 7 9 11 12 20 0 3 0 -",
	};
	struct nb_procstat st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!nb_procstat_parse(bad[i], &st), "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(live_zombie_gone)
{
	struct nb_procstat st;
	pid_t child = fork();

	if (child == 0) {
		pause();
		_exit(0);
	}
	ck_assert(nb_procstat_read(getpid(), &st));
	ck_assert_uint_ne(nb_proc_start_time(getpid()), 0);
	ck_assert_uint_ge(nb_proc_start_time(child), nb_proc_start_time(getpid()));
	kill(child, SIGKILL);
	for (int i = 0; i < 200 && nb_procstat_read(child, &st) && st.state != 'Z'; i++)
		usleep(10000);
	ck_assert_int_eq(st.state, 'Z');
	waitpid(child, NULL, 0);
	ck_assert(!nb_procstat_read(child, &st));
	ck_assert_uint_eq(nb_proc_start_time(child), 0);
	ck_assert_uint_eq(nb_proc_start_time(0), 0);
	ck_assert_uint_eq(nb_proc_start_time(-1), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("procstat");
	TCase *tc = tcase_create("procstat");

	tcase_add_test(tc, parses_fields);
	tcase_add_test(tc, hostile_names);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, live_zombie_gone);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
