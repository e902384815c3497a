/* The supervised run behind --jail and --cgroup (struct nb_run_confine,
 * parsed by vmm/cli/confine_opts.c), and those options' checks: a parent
 * process that sets up the cgroup, forks the VMM into it (and into
 * the jail), forwards signals, waits, reports the group's usage and
 * removes what the run created. Host only. */
#ifndef NESTBOX_VMM_RUN_SUPERVISOR_H
#define NESTBOX_VMM_RUN_SUPERVISOR_H

#include <stdint.h>
#include <stdio.h>

#include "nestbox/err.h"
#include "vmm/run/network.h"
#include "vmm/run/run.h"

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
 * running body (jailed with the files in jail_paths exposed, and net's tap
 * opened before), its status in *status. A failure of the child's is
 * reported (opts->report), its status passed on. */
struct nb_jail_paths;
int nb_confine_run(const struct nb_run_options *opts, struct nb_jail_paths *paths,
		   uint64_t initrd_size, struct nb_network *net, nb_confine_body *body, void *arg,
		   int *status, struct nb_err *err);

#endif
