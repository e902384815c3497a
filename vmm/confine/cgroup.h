/* --cgroup: the VMM's own cgroup v2 group on the host (the guest's
 * container has its own cgroups inside the guest; this is the other
 * side). Host only. */
#ifndef NESTBOX_VMM_CONFINE_CGROUP_H
#define NESTBOX_VMM_CONFINE_CGROUP_H

#include <limits.h>
#include <stdint.h>

#include "nestbox/err.h"

#define NB_CGROUP_ROOT "/sys/fs/cgroup"

struct nb_hostcg_limits {
	uint64_t memory_max;   /* bytes */
	uint32_t cpu_quota_us; /* per 100 ms period; 0: no limit */
	uint32_t cpu_weight;   /* cpu.weight (--cpu-shares); 0: the default */
	uint32_t pids_max;
};

struct nb_hostcg {
	char path[PATH_MAX]; /* NB_CGROUP_ROOT/PARENT/nestbox-PID */
};

struct nb_hostcg_usage {
	uint64_t memory_peak; /* bytes */
	uint64_t cpu_usec;
	uint64_t oom_kills;
};

/* The VMM overhead on top of guest RAM that memory.max allows: measured
 * (bench/confine.sh), with headroom; initrd_size is the initramfs's host
 * copy. */
uint64_t nb_hostcg_overhead(uint64_t guest_ram, uint64_t initrd_size);

/* Create PARENT (relative to NB_CGROUP_ROOT, made if missing, with the
 * memory, cpu and pids controllers delegated) and name this run's group in
 * it (cg->path); nothing of the group exists yet. Refuses up front when an
 * ancestor's memory.max is below limits->memory_max. */
int nb_hostcg_prepare(const char *parent, const struct nb_hostcg_limits *limits,
		      struct nb_hostcg *cg, struct nb_err *err);

/* Create the group nb_hostcg_prepare() named, with the limits. A run
 * records cg->path first (vmm/run/records.h), so a kill between the two
 * leaves nothing that gc cannot find. */
int nb_hostcg_create(const struct nb_hostcg *cg, const struct nb_hostcg_limits *limits,
		     struct nb_err *err);

/* Set the group's memory.max to bytes (a live snapshot of the VMM in it
 * is charged to it while its copy of guest RAM exists, vmm/run/monitor.c). */
int nb_hostcg_set_memory_max(const char *path, uint64_t bytes, struct nb_err *err);

/* Move the calling process into the group. */
int nb_hostcg_join(const struct nb_hostcg *cg, struct nb_err *err);

/* What the group used (fields it cannot read stay 0). */
void nb_hostcg_usage(const char *path, struct nb_hostcg_usage *usage);

/* Kill whatever is left in the group, wait (bounded) for it to empty and
 * remove it. 0 when it is gone. */
int nb_hostcg_remove(const char *path);

#endif
