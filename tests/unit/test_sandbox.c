/* The VMM's per-thread seccomp filters (vmm/confine/seccomp.c), installed for
 * real in forked children: what each kind's list allows and what kills,
 * with the argument matches (ioctl requests, descriptors, flags, PROT_EXEC,
 * the kick's process), and the rules a run gets only with an option.
 * Issue 11: no thread may open, unlink, create sockets or connect. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/confine/seccomp.h"
#include "vmm/confine/seccomp_prebuilt.h"
#include "vmm/run/container_seccomp.h"
#include "nestbox/abi.h"
#include "vmm/kvm/vcpu.h"

enum probe {
	PROBE_WRITE,          /* write(2) to stderr, 0 bytes: every kind */
	PROBE_KVM_RUN,        /* ioctl(-1, KVM_RUN): vCPU only (EBADF there) */
	PROBE_TCGETS,         /* ioctl(-1, TCGETS): main, with -t */
	PROBE_UNIX_SOCKET,    /* socket(AF_UNIX): nobody (the vsock broker connects) */
	PROBE_INET_SOCKET,    /* socket(AF_INET): nobody */
	PROBE_CONNECT,        /* connect(-1): nobody */
	PROBE_UNLINK,         /* unlink: nobody */
	PROBE_OPEN_READ,      /* openat(O_RDONLY): nobody (--stats' file is opened before) */
	PROBE_OPEN_TRUNC,     /* openat(O_RDONLY|O_TRUNC): nobody */
	PROBE_OPEN_WRITE,     /* openat(O_WRONLY): nobody */
	PROBE_EXEC_MMAP,      /* mmap(PROT_EXEC): nobody */
	PROBE_RW_MMAP,        /* mmap(PROT_READ|PROT_WRITE): main and event (malloc) */
	PROBE_EXECVE,         /* execve: nobody */
	PROBE_CLONE,          /* fork: nobody (no thread or process appears later) */
	PROBE_POLL,           /* poll: nobody (ppoll is the one) */
	PROBE_PPOLL,          /* ppoll: every kind */
	PROBE_GETPID,         /* getpid: nobody (the kick has the pid already) */
	PROBE_KICK_OWN,       /* tgkill(our pid, no such tid, kick): main */
	PROBE_KICK_OTHER,     /* tgkill(another pid, ..., kick): nobody */
	PROBE_WRITEV_STDOUT,  /* writev(1, 0 vectors): main and event */
	PROBE_WRITEV_OTHER,   /* writev(a socket, 0 vectors): event, not main */
	PROBE_RECVMSG_BROKER, /* recvmsg(the broker fd, MSG_CMSG_CLOEXEC): event, with --vsock */
	PROBE_RECVMSG_OTHER,  /* recvmsg on another socket: nobody */
	PROBE_ACCEPT_LISTEN,  /* accept4(the vsock listener): event, with --vsock */
	PROBE_ACCEPT_OTHER,   /* accept4(another fd): nobody */
	PROBE_PREADV,         /* preadv(-1): event with a disk, main with --stats */
	PROBE_PWRITEV,        /* pwritev(-1): event with a writable disk */
	PROBE_TIMERFD,        /* timerfd_settime(-1): event with rate limits */
	PROBE_OPEN_CREAT,     /* openat(O_CREAT): nobody (fs creates with openat2 only) */
	PROBE_MKNOD_FIFO,     /* mknodat(S_IFIFO, dev 0): fs only */
	PROBE_MKNOD_DEV,      /* mknodat(S_IFCHR, 1:3): nobody, not even fs */
	PROBE_OPENAT2,        /* openat2 with a bad size (EINVAL): fs only */
	PROBE_READLINK,       /* readlinkat: fs; main in a live snapshot with -v DIR */
	PROBE_STDERR_PRINTF,  /* fprintf(stderr): every kind (unbuffered: no fstat) */
	PROBE_DPRINTF,        /* dprintf: nobody (glibc's stream fstats its descriptor) */
};

/* Descriptors the child's rules match; /dev/null, written by the stdio
 * probes (also as stderr). */
static int broker[2] = { -1, -1 }, listener = -1, devnull = -1;
static pid_t self; /* getpid() before the filter (getpid is in no list) */

