/* fn's collector (vmm/cli/fn.h) against a stand-in VMM: a child that
 * writes the clone's pipes as nestbox's VMM does. Once the VMM tells the
 * workload's status, fn answers with every byte written before it, while
 * the VMM still runs (tearing the VM down); a status line that is not
 * one is not believed (the exit status decides). */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit/unit.h"
#include "vmm/cli/fn.h"

#define BIG (200u * 1024) /* more than a pipe holds: the VMM blocks writing */

static struct nb_fn_clone clone_;
static int gate[2]; /* the child exits when the parent closes gate[1] */
/* What the stand-in also writes, when set: the guest's console, and the
 * VMM's error (on its MSG pipe). */
static const char *console_text, *error_text;

static void write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n <= 0)
			_exit(99);
		p += n;
		len -= (size_t)n;
	}
}

/* Start the stand-in: stdout `out_len` bytes of 'o', stderr "err", the
 * status line `status`, then wait for the gate and exit with `code`. */
static void start(size_t out_len, const char *status, int code)
{
	int p[NB_FN_NPIPES][2];
	pid_t pid;

	clone_ = (struct nb_fn_clone){ .pid = -1, .feed_fd = -1 };
	ck_assert_int_eq(pipe2(gate, O_CLOEXEC), 0);
	for (int i = 0; i < NB_FN_NPIPES; i++) {
		ck_assert_int_eq(pipe2(p[i], O_CLOEXEC), 0);
		clone_.cap[i] = (struct nb_fn_capture){ .fd = p[i][0],
							.max = BIG,
							.buf = malloc(BIG + 1),
							.keep_end = i == NB_FN_CONSOLE };
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *out = malloc(out_len + 1), c;

		close(gate[1]);
		memset(out, 'o', out_len);
		write_all(p[NB_FN_READY][1], "\1", 1);
		write_all(p[NB_FN_OUT][1], out, out_len);
		write_all(p[NB_FN_ERR][1], "err", 3);
		if (console_text)
			write_all(p[NB_FN_CONSOLE][1], console_text, strlen(console_text));
		if (error_text)
			write_all(p[NB_FN_MSG][1], error_text, strlen(error_text));
		write_all(p[NB_FN_STATUS][1], status, strlen(status));
		while (read(gate[0], &c, 1) > 0) {
		}
		_exit(code);
	}
	for (int i = 0; i < NB_FN_NPIPES; i++)
		close(p[i][1]);
	close(gate[0]);
	clone_.pid = pid;
	clone_.t0 = nb_fn_now_ms();
}

static const char *field(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "(none)";
}

START_TEST(answers_once_status_told)
{
	struct json_object *o;
	pid_t pid;
	bool failed;

	start(BIG, "7\n", 7);
	pid = clone_.pid;
	nb_fn_collect(&clone_, 0);
	/* answered before the VMM exited: it still waits at the gate */
	ck_assert(clone_.early);
	ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
	ck_assert_uint_eq(clone_.cap[NB_FN_OUT].total, BIG);
	o = nb_fn_result(&clone_, &failed);
	ck_assert(!failed);
	ck_assert_str_eq(field(o, "exit_code"), "7");
	ck_assert_str_eq(field(o, "stderr"), "err");
	ck_assert_uint_eq(strlen(field(o, "stdout")), BIG);
	ck_assert_str_eq(field(o, "truncated"), "false");
	ck_assert_str_eq(field(o, "error"), "(none)");
	ck_assert_str_eq(field(o, "console"), "(none)");
	json_object_put(o);
	close(gate[1]);
	nb_fn_free(&clone_); /* waits for it, not killed */
	ck_assert_int_eq(kill(pid, 0), -1);
}
END_TEST

START_TEST(bad_status_line_waits_for_exit)
{
	const char *bad[] = { "x\n", "256\n", "-1\n", "12", "1 2\n" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *o;
		bool failed;

		start(10, bad[i], 3);
		close(gate[1]); /* it exits with 3 at once */
		nb_fn_collect(&clone_, 0);
		ck_assert_msg(!clone_.early, "status line %zu believed", i);
		ck_assert_int_eq(clone_.pid, -1); /* reaped */
		o = nb_fn_result(&clone_, &failed);
		ck_assert_str_eq(field(o, "exit_code"), "3");
		ck_assert_str_eq(field(o, "stdout"), "oooooooooo");
		json_object_put(o);
		nb_fn_free(&clone_);
	}
}
END_TEST

/* A clone waiting for its workload (serve's pool): alive while its VMM
 * runs; once the VMM ends, nb_fn_idle says so, reaped, with its status. */
