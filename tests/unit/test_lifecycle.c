/* Detached VMs (issue 15): the control protocol's request parser
 * (vmm/run/ctl_proto.c) and the state file's parser (vmm/run/vmdir.c) with
 * hostile input, name validation, id prefix resolution, and a VM directory's
 * name claim (two claims of one name: one wins). */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/run/ctl_proto.h"
#include "vmm/run/vmdir.h"

static int parse(const char *line, struct nb_ctl_request *req, const char **code)
{
	char msg[256];

	return nb_ctl_parse(line, strlen(line), req, code, msg, sizeof(msg));
}

START_TEST(ctl_parses_every_op)
{
	struct nb_ctl_request req;
	const char *code;

	ck_assert_int_eq(parse("{\"op\":\"hello\"}", &req, &code), 0);
	ck_assert_int_eq(req.op, NB_CTL_HELLO);
	ck_assert_int_eq(parse(" {\"op\" : \"stop\", \"timeout\": 3} ", &req, &code), 0);
	ck_assert_int_eq(req.op, NB_CTL_STOP);
	ck_assert_int_eq(req.timeout, 3);
	ck_assert_int_eq(parse("{\"op\":\"stop\"}", &req, &code), 0);
	ck_assert_int_eq(req.timeout, 10);
	ck_assert_int_eq(parse("{\"op\":\"kill\",\"signal\":\"HUP\"}", &req, &code), 0);
	ck_assert_int_eq(req.signal, SIGHUP);
	ck_assert_int_eq(parse("{\"op\":\"kill\",\"signal\":\"sigusr1\"}", &req, &code), 0);
	ck_assert_int_eq(req.signal, SIGUSR1);
	ck_assert_int_eq(parse("{\"op\":\"kill\",\"signal\":15}", &req, &code), 0);
	ck_assert_int_eq(req.signal, SIGTERM);
	ck_assert_int_eq(parse("{\"op\":\"kill\"}", &req, &code), 0);
	ck_assert_int_eq(req.signal, SIGKILL);
	const char *ops[] = { "state", "config", "pause", "resume", "stats", "events", "wait" };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		char line[64];

		snprintf(line, sizeof(line), "{\"op\":\"%s\"}", ops[i]);
		ck_assert_int_eq(parse(line, &req, &code), 0);
		ck_assert_str_eq(nb_ctl_op_name(req.op), ops[i]);
	}
}
END_TEST

START_TEST(ctl_refuses_hostile_requests)
{
	static const struct {
		const char *line, *code;
	} bad[] = {
		{ "", NB_CTL_E_BAD_REQUEST },
		{ "{", NB_CTL_E_BAD_REQUEST },
		{ "nope", NB_CTL_E_BAD_REQUEST },
		{ "[1]", NB_CTL_E_BAD_REQUEST },
		{ "\"op\"", NB_CTL_E_BAD_REQUEST },
		{ "null", NB_CTL_E_BAD_REQUEST },
		{ "{}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":1}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":null}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"state\"} {\"op\":\"state\"}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"state\"}x", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"reboot\"}", NB_CTL_E_UNKNOWN_OP },
		{ "{\"op\":\"STATE\"}", NB_CTL_E_UNKNOWN_OP },
		{ "{\"op\":\"state\",\"x\":1}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"state\",\"timeout\":1}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"state\",\"signal\":9}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"stop\",\"timeout\":-1}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"stop\",\"timeout\":86401}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"stop\",\"timeout\":1.5}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"stop\",\"timeout\":\"10\"}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"stop\",\"timeout\":99999999999999999999}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"kill\",\"signal\":0}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"kill\",\"signal\":-9}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"kill\",\"signal\":1000}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"kill\",\"signal\":\"NOPE\"}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"kill\",\"signal\":\"\"}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"kill\",\"signal\":[9]}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"kill\",\"signal\":{}}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"kill\",\"signal\":true}", NB_CTL_E_BAD_REQUEST },
		{ "{\"op\":\"kill\",\"signal\":\"SIGHUPSIGHUPSIGHUPSIGHUP\"}",
		  NB_CTL_E_BAD_REQUEST },
	};
	struct nb_ctl_request req;
	const char *code;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		code = NULL;
		ck_assert_msg(parse(bad[i].line, &req, &code) == -1, "accepted: %s", bad[i].line);
		ck_assert_msg(code && !strcmp(code, bad[i].code), "%s: code %s", bad[i].line,
			      code ? code : "(none)");
	}
}
END_TEST

