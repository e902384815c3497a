/* Host confinement options of `nestbox run` (--seccomp-log, --jail, --uid,
 * --gid, --cgroup) and the supervised run behind --jail and --cgroup: a
 * parent process that sets up the cgroup, forks the VMM into it (and into
 * the jail), forwards signals, waits, reports the group's usage and
 * removes what the run created. Host only. */
#ifndef NESTBOX_VMM_CONFINE_SUPERVISOR_H
#define NESTBOX_VMM_CONFINE_SUPERVISOR_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "nestbox/err.h"
#include "vmm/run/run.h"

enum {
	NB_OPT_SECCOMP_LOG = 1280,
	NB_OPT_JAIL,
	NB_OPT_UID,
	NB_OPT_GID,
	NB_OPT_CGROUP,
};

/* getopt_long entries, spliced into cli.c's table. */
#define NB_CONFINE_LONG_OPTIONS                                                \
	{ "seccomp-log", no_argument, NULL, NB_OPT_SECCOMP_LOG },              \
	{ "jail", required_argument, NULL, NB_OPT_JAIL },                      \
	{ "uid", required_argument, NULL, NB_OPT_UID },                        \
	{ "gid", required_argument, NULL, NB_OPT_GID },                        \
	{ "cgroup", required_argument, NULL, NB_OPT_CGROUP }

#define NB_CONFINE_USAGE                                                                          \
	"      --seccomp-log      log (do not kill) VMM syscalls outside their thread's allowlist\n" \
	"                         (nestbox seccomp-dump lists them)\n"                              \
	"      --jail DIR --uid U --gid G\n"                                                        \
	"                         run the VMM in new mount, PID, network, IPC and UTS namespaces,\n" \
	"                         rooted at DIR (an empty tmpfs holding only /dev/kvm and the\n"    \
	"                         disks and sockets this VM uses), as U:G without capabilities\n"   \
	"      --cgroup PARENT    run the VMM in a new cgroup v2 group under PARENT (relative to\n" \
	"                         /sys/fs/cgroup; created if missing) with memory.max = guest RAM\n" \
	"                         + VMM overhead, cpu.max from --cpus, a small pids.max; removed\n"  \
	"                         at exit (--stats adds its peak memory and CPU time)\n"

/* Parse one confinement option: 0 done, -1 error, 1 not one of ours. */
int nb_confine_cli_option(int opt, const char *arg, struct nb_run_options *opts,
			  struct nb_err *err);

/* Options that only make sense together (--uid without --jail, ...). */
int nb_confine_check(const struct nb_run_options *opts, struct nb_err *err);

/* Refuse guest RAM larger than the host's. */
int nb_confine_check_memory(const struct nb_run_options *opts, struct nb_err *err);

/* True when the run needs the supervising parent (--jail or --cgroup). */
bool nb_confine_supervised(const struct nb_run_options *opts);

/* The VMM's part of a run, called in the confined child. */
typedef int nb_confine_body(void *arg, const struct nb_run_options *opts, int *status,
			    struct nb_err *err);

/* Supervised run: the cgroup, the run record (for nestbox gc), the child
 * running body (jailed with the files in jail_paths exposed), its status
 * in *status. */
struct nb_jail_paths;
int nb_confine_run(const struct nb_run_options *opts, struct nb_jail_paths *paths,
		   uint64_t initrd_size, nb_confine_body *body, void *arg, int *status,
		   struct nb_err *err);

#endif
