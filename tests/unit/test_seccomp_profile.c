/* Seccomp profiles: Docker's default compiles, a Docker JSON profile parses
 * (and malformed ones fail with a message naming the problem), and the BPF
 * really does what it says when installed in a forked child on this host. */
#include <check.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nestbox/abi.h"
#include "vmm/run/container_seccomp.h"
#include "unit/unit.h"

#define KEYCTL_GET_KEYRING_ID 0
#define KEY_SPEC_SESSION_KEYRING -3

enum probe { PROBE_GETPID, PROBE_KEYCTL, PROBE_MKDIR, PROBE_ACCT };

/* errno of the probe syscall under the filter, in a forked child (0: it
 * succeeded or failed for a reason other than the filter... see below). */
static int errno_under(const struct nb_seccomp_bpf *b, enum probe probe)
{
	int ws;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sock_fprog prog = { .len = (unsigned short)(b->len / 8),
					   .filter = (struct sock_filter *)b->data };
		char dir[64];
		long rc = 0;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
			_exit(200);
		switch (probe) {
		case PROBE_GETPID:
			rc = syscall(SYS_getpid) > 0 ? 0 : -1;
			break;
		case PROBE_KEYCTL:
			rc = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING,
				     0);
			break;
		case PROBE_MKDIR:
			snprintf(dir, sizeof(dir), "/tmp/nb-seccomp-test.%d", (int)getpid());
			rc = syscall(SYS_mkdir, dir, 0700);
			if (rc == 0)
				rmdir(dir);
			break;
		case PROBE_ACCT:
			rc = syscall(SYS_acct, NULL);
			break;
		}
		_exit(rc < 0 ? (errno & 0x7f) : 0);
	}
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) != 200,
		      "child could not install the filter");
	return WEXITSTATUS(ws);
}

START_TEST(default_profile_compiles_and_filters)
{
	struct nb_seccomp_bpf b;
	struct nb_err err = { 0 };

	ck_assert_msg(nb_seccomp_default(NB_CAPS_DEFAULT, &b, &err) == 0, "%s", err.msg);
	ck_assert_uint_gt(b.len, 0);
	ck_assert_uint_eq(b.len % 8, 0);
	ck_assert_uint_le(b.len, NB_SPEC_MAX_BPF * NB_SPEC_BPF_INSN);
	ck_assert_int_eq(errno_under(&b, PROBE_GETPID), 0);
	ck_assert_int_eq(errno_under(&b, PROBE_MKDIR), 0);
	/* keyctl is not in Docker's allowlist; acct needs CAP_SYS_PACCT. */
	ck_assert_int_eq(errno_under(&b, PROBE_KEYCTL), EPERM);
	ck_assert_int_eq(errno_under(&b, PROBE_ACCT), EPERM);
	nb_seccomp_bpf_free(&b);
}
END_TEST

START_TEST(default_profile_follows_caps)
{
	struct nb_seccomp_bpf with, without;
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_seccomp_default(NB_CAPS_DEFAULT | (1ull << 20), &with, &err), 0);
	ck_assert_int_eq(nb_seccomp_default(NB_CAPS_DEFAULT, &without, &err), 0);
	ck_assert_uint_gt(with.len, without.len);
	/* With CAP_SYS_PACCT in the set, acct passes the filter (and fails, if
	 * at all, for another reason than our EPERM from the filter... unless
	 * this test runs without the capability: then EPERM is the kernel's). */
	nb_seccomp_bpf_free(&with);
	nb_seccomp_bpf_free(&without);
}
END_TEST

static void parse_ok(const char *json, uint64_t caps, struct nb_seccomp_bpf *b)
{
	struct nb_err err = { 0 };

	ck_assert_msg(nb_seccomp_profile_parse(json, strlen(json), caps, b, &err) == 0, "%s",
		      err.msg);
}

static void parse_fails(const char *json, size_t len, const char *want)
{
	struct nb_seccomp_bpf b;
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_seccomp_profile_parse(json, len, NB_CAPS_DEFAULT, &b, &err), -1);
	ck_assert_msg(strstr(err.msg, want), "message \"%s\" lacks \"%s\"", err.msg, want);
	ck_assert_ptr_null(b.data);
}
#define FAILS(json, want) parse_fails(json, strlen(json), want)

START_TEST(profile_denies_mkdir)
{
	struct nb_seccomp_bpf b;

	parse_ok("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
		 "\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\"},"
		 "{\"name\":\"keyctl\",\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}",
		 NB_CAPS_DEFAULT, &b);
	ck_assert_int_eq(errno_under(&b, PROBE_MKDIR), EPERM);
	ck_assert_int_eq(errno_under(&b, PROBE_KEYCTL), EACCES);
	ck_assert_int_eq(errno_under(&b, PROBE_GETPID), 0);
	nb_seccomp_bpf_free(&b);
}
END_TEST

