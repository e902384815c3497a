/* The event loop: one epoll set on the main thread, waiting for the VM to
 * stop, host signals and (later) device and stdio descriptors. */
#ifndef NESTBOX_VMM_EVENT_H
#define NESTBOX_VMM_EVENT_H

#include <signal.h>

#include "nestbox/err.h"
#include "stop.h"

struct nb_event_loop {
	int epoll_fd;
	int signal_fd;
	int timer_fd;
	sigset_t signals;
	struct nb_stop *stop;
};

/* Block the host signals nestbox handles (call before starting threads so
 * every thread inherits the mask) and set up the loop. timeout_sec 0: none. */
int nb_event_init(struct nb_event_loop *loop, struct nb_stop *stop, unsigned timeout_sec,
		  struct nb_err *err);
void nb_event_destroy(struct nb_event_loop *loop);

/* Run until a stop is latched (by a device, a vCPU, a signal or the timeout). */
int nb_event_run(struct nb_event_loop *loop, struct nb_err *err);

#endif
