/* Long-mode entry state. The GDT follows Firecracker's layout (code 0x8,
 * data 0x10, TSS 0x18), not boot.rst's __BOOT_CS 0x10 / __BOOT_DS 0x18:
 * both of Linux's 64-bit entries (vmlinux startup_64 and the bzImage
 * decompressor's) load their own GDT before using a selector, so only
 * flat long-mode segments in the hidden parts matter. */
#include "vmm/kvm/x86_64/regs.h"

#include <asm/processor-flags.h>
#include <string.h>

#include "vmm/kvm/x86_64/layout.h"

/* EFER bits (arch/x86/include/asm/msr-index.h is not UAPI). */
#define NB_EFER_LME (1ull << 8)
#define NB_EFER_LMA (1ull << 10)

#define PTE_PRESENT 0x1ull
#define PTE_WRITE 0x2ull
#define PTE_PS 0x80ull /* 2 MiB page in a PD entry */
#define PT_ENTRIES 512u
#define PT_PAGE 4096u
#define PD_PAGES 4u /* 4 PDs x 512 x 2 MiB = 4 GiB */
#define PAGE_2M (2ull << 20)

enum { GDT_NULL, GDT_CODE, GDT_DATA, GDT_TSS, GDT_ENTRIES };

static const uint64_t gdt[GDT_ENTRIES] = {
	[GDT_NULL] = 0,
	[GDT_CODE] = 0x00af9b000000ffffull, /* P, DPL0, code exec/read, L, G */
	[GDT_DATA] = 0x00cf93000000ffffull, /* P, DPL0, data read/write, D/B, G */
	[GDT_TSS] = 0x008f8b000000ffffull,  /* P, busy 64-bit TSS, G */
};

int nb_x86_write_boot_tables(const struct nb_guest_mem *mem, struct nb_err *err)
{
	uint64_t page[PT_ENTRIES];

	if (nb_mem_write(mem, NB_GDT_GPA, gdt, sizeof(gdt), err) < 0)
		return nb_err_wrap(err, "writing the GDT");

	memset(page, 0, sizeof(page));
	page[0] = NB_PDPT_GPA | PTE_PRESENT | PTE_WRITE;
	if (nb_mem_write(mem, NB_PML4_GPA, page, sizeof(page), err) < 0)
		return nb_err_wrap(err, "writing the PML4");

	memset(page, 0, sizeof(page));
	for (unsigned i = 0; i < PD_PAGES; i++)
		page[i] = (NB_PD_GPA + i * PT_PAGE) | PTE_PRESENT | PTE_WRITE;
	if (nb_mem_write(mem, NB_PDPT_GPA, page, sizeof(page), err) < 0)
		return nb_err_wrap(err, "writing the PDPT");

	for (unsigned pd = 0; pd < PD_PAGES; pd++) {
		for (unsigned i = 0; i < PT_ENTRIES; i++) {
			uint64_t gpa = ((uint64_t)pd * PT_ENTRIES + i) * PAGE_2M;
			page[i] = gpa | PTE_PRESENT | PTE_WRITE | PTE_PS;
		}
		if (nb_mem_write(mem, NB_PD_GPA + pd * PT_PAGE, page, sizeof(page), err) < 0)
			return nb_err_wrap(err, "writing page directory %u", pd);
	}
	return 0;
}

/* Decode a GDT descriptor into KVM's form (the hidden part of a segment
 * register), so the GDT above is the one source of truth. */
static struct kvm_segment segment_from_gdt(unsigned index)
{
	uint64_t d = gdt[index];
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	bool granular = (d >> 55) & 1;

	return (struct kvm_segment){
		.base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000),
		.limit = granular ? (limit << 12) | 0xfff : limit,
		.selector = (uint16_t)(index * 8),
		.type = (d >> 40) & 0xf,
		.s = (d >> 44) & 1,
		.dpl = (d >> 45) & 3,
		.present = (d >> 47) & 1,
		.avl = (d >> 52) & 1,
		.l = (d >> 53) & 1,
		.db = (d >> 54) & 1,
		.g = granular,
	};
}

void nb_x86_boot_sregs(struct kvm_sregs *sregs)
{
	struct kvm_segment data = segment_from_gdt(GDT_DATA);

	sregs->cs = segment_from_gdt(GDT_CODE);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = segment_from_gdt(GDT_TSS);
	sregs->gdt.base = NB_GDT_GPA;
	sregs->gdt.limit = sizeof(gdt) - 1;
	/* Assigned, not or-ed: the reset value has CD|NW (caches off). NE as
	 * every 64-bit OS runs (native x87 errors; VMX requires it anyway). */
	sregs->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
	sregs->cr3 = NB_PML4_GPA;
	sregs->cr4 = X86_CR4_PAE;
	sregs->efer = NB_EFER_LME | NB_EFER_LMA;
}

void nb_x86_boot_regs(struct kvm_regs *regs, uint64_t entry)
{
	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rsi = NB_ZERO_PAGE_GPA; /* boot protocol: rsi = struct boot_params */
	regs->rflags = 2;             /* bit 1 is reserved-one; IF = 0 */
	regs->rsp = NB_BOOT_STACK_GPA;
	regs->rbp = NB_BOOT_STACK_GPA;
}