static long probe(enum probe p)
{
	struct msghdr msg = { 0 };

	switch (p) {
	case PROBE_WRITE:
		return syscall(SYS_write, 2, "", 0);
	case PROBE_KVM_RUN:
		return syscall(SYS_ioctl, -1, KVM_RUN, 0);
	case PROBE_TCGETS:
		return syscall(SYS_ioctl, -1, TCGETS, 0);
	case PROBE_UNIX_SOCKET:
		return syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	case PROBE_INET_SOCKET:
		return syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	case PROBE_CONNECT:
		return syscall(SYS_connect, -1, NULL, 0);
	case PROBE_UNLINK:
		return syscall(SYS_unlink, "/nonexistent/nestbox-probe");
	case PROBE_OPEN_READ:
		return syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
	case PROBE_OPEN_TRUNC:
		return syscall(SYS_openat, AT_FDCWD, "/nonexistent/x", O_RDONLY | O_TRUNC);
	case PROBE_OPEN_WRITE:
		return syscall(SYS_openat, AT_FDCWD, "/dev/null", O_WRONLY);
	case PROBE_EXEC_MMAP:
		return syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	case PROBE_RW_MMAP:
		return syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	case PROBE_EXECVE:
		return syscall(SYS_execve, "/bin/true", NULL, NULL);
	case PROBE_CLONE:
		return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	case PROBE_POLL:
		return syscall(SYS_poll, NULL, 0, 0);
	case PROBE_PPOLL:
		return syscall(SYS_ppoll, NULL, 0, &(struct timespec){ 0 }, NULL, 8);
	case PROBE_GETPID:
		return syscall(SYS_getpid);
	case PROBE_KICK_OWN:
		return syscall(SYS_tgkill, self, 0x7ffffff0, NB_VCPU_KICK_SIGNAL);
	case PROBE_KICK_OTHER:
		return syscall(SYS_tgkill, 0x7ffffff0, 0x7ffffff0, NB_VCPU_KICK_SIGNAL);
	case PROBE_WRITEV_STDOUT:
		return syscall(SYS_writev, STDOUT_FILENO, NULL, 0);
	case PROBE_WRITEV_OTHER:
		return syscall(SYS_writev, broker[1], NULL, 0);
	case PROBE_RECVMSG_BROKER: /* the broker's client's exact flags */
		return syscall(SYS_recvmsg, broker[0], &msg, MSG_CMSG_CLOEXEC);
	case PROBE_RECVMSG_OTHER:
		return syscall(SYS_recvmsg, broker[1], &msg, MSG_CMSG_CLOEXEC);
	case PROBE_ACCEPT_LISTEN:
		return syscall(SYS_accept4, listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	case PROBE_ACCEPT_OTHER:
		return syscall(SYS_accept4, broker[1], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	case PROBE_PREADV:
		return syscall(SYS_preadv, -1, NULL, 0, 0, 0);
	case PROBE_PWRITEV:
		return syscall(SYS_pwritev, -1, NULL, 0, 0, 0);
	case PROBE_TIMERFD:
		return syscall(SYS_timerfd_settime, -1, 0, NULL, NULL);
	case PROBE_OPEN_CREAT:
		return syscall(SYS_openat, AT_FDCWD, "/nonexistent-dir/x", O_WRONLY | O_CREAT,
			       0600);
	case PROBE_MKNOD_FIFO:
		return syscall(SYS_mknodat, AT_FDCWD, "/nonexistent-dir/x", S_IFIFO | 0600, 0);
	case PROBE_MKNOD_DEV:
		return syscall(SYS_mknodat, AT_FDCWD, "/nonexistent-dir/x", S_IFCHR | 0600, 0x103);
	case PROBE_OPENAT2:
		return syscall(SYS_openat2, AT_FDCWD, "/", NULL, 1);
	case PROBE_READLINK: {
		char buf[8];

		return syscall(SYS_readlinkat, AT_FDCWD, "/nonexistent-dir/x", buf, sizeof(buf));
	}
	case PROBE_STDERR_PRINTF:
		return fprintf(stderr, "nestbox: %s\n", "a message after the filter");
	case PROBE_DPRINTF:
		return dprintf(devnull, "e%s", "an error after the filter");
	}
	return -1;
}

/* A listening Unix socket and a socketpair standing in for the vsock
 * device's listener and broker, a message waiting at each end (so a
 * recvmsg returns at once). */
static void make_fds(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, broker), 0);
	ck_assert_int_eq(write(broker[0], "x", 1), 1);
	ck_assert_int_eq(write(broker[1], "x", 1), 1);
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(listener, 0);
	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "nestbox-sandbox-%d", (int)getpid());
	ck_assert_int_eq(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(listen(listener, 1), 0);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(devnull, 0);
	ck_assert_int_eq(dup2(devnull, STDERR_FILENO), STDERR_FILENO);
}

