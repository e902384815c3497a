/* KVM's binary statistics (KVM_GET_STATS_FD, Linux >= 5.14): counters the
 * kernel keeps per vCPU, including exits handled inside KVM that the VMM
 * never sees. */
#ifndef NESTBOX_VMM_KVM_STATS_H
#define NESTBOX_VMM_KVM_STATS_H

#include <stdint.h>

/* Read the u64 statistic `name` (e.g. "exits") of the vCPU or VM fd.
 * Returns 0 and sets *value, or -1 if the kernel has no stats fd or no
 * such counter. */
int nb_kvmstats_read(int kvm_object_fd, const char *name, uint64_t *value);

#endif