START_TEST(ctl_refuses_nul_deep_and_long)
{
	struct nb_ctl_request req;
	const char *code;
	char msg[128], *deep, *lng;
	static const char nul[] = "{\"op\":\"st\0ate\"}";

	ck_assert_int_eq(nb_ctl_parse(nul, sizeof(nul) - 1, &req, &code, msg, sizeof(msg)), -1);
	ck_assert_str_eq(code, NB_CTL_E_BAD_REQUEST);
	/* Nesting far past json-c's depth limit. */
	deep = malloc(4001);
	memset(deep, '[', 2000);
	memset(deep + 2000, ']', 2000);
	deep[4000] = '\0';
	ck_assert_int_eq(parse(deep, &req, &code), -1);
	ck_assert_str_eq(code, NB_CTL_E_BAD_REQUEST);
	free(deep);
	lng = malloc(NB_CTL_LINE_MAX + 2);
	memset(lng, ' ', NB_CTL_LINE_MAX + 1);
	memcpy(lng, "{\"op\":\"state\"}", 14);
	lng[NB_CTL_LINE_MAX + 1] = '\0';
	ck_assert_int_eq(parse(lng, &req, &code), -1);
	ck_assert_str_eq(code, NB_CTL_E_TOO_LONG);
	lng[NB_CTL_LINE_MAX] = '\0'; /* at the limit: fine */
	ck_assert_int_eq(parse(lng, &req, &code), 0);
	free(lng);
	/* A small message buffer truncates, never overflows. */
	ck_assert_int_eq(nb_ctl_parse("{\"op\":\"zzzzzzzzzzzzzzzzzzz\"}", 27, &req, &code, msg, 8),
			 -1);
	ck_assert_uint_lt(strlen(msg), 8);
}
END_TEST

START_TEST(ctl_error_reply_is_json)
{
	char *line = nb_ctl_error_reply("bad_request", "a \"quoted\"\nmessage");

	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(line, "{\"ok\":false,\"error\":{\"code\":\"bad_request\",\"message\":"
			       "\"a \\\"quoted\\\"\\nmessage\"}}\n");
	free(line);
	/* the caller's bytes, echoed: a strict JSON reader takes the reply */
	line = nb_ctl_error_reply("unknown_op", "unknown op \"\xff\xc3\"");
	ck_assert_str_eq(line, "{\"ok\":false,\"error\":{\"code\":\"unknown_op\",\"message\":"
			       "\"unknown op \\\"??\\\"\"}}\n");
	free(line);
}
END_TEST

START_TEST(signals_by_name_and_number)
{
	ck_assert_int_eq(nb_ctl_signal("KILL"), SIGKILL);
	ck_assert_int_eq(nb_ctl_signal("SIGTERM"), SIGTERM);
	ck_assert_int_eq(nb_ctl_signal("winch"), SIGWINCH);
	ck_assert_int_eq(nb_ctl_signal("9"), 9);
	ck_assert_int_eq(nb_ctl_signal("0"), 0);
	ck_assert_int_eq(nb_ctl_signal("99"), 0);
	ck_assert_int_eq(nb_ctl_signal("SIG"), 0);
	ck_assert_int_eq(nb_ctl_signal(""), 0);
	ck_assert_int_eq(nb_ctl_signal("-9"), 0);
}
END_TEST

static const struct nb_vm_state sample = {
	.status = NB_VM_PAUSED,
	.pid = 42,
	.monitor_pid = 41,
	.monitor_start = 123456,
	.exit_code = -1,
	.oom_killed = true,
	.created_ns = 1,
	.started_ns = 2,
	.finished_ns = 0,
	.error = "why \"it\" ended",
};

START_TEST(state_round_trips)
{
	char *text = nb_vm_state_format(&sample);
	struct nb_vm_state s;
	struct nb_err err;

	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(nb_vm_state_parse(text, strlen(text), &s, &err), 0);
	ck_assert_int_eq(s.status, NB_VM_PAUSED);
	ck_assert_int_eq(s.pid, 42);
	ck_assert_int_eq(s.monitor_pid, 41);
	ck_assert_uint_eq(s.monitor_start, 123456);
	ck_assert_int_eq(s.exit_code, -1);
	ck_assert(s.oom_killed);
	ck_assert_str_eq(s.error, sample.error);
	free(text);
}
END_TEST

