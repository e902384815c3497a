/* Scaffolding for the unit tests of `nestbox run`'s options: parse an
 * argument list given inline, check a refusal's message. */
#ifndef NESTBOX_TESTS_UNIT_CLI_PARSE_H
#define NESTBOX_TESTS_UNIT_CLI_PARSE_H

#include <string.h>

#include "vmm/cli/cli.h"
#include "unit/unit.h"

static inline int parse(struct nb_run_options *opts, struct nb_err *err, int argc, char **argv)
{
	memset(err, 0, sizeof(*err));
	return nb_cli_parse_run(argc, argv, "/opt/nb", opts, err);
}

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(opts, err, ...) parse(opts, err, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static inline void expect_error(int rc, const struct nb_err *err, const char *want)
{
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(strstr(err->msg, want), "message \"%s\" lacks \"%s\"", err->msg, want);
}

#endif
