#include "vmm/kvm/snapshot.h"

#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "images/digest.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/kvm/x86_64/cpuid.h"

#define MAX_MSRS 1024u

/* sha256 of len bytes into a 32-byte field (the first half of the hex). */
static int hash_into(const void *data, size_t len, uint8_t out[32], struct nb_err *err)
{
	struct nb_digest d;

	if (nb_sha256_buf(data, len, &d, err) < 0)
		return -1;
	memcpy(out, d.hex, 32);
	return 0;
}

static struct kvm_msr_list *msr_index_list(int kvm_fd, struct nb_err *err)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	struct kvm_msr_list *list;

	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return nb_err_sys(err, "KVM_GET_MSR_INDEX_LIST"), NULL;
	if (probe.nmsrs == 0 || probe.nmsrs > MAX_MSRS)
		return nb_err_set(err, 0, "KVM lists %u MSRs", probe.nmsrs), NULL;
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
	if (!list)
		return nb_err_sys(err, "MSR list"), NULL;
	list->nmsrs = probe.nmsrs;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		free(list);
		return nb_err_sys(err, "KVM_GET_MSR_INDEX_LIST"), NULL;
	}
	return list;
}

/* KVM_GET_SUPPORTED_CPUID runs CPUID on whichever host CPU the call
 * lands on: the APIC ids in it differ from call to call. Leave them out of
 * the fingerprint. */
static void drop_cpu_ids(struct kvm_cpuid2 *c)
{
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1)
			e->ebx &= 0x00ffffffu; /* initial APIC id */
		else if (e->function == 0xb || e->function == 0x1f)
			e->edx = 0; /* x2APIC id */
		else if (e->function == 0x8000001e)
			e->eax = e->ebx = e->ecx = 0; /* extended APIC, core and node ids */
	}
}

int nb_snapshot_host(int kvm_fd, struct nb_state_host *out, struct nb_err *err)
{
	unsigned a, b, c, d;
	struct utsname u;
	cleanup_free struct kvm_msr_list *msrs = NULL;
	cleanup_free struct kvm_cpuid2 *cpuid =
		calloc(1, sizeof(*cpuid) + NB_CPUID_MAX_ENTRIES * sizeof(cpuid->entries[0]));

	memset(out, 0, sizeof(*out));
	__cpuid(0, a, b, c, d);
	memcpy(out->vendor, &b, 4);
	memcpy(out->vendor + 4, &d, 4);
	memcpy(out->vendor + 8, &c, 4);
	__cpuid(1, a, b, c, d);
	out->signature = a;
	if (uname(&u) == 0)
		snprintf(out->kernel, sizeof(out->kernel), "%s", u.release);
	if (!cpuid)
		return nb_err_sys(err, "CPUID");
	cpuid->nent = NB_CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		return nb_err_sys(err, "KVM_GET_SUPPORTED_CPUID");
	drop_cpu_ids(cpuid);
	msrs = msr_index_list(kvm_fd, err);
	if (!msrs ||
	    hash_into(cpuid->entries, cpuid->nent * sizeof(cpuid->entries[0]), out->cpuid_hash,
		      err) < 0 ||
	    hash_into(msrs->indices, msrs->nmsrs * sizeof(msrs->indices[0]), out->msr_hash, err) <
		    0)
		return -1;
	return 0;
}

int nb_snapshot_header(struct nb_vm *vm, struct nb_state_header *out, struct nb_err *err)
{
	*out = (struct nb_state_header){ .abi = NB_ABI_VERSION,
					 .spec_format = NB_SPEC_FORMAT,
					 .mem_size = vm->mem.size,
					 .ncpus = vm->ncpus };
	return nb_snapshot_host(vm->kvm_fd, &out->host, err);
}

/* ---- saving ---------------------------------------------------------------- */

/* MSRs worth saving (Firecracker filters KVM's list too): those KVM lets
 * us read; the few it lists but cannot (or must not) restore are left out. */
static bool msr_skipped(uint32_t index)
{
	switch (index) {
	case 0x3a:  /* IA32_FEATURE_CONTROL: set once by firmware, locked */
	case 0x17b: /* IA32_MCG_CTL: machine check control, not guest state we keep */
		return true;
	default:
		return false;
	}
}

