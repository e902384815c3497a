/* Per-thread seccomp allowlists for the VMM (sandbox.h). Everything a
 * thread does before it enters its sandbox (opening files, creating the VM,
 * mapping memory, starting threads) needs no entry here: the lists cover
 * only what each thread does once the guest can run. */
#include "vmm/confine/seccomp.h"

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
#include "vmm/confine/seccomp_prebuilt.h"
#include "vmm/kvm/vcpu.h"

#define M (1u << NB_THREAD_MAIN)
#define E (1u << NB_THREAD_EVENT)
#define V (1u << NB_THREAD_VCPU)
#define F (1u << NB_THREAD_FS)

/* Values known only at run time, matched by a rule's comparison. */
enum value_kind {
	VAL_CONST,
	VAL_KICK,         /* NB_VCPU_KICK_SIGNAL (SIGRTMIN is a function in glibc) */
	VAL_PID,          /* the VMM's process id */
	VAL_VSOCK_LISTEN, /* the vsock device's listening socket */
	VAL_VSOCK_BROKER, /* the vsock broker's socketpair end */
};

struct cmp {
	unsigned arg;
	enum scmp_compare op; /* SCMP_CMP_EQ: arg == value; MASKED_EQ: (arg & mask) == value */
	uint64_t mask, value;
	enum value_kind kind;
};

struct rule {
	unsigned kinds; /* M, E, V, F */
	unsigned needs; /* NB_NEED_*: only in runs that use it; 0: always */
	const char *name;
	unsigned ncmp; /* 0: any arguments */
	struct cmp cmp[3];
	const char *cond; /* the test as the dump prints it */
	const char *why;
};

#define C(i, v)                                 \
	{                                       \
		i, SCMP_CMP_EQ, 0, v, VAL_CONST \
	}
#define RT(i, kind)                        \
	{                                  \
		i, SCMP_CMP_EQ, 0, 0, kind \
	}
#define NOEXEC(i)                                              \
	{                                                      \
		i, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0, VAL_CONST \
	}
#define ANY(k, need, n, w)                        \
	{                                         \
		k, need, n, 0, { { 0 } }, NULL, w \
	}
#define ARGS(k, need, n, cond, w, ...)                                                  \
	{                                                                               \
		k, need, n, sizeof((struct cmp[]){ __VA_ARGS__ }) / sizeof(struct cmp), \
			{ __VA_ARGS__ }, cond, w                                        \
	}
#define IOCTL(k, need, req, w) ARGS(k, need, "ioctl", #req, w, C(1, req))

