/* Scaffolding shared by the Check unit tests. */
#ifndef NESTBOX_TESTS_UNIT_H
#define NESTBOX_TESTS_UNIT_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* A scratch directory for a test (Check fixtures): dir (64 bytes) becomes
 * a fresh /tmp/nestbox-NAME.XXXXXX; nb_unit_rmdir removes it and all in it. */
static inline void nb_unit_mkdir(char dir[64], const char *name)
{
	snprintf(dir, 64, "/tmp/nestbox-%s.XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static inline void nb_unit_rmdir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* dir/name, in one of two static buffers (two may be held at once). */
static inline const char *nb_unit_at(const char *dir, const char *name)
{
	static char path[2][256];
	static int turn;

	turn ^= 1;
	snprintf(path[turn], sizeof(path[turn]), "%s/%s", dir, name);
	return path[turn];
}

/* A shell command's exit status (-1: it did not exit). */
static inline int nb_unit_sh(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* body(arg) in a child process in a network namespace of its own: the
 * status it returns (0: passed; the child must exit, not be killed), or
 * -1 when no namespace could be made (after a "skip NAME" line). */
static inline int nb_unit_in_netns(const char *name, int (*body)(void *arg), void *arg)
{
	pid_t pid = fork();
	int ws;

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(unshare(CLONE_NEWNET) < 0 ? 255 : body(arg));
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert(WIFEXITED(ws));
	if (WEXITSTATUS(ws) == 255) {
		printf("skip %s: cannot make a network namespace\n", name);
		return -1;
	}
	return WEXITSTATUS(ws);
}

/* The same with a directory of its own: body gets the path of a new
 * directory under /tmp (prefix: its name's start), removed afterwards. */
static inline int nb_unit_in_netns_dir(const char *name, const char *prefix, int (*body)(void *dir))
{
	char dir[64], cmd[96];
	int rc;

	snprintf(dir, sizeof(dir), "/tmp/%s-XXXXXX", prefix);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	rc = nb_unit_in_netns(name, body, dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	return rc;
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