/* Fork, build the filters for a run with needs, install kind's, run the
 * probe, leave with the raw exit syscall (allowed for every kind). True
 * when the child died of SIGSYS. */
static bool killed_with(enum nb_thread_kind kind, unsigned needs, enum probe p)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct nb_sandbox sb;
		struct nb_stop stop;
		struct nb_err err;

		make_fds();
		self = getpid();
		struct nb_sandbox_config cfg = { .needs = needs,
						 .pid = self,
						 .vsock_listen_fd = listener,
						 .vsock_broker_fd = broker[0] };
		if (nb_sandbox_init(&sb, false, 1, &cfg, &err) < 0 ||
		    nb_stop_init(&stop, &err) < 0 ||
		    (kind == NB_THREAD_FS && nb_sandbox_expect(&sb, kind, 0, &err) < 0))
			_exit(3);
		nb_sandbox_release(&sb); /* no other threads here */
		nb_sandbox_enter(&sb, kind, &stop);
		if (nb_stop_requested(&stop))
			syscall(SYS_exit, 4);
		probe(p);
		syscall(kind == NB_THREAD_MAIN ? SYS_exit_group : SYS_exit, 0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status))
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

static bool killed(enum nb_thread_kind kind, enum probe p)
{
	return killed_with(kind, NB_NEED_ALL, p);
}

START_TEST(test_vcpu_list)
{
	ck_assert(!killed(NB_THREAD_VCPU, PROBE_WRITE));
	ck_assert(!killed(NB_THREAD_VCPU, PROBE_KVM_RUN));
	ck_assert(!killed(NB_THREAD_VCPU, PROBE_PPOLL));
	ck_assert(killed(NB_THREAD_VCPU, PROBE_TCGETS));
	ck_assert(killed(NB_THREAD_VCPU, PROBE_RW_MMAP));
	ck_assert(killed(NB_THREAD_VCPU, PROBE_KICK_OWN));
	ck_assert(killed(NB_THREAD_VCPU, PROBE_WRITEV_STDOUT));
}
END_TEST

START_TEST(test_event_list)
{
	ck_assert(!killed(NB_THREAD_EVENT, PROBE_WRITE));
	ck_assert(!killed(NB_THREAD_EVENT, PROBE_RW_MMAP));
	ck_assert(!killed(NB_THREAD_EVENT, PROBE_WRITEV_OTHER));
	ck_assert(!killed(NB_THREAD_EVENT, PROBE_RECVMSG_BROKER));
	ck_assert(!killed(NB_THREAD_EVENT, PROBE_ACCEPT_LISTEN));
	ck_assert(!killed(NB_THREAD_EVENT, PROBE_PREADV));
	ck_assert(killed(NB_THREAD_EVENT, PROBE_RECVMSG_OTHER));
	ck_assert(killed(NB_THREAD_EVENT, PROBE_ACCEPT_OTHER));
	ck_assert(killed(NB_THREAD_EVENT, PROBE_KVM_RUN));
	ck_assert(killed(NB_THREAD_EVENT, PROBE_KICK_OWN));
}
END_TEST