/* clang-format off */
static const struct rule rules[] = {
	/* every thread */
	ANY(M | E | V | F, 0, "futex", "locks shared by the threads: the stop latch, device state"),
	ANY(M | E | V | F, 0, "write", "stdout/stderr (UART, console ports, messages) and eventfds "
				   "(interrupts, kicks, the stop notification)"),
	ANY(M | E | V | F, 0, "clock_gettime", "time; the vDSO falls back to the syscall on some clocks"),
	ANY(M | E | V | F, 0, "rt_sigprocmask", "glibc blocks signals while a thread exits; teardown "
					    "unblocks the handled signals; the UART's wait"),
	ARGS(M | E | V | F, 0, "madvise", "arg2 == MADV_DONTNEED",
	     "glibc releases freed memory and the stacks of finished threads; virtio-balloon "
	     "gives guest pages back (event thread)", C(2, MADV_DONTNEED)),
	ANY(M | E | V, 0, "ppoll", "is the host's stdout writable (console, UART; the exit drain "
				   "also waits for signals)"),
	ANY(E | V | F, 0, "exit", "a thread returning"),
	/* memory: malloc and free, never executable */
	ARGS(M | E, 0, "mmap", "(arg2 & PROT_EXEC) == 0",
	     "malloc of device buffers (vsock connections, console output)", NOEXEC(2)),
	ARGS(M | E, 0, "mprotect", "(arg2 & PROT_EXEC) == 0", "malloc arenas", NOEXEC(2)),
	ANY(M | E, 0, "munmap", "free; teardown of guest memory and kvm_run pages"),
	ANY(M | E, 0, "brk", "malloc"),
	/* vCPU: run the guest and answer its exits */
	IOCTL(V, 0, KVM_RUN, "run the guest"),
	IOCTL(V, 0, KVM_IRQ_LINE, "the UART's interrupt line (its registers are served on the "
				  "vCPU that touched them)"),
	IOCTL(V, NB_NEED_NET, TUNSETOFFLOAD, "virtio-net: the offloads the driver accepted, set "
					     "when it activates or resets the device"),
	ANY(V, 0, "rt_sigreturn", "return from the kick signal that interrupts KVM_RUN"),
	/* event thread: device I/O */
	ANY(E, 0, "epoll_wait", "wait for device descriptors"),
	ANY(E, 0, "epoll_ctl", "watch and unwatch descriptors as queues fill and drain"),
	ANY(E, 0, "read", "eventfds (queue notifications), tap frames, host stdin"),
	ANY(E, 0, "readv", "host stdin, tap frames and vsock streams into guest buffers"),
	ANY(E, 0, "writev", "guest buffers to host stdout/stderr, the tap and vsock streams"),
	ANY(E, NB_NEED_DISK_READ, "preadv", "virtio-blk reads (volumes, an image's layers)"),
	ANY(E, NB_NEED_DISK_WRITE, "pwritev", "virtio-blk writes (a writable volume)"),
	ANY(E, NB_NEED_DISK_WRITE, "fdatasync", "virtio-blk flush (a writable volume)"),
	ARGS(E, NB_NEED_DISK_WRITE, "fallocate", "arg1 == PUNCH_HOLE|KEEP_SIZE",
	     "virtio-blk discard (a writable volume)",
	     C(1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)),
	ARGS(E, 0, "getrandom", "arg2 == 0", "virtio-rng", C(2, 0)),
	ARGS(E, NB_NEED_VSOCK, "accept4", "arg0 == the vsock socket, arg3 == NONBLOCK|CLOEXEC",
	     "vsock: a host client connecting to PATH", RT(0, VAL_VSOCK_LISTEN),
	     C(3, SOCK_NONBLOCK | SOCK_CLOEXEC)),
	ARGS(E, NB_NEED_VSOCK, "recvfrom", "arg3 == MSG_PEEK",
	     "vsock: look at the host client's CONNECT line", C(3, MSG_PEEK)),
	ARGS(E, NB_NEED_VSOCK, "recvfrom", "arg3 == 0", "vsock: take the CONNECT line", C(3, 0)),
	ARGS(E, NB_NEED_VSOCK, "recvmsg", "arg0 == the broker's socket, arg2 == MSG_CMSG_CLOEXEC",
	     "vsock: the socket the broker connected to PATH_port (vmm/confine/vsock_broker.h)",
	     RT(0, VAL_VSOCK_BROKER), C(2, MSG_CMSG_CLOEXEC)),
	ARGS(E, NB_NEED_VSOCK, "shutdown", "arg1 == SHUT_WR", "vsock: pass the guest's half-close on",
	     C(1, SHUT_WR)),
	ANY(E, 0, "close", "vsock: a finished connection"),
	ANY(E, NB_NEED_RATE, "timerfd_settime", "rate limiters: resume a device when its bucket "
						"refills"),
	/* virtio-fs thread: its queue notifications and the shared directories
	 * (vmm/virtio/fs*.c); every path is one name beneath a directory
	 * descriptor, resolved by openat2 without following symlinks */
	ANY(F, NB_NEED_FS, "epoll_wait", "wait for queue notifications"),
	ANY(F, NB_NEED_FS, "epoll_pwait", "the same (glibc may use the p variant)"),
	ANY(F, NB_NEED_FS, "read", "the queue notification eventfd"),
	ANY(F, NB_NEED_FS, "openat2", "LOOKUP, CREATE: one name beneath its directory (RESOLVE_BENEATH, "
			  "no symlinks, no magic links)"),
	ARGS(F, NB_NEED_FS, "openat", "(arg2 & O_CREAT) == 0",
	     "OPEN, OPENDIR, xattrs: reopen an inode through /proc/self/fd or \".\"",
	     { 2, SCMP_CMP_MASKED_EQ, O_CREAT, 0, VAL_CONST }),
	ANY(F, NB_NEED_FS, "close", "RELEASE, FORGET: handles and inodes the guest let go"),
	ANY(F, NB_NEED_FS, "newfstatat", "attributes (fstatat AT_EMPTY_PATH on O_PATH descriptors)"),
	ANY(F, NB_NEED_FS, "fstat", "the same, older glibc"),
	ANY(F, NB_NEED_FS, "fstatfs", "STATFS"),
	ANY(F, NB_NEED_FS, "syncfs", "SYNCFS: the guest's sync(2)"),
	ANY(F, NB_NEED_FS, "readlinkat", "READLINK"),
	ANY(F, NB_NEED_FS, "symlinkat", "SYMLINK (the target is never followed by the host)"),
	ARGS(F, NB_NEED_FS, "mknodat", "arg3 == 0",
	     "MKNOD: files, FIFOs, sockets, whiteouts; never a device number", C(3, 0)),
	ANY(F, NB_NEED_FS, "mkdirat", "MKDIR"),
	ANY(F, NB_NEED_FS, "unlinkat", "UNLINK, RMDIR"),
	ANY(F, NB_NEED_FS, "renameat2", "RENAME, RENAME2"),
	ANY(F, NB_NEED_FS, "linkat", "LINK (through /proc/self/fd: no CAP_DAC_READ_SEARCH)"),
	ANY(F, NB_NEED_FS, "fchmodat", "SETATTR mode"),
	ANY(F, NB_NEED_FS, "fchownat", "SETATTR owner; new nodes get the guest caller's ids"),
	ANY(F, NB_NEED_FS, "utimensat", "SETATTR times"),
	ANY(F, NB_NEED_FS, "ftruncate", "SETATTR size"),
	ANY(F, NB_NEED_FS, "preadv", "READ straight into guest buffers"),
	ANY(F, NB_NEED_FS, "pwritev", "WRITE straight from guest buffers"),
	ANY(F, NB_NEED_FS, "fsync", "FSYNC, FSYNCDIR"),
	ANY(F, NB_NEED_FS, "fdatasync", "FSYNC with FUSE_FSYNC_FDATASYNC"),
	ANY(F, NB_NEED_FS, "fallocate", "FALLOCATE (modes checked by the device: keep-size, punch, zero)"),
	ANY(F, NB_NEED_FS, "lseek", "LSEEK (SEEK_DATA/HOLE); READDIR seeks to the guest's offset"),
	ANY(F, NB_NEED_FS, "copy_file_range", "COPY_FILE_RANGE between two open handles"),
	ANY(F, NB_NEED_FS, "getdents64", "READDIR, READDIRPLUS"),
	ANY(F, NB_NEED_FS, "fgetxattr", "GETXATTR"),
	ANY(F, NB_NEED_FS, "flistxattr", "LISTXATTR"),
	ANY(F, NB_NEED_FS, "fsetxattr", "SETXATTR (user.* only, checked by the device)"),
	ANY(F, NB_NEED_FS, "fremovexattr", "REMOVEXATTR (user.* only)"),
	/* main thread: wait, signals, teardown */
	ANY(M, 0, "epoll_wait", "wait for the stop, host signals, the timeout"),
	ANY(M, 0, "read", "signalfd and timerfd; the vsock broker's answer at exit"),
	ARGS(M, 0, "writev", "arg0 == 1", "at exit: the guest's last console output (nb_console_drain)",
	     C(0, STDOUT_FILENO)),
	ARGS(M, 0, "writev", "arg0 == 2", "the same for its stderr", C(0, STDERR_FILENO)),
	ANY(M, 0, "close", "teardown"),
	ANY(M, 0, "epoll_ctl", "teardown: devices stop watching their descriptors (virtio-net's tap)"),
	ARGS(M, 0, "tgkill", "arg0 == nestbox's pid, arg2 == NB_VCPU_KICK_SIGNAL",
	     "kick a vCPU of this process out of KVM_RUN", RT(0, VAL_PID), RT(2, VAL_KICK)),
	IOCTL(M, NB_NEED_STATS, KVM_GET_STATS_FD, "--stats: KVM's exit counters"),
	ANY(M, NB_NEED_STATS | NB_NEED_SNAPSHOT, "mincore", "--stats: how much guest RAM is "
							  "resident; snapshot: only pages ever touched "
							  "are written"),
	ANY(M, NB_NEED_STATS, "preadv", "--stats: KVM's binary statistics and /proc/self/status "
					"(opened before the filter)"),
	ANY(M, 0, "exit_group", "nestbox exits"),
	IOCTL(M, NB_NEED_TTY, TIOCGWINSZ, "-t: the terminal's new size on SIGWINCH (vmm/run/sigforward.c)"),
	IOCTL(M, NB_NEED_TTY, TCSETSW, "-i -t: put the terminal back from raw mode (vmm/run/tty.c)"),
	IOCTL(M, NB_NEED_TTY, TCGETS, "-i -t: Debian's tcsetattr reads the mode before and after "
				      "setting it"),
	/* a template boot: the main thread saves the stopped VM (vmm/kvm/snapshot.c) into
	 * files opened before the filter (vmm/run/warm.c) */
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_RUN, "snapshot: a stopped vCPU completes its I/O "
					    "instruction (immediate_exit: no guest code runs)"),
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_GET_MP_STATE, "snapshot: vCPU state"),
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_GET_REGS, "snapshot: vCPU state"),
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_GET_SREGS, "snapshot: vCPU state"),
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_GET_XSAVE, "snapshot: vCPU state"),
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_GET_XCRS, "snapshot: vCPU state"),
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_GET_DEBUGREGS, "snapshot: vCPU state"),
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_GET_LAPIC, "snapshot: vCPU state"),
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_GET_MSRS, "snapshot: vCPU state"),
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_GET_VCPU_EVENTS, "snapshot: vCPU state"),
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_GET_MSR_INDEX_LIST, "snapshot: which MSRs to save"),
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_GET_IRQCHIP, "snapshot: PIC and IOAPIC"),
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_GET_PIT2, "snapshot: the PIT"),
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_GET_CLOCK, "snapshot: the KVM clock"),
	IOCTL(M, NB_NEED_SNAPSHOT, KVM_GET_SUPPORTED_CPUID, "snapshot: the host CPU's fingerprint "
							    "in the state file's header"),
	ANY(M, NB_NEED_SNAPSHOT, "uname", "snapshot: the host kernel in the state file's header"),
	ANY(M, NB_NEED_SNAPSHOT, "pwrite64", "snapshot: guest pages into the memory file"),
	ANY(M, NB_NEED_SNAPSHOT, "ftruncate", "snapshot: the sparse memory file's size"),
	ANY(M, NB_NEED_SNAPSHOT, "fsync", "snapshot: the files on disk before the template is named"),
	ANY(M, NB_NEED_SNAPSHOT_FS, "readlinkat", "snapshot: where each file the guest holds of a "
						  "shared directory is now (its /proc/self/fd link, "
						  "vmm/virtio/fs_state.c)"),
};
/* clang-format on */

