/* Resource options of `nestbox run`, as in Docker (-m/--memory,
 * --memory-swap, --memory-reservation, -c/--cpu-shares, --cpuset-cpus)
 * plus nestbox's --memory-prealloc and --memory-hugepages: their parsing
 * into struct nb_run_options (vmm/run/resources.h says what they mean for
 * the VM). --cpus is a container option (container_opts.h). */
#ifndef NESTBOX_VMM_CLI_RESOURCE_OPTS_H
#define NESTBOX_VMM_CLI_RESOURCE_OPTS_H

#include <getopt.h>

#include "nestbox/err.h"
#include "vmm/run/run.h"

enum {
	NB_OPT_MEMORY_SWAP = 2048,
	NB_OPT_MEMORY_RESERVATION,
	NB_OPT_MEMORY_PREALLOC,
	NB_OPT_MEMORY_HUGEPAGES,
	NB_OPT_CPUSET_CPUS,
};

/* getopt_long entries, spliced into cli.c's table. */
#define NB_RESOURCE_LONG_OPTIONS                                                              \
	{ "memory", required_argument, NULL, 'm' },                                           \
		{ "memory-swap", required_argument, NULL, NB_OPT_MEMORY_SWAP },               \
		{ "memory-reservation", required_argument, NULL, NB_OPT_MEMORY_RESERVATION }, \
		{ "memory-prealloc", no_argument, NULL, NB_OPT_MEMORY_PREALLOC },             \
		{ "memory-hugepages", no_argument, NULL, NB_OPT_MEMORY_HUGEPAGES },           \
		{ "cpuset-cpus", required_argument, NULL, NB_OPT_CPUSET_CPUS },               \
	{                                                                                     \
		"cpu-shares", required_argument, NULL, 'c'                                    \
	}
#define NB_RESOURCE_SHORT_OPTIONS "m:c:"

#define NB_RESOURCE_USAGE                                                                            \
	"  -m, --memory SIZE      the container's memory limit (memory.max = SIZE, as in Docker;\n"  \
	"                         at least 6m); the VM gets SIZE plus the guest's own overhead\n"    \
	"                         (40 MiB + SIZE/32, README \"Memory\"). Default: a 512 MiB VM,\n"   \
	"                         memory.max unlimited. Guest RAM is not preallocated, and free\n"   \
	"                         pages go back to the host (virtio-balloon page reporting)\n"       \
	"      --memory-swap SIZE memory plus swap, as in Docker: the guest has no swap, so only\n"  \
	"                         SIZE equal to --memory or -1 is accepted\n"                        \
	"      --memory-reservation SIZE  soft limit (memory.low in the guest), at most --memory\n"  \
	"      --memory-prealloc  guaranteed RAM: fault in and lock all guest RAM at start (needs\n" \
	"                         RLIMIT_MEMLOCK or CAP_IPC_LOCK), from the host's hugetlb pool\n"   \
	"                         if it has enough free 2 MiB pages, else transparent huge pages;\n" \
	"                         no memory goes back to the host while it runs\n"                   \
	"      --memory-hugepages guest RAM from the host's hugetlb pool or fail\n"                  \
	"      --cpus N           vCPUs = N rounded up (1 to 32, default 1); a fraction also caps\n" \
	"                         the container's CPU time (cpu.max = N x 100ms per 100ms)\n"        \
	"      --cpuset-cpus LIST host CPUs the vCPU threads may run on (e.g. 0-3,8)\n"              \
	"  -c, --cpu-shares N     relative CPU weight, 2 to 262144 (Docker's; cpu.weight in the\n"   \
	"                         guest, and of the VMM's group with --cgroup)\n"

/* Apply one resource option. Returns 0, -1 with err set, or 1 if opt is
 * not a resource option. */
int nb_resource_cli_option(int opt, const char *arg, struct nb_run_options *opts,
			   struct nb_err *err);

/* After all options: the VM's RAM from --memory, and the options that
 * depend on it (--memory-swap, --memory-reservation) checked. */
int nb_resource_cli_check(struct nb_run_options *opts, struct nb_err *err);

#endif