START_TEST(state_refuses_hostile_files)
{
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"null",
		"{}",
		"{\"Status\":\"running\"}",
		/* each field wrong in turn, the rest right */
		"{\"Status\":\"zombie\",\"Pid\":1,\"MonitorPid\":1,\"MonitorStart\":1,\"ExitCode\":0,"
		"\"OOMKilled\":false,\"Created\":0,\"Started\":0,\"Finished\":0,\"Error\":\"\"}",
		"{\"Status\":\"running\",\"Pid\":-1,\"MonitorPid\":1,\"MonitorStart\":1,\"ExitCode\":0,"
		"\"OOMKilled\":false,\"Created\":0,\"Started\":0,\"Finished\":0,\"Error\":\"\"}",
		"{\"Status\":\"running\",\"Pid\":1,\"MonitorPid\":0,\"MonitorStart\":1,\"ExitCode\":0,"
		"\"OOMKilled\":false,\"Created\":0,\"Started\":0,\"Finished\":0,\"Error\":\"\"}",
		"{\"Status\":\"running\",\"Pid\":1,\"MonitorPid\":1,\"MonitorStart\":1,\"ExitCode\":256,"
		"\"OOMKilled\":false,\"Created\":0,\"Started\":0,\"Finished\":0,\"Error\":\"\"}",
		"{\"Status\":\"running\",\"Pid\":1,\"MonitorPid\":1,\"MonitorStart\":1,\"ExitCode\":0,"
		"\"OOMKilled\":1,\"Created\":0,\"Started\":0,\"Finished\":0,\"Error\":\"\"}",
		"{\"Status\":\"running\",\"Pid\":\"1\",\"MonitorPid\":1,\"MonitorStart\":1,\"ExitCode\":0,"
		"\"OOMKilled\":false,\"Created\":0,\"Started\":0,\"Finished\":0,\"Error\":\"\"}",
		"{\"Status\":\"running\",\"Pid\":1,\"MonitorPid\":1,\"MonitorStart\":1,\"ExitCode\":0,"
		"\"OOMKilled\":false,\"Created\":0,\"Started\":0,\"Finished\":0,\"Error\":7}",
		"{\"Status\":\"running\",\"Pid\":99999999999,\"MonitorPid\":1,\"MonitorStart\":1,"
		"\"ExitCode\":0,\"OOMKilled\":false,\"Created\":0,\"Started\":0,\"Finished\":0,"
		"\"Error\":\"\"}",
	};
	struct nb_vm_state s;
	struct nb_err err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(nb_vm_state_parse(bad[i], strlen(bad[i]), &s, &err) == -1,
			      "accepted: %s", bad[i]);
	/* A too long Error is refused, not cut. */
	char big[1024];
	int n = snprintf(big, sizeof(big),
			 "{\"Status\":\"exited\",\"Pid\":1,\"MonitorPid\":1,\"MonitorStart\":1,"
			 "\"ExitCode\":0,\"OOMKilled\":false,\"Created\":0,\"Started\":0,"
			 "\"Finished\":0,\"Error\":\"%0300d\"}",
			 0);
	ck_assert_int_eq(nb_vm_state_parse(big, (size_t)n, &s, &err), -1);
}
END_TEST

