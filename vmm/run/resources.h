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

/* `nestbox update --memory` on a running VM of `ram` bytes of guest RAM
 * (no hotplug: never more): the largest container limit that RAM holds,
 * i.e. the --memory it booted with (boot_limit), or without one the
 * largest limit whose nb_guest_ram_for() fits in ram. */
uint64_t nb_memory_limit_max(uint64_t ram, uint64_t boot_limit);

/* Is limit a container limit the running VM can take: a multiple of
 * 4 KiB, from NB_MEMORY_MIN to nb_memory_limit_max(), and at least
 * --memory-reservation (reservation; 0: none)? err says why not. */
int nb_memory_update_check(uint64_t ram, uint64_t boot_limit, uint64_t reservation, uint64_t limit,
			   struct nb_err *err);

/* The balloon that leaves the guest what limit needs (ram -
 * nb_guest_ram_for(limit), 0 when that is all of it). */
uint64_t nb_balloon_for_limit(uint64_t ram, uint64_t limit);

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
