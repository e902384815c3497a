/* Docker's container options of `nestbox run` (-e, --env-file, -w, -u, -h,
 * --entrypoint, --pids-limit, --read-only, --init, --tmpfs, --cap-add, --cap-drop,
 * --security-opt, fractional --cpus): their parsing into struct
 * nb_run_options (vmm/run/container_spec.h puts them in the spec). */
#ifndef NESTBOX_VMM_CLI_CONTAINER_OPTS_H
#define NESTBOX_VMM_CLI_CONTAINER_OPTS_H

#include <getopt.h>

#include "common/spec.h"
#include "nestbox/err.h"
#include "vmm/run/run.h"
#include "vmm/run/container_spec.h"

#define NB_RUN_MAX_ENV 4096u /* NB_SPEC_MAX_ARGS */

enum {
	NB_OPT_ENV_FILE = 512,
	NB_OPT_ENTRYPOINT,
	NB_OPT_PIDS_LIMIT,
	NB_OPT_READ_ONLY,
	NB_OPT_TMPFS,
	NB_OPT_CAP_ADD,
	NB_OPT_CAP_DROP,
	NB_OPT_SECURITY_OPT,
	NB_OPT_USERNS,
	NB_OPT_DOCKER_INIT, /* --init: a flag, as Docker's */
	NB_OPT_HELP,
};

/* getopt_long entries, spliced into cli.c's table. */
#define NB_CONTAINER_LONG_OPTIONS                                                 \
	{ "env", required_argument, NULL, 'e' },                                  \
		{ "env-file", required_argument, NULL, NB_OPT_ENV_FILE },         \
		{ "workdir", required_argument, NULL, 'w' },                      \
		{ "user", required_argument, NULL, 'u' },                         \
		{ "hostname", required_argument, NULL, 'h' },                     \
		{ "entrypoint", required_argument, NULL, NB_OPT_ENTRYPOINT },     \
		{ "pids-limit", required_argument, NULL, NB_OPT_PIDS_LIMIT },     \
		{ "read-only", no_argument, NULL, NB_OPT_READ_ONLY },             \
		{ "init", no_argument, NULL, NB_OPT_DOCKER_INIT },                \
		{ "tmpfs", required_argument, NULL, NB_OPT_TMPFS },               \
		{ "cap-add", required_argument, NULL, NB_OPT_CAP_ADD },           \
		{ "cap-drop", required_argument, NULL, NB_OPT_CAP_DROP },         \
		{ "security-opt", required_argument, NULL, NB_OPT_SECURITY_OPT }, \
	{                                                                         \
		"userns", required_argument, NULL, NB_OPT_USERNS                  \
	}
#define NB_CONTAINER_SHORT_OPTIONS "e:w:u:h:"

/* Apply one container option. Returns 0, -1 with err set, or 1 if opt is
 * not a container option. */
int nb_container_cli_option(int opt, const char *arg, struct nb_run_options *opts,
			    struct nb_err *err);

/* --cpus N or a fraction (0.5, 1.5): vCPUs = ceil, cpu.max quota = N *
 * period. */
int nb_container_cli_cpus(const char *arg, unsigned max_vcpus, struct nb_run_options *opts,
			  struct nb_err *err);

/* Free what the container options allocated (env). */
void nb_container_cli_free(struct nb_run_options *opts);

#endif
