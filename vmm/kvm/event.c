#include "vmm/kvm/event.h"

#include <errno.h>
#include <poll.h>
#include <time.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "nestbox/abi.h"

static const int handled_signals[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH
};

static int watch(int epoll_fd, int fd, struct nb_err *err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return nb_err_sys(err, "epoll_ctl");
	return 0;
}

int nb_event_add(struct nb_event_loop *loop, int fd, uint32_t events, nb_event_fn *fn, void *opaque,
		 struct nb_err *err)
{
	struct epoll_event ev = { .events = events ? events : EPOLLIN, .data.fd = fd };

	if (loop->nhandlers == NB_EVENT_MAX_HANDLERS)
		return nb_err_set(err, 0, "event loop: more than %u descriptors",
				  NB_EVENT_MAX_HANDLERS);
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return nb_err_sys(err, "epoll_ctl");
	loop->handlers[loop->nhandlers++] = (struct nb_event_handler){ fd, fn, opaque };
	return 0;
}

void nb_event_remove(struct nb_event_loop *loop, int fd)
{
	for (unsigned i = 0; i < loop->nhandlers; i++) {
		if (loop->handlers[i].fd != fd)
			continue;
		epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		loop->handlers[i] = loop->handlers[--loop->nhandlers];
		return;
	}
}

static void dispatch(struct nb_event_loop *loop, int fd, uint32_t events)
{
	for (unsigned i = 0; i < loop->nhandlers; i++) {
		if (loop->handlers[i].fd == fd) {
			loop->handlers[i].fn(loop->handlers[i].opaque, fd, events);
			return;
		}
	}
}

static int arm_timeout(struct nb_event_loop *loop, unsigned timeout_sec, struct nb_err *err)
{
	struct itimerspec its = { .it_value.tv_sec = timeout_sec };

	loop->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (loop->timer_fd < 0)
		return nb_err_sys(err, "timerfd_create");
	if (timerfd_settime(loop->timer_fd, 0, &its, NULL) < 0)
		return nb_err_sys(err, "timerfd_settime");
	return watch(loop->wait_fd, loop->timer_fd, err);
}

int nb_event_init(struct nb_event_loop *loop, struct nb_stop *stop, unsigned timeout_sec,
		  struct nb_err *err)
{
	memset(loop, 0, sizeof(*loop));
	loop->epoll_fd = loop->wait_fd = loop->signal_fd = loop->timer_fd = -1;
	loop->stop = stop;
	sigemptyset(&loop->signals);
	for (size_t i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++)
		sigaddset(&loop->signals, handled_signals[i]);
	if (pthread_sigmask(SIG_BLOCK, &loop->signals, NULL) != 0)
		return nb_err_set(err, 0, "blocking signals");
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	loop->wait_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0 || loop->wait_fd < 0)
		return nb_err_sys(err, "epoll_create1");
	loop->signal_fd = signalfd(-1, &loop->signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (loop->signal_fd < 0)
		return nb_err_sys(err, "signalfd");
	/* The stop eventfd is never read: once written it stays readable and
	 * wakes both loops for good. */
	if (watch(loop->wait_fd, loop->signal_fd, err) < 0 ||
	    watch(loop->wait_fd, stop->notify_fd, err) < 0 ||
	    watch(loop->epoll_fd, stop->notify_fd, err) < 0)
		return -1;
	if (timeout_sec && arm_timeout(loop, timeout_sec, err) < 0)
		return -1;
	return 0;
}

int nb_event_init_worker(struct nb_event_loop *loop, struct nb_stop *stop, const char *name,
			 struct nb_err *err)
{
	memset(loop, 0, sizeof(*loop));
	loop->epoll_fd = loop->wait_fd = loop->signal_fd = loop->timer_fd = -1;
	loop->stop = stop;
	loop->name = name;
	sigemptyset(&loop->signals); /* nothing to unblock at destroy */
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0)
		return nb_err_sys(err, "epoll_create1");
	return watch(loop->epoll_fd, stop->notify_fd, err);
}

int nb_event_handle_signal(struct nb_event_loop *loop, int signo, struct nb_err *err)
{
	sigset_t one;

	sigemptyset(&one);
	sigaddset(&one, signo);
	sigaddset(&loop->signals, signo);
	if (pthread_sigmask(SIG_BLOCK, &one, NULL) != 0)
		return nb_err_set(err, 0, "blocking signal %d", signo);
	if (signalfd(loop->signal_fd, &loop->signals, SFD_CLOEXEC | SFD_NONBLOCK) < 0)
		return nb_err_sys(err, "signalfd");
	return 0;
}

void nb_event_destroy(struct nb_event_loop *loop)
{
	int *fds[] = { &loop->epoll_fd, &loop->wait_fd, &loop->signal_fd, &loop->timer_fd };

	nb_event_join(loop);

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	pthread_sigmask(SIG_UNBLOCK, &loop->signals, NULL);
}

