/* Image config + command line -> argv, env, workdir, user (Docker's rules). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "images/runplan.h"
#include "unit/unit.h"

static char *sv_ep[] = { "/bin/sh", "-c", NULL };
static char *sv_cmd[] = { "echo hi", NULL };
static char *sv_env[] = { "PATH=/img", "A=1", NULL };

static struct nb_image_config image(void)
{
	return (struct nb_image_config){
		.entrypoint = sv_ep, .cmd = sv_cmd, .env = sv_env, .workdir = "/w", .user = "1:2"
	};
}

static char *joined(char **v)
{
	static char buf[512];

	buf[0] = '\0';
	for (size_t i = 0; v && v[i]; i++) {
		strcat(buf, i ? "|" : "");
		strcat(buf, v[i]);
	}
	return buf;
}

START_TEST(image_defaults)
{
	struct nb_image_config cfg = image();
	struct nb_run_overrides o = { 0 };
	struct nb_run_plan p;
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_run_plan_build(&cfg, &o, &p, &err), 0);
	ck_assert_str_eq(joined(p.argv), "/bin/sh|-c|echo hi");
	ck_assert_str_eq(joined(p.env), "PATH=/img|A=1");
	ck_assert_str_eq(p.workdir, "/w");
	ck_assert_str_eq(p.user, "1:2");
	nb_run_plan_free(&p);
}
END_TEST

START_TEST(overrides)
{
	struct nb_image_config cfg = image();
	const char *argv[] = { "ls", "-l" }, *env[] = { "A=2", "B=3" };
	struct nb_run_overrides o = {
		.argv = argv, .argc = 2, .env = env, .nenv = 2, .workdir = "/x", .user = "0"
	};
	struct nb_run_plan p;
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_run_plan_build(&cfg, &o, &p, &err), 0);
	ck_assert_str_eq(joined(p.argv), "/bin/sh|-c|ls|-l"); /* COMMAND replaces Cmd only */
	ck_assert_str_eq(joined(p.env), "PATH=/img|A=2|B=3");
	ck_assert_str_eq(p.workdir, "/x");
	ck_assert_str_eq(p.user, "0");
	nb_run_plan_free(&p);
	/* --entrypoint drops the image's Cmd; "" clears the entrypoint. */
	o = (struct nb_run_overrides){ .entrypoint = "/bin/true" };
	ck_assert_int_eq(nb_run_plan_build(&cfg, &o, &p, &err), 0);
	ck_assert_str_eq(joined(p.argv), "/bin/true");
	nb_run_plan_free(&p);
	o = (struct nb_run_overrides){ .entrypoint = "", .argv = argv, .argc = 1 };
	ck_assert_int_eq(nb_run_plan_build(&cfg, &o, &p, &err), 0);
	ck_assert_str_eq(joined(p.argv), "ls");
	nb_run_plan_free(&p);
}
END_TEST

START_TEST(errors_and_defaults)
{
	struct nb_image_config empty = { 0 };
	struct nb_run_overrides o = { 0 };
	const char *argv[] = { "sh" }, *bad_env[] = { "=x" };
	struct nb_run_plan p;
	struct nb_err err = { 0 };

	ck_assert_int_lt(nb_run_plan_build(&empty, &o, &p, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "give a COMMAND"));
	o.argv = argv;
	o.argc = 1;
	ck_assert_int_eq(nb_run_plan_build(&empty, &o, &p, &err), 0);
	ck_assert_str_eq(joined(p.env), NB_DEFAULT_PATH);
	ck_assert_ptr_null(p.workdir);
	nb_run_plan_free(&p);
	o.env = bad_env;
	o.nenv = 1;
	ck_assert_int_lt(nb_run_plan_build(&empty, &o, &p, &err), 0);
	o.nenv = 0;
	o.workdir = "relative";
	ck_assert_int_lt(nb_run_plan_build(&empty, &o, &p, &err), 0);
	ck_assert_ptr_null(p.argv);
}
END_TEST

/* A template boot's fallback: only when nothing else names a command. */
START_TEST(template_fallback)
{
	struct nb_image_config cfg = image(), empty = { 0 };
	struct nb_run_overrides o = { .fallback = "true" };
	struct nb_run_plan p;
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_run_plan_build(&cfg, &o, &p, &err), 0);
	ck_assert_str_eq(joined(p.argv), "/bin/sh|-c|echo hi");
	nb_run_plan_free(&p);
	ck_assert_int_eq(nb_run_plan_build(&empty, &o, &p, &err), 0);
	ck_assert_str_eq(joined(p.argv), "true");
	nb_run_plan_free(&p);
	o.entrypoint = ""; /* cleared, and no Cmd follows it */
	ck_assert_int_eq(nb_run_plan_build(&cfg, &o, &p, &err), 0);
	ck_assert_str_eq(joined(p.argv), "true");
	nb_run_plan_free(&p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("runplan");
	TCase *tc = tcase_create("runplan");

	tcase_add_test(tc, image_defaults);
	tcase_add_test(tc, overrides);
	tcase_add_test(tc, errors_and_defaults);
	tcase_add_test(tc, template_fallback);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
