/* Guest physical memory: one anonymous MAP_NORESERVE mapping (nothing is
 * preallocated; pages are touched on demand), split into at most two RAM
 * regions around the 32-bit MMIO hole. Every guest address the VMM follows
 * goes through nb_gpa_ptr(), the one checked accessor.
 */
#ifndef NESTBOX_VMM_KVM_MEMORY_H
#define NESTBOX_VMM_KVM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nestbox/err.h"

#define NB_MEM_HOLE_START 0xc0000000ull  /* 3 GiB: start of the MMIO hole */
#define NB_MEM_HIGH_START 0x100000000ull /* 4 GiB: RAM resumes here */
#define NB_MEM_MIN (16ull << 20)
#define NB_MEM_MAX (1ull << 40)

struct nb_mem_region {
	uint64_t gpa;  /* first guest physical address */
	uint64_t size; /* bytes */
	uint8_t *host; /* host address of gpa */
};

struct nb_guest_mem {
	uint8_t *base; /* the whole mapping */
	uint64_t size; /* total RAM bytes */
	unsigned nregions;
	struct nb_mem_region regions[2];
};

/* Map `size` bytes of guest RAM (a multiple of 2 MiB, NB_MEM_MIN..NB_MEM_MAX). */
int nb_mem_map(struct nb_guest_mem *mem, uint64_t size, struct nb_err *err);
/* Lay out regions over an existing buffer (used by nb_mem_map and by unit
 * tests that supply their own buffer). With base NULL the layout is a plan
 * only: nb_mem_contains() answers, nb_gpa_ptr() returns NULL. nestbox checks
 * the kernel and initramfs against such a plan before it touches KVM. */
void nb_mem_layout(struct nb_guest_mem *mem, uint8_t *base, uint64_t size);
/* Map `size` bytes of guest RAM from the snapshot memory file fd,
 * MAP_PRIVATE: pages are read on demand, shared with every other VM
 * mapping the same file until written (then copied). The file must be
 * exactly size bytes. */
int nb_mem_map_file(struct nb_guest_mem *mem, uint64_t size, int fd, struct nb_err *err);
void nb_mem_unmap(struct nb_guest_mem *mem);

/* Host pointer for [gpa, gpa+len) if it lies wholly inside one RAM region,
 * else NULL. Overflow-safe; len may be 0 (then gpa must still be in RAM). */
void *nb_gpa_ptr(const struct nb_guest_mem *mem, uint64_t gpa, uint64_t len);

/* True if [gpa, gpa+len) lies wholly inside one RAM region (same rule as
 * nb_gpa_ptr, for plans too). */
bool nb_mem_contains(const struct nb_guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copy into guest memory; fails with a message naming the range. */
int nb_mem_write(const struct nb_guest_mem *mem, uint64_t gpa, const void *src, size_t len,
		 struct nb_err *err);

/* Bytes of guest RAM the host has backed with pages so far (mincore). */
uint64_t nb_mem_resident(const struct nb_guest_mem *mem);

/* End of the RAM region that starts at 0 (the region below the hole). */
uint64_t nb_mem_low_end(const struct nb_guest_mem *mem);

#endif
