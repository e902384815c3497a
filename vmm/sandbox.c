/* Per-thread seccomp allowlists for the VMM (sandbox.h). Everything a
 * thread does before it enters its sandbox (opening files, creating the VM,
 * mapping memory, starting threads) needs no entry here: the lists cover
 * only what each thread does once the guest can run. */
#include "sandbox.h"

#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nestbox/cleanup.h"
#include "vcpu.h"

#define M (1u << NB_THREAD_MAIN)
#define E (1u << NB_THREAD_EVENT)
#define V (1u << NB_THREAD_VCPU)
#define F (1u << NB_THREAD_FS)

/* The syscall the test hook issues: harmless (it only reads the process's
 * personality) and in no list. */
#define VIOLATION_SYSCALL SYS_personality

struct rule {
	unsigned kinds;
	const char *name;
	int arg;               /* the argument tested, -1: any arguments */
	enum scmp_compare op;  /* SCMP_CMP_EQ: arg == value; MASKED_EQ: (arg & mask) == value */
	uint64_t mask, value;
	const char *cond;      /* the test as the dump prints it */
	const char *why;
};

#define ANY(k, n, w) { k, n, -1, 0, 0, 0, NULL, w }
#define EQ(k, n, i, v, w) { k, n, i, SCMP_CMP_EQ, 0, v, "arg" #i " == " #v, w }
/* Values known only at run time. */
#define KICK_SIGNAL UINT64_MAX /* NB_VCPU_KICK_SIGNAL (SIGRTMIN is a function in glibc) */

#define MASKED(k, n, i, m, v, text, w) { k, n, i, SCMP_CMP_MASKED_EQ, m, v, text, w }
#define IOCTL(k, req, w) { k, "ioctl", 1, SCMP_CMP_EQ, 0, req, #req, w }

