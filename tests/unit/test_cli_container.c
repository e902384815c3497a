/* Container options of `nestbox run` and their translation into the spec. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "common/tmpfs.h"
#include "nestbox/abi.h"
#include "vmm/cli/cli.h"
#include "vmm/cli/container_opts.h"
#include "unit/cli_parse.h"
#include "unit/unit.h"

START_TEST(all_options)
{
	struct nb_run_options o;
	struct nb_err err;

	setenv("NB_TEST_FROM_HOST", "hostval", 1);
	unsetenv("NB_TEST_UNSET");
	ck_assert_int_eq(PARSE(&o, &err, "run", "-e", "A=1", "--env", "NB_TEST_FROM_HOST", "-e",
			       "NB_TEST_UNSET", "-w", "/srv", "-u", "app:staff", "-h", "box",
			       "--pids-limit", "64", "--read-only", "--tmpfs", "/run", "--cap-add",
			       "SYS_ADMIN,cap_net_admin", "--cap-drop", "NET_RAW", "--security-opt",
			       "seccomp=unconfined", "--cpus", "0.5", "-m", "256m", "r", "true"),
			 0);
	ck_assert_uint_eq(o.container.nenv, 2);
	ck_assert_str_eq(o.container.env[0], "A=1");
	ck_assert_str_eq(o.container.env[1], "NB_TEST_FROM_HOST=hostval");
	ck_assert_str_eq(o.container.workdir, "/srv");
	ck_assert_str_eq(o.container.user, "app:staff");
	ck_assert_str_eq(o.container.hostname, "box");
	ck_assert_uint_eq(o.container.pids_limit, 64);
	ck_assert(o.container.read_only);
	ck_assert_str_eq(o.container.tmpfs[0], "/run");
	ck_assert_uint_eq(o.container.cap_add, (1ull << 21) | (1ull << 12));
	ck_assert_uint_eq(o.container.cap_drop, 1ull << 13);
	ck_assert(o.container.seccomp_unconfined);
	ck_assert_uint_eq(o.cpus, 1);
	ck_assert_uint_eq(o.container.cpu_quota_us, 50000);
	ck_assert_uint_eq(o.container.memory_max, 256u << 20);
	nb_container_cli_free(&o);
}
END_TEST

START_TEST(bad_values)
{
	struct nb_run_options o;
	struct nb_err err;

	expect_error(PARSE(&o, &err, "run", "-w", "rel", "r", "x"), &err, "--workdir 'rel'");
	expect_error(PARSE(&o, &err, "run", "-e", "=x", "r", "x"), &err, "empty name");
	expect_error(PARSE(&o, &err, "run", "--pids-limit", "0", "r", "x"), &err, "--pids-limit");
	expect_error(PARSE(&o, &err, "run", "--pids-limit", "-3", "r", "x"), &err, "--pids-limit");
	expect_error(PARSE(&o, &err, "run", "--cap-add", "FLY", "r", "x"), &err,
		     "unknown capability 'FLY'");
	expect_error(PARSE(&o, &err, "run", "--security-opt", "apparmor=x", "r", "x"), &err,
		     "--security-opt 'apparmor=x'");
	expect_error(PARSE(&o, &err, "run", "--security-opt", "seccomp=", "r", "x"), &err,
		     "needs a file");
	expect_error(PARSE(&o, &err, "run", "--tmpfs", "/x:bogus", "r", "x"), &err,
		     "--tmpfs option 'bogus'");
	expect_error(PARSE(&o, &err, "run", "--tmpfs", "/x:size=0", "r", "x"), &err,
		     "--tmpfs option 'size=0'");
	expect_error(PARSE(&o, &err, "run", "--tmpfs", "/x:mode=999", "r", "x"), &err,
		     "--tmpfs option 'mode=999'");
	expect_error(PARSE(&o, &err, "run", "--tmpfs", "/x:rw,,ro", "r", "x"), &err,
		     "empty option");
	expect_error(PARSE(&o, &err, "run", "--tmpfs", "x:rw", "r", "x"), &err, "absolute path");
	expect_error(PARSE(&o, &err, "run", "--cpus", "0", "r", "x"), &err, "--cpus");
	expect_error(PARSE(&o, &err, "run", "--cpus", "1.5x", "r", "x"), &err, "--cpus");
	expect_error(PARSE(&o, &err, "run", "--cpus", "33", "r", "x"), &err, "--cpus");
	expect_error(PARSE(&o, &err, "run", "--env-file", "/nonexistent/env", "r", "x"), &err,
		     "/nonexistent/env");
	expect_error(PARSE(&o, &err, "run", "--user", "", "r", "x"), &err, "--user");
	expect_error(PARSE(&o, &err, "run", "--network", "bad/name", "r", "x"), &err,
		     "invalid network name");
	expect_error(PARSE(&o, &err, "run", "--userns", "auto", "r", "x"), &err,
		     "--userns auto: use host or private");
}
END_TEST

START_TEST(tmpfs_options)
{
	struct nb_tmpfs_mount m;
	struct nb_err err;

	ck_assert_int_eq(nb_tmpfs_parse("/run", &m, &err), 0);
	ck_assert_str_eq(m.path, "/run");
	ck_assert_uint_eq(m.flags, MS_NOSUID | MS_NODEV | MS_NOEXEC); /* Docker's default */
	ck_assert_str_eq(m.data, "mode=1777");
	ck_assert_int_eq(nb_tmpfs_parse("/scratch:exec,ro,size=64m,mode=700,suid", &m, &err), 0);
	ck_assert_str_eq(m.path, "/scratch");
	ck_assert_uint_eq(m.flags, MS_NODEV | MS_RDONLY);
	ck_assert_str_eq(m.data, "mode=700,size=64m");
	ck_assert_int_eq(nb_tmpfs_parse("/x:size=99999999999999999", &m, &err), -1);
	ck_assert_int_eq(nb_tmpfs_parse("/x:size=1t", &m, &err), -1);
	ck_assert_int_eq(nb_tmpfs_parse("/x:", &m, &err), -1);
}
END_TEST

