/* Resources as in Docker, guaranteed as a VM (issue 15): what --memory
 * means for the guest's RAM, --cpu-shares as a cgroup v2 weight, and
 * --cpuset-cpus lists checked against the host. Pure functions but for
 * nb_cpuset_check_host(); host only. */
#ifndef NESTBOX_VMM_RUN_RESOURCES_H
#define NESTBOX_VMM_RUN_RESOURCES_H

#include <sched.h>
#include <stdint.h>

#include "nestbox/err.h"

/* The guest's own memory on top of the container's --memory (measured in
 * the test host, README "Memory"): the kernel's image and reservations,
 * nestbox-init and the initramfs's files, slab and page tables, and page
 * cache headroom outside the container's cgroup, a fixed part; plus the
 * page structures (64 bytes per 4 KiB page) and page tables that grow
 * with RAM, a 1/NB_GUEST_OVERHEAD_SHIFT part. */
#define NB_GUEST_OVERHEAD_FIXED (40ull << 20)
#define NB_GUEST_OVERHEAD_SHIFT 5  /* 1/32 of the limit */
#define NB_MEMORY_MIN (6ull << 20) /* Docker's minimum --memory */
#define NB_CPU_PERIOD_US 100000u

/* Guest RAM for a container limited to `limit` bytes: limit plus the
 * overhead, rounded up to 2 MiB. */
uint64_t nb_guest_ram_for(uint64_t limit);

/* Docker's --cpu-shares (2..262144) as cgroup v2 cpu.weight (1..10000),
 * runc's mapping: 1 + (shares - 2) * 9999 / 262142. */
uint32_t nb_cpu_shares_to_weight(uint64_t shares);

/* A CPU list as in cpuset.cpus ("0-3,8,10-11") into *set. Errors name
 * what was wrong; CPUs at or beyond CPU_SETSIZE are refused. */
int nb_cpulist_parse(const char *text, cpu_set_t *set, struct nb_err *err);

/* Every CPU of set is online on this host (online: the host's list, as
 * in /sys/devices/system/cpu/online). */
int nb_cpuset_check(const cpu_set_t *set, const char *online, struct nb_err *err);

/* The same against /sys/devices/system/cpu/online. */
int nb_cpuset_check_host(const cpu_set_t *set, struct nb_err *err);

#endif