#define NRULES (sizeof(rules) / sizeof(rules[0]))

static const char *const kind_names[NB_THREAD_KINDS] = { "main", "event", "vcpu", "fs" };

const char *nb_sandbox_kind_name(enum nb_thread_kind kind)
{
	return kind_names[kind];
}

static bool wanted(const struct rule *r, unsigned needs)
{
	return !r->needs || (r->needs & needs);
}

/* A rule's comparisons with the run's values; false when a value it needs
 * is absent (that device does not exist: the rule is left out). */
static bool resolve(const struct rule *r, const struct nb_sandbox_config *cfg,
		    struct scmp_arg_cmp *out)
{
	for (unsigned i = 0; i < r->ncmp; i++) {
		const struct cmp *c = &r->cmp[i];
		int64_t v = (int64_t)c->value;

		switch (c->kind) {
		case VAL_KICK:
			v = NB_VCPU_KICK_SIGNAL;
			break;
		case VAL_PID:
			v = cfg->pid;
			break;
		case VAL_VSOCK_LISTEN:
			v = cfg->vsock_listen_fd;
			break;
		case VAL_VSOCK_BROKER:
			v = cfg->vsock_broker_fd;
			break;
		default:
			break;
		}
		if (c->kind != VAL_CONST && v < 0)
			return false;
		out[i] = c->op == SCMP_CMP_MASKED_EQ ? SCMP_CMP(c->arg, c->op, c->mask, (uint64_t)v)
						     : SCMP_CMP(c->arg, c->op, (uint64_t)v);
	}
	return true;
}

