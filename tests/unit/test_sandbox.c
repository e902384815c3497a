/* The VMM's per-thread seccomp filters (vmm/sandbox.c), installed for
 * real in forked children: what each kind's list allows and what kills,
 * with the argument matches (ioctl requests, socket families, PROT_EXEC). */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/sandbox.h"

enum probe {
	PROBE_WRITE,       /* write(2) to /dev/null: every kind */
	PROBE_KVM_RUN,     /* ioctl(-1, KVM_RUN): vCPU only (EBADF there) */
	PROBE_TCGETS,      /* ioctl(-1, TCGETS): an ioctl no vCPU needs */
	PROBE_UNIX_SOCKET, /* socket(AF_UNIX): event only (vsock) */
	PROBE_INET_SOCKET, /* socket(AF_INET): nobody */
	PROBE_EXEC_MMAP,   /* mmap(PROT_EXEC): nobody */
	PROBE_RW_MMAP,     /* mmap(PROT_READ|PROT_WRITE): main and event (malloc) */
	PROBE_EXECVE,      /* execve: nobody */
	PROBE_CLONE,       /* fork: nobody (no thread or process appears later) */
	PROBE_OPEN_WRITE,  /* openat(O_WRONLY): nobody but fs (reopening a guest's file) */
	PROBE_OPEN_CREAT,  /* openat(O_CREAT): nobody (fs creates with openat2 only) */
	PROBE_MKNOD_FIFO,  /* mknodat(S_IFIFO, dev 0): fs only */
	PROBE_MKNOD_DEV,   /* mknodat(S_IFCHR, 1:3): nobody, not even fs */
	PROBE_OPENAT2,     /* openat2 with a bad size (EINVAL): fs only */
};

static long probe(enum probe p)
{
	switch (p) {
	case PROBE_WRITE: return syscall(SYS_write, 2, "", 0);
	case PROBE_KVM_RUN: return syscall(SYS_ioctl, -1, KVM_RUN, 0);
	case PROBE_TCGETS: return syscall(SYS_ioctl, -1, TCGETS, 0);
	case PROBE_UNIX_SOCKET: return syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	case PROBE_INET_SOCKET: return syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	case PROBE_EXEC_MMAP:
		return syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
	case PROBE_RW_MMAP:
		return syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	case PROBE_EXECVE: return syscall(SYS_execve, "/bin/true", NULL, NULL);
	case PROBE_CLONE: return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	case PROBE_OPEN_WRITE: return syscall(SYS_openat, AT_FDCWD, "/dev/null", O_WRONLY);
	case PROBE_OPEN_CREAT:
		return syscall(SYS_openat, AT_FDCWD, "/nonexistent-dir/x", O_WRONLY | O_CREAT, 0600);
	case PROBE_MKNOD_FIFO:
		return syscall(SYS_mknodat, AT_FDCWD, "/nonexistent-dir/x", S_IFIFO | 0600, 0);
	case PROBE_MKNOD_DEV:
		return syscall(SYS_mknodat, AT_FDCWD, "/nonexistent-dir/x", S_IFCHR | 0600, 0x103);
	case PROBE_OPENAT2: return syscall(SYS_openat2, AT_FDCWD, "/", NULL, 1);
	}
	return -1;
}

/* Fork, install kind's filter, run the probe, leave with the raw exit
 * syscall (allowed for every kind). True when the child died of SIGSYS. */
