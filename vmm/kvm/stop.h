/* Why the VM stopped. Devices and vCPU threads latch the first reason; the
 * run loop turns it into nestbox's exit status. */
#ifndef NESTBOX_VMM_KVM_STOP_H
#define NESTBOX_VMM_KVM_STOP_H

#include <pthread.h>
#include <stdbool.h>

#include "nestbox/err.h"

enum nb_stop_reason {
	NB_STOP_NONE = 0,
	NB_STOP_STATUS, /* the guest reported an exit status */
	NB_STOP_RESET,  /* the guest reset itself (i8042, triple fault) */
	NB_STOP_ERROR,  /* the VMM or the guest broke: msg says how */
	NB_STOP_HOST,   /* the host asked (signal, timeout): status set */
	NB_STOP_READY,  /* a template's guest is ready for its snapshot (abi.h) */
};

struct nb_stop {
	pthread_mutex_t lock;
	enum nb_stop_reason reason;
	int status;
	struct nb_err err;
	int notify_fd; /* eventfd the event loop waits on */
	/* Guest output that could not be delivered (nb_stop_output_lost):
	 * 0 while all of it was. */
	int lost_status;
	char lost_msg[256];
	bool oom; /* the guest flagged an OOM kill with its status (abi.h) */
};

int nb_stop_init(struct nb_stop *stop, struct nb_err *err);
void nb_stop_destroy(struct nb_stop *stop);

/* Latch a reason (first caller wins; later calls are ignored) and wake the
 * event loop. For NB_STOP_ERROR, fmt describes the failure. */
void nb_stop_request(struct nb_stop *stop, enum nb_stop_reason reason, int status, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));

bool nb_stop_requested(struct nb_stop *stop);

/* The guest's exit report carried NB_EXIT_FLAG_OOM (before its status). */
void nb_stop_set_oom(struct nb_stop *stop);

/* Output the guest wrote could not be delivered to the host's stdout or
 * stderr (the reader went away, a write failed, or a signal gave up the
 * last of it at exit): latch status and the message (first caller wins)
 * and stop the VM as nb_stop_request does. nestbox's result is then this
 * status and message, whatever the guest reported: output is never lost
 * without a word. */
void nb_stop_output_lost(struct nb_stop *stop, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writing guest output to the host's stream ("stdout", "stderr") failed
 * with errnum: nb_stop_output_lost with 128 + SIGPIPE (141) for EPIPE (the
 * reader went away; a process writing to that pipe would end so), else
 * NB_STATUS_ERROR (125; ENOSPC, EIO, ...), and a message saying which. */
void nb_stop_write_failed(struct nb_stop *stop, const char *stream, int errnum);

#endif
