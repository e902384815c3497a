/* Docker's default seccomp profile as a C table, a parser for Docker's
 * JSON profile format (json-c), and compilation of either to classic BPF
 * with libseccomp (vmm/confine/seccomp_bpf.h). */
#include "vmm/run/container_seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/file.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/confine/seccomp_prebuilt.h"

/* ---- capabilities by name ------------------------------------------------ */

/* clang-format off */
static const char *const cap_names[] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
	"SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
	"NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
	"SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
	"AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};
/* clang-format on */

int nb_cap_by_name(const char *name)
{
	if (strncasecmp(name, "CAP_", 4) == 0)
		name += 4;
	if (strcasecmp(name, "ALL") == 0)
		return 64;
	for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (strcasecmp(name, cap_names[i]) == 0)
			return (int)i;
	return -1;
}

#define CAP(n) (1ull << (n))

/* ---- Docker's default profile ---------------------------------------------- */

/* Allowed for every container (Docker's unconditional list; names this
 * libseccomp does not know, e.g. 32-bit-only ones, are skipped). */
/* clang-format off */
static const char *const default_allow[] = {
	"accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk",
	"cachestat", "capget", "capset", "chdir", "chmod", "chown", "clock_adjtime",
	"clock_getres", "clock_gettime", "clock_nanosleep", "close", "close_range", "connect",
	"copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
	"epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
	"epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
	"faccessat", "faccessat2", "fadvise64", "fallocate", "fanotify_mark", "fchdir",
	"fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat", "fcntl", "fdatasync",
	"fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
	"fstatfs", "fsync", "ftruncate", "futex", "futex_requeue", "futex_wait", "futex_waitv",
	"futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
	"geteuid", "getgid", "getgroups", "getitimer", "getpeername", "getpgid", "getpgrp",
	"getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresuid", "getrlimit",
	"get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt",
	"get_thread_area", "gettid", "gettimeofday", "getuid", "getxattr",
	"inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
	"ioctl", "io_destroy", "io_getevents", "io_pgetevents", "ioprio_get", "ioprio_set",
	"io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
	"landlock_restrict_self", "lchown", "lgetxattr", "link", "linkat", "listen",
	"listxattr", "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "madvise",
	"map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir",
	"mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "modify_ldt",
	"mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
	"mq_timedsend", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync",
	"munlock", "munlockall", "munmap", "nanosleep", "newfstatat", "open", "openat",
	"openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc",
	"pkey_free", "pkey_mprotect", "poll", "ppoll", "prctl", "pread64", "preadv", "preadv2",
	"prlimit64", "process_mrelease", "pselect6", "ptrace", "pwrite64", "pwritev",
	"pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recvfrom",
	"recvmmsg", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
	"renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
	"rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
	"sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
	"sched_getscheduler", "sched_rr_get_interval", "sched_setaffinity", "sched_setattr",
	"sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl",
	"semget", "semop", "semtimedop", "sendfile", "sendmmsg", "sendmsg", "sendto",
	"setfsgid", "setfsuid", "setgid", "setgroups", "setitimer", "setpgid", "setpriority",
	"setregid", "setresgid", "setresuid", "setreuid", "setrlimit", "set_robust_list",
	"setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setxattr",
	"shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd",
	"signalfd4", "socketpair", "splice", "stat", "statfs", "statx", "symlink",
	"symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time",
	"timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_settime",
	"timerfd_create", "timerfd_gettime", "timerfd_settime", "times", "tkill", "truncate",
	"umask", "uname", "unlink", "unlinkat", "utime", "utimensat", "utimes", "vfork",
	"vmsplice", "wait4", "waitid", "write", "writev",
};
/* clang-format on */

/* Allowed only with a capability, as Docker's "includes": {"caps": [...]}. */
static const struct {
	unsigned int cap;
	const char *names;
} default_by_cap[] = {
	{ 21 /* SYS_ADMIN */, "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick "
			      "lookup_dcookie mount mount_setattr move_mount name_to_handle_at "
			      "open_tree perf_event_open quotactl quotactl_fd setdomainname "
			      "sethostname setns syslog umount2 unshare" },
	{ 22 /* SYS_BOOT */, "reboot" },
	{ 18 /* SYS_CHROOT */, "chroot" },
	{ 16 /* SYS_MODULE */, "delete_module init_module finit_module" },
	{ 20 /* SYS_PACCT */, "acct" },
	{ 19 /* SYS_PTRACE */, "kcmp pidfd_getfd process_madvise process_vm_readv "
			       "process_vm_writev" },
	{ 17 /* SYS_RAWIO */, "iopl ioperm" },
	{ 25 /* SYS_TIME */, "settimeofday stime clock_settime" },
	{ 26 /* SYS_TTY_CONFIG */, "vhangup" },
	{ 23 /* SYS_NICE */, "get_mempolicy mbind set_mempolicy set_mempolicy_home_node" },
	{ 34 /* SYSLOG */, "syslog" },
	{ 39 /* BPF */, "bpf" },
	{ 38 /* PERFMON */, "perf_event_open" },
	{ 2 /* DAC_READ_SEARCH */, "open_by_handle_at" },
};

