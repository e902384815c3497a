/* Guest memory backing (vmm/kvm/memory.c): --memory-prealloc faults in and
 * locks every page, --memory-hugepages fails naming the pool when it is
 * short, a lock refused names RLIMIT_MEMLOCK, nb_mem_discard() gives
 * back only whole pages inside RAM of unlocked memory, and a snapshot's
 * memory file restored with --memory-prealloc is read into locked RAM. */
#include <check.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/kvm/memory.h"
#include "unit/unit.h"

#define SIZE (16ull << 20)
#define PAGE 4096u

static unsigned long hugepages_free(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	unsigned long n = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %lu", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

START_TEST(prealloc_faults_in_and_locks)
{
	struct nb_guest_mem mem;
	struct nb_err err;
	struct nb_mem_opts opts = { .prealloc = true };

	ck_assert_msg(nb_mem_map(&mem, SIZE, &opts, &err) == 0, "%s", err.msg);
	ck_assert(mem.locked);
	if (mem.backing != NB_MEM_HUGETLB) /* hugetlb pages are not in mincore's view */
		ck_assert_uint_eq(nb_mem_resident(&mem), SIZE);
	ck_assert(!nb_mem_discard(&mem, 0, PAGE)); /* locked: never given back */
	nb_mem_unmap(&mem);
}
END_TEST

START_TEST(on_demand_by_default)
{
	struct nb_guest_mem mem;
	struct nb_err err;

	ck_assert_int_eq(nb_mem_map(&mem, SIZE, NULL, &err), 0);
	ck_assert(!mem.locked);
	ck_assert(mem.backing != NB_MEM_HUGETLB);
	ck_assert_uint_lt(nb_mem_resident(&mem), SIZE);
	nb_mem_unmap(&mem);
}
END_TEST

START_TEST(hugetlb_required_names_the_pool)
{
	struct nb_guest_mem mem;
	struct nb_err err;
	struct nb_mem_opts opts = { .hugetlb = true };

	if (hugepages_free() >= SIZE / (2u << 20)) {
		ck_assert_int_eq(nb_mem_map(&mem, SIZE, &opts, &err), 0);
		ck_assert_int_eq(mem.backing, NB_MEM_HUGETLB);
		nb_mem_unmap(&mem);
		return;
	}
	ck_assert_int_eq(nb_mem_map(&mem, SIZE, &opts, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "/proc/sys/vm/nr_hugepages"));
}
END_TEST

/* In a child without CAP_IPC_LOCK and a 64 KiB RLIMIT_MEMLOCK. */
START_TEST(lock_refused_names_rlimit_memlock)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct c[2];
		struct rlimit lim = { 64 << 10, 64 << 10 };
		struct nb_guest_mem mem;
		struct nb_err err;
		struct nb_mem_opts opts = { .prealloc = true };

		if (syscall(SYS_capget, &h, c) == 0) {
			c[0].effective &= ~(1u << CAP_IPC_LOCK);
			syscall(SYS_capset, &h, c);
		}
		setrlimit(RLIMIT_MEMLOCK, &lim);
		if (nb_mem_map(&mem, SIZE, &opts, &err) == 0)
			_exit(mem.backing == NB_MEM_HUGETLB ? 0 : 2); /* hugetlb needs no lock */
		_exit(strstr(err.msg, "RLIMIT_MEMLOCK is 64 KiB") ? 0 : 3);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}
END_TEST

