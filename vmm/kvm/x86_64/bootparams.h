/* The zero page (struct boot_params) for the 64-bit boot protocol:
 * setup header, e820 map, command line and initrd fields. */
#ifndef NESTBOX_X86_BOOTPARAMS_H
#define NESTBOX_X86_BOOTPARAMS_H

#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#include "nestbox/err.h"
#include "vmm/kvm/memory.h"
#include "vmm/kvm/x86_64/loader.h"

/* Fill tab (capacity max) with the guest's e820 map: low RAM up to the
 * EBDA, reserved EBDA..1 MiB, RAM from 1 MiB to the end of the low region,
 * and high RAM above 4 GiB if any. Returns the entry count, or -1 if max is
 * too small. */
int nb_e820_build(const struct nb_guest_mem *mem, struct boot_e820_entry *tab, size_t max);

/* Guest physical address for an initrd of `size` bytes: page aligned, as
 * high as possible below min(low RAM end, the kernel's initrd_addr_max),
 * and above the kernel's load_end. Fails with a message if it does not fit. */
int nb_initrd_place(const struct nb_guest_mem *mem, const struct nb_kernel *kernel, uint64_t size,
		    uint64_t *gpa, struct nb_err *err);

struct nb_boot_args {
	uint64_t cmdline_gpa;
	uint32_t cmdline_size; /* strlen + 1 */
	uint64_t initrd_gpa;   /* 0 and size 0: no initrd */
	uint64_t initrd_size;
};

/* Build the zero page for kernel (bzImage: its setup header copied and
 * patched; ELF: a synthesized header) with the e820 map of mem. */
int nb_boot_params_build(struct boot_params *bp, const struct nb_guest_mem *mem,
			 const struct nb_kernel *kernel, const struct nb_boot_args *args,
			 struct nb_err *err);

#endif