static const struct rule rules[] = {
	/* every thread */
	ANY(M | E | V | F, "futex", "locks shared by the threads: the stop latch, device state"),
	ANY(M | E | V | F, "write", "stdout/stderr (UART, console ports, messages) and eventfds "
				    "(interrupts, kicks, the stop notification)"),
	ANY(M | E | V | F, "clock_gettime", "time; the vDSO falls back to the syscall on some clocks"),
	ANY(M | E | V | F, "rt_sigprocmask", "glibc blocks signals while a thread exits; teardown "
					     "unblocks the handled signals"),
	EQ(M | E | V | F, "madvise", 2, MADV_DONTNEED, "glibc releases freed memory and the "
						       "stacks of finished threads"),
	ANY(E | V | F, "exit", "a thread returning"),
	/* memory: malloc and free, never executable */
	MASKED(M | E, "mmap", 2, PROT_EXEC, 0, "(arg2 & PROT_EXEC) == 0",
	       "malloc of device buffers (vsock connections, console output)"),
	MASKED(M | E, "mprotect", 2, PROT_EXEC, 0, "(arg2 & PROT_EXEC) == 0", "malloc arenas"),
	ANY(M | E, "munmap", "free; teardown of guest memory and kvm_run pages"),
	ANY(M | E, "brk", "malloc"),
	/* vCPU: run the guest and answer its exits */
	IOCTL(V, KVM_RUN, "run the guest"),
	IOCTL(V, KVM_IRQ_LINE, "the UART's interrupt line (its registers are served on the "
			       "vCPU that touched them)"),
	IOCTL(V, TUNSETOFFLOAD, "virtio-net: the offloads the driver accepted, set when it "
				"activates or resets the device"),
	ANY(V, "rt_sigreturn", "return from the kick signal that interrupts KVM_RUN"),
	/* event thread: device I/O */
	ANY(E, "epoll_wait", "wait for device descriptors"),
	ANY(E, "epoll_pwait", "wait for device descriptors (glibc may use the p variant)"),
	ANY(M | E, "poll", "console: is the host's stdout writable now (a pipe or a tty)"),
	ANY(M | E, "ppoll", "the same (glibc may use the p variant)"),
	ANY(E, "epoll_ctl", "watch and unwatch descriptors as queues fill and drain"),
	ANY(E, "read", "eventfds (queue notifications), tap frames, host stdin"),
	ANY(E, "readv", "host stdin and vsock streams into guest buffers"),
	ANY(E, "writev", "guest buffers to host stdout/stderr, the tap and vsock streams"),
	ANY(E, "preadv", "virtio-blk reads"),
	ANY(E, "pwritev", "virtio-blk writes"),
	ANY(E, "fdatasync", "virtio-blk flush"),
	EQ(E, "fallocate", 1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, "virtio-blk discard"),
	ANY(E, "getrandom", "virtio-rng"),
	EQ(E, "socket", 0, AF_UNIX, "vsock: a guest connection to a host Unix socket PATH_port"),
	ANY(E, "connect", "vsock: reach the host listener of PATH_port"),
	ANY(E, "accept4", "vsock: a host client connecting to PATH"),
	ANY(E, "recvfrom", "vsock: the host client's CONNECT line"),
	ANY(E, "shutdown", "vsock: pass the guest's half-close on"),
	ANY(E, "close", "vsock: a finished connection"),
	ANY(E, "timerfd_settime", "rate limiters: resume a device when its bucket refills"),
	/* virtio-fs thread: its queue notifications and the shared directories
	 * (vmm/virtio/fs*.c); every path is one name beneath a directory
	 * descriptor, resolved by openat2 without following symlinks */
	ANY(F, "epoll_wait", "wait for queue notifications"),
	ANY(F, "epoll_pwait", "the same (glibc may use the p variant)"),
	ANY(F, "read", "the queue notification eventfd"),
	ANY(F, "openat2", "LOOKUP, CREATE: one name beneath its directory (RESOLVE_BENEATH, "
			  "no symlinks, no magic links)"),
	MASKED(F, "openat", 2, O_CREAT, 0, "(arg2 & O_CREAT) == 0",
	       "OPEN, OPENDIR, xattrs: reopen an inode through /proc/self/fd or \".\""),
	ANY(F, "close", "RELEASE, FORGET: handles and inodes the guest let go"),
	ANY(F, "newfstatat", "attributes (fstatat AT_EMPTY_PATH on O_PATH descriptors)"),
	ANY(F, "fstat", "the same, older glibc"),
	ANY(F, "fstatfs", "STATFS"),
	ANY(F, "syncfs", "SYNCFS: the guest's sync(2)"),
	ANY(F, "readlinkat", "READLINK"),
	ANY(F, "symlinkat", "SYMLINK (the target is never followed by the host)"),
	EQ(F, "mknodat", 3, 0, "MKNOD: files, FIFOs, sockets, whiteouts; never a device number"),
	ANY(F, "mkdirat", "MKDIR"),
	ANY(F, "unlinkat", "UNLINK, RMDIR"),
	ANY(F, "renameat2", "RENAME, RENAME2"),
	ANY(F, "linkat", "LINK (through /proc/self/fd: no CAP_DAC_READ_SEARCH)"),
	ANY(F, "fchmodat", "SETATTR mode"),
	ANY(F, "fchownat", "SETATTR owner; new nodes get the guest caller's ids"),
	ANY(F, "utimensat", "SETATTR times"),
	ANY(F, "ftruncate", "SETATTR size"),
	ANY(F, "preadv", "READ straight into guest buffers"),
	ANY(F, "pwritev", "WRITE straight from guest buffers"),
	ANY(F, "fsync", "FSYNC, FSYNCDIR"),
	ANY(F, "fdatasync", "FSYNC with FUSE_FSYNC_FDATASYNC"),
	ANY(F, "fallocate", "FALLOCATE (modes checked by the device: keep-size, punch, zero)"),
	ANY(F, "lseek", "LSEEK (SEEK_DATA/HOLE); READDIR seeks to the guest's offset"),
	ANY(F, "copy_file_range", "COPY_FILE_RANGE between two open handles"),
	ANY(F, "getdents64", "READDIR, READDIRPLUS"),
	ANY(F, "fgetxattr", "GETXATTR"),
	ANY(F, "flistxattr", "LISTXATTR"),
	ANY(F, "fsetxattr", "SETXATTR (user.* only, checked by the device)"),
	ANY(F, "fremovexattr", "REMOVEXATTR (user.* only)"),
	/* main thread: wait, signals, teardown */
	ANY(M, "epoll_wait", "wait for the stop, host signals, the timeout"),
	ANY(M, "epoll_pwait", "the same (glibc may use the p variant)"),
	ANY(M, "read", "signalfd and timerfd"),
	ANY(M, "close", "teardown"),
	ANY(M, "epoll_ctl", "teardown: devices stop watching their descriptors (virtio-net's tap)"),
	ANY(M, "getpid", "pthread_kill's tgkill needs the process id"),
	{ M, "tgkill", 2, SCMP_CMP_EQ, 0, KICK_SIGNAL, "arg2 == NB_VCPU_KICK_SIGNAL",
	  "kick a vCPU out of KVM_RUN" },
	IOCTL(M, KVM_GET_STATS_FD, "--stats: KVM's exit counters"),
	ANY(M, "mincore", "--stats: how much guest RAM is resident"),
	ANY(M, "pread64", "--stats: read KVM's binary statistics"),
	MASKED(M, "openat", 2, O_ACCMODE | O_CREAT, O_RDONLY, "(arg2 & (O_ACCMODE|O_CREAT)) == O_RDONLY",
	       "--stats: /proc/self/status, read only"),
	ANY(M, "newfstatat", "stdio's buffer sizing on the files it opens"),
	ANY(M, "fstat", "the same, older glibc"),
	ANY(M, "lseek", "stdio"),
	ANY(M, "unlink", "vsock: remove the host socket PATH nestbox created"),
	ANY(M, "exit_group", "nestbox exits"),
	IOCTL(M, TIOCGWINSZ, "-t: the terminal's new size on SIGWINCH (vmm/sigforward.c)"),
	IOCTL(M, TCSETSW, "-i -t: put the terminal back from raw mode (vmm/tty.c)"),
	IOCTL(M, TCGETS, "-i -t: Debian's tcsetattr reads the mode before and after setting it"),
};