START_TEST(test_main_list)
{
	ck_assert(!killed(NB_THREAD_MAIN, PROBE_WRITE));
	ck_assert(!killed(NB_THREAD_MAIN, PROBE_RW_MMAP));
	ck_assert(!killed(NB_THREAD_MAIN, PROBE_WRITEV_STDOUT));
	ck_assert(!killed(NB_THREAD_MAIN, PROBE_KICK_OWN));
	ck_assert(!killed(NB_THREAD_MAIN, PROBE_TCGETS));
	ck_assert(killed(NB_THREAD_MAIN, PROBE_WRITEV_OTHER));
	/* KVM_RUN only where a template's main thread saves the VM */
	ck_assert(killed_with(NB_THREAD_MAIN, NB_NEED_ALL & ~NB_NEED_SNAPSHOT, PROBE_KVM_RUN));
	ck_assert(!killed_with(NB_THREAD_MAIN, NB_NEED_SNAPSHOT, PROBE_KVM_RUN));
	/* readlinkat only where a live snapshot saves a share's paths */
	ck_assert(killed_with(NB_THREAD_MAIN, NB_NEED_ALL & ~NB_NEED_SNAPSHOT_FS, PROBE_READLINK));
	ck_assert(!killed_with(NB_THREAD_MAIN, NB_NEED_SNAPSHOT_FS, PROBE_READLINK));
	ck_assert(killed(NB_THREAD_MAIN, PROBE_RECVMSG_BROKER));
	ck_assert(killed(NB_THREAD_MAIN, PROBE_ACCEPT_LISTEN));
	/* how code after the filter may report: stderr's stdio (unbuffered:
	 * no buffer to size) and write(2), never dprintf, whose stream fstats
	 * its descriptor first (what killed OCI monitors, vmm/cli/oci.c) */
	ck_assert(!killed(NB_THREAD_MAIN, PROBE_STDERR_PRINTF));
	ck_assert(killed(NB_THREAD_MAIN, PROBE_DPRINTF));
}
END_TEST

/* Issue 11, finding 3: what the lists allowed beyond what they said. */
START_TEST(test_nobody_opens_unlinks_or_connects)
{
	static const enum probe never[] = {
		PROBE_OPEN_READ,   PROBE_OPEN_TRUNC,  PROBE_OPEN_WRITE, PROBE_UNLINK,
		PROBE_UNIX_SOCKET, PROBE_INET_SOCKET, PROBE_CONNECT,    PROBE_KICK_OTHER,
		PROBE_POLL,        PROBE_GETPID,
	};

	for (int k = 0; k < NB_THREAD_KINDS; k++)
		for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
			/* the shares' thread reopens the guest's files (openat
			 * without O_CREAT); it may not open otherwise */
			if (k == NB_THREAD_FS && never[i] >= PROBE_OPEN_READ &&
			    never[i] <= PROBE_OPEN_WRITE)
				continue;
			ck_assert_msg(killed((enum nb_thread_kind)k, never[i]),
				      "thread kind %d survived probe %d", k, (int)never[i]);
		}
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
		ck_assert(killed((enum nb_thread_kind)k, PROBE_EXEC_MMAP));
	}
}
END_TEST

/* A rule for an option is there only in runs with that option. */
START_TEST(test_rules_follow_the_options)
{
	ck_assert(killed_with(NB_THREAD_EVENT, 0, PROBE_PREADV));
	ck_assert(!killed_with(NB_THREAD_EVENT, NB_NEED_DISK_READ, PROBE_PREADV));
	ck_assert(killed_with(NB_THREAD_EVENT, NB_NEED_DISK_READ, PROBE_PWRITEV));
	ck_assert(!killed_with(NB_THREAD_EVENT, NB_NEED_DISK_WRITE, PROBE_PWRITEV));
	ck_assert(killed_with(NB_THREAD_EVENT, NB_NEED_DISK_WRITE, PROBE_TIMERFD));
	ck_assert(!killed_with(NB_THREAD_EVENT, NB_NEED_RATE, PROBE_TIMERFD));
	ck_assert(killed_with(NB_THREAD_EVENT, NB_NEED_ALL & ~NB_NEED_VSOCK, PROBE_ACCEPT_LISTEN));
	ck_assert(killed_with(NB_THREAD_MAIN, NB_NEED_ALL & ~NB_NEED_TTY, PROBE_TCGETS));
	ck_assert(killed_with(NB_THREAD_MAIN, NB_NEED_ALL & ~NB_NEED_STATS, PROBE_PREADV));
	ck_assert(!killed_with(NB_THREAD_MAIN, NB_NEED_STATS, PROBE_PREADV));
}
END_TEST

