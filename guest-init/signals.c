#include "guest-init/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "container/container.h"
#include "guest-init/net.h"
#include "guest-init/warm.h"
#include "nestbox/cleanup.h"

/* The signals whose default action is not to end the process. */
static bool default_ignored(int sig)
{
	return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH;
}

static int read_masks(pid_t pid, uint64_t *blocked, uint64_t *ignored, uint64_t *caught)
{
	char path[64], line[256];
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	cleanup_fclose FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		found += sscanf(line, "SigBlk: %" SCNx64, blocked) == 1;
		found += sscanf(line, "SigIgn: %" SCNx64, ignored) == 1;
		found += sscanf(line, "SigCgt: %" SCNx64, caught) == 1;
	}
	return found == 3 ? 0 : -1;
}

/* busybox ash, waiting for a child, blocks nearly every signal for a few
 * instructions on each side of its sigsuspend. A signal sent to an init
 * then stays pending, and when it is unblocked the kernel drops it (an
 * init's SIG_DFL): the TERM would be lost. So a blocked, uncaught signal
 * is looked at again for a while; blocked that long, it is blocked on
 * purpose (sigwait, signalfd) and is sent as it is. */
#define BLOCKED_POLL_US 1000
#define BLOCKED_WAIT_US 20000

int nb_signal_deliver(pid_t pid, int sig, bool pid_ns_init)
{
	uint64_t blocked = 0, ignored = 0, caught = 0, bit = 1ull << (sig - 1);

	if (sig < 1 || sig > 64)
		return 0;
	for (unsigned waited = 0;
	     pid_ns_init && !default_ignored(sig) &&
	     read_masks(pid, &blocked, &ignored, &caught) == 0 && !((ignored | caught) & bit);
	     waited += BLOCKED_POLL_US) {
		if (!(blocked & bit)) {
			kill(pid, SIGKILL);
			return sig;
		}
		if (waited >= BLOCKED_WAIT_US)
			break;
		usleep(BLOCKED_POLL_US);
	}
	kill(pid, sig);
	return 0;
}

/* A failure is logged; success is silent (the log is the workload's output). */
static void set_memory(const struct nb_sigmsg *m, struct nb_signal_target *t, int log_fd)
{
	struct nb_err err;

	if (nb_container_set_memory_max(t->cgroup_fd, m->memory, &err) < 0 && log_fd >= 0)
		dprintf(log_fd, "nestbox-init: %s\n", err.msg);
}

/* A restored running VM becomes a clone of its own (abi.h): the host's
 * entropy, then its clock with a CRNG reseed. */
static void resume(const struct nb_sigmsg *m, int log_fd)
{
	struct timespec now = { .tv_sec = (time_t)(m->value / 1000000000u),
				.tv_nsec = (long)(m->value % 1000000000u) };
	uint8_t bytes[8];
	struct nb_err err;
	int rc;

	for (int i = 0; i < 8; i++)
		bytes[i] = (uint8_t)(m->value >> (8 * i));
	if (m->type == NB_SIGMSG_ENTROPY)
		rc = nb_warm_add_entropy(bytes, sizeof(bytes), &err);
	else if ((rc = nb_warm_reseed(&err)) == 0 && clock_settime(CLOCK_REALTIME, &now) < 0)
		rc = nb_err_sys(&err, "cannot set the clock");
	if (rc < 0 && log_fd >= 0)
		dprintf(log_fd, "nestbox-init: %s\n", err.msg);
}

int nb_net_next_take(struct nb_net_next *next, const struct nb_sigmsg *m)
{
	switch (m->type) {
	case NB_SIGMSG_NET_MAC:
		next->mac = m->value;
		next->has_mac = true;
		return 0;
	case NB_SIGMSG_NET_ADDR:
		next->ipv4 = (uint32_t)m->value;
		next->prefix = (uint32_t)(m->value >> 32);
		return 0;
	case NB_SIGMSG_NET_GATEWAY:
		next->gateway = (uint32_t)m->value;
		return 0;
	case NB_SIGMSG_NET_DNS:
		if (next->ndns == NB_SPEC_MAX_DNS)
			return -1;
		next->dns[next->ndns++] = (uint32_t)m->value;
		return 0;
	default:
		return 1;
	}
}

void nb_net_next_spec(const struct nb_net_next *next, struct nb_spec *spec,
		      uint8_t mac[NB_SPEC_MAC_LEN], char text[NB_SPEC_MAX_DNS][16],
		      const char *dns[NB_SPEC_MAX_DNS])
{
	nb_sigmsg_mac_bytes(next->mac, mac);
	spec->net_mac = next->has_mac ? mac : NULL;
	spec->net_mac_len = next->has_mac ? NB_SPEC_MAC_LEN : 0;
	spec->net_ipv4 = next->ipv4;
	spec->net_prefix = next->ipv4 ? next->prefix : 0;
	spec->net_gateway = next->ipv4 ? next->gateway : 0;
	spec->net_ndns = 0;
	for (unsigned i = 0; next->ipv4 && i < next->ndns && i < NB_SPEC_MAX_DNS; i++) {
		uint32_t a = next->dns[i];

		snprintf(text[i], 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
			 a & 0xff);
		dns[spec->net_ndns++] = text[i];
	}
	spec->net_dns = spec->net_ndns ? dns : NULL;
}