#define NRULES (sizeof(rules) / sizeof(rules[0]))

static const char *const kind_names[NB_THREAD_KINDS] = { "main", "event", "vcpu", "fs" };

static int add_rule(scmp_filter_ctx ctx, const struct rule *r, struct nb_err *err)
{
	int nr = seccomp_syscall_resolve_name(r->name);
	uint64_t value = r->value == KICK_SIGNAL ? (uint64_t)NB_VCPU_KICK_SIGNAL : r->value;
	int rc;

	if (nr == __NR_SCMP_ERROR)
		return nb_err_set(err, 0, "host seccomp: libseccomp does not know %s", r->name);
	if (r->arg < 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	else if (r->op == SCMP_CMP_MASKED_EQ)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      SCMP_CMP((unsigned)r->arg, r->op, r->mask, r->value));
	else
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      SCMP_CMP((unsigned)r->arg, r->op, value));
	if (rc < 0)
		return nb_err_set(err, -rc, "host seccomp: rule for %s", r->name);
	return 0;
}

static void release_ctx(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static int build(enum nb_thread_kind kind, uint32_t action, struct nb_seccomp_bpf *out,
		 struct nb_err *err)
{
	__attribute__((cleanup(release_ctx))) scmp_filter_ctx ctx = seccomp_init(action);

	if (!ctx)
		return nb_err_set(err, 0, "host seccomp: cannot create a filter");
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0)
		return nb_err_set(err, 0, "host seccomp: cannot set the bad-architecture action");
	for (size_t i = 0; i < NRULES; i++)
		if ((rules[i].kinds & (1u << kind)) && add_rule(ctx, &rules[i], err) < 0)
			return -1;
	return nb_seccomp_export(ctx, out, err);
}

static int violate_kind(void)
{
	const char *v = getenv("NESTBOX_TEST_SECCOMP_VIOLATE");

	for (int k = 0; v && k < NB_THREAD_KINDS; k++)
		if (strcmp(v, kind_names[k]) == 0)
			return k;
	return -1;
}

static __thread const char *thread_kind; /* for on_sigsys */

/* NESTBOX_SECCOMP_TRAP=1, for finding a missing entry: a violation prints
 * the thread, the syscall and a backtrace on stderr, then exits 159. */
static void on_sigsys(int sig, siginfo_t *info, void *ctx)
{
	char line[96];
	void *frames[32];
	int n = backtrace(frames, 32);

	(void)sig;
	(void)ctx;
	int len = snprintf(line, sizeof(line), "nestbox: seccomp: the %s thread made syscall %d:\n",
			   thread_kind ? thread_kind : "?", info->si_syscall);
	if (write(STDERR_FILENO, line, (size_t)len) < 0 || n < 0) {
		/* nothing more to say */
	}
	backtrace_symbols_fd(frames, n, STDERR_FILENO);
	syscall(SYS_exit_group, 159);
}

static uint32_t default_action(bool log_only)
{
	const char *log_env = getenv("NESTBOX_SECCOMP_LOG"), *trap = getenv("NESTBOX_SECCOMP_TRAP");
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	void *warm[1];

	if (trap && !strcmp(trap, "1")) {
		backtrace(warm, 1); /* loads libgcc_s now, not inside the filter */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGSYS, &sa, NULL);
		return SCMP_ACT_TRAP;
	}
	return log_only || (log_env && !strcmp(log_env, "1")) ? SCMP_ACT_LOG /* = --seccomp-log */
								: SCMP_ACT_KILL_PROCESS;
}

