/* Host confinement options of `nestbox run` (--seccomp-log, --jail, --uid,
 * --gid, --cgroup): their parsing into struct nb_run_confine (the
 * supervised run behind them is vmm/run/supervisor.h). Host only. */
#ifndef NESTBOX_VMM_CLI_CONFINE_OPTS_H
#define NESTBOX_VMM_CLI_CONFINE_OPTS_H

#include <getopt.h>

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
#define NB_CONFINE_LONG_OPTIONS                                   \
	{ "seccomp-log", no_argument, NULL, NB_OPT_SECCOMP_LOG }, \
		{ "jail", required_argument, NULL, NB_OPT_JAIL }, \
		{ "uid", required_argument, NULL, NB_OPT_UID },   \
		{ "gid", required_argument, NULL, NB_OPT_GID },   \
	{                                                         \
		"cgroup", required_argument, NULL, NB_OPT_CGROUP  \
	}

#define NB_CONFINE_USAGE                                                                             \
	"      --seccomp-log      log (do not kill) VMM syscalls outside their thread's allowlist\n" \
	"                         (nestbox seccomp-dump lists them)\n"                               \
	"      --jail DIR --uid U --gid G\n"                                                         \
	"                         run the VMM in new mount, PID, network, IPC and UTS namespaces,\n" \
	"                         rooted at DIR (an empty tmpfs holding only /dev/kvm and the\n"     \
	"                         disks and sockets this VM uses), as U:G without capabilities\n"    \
	"      --cgroup PARENT    run the VMM in a new cgroup v2 group under PARENT (relative to\n"  \
	"                         /sys/fs/cgroup; created if missing) with memory.max = guest RAM\n" \
	"                         + VMM overhead, cpu.max from --cpus, a small pids.max; removed\n"  \
	"                         at exit (--stats adds its peak memory and CPU time)\n"

/* Parse one confinement option: 0 done, -1 error, 1 not one of ours. */
int nb_confine_cli_option(int opt, const char *arg, struct nb_run_options *opts,
			  struct nb_err *err);

#endif