/* clone without namespace flags (CLONE_NEWNS..NEWNET, NEWCGROUP, NEWTIME). */
#define CLONE_NS_MASK 0x7e020080ull

static void note_skipped(struct nb_seccomp_bpf *out, const char *name)
{
	if (out->skipped++ == 0)
		snprintf(out->first_skipped, sizeof(out->first_skipped), "%s", name);
}

/* Add a rule by name; a name libseccomp does not know is skipped. */
static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned int n,
		    const struct scmp_arg_cmp *args, struct nb_seccomp_bpf *out, struct nb_err *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	if (nr == __NR_SCMP_ERROR) {
		note_skipped(out, name);
		return 0;
	}
	rc = seccomp_rule_add_array(ctx, action, nr, n, args);
	if (rc == -EACCES || rc == -EEXIST) /* same as the default; already there */
		return 0;
	if (rc < 0)
		return nb_err_set(err, -rc, "seccomp: rule for %s", name);
	return 0;
}

static int add_default_rules(scmp_filter_ctx ctx, uint64_t caps, struct nb_seccomp_bpf *out,
			     struct nb_err *err)
{
	static const uint64_t personas[] = { 0x0, 0x0008, 0x20000, 0x20008, 0xffffffff };
	bool sys_admin = caps & CAP(21);

	for (size_t i = 0; i < sizeof(default_allow) / sizeof(default_allow[0]); i++)
		if (add_rule(ctx, SCMP_ACT_ALLOW, default_allow[i], 0, NULL, out, err))
			return -1;
	for (size_t i = 0; i < sizeof(personas) / sizeof(personas[0]); i++) {
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ, personas[i]);

		if (add_rule(ctx, SCMP_ACT_ALLOW, "personality", 1, &a, out, err))
			return -1;
	}
	/* Any socket but AF_VSOCK (40): the guest's channel to the host. */
	{
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_NE, 40);

		if (add_rule(ctx, SCMP_ACT_ALLOW, "socket", 1, &a, out, err))
			return -1;
	}
	if (!sys_admin) {
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NS_MASK, 0);

		/* clone3's flags are behind a pointer: ENOSYS makes libcs fall back to clone. */
		if (add_rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &a, out, err) ||
		    add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, out, err))
			return -1;
	}
	for (size_t i = 0; i < sizeof(default_by_cap) / sizeof(default_by_cap[0]); i++) {
		char names[512], *save;

		if (!(caps & CAP(default_by_cap[i].cap)))
			continue;
		snprintf(names, sizeof(names), "%s", default_by_cap[i].names);
		for (char *n = strtok_r(names, " ", &save); n; n = strtok_r(NULL, " ", &save))
			if (add_rule(ctx, SCMP_ACT_ALLOW, n, 0, NULL, out, err))
				return -1;
	}
	return 0;
}

int nb_seccomp_default(uint64_t caps, struct nb_seccomp_bpf *out, struct nb_err *err)
{
	if (caps == NB_CAPS_DEFAULT && &nb_prebuilt_docker_default &&
	    nb_prebuilt_copy(&nb_prebuilt_docker_default, out))
		return 0;
	return nb_seccomp_default_compile(caps, out, err);
}

int nb_seccomp_default_compile(uint64_t caps, struct nb_seccomp_bpf *out, struct nb_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int rc;

	memset(out, 0, sizeof(*out));
	if (!ctx)
		return nb_err_set(err, 0, "seccomp: seccomp_init failed");
	rc = add_default_rules(ctx, caps, out, err);
	if (rc == 0)
		rc = nb_seccomp_export(ctx, out, err);
	seccomp_release(ctx);
	return rc;
}

/* ---- Docker JSON profiles ---------------------------------------------------------- */

struct profile {
	uint64_t caps;
	scmp_filter_ctx ctx;
	uint32_t default_action;
	struct nb_seccomp_bpf *out;
};