START_TEST(namespaces)
{
	struct nb_run_options o;
	struct nb_err err;

	ck_assert_int_eq(PARSE(&o, &err, "run", "r", "x"), 0);
	ck_assert_uint_eq(o.container.namespaces, 0);
	ck_assert_int_eq(PARSE(&o, &err, "run", "--network", "none", "--userns", "private", "r",
			       "x"),
			 0);
	ck_assert_uint_eq(o.container.namespaces, NB_NS_NET | NB_NS_USER);
	ck_assert_int_eq(PARSE(&o, &err, "run", "--network", "none", "--network", "host", "r", "x"),
			 0);
	ck_assert_uint_eq(o.container.namespaces, 0);
}
END_TEST

START_TEST(env_file)
{
	struct nb_run_options o;
	struct nb_err err;
	char path[] = "/tmp/nb-envfile.XXXXXX";
	int fd = mkstemp(path);
	const char text[] = "# comment\n\nA=1\r\nB=two words\n  # indented comment\nC=\n";

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (int)sizeof(text) - 1);
	close(fd);
	ck_assert_int_eq(PARSE(&o, &err, "run", "--env-file", path, "-e", "D=4", "r", "x"), 0);
	ck_assert_uint_eq(o.container.nenv, 4);
	ck_assert_str_eq(o.container.env[0], "A=1");
	ck_assert_str_eq(o.container.env[1], "B=two words");
	ck_assert_str_eq(o.container.env[2], "C=");
	ck_assert_str_eq(o.container.env[3], "D=4");
	nb_container_cli_free(&o);
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "=bad\n", 5), 5);
	close(fd);
	expect_error(PARSE(&o, &err, "run", "--env-file", path, "r", "x"), &err, ":1");
	nb_container_cli_free(&o);
	unlink(path);
}
END_TEST

START_TEST(entrypoint_and_spec)
{
	struct nb_run_options o;
	struct nb_err err;
	struct nb_spec spec = { 0 };
	struct nb_container_owned own;

	ck_assert_int_eq(PARSE(&o, &err, "run", "--entrypoint", "/bin/echo", "-m", "256m", "--cpus",
			       "2", "--cap-drop", "ALL", "--cap-add", "CHOWN", "r"),
			 0);
	ck_assert_uint_eq(o.argc, 0);
	spec.argv = o.argv;
	spec.argc = o.argc;
	ck_assert_msg(nb_container_spec(&o, &spec, &own, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(spec.argc, 1);
	ck_assert_str_eq(spec.argv[0], "/bin/echo");
	ck_assert_uint_eq(spec.memory_max, 256ull << 20); /* --memory, as in Docker */
	ck_assert_uint_eq(spec.cpu_quota_us, 200000);
	ck_assert_uint_eq(spec.cpu_period_us, 100000);
	ck_assert(spec.has_caps);
	ck_assert_uint_eq(spec.caps, 1);     /* CHOWN only */
	ck_assert_ptr_nonnull(spec.seccomp); /* the default profile */
	ck_assert_uint_eq(spec.seccomp_len % 8, 0);
	nb_container_owned_free(&own);
	nb_container_cli_free(&o);
	/* No --memory: no container limit (the VM size bounds it). */
	ck_assert_int_eq(PARSE(&o, &err, "run", "--security-opt", "seccomp=unconfined", "r", "x"),
			 0);
	memset(&spec, 0, sizeof(spec));
	ck_assert_int_eq(nb_container_spec(&o, &spec, &own, &err), 0);
	ck_assert_uint_eq(spec.memory_max, 0);
	ck_assert_ptr_null(spec.seccomp);
	ck_assert_uint_eq(spec.caps, NB_CAPS_DEFAULT);
	nb_container_owned_free(&own);
}
END_TEST

START_TEST(missing_profile_fails_in_spec)
{
	struct nb_run_options o;
	struct nb_err err;
	struct nb_spec spec = { 0 };
	struct nb_container_owned own;

	ck_assert_int_eq(PARSE(&o, &err, "run", "--security-opt", "seccomp=/nonexistent.json", "r",
			       "x"),
			 0);
	expect_error(nb_container_spec(&o, &spec, &own, &err), &err, "/nonexistent.json");
	nb_container_owned_free(&own);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli_container");
	TCase *tc = tcase_create("container");

	tcase_add_test(tc, all_options);
	tcase_add_test(tc, bad_values);
	tcase_add_test(tc, namespaces);
	tcase_add_test(tc, tmpfs_options);
	tcase_add_test(tc, env_file);
	tcase_add_test(tc, entrypoint_and_spec);
	tcase_add_test(tc, missing_profile_fails_in_spec);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
