/* `nestbox run -v HOST:GUEST[:ro][:direct]` and `-i` parsing. */
#include <check.h>
#include <stdlib.h>

#include "vmm/cli.h"
#include "unit/unit.h"

static int parse(struct nb_run_options *opts, int argc, char **argv)
{
	struct nb_err err = { 0 };

	return nb_cli_parse_run(argc, argv, "/nb", opts, &err);
}

START_TEST(volumes_and_interactive)
{
	char *argv[] = { "run", "-i", "-v", "/img/a:/data", "--volume", "/img/b:/ro:ro:direct",
			 "rootfs", "--", "cat", NULL };
	struct nb_run_options o;

	ck_assert_int_eq(parse(&o, 9, argv), 0);
	ck_assert(o.interactive);
	ck_assert_uint_eq(o.nvolumes, 2);
	ck_assert_str_eq(o.volumes[0].host, "/img/a");
	ck_assert_str_eq(o.volumes[0].guest, "/data");
	ck_assert(!o.volumes[0].read_only);
	ck_assert_str_eq(o.volumes[1].guest, "/ro");
	ck_assert(o.volumes[1].read_only && o.volumes[1].direct);
	ck_assert_str_eq(o.argv[0], "cat");
}
END_TEST

START_TEST(bad_volumes)
{
	static const char *const bad[] = { "/img", "/img:data", "/img:/a/../b", "/img:/..",
					   "/img:/d:rox", ":/d" };
	struct nb_run_options o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = { "run", "-v", (char *)bad[i], "rootfs", "true", NULL };

		ck_assert_msg(parse(&o, 5, argv) < 0, "%s accepted", bad[i]);
	}
}
END_TEST

START_TEST(too_many_volumes)
{
	char *argv[2 * NB_RUN_MAX_VOLUMES + 6];
	struct nb_run_options o;
	int n = 0;

	argv[n++] = "run";
	for (unsigned i = 0; i <= NB_RUN_MAX_VOLUMES; i++) {
		argv[n++] = "-v";
		argv[n++] = "/img:/d";
	}
	argv[n++] = "rootfs";
	argv[n++] = "true";
	argv[n] = NULL;
	ck_assert_int_lt(parse(&o, n, argv), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli_volume");
	TCase *tc = tcase_create("cli_volume");

	tcase_add_test(tc, volumes_and_interactive);
	tcase_add_test(tc, bad_volumes);
	tcase_add_test(tc, too_many_volumes);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
