/* Scaffolding shared by the Check unit tests. */
#ifndef NESTBOX_TESTS_UNIT_H
#define NESTBOX_TESTS_UNIT_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "vmm/kvm/memory.h"

/* Run every test of s; the process exit status says whether all passed. */
static inline int nb_unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Zeroed guest RAM for boot-structure tests, laid out as the VMM does.
 * MAP_NORESERVE: a 5 GiB "guest" costs nothing until touched. Release it
 * with nb_mem_unmap(). */
static inline void nb_unit_guest_map(struct nb_guest_mem *mem, uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	nb_mem_layout(mem, p, size);
}

#endif