static int parse_action(const char *name, json_object *errno_ret, uint32_t *action,
			struct nb_err *err)
{
	int e = EPERM;

	if (errno_ret) {
		if (!json_object_is_type(errno_ret, json_type_int))
			return nb_err_set(err, 0, "seccomp profile: errnoRet is not an integer");
		e = json_object_get_int(errno_ret);
		if (e < 0 || e > 4095)
			return nb_err_set(err, 0, "seccomp profile: errnoRet %d out of range", e);
	}
	if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
		*action = SCMP_ACT_ALLOW;
	else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
		*action = SCMP_ACT_ERRNO((uint16_t)e);
	else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
		*action = SCMP_ACT_KILL_THREAD;
	else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
		*action = SCMP_ACT_KILL_PROCESS;
	else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
		*action = SCMP_ACT_TRAP;
	else if (strcmp(name, "SCMP_ACT_LOG") == 0)
		*action = SCMP_ACT_LOG;
	else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
		*action = SCMP_ACT_TRACE((uint16_t)e);
	else
		return nb_err_set(err, 0, "seccomp profile: unknown action \"%.64s\"", name);
	return 0;
}

static json_object *get_typed(json_object *obj, const char *key, json_type type, bool *bad)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	if (!json_object_is_type(v, type)) {
		*bad = true;
		return NULL;
	}
	return v;
}

static const struct {
	const char *name;
	enum scmp_compare op;
} ops[] = {
	{ "SCMP_CMP_NE", SCMP_CMP_NE },
	{ "SCMP_CMP_LT", SCMP_CMP_LT },
	{ "SCMP_CMP_LE", SCMP_CMP_LE },
	{ "SCMP_CMP_EQ", SCMP_CMP_EQ },
	{ "SCMP_CMP_GE", SCMP_CMP_GE },
	{ "SCMP_CMP_GT", SCMP_CMP_GT },
	{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static int parse_u64_field(json_object *o, const char *key, uint64_t *v, struct nb_err *err)
{
	json_object *x;

	*v = 0;
	if (!json_object_object_get_ex(o, key, &x))
		return 0;
	if (!json_object_is_type(x, json_type_int))
		return nb_err_set(err, 0, "seccomp profile: args %s is not an integer", key);
	*v = json_object_get_uint64(x);
	return 0;
}

static int parse_arg(json_object *a, struct scmp_arg_cmp *cmp, struct nb_err *err)
{
	bool bad = false;
	json_object *index = get_typed(a, "index", json_type_int, &bad);
	json_object *op = get_typed(a, "op", json_type_string, &bad);
	uint64_t v1, v2;
	int idx;

	if (!json_object_is_type(a, json_type_object) || bad || !index || !op)
		return nb_err_set(err, 0,
				  "seccomp profile: an args entry needs an integer index "
				  "and a string op");
	idx = json_object_get_int(index);
	if (idx < 0 || idx > 5)
		return nb_err_set(err, 0, "seccomp profile: args index %d is not 0..5", idx);
	if (parse_u64_field(a, "value", &v1, err) || parse_u64_field(a, "valueTwo", &v2, err))
		return -1;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(json_object_get_string(op), ops[i].name) == 0) {
			*cmp = (struct scmp_arg_cmp){
				.arg = (unsigned)idx, .op = ops[i].op, .datum_a = v1, .datum_b = v2
			};
			return 0;
		}
	}
	return nb_err_set(err, 0, "seccomp profile: unknown op \"%.64s\"",
			  json_object_get_string(op));
}

/* Docker's includes/excludes: caps (all needed / any excludes), arches. */
static int rule_applies(const struct profile *p, json_object *rule, bool *applies,
			struct nb_err *err)
{
	static const char *const keys[] = { "includes", "excludes" };

