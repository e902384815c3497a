/* Host confinement of the VMM's own threads: one seccomp allowlist per
 * thread kind, built with libseccomp once per run and installed by each
 * thread on itself before the first guest instruction. A syscall outside a
 * thread's list kills the whole process (or, in log mode, is logged by the
 * kernel and allowed). The lists and the reason for every entry are in
 * sandbox.c; `nestbox seccomp-dump` prints them. */
#ifndef NESTBOX_VMM_SANDBOX_H
#define NESTBOX_VMM_SANDBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "nestbox/err.h"
#include "seccomp_profile.h"
#include "stop.h"

enum nb_thread_kind {
	NB_THREAD_MAIN,  /* waits for the stop, handles host signals, tears down */
	NB_THREAD_EVENT, /* device I/O: queues, disks, tap, vsock sockets, stdio */
	NB_THREAD_VCPU,  /* KVM_RUN and the port/MMIO exits it returns */
	NB_THREAD_FS,    /* virtio-fs: file system calls beneath the shared directories */
	NB_THREAD_KINDS,
};

struct nb_sandbox {
	struct nb_seccomp_bpf bpf[NB_THREAD_KINDS];
	/* The start gate: no thread goes on (no guest instruction runs)
	 * before every thread has installed its filter. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned threads, entered; /* event, vCPU and worker threads; how many are in */
	bool open;
	int violate;             /* test hook: the kind that breaks its list, or -1 */
	uint32_t action;         /* what a call outside the list does */
};

/* Build the filters (log_only: log violations instead of killing) for a
 * VM whose threads are main, event and nvcpus vCPUs. The test hook
 * NESTBOX_TEST_SECCOMP_VIOLATE=main|event|vcpu makes that kind issue a
 * syscall outside its list right after installing its filter. */
int nb_sandbox_init(struct nb_sandbox *sb, bool log_only, unsigned nvcpus, struct nb_err *err);
void nb_sandbox_destroy(struct nb_sandbox *sb);

/* count more threads of a device's own kind (NB_THREAD_FS) will enter
 * before the gate opens: builds that kind's filter (the others are built
 * by nb_sandbox_init). Call before starting them. */
int nb_sandbox_expect(struct nb_sandbox *sb, enum nb_thread_kind kind, unsigned count,
		      struct nb_err *err);

/* On the calling thread: install kind's filter. The event and vCPU
 * threads then wait at the gate; the main thread (last, once it started
 * them all) waits for them to arrive and opens it. A failure latches a
 * stop; the thread still passes the gate, so nobody waits forever. */
void nb_sandbox_enter(struct nb_sandbox *sb, enum nb_thread_kind kind, struct nb_stop *stop);

/* Open the gate without waiting (a thread could not be started). */
void nb_sandbox_release(struct nb_sandbox *sb);

/* Every thread kind's allowlist with the reason for each entry. */
void nb_sandbox_dump(FILE *out);

/* Distinct syscalls and ioctl requests kind allows (for the dump). */
void nb_sandbox_count(enum nb_thread_kind kind, unsigned *syscalls, unsigned *ioctls);

#endif
