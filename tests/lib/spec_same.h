/* Comparing two workload specs field by field (the spec unit tests and the
 * spec fuzzer): what a round trip through the codec must preserve. */
#ifndef NESTBOX_TESTS_SPEC_SAME_H
#define NESTBOX_TESTS_SPEC_SAME_H

#include <stdbool.h>
#include <string.h>

#include "common/spec.h"

static inline bool nb_test_same_list(const char *const *a, const char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static inline bool nb_test_same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The first group of fields in which a and b differ, or NULL. */
static inline const char *nb_test_spec_diff(const struct nb_spec *a, const struct nb_spec *b)
{
	if (a->argc != b->argc || !nb_test_same_list(a->argv, b->argv, a->argc))
		return "argv";
	if (a->envc != b->envc || !nb_test_same_list(a->env, b->env, a->envc))
		return "env";
	if (!nb_test_same_str(a->rootfs, b->rootfs) ||
	    !nb_test_same_str(a->hostname, b->hostname) ||
	    !nb_test_same_str(a->workdir, b->workdir) || !nb_test_same_str(a->user, b->user))
		return "rootfs, hostname, workdir or user";
	if (a->has_caps != b->has_caps || a->caps != b->caps)
		return "capabilities";
	if (a->nrlimits != b->nrlimits ||
	    memcmp(a->rlimits, b->rlimits, a->nrlimits * sizeof(a->rlimits[0])))
		return "rlimits";
	if (a->memory_max != b->memory_max || a->swap_max != b->swap_max ||
	    a->cpu_quota_us != b->cpu_quota_us || a->cpu_period_us != b->cpu_period_us ||
	    a->pids_max != b->pids_max || a->namespaces != b->namespaces ||
	    a->memory_low != b->memory_low || a->cpu_weight != b->cpu_weight ||
	    a->read_only != b->read_only)
		return "limits, namespaces or readonly";
	if (a->init != b->init)
		return "init";
	if (a->ntmpfs != b->ntmpfs || !nb_test_same_list(a->tmpfs, b->tmpfs, a->ntmpfs))
		return "tmpfs";
	if (a->seccomp_len != b->seccomp_len ||
	    (a->seccomp_len && memcmp(a->seccomp, b->seccomp, a->seccomp_len)))
		return "seccomp";
	if (a->nvolumes != b->nvolumes || !nb_test_same_list(a->volumes, b->volumes, a->nvolumes))
		return "volumes";
	if (a->nlayers != b->nlayers ||
	    (a->nlayers && memcmp(a->layers, b->layers, a->nlayers * sizeof(a->layers[0]))))
		return "layers";
	if (a->net_ipv4 != b->net_ipv4 || a->net_prefix != b->net_prefix ||
	    a->net_gateway != b->net_gateway || a->net_mac_len != b->net_mac_len ||
	    (a->net_mac_len && memcmp(a->net_mac, b->net_mac, a->net_mac_len)))
		return "network";
	if (a->tty != b->tty || a->tty_rows != b->tty_rows || a->tty_cols != b->tty_cols)
		return "tty";
	if (a->template != b->template || a->seed_len != b->seed_len ||
	    (a->seed_len && memcmp(a->seed, b->seed, a->seed_len)) ||
	    a->clock_sec != b->clock_sec || a->clock_nsec != b->clock_nsec)
		return "warm start";
	return NULL;
}

#endif