	*applies = true;
	for (int k = 0; k < 2; k++) {
		bool bad = false;
		json_object *cond = get_typed(rule, keys[k], json_type_object, &bad);
		json_object *caps, *arches;

		if (bad)
			return nb_err_set(err, 0, "seccomp profile: %s is not an object", keys[k]);
		if (!cond)
			continue;
		caps = get_typed(cond, "caps", json_type_array, &bad);
		arches = get_typed(cond, "arches", json_type_array, &bad);
		if (bad)
			return nb_err_set(err, 0, "seccomp profile: %s caps/arches is not an array",
					  keys[k]);
		for (size_t i = 0; caps && i < json_object_array_length(caps); i++) {
			json_object *c = json_object_array_get_idx(caps, i);
			int cap = json_object_is_type(c, json_type_string)
					  ? nb_cap_by_name(json_object_get_string(c))
					  : -2;
			bool has = cap >= 0 && cap < 64 && (p->caps & CAP(cap));

			if (cap == -2)
				return nb_err_set(err, 0,
						  "seccomp profile: a capability is not a string");
			if (k == 0 ? !has : has)
				*applies = false;
		}
		if (arches && json_object_array_length(arches) > 0) {
			bool native = false;

			for (size_t i = 0; i < json_object_array_length(arches); i++) {
				const char *a = json_object_get_string(
					json_object_array_get_idx(arches, i));

				native |= a &&
					  (strcmp(a, "amd64") == 0 || strcmp(a, "x86_64") == 0 ||
					   strcmp(a, "SCMP_ARCH_X86_64") == 0);
			}
			if (k == 0 ? !native : native)
				*applies = false;
		}
	}
	return 0;
}

static bool repeated_index(const struct scmp_arg_cmp *args, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		for (unsigned int j = i + 1; j < n; j++)
			if (args[i].arg == args[j].arg)
				return true;
	return false;
}

/* libseccomp cannot AND two conditions on one argument; like runc, such a
 * rule becomes one rule per condition. */
static int add_named(struct profile *p, uint32_t action, const char *name,
		     const struct scmp_arg_cmp *args, unsigned int n, struct nb_err *err)
{
	if (action == p->default_action)
		return 0;
	if (!repeated_index(args, n))
		return add_rule(p->ctx, action, name, n, args, p->out, err);
	for (unsigned int i = 0; i < n; i++)
		if (add_rule(p->ctx, action, name, 1, &args[i], p->out, err))
			return -1;
	return 0;
}

static int parse_rule(struct profile *p, json_object *rule, size_t idx, struct nb_err *err)
{
	bool bad = false, applies;
	json_object *names = get_typed(rule, "names", json_type_array, &bad);
	json_object *name = get_typed(rule, "name", json_type_string, &bad);
	json_object *action = get_typed(rule, "action", json_type_string, &bad);
	json_object *args = get_typed(rule, "args", json_type_array, &bad);
	json_object *errno_ret = NULL;
	struct scmp_arg_cmp cmp[6];
	unsigned int ncmp = 0;
	uint32_t act;

	json_object_object_get_ex(rule, "errnoRet", &errno_ret);
	if (!json_object_is_type(rule, json_type_object) || bad || !action || (!names && !name))
		return nb_err_set(err, 0,
				  "seccomp profile: syscalls[%zu] needs names (array of "
				  "strings) and action (string)",
				  idx);
	if (names && json_object_array_length(names) > NB_SECCOMP_MAX_NAMES)
		return nb_err_set(err, 0, "seccomp profile: syscalls[%zu] has more than %u names",
				  idx, NB_SECCOMP_MAX_NAMES);
	if (args && json_object_array_length(args) > 6)
		return nb_err_set(err, 0, "seccomp profile: syscalls[%zu] has more than 6 args",
				  idx);
	if (parse_action(json_object_get_string(action), errno_ret, &act, err) ||
	    rule_applies(p, rule, &applies, err))
		return nb_err_wrap(err, "syscalls[%zu]", idx);
	for (size_t i = 0; args && i < json_object_array_length(args); i++)
		if (parse_arg(json_object_array_get_idx(args, i), &cmp[ncmp++], err))
			return nb_err_wrap(err, "syscalls[%zu]", idx);
	for (size_t i = 0; names && i < json_object_array_length(names); i++) {
		json_object *n = json_object_array_get_idx(names, i);

		if (!json_object_is_type(n, json_type_string))
			return nb_err_set(err, 0,
					  "seccomp profile: syscalls[%zu] names[%zu] is not "
					  "a string",
					  idx, i);
		if (applies && add_named(p, act, json_object_get_string(n), cmp, ncmp, err))
			return -1;
	}
	if (name && applies && add_named(p, act, json_object_get_string(name), cmp, ncmp, err))
		return -1;
	return 0;
}

/* "SCMP_ARCH_X86_64" -> libseccomp's "x86_64". Only the native
 * architecture goes into the filter: another ABI hits libseccomp's bad-arch
 * action (kill), never an allow rule. */
