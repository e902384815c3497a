/* virtio-console (device id 3) with VIRTIO_CONSOLE_F_MULTIPORT: four
 * generic ports (not hvc ttys: byte-clean, and a generic port gives the
 * guest a real EOF) carrying the workload's stdio, named as in
 * include/nestbox/abi.h:
 *   port 0 NB_PORT_STDIN   host stdin -> guest (only with -i)
 *   port 1 NB_PORT_STDOUT  guest -> host stdout
 *   port 2 NB_PORT_STDERR  guest -> host stderr
 *   port 3 NB_PORT_SIGNAL  host -> guest: signal-port messages
 *                          (nb_console_send_signal_msg, common/sigmsg.h)
 * One device with four ports, rather than four devices: one slot, one
 * IRQ, one notify descriptor, and ports are found by name, not by probe
 * order.
 *
 * Guest output is written with back-pressure: when the host descriptor
 * would block, the device stops taking the port's descriptors (the guest's
 * writes then block) and resumes when epoll says the fd is writable.
 * Nothing is dropped: partial writes resume where they ended, EINTR and
 * EAGAIN retry; a write that fails (EPIPE: the reader went away; ENOSPC,
 * EIO) stops the VM with nb_stop_write_failed, which decides nestbox's
 * status and message.
 * Host stdin EOF becomes PORT_OPEN(0) for port 0: the guest's read(2)
 * returns 0 once the data before it is consumed. */
#ifndef NESTBOX_VIRTIO_CONSOLE_H
#define NESTBOX_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/kvm/event.h"
#include "vmm/virtio/virtio.h"

struct nb_console;

struct nb_console_opts {
	int stdin_fd; /* -1: the guest's stdin is at EOF at once */
	int stdout_fd, stderr_fd;
	/* with has_stdin_then: read once stdin_fd is at its end, which the
	 * guest then does not see (a clone's spec, then -i's stdin) */
	int stdin_then_fd;
	bool has_stdin_then;
};

/* Create the device. *out is for nb_console_drain(). */
int nb_virtio_console_add(struct nb_virtio_transport *t, struct nb_event_loop *loop,
			  const struct nb_console_opts *opts, struct nb_console **out,
			  struct nb_err *err);

/* The pieces nb_virtio_console_add() registers, for tests: the device
 * state (fds probed, SIGPIPE ignored) and its virtio device, for a
 * transport of the test's choosing. */
struct nb_console *nb_console_new(struct nb_event_loop *loop, const struct nb_console_opts *opts,
				  struct nb_err *err);
struct nb_virtio_dev *nb_console_dev(struct nb_console *con);

/* Bytes of signal-port messages the device holds for a slow guest. */
#define NB_CONSOLE_SIGNAL_BUF 256u

/* Queue len bytes (whole messages) for the guest on the signal port and
 * hand them over as it gives buffers. Returns false, sending nothing, when
 * the guest does not listen: the port is not open, or NB_CONSOLE_SIGNAL_BUF
 * bytes are still waiting for it. Any thread; takes the device lock. */
bool nb_console_send_signal_msg(struct nb_console *con, const void *msg, size_t len);

/* The same for one message that must not be lost to a guest still booting
 * (the OCI start gate): when the port is not open it is held (with at
 * most one before it) and queued as soon as the guest opens the port. */
bool nb_console_hold_signal_msg(struct nb_console *con, const void *msg, size_t len);

/* On the main thread after the vCPUs and the event thread stopped: write
 * out everything the guest queued, so no output is lost at exit, waiting
 * for a slow reader (nb_event_wait_writable: a stop signal or the timeout
 * gives up, and says so). */
void nb_console_drain(struct nb_console *con);

/* The same after the host stopped the VM (a signal, the timeout): only
 * what the host fds take now. */
void nb_console_drain_now(struct nb_console *con);

#endif
