/* The event loops. Device descriptors (ioeventfds, taps, sockets, host
 * stdio) are served by one event thread; the main thread waits for the VM to
 * stop, host signals and the timeout. Each has its own epoll set, so each
 * thread's seccomp filter allows only what its side needs. A device whose
 * work blocks (virtio-fs: file system calls) gets a worker loop of its own:
 * the same device side on another thread, with its own filter. */
#ifndef NESTBOX_VMM_KVM_EVENT_H
#define NESTBOX_VMM_KVM_EVENT_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "nestbox/err.h"
#include "vmm/kvm/stop.h"

#define NB_EVENT_MAX_HANDLERS 64u

/* Called on the event thread when fd is readable (events: EPOLLIN etc.). */
typedef void nb_event_fn(void *opaque, int fd, uint32_t events);

struct nb_event_handler {
	int fd;
	nb_event_fn *fn;
	void *opaque;
};

struct nb_event_loop {
	int epoll_fd; /* device descriptors: the event thread's */
	int wait_fd;  /* the main thread's: signals, timeout, stop */
	int signal_fd;
	int timer_fd;
	sigset_t signals;
	struct nb_stop *stop;
	pthread_t thread;
	bool thread_started;
	const char *name;                  /* the thread's name (seccomp audit lines): "nb-event" */
	void (*thread_init)(void *opaque); /* first thing the event thread runs */
	void *thread_init_opaque;
	/* A host signal for the workload: returns true when it was forwarded
	 * (the VM keeps running), false to stop the VM with 128+signo. */
	bool (*forward_signal)(void *opaque, int signo);
	void *forward_opaque;
	/* Written by the main thread before nb_event_start(), then only by
	 * the event thread (devices add and remove descriptors there). */
	unsigned nhandlers;
	struct nb_event_handler handlers[NB_EVENT_MAX_HANDLERS];
};

/* Block the host signals nestbox handles (call before starting threads so
 * every thread inherits the mask) and set up the loop. timeout_sec 0: none. */
int nb_event_init(struct nb_event_loop *loop, struct nb_stop *stop, unsigned timeout_sec,
		  struct nb_err *err);
void nb_event_destroy(struct nb_event_loop *loop);

/* A worker loop: only the device side (nb_event_add, nb_event_start,
 * nb_event_join), on a thread called name, ending with the same stop. */
int nb_event_init_worker(struct nb_event_loop *loop, struct nb_stop *stop, const char *name,
			 struct nb_err *err);

/* Watch fd (EPOLLIN unless events says otherwise) and call fn on the event
 * thread when it fires. Devices use this for ioeventfds, taps, sockets and
 * host stdio, so vCPU threads never do device work. */
int nb_event_add(struct nb_event_loop *loop, int fd, uint32_t events, nb_event_fn *fn, void *opaque,
		 struct nb_err *err);

/* Stop watching fd. */
void nb_event_remove(struct nb_event_loop *loop, int fd);

/* Serve the device descriptors until a stop is latched (by a device, a
 * vCPU, a signal or the timeout). nb_event_start() runs it on the event
 * thread (after loop->thread_init); nb_event_join() waits for that thread. */
void nb_event_serve(struct nb_event_loop *loop);
int nb_event_start(struct nb_event_loop *loop, struct nb_err *err);
void nb_event_join(struct nb_event_loop *loop);

/* One more host signal for forward_signal (after nb_event_init, before
 * threads start). */
int nb_event_handle_signal(struct nb_event_loop *loop, int signo, struct nb_err *err);

/* On the main thread: wait for a stop, handling host signals and the
 * timeout meanwhile. */
int nb_event_wait(struct nb_event_loop *loop, struct nb_err *err);

/* On the main thread, once the event thread is joined and the vCPUs
 * stopped (the guest's last output is being written): wait until fd takes
 * output (poll). INT, TERM, HUP or QUIT, or the timeout, give the wait up:
 * that is latched with nb_stop_output_lost (128 + the signal, or 124) and
 * false returned. Other host signals are dropped meanwhile. */
bool nb_event_wait_writable(struct nb_event_loop *loop, int fd);

#endif
