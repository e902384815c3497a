/* CPUID for one vCPU: KVM_GET_SUPPORTED_CPUID with the topology of a
 * microVM of ncpus single-thread cores in one package (APIC ID = vCPU
 * index), the hypervisor bit, no MONITOR/MWAIT (not emulated: a guest
 * using it would spin), and the KVM paravirt leaves. TSC-deadline (leaf 1
 * ECX bit 24) is passed through as KVM reports it: Linux >= 6.14 always
 * does; on older hosts the caller may set it after KVM_CAP_TSC_DEADLINE_TIMER. */
#include "vmm/kvm/x86_64/cpuid.h"

#include <linux/kvm_para.h>
#include <stdbool.h>
#include <string.h>

#define HV_BASE 0x40000000u /* hypervisor range 0x40000000..0x4fffffff */
#define HV_LAST 0x4fffffffu
#define KVM_TIMING_LEAF 0x40000010u /* eax TSC kHz, ebx LAPIC bus kHz */
#define LAPIC_BUS_KHZ 1000000u      /* KVM's APIC timer ticks at 1 GHz */

#define L1_ECX_MONITOR (1u << 3)
#define L1_ECX_HYPERVISOR (1u << 31)
#define L1_EDX_HTT (1u << 28)

#define TOPO_SMT 1u /* leaf 0xb/0x1f level types */
#define TOPO_CORE 2u

/* Default KVM features when KVM itself lists none: kvmclock (new MSRs)
 * and no need for port-0x80 delays. */
#define KVM_FEATURES_DEFAULT ((1u << KVM_FEATURE_CLOCKSOURCE2) | (1u << KVM_FEATURE_NOP_IO_DELAY))

static bool entry_matches(const struct kvm_cpuid_entry2 *e, uint32_t function, uint32_t index)
{
	return e->function == function &&
	       (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == index);
}

struct kvm_cpuid_entry2 *nb_cpuid_find(struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (entry_matches(&c->entries[i], function, index))
			return &c->entries[i];
	return NULL;
}

static int add(struct kvm_cpuid2 *out, const struct kvm_cpuid_entry2 *e, struct nb_err *err)
{
	if (out->nent >= NB_CPUID_MAX_ENTRIES)
		return nb_err_set(err, 0, "CPUID needs more than %u entries", NB_CPUID_MAX_ENTRIES);
	out->entries[out->nent++] = *e;
	return 0;
}

static bool is_topology_leaf(uint32_t function)
{
	return function == 0xb || function == 0x1f;
}

/* Copy supported minus the hypervisor range and the topology leaves
 * (both rebuilt below), without duplicates. Notes what was dropped. */
static int copy_supported(const struct kvm_cpuid2 *supported, struct kvm_cpuid2 *out,
			  uint32_t *kvm_features, bool *have_kvm_features, bool topo[2],
			  struct nb_err *err)
{
	for (uint32_t i = 0; i < supported->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &supported->entries[i];

		if (e->function >= HV_BASE && e->function <= HV_LAST) {
			if (e->function == KVM_CPUID_FEATURES && !*have_kvm_features) {
				*kvm_features = e->eax;
				*have_kvm_features = true;
			}
			continue;
		}
		if (is_topology_leaf(e->function)) {
			topo[e->function == 0x1f] = true;
			continue;
		}
		if (nb_cpuid_find(out, e->function, e->index))
			continue;
		if (add(out, e, err) < 0)
			return -1;
	}
	return 0;
}

