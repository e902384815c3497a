#include "vmm/kvm/memory.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void nb_mem_layout(struct nb_guest_mem *mem, uint8_t *base, uint64_t size)
{
	uint64_t low = size < NB_MEM_HOLE_START ? size : NB_MEM_HOLE_START;

	mem->base = base;
	mem->size = size;
	mem->nregions = 1;
	mem->regions[0] = (struct nb_mem_region){ .gpa = 0, .size = low, .host = base };
	if (size > low) {
		mem->regions[1] = (struct nb_mem_region){ .gpa = NB_MEM_HIGH_START,
							  .size = size - low,
							  .host = base ? base + low : NULL };
		mem->nregions = 2;
	}
}

/* Transparent huge pages need 2 MiB-aligned host addresses; a huge page
 * backs 512 guest pages with one fault and one nested page table entry. */
#define HUGE_ALIGN (2ull << 20)

int nb_mem_map(struct nb_guest_mem *mem, uint64_t size, struct nb_err *err)
{
	uint8_t *raw, *base;

	if (size < NB_MEM_MIN || size > NB_MEM_MAX || size % (2u << 20))
		return nb_err_set(err, 0,
				  "guest memory %llu MiB is out of range: use a multiple of 2 MiB "
				  "between %llu MiB and %llu MiB",
				  (unsigned long long)(size >> 20), NB_MEM_MIN >> 20,
				  NB_MEM_MAX >> 20);
	raw = mmap(NULL, size + HUGE_ALIGN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return nb_err_sys(err, "mapping %llu MiB of guest memory",
				  (unsigned long long)(size >> 20));
	/* Trim the slack so base is aligned and nothing extra stays mapped. */
	base = (uint8_t *)(((uintptr_t)raw + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
	if (base > raw)
		munmap(raw, (size_t)(base - raw));
	if (base + size < raw + size + HUGE_ALIGN)
		munmap(base + size, (size_t)(raw + size + HUGE_ALIGN - (base + size)));
	/* Guest RAM never belongs in a core dump of the VMM, and huge pages
	 * cut the L2 TLB and EPT/NPT cost when the host offers them. */
	madvise(base, size, MADV_DONTDUMP);
	madvise(base, size, MADV_HUGEPAGE);
	nb_mem_layout(mem, base, size);
	return 0;
}

int nb_mem_map_file(struct nb_guest_mem *mem, uint64_t size, int fd, struct nb_err *err)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return nb_err_sys(err, "snapshot memory file");
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
		return nb_err_set(err, 0,
				  "snapshot memory file is not a regular file of %llu MiB "
				  "(the snapshot is damaged: take it again)",
				  (unsigned long long)(size >> 20));
	if (nb_mem_map(mem, size, err) < 0)
		return -1;
	/* Over the aligned anonymous reservation nb_mem_map made. */
	p = mmap(mem->base, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
		 fd, 0);
	if (p == MAP_FAILED) {
		nb_mem_unmap(mem);
		return nb_err_sys(err, "mapping the snapshot memory file");
	}
	madvise(mem->base, size, MADV_DONTDUMP);
	return 0;
}

void nb_mem_unmap(struct nb_guest_mem *mem)
{
	if (mem->base)
		munmap(mem->base, mem->size);
	mem->base = NULL;
	mem->nregions = 0;
}

/* The region holding all of [gpa, gpa+len), or NULL. */
static const struct nb_mem_region *region_of(const struct nb_guest_mem *mem, uint64_t gpa,
					     uint64_t len)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct nb_mem_region *r = &mem->regions[i];

		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off > r->size || len > r->size - off || (len == 0 && off == r->size))
			continue;
		return r;
	}
	return NULL;
}

bool nb_mem_contains(const struct nb_guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return region_of(mem, gpa, len) != NULL;
}

void *nb_gpa_ptr(const struct nb_guest_mem *mem, uint64_t gpa, uint64_t len)
{
	const struct nb_mem_region *r = region_of(mem, gpa, len);

	return r && r->host ? r->host + (gpa - r->gpa) : NULL;
}

int nb_mem_write(const struct nb_guest_mem *mem, uint64_t gpa, const void *src, size_t len,
		 struct nb_err *err)
{
	uint8_t *dst = nb_gpa_ptr(mem, gpa, len);

	if (!dst)
		return nb_err_set(err, 0, "guest range 0x%llx+0x%zx is outside guest RAM",
				  (unsigned long long)gpa, len);
	memcpy(dst, src, len);
	return 0;
}

uint64_t nb_mem_low_end(const struct nb_guest_mem *mem)
{
	return mem->regions[0].size;
}

uint64_t nb_mem_resident(const struct nb_guest_mem *mem)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const size_t chunk_pages = 1u << 16;
	unsigned char vec[1u << 16];
	uint64_t resident = 0;

	for (uint64_t off = 0; off < mem->size; off += (uint64_t)chunk_pages * page) {
		uint64_t left = mem->size - off;
		size_t len = left < chunk_pages * page ? (size_t)left : chunk_pages * page;
		if (mincore(mem->base + off, len, vec) < 0)
			return 0;
		for (size_t i = 0; i < (len + page - 1) / page; i++)
			resident += vec[i] & 1;
	}
	return resident * page;
}
