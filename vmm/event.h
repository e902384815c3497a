/* The event loop: one epoll set on the main thread, waiting for the VM to
 * stop, host signals and (later) device and stdio descriptors. */
#ifndef NESTBOX_VMM_EVENT_H
#define NESTBOX_VMM_EVENT_H

#include <signal.h>
#include <stdint.h>

#include "nestbox/err.h"
#include "stop.h"

#define NB_EVENT_MAX_HANDLERS 64u

/* Called on the event thread when fd is readable (events: EPOLLIN etc.). */
typedef void nb_event_fn(void *opaque, int fd, uint32_t events);

struct nb_event_handler {
	int fd;
	nb_event_fn *fn;
	void *opaque;
};

struct nb_event_loop {
	int epoll_fd;
	int signal_fd;
	int timer_fd;
	sigset_t signals;
	struct nb_stop *stop;
	unsigned nhandlers;
	struct nb_event_handler handlers[NB_EVENT_MAX_HANDLERS];
};

/* Block the host signals nestbox handles (call before starting threads so
 * every thread inherits the mask) and set up the loop. timeout_sec 0: none. */
int nb_event_init(struct nb_event_loop *loop, struct nb_stop *stop, unsigned timeout_sec,
		  struct nb_err *err);
void nb_event_destroy(struct nb_event_loop *loop);

/* Watch fd (EPOLLIN unless events says otherwise) and call fn on the event
 * thread when it fires. Devices use this for ioeventfds, taps, sockets and
 * host stdio, so vCPU threads never do device work. */
int nb_event_add(struct nb_event_loop *loop, int fd, uint32_t events, nb_event_fn *fn,
		 void *opaque, struct nb_err *err);

/* Stop watching fd. */
void nb_event_remove(struct nb_event_loop *loop, int fd);

/* Run until a stop is latched (by a device, a vCPU, a signal or the timeout). */
int nb_event_run(struct nb_event_loop *loop, struct nb_err *err);

#endif
