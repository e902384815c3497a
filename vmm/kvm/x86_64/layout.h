/* Fixed guest-physical layout of an x86-64 nestbox VM (below 1 MiB and the
 * MMIO window). Every boot structure the VMM writes has its place here. */
#ifndef NESTBOX_X86_LAYOUT_H
#define NESTBOX_X86_LAYOUT_H

#define NB_GDT_GPA 0x500ull        /* GDT: null, code64, data, tss */
#define NB_ZERO_PAGE_GPA 0x7000ull /* struct boot_params */
#define NB_PML4_GPA 0x9000ull      /* boot page tables: PML4, PDPT, PD */
#define NB_PDPT_GPA 0xa000ull
#define NB_PD_GPA 0xb000ull
#define NB_BOOT_STACK_GPA 0x8ff0ull /* initial rsp, below the page tables */
#define NB_CMDLINE_GPA 0x20000ull
#define NB_CMDLINE_MAX 4096u   /* bytes including the NUL */
#define NB_EBDA_GPA 0x9fc00ull /* MP table lives here; reserved in e820 */
#define NB_LOW_RAM_END NB_EBDA_GPA
#define NB_HIMEM_GPA 0x100000ull           /* 1 MiB: RAM resumes above the legacy hole */
#define NB_KERNEL_DEFAULT_GPA 0x1000000ull /* bzImage load address (16 MiB) */
#define NB_INITRD_MAX_GPA 0x37ffffffull    /* default initrd_addr_max of old kernels */

#define NB_IOAPIC_GPA 0xfec00000ull
#define NB_LAPIC_GPA 0xfee00000ull
#define NB_IOAPIC_PINS 24u

/* virtio-mmio and other MMIO devices: inside the 32-bit hole, below the IOAPIC. */
#define NB_MMIO_BASE 0xd0000000ull
#define NB_MMIO_SIZE 0x10000000ull

#endif
