#include "vmm/cli/resource_opts.h"

#include <string.h>

#include "common/parse.h"
#include "vmm/kvm/memory.h"
#include "vmm/run/resources.h"

#define SHARES_MIN 2u
#define SHARES_MAX 262144u

static int parse_size(const char *opt, const char *arg, uint64_t *bytes, struct nb_err *err)
{
	if (nb_parse_size(arg, bytes, err) < 0)
		return nb_err_wrap(err, "%s", opt);
	return 0;
}

int nb_resource_cli_option(int opt, const char *arg, struct nb_run_options *opts,
			   struct nb_err *err)
{
	struct nb_run_container *c = &opts->container;
	struct nb_run_resources *r = &opts->res;
	uint64_t v;

	switch (opt) {
	case 'm':
		if (parse_size("--memory", arg, &v, err) < 0)
			return -1;
		if (v < NB_MEMORY_MIN || nb_guest_ram_for(v) > NB_MEM_MAX || v >= NB_MEM_MAX)
			return nb_err_set(err, 0, "--memory %s: use %llu MiB to %llu GiB", arg,
					  NB_MEMORY_MIN >> 20, (NB_MEM_MAX >> 30) / 2);
		c->memory_max = v;
		return 0;
	case NB_OPT_MEMORY_SWAP:
		r->memory_swap = UINT64_MAX;
		return strcmp(arg, "-1") == 0
			       ? 0
			       : parse_size("--memory-swap", arg, &r->memory_swap, err);
	case NB_OPT_MEMORY_RESERVATION:
		if (parse_size("--memory-reservation", arg, &c->memory_low, err) < 0)
			return -1;
		if (c->memory_low == 0)
			return nb_err_set(err, 0, "--memory-reservation %s: use a size above 0",
					  arg);
		return 0;
	case NB_OPT_MEMORY_PREALLOC:
		r->prealloc = true;
		return 0;
	case NB_OPT_MEMORY_HUGEPAGES:
		r->hugetlb = true;
		return 0;
	case NB_OPT_CPUSET_CPUS:
		r->pinned = true;
		if (nb_cpulist_parse(arg, &r->cpuset, err) < 0)
			return nb_err_wrap(err, "--cpuset-cpus");
		return 0;
	case 'c':
		if (nb_parse_u64("--cpu-shares", arg, SHARES_MIN, SHARES_MAX, &v, err) < 0)
			return -1;
		c->cpu_weight = nb_cpu_shares_to_weight(v);
		return 0;
	default:
		return 1;
	}
}

int nb_resource_cli_check(struct nb_run_options *opts, struct nb_err *err)
{
	struct nb_run_container *c = &opts->container;
	uint64_t swap = opts->res.memory_swap;

	if (swap && !c->memory_max)
		return nb_err_set(err, 0, "--memory-swap needs --memory (as in Docker)");
	if (swap && swap != UINT64_MAX && swap < c->memory_max)
		return nb_err_set(err, 0,
				  "--memory-swap must be at least --memory (it is memory "
				  "plus swap, as in Docker)");
	if (swap && swap != UINT64_MAX && swap > c->memory_max)
		return nb_err_set(err, 0,
				  "--memory-swap: nestbox guests have no swap device; give "
				  "--memory-swap equal to --memory, -1, or leave it out");
	if (c->memory_low && c->memory_max && c->memory_low > c->memory_max)
		return nb_err_set(err, 0,
				  "--memory-reservation must be at most --memory (as in Docker)");
	if (c->memory_max)
		opts->mem_size = nb_guest_ram_for(c->memory_max);
	return 0;
}
