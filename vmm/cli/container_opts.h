/* Docker's container options of `nestbox run` (-e, --env-file, -w, -u, -h,
 * --entrypoint, --pids-limit, --read-only, --tmpfs, --cap-add, --cap-drop,
 * --security-opt, fractional --cpus) and their translation into the
 * workload spec. Host only. */
#ifndef NESTBOX_VMM_CLI_CONTAINER_OPTS_H
#define NESTBOX_VMM_CLI_CONTAINER_OPTS_H

#include <getopt.h>

#include "common/spec.h"
#include "nestbox/err.h"
#include "vmm/run/run.h"
#include "vmm/run/container_seccomp.h"

/* What the guest keeps for itself out of --memory (kernel, nestbox-init,
 * the initramfs with the rootfs, page tables): memory.max is --memory minus
 * this, so the container's OOM comes before the guest's. */
#define NB_GUEST_RESERVE (64ull << 20)
#define NB_RUN_MAX_ENV 4096u /* NB_SPEC_MAX_ARGS */
#define NB_CPU_PERIOD_US 100000u

enum {
	NB_OPT_ENV_FILE = 512,
	NB_OPT_ENTRYPOINT,
	NB_OPT_PIDS_LIMIT,
	NB_OPT_READ_ONLY,
	NB_OPT_TMPFS,
	NB_OPT_CAP_ADD,
	NB_OPT_CAP_DROP,
	NB_OPT_SECURITY_OPT,
	NB_OPT_NETWORK,
	NB_OPT_USERNS,
	NB_OPT_HELP,
};

/* getopt_long entries, spliced into cli.c's table. */
#define NB_CONTAINER_LONG_OPTIONS                                              \
	{ "env", required_argument, NULL, 'e' },                               \
	{ "env-file", required_argument, NULL, NB_OPT_ENV_FILE },              \
	{ "workdir", required_argument, NULL, 'w' },                           \
	{ "user", required_argument, NULL, 'u' },                              \
	{ "hostname", required_argument, NULL, 'h' },                          \
	{ "entrypoint", required_argument, NULL, NB_OPT_ENTRYPOINT },          \
	{ "pids-limit", required_argument, NULL, NB_OPT_PIDS_LIMIT },          \
	{ "read-only", no_argument, NULL, NB_OPT_READ_ONLY },                  \
	{ "tmpfs", required_argument, NULL, NB_OPT_TMPFS },                    \
	{ "cap-add", required_argument, NULL, NB_OPT_CAP_ADD },                \
	{ "cap-drop", required_argument, NULL, NB_OPT_CAP_DROP },              \
	{ "security-opt", required_argument, NULL, NB_OPT_SECURITY_OPT },      \
	{ "network", required_argument, NULL, NB_OPT_NETWORK },                \
	{ "userns", required_argument, NULL, NB_OPT_USERNS }
#define NB_CONTAINER_SHORT_OPTIONS "e:w:u:h:"

/* Apply one container option. Returns 0, -1 with err set, or 1 if opt is
 * not a container option. */
int nb_container_cli_option(int opt, const char *arg, struct nb_run_options *opts,
			    struct nb_err *err);

/* --cpus N or a fraction (0.5, 1.5): vCPUs = ceil, cpu.max quota = N *
 * period. */
int nb_container_cli_cpus(const char *arg, unsigned max_vcpus, struct nb_run_options *opts,
			  struct nb_err *err);

/* What nb_container_spec() allocates for the spec it fills. */
struct nb_container_owned {
	struct nb_seccomp_bpf bpf; /* the compiled filter spec->seccomp points into */
	const char **argv;         /* with --entrypoint */
};

/* Fill spec's container fields from opts (spec->argv already set from
 * COMMAND; --entrypoint replaces it). Free own after encoding with
 * nb_container_owned_free(), also on failure. */
int nb_container_spec(const struct nb_run_options *opts, struct nb_spec *spec,
		      struct nb_container_owned *own, struct nb_err *err);
void nb_container_owned_free(struct nb_container_owned *own);

/* Free what the container options allocated (env). */
void nb_container_cli_free(struct nb_run_options *opts);

#endif