static int add_rule(scmp_filter_ctx ctx, const struct rule *r, const struct nb_sandbox_config *cfg,
		    struct nb_err *err)
{
	int nr = seccomp_syscall_resolve_name(r->name);
	struct scmp_arg_cmp cmp[3];
	int rc;

	if (nr == __NR_SCMP_ERROR)
		return nb_err_set(err, 0, "host seccomp: libseccomp does not know %s", r->name);
	if (!wanted(r, cfg->needs) || !resolve(r, cfg, cmp))
		return 0;
	rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, r->ncmp, cmp);
	if (rc < 0)
		return nb_err_set(err, -rc, "host seccomp: rule for %s", r->name);
	return 0;
}

static void release_ctx(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

int nb_sandbox_compile(enum nb_thread_kind kind, uint32_t action,
		       const struct nb_sandbox_config *cfg, struct nb_seccomp_bpf *out,
		       struct nb_err *err)
{
	__attribute__((cleanup(release_ctx))) scmp_filter_ctx ctx = seccomp_init(action);

	if (!ctx)
		return nb_err_set(err, 0, "host seccomp: cannot create a filter");
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0)
		return nb_err_set(err, 0, "host seccomp: cannot set the bad-architecture action");
	for (size_t i = 0; i < NRULES; i++)
		if ((rules[i].kinds & (1u << kind)) && add_rule(ctx, &rules[i], cfg, err) < 0)
			return -1;
	return nb_seccomp_export(ctx, out, err);
}