int nb_sandbox_init(struct nb_sandbox *sb, bool log_only, unsigned nvcpus, struct nb_err *err)
{
	uint32_t action = default_action(log_only);

	memset(sb, 0, sizeof(*sb));
	sb->violate = violate_kind();
	sb->action = action;
	for (int k = 0; k < NB_THREAD_KINDS; k++) {
		if (k == NB_THREAD_FS) /* only for a VM with shared directories */
			continue;
		if (build((enum nb_thread_kind)k, action, &sb->bpf[k], err) < 0) {
			nb_sandbox_destroy(sb);
			return nb_err_wrap(err, "the %s thread's filter", kind_names[k]);
		}
	}
	pthread_mutex_init(&sb->lock, NULL);
	pthread_cond_init(&sb->cond, NULL);
	sb->threads = nvcpus + 1;
	return 0;
}

int nb_sandbox_expect(struct nb_sandbox *sb, enum nb_thread_kind kind, unsigned count,
		      struct nb_err *err)
{
	if (!sb->bpf[kind].data && build(kind, sb->action, &sb->bpf[kind], err) < 0)
		return nb_err_wrap(err, "the %s thread's filter", kind_names[kind]);
	pthread_mutex_lock(&sb->lock);
	sb->threads += count;
	pthread_mutex_unlock(&sb->lock);
	return 0;
}

void nb_sandbox_destroy(struct nb_sandbox *sb)
{
	for (int k = 0; k < NB_THREAD_KINDS; k++)
		nb_seccomp_bpf_free(&sb->bpf[k]);
	if (sb->threads) {
		pthread_cond_destroy(&sb->cond);
		pthread_mutex_destroy(&sb->lock);
	}
	sb->threads = 0;
}

static int install(const struct nb_seccomp_bpf *bpf, struct nb_err *err)
{
	struct sock_fprog prog = { .len = (unsigned short)(bpf->len / sizeof(struct sock_filter)),
				   .filter = bpf->data };

	/* Filters are per thread: no TSYNC, each thread installs its own. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return nb_err_sys(err, "host seccomp: PR_SET_NO_NEW_PRIVS");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return nb_err_sys(err, "host seccomp: installing the filter");
	return 0;
}

void nb_sandbox_enter(struct nb_sandbox *sb, enum nb_thread_kind kind, struct nb_stop *stop)
{
	struct nb_err err;

	thread_kind = kind_names[kind];
	if (install(&sb->bpf[kind], &err) < 0)
		nb_stop_request(stop, NB_STOP_ERROR, 0, "%s thread: %s", kind_names[kind], err.msg);
	else if (sb->violate == (int)kind)
		syscall(VIOLATION_SYSCALL, 0xffffffffUL);
	pthread_mutex_lock(&sb->lock);
	if (kind == NB_THREAD_MAIN) {
		while (sb->entered < sb->threads && !sb->open)
			pthread_cond_wait(&sb->cond, &sb->lock);
		sb->open = true;
	} else {
		sb->entered++;
	}
	pthread_cond_broadcast(&sb->cond);
	while (!sb->open)
		pthread_cond_wait(&sb->cond, &sb->lock);
	pthread_mutex_unlock(&sb->lock);
}

void nb_sandbox_release(struct nb_sandbox *sb)
{
	pthread_mutex_lock(&sb->lock);
	sb->open = true;
	pthread_cond_broadcast(&sb->cond);
	pthread_mutex_unlock(&sb->lock);
}

void nb_sandbox_count(enum nb_thread_kind kind, unsigned *syscalls, unsigned *ioctls)
{
	*syscalls = *ioctls = 0;
	for (size_t i = 0; i < NRULES; i++) {
		if (!(rules[i].kinds & (1u << kind)))
			continue;
		bool is_ioctl = strcmp(rules[i].name, "ioctl") == 0;
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = (rules[j].kinds & (1u << kind)) && !strcmp(rules[j].name, rules[i].name);
		if (is_ioctl)
			(*ioctls)++;
		if (!seen)
			(*syscalls)++;
	}
}

void nb_sandbox_dump(FILE *out)
{
	for (int k = 0; k < NB_THREAD_KINDS; k++) {
		unsigned nsys, nioctl;

		nb_sandbox_count((enum nb_thread_kind)k, &nsys, &nioctl);
		fprintf(out, "%s thread: %u syscalls, %u ioctl requests; anything else kills nestbox\n",
			kind_names[k], nsys, nioctl);
		for (size_t i = 0; i < NRULES; i++)
			if (rules[i].kinds & (1u << k))
				fprintf(out, "  %-16s %-44s # %s\n", rules[i].name,
					rules[i].cond ? rules[i].cond : "", rules[i].why);
	}
}