static bool killed(enum nb_thread_kind kind, enum probe p)
{
	struct nb_sandbox sb;
	struct nb_err err;
	int status;

	ck_assert_msg(nb_sandbox_init(&sb, false, 1, &err) == 0, "%s", err.msg);
	if (kind == NB_THREAD_FS) /* built only for a VM with shared directories */
		ck_assert_msg(nb_sandbox_expect(&sb, kind, 0, &err) == 0, "%s", err.msg);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct nb_stop stop;

		if (nb_stop_init(&stop, &err) < 0)
			_exit(3);
		nb_sandbox_release(&sb); /* no other threads here */
		nb_sandbox_enter(&sb, kind, &stop);
		if (nb_stop_requested(&stop))
			syscall(SYS_exit, 4);
		probe(p);
		syscall(kind == NB_THREAD_MAIN ? SYS_exit_group : SYS_exit, 0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	nb_sandbox_destroy(&sb);
	if (WIFEXITED(status))
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

START_TEST(test_vcpu_list)
{
	ck_assert(!killed(NB_THREAD_VCPU, PROBE_WRITE));
	ck_assert(!killed(NB_THREAD_VCPU, PROBE_KVM_RUN));
	ck_assert(killed(NB_THREAD_VCPU, PROBE_TCGETS));
	ck_assert(killed(NB_THREAD_VCPU, PROBE_UNIX_SOCKET));
	ck_assert(killed(NB_THREAD_VCPU, PROBE_RW_MMAP));
	ck_assert(killed(NB_THREAD_VCPU, PROBE_OPEN_WRITE));
}
END_TEST

START_TEST(test_event_list)
{
	ck_assert(!killed(NB_THREAD_EVENT, PROBE_WRITE));
	ck_assert(!killed(NB_THREAD_EVENT, PROBE_UNIX_SOCKET));
	ck_assert(!killed(NB_THREAD_EVENT, PROBE_RW_MMAP));
	ck_assert(killed(NB_THREAD_EVENT, PROBE_INET_SOCKET));
	ck_assert(killed(NB_THREAD_EVENT, PROBE_KVM_RUN));
	ck_assert(killed(NB_THREAD_EVENT, PROBE_EXEC_MMAP));
}
END_TEST

START_TEST(test_main_list)
{
	ck_assert(!killed(NB_THREAD_MAIN, PROBE_WRITE));
	ck_assert(!killed(NB_THREAD_MAIN, PROBE_RW_MMAP));
	ck_assert(killed(NB_THREAD_MAIN, PROBE_KVM_RUN));
	ck_assert(killed(NB_THREAD_MAIN, PROBE_UNIX_SOCKET));
	ck_assert(killed(NB_THREAD_MAIN, PROBE_OPEN_WRITE));
}
END_TEST

START_TEST(test_fs_list)
{
	ck_assert(!killed(NB_THREAD_FS, PROBE_WRITE));
	ck_assert(!killed(NB_THREAD_FS, PROBE_OPEN_WRITE));
	ck_assert(!killed(NB_THREAD_FS, PROBE_MKNOD_FIFO));
	ck_assert(!killed(NB_THREAD_FS, PROBE_OPENAT2));
	ck_assert(killed(NB_THREAD_FS, PROBE_OPEN_CREAT));
	ck_assert(killed(NB_THREAD_FS, PROBE_MKNOD_DEV));
	ck_assert(killed(NB_THREAD_FS, PROBE_KVM_RUN));
	ck_assert(killed(NB_THREAD_FS, PROBE_UNIX_SOCKET));
	ck_assert(killed(NB_THREAD_FS, PROBE_RW_MMAP)); /* the device never allocates */
	/* and the others may not do the device's work */
	ck_assert(killed(NB_THREAD_EVENT, PROBE_OPENAT2));
	ck_assert(killed(NB_THREAD_EVENT, PROBE_MKNOD_FIFO));
	ck_assert(killed(NB_THREAD_VCPU, PROBE_OPENAT2));
}
END_TEST

START_TEST(test_nobody_execs_or_clones)
{
	for (int k = 0; k < NB_THREAD_KINDS; k++) {
		ck_assert(killed((enum nb_thread_kind)k, PROBE_EXECVE));
		ck_assert(killed((enum nb_thread_kind)k, PROBE_CLONE));
		ck_assert(killed((enum nb_thread_kind)k, PROBE_INET_SOCKET));
		ck_assert(killed((enum nb_thread_kind)k, PROBE_EXEC_MMAP));
	}
}
END_TEST

START_TEST(test_counts)
{
	unsigned sys, ioctls;

	nb_sandbox_count(NB_THREAD_VCPU, &sys, &ioctls);
	ck_assert_uint_ge(ioctls, 1);
	ck_assert_uint_le(sys, 12);
	for (int k = 0; k < NB_THREAD_KINDS; k++) {
		nb_sandbox_count((enum nb_thread_kind)k, &sys, &ioctls);
		ck_assert_uint_gt(sys, 0);
		ck_assert_uint_le(sys, 40);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("filters");

	tcase_add_test(tc, test_vcpu_list);
	tcase_add_test(tc, test_event_list);
	tcase_add_test(tc, test_main_list);
	tcase_add_test(tc, test_fs_list);
	tcase_add_test(tc, test_nobody_execs_or_clones);
	tcase_add_test(tc, test_counts);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