#define KEY_VSOCK_LISTEN (1u << 16)
#define KEY_VSOCK_BROKER (1u << 17)

/* What kind's rules depend on: needs bits and run-time values. */
uint32_t nb_sandbox_key_space(enum nb_thread_kind kind)
{
	uint32_t space = 0;

	for (size_t i = 0; i < NRULES; i++) {
		if (!(rules[i].kinds & (1u << kind)))
			continue;
		space |= rules[i].needs;
		for (unsigned c = 0; c < rules[i].ncmp; c++) {
			if (rules[i].cmp[c].kind == VAL_VSOCK_LISTEN)
				space |= KEY_VSOCK_LISTEN;
			if (rules[i].cmp[c].kind == VAL_VSOCK_BROKER)
				space |= KEY_VSOCK_BROKER;
		}
	}
	return space;
}

uint32_t nb_sandbox_key(enum nb_thread_kind kind, const struct nb_sandbox_config *cfg)
{
	uint32_t key = cfg->needs;

	if (cfg->vsock_listen_fd >= 0)
		key |= KEY_VSOCK_LISTEN;
	if (cfg->vsock_broker_fd >= 0)
		key |= KEY_VSOCK_BROKER;
	return key & nb_sandbox_key_space(kind);
}

struct nb_sandbox_config nb_sandbox_placeholders(uint32_t key)
{
	return (struct nb_sandbox_config){
		.needs = key & NB_NEED_ALL,
		.pid = (pid_t)NB_PREBUILT_PID,
		.vsock_listen_fd = key & KEY_VSOCK_LISTEN ? (int)NB_PREBUILT_VSOCK_LISTEN : -1,
		.vsock_broker_fd = key & KEY_VSOCK_BROKER ? (int)NB_PREBUILT_VSOCK_BROKER : -1,
	};
}