START_TEST(names_as_docker)
{
	static const char *const good[] = { "ab", "t1-web", "a.b_c-d", "0x", "A9" };
	static const char *const bad[] = { "",    "a",    "-ab",  ".ab", "_ab",  "a b", "a/b",
					   "a:b", "ab\n", "../x", "é1",  "a\\b", "a*b" };
	char lng[NB_VM_NAME_MAX + 2];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(nb_vm_name_valid(good[i]), "refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!nb_vm_name_valid(bad[i]), "accepted %s", bad[i]);
	memset(lng, 'a', sizeof(lng) - 1);
	lng[NB_VM_NAME_MAX] = '\0';
	ck_assert(nb_vm_name_valid(lng));
	lng[NB_VM_NAME_MAX] = 'a';
	lng[NB_VM_NAME_MAX + 1] = '\0';
	ck_assert(!nb_vm_name_valid(lng));
}
END_TEST

START_TEST(id_prefixes)
{
	const char *ids[] = {
		"abc0000000000000000000000000000000000000000000000000000000000000",
		"abd0000000000000000000000000000000000000000000000000000000000000",
		"f000000000000000000000000000000000000000000000000000000000000000",
	};
	struct nb_err err;

	ck_assert_int_eq(nb_vm_id_match("f", ids, 3, &err), 2);
	ck_assert_int_eq(nb_vm_id_match("abc", ids, 3, &err), 0);
	ck_assert_int_eq(nb_vm_id_match(ids[1], ids, 3, &err), 1);
	ck_assert_int_eq(nb_vm_id_match("ab", ids, 3, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "ambiguous"));
	ck_assert_int_eq(nb_vm_id_match("0", ids, 3, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "no such VM"));
	ck_assert_int_eq(nb_vm_id_match("", ids, 3, &err), -1);
	ck_assert_int_eq(nb_vm_id_match("ABC", ids, 3, &err), -1);
	ck_assert_int_eq(nb_vm_id_match("abc/", ids, 3, &err), -1);
	ck_assert_int_eq(nb_vm_id_match("f", ids, 0, &err), -1);
	char longer[80];
	snprintf(longer, sizeof(longer), "%s0", ids[2]);
	ck_assert_int_eq(nb_vm_id_match(longer, ids, 3, &err), -1);
}
END_TEST

static char dir[64];

static void setup(void)
{
	char run[96];

	snprintf(dir, sizeof(dir), "/tmp/nestbox-lc.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(run, sizeof(run), "%s/run", dir);
	setenv("NESTBOX_RUN_DIR", run, 1);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Two VMs claiming one name: the second fails, leaves nothing; the
 * first resolves by name and by prefix, and its removal frees the name. */
START_TEST(name_claim_has_one_winner)
{
	char a[NB_VM_ID_LEN + 1], b[NB_VM_ID_LEN + 1], got[NB_VM_ID_LEN + 1];
	char(*ids)[NB_VM_ID_LEN + 1];
	size_t n;
	int fa, fb;
	struct nb_err err;

	ck_assert_int_eq(nb_vmdir_create("web", "{\"Name\":\"web\"}", a, &fa, &err), 0);
	ck_assert_int_eq(nb_vmdir_create("web", "{\"Name\":\"web\"}", b, &fb, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "already in use"));
	ck_assert_int_eq(nb_vmdir_list(&ids, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	free(ids);
	ck_assert_int_eq(nb_vmdir_resolve("web", got, &err), 0);
	ck_assert_str_eq(got, a);
	char prefix[8];
	snprintf(prefix, sizeof(prefix), "%.6s", a);
	ck_assert_int_eq(nb_vmdir_resolve(prefix, got, &err), 0);
	ck_assert_str_eq(got, a);
	ck_assert_int_eq(nb_vmdir_create("x y", "{}", b, &fb, &err), -1);
	/* the VMM's snapshot directory goes too; a link in it is removed, not
	 * followed */
	char outside[128];
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	ck_assert_int_eq(mkdir(outside, 0700), 0);
	ck_assert_int_eq(mkdirat(fa, "snapshot", 0700), 0);
	int sf = openat(fa, "snapshot/memory", O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(sf, 0);
	close(sf);
	ck_assert_int_eq(symlinkat(outside, fa, "snapshot/link"), 0);
	ck_assert_int_eq(nb_vmdir_remove(a, &err), 0);
	char vmpath[160];
	snprintf(vmpath, sizeof(vmpath), "%s/run/vm/%s", dir, a);
	ck_assert_int_eq(access(vmpath, F_OK), -1); /* gone */
	ck_assert_int_eq(access(outside, F_OK), 0);
	close(fa);
	ck_assert_int_eq(nb_vmdir_resolve("web", got, &err), -1);
	ck_assert_int_eq(nb_vmdir_create("web", "{\"Name\":\"web\"}", b, &fb, &err), 0);
	close(fb);
}
END_TEST

/* A state whose monitor is gone reads as exited 137. */
START_TEST(dead_monitor_reads_as_exited)
{
	char id[NB_VM_ID_LEN + 1];
	struct nb_vm_state s = sample, got;
	struct nb_err err;
	int fd;

	ck_assert_int_eq(nb_vmdir_create(NULL, "{}", id, &fd, &err), 0);
	s.status = NB_VM_RUNNING;
	s.monitor_pid = 1; /* init: alive, but started at another time */
	ck_assert_int_eq(nb_vm_state_write(fd, &s, &err), 0);
	ck_assert_int_eq(nb_vm_state_read(fd, &got, &err), 0);
	ck_assert_int_eq(got.status, NB_VM_EXITED);
	ck_assert_int_eq(got.exit_code, 137);
	ck_assert_int_eq(nb_vmdir_prune(NULL, NULL, &err), 1);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("parsers");
	TCase *dirs = tcase_create("dirs");

	tcase_add_test(tc, ctl_parses_every_op);
	tcase_add_test(tc, ctl_refuses_hostile_requests);
	tcase_add_test(tc, ctl_refuses_nul_deep_and_long);
	tcase_add_test(tc, ctl_error_reply_is_json);
	tcase_add_test(tc, signals_by_name_and_number);
	tcase_add_test(tc, state_round_trips);
	tcase_add_test(tc, state_refuses_hostile_files);
	tcase_add_test(tc, names_as_docker);
	tcase_add_test(tc, id_prefixes);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(dirs, setup, teardown);
	tcase_add_test(dirs, name_claim_has_one_winner);
	tcase_add_test(dirs, dead_monitor_reads_as_exited);
	suite_add_tcase(s, dirs);
	return nb_unit_run(s);
}
