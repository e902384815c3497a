/* Guest physical memory: one anonymous mapping split into at most two RAM
 * regions around the 32-bit MMIO hole. By default MAP_NORESERVE (nothing is
 * preallocated; pages are touched on demand, transparent huge pages where
 * the host allows them); with nb_mem_opts.prealloc every page is faulted in
 * and locked at start, from the host's hugetlb pool when it has enough free
 * 2 MiB pages. Every guest address the VMM follows
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

/* What backs guest RAM. */
enum nb_mem_backing {
	NB_MEM_4K,      /* anonymous 4 KiB pages (THP off or unknown on this host) */
	NB_MEM_THP,     /* anonymous, MADV_HUGEPAGE with THP enabled on the host */
	NB_MEM_HUGETLB, /* MAP_HUGETLB 2 MiB pages from the host's pool */
};

/* How to back guest RAM (--memory-prealloc, --memory-hugepages). */
struct nb_mem_opts {
	bool prealloc; /* fault in and lock every page at start; hugetlb if the pool has it */
	bool hugetlb;  /* hugetlb pages or fail (naming the pool) */
};

struct nb_guest_mem {
	uint8_t *base; /* the whole mapping */
	uint64_t size; /* total RAM bytes */
	unsigned nregions;
	struct nb_mem_region regions[2];
	enum nb_mem_backing backing;
	bool locked; /* prealloc'd: faulted in and mlock'ed (hugetlb: never swapped) */
};

/* Map `size` bytes of guest RAM (a multiple of 2 MiB, NB_MEM_MIN..NB_MEM_MAX)
 * as opts says (NULL: on demand). Fails naming RLIMIT_MEMLOCK when the
 * pages cannot be locked, and /proc/sys/vm/nr_hugepages when hugetlb pages
 * were required and the pool is short. */
int nb_mem_map(struct nb_guest_mem *mem, uint64_t size, const struct nb_mem_opts *opts,
	       struct nb_err *err);

/* "4k", "thp" or "hugetlb", for --stats. */
const char *nb_mem_backing_name(enum nb_mem_backing backing);

/* Give [gpa, gpa+len) back to the host (MADV_DONTNEED: the next guest
 * access reads zeros, or the snapshot's bytes when RAM is mapped from a
 * snapshot file). Only whole host pages inside one RAM region of an
 * unlocked 4K/THP mapping; false (nothing done) otherwise. */
bool nb_mem_discard(const struct nb_guest_mem *mem, uint64_t gpa, uint64_t len);
/* Lay out regions over an existing buffer (used by nb_mem_map and by unit
 * tests that supply their own buffer). With base NULL the layout is a plan
 * only: nb_mem_contains() answers, nb_gpa_ptr() returns NULL. nestbox checks
 * the kernel and initramfs against such a plan before it touches KVM. */
void nb_mem_layout(struct nb_guest_mem *mem, uint8_t *base, uint64_t size);
/* Map `size` bytes of guest RAM from the snapshot memory file fd,
 * MAP_PRIVATE: pages are read on demand, shared with every other VM
 * mapping the same file until written (then copied). With opts asking for
 * preallocated or hugetlb RAM, RAM is mapped as nb_mem_map does and the
 * file's data read into it instead (a restore keeps the guarantee). The
 * file must be exactly size bytes. */
int nb_mem_map_file(struct nb_guest_mem *mem, uint64_t size, int fd, const struct nb_mem_opts *opts,
		    struct nb_err *err);
void nb_mem_unmap(struct nb_guest_mem *mem);

/* Host pointer for [gpa, gpa+len) if it lies wholly inside one RAM region,
 * else NULL. Overflow-safe; len may be 0 (then gpa must still be in RAM). */
void *nb_gpa_ptr(const struct nb_guest_mem *mem, uint64_t gpa, uint64_t len);

/* True if [gpa, gpa+len) lies wholly inside one RAM region (same rule as
 * nb_gpa_ptr, for plans too). */
bool nb_mem_contains(const struct nb_guest_mem *mem, uint64_t gpa, uint64_t len);

/* The guest address of host pointer `host` if it points into a RAM
 * region (so *gpa is in RAM), else false. */
bool nb_mem_gpa_of(const struct nb_guest_mem *mem, const void *host, uint64_t *gpa);

/* Copy into guest memory; fails with a message naming the range. */
int nb_mem_write(const struct nb_guest_mem *mem, uint64_t gpa, const void *src, size_t len,
		 struct nb_err *err);

/* Bytes of guest RAM the host has backed with pages so far (mincore). */
uint64_t nb_mem_resident(const struct nb_guest_mem *mem);

/* End of the RAM region that starts at 0 (the region below the hole). */
uint64_t nb_mem_low_end(const struct nb_guest_mem *mem);

#endif
