#include "vmm/run/sigforward.h"

#include <signal.h>
#include <time.h>

#include "common/sigmsg.h"
#include "vmm/run/resources.h"
#include "vmm/run/tty.h"
#include "vmm/virtio/balloon.h"
#include "vmm/virtio/console.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool send_msg(struct nb_sigforward *f, const struct nb_sigmsg *m)
{
	uint8_t buf[NB_SIGMSG_MAX];
	size_t len = nb_sigmsg_encode(m, buf);

	return f->con && len && nb_console_send_signal_msg(f->con, buf, len);
}

static void resize(struct nb_sigforward *f)
{
	struct nb_sigmsg m = { .type = NB_SIGMSG_WINSIZE };

	/* A guest that does not listen keeps its old size. */
	if (nb_tty_size(&m.rows, &m.cols))
		send_msg(f, &m);
}

/* NB_SIGNAL_MEMORY: the balloon first (it may take a while to fill),
 * then the cgroup's limit in the guest. */
static void update_memory(struct nb_sigforward *f, uint32_t pages)
{
	struct nb_sigmsg m = { .type = NB_SIGMSG_MEMORY, .memory = (uint64_t)pages * 4096 };
	uint8_t buf[NB_SIGMSG_MAX];
	struct nb_err err;
	size_t len;

	if (nb_memory_update_check(f->memory.ram, f->memory.boot_limit, f->memory.reservation,
				   m.memory, &err) < 0 ||
	    (f->memory.balloon &&
	     nb_balloon_set_target(f->memory.balloon, nb_balloon_for_limit(f->memory.ram, m.memory),
				   &err) < 0)) {
		nb_report(f->memory.report, NB_REPORT_MESSAGE, "update: %s", err.msg);
		return;
	}
	len = nb_sigmsg_encode(&m, buf);
	if (!f->con || !len || !nb_console_hold_signal_msg(f->con, buf, len))
		nb_report(f->memory.report, NB_REPORT_MESSAGE,
			  "update: the guest did not take the memory limit");
}

bool nb_sigforward(void *opaque, int signo, uint32_t value)
{
	struct nb_sigforward *f = opaque;
	struct nb_sigmsg m = { .type = NB_SIGMSG_SIGNAL, .signo = signo };
	bool stop_kind = signo == SIGINT || signo == SIGTERM;
	double now = now_ms();

	if (f->memory.ram && signo == NB_SIGNAL_MEMORY) {
		update_memory(f, value);
		return true;
	}
	if (f->snapshot.fn && signo == NB_SIGNAL_SNAPSHOT) {
		f->snapshot.fn(f->snapshot.opaque);
		return true;
	}
	if (f->start_gate && signo == NB_SIGNAL_START) {
		uint8_t buf[NB_SIGMSG_MAX];
		struct nb_sigmsg ws = { .type = NB_SIGMSG_WINSIZE },
				 start = { .type = NB_SIGMSG_START };
		size_t len;

		if (!f->con)
			return false;
		/* the engine sized the terminal after the spec was made: the
		 * size at start goes first (its SIGWINCH came too early) */
		if (f->tty && nb_tty_size(&ws.rows, &ws.cols) &&
		    (len = nb_sigmsg_encode(&ws, buf)) != 0)
			nb_console_hold_signal_msg(f->con, buf, len);
		len = nb_sigmsg_encode(&start, buf);
		f->started = nb_console_hold_signal_msg(f->con, buf, len);
		return f->started;
	}
	if (f->start_gate && !f->started && signo != SIGWINCH)
		return false; /* held: nothing to take it but the VM */
	if (signo == SIGWINCH) {
		if (f->tty)
			resize(f);
		else
			send_msg(f, &m);
		return true;
	}
	if (stop_kind && f->last_stop_ms && now - f->last_stop_ms < NB_SIGFORWARD_FORCE_MS)
		return false;
	if (!send_msg(f, &m))
		return false;
	if (stop_kind)
		f->last_stop_ms = now;
	return true;
}