static int save_msrs(struct nb_vm *vm, struct nb_vcpu *vcpu, struct nb_state_buf *b,
		     struct nb_err *err)
{
	cleanup_free struct kvm_msr_list *list = msr_index_list(vm->kvm_fd, err);
	cleanup_free struct kvm_msrs *msrs = NULL;
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} one;
	unsigned n = 0;

	if (!list)
		return -1;
	msrs = calloc(1, sizeof(*msrs) + list->nmsrs * sizeof(msrs->entries[0]));
	if (!msrs)
		return nb_err_sys(err, "MSRs");
	for (unsigned i = 0; i < list->nmsrs; i++) {
		if (msr_skipped(list->indices[i]))
			continue;
		memset(&one, 0, sizeof(one));
		one.h.nmsrs = 1;
		one.e.index = list->indices[i];
		if (ioctl(vcpu->fd, KVM_GET_MSRS, &one) == 1)
			msrs->entries[n++] = one.e;
	}
	nb_state_put(b, NB_STATE_VCPU_MSRS, vcpu->index, msrs->entries,
		     n * sizeof(msrs->entries[0]));
	return 0;
}

/* Let a vCPU that stopped on an I/O exit complete the instruction. */
static int settle(struct nb_vcpu *vcpu, struct nb_err *err)
{
	vcpu->run->immediate_exit = 1;
	if (ioctl(vcpu->fd, KVM_RUN, 0) == 0 || errno != EINTR)
		return nb_err_set(err, errno, "vCPU %u did not stop for the snapshot", vcpu->index);
	return 0;
}