static int check_arches(json_object *root, struct nb_err *err)
{
	bool bad = false;
	json_object *arches = get_typed(root, "architectures", json_type_array, &bad);

	if (bad)
		return nb_err_set(err, 0, "seccomp profile: architectures is not an array");
	for (size_t i = 0; arches && i < json_object_array_length(arches); i++) {
		json_object *a = json_object_array_get_idx(arches, i);
		const char *s = json_object_is_type(a, json_type_string) ? json_object_get_string(a)
									 : NULL;
		char lower[32];
		size_t j = 0;

		if (!s)
			return nb_err_set(err, 0,
					  "seccomp profile: an architecture is not a string");
		if (strncmp(s, "SCMP_ARCH_", 10) == 0)
			s += 10;
		for (; j < sizeof(lower) - 1 && s[j]; j++)
			lower[j] = (char)(s[j] >= 'A' && s[j] <= 'Z' ? s[j] + 32 : s[j]);
		lower[j] = '\0';
		if (s[j] || seccomp_arch_resolve_name(lower) == 0)
			return nb_err_set(err, 0, "seccomp profile: unknown architecture \"%.32s\"",
					  s);
	}
	return 0;
}

static int parse_root(struct profile *p, json_object *root, struct nb_err *err)
{
	bool bad = false;
	json_object *def = get_typed(root, "defaultAction", json_type_string, &bad);
	json_object *calls = get_typed(root, "syscalls", json_type_array, &bad);
	json_object *def_errno = NULL;

	json_object_object_get_ex(root, "defaultErrnoRet", &def_errno);
	if (!json_object_is_type(root, json_type_object) || bad || !def)
		return nb_err_set(err, 0,
				  "seccomp profile: needs a string defaultAction and an "
				  "array syscalls");
	if (json_object_object_get_ex(root, "listenerPath", NULL))
		return nb_err_set(err, 0,
				  "seccomp profile: listenerPath (SCMP_ACT_NOTIFY) is not "
				  "supported");
	if (parse_action(json_object_get_string(def), def_errno, &p->default_action, err) ||
	    check_arches(root, err))
		return -1;
	if (calls && json_object_array_length(calls) > NB_SECCOMP_MAX_RULES)
		return nb_err_set(err, 0, "seccomp profile: more than %u syscalls entries",
				  NB_SECCOMP_MAX_RULES);
	p->ctx = seccomp_init(p->default_action);
	if (!p->ctx)
		return nb_err_set(err, 0, "seccomp: seccomp_init failed");
	for (size_t i = 0; calls && i < json_object_array_length(calls); i++)
		if (parse_rule(p, json_object_array_get_idx(calls, i), i, err))
			return -1;
	return nb_seccomp_export(p->ctx, p->out, err);
}

int nb_seccomp_profile_parse(const char *json, size_t len, uint64_t caps,
			     struct nb_seccomp_bpf *out, struct nb_err *err)
{
	struct profile p = { .caps = caps, .out = out };
	json_tokener *tok;
	json_object *root;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > NB_SECCOMP_PROFILE_MAX)
		return nb_err_set(err, 0, "seccomp profile: %zu bytes, more than %u", len,
				  NB_SECCOMP_PROFILE_MAX);
	tok = json_tokener_new_ex(64);
	if (!tok)
		return nb_err_sys(err, "seccomp profile: json_tokener_new");
	root = json_tokener_parse_ex(tok, json, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    (size_t)json_tokener_get_parse_end(tok) != len) {
		bool trailing = root && json_tokener_get_error(tok) == json_tokener_success;

		rc = nb_err_set(err, 0, "seccomp profile: invalid JSON: %s",
				trailing ? "trailing data after the profile"
					 : json_tokener_error_desc(json_tokener_get_error(tok)));
		/* json_tokener_continue: truncated input */
		json_object_put(root);
		json_tokener_free(tok);
		return rc;
	}
	json_tokener_free(tok);
	rc = parse_root(&p, root, err);
	json_object_put(root);
	if (p.ctx)
		seccomp_release(p.ctx);
	if (rc < 0)
		nb_seccomp_bpf_free(out);
	return rc;
}

int nb_seccomp_profile_load(const char *path, uint64_t caps, struct nb_seccomp_bpf *out,
			    struct nb_err *err)
{
	cleanup_free char *buf = NULL;
	size_t got;

	memset(out, 0, sizeof(*out));
	if (nb_file_read(AT_FDCWD, path, NB_SECCOMP_PROFILE_MAX, &buf, &got, err) < 0)
		return nb_err_wrap(err, "seccomp profile");
	if (nb_seccomp_profile_parse(buf, got, caps, out, err))
		return nb_err_wrap(err, "%s", path);
	return 0;
}
