/* Long-mode entry state for the boot vCPU: a flat GDT, identity-mapped
 * page tables for the first 4 GiB (2 MiB pages), and the register values
 * the 64-bit boot protocol asks for (rsi = zero page, rip = entry, IF=0). */
#ifndef NESTBOX_X86_REGS_H
#define NESTBOX_X86_REGS_H

#include <stdint.h>

#include <linux/kvm.h>

#include "nestbox/err.h"
#include "vmm/kvm/memory.h"

/* Write the GDT at NB_GDT_GPA and the page tables at NB_PML4_GPA.. into mem. */
int nb_x86_write_boot_tables(const struct nb_guest_mem *mem, struct nb_err *err);

/* Patch sregs (as read from KVM_GET_SREGS) for long mode: CS/DS/ES/FS/GS/SS
 * from the GDT, GDTR, CR0 = PE|ET|NE|PG, CR3 = NB_PML4_GPA, CR4 = PAE,
 * EFER = LME|LMA. */
void nb_x86_boot_sregs(struct kvm_sregs *sregs);

/* regs for the boot vCPU: rip = entry, rsi = zero page, rflags = 2,
 * rsp = rbp = NB_BOOT_STACK_GPA. */
void nb_x86_boot_regs(struct kvm_regs *regs, uint64_t entry);

#endif