static bool is_jeq_k(const struct sock_filter *f)
{
	return BPF_CLASS(f->code) == BPF_JMP && BPF_OP(f->code) == BPF_JEQ &&
	       BPF_SRC(f->code) == BPF_K;
}

/* The built filter for this run, its placeholders replaced by the run's
 * values; false when there is none, or when a run value equals a constant
 * the filter already compares (libseccomp would have merged the two
 * tests, so the built tree is not the one it would compile). */
static bool prebuilt(enum nb_thread_kind kind, const struct nb_sandbox_config *cfg,
		     struct nb_seccomp_bpf *out)
{
	const uint32_t from[] = { NB_PREBUILT_PID, NB_PREBUILT_VSOCK_LISTEN,
				  NB_PREBUILT_VSOCK_BROKER };
	const uint32_t to[] = { (uint32_t)cfg->pid, (uint32_t)cfg->vsock_listen_fd,
				(uint32_t)cfg->vsock_broker_fd };
	const bool used[] = { true, cfg->vsock_listen_fd >= 0, cfg->vsock_broker_fd >= 0 };
	uint32_t key = nb_sandbox_key(kind, cfg);
	const struct nb_prebuilt_bpf *p = NULL;

	if (&nb_prebuilt_vmm_count == NULL || cfg->pid <= 0)
		return false;
	for (size_t i = 0; i < nb_prebuilt_vmm_count && !p; i++)
		if (nb_prebuilt_vmm[i].kind == (uint32_t)kind && nb_prebuilt_vmm[i].key == key)
			p = &nb_prebuilt_vmm[i];
	if (!p)
		return false;
	for (size_t i = 0; i < p->len; i++)
		for (size_t v = 0; v < 3; v++)
			if (used[v] && is_jeq_k(&p->insns[i]) && p->insns[i].k == to[v])
				return false;
	if (!nb_prebuilt_copy(p, out))
		return false;
	struct sock_filter *insns = out->data;
	for (size_t i = 0; i < p->len; i++)
		for (size_t v = 0; v < 3; v++)
			if (used[v] && is_jeq_k(&insns[i]) && insns[i].k == from[v])
				insns[i].k = to[v];
	return true;
}

static int build(struct nb_sandbox *sb, enum nb_thread_kind kind, struct nb_err *err)
{
	if (sb->action == SCMP_ACT_KILL_PROCESS && prebuilt(kind, &sb->cfg, &sb->bpf[kind])) {
		sb->prebuilt |= 1u << kind;
		return 0;
	}
	return nb_sandbox_compile(kind, sb->action, &sb->cfg, &sb->bpf[kind], err);
}

/* The test hook's calls (NESTBOX_TEST_SECCOMP_VIOLATE=KIND[:CALL]): each is
 * outside KIND's list (or, for calls a list has, outside its argument
 * match) and harmless should it run. */
#define PROBE_PATH "/nonexistent/nestbox-probe"

