/* Command-line parsing: options validated with no side effects. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli/cli.h"
#include "vmm/kvm/memory.h"
#include "unit/cli_parse.h"
#include "unit/unit.h"

START_TEST(defaults_and_command)
{
	struct nb_run_options o;
	struct nb_err err;

	char *argv[] = { "run", "rootfs", "--", "/bin/sh", "-c", "exit 3", NULL };

	/* opts points into argv: it must outlive the checks. */
	ck_assert_int_eq(parse(&o, &err, 6, argv), 0);
	ck_assert_str_eq(o.rootfs, "rootfs");
	ck_assert_uint_eq(o.argc, 3);
	ck_assert_str_eq(o.argv[0], "/bin/sh");
	ck_assert_str_eq(o.argv[2], "exit 3");
	ck_assert_str_eq(o.kernel_path, "/opt/nb/vmlinux");
	ck_assert_str_eq(o.init_path, "/opt/nb/nestbox-init");
	ck_assert_uint_eq(o.cpus, 1);
	ck_assert_uint_eq(o.mem_size, 512ull << 20);
}
END_TEST

START_TEST(options_stop_at_rootfs)
{
	struct nb_run_options o;
	struct nb_err err;

	char *argv[] = { "run", "--cpus", "2", "-m", "1g", "rootfs", "ls", "--cpus", "-m", NULL };

	/* The command's own options are not nestbox's, even without "--". */
	ck_assert_int_eq(parse(&o, &err, 9, argv), 0);
	ck_assert_uint_eq(o.cpus, 2);
	ck_assert_uint_eq(o.container.memory_max, 1ull << 30);
	ck_assert_uint_eq(o.argc, 3);
	ck_assert_str_eq(o.argv[1], "--cpus");
}
END_TEST

START_TEST(overrides)
{
	struct nb_run_options o;
	struct nb_err err;

	char *argv[] = { "run", "--kernel",      "/k",    "--guest-init", "/i", "--timeout",
			 "5",   "--kernel-args", "debug", "--stats",      "r",  "true",
			 NULL };

	ck_assert_int_eq(parse(&o, &err, 12, argv), 0);
	ck_assert_str_eq(o.kernel_path, "/k");
	ck_assert_str_eq(o.init_path, "/i");
	ck_assert_uint_eq(o.timeout_sec, 5);
	ck_assert_str_eq(o.kernel_args, "debug");
	ck_assert(o.stats);
}
END_TEST

START_TEST(bad_values_named)
{
	struct nb_run_options o;
	struct nb_err err;

	ck_assert_int_eq(PARSE(&o, &err, "run", "--cpus", "0", "r", "true"), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "--cpus"));
	ck_assert_int_eq(PARSE(&o, &err, "run", "--cpus", "33", "r", "true"), -1);
	ck_assert_int_eq(PARSE(&o, &err, "run", "--cpus", "2x", "r", "true"), -1);
	ck_assert_int_eq(PARSE(&o, &err, "run", "--memory", "3m", "r", "true"), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "use 6 MiB"));
	ck_assert_int_eq(PARSE(&o, &err, "run", "--memory", "5m", "r", "true"), -1);
	ck_assert_int_eq(PARSE(&o, &err, "run", "--timeout", "0", "r", "true"), -1);
	ck_assert_int_eq(PARSE(&o, &err, "run", "--bogus", "r", "true"), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "--bogus"));
	ck_assert_int_eq(PARSE(&o, &err, "run", "--cpus"), -1);
	ck_assert_int_eq(PARSE(&o, &err, "run"), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "missing IMAGE"));
	ck_assert_int_eq(PARSE(&o, &err, "run", "/tmp", "--"),
			 -1); /* a directory: no default command */
	ck_assert_ptr_nonnull(strstr(err.msg, "missing COMMAND"));
	/* An image reference brings its own command. */
	ck_assert_int_eq(PARSE(&o, &err, "run", "localhost:5000/busybox:test"), 0);
	ck_assert_uint_eq(o.argc, 0);
}
END_TEST

START_TEST(help)
{
	struct nb_run_options o;
	struct nb_err err;

	ck_assert_int_eq(PARSE(&o, &err, "run", "--help"), 1);
	/* -h is --hostname, as in Docker; only --help is help. */
	ck_assert_int_eq(PARSE(&o, &err, "run", "-h", "box", "r", "x"), 0);
	ck_assert_str_eq(o.container.hostname, "box");
}
END_TEST

/* Docker's --init is a flag: the next word is the IMAGE, not its value;
 * nestbox's own init binary is --guest-init PATH. */
START_TEST(init_is_a_flag)
{
	struct nb_run_options o;
	struct nb_err err;
	/* opts points into argv: the arrays outlive the checks. */
	char *flag[] = { "run", "--init", "localhost:5000/img", "true", NULL };
	char *both[] = { "run", "--guest-init", "/x/init", "--init", "r", "true", NULL };

	ck_assert_int_eq(parse(&o, &err, 4, flag), 0);
	ck_assert(o.container.init);
	ck_assert_str_eq(o.rootfs, "localhost:5000/img");
	ck_assert_uint_eq(o.argc, 1);
	ck_assert_str_eq(o.argv[0], "true");
	ck_assert_str_eq(o.init_path, "/opt/nb/nestbox-init");
	ck_assert_int_eq(PARSE(&o, &err, "run", "r", "true"), 0);
	ck_assert(!o.container.init);
	ck_assert_int_eq(parse(&o, &err, 6, both), 0);
	ck_assert_str_eq(o.init_path, "/x/init");
	ck_assert(o.container.init);
	/* --init takes no value; --guest-init needs one. */
	ck_assert_int_eq(PARSE(&o, &err, "run", "--init=/x/init", "r", "true"), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "--init=/x/init"));
	ck_assert_int_eq(PARSE(&o, &err, "run", "--guest-init"), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "--guest-init"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("run");

	tcase_add_test(tc, defaults_and_command);
	tcase_add_test(tc, options_stop_at_rootfs);
	tcase_add_test(tc, overrides);
	tcase_add_test(tc, bad_values_named);
	tcase_add_test(tc, help);
	tcase_add_test(tc, init_is_a_flag);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
