#include "vmm/kvm/memory.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/file.h"

void nb_mem_layout(struct nb_guest_mem *mem, uint8_t *base, uint64_t size)
{
	uint64_t low = size < NB_MEM_HOLE_START ? size : NB_MEM_HOLE_START;

	mem->base = base;
	mem->size = size;
	mem->backing = NB_MEM_4K; /* nb_mem_map says otherwise when it is */
	mem->locked = false;
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
#define PAGE_4K 4096ull

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26) /* MAP_HUGE_SHIFT 26, log2(2 MiB) */
#endif

/* 2 MiB pages from the host's hugetlb pool. Without MAP_NORESERVE the
 * kernel reserves them all at mmap: ENOMEM if the pool is short. */
static uint8_t *map_hugetlb(uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Anonymous 4 KiB pages at a 2 MiB-aligned address (for THP). */
static uint8_t *map_anon(uint64_t size)
{
	uint8_t *raw = mmap(NULL, size + HUGE_ALIGN, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint8_t *base;

	if (raw == MAP_FAILED)
		return NULL;
	/* Trim the slack so base is aligned and nothing extra stays mapped. */
	base = (uint8_t *)(((uintptr_t)raw + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
	if (base > raw)
		munmap(raw, (size_t)(base - raw));
	if (base + size < raw + size + HUGE_ALIGN)
		munmap(base + size, (size_t)(raw + size + HUGE_ALIGN - (base + size)));
	return base;
}

/* Whether the host gives MADV_HUGEPAGE regions transparent huge pages
 * ("[always]" or "[madvise]"; unknown, e.g. in a jail without /sys: no). */
static bool thp_enabled(void)
{
	char buf[128] = "";
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return !strstr(buf, "[never]");
}

/* --memory-prealloc: every page faulted in now and locked, so what the
 * guest was promised is there and stays. MADV_POPULATE_WRITE faults in
 * without the mlock accounting (old kernels: EINVAL, mlock does it);
 * hugetlb pages are never swapped, so they need no lock. */
static int prealloc(struct nb_guest_mem *mem, struct nb_err *err)
{
	uint64_t mib = mem->size >> 20;
	struct rlimit lim;

	if (madvise(mem->base, mem->size, MADV_POPULATE_WRITE) < 0 && errno != EINVAL)
		return nb_err_sys(err, "--memory-prealloc: faulting in %llu MiB of guest memory",
				  (unsigned long long)mib);
	/* mlock(2) itself: sanitizer runtimes make the libc call a no-op. */
	if (mem->backing != NB_MEM_HUGETLB && syscall(SYS_mlock, mem->base, mem->size) < 0) {
		int e = errno;

		getrlimit(RLIMIT_MEMLOCK, &lim);
		if (e == ENOMEM || e == EPERM)
			return nb_err_set(
				err, 0,
				"--memory-prealloc: cannot lock %llu MiB of guest memory: "
				"RLIMIT_MEMLOCK is %llu KiB (raise it: ulimit -l, "
				"LimitMEMLOCK=, or run with CAP_IPC_LOCK)",
				(unsigned long long)mib,
				lim.rlim_cur == RLIM_INFINITY
					? 0ull
					: (unsigned long long)(lim.rlim_cur >> 10));
		return nb_err_set(err, e, "--memory-prealloc: mlock of %llu MiB",
				  (unsigned long long)mib);
	}
	mem->locked = true;
	return 0;
}

int nb_mem_map(struct nb_guest_mem *mem, uint64_t size, const struct nb_mem_opts *opts,
	       struct nb_err *err)
{
	uint8_t *base = NULL;

	if (size < NB_MEM_MIN || size > NB_MEM_MAX || size % (2u << 20))
		return nb_err_set(err, 0,
				  "guest memory %llu MiB is out of range: use a multiple of 2 MiB "
				  "between %llu MiB and %llu MiB",
				  (unsigned long long)(size >> 20), NB_MEM_MIN >> 20,
				  NB_MEM_MAX >> 20);
	if (opts && (opts->hugetlb || opts->prealloc))
		base = map_hugetlb(size);
	if (base) {
		nb_mem_layout(mem, base, size);
		mem->backing = NB_MEM_HUGETLB;
	} else if (opts && opts->hugetlb) {
		return nb_err_set(
			err, errno,
			"--memory-hugepages: the host's hugetlb pool has fewer than %llu "
			"free 2 MiB pages (see /proc/sys/vm/nr_hugepages and HugePages_Free "
			"in /proc/meminfo)",
			(unsigned long long)(size / HUGE_ALIGN));
	} else if ((base = map_anon(size))) {
		/* Guest RAM never belongs in a core dump of the VMM, and huge
		 * pages cut the L2 TLB and EPT/NPT cost when the host offers them. */
		madvise(base, size, MADV_DONTDUMP);
		madvise(base, size, MADV_HUGEPAGE);
		nb_mem_layout(mem, base, size);
		mem->backing = thp_enabled() ? NB_MEM_THP : NB_MEM_4K;
	} else {
		return nb_err_sys(err, "mapping %llu MiB of guest memory",
				  (unsigned long long)(size >> 20));
	}
	mem->locked = false;
	if (opts && opts->prealloc && prealloc(mem, err) < 0) {
		nb_mem_unmap(mem);
		return -1;
	}
	return 0;
}

/* One data extent of the snapshot file into guest RAM mapped as opts says;
 * the holes are zeros in the file and already zeros in RAM. */
static int read_extent(int fd, off_t start, off_t end, void *mem)
{
	uint8_t *base = ((struct nb_guest_mem *)mem)->base;
	size_t len = (size_t)(end - start);

	errno = 0;
	if (nb_pread_upto(fd, base + start, len, (uint64_t)start) == len)
		return 0;
	errno = errno ? errno : EIO; /* a file shorter than its extents said */
	return -1;
}

int nb_mem_map_file(struct nb_guest_mem *mem, uint64_t size, int fd, const struct nb_mem_opts *opts,
		    struct nb_err *err)
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
	if (opts && (opts->prealloc || opts->hugetlb)) {
		/* Guaranteed RAM is the VM's own: a copy, not the page cache's. */
		if (nb_mem_map(mem, size, opts, err) < 0)
			return -1;
		if (nb_file_extents(fd, (off_t)size, read_extent, mem) < 0) {
			nb_err_sys(err, "reading the snapshot memory file");
			nb_mem_unmap(mem);
			return -1;
		}
		return 0;
	}
	if (nb_mem_map(mem, size, NULL, err) < 0)
		return -1;
	/* Over the aligned anonymous reservation nb_mem_map made: file pages,
	 * 4 KiB each (no THP for a private file mapping). */
	p = mmap(mem->base, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
		 fd, 0);
	if (p == MAP_FAILED) {
		nb_mem_unmap(mem);
		return nb_err_sys(err, "mapping the snapshot memory file");
	}
	madvise(mem->base, size, MADV_DONTDUMP);
	mem->backing = NB_MEM_4K;
	return 0;
}

const char *nb_mem_backing_name(enum nb_mem_backing backing)
{
	return backing == NB_MEM_HUGETLB ? "hugetlb" : backing == NB_MEM_THP ? "thp" : "4k";
}

bool nb_mem_discard(const struct nb_guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint8_t *host;

	if (mem->locked || mem->backing == NB_MEM_HUGETLB || len == 0 || gpa % PAGE_4K ||
	    len % PAGE_4K || !(host = nb_gpa_ptr(mem, gpa, len)))
		return false;
	return madvise(host, (size_t)len, MADV_DONTNEED) == 0;
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

bool nb_mem_gpa_of(const struct nb_guest_mem *mem, const void *host, uint64_t *gpa)
{
	uintptr_t h = (uintptr_t)host;

	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct nb_mem_region *r = &mem->regions[i];
		uintptr_t start = (uintptr_t)r->host;

		if (r->host && h >= start && h - start < r->size) {
			*gpa = r->gpa + (h - start);
			return true;
		}
	}
	return false;
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