START_TEST(profile_allowlist_with_args_and_includes)
{
	struct nb_seccomp_bpf b;

	/* keyctl allowed only with CAP_SYS_ADMIN (absent): stays denied. The
	 * mmap..rt_sigaction entries keep the sanitizer runtime alive in the child. */
	parse_ok(
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,\"syscalls\":["
		"{\"names\":[\"getpid\",\"exit_group\",\"exit\",\"mkdir\",\"mmap\",\"munmap\",\"write\",\"madvise\",\"rt_sigprocmask\",\"sigaltstack\",\"futex\",\"prctl\",\"getrlimit\",\"rt_sigaction\"],\"action\":\"SCMP_ACT_ALLOW\"},"
		"{\"names\":[\"keyctl\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}},"
		"{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
		"\"value\":0,\"valueTwo\":0,\"op\":\"SCMP_CMP_EQ\"},{\"index\":0,\"value\":8,"
		"\"op\":\"SCMP_CMP_EQ\"}]},"
		"{\"names\":[\"no_such_syscall_x\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
		NB_CAPS_DEFAULT, &b);
	ck_assert_uint_eq(b.skipped, 1);
	ck_assert_str_eq(b.first_skipped, "no_such_syscall_x");
	ck_assert_int_eq(errno_under(&b, PROBE_GETPID), 0);
	ck_assert_int_eq(errno_under(&b, PROBE_KEYCTL), EPERM);
	nb_seccomp_bpf_free(&b);
}
END_TEST

START_TEST(profile_malformed)
{
	static char big[NB_SECCOMP_PROFILE_MAX + 2];

	FAILS("{", "invalid JSON");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ALLOW\"} x", "invalid JSON");
	FAILS("[1,2]", "needs a string defaultAction");
	FAILS("{\"defaultAction\":1}", "needs a string defaultAction");
	FAILS("{\"defaultAction\":\"SCMP_ACT_MAYBE\"}", "unknown action \"SCMP_ACT_MAYBE\"");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":\"x\"}",
	      "errnoRet is not an integer");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":99999}",
	      "errnoRet 99999 out of range");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":{}}",
	      "needs a string defaultAction and an array syscalls");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":\"mkdir\","
	      "\"action\":\"SCMP_ACT_ERRNO\"}]}",
	      "syscalls[0] needs names");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
	      "\"action\":7}]}",
	      "syscalls[0] needs names");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[1]}", "syscalls[0] needs names");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[3],"
	      "\"action\":\"SCMP_ACT_ERRNO\"}]}",
	      "names[0] is not a string");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
	      "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":\"0\",\"op\":\"SCMP_CMP_EQ\"}]}]}",
	      "needs an integer index");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
	      "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":9,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	      "args index 9 is not 0..5");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
	      "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"op\":\"SCMP_CMP_ABOUT\"}]}]}",
	      "unknown op \"SCMP_CMP_ABOUT\"");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
	      "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"op\":\"SCMP_CMP_EQ\","
	      "\"value\":\"big\"}]}]}",
	      "args value is not an integer");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_VAX\"]}",
	      "unknown architecture \"VAX\"");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":\"x\"}",
	      "architectures is not an array");
	FAILS("{\"defaultAction\":\"SCMP_ACT_NOTIFY\",\"listenerPath\":\"/x\"}", "listenerPath");
	FAILS("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
	      "\"action\":\"SCMP_ACT_ERRNO\",\"includes\":[]}]}",
	      "includes is not an object");
	memset(big, ' ', sizeof(big));
	parse_fails(big, sizeof(big), "more than 1048576");
	parse_fails("{\"defaultAction\":\"SCMP_ACT_ALLOW\"}", 10, "invalid JSON");
}
END_TEST

START_TEST(profile_load_missing_file)
{
	struct nb_seccomp_bpf b;
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_seccomp_profile_load("/nonexistent/p.json", 0, &b, &err), -1);
	ck_assert_msg(strstr(err.msg, "/nonexistent/p.json"), "%s", err.msg);
}
END_TEST

START_TEST(cap_names)
{
	ck_assert_int_eq(nb_cap_by_name("CAP_SYS_ADMIN"), 21);
	ck_assert_int_eq(nb_cap_by_name("sys_admin"), 21);
	ck_assert_int_eq(nb_cap_by_name("NET_RAW"), 13);
	ck_assert_int_eq(nb_cap_by_name("AUDIT_WRITE"), 29);
	ck_assert_int_eq(nb_cap_by_name("ALL"), 64);
	ck_assert_int_eq(nb_cap_by_name("CAP_FLY"), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("seccomp_profile");
	TCase *tc = tcase_create("profile");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, default_profile_compiles_and_filters);
	tcase_add_test(tc, default_profile_follows_caps);
	tcase_add_test(tc, profile_denies_mkdir);
	tcase_add_test(tc, profile_allowlist_with_args_and_includes);
	tcase_add_test(tc, profile_malformed);
	tcase_add_test(tc, profile_load_missing_file);
	tcase_add_test(tc, cap_names);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