static void on_signal(struct nb_event_loop *loop)
{
	struct signalfd_siginfo info;

	while (read(loop->signal_fd, &info, sizeof(info)) == sizeof(info)) {
		int signo = (int)info.ssi_signo;

		if (loop->forward_signal && loop->forward_signal(loop->forward_opaque, signo))
			continue;
		nb_stop_request(loop->stop, NB_STOP_HOST, NB_STATUS_SIGNAL_BASE + signo,
				"stopped by signal %s", strsignal(signo));
	}
}

/* epoll_wait on fd until a stop is latched, calling fn for each event. */
static int wait_loop(struct nb_event_loop *loop, int epoll_fd,
		     void (*fn)(struct nb_event_loop *loop, int fd, uint32_t events),
		     struct nb_err *err)
{
	struct epoll_event events[8];

	while (!nb_stop_requested(loop->stop)) {
		int n = epoll_wait(epoll_fd, events, 8, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return nb_err_sys(err, "epoll_wait");
		for (int i = 0; i < n; i++)
			fn(loop, events[i].data.fd, events[i].events);
	}
	return 0;
}

static void on_wait_event(struct nb_event_loop *loop, int fd, uint32_t events)
{
	(void)events;
	if (fd == loop->signal_fd)
		on_signal(loop);
	else if (fd == loop->timer_fd)
		nb_stop_request(loop->stop, NB_STOP_HOST, NB_STATUS_TIMEOUT,
				"timed out: the VM was killed");
}

int nb_event_wait(struct nb_event_loop *loop, struct nb_err *err)
{
	return wait_loop(loop, loop->wait_fd, on_wait_event, err);
}

/* A signal read while the last output is written: those that stop nestbox
 * give it up (returns the signal), the others go (the guest is gone). */
static int take_stop_signal(struct nb_event_loop *loop)
{
	struct signalfd_siginfo info;

	while (read(loop->signal_fd, &info, sizeof(info)) == sizeof(info))
		if (info.ssi_signo == SIGINT || info.ssi_signo == SIGTERM ||
		    info.ssi_signo == SIGHUP || info.ssi_signo == SIGQUIT)
			return (int)info.ssi_signo;
	return 0;
}

bool nb_event_wait_writable(struct nb_event_loop *loop, int fd)
{
	for (;;) {
		struct pollfd p[3] = { { .fd = fd, .events = POLLOUT },
				       { .fd = loop->signal_fd, .events = POLLIN },
				       { .fd = loop->timer_fd, .events = POLLIN } };
		int n = ppoll(p, 3, NULL, NULL), signo; /* ppoll: in every list, poll is not */

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || p[0].revents)
			return true; /* the write says what is wrong, if anything */
		if (p[2].revents) {
			nb_stop_output_lost(loop->stop, NB_STATUS_TIMEOUT,
					    "timed out while the "
					    "workload's output was written: the rest is lost");
			return false;
		}
		if (p[1].revents && (signo = take_stop_signal(loop))) {
			nb_stop_output_lost(loop->stop, NB_STATUS_SIGNAL_BASE + signo,
					    "stopped by signal %s while the workload's output was "
					    "written: the rest is lost",
					    strsignal(signo));
			return false;
		}
	}
}

static void on_device_event(struct nb_event_loop *loop, int fd, uint32_t events)
{
	if (fd != loop->stop->notify_fd)
		dispatch(loop, fd, events);
}

void nb_event_serve(struct nb_event_loop *loop)
{
	struct nb_err err;

	if (wait_loop(loop, loop->epoll_fd, on_device_event, &err) < 0)
		nb_stop_request(loop->stop, NB_STOP_ERROR, 0, "event thread: %s", err.msg);
}

static void *event_thread(void *arg)
{
	struct nb_event_loop *loop = arg;

	pthread_setname_np(pthread_self(), loop->name ? loop->name : "nb-event");
	if (loop->thread_init)
		loop->thread_init(loop->thread_init_opaque);
	nb_event_serve(loop);
	return NULL;
}

int nb_event_start(struct nb_event_loop *loop, struct nb_err *err)
{
	int rc = pthread_create(&loop->thread, NULL, event_thread, loop);

	if (rc != 0)
		return nb_err_set(err, rc, "starting the event thread");
	loop->thread_started = true;
	return 0;
}

void nb_event_join(struct nb_event_loop *loop)
{
	if (!loop->thread_started)
		return;
	/* The thread ends once a stop is latched. */
	nb_stop_request(loop->stop, NB_STOP_HOST, 0, NULL);
	pthread_join(loop->thread, NULL);
	loop->thread_started = false;
}