static const struct violation {
	const char *name;
	long nr, a0, a1, a2, a3;
} violations[] = {
	{ "personality", SYS_personality, 0xffffffffL, 0, 0, 0 }, /* in no list: the default */
	{ "openat_trunc", SYS_openat, AT_FDCWD, (long)PROBE_PATH, O_RDONLY | O_TRUNC, 0 },
	{ "openat", SYS_openat, AT_FDCWD, (long)PROBE_PATH, O_RDONLY, 0 },
	{ "unlink", SYS_unlink, (long)PROBE_PATH, 0, 0, 0 },
	{ "socket_unix", SYS_socket, AF_UNIX, SOCK_STREAM, 0, 0 },
	{ "connect", SYS_connect, -1, 0, 0, 0 },
	{ "accept4_other_fd", SYS_accept4, 0, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC },
	{ "tgkill_other_process", SYS_tgkill, 0x7ffffff0L, 0x7ffffff0L, 0, 0 }, /* no such pid */
	{ "writev_other_fd", SYS_writev, 100000, 0, 0, 0 },
	{ "execve", SYS_execve, (long)PROBE_PATH, 0, 0, 0 },
};

static void parse_violation(struct nb_sandbox *sb)
{
	const char *v = getenv("NESTBOX_TEST_SECCOMP_VIOLATE"), *colon;
	size_t len;

	sb->violate = -1;
	sb->violation = 0;
	if (!v)
		return;
	colon = strchr(v, ':');
	len = colon ? (size_t)(colon - v) : strlen(v);
	for (int k = 0; k < NB_THREAD_KINDS; k++)
		if (strlen(kind_names[k]) == len && !strncmp(v, kind_names[k], len))
			sb->violate = k;
	for (unsigned i = 0; colon && i < sizeof(violations) / sizeof(violations[0]); i++)
		if (!strcmp(colon + 1, violations[i].name))
			sb->violation = i;
}

