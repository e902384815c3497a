/* `nestbox run -d` and its options (-d, --name, --rm, --log-opt; issue 15):
 * their parsing into struct nb_run_detach, and the detached run: the VM's
 * directory and config (vmm/run/vmdir.h), the monitor (vmm/run/monitor.h),
 * the id printed once the VM started. */
#ifndef NESTBOX_VMM_CLI_DETACH_OPTS_H
#define NESTBOX_VMM_CLI_DETACH_OPTS_H

#include <getopt.h>

#include "nestbox/err.h"
#include "vmm/run/run.h"

enum {
	NB_OPT_NAME = 1536,
	NB_OPT_RM,
	NB_OPT_LOG_OPT,
};

#define NB_DETACH_SHORT_OPTIONS "d"

#define NB_DETACH_LONG_OPTIONS                                                                  \
	{ "detach", no_argument, NULL, 'd' }, { "name", required_argument, NULL, NB_OPT_NAME }, \
		{ "rm", no_argument, NULL, NB_OPT_RM },                                         \
	{                                                                                       \
		"log-opt", required_argument, NULL, NB_OPT_LOG_OPT                              \
	}

#define NB_DETACH_USAGE                                                                                \
	"  -d, --detach           run in the background: print the VM's id once it started; see\n"     \
	"                         nestbox ps, logs, stop, kill, wait, rm, inspect, events, stats\n"    \
	"      --name NAME        name the VM (unique; [a-zA-Z0-9][a-zA-Z0-9_.-]+)\n"                  \
	"      --rm               with -d: remove the VM when it exits (without -d nothing is kept)\n" \
	"      --log-opt max-size=SIZE|max-file=N\n"                                                   \
	"                         bound each of a detached VM's logs (default 10m, 3 files)\n"

/* Parse one detach option: 0 done, -1 error, 1 not one of ours. */
int nb_detach_cli_option(int opt, const char *arg, struct nb_run_options *opts, struct nb_err *err);

/* After parsing: the defaults, and what -d cannot go with. */
int nb_detach_cli_check(struct nb_run_options *opts, struct nb_err *err);

/* run -d: make the VM's directory (argv: `run`'s own, for the config),
 * start it detached, print its id. */
int nb_detach_run(struct nb_run_options *opts, int argc, char **argv, int *status,
		  struct nb_err *err);

#endif
