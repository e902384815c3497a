/* Opening /dev/kvm with a diagnosis for every way it can fail. */
#ifndef NESTBOX_VMM_KVM_H
#define NESTBOX_VMM_KVM_H

#include <stdbool.h>

#include "nestbox/err.h"

#define NB_KVM_DEV "/dev/kvm"

/* Open the KVM device and check its API version; on failure the message
 * names the cause (missing, permission, wrong API) and the fix. */
int nb_kvm_open(struct nb_err *err);

/* True when the host's KVM is PVM (kvm_pvm): it cannot run a stock Linux
 * guest's user space (see shared/TESTHOST.md). sysfs_root is "/sys" except
 * in tests. */
bool nb_kvm_is_pvm(const char *sysfs_root);

/* The one-line explanation nestbox prints for a PVM host. */
extern const char nb_kvm_pvm_hint[];

#endif