#define GET(fd, req, what, tag, idx)                                       \
	do {                                                               \
		if (ioctl(fd, req, &(what)) < 0)                           \
			return nb_err_sys(err, #req " (vCPU/VM %u)", idx); \
		nb_state_put(b, tag, idx, &(what), sizeof(what));          \
	} while (0)

/* A vCPU's state as saved and loaded, section by section (but for the
 * MSRs, whose count varies). */
struct vcpu_state {
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dbg;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
};

static int save_vcpu(struct nb_vm *vm, struct nb_vcpu *v, struct nb_state_buf *b,
		     struct nb_err *err)
{
	struct vcpu_state st;
	cleanup_free struct kvm_xsave *xsave = calloc(1, sizeof(*xsave));

	if (!xsave)
		return nb_err_sys(err, "XSAVE");
	if (settle(v, err) < 0)
		return -1;
	GET(v->fd, KVM_GET_MP_STATE, st.mp, NB_STATE_VCPU_MP_STATE, v->index);
	GET(v->fd, KVM_GET_REGS, st.regs, NB_STATE_VCPU_REGS, v->index);
	GET(v->fd, KVM_GET_SREGS, st.sregs, NB_STATE_VCPU_SREGS, v->index);
	GET(v->fd, KVM_GET_XSAVE, *xsave, NB_STATE_VCPU_XSAVE, v->index);
	GET(v->fd, KVM_GET_XCRS, st.xcrs, NB_STATE_VCPU_XCRS, v->index);
	GET(v->fd, KVM_GET_DEBUGREGS, st.dbg, NB_STATE_VCPU_DEBUGREGS, v->index);
	GET(v->fd, KVM_GET_LAPIC, st.lapic, NB_STATE_VCPU_LAPIC, v->index);
	if (save_msrs(vm, v, b, err) < 0)
		return -1;
	GET(v->fd, KVM_GET_VCPU_EVENTS, st.events, NB_STATE_VCPU_EVENTS, v->index);
	return 0;
}

static int save_irqchip(struct nb_vm *vm, uint32_t chip, uint32_t tag, struct nb_state_buf *b,
			struct nb_err *err)
{
	struct kvm_irqchip c = { .chip_id = chip };

	GET(vm->vm_fd, KVM_GET_IRQCHIP, c, tag, chip);
	return 0;
}

int nb_snapshot_save_vm(struct nb_vm *vm, struct nb_state_buf *b, struct nb_err *err)
{
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock = { 0 };

	for (unsigned i = 0; i < vm->ncpus; i++)
		if (save_vcpu(vm, &vm->vcpus[i], b, err) < 0)
			return -1;
	GET(vm->vm_fd, KVM_GET_PIT2, pit, NB_STATE_VM_PIT, 0);
	GET(vm->vm_fd, KVM_GET_CLOCK, clock, NB_STATE_VM_CLOCK, 0);
	if (save_irqchip(vm, KVM_IRQCHIP_PIC_MASTER, NB_STATE_VM_PIC_MASTER, b, err) < 0 ||
	    save_irqchip(vm, KVM_IRQCHIP_PIC_SLAVE, NB_STATE_VM_PIC_SLAVE, b, err) < 0 ||
	    save_irqchip(vm, KVM_IRQCHIP_IOAPIC, NB_STATE_VM_IOAPIC, b, err) < 0)
		return -1;
	return 0;
}

/* ---- loading ---------------------------------------------------------------- */

#define SET(fd, req, what, tag, idx)                                           \
	do {                                                                   \
		if (nb_state_get(s, tag, idx, &(what), sizeof(what), err) < 0) \
			return -1;                                             \
		if (ioctl(fd, req, &(what)) < 0)                               \
			return nb_err_sys(err, #req " (vCPU/VM %u)", idx);     \
	} while (0)

/* KVM_SET_MSRS stops at the first MSR it refuses: skip that one and go on
 * (the value came from this host's KVM; what it will not take back is
 * state it rebuilds itself). */
static int load_msrs(struct nb_vcpu *v, const struct nb_state *s, struct nb_err *err)
{
	const void *data;
	size_t len;
	unsigned n, done = 0;
	cleanup_free struct kvm_msrs *msrs = NULL;

	if (nb_state_find(s, NB_STATE_VCPU_MSRS, v->index, &data, &len, err) < 0)
		return -1;
	if (len % sizeof(struct kvm_msr_entry) || len / sizeof(struct kvm_msr_entry) > MAX_MSRS)
		return nb_err_set(err, 0, "snapshot: vCPU %u's MSRs are malformed", v->index);
	n = (unsigned)(len / sizeof(struct kvm_msr_entry));
	msrs = calloc(1, sizeof(*msrs) + len);
	if (!msrs)
		return nb_err_sys(err, "MSRs");
	while (done < n) {
		msrs->nmsrs = n - done;
		memcpy(msrs->entries, (const struct kvm_msr_entry *)data + done,
		       msrs->nmsrs * sizeof(msrs->entries[0]));
		int rc = ioctl(v->fd, KVM_SET_MSRS, msrs);
		if (rc < 0)
			return nb_err_sys(err, "KVM_SET_MSRS (vCPU %u)", v->index);
		done += (unsigned)rc + 1; /* the refused one is skipped */
	}
	return 0;
}

/* KVM on AMD reports TR as busy (type 11) whatever the guest loaded
 * (svm_get_segment works around hardware that hides the flag). AMD CPUs
 * ignore the cached type, but QEMU's TCG emulation of SVM refuses every
 * I/O permission check against a busy TSS: a restored guest's ioperm()
 * port access then faults. Back to "available", as LTR left it. */
static void fix_tr(struct kvm_sregs *sregs)
{
	unsigned a, b, c, d;

	__cpuid(0, a, b, c, d);
	(void)a;
	(void)c;
	(void)d;
	if (b == 0x68747541u /* "Auth" */ && sregs->tr.type == 11)
		sregs->tr.type = 9;
}

static int load_vcpu(struct nb_vcpu *v, const struct nb_state *s, struct nb_err *err)
{
	struct vcpu_state st;
	cleanup_free struct kvm_xsave *xsave = calloc(1, sizeof(*xsave));

	if (!xsave)
		return nb_err_sys(err, "XSAVE");
	SET(v->fd, KVM_SET_MP_STATE, st.mp, NB_STATE_VCPU_MP_STATE, v->index);
	SET(v->fd, KVM_SET_REGS, st.regs, NB_STATE_VCPU_REGS, v->index);
	if (nb_state_get(s, NB_STATE_VCPU_SREGS, v->index, &st.sregs, sizeof(st.sregs), err) < 0)
		return -1;
	fix_tr(&st.sregs);
	if (ioctl(v->fd, KVM_SET_SREGS, &st.sregs) < 0)
		return nb_err_sys(err, "KVM_SET_SREGS (vCPU %u)", v->index);
	SET(v->fd, KVM_SET_XSAVE, *xsave, NB_STATE_VCPU_XSAVE, v->index);
	SET(v->fd, KVM_SET_XCRS, st.xcrs, NB_STATE_VCPU_XCRS, v->index);
	SET(v->fd, KVM_SET_DEBUGREGS, st.dbg, NB_STATE_VCPU_DEBUGREGS, v->index);
	SET(v->fd, KVM_SET_LAPIC, st.lapic, NB_STATE_VCPU_LAPIC, v->index);
	if (load_msrs(v, s, err) < 0)
		return -1;
	SET(v->fd, KVM_SET_VCPU_EVENTS, st.events, NB_STATE_VCPU_EVENTS, v->index);
	return 0;
}

static int load_irqchip(struct nb_vm *vm, uint32_t chip, uint32_t tag, const struct nb_state *s,
			struct nb_err *err)
{
	struct kvm_irqchip c;

	if (nb_state_get(s, tag, chip, &c, sizeof(c), err) < 0)
		return -1;
	if (c.chip_id != chip)
		return nb_err_set(err, 0, "snapshot: irqchip %u is malformed", chip);
	if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &c) < 0)
		return nb_err_sys(err, "KVM_SET_IRQCHIP %u", chip);
	return 0;
}

