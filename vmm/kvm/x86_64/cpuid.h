/* The CPUID a vCPU sees: KVM_GET_SUPPORTED_CPUID filtered for a microVM.
 * Per vCPU: APIC ID and topology (leaves 1, 4, 0xb, 0x8000001e), hypervisor
 * bit, no features the VMM does not emulate (e.g. monitor/mwait), the KVM
 * leaves 0x40000000 ("KVMKVMKVM\0\0\0", max leaf 0x40000010) and
 * 0x40000001 (features from KVM_GET_SUPPORTED_CPUID's own 0x40000001 if
 * present, else kvmclock2 + nopv-friendly defaults), and 0x40000010
 * (eax = TSC kHz, ebx = LAPIC bus kHz = 1000000) so the guest never
 * calibrates its clocks. */
#ifndef NESTBOX_X86_CPUID_H
#define NESTBOX_X86_CPUID_H

#include <stdint.h>

#include <linux/kvm.h>

#include "nestbox/err.h"

/* Maximum entries nb_cpuid_filter may produce. */
#define NB_CPUID_MAX_ENTRIES 256u

/* Write into out (capacity NB_CPUID_MAX_ENTRIES, out->nent set on return) the
 * CPUID for vCPU `vcpu_index` of `ncpus`, derived from `supported`.
 * tsc_khz = 0 omits leaf 0x40000010's TSC value. Fails if the result would
 * not fit, or if vcpu_index >= ncpus or ncpus is 0 or > 255. */
int nb_cpuid_filter(const struct kvm_cpuid2 *supported, unsigned vcpu_index, unsigned ncpus,
		    uint32_t tsc_khz, struct kvm_cpuid2 *out, struct nb_err *err);

/* Find an entry (function, index) in c; NULL if absent. Index is ignored
 * for leaves without KVM_CPUID_FLAG_SIGNIFCANT_INDEX. */
struct kvm_cpuid_entry2 *nb_cpuid_find(struct kvm_cpuid2 *c, uint32_t function, uint32_t index);

#endif