START_TEST(discard_only_whole_pages_in_ram)
{
	struct nb_guest_mem mem;
	struct nb_err err;

	ck_assert_int_eq(nb_mem_map(&mem, SIZE, NULL, &err), 0);
	memset(mem.base, 0x77, 4 * PAGE);
	ck_assert(!nb_mem_discard(&mem, 100, PAGE));             /* unaligned start */
	ck_assert(!nb_mem_discard(&mem, PAGE, 100));             /* partial page */
	ck_assert(!nb_mem_discard(&mem, PAGE, 0));               /* empty */
	ck_assert(!nb_mem_discard(&mem, SIZE - PAGE, 2 * PAGE)); /* past the end */
	ck_assert(!nb_mem_discard(&mem, UINT64_MAX & ~(uint64_t)(PAGE - 1), PAGE));
	ck_assert(!nb_mem_discard(&mem, SIZE, PAGE));
	ck_assert_uint_eq(mem.base[PAGE], 0x77);
	ck_assert(nb_mem_discard(&mem, PAGE, 2 * PAGE));
	ck_assert_uint_eq(mem.base[PAGE - 1], 0x77);
	ck_assert_uint_eq(mem.base[PAGE], 0);
	ck_assert_uint_eq(mem.base[3 * PAGE - 1], 0);
	ck_assert_uint_eq(mem.base[3 * PAGE], 0x77);
	uint64_t gpa;
	ck_assert(nb_mem_gpa_of(&mem, mem.base + 5 * PAGE + 3, &gpa));
	ck_assert_uint_eq(gpa, 5 * PAGE + 3);
	ck_assert(!nb_mem_gpa_of(&mem, mem.base + SIZE, &gpa));
	ck_assert(!nb_mem_gpa_of(&mem, mem.base - 1, &gpa));
	nb_mem_unmap(&mem);
}
END_TEST

/* A sparse snapshot memory file: bytes at the start, mid-way and in the
 * last page, holes between. */
static int memory_file(void)
{
	char path[] = "/tmp/nb-memfile-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(ftruncate(fd, SIZE), 0);
	ck_assert_int_eq(pwrite(fd, "head", 4, 0), 4);
	ck_assert_int_eq(pwrite(fd, "middle", 6, SIZE / 2 + 3), 6);
	ck_assert_int_eq(pwrite(fd, "tail", 4, SIZE - 4), 4);
	return fd;
}

static void assert_file_bytes(const struct nb_guest_mem *mem)
{
	ck_assert_int_eq(memcmp(mem->base, "head", 4), 0);
	ck_assert_int_eq(memcmp(mem->base + SIZE / 2 + 3, "middle", 6), 0);
	ck_assert_int_eq(memcmp(mem->base + SIZE - 4, "tail", 4), 0);
	ck_assert_uint_eq(mem->base[4], 0);
	ck_assert_uint_eq(mem->base[SIZE / 4], 0);
	ck_assert_uint_eq(mem->base[SIZE / 2 + 9], 0);
}

START_TEST(file_restore_keeps_prealloc)
{
	struct nb_guest_mem mem;
	struct nb_err err;
	struct nb_mem_opts opts = { .prealloc = true };
	int fd = memory_file();

	/* On demand: the file's pages, not resident until touched. */
	ck_assert_msg(nb_mem_map_file(&mem, SIZE, fd, NULL, &err) == 0, "%s", err.msg);
	ck_assert(!mem.locked);
	assert_file_bytes(&mem);
	mem.base[0] = 'H'; /* private: the file keeps its byte */
	nb_mem_unmap(&mem);
	/* Guaranteed: every page the VM's own and locked, the bytes the same. */
	ck_assert_msg(nb_mem_map_file(&mem, SIZE, fd, &opts, &err) == 0, "%s", err.msg);
	ck_assert(mem.locked);
	if (mem.backing != NB_MEM_HUGETLB)
		ck_assert_uint_eq(nb_mem_resident(&mem), SIZE);
	assert_file_bytes(&mem);
	nb_mem_unmap(&mem);
	/* A file of another size is refused before any RAM is mapped. */
	ck_assert_int_eq(nb_mem_map_file(&mem, SIZE + (2u << 20), fd, &opts, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "damaged"));
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("guest_memory");
	TCase *tc = tcase_create("guest_memory");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, prealloc_faults_in_and_locks);
	tcase_add_test(tc, on_demand_by_default);
	tcase_add_test(tc, hugetlb_required_names_the_pool);
	tcase_add_test(tc, lock_refused_names_rlimit_memlock);
	tcase_add_test(tc, discard_only_whole_pages_in_ram);
	tcase_add_test(tc, file_restore_keeps_prealloc);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