static void violate(const struct nb_sandbox *sb)
{
	const struct violation *v = &violations[sb->violation];

	/* tgkill: the kick signal (matched) to a process not ours (not) */
	syscall(v->nr, v->a0, v->a1, v->nr == SYS_tgkill ? (long)NB_VCPU_KICK_SIGNAL : v->a2,
		v->a3);
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

int nb_sandbox_init(struct nb_sandbox *sb, bool log_only, unsigned nvcpus,
		    const struct nb_sandbox_config *cfg, struct nb_err *err)
{
	uint32_t action = default_action(log_only);

	memset(sb, 0, sizeof(*sb));
	parse_violation(sb);
	sb->action = action;
	sb->cfg = *cfg;
	for (int k = 0; k < NB_THREAD_KINDS; k++) {
		if (k == NB_THREAD_FS) /* only for a VM with shared directories */
			continue;
		if (build(sb, (enum nb_thread_kind)k, err) < 0) {
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
	if (!sb->bpf[kind].data && build(sb, kind, err) < 0)
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
		violate(sb);
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

/* Rules i and j allow the same call: the same syscall and, for ioctl,
 * the same request. */
static bool same_call(size_t i, size_t j, bool by_request)
{
	return !strcmp(rules[j].name, rules[i].name) &&
	       (!by_request || strcmp(rules[i].name, "ioctl") ||
		rules[j].cmp[0].value == rules[i].cmp[0].value);
}

/* Whether an earlier rule in kinds, for a run with needs, allows i's call. */
static bool counted_before(size_t i, unsigned kinds, unsigned needs, bool by_request)
{
	for (size_t j = 0; j < i; j++)
		if ((rules[j].kinds & kinds) && wanted(&rules[j], needs) &&
		    same_call(i, j, by_request))
			return true;
	return false;
}

/* Distinct syscalls (ioctl once) and ioctl requests of the rules in
 * kinds that a run with needs gets. */
static void count(unsigned kinds, unsigned needs, unsigned *syscalls, unsigned *ioctls)
{
	*syscalls = *ioctls = 0;
	for (size_t i = 0; i < NRULES; i++) {
		if (!(rules[i].kinds & kinds) || !wanted(&rules[i], needs))
			continue;
		if (!strcmp(rules[i].name, "ioctl") && !counted_before(i, kinds, needs, true))
			(*ioctls)++;
		if (!counted_before(i, kinds, needs, false))
			(*syscalls)++;
	}
}

void nb_sandbox_count(enum nb_thread_kind kind, unsigned needs, unsigned *syscalls,
		      unsigned *ioctls)
{
	count(1u << kind, needs, syscalls, ioctls);
}

void nb_sandbox_count_union(unsigned needs, unsigned *syscalls, unsigned *ioctls)
{
	count(M | E | V | F, needs, syscalls, ioctls);
}

static const struct {
	unsigned need;
	const char *option;
} need_names[] = {
	{ NB_NEED_DISK_READ, "-v or an image" },
	{ NB_NEED_DISK_WRITE, "a writable -v" },
	{ NB_NEED_RATE, "rate limits" },
	{ NB_NEED_VSOCK, "--vsock" },
	{ NB_NEED_NET, "--net" },
	{ NB_NEED_TTY, "-t" },
	{ NB_NEED_STATS, "--stats" },
	{ NB_NEED_FS, "-v DIR or --mount" },
	{ NB_NEED_SNAPSHOT, "template create" },
	{ NB_NEED_SNAPSHOT_FS, "-v DIR on a detached VM" },
};

/* "-v or an image or --stats" for needs into buf; "" for 0. */
static const char *need_names_of(unsigned needs, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(need_names) / sizeof(need_names[0]); i++)
		if ((needs & need_names[i].need) && len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? " or " : "",
						need_names[i].option);
	return buf;
}

/* The union's entries, one line per syscall (ioctl: per request). */
static void dump_union(FILE *out)
{
	for (size_t i = 0; i < NRULES; i++) {
		bool ioctl = !strcmp(rules[i].name, "ioctl"), always = false;
		unsigned kinds = 0, needs = 0;
		char names[128];

		if (counted_before(i, M | E | V, NB_NEED_ALL, true))
			continue;
		for (size_t j = i; j < NRULES; j++) {
			if (!same_call(i, j, true))
				continue;
			kinds |= rules[j].kinds;
			needs |= rules[j].needs;
			always |= !rules[j].needs;
		}
		fprintf(out, "    %s%s%s", rules[i].name, ioctl ? " " : "",
			ioctl ? rules[i].cond : "");
		for (int k = 0; k < NB_THREAD_KINDS; k++)
			if (kinds & (1u << k))
				fprintf(out, " %s", kind_names[k]);
		if (!always)
			fprintf(out, " (only with %s)", need_names_of(needs, names, sizeof(names)));
		fputc('\n', out);
	}
}

void nb_sandbox_dump(FILE *out)
{
	unsigned nsys, nioctl, base_sys, base_ioctl;
	char names[128];

	for (int k = 0; k < NB_THREAD_KINDS; k++) {
		nb_sandbox_count((enum nb_thread_kind)k, NB_NEED_ALL, &nsys, &nioctl);
		fprintf(out,
			"%s thread: %u syscalls, %u ioctl requests; anything else kills nestbox\n",
			kind_names[k], nsys, nioctl);
		for (size_t i = 0; i < NRULES; i++)
			if (rules[i].kinds & (1u << k))
				fprintf(out, "  %-16s %-44s # %s%s%s%s\n", rules[i].name,
					rules[i].cond ? rules[i].cond : "", rules[i].why,
					rules[i].needs ? " [only with " : "",
					need_names_of(rules[i].needs, names, sizeof(names)),
					rules[i].needs ? "]" : "");
	}
	nb_sandbox_count_union(NB_NEED_ALL, &nsys, &nioctl);
	nb_sandbox_count_union(0, &base_sys, &base_ioctl);
	fprintf(out,
		"union: %u syscalls, %u ioctl requests (%u and %u in a run without the options "
		"named above)\n",
		nsys, nioctl, base_sys, base_ioctl);
	fprintf(out,
		"  The threads share one address space: code that takes over one thread can\n"
		"  write another's memory and steer its calls, so what the VMM as a whole can do\n"
		"  is every call of the four lists (argument matches as above). Each rule\n"
		"  with an option is installed only in runs that use that option. By syscall:\n");
	dump_union(out);
}