START_TEST(idle_sees_the_vmm_end)
{
	pid_t pid;
	int i;

	start(0, "", 3);
	pid = clone_.pid;
	ck_assert(nb_fn_wait_ready(&clone_));
	ck_assert(nb_fn_idle(&clone_));
	ck_assert(nb_fn_idle(&clone_));
	ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
	close(gate[1]); /* it exits with 3 */
	for (i = 0; i < 500 && nb_fn_idle(&clone_); i++)
		usleep(10000);
	ck_assert_int_lt(i, 500);
	ck_assert_int_eq(clone_.pid, -1); /* reaped */
	ck_assert_str_eq(clone_.msg, "its VMM ended with status 3");
	nb_fn_free(&clone_);
}
END_TEST

/* nestbox failed (the guest reset): "error" says so, "console" holds the
 * guest console's last 2 KiB, printable ASCII and newlines only. */
START_TEST(an_error_brings_the_console)
{
	char *console = malloc(4096);
	struct json_object *o;
	const char *got;
	bool failed;

	memset(console, 'c', 3000);
	strcpy(console + 3000, "\r\nKernel panic \xc3\xa9\x1b[0m\n");
	console_text = console;
	error_text = "the guest reset before reporting an exit status: triple fault";
	start(0, "", 125);
	close(gate[1]);
	nb_fn_collect(&clone_, 0);
	o = nb_fn_result(&clone_, &failed);
	ck_assert(failed);
	ck_assert_ptr_null(field(o, "exit_code")); /* null */
	ck_assert_str_eq(field(o, "error"), error_text);
	got = field(o, "console");
	ck_assert_uint_le(strlen(got), 2048);
	ck_assert_uint_gt(strlen(got), 2000);
	ck_assert_str_eq(got + strlen(got) - 21, "\nKernel panic ???[0m\n");
	ck_assert_ptr_null(strchr(got, '\r'));
	json_object_put(o);
	nb_fn_free(&clone_);
	console_text = error_text = NULL;
	free(console);
}
END_TEST

/* A function stopped at its --timeout whose guest printed something (a
 * stall's report): "console" comes with timed_out, without "error". */
START_TEST(a_timeout_brings_the_console)
{
	struct json_object *o;
	bool failed;

	console_text = "watchdog: BUG: soft lockup - CPU#0 stuck for 22s!\n";
	start(0, "", NB_STATUS_TIMEOUT);
	clone_.timeout_given = true;
	close(gate[1]);
	nb_fn_collect(&clone_, 0);
	o = nb_fn_result(&clone_, &failed);
	ck_assert(!failed);
	ck_assert_str_eq(field(o, "timed_out"), "true");
	ck_assert_str_eq(field(o, "error"), "(none)");
	ck_assert_str_eq(field(o, "console"), console_text);
	json_object_put(o);
	nb_fn_free(&clone_);
	console_text = NULL;
}
END_TEST

/* A console longer than what is kept: its end is kept, where a panic is. */
START_TEST(a_long_console_keeps_its_end)
{
	size_t len = 3 * BIG + 1234;
	char *console = malloc(len + 1);
	const char *tail = "\nKernel panic - not syncing: Attempted to kill init!\n", *got;
	struct json_object *o;
	bool failed;

	for (size_t i = 0; i < len; i++)
		console[i] = (char)('a' + i % 26);
	strcpy(console + len - strlen(tail), tail);
	console_text = console;
	error_text = "the guest reset before reporting an exit status";
	start(0, "", 125);
	close(gate[1]);
	nb_fn_collect(&clone_, 0);
	ck_assert_uint_eq(clone_.cap[NB_FN_CONSOLE].total, len);
	ck_assert_uint_eq(clone_.cap[NB_FN_CONSOLE].len, BIG);
	ck_assert_mem_eq(clone_.cap[NB_FN_CONSOLE].buf, console + len - BIG, BIG);
	o = nb_fn_result(&clone_, &failed);
	got = field(o, "console");
	ck_assert_str_eq(got + strlen(got) - strlen(tail), tail);
	json_object_put(o);
	nb_fn_free(&clone_);
	console_text = error_text = NULL;
	free(console);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fn");
	TCase *tc = tcase_create("collect");

	tcase_add_test(tc, answers_once_status_told);
	tcase_add_test(tc, bad_status_line_waits_for_exit);
	tcase_add_test(tc, idle_sees_the_vmm_end);
	tcase_add_test(tc, an_error_brings_the_console);
	tcase_add_test(tc, a_timeout_brings_the_console);
	tcase_add_test(tc, a_long_console_keeps_its_end);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return nb_unit_run(suite());
}