/* A restore's eth0 (abi.h): collected, then applied on NET_APPLY. */
static void net_message(const struct nb_sigmsg *m, struct nb_signal_target *t, int log_fd)
{
	uint8_t mac[NB_SPEC_MAC_LEN];
	char text[NB_SPEC_MAX_DNS][16];
	const char *dns[NB_SPEC_MAX_DNS];
	struct nb_spec spec = { .rootfs = t->rootfs };
	struct nb_err err;
	int rc = nb_net_next_take(&t->net, m);

	if (rc < 0 && log_fd >= 0)
		dprintf(log_fd, "nestbox-init: more than %u nameservers: one dropped\n",
			NB_SPEC_MAX_DNS);
	if (rc <= 0)
		return;
	nb_net_next_spec(&t->net, &spec, mac, text, dns);
	if (!t->rootfs)
		spec.net_ndns = 0;
	if (nb_net_readdress(&spec, t->net_ipv4, t->net_prefix, &err) < 0) {
		if (log_fd >= 0)
			dprintf(log_fd, "nestbox-init: the restored VM's network: %s\n", err.msg);
	} else {
		t->net_ipv4 = spec.net_ipv4;
		t->net_prefix = spec.net_prefix;
	}
	t->net = (struct nb_net_next){ 0 };
}

static void apply(const struct nb_sigmsg *m, struct nb_signal_target *t, int log_fd)
{
	if (m->type == NB_SIGMSG_MEMORY)
		return set_memory(m, t, log_fd);
	if (m->type >= NB_SIGMSG_NET_MAC && m->type <= NB_SIGMSG_NET_APPLY)
		return net_message(m, t, log_fd);
	if (m->type == NB_SIGMSG_ENTROPY || m->type == NB_SIGMSG_CLOCK)
		return resume(m, log_fd);
	if (m->type == NB_SIGMSG_SIGNAL) {
		int forced = nb_signal_deliver(t->pid, m->signo, t->pid_ns_init);

		if (forced)
			t->forced = forced;
		return;
	}
	if (t->tty_master >= 0) {
		struct winsize ws = { .ws_row = m->rows, .ws_col = m->cols };

		ioctl(t->tty_master, TIOCSWINSZ, &ws);
	}
}

int nb_signal_port_wait_start(struct nb_signal_port *port, uint32_t *rows, uint32_t *cols)
{
	struct nb_sigmsg m;
	struct nb_err err;
	size_t room;

	while (port->fd >= 0) {
		struct pollfd p = { .fd = port->fd, .events = POLLIN };
		uint8_t *space = nb_sigmsg_reader_space(&port->reader, &room);
		ssize_t n = read(port->fd, space, room);
		int rc;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (n < 0) {
			poll(&p, 1, -1);
			continue;
		}
		nb_sigmsg_reader_add(&port->reader, (size_t)n);
		while ((rc = nb_sigmsg_reader_next(&port->reader, &m, &err)) != 0) {
			if (rc < 0 && port->log_fd >= 0)
				dprintf(port->log_fd, "nestbox-init: %s\n", err.msg);
			else if (rc > 0 && m.type == NB_SIGMSG_START)
				return 0;
			else if (rc > 0 && m.type == NB_SIGMSG_WINSIZE)
				*rows = m.rows, *cols = m.cols;
			else if (rc > 0 && m.type == NB_SIGMSG_SIGNAL && m.signo != SIGWINCH)
				return m.signo;
		}
	}
	return -1;
}

void nb_signal_port_read(struct nb_signal_port *port, struct nb_signal_target *t)
{
	struct nb_sigmsg m;
	struct nb_err err;
	size_t room;
	ssize_t n;

	if (port->fd < 0)
		return;
	do {
		uint8_t *space = nb_sigmsg_reader_space(&port->reader, &room);

		n = read(port->fd, space, room);
		if (n > 0)
			nb_sigmsg_reader_add(&port->reader, (size_t)n);
		for (int rc; n > 0 && (rc = nb_sigmsg_reader_next(&port->reader, &m, &err)) != 0;) {
			if (rc > 0)
				apply(&m, t, port->log_fd);
			else if (port->log_fd >= 0)
				dprintf(port->log_fd, "nestbox-init: %s\n", err.msg);
		}
	} while (n > 0 || (n < 0 && errno == EINTR));
	/* The host closed the port, or it failed: stop polling it. */
	if (n == 0 || errno != EAGAIN) {
		close(port->fd);
		port->fd = -1;
	}
}