START_TEST(test_counts)
{
	unsigned sys, ioctls, base_sys, base_ioctls, snap_sys, snap_ioctls;

	nb_sandbox_count(NB_THREAD_VCPU, NB_NEED_ALL, &sys, &ioctls);
	ck_assert_uint_ge(ioctls, 1);
	ck_assert_uint_le(sys, 12);
	for (int k = 0; k < NB_THREAD_KINDS; k++) {
		nb_sandbox_count((enum nb_thread_kind)k, NB_NEED_ALL, &sys, &ioctls);
		ck_assert_uint_gt(sys, 0);
		ck_assert_uint_le(sys, k == NB_THREAD_FS ? 40 : 30);
	}
	/* the union is what the VMM can do; options only add to it (a shared
	 * directory adds the file system calls of its thread) */
	nb_sandbox_count_union(NB_NEED_ALL & ~(NB_NEED_FS | NB_NEED_SNAPSHOT | NB_NEED_SNAPSHOT_FS),
			       &sys, &ioctls);
	nb_sandbox_count_union(0, &base_sys, &base_ioctls);
	ck_assert_uint_le(sys, 32);
	ck_assert_uint_le(ioctls, 7);
	ck_assert_uint_lt(base_sys, sys);
	ck_assert_uint_lt(base_ioctls, ioctls);
	/* a template boot: KVM's GET ioctls and writing the files, no more */
	nb_sandbox_count_union(NB_NEED_SNAPSHOT, &snap_sys, &snap_ioctls);
	ck_assert_uint_le(snap_sys, base_sys + 5);
	ck_assert_uint_le(snap_ioctls, base_ioctls + 16);
}
END_TEST

static void same_bpf(const struct nb_seccomp_bpf *a, const struct nb_seccomp_bpf *b,
		     const char *what, unsigned key)
{
	ck_assert_msg(
		a->len == b->len && !memcmp(a->data, b->data, a->len),
		"%s, key 0x%x: the build-time filter (%zu bytes) differs from the compiled one "
		"(%zu bytes)",
		what, key, a->len, b->len);
}

/* The filters built at build time (seccomp_prebuilt.h), patched with a
 * run's values, are byte for byte what libseccomp compiles for that run;
 * and there is one for every key a run can have. */
START_TEST(test_prebuilt_same_as_compiled)
{
	size_t keys = 0;

	for (int k = 0; k < NB_THREAD_KINDS; k++) {
		uint32_t space = nb_sandbox_key_space(k), key = 0;

		do {
			struct nb_sandbox_config cfg = nb_sandbox_placeholders(key);
			struct nb_seccomp_bpf compiled;
			struct nb_sandbox sb;
			struct nb_err err;

			cfg.pid = 4000 + (pid_t)keys;
			if (cfg.vsock_listen_fd >= 0)
				cfg.vsock_listen_fd = 37;
			if (cfg.vsock_broker_fd >= 0)
				cfg.vsock_broker_fd = 38;
			ck_assert_msg(nb_sandbox_init(&sb, false, 1, &cfg, &err) == 0, "%s",
				      err.msg);
			ck_assert_msg(nb_sandbox_expect(&sb, NB_THREAD_FS, 0, &err) == 0, "%s",
				      err.msg);
			ck_assert_msg(nb_sandbox_compile(k, SCMP_ACT_KILL_PROCESS, &cfg, &compiled,
							 &err) == 0,
				      "%s", err.msg);
			ck_assert_msg(sb.prebuilt & (1u << k), "key 0x%x: not from the table", key);
			same_bpf(&sb.bpf[k], &compiled, "VMM thread filter", key);
			nb_seccomp_bpf_free(&compiled);
			nb_sandbox_destroy(&sb);
			keys++;
			key = (key - space) & space;
		} while (key);
	}
	ck_assert_uint_eq(keys, nb_prebuilt_vmm_count);

	struct nb_seccomp_bpf built, compiled;
	struct nb_err err;

	ck_assert_int_eq(nb_seccomp_default(NB_CAPS_DEFAULT, &built, &err), 0);
	ck_assert_int_eq(nb_seccomp_default_compile(NB_CAPS_DEFAULT, &compiled, &err), 0);
	same_bpf(&built, &compiled, "Docker's default profile", 0);
	nb_seccomp_bpf_free(&built);
	nb_seccomp_bpf_free(&compiled);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("filters");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_vcpu_list);
	tcase_add_test(tc, test_event_list);
	tcase_add_test(tc, test_main_list);
	tcase_add_test(tc, test_nobody_opens_unlinks_or_connects);
	tcase_add_test(tc, test_fs_list);
	tcase_add_test(tc, test_nobody_execs_or_clones);
	tcase_add_test(tc, test_rules_follow_the_options);
	tcase_add_test(tc, test_counts);
	tcase_add_test(tc, test_prebuilt_same_as_compiled);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
