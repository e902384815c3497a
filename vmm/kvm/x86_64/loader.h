/* Guest kernel loader: an uncompressed ELF vmlinux (64-bit entry, loaded at
 * its segments' physical addresses) or a bzImage (boot protocol >= 2.12
 * with XLF_KERNEL_64, protected-mode part loaded at pref_address or 16 MiB).
 * The file is hostile input: every offset and size is checked against the
 * file and against guest RAM before anything is copied. */
#ifndef NESTBOX_X86_LOADER_H
#define NESTBOX_X86_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#include "nestbox/err.h"
#include "vmm/kvm/memory.h"

struct nb_kernel {
	uint64_t entry;      /* 64-bit entry point, guest physical */
	uint64_t load_start; /* lowest guest physical byte written */
	uint64_t load_end;   /* one past the highest byte the kernel needs
			      * (for bzImage: start + init_size) */
	bool bzimage;
	struct setup_header hdr; /* bzImage: the file's setup header; ELF: zero */
};

/* Identify and validate the kernel in buf[0..len) against mem (which may be
 * a plan: nb_mem_layout with no buffer) and fill out, copying nothing. */
int nb_kernel_check(const uint8_t *buf, size_t len, const struct nb_guest_mem *mem,
		    struct nb_kernel *out, struct nb_err *err);

/* nb_kernel_check, then load the kernel in buf[0..len) into mem. On error, names the
 * defect (e.g. "not an ELF or bzImage", "segment 2 runs past end of file",
 * "kernel needs 40 MiB but guest has 32 MiB"). */
int nb_kernel_load(const uint8_t *buf, size_t len, const struct nb_guest_mem *mem,
		   struct nb_kernel *out, struct nb_err *err);

/* True if buf holds a Linux kernel: a bzImage, or an ELF with a note owned
 * by "Linux" (every vmlinux has them). Other ELF files are test payloads.
 * Used to refuse, with an explanation, booting Linux on a PVM host. */
bool nb_kernel_is_linux(const uint8_t *buf, size_t len);

#endif
