/* What this host's KVM is, and opening /dev/kvm with a diagnosis for every
 * way it can fail. Three host kinds matter (shared/TESTHOST.md): real KVM
 * (kvm_intel, kvm_amd), PVM KVM (kvm_pvm: runs only PVM-enabled guest
 * kernels) and no KVM at all; and a /dev/kvm this user may not open. */
#ifndef NESTBOX_VMM_KVM_KVM_H
#define NESTBOX_VMM_KVM_KVM_H

#include <stdbool.h>

#include "nestbox/err.h"

#define NB_KVM_DEV "/dev/kvm"

enum nb_kvm_kind {
	NB_KVM_USABLE,        /* /dev/kvm opens read-write and is not PVM */
	NB_KVM_PVM,           /* /dev/kvm opens, but the module behind it is kvm_pvm */
	NB_KVM_MISSING,       /* no /dev/kvm, no kvm_pvm */
	NB_KVM_PVM_NO_DEVICE, /* kvm_pvm is loaded but there is no /dev/kvm */
	NB_KVM_NO_ACCESS,     /* /dev/kvm exists; this user may not open it */
	NB_KVM_NO_DRIVER,     /* /dev/kvm exists; nothing answers behind it */
	NB_KVM_OTHER,         /* /dev/kvm exists; open failed otherwise (errno) */
};

struct nb_kvm_host {
	enum nb_kvm_kind kind;
	int open_errno; /* NB_KVM_NO_ACCESS, NB_KVM_NO_DRIVER, NB_KVM_OTHER */
};

/* Look at dev (NB_KVM_DEV) and sysfs_root ("/sys") without keeping
 * anything open. Needs no privilege beyond the caller's. */
void nb_kvm_probe(const char *dev, const char *sysfs_root, struct nb_kvm_host *host);

/* A short name of the kind ("real", "pvm", "none", ...), for --stats and
 * messages. */
const char *nb_kvm_kind_name(enum nb_kvm_kind kind);

/* 0 if a guest can run on this host: a usable KVM, or a PVM KVM with a
 * guest that is not a Linux kernel (test payloads). Otherwise the message
 * names the host's real situation and what to do. */
int nb_kvm_host_check(const struct nb_kvm_host *host, bool linux_guest, struct nb_err *err);

/* Open the KVM device and check its API version; on failure the message
 * names the cause and the fix, as nb_kvm_host_check does. */
int nb_kvm_open(struct nb_err *err);

/* True when the host's KVM module is PVM (kvm_pvm). sysfs_root is "/sys"
 * except in tests. */
bool nb_kvm_is_pvm(const char *sysfs_root);

/* The one-line explanation nestbox gives for a PVM host. */
extern const char nb_kvm_pvm_hint[];

#endif