/* Bits needed to hold values 0..n-1. */
static uint32_t id_bits(unsigned n)
{
	uint32_t bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

static void patch_leaf1(struct kvm_cpuid_entry2 *e, unsigned apic_id, unsigned ncpus)
{
	unsigned logical = ncpus > 0xff ? 0xff : ncpus;

	e->ebx = (e->ebx & 0xffff) | (apic_id << 24) | (logical << 16);
	e->ecx |= L1_ECX_HYPERVISOR;
	e->ecx &= ~L1_ECX_MONITOR;
	if (ncpus > 1)
		e->edx |= L1_EDX_HTT;
	else
		e->edx &= ~L1_EDX_HTT;
}

/* Leaf 4 (Intel caches): EAX[31:26] cores per package - 1, EAX[25:14]
 * threads sharing the cache - 1: L1/L2 per core, L3 by the package. */
static void patch_leaf4(struct kvm_cpuid_entry2 *e, unsigned ncpus)
{
	uint32_t cores = ncpus > 64 ? 63 : ncpus - 1;
	uint32_t level = (e->eax >> 5) & 7;
	uint32_t sharing = level >= 3 ? (ncpus - 1) & 0xfff : 0;

	if ((e->eax & 0x1f) == 0) /* no more caches */
		return;
	e->eax = (e->eax & 0x3fff) | (sharing << 14) | (cores << 26);
}

static void patch_entries(struct kvm_cpuid2 *out, unsigned apic_id, unsigned ncpus)
{
	for (uint32_t i = 0; i < out->nent; i++) {
		struct kvm_cpuid_entry2 *e = &out->entries[i];

		switch (e->function) {
		case 1:
			patch_leaf1(e, apic_id, ncpus);
			break;
		case 4:
			patch_leaf4(e, ncpus);
			break;
		case 0x80000008: /* AMD: ECX[7:0] cores - 1, [15:12] APIC ID bits */
			e->ecx = (e->ecx & ~0xf0ffu) | (id_bits(ncpus) << 12) |
				 ((ncpus - 1) & 0xff);
			break;
		case 0x8000001e: /* AMD: extended APIC ID, core ID, one thread per core */
			e->eax = apic_id;
			e->ebx = (e->ebx & ~0xffffu) | (apic_id & 0xff);
			e->ecx &= ~0x7ffu; /* node 0, one node */
			break;
		}
	}
}

/* Extended topology (0xb, and 0x1f if the host has it): subleaf 0 the SMT
 * level (one thread), 1 the core level (ncpus), 2 the invalid terminator. */
static int add_topology(struct kvm_cpuid2 *out, uint32_t function, unsigned apic_id, unsigned ncpus,
			struct nb_err *err)
{
	const struct kvm_cpuid_entry2 levels[] = {
		{ .index = 0, .eax = 0, .ebx = 1, .ecx = (TOPO_SMT << 8) | 0 },
		{ .index = 1, .eax = id_bits(ncpus), .ebx = ncpus, .ecx = (TOPO_CORE << 8) | 1 },
		{ .index = 2, .eax = 0, .ebx = 0, .ecx = 2 },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		struct kvm_cpuid_entry2 e = levels[i];

		e.function = function;
		e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		e.edx = apic_id; /* x2APIC ID */
		if (add(out, &e, err) < 0)
			return -1;
	}
	return 0;
}

static int add_kvm_leaves(struct kvm_cpuid2 *out, uint32_t features, uint32_t tsc_khz,
			  struct nb_err *err)
{
	struct kvm_cpuid_entry2 sig = { .function = KVM_CPUID_SIGNATURE, .eax = KVM_TIMING_LEAF };
	struct kvm_cpuid_entry2 feat = { .function = KVM_CPUID_FEATURES, .eax = features };
	struct kvm_cpuid_entry2 timing = { .function = KVM_TIMING_LEAF,
					   .eax = tsc_khz,
					   .ebx = LAPIC_BUS_KHZ };

	_Static_assert(sizeof(KVM_SIGNATURE) - 1 == 12, "KVM signature is 12 bytes");
	memcpy(&sig.ebx, KVM_SIGNATURE, 4);
	memcpy(&sig.ecx, KVM_SIGNATURE + 4, 4);
	memcpy(&sig.edx, KVM_SIGNATURE + 8, 4);
	if (add(out, &sig, err) < 0 || add(out, &feat, err) < 0 || add(out, &timing, err) < 0)
		return -1;
	return 0;
}

int nb_cpuid_filter(const struct kvm_cpuid2 *supported, unsigned vcpu_index, unsigned ncpus,
		    uint32_t tsc_khz, struct kvm_cpuid2 *out, struct nb_err *err)
{
	uint32_t kvm_features = KVM_FEATURES_DEFAULT;
	bool have_kvm_features = false;
	bool topo[2] = { false, false };

	out->nent = 0;
	if (ncpus == 0 || ncpus > 0xff || vcpu_index >= ncpus)
		return nb_err_set(err, 0, "CPUID for vCPU %u of %u", vcpu_index, ncpus);
	if (copy_supported(supported, out, &kvm_features, &have_kvm_features, topo, err) < 0)
		return -1;
	patch_entries(out, vcpu_index, ncpus);
	if (topo[0] && add_topology(out, 0xb, vcpu_index, ncpus, err) < 0)
		return -1;
	if (topo[1] && add_topology(out, 0x1f, vcpu_index, ncpus, err) < 0)
		return -1;
	return add_kvm_leaves(out, kvm_features, tsc_khz, err);
}
