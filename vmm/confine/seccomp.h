/* Host confinement of the VMM's own threads: one seccomp allowlist per
 * thread kind, built with libseccomp once per run and installed by each
 * thread on itself before the first guest instruction. A syscall outside a
 * thread's list kills the whole process (or, in log mode, is logged by the
 * kernel and allowed). The lists and the reason for every entry are in
 * seccomp.c; `nestbox seccomp-dump` prints them. */
#ifndef NESTBOX_VMM_CONFINE_SECCOMP_H
#define NESTBOX_VMM_CONFINE_SECCOMP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "nestbox/err.h"
#include "vmm/confine/seccomp_bpf.h"
#include "vmm/kvm/stop.h"

enum nb_thread_kind {
	NB_THREAD_MAIN,  /* waits for the stop, handles host signals, tears down */
	NB_THREAD_EVENT, /* device I/O: queues, disks, tap, vsock sockets, stdio */
	NB_THREAD_VCPU,  /* KVM_RUN and the port/MMIO exits it returns */
	NB_THREAD_FS,    /* virtio-fs: file system calls beneath the shared directories */
	NB_THREAD_KINDS,
};

/* What a run uses beyond the basics: a rule that only such a run needs is
 * installed only then (each thread's list is built for the run). */
enum nb_sandbox_need {
	NB_NEED_DISK_READ = 1u << 0,   /* a virtio-blk disk: -v, an image's layers */
	NB_NEED_DISK_WRITE = 1u << 1,  /* a writable -v volume */
	NB_NEED_RATE = 1u << 2,        /* --device-*-bps/iops, --net-rate */
	NB_NEED_VSOCK = 1u << 3,       /* --vsock PATH */
	NB_NEED_NET = 1u << 4,         /* --net */
	NB_NEED_TTY = 1u << 5,         /* -t */
	NB_NEED_STATS = 1u << 6,       /* --stats */
	NB_NEED_FS = 1u << 7,          /* a shared directory: -v DIR, --mount type=bind */
	NB_NEED_SNAPSHOT = 1u << 8,    /* a template boot: the main thread saves the VM */
	NB_NEED_SNAPSHOT_FS = 1u << 9, /* a live snapshot of a VM with -v DIR: the shares' paths */
	NB_NEED_ALL = (1u << 10) - 1,
};

/* The run: what it uses, and the values rules match that exist only at
 * run time (-1: that device is absent, and its rules are left out). */
struct nb_sandbox_config {
	unsigned needs;      /* NB_NEED_* */
	pid_t pid;           /* the VMM's process: vCPU kicks go to its threads only */
	int vsock_listen_fd; /* accept4 */
	int vsock_broker_fd; /* recvmsg: sockets from the vsock broker */
};

struct nb_sandbox {
	struct nb_seccomp_bpf bpf[NB_THREAD_KINDS];
	/* The start gate: no thread goes on (no guest instruction runs)
	 * before every thread has installed its filter. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned threads, entered; /* event, vCPU and worker threads; how many are in */
	bool open;
	int violate;                  /* test hook: the kind that breaks its list, or -1 */
	unsigned violation;           /* ... with which call (seccomp.c's table) */
	uint32_t action;              /* what a call outside the list does */
	struct nb_sandbox_config cfg; /* the run's, for a kind built later */
	unsigned prebuilt;            /* kinds whose filter came from the build-time table */
};

/* Build the filters (log_only: log violations instead of killing) for a
 * VM whose threads are main, event and nvcpus vCPUs, as cfg's run needs.
 * The test hook NESTBOX_TEST_SECCOMP_VIOLATE=KIND[:CALL] (KIND main, event
 * or vcpu) makes that kind issue a call outside its list right after
 * installing its filter: personality(2) by default, or CALL, one of
 * openat_trunc, openat, unlink, socket_unix, connect, accept4_other_fd,
 * tgkill_other_process, writev_other_fd, execve. */
int nb_sandbox_init(struct nb_sandbox *sb, bool log_only, unsigned nvcpus,
		    const struct nb_sandbox_config *cfg, struct nb_err *err);
void nb_sandbox_destroy(struct nb_sandbox *sb);

/* count more threads of a device's own kind (NB_THREAD_FS) will enter
 * before the gate opens: builds that kind's filter (the others are built
 * by nb_sandbox_init). Call before starting them. */
int nb_sandbox_expect(struct nb_sandbox *sb, enum nb_thread_kind kind, unsigned count,
		      struct nb_err *err);

/* Build time and tests (vmm/confine/seccomp_prebuilt.h). A run's filter
 * for kind depends only on nb_sandbox_key(kind, cfg), a subset of
 * nb_sandbox_key_space(kind), and on the run's values, which
 * nb_sandbox_placeholders(key) stands in for. nb_sandbox_compile is the
 * libseccomp path every filter not built in advance takes. */
const char *nb_sandbox_kind_name(enum nb_thread_kind kind); /* "main", "event", ... */
uint32_t nb_sandbox_key_space(enum nb_thread_kind kind);
uint32_t nb_sandbox_key(enum nb_thread_kind kind, const struct nb_sandbox_config *cfg);
struct nb_sandbox_config nb_sandbox_placeholders(uint32_t key);
int nb_sandbox_compile(enum nb_thread_kind kind, uint32_t action,
		       const struct nb_sandbox_config *cfg, struct nb_seccomp_bpf *out,
		       struct nb_err *err);

/* On the calling thread: install kind's filter. The event and vCPU
 * threads then wait at the gate; the main thread (last, once it started
 * them all) waits for them to arrive and opens it. A failure latches a
 * stop; the thread still passes the gate, so nobody waits forever. */
void nb_sandbox_enter(struct nb_sandbox *sb, enum nb_thread_kind kind, struct nb_stop *stop);

/* Open the gate without waiting (a thread could not be started). */
void nb_sandbox_release(struct nb_sandbox *sb);

/* Every thread kind's allowlist with the reason for each entry, and their
 * union: the threads share memory, so that is what the VMM can do. */
void nb_sandbox_dump(FILE *out);

/* Distinct syscalls (ioctl counted once) and ioctl requests that kind,
 * or any thread (the union), is allowed in a run with needs. */
void nb_sandbox_count(enum nb_thread_kind kind, unsigned needs, unsigned *syscalls,
		      unsigned *ioctls);
void nb_sandbox_count_union(unsigned needs, unsigned *syscalls, unsigned *ioctls);

#endif
