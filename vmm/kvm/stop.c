#include "vmm/kvm/stop.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nestbox/abi.h"

int nb_stop_init(struct nb_stop *stop, struct nb_err *err)
{
	memset(stop, 0, sizeof(*stop));
	pthread_mutex_init(&stop->lock, NULL);
	stop->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (stop->notify_fd < 0)
		return nb_err_sys(err, "eventfd");
	return 0;
}

void nb_stop_destroy(struct nb_stop *stop)
{
	if (stop->notify_fd >= 0)
		close(stop->notify_fd);
	stop->notify_fd = -1;
	pthread_mutex_destroy(&stop->lock);
}

void nb_stop_request(struct nb_stop *stop, enum nb_stop_reason reason, int status, const char *fmt,
		     ...)
{
	uint64_t one = 1;
	va_list ap;

	pthread_mutex_lock(&stop->lock);
	if (stop->reason == NB_STOP_NONE) {
		stop->status = status;
		if (fmt) {
			va_start(ap, fmt);
			vsnprintf(stop->err.msg, sizeof(stop->err.msg), fmt, ap);
			va_end(ap);
		}
		__atomic_store_n(&stop->reason, reason, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&stop->lock);
	if (write(stop->notify_fd, &one, sizeof(one)) < 0) {
		/* Counter saturated: a wake-up is already pending. */
	}
}

void nb_stop_output_lost(struct nb_stop *stop, int status, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&stop->lock);
	if (!stop->lost_status) {
		stop->lost_status = status;
		va_start(ap, fmt);
		vsnprintf(stop->lost_msg, sizeof(stop->lost_msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&stop->lock);
	nb_stop_request(stop, NB_STOP_HOST, status, "%s", stop->lost_msg);
}

void nb_stop_write_failed(struct nb_stop *stop, const char *stream, int errnum)
{
	if (errnum == EPIPE)
		nb_stop_output_lost(
			stop, NB_STATUS_SIGNAL_BASE + SIGPIPE,
			"the reader of nestbox's %s went away (EPIPE): the VM was stopped", stream);
	else
		nb_stop_output_lost(stop, NB_STATUS_ERROR,
				    "writing the workload's %s to nestbox's "
				    "%s failed (%s): the VM was stopped",
				    stream, stream, strerror(errnum));
}

bool nb_stop_requested(struct nb_stop *stop)
{
	/* Lock-free: vCPU threads ask after every exit. */
	return __atomic_load_n(&stop->reason, __ATOMIC_ACQUIRE) != NB_STOP_NONE;
}

void nb_stop_set_oom(struct nb_stop *stop)
{
	pthread_mutex_lock(&stop->lock);
	if (stop->reason == NB_STOP_NONE)
		stop->oom = true;
	pthread_mutex_unlock(&stop->lock);
}
