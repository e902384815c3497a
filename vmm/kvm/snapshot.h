/* Snapshot and restore of a paused VM's KVM state (Firecracker's model,
 * vstate/): every vCPU's registers, FPU/XSAVE, XCRs, MSRs, LAPIC, events,
 * debug registers and MP state; the in-kernel PIC pair, IOAPIC and PIT;
 * the KVM clock. Guest memory goes to its own file, written sparse
 * (nb_snapshot_save_memory) and mapped back MAP_PRIVATE (memory.h,
 * nb_mem_map_file), so clones share the page cache and copy on write.
 * Devices save their own sections (statefile.h).
 */
#ifndef NESTBOX_VMM_KVM_SNAPSHOT_H
#define NESTBOX_VMM_KVM_SNAPSHOT_H

#include "nestbox/err.h"
#include "vmm/kvm/statefile.h"
#include "vmm/kvm/vm.h"

/* This host's identity as a snapshot header records it (statefile.h). */
int nb_snapshot_host(int kvm_fd, struct nb_state_host *out, struct nb_err *err);

/* The header a snapshot of vm has on this host. */
int nb_snapshot_header(struct nb_vm *vm, struct nb_state_header *out, struct nb_err *err);

/* Save the VM's and every vCPU's state into b. The vCPU threads must have
 * stopped; a vCPU stopped on a port or MMIO exit is first let finish the
 * instruction (KVM_RUN with immediate_exit), as the KVM API asks. */
int nb_snapshot_save_vm(struct nb_vm *vm, struct nb_state_buf *b, struct nb_err *err);

/* Load what nb_snapshot_save_vm saved into a VM created with the same
 * configuration (nb_vm_create, memory from the snapshot's file). */
int nb_snapshot_load_vm(struct nb_vm *vm, const struct nb_state *s, struct nb_err *err);

/* Write guest RAM to fd (size mem->size; pages never touched or all zero
 * are left as holes). */
int nb_snapshot_save_memory(const struct nb_guest_mem *mem, int fd, struct nb_err *err);

#endif