int nb_snapshot_load_vm(struct nb_vm *vm, const struct nb_state *s, struct nb_err *err)
{
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;

	SET(vm->vm_fd, KVM_SET_PIT2, pit, NB_STATE_VM_PIT, 0);
	if (nb_state_get(s, NB_STATE_VM_CLOCK, 0, &clock, sizeof(clock), err) < 0)
		return -1;
	/* The guest's clock goes on from where it was saved: no
	 * KVM_CLOCK_REALTIME adjustment, and KVM_CLOCK_TSC_STABLE is an
	 * output only (KVM_SET_CLOCK refuses flags it does not take). */
	clock.flags = 0;
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
		return nb_err_sys(err, "KVM_SET_CLOCK");
	if (load_irqchip(vm, KVM_IRQCHIP_PIC_MASTER, NB_STATE_VM_PIC_MASTER, s, err) < 0 ||
	    load_irqchip(vm, KVM_IRQCHIP_PIC_SLAVE, NB_STATE_VM_PIC_SLAVE, s, err) < 0 ||
	    load_irqchip(vm, KVM_IRQCHIP_IOAPIC, NB_STATE_VM_IOAPIC, s, err) < 0)
		return -1;
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (load_vcpu(&vm->vcpus[i], s, err) < 0)
			return nb_err_wrap(err, "vCPU %u", i);
	return 0;
}

/* ---- memory ---------------------------------------------------------------- */

static bool all_zero(const uint8_t *p, size_t len)
{
	return p[0] == 0 && memcmp(p, p + 1, len - 1) == 0;
}

int nb_snapshot_save_memory(const struct nb_guest_mem *mem, int fd, struct nb_err *err)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const size_t chunk = 1u << 16; /* pages per mincore call */
	cleanup_free unsigned char *vec = malloc(chunk);

	if (!vec)
		return nb_err_sys(err, "snapshot memory");
	if (ftruncate(fd, (off_t)mem->size) < 0)
		return nb_err_sys(err, "snapshot memory: ftruncate");
	for (uint64_t off = 0; off < mem->size; off += (uint64_t)chunk * page) {
		size_t len = mem->size - off < chunk * page ? (size_t)(mem->size - off)
							    : chunk * page;

		if (mincore(mem->base + off, len, vec) < 0)
			return nb_err_sys(err, "snapshot memory: mincore");
		for (size_t i = 0; i < len / page; i++) {
			const uint8_t *p = mem->base + off + i * page;

			if (!(vec[i] & 1) || all_zero(p, page))
				continue;
			if (pwrite(fd, p, page, (off_t)(off + i * page)) != (ssize_t)page)
				return nb_err_sys(err, "snapshot memory: write");
		}
	}
	return 0;
}
