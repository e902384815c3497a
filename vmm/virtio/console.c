#include "vmm/virtio/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>

#include "nestbox/abi.h"

#define NPORTS 4u
#define SIGNAL_PORT 3u /* fed from sig_buf, not from a host fd */
#define CTRL_RX 2u     /* host -> guest control */
#define CTRL_TX 3u     /* guest -> host control */
#define CTRL_PENDING 16u
#define WRITE_CHUNK 4096u /* what a writable pipe surely takes at once */

static const char *const port_names[NPORTS] = { NB_PORT_STDIN, NB_PORT_STDOUT, NB_PORT_STDERR,
						NB_PORT_SIGNAL };

struct ctrl_msg {
	struct virtio_console_control hdr;
	bool named;
};

struct port {
	int in_fd, out_fd;     /* host side; -1 none */
	int in_then_fd;        /* read after in_fd's end (nb_console_opts), -1 none */
	bool in_then_pollable; /* probed at start: no fstat once sandboxed */
	bool in_pollable, out_pollable, out_regular;
	bool in_watched, out_watched;
	bool guest_open, in_eof, out_dead;
	bool tx_pending; /* chain below is half written */
	uint64_t tx_off;
	struct nb_virtq_chain tx;
};

struct nb_console {
	struct nb_virtio_dev vdev;
	struct nb_event_loop *loop;
	struct virtio_console_config config;
	struct port ports[NPORTS];
	struct ctrl_msg pending[CTRL_PENDING];
	unsigned npending;
	uint8_t sig_buf[NB_CONSOLE_SIGNAL_BUF]; /* bytes for the signal port */
	uint8_t held[2 * NB_SIGMSG_MAX];        /* nb_console_hold_signal_msg */
	unsigned held_len;
	unsigned sig_len;
	bool given_up;               /* the drain at exit stopped waiting for the reader */
	struct nb_virtq_chain chain; /* scratch */
};

static unsigned rx_queue(unsigned port)
{
	return port == 0 ? 0 : 2 + 2 * port;
}
static unsigned tx_queue(unsigned port)
{
	return port == 0 ? 1 : 3 + 2 * port;
}

/* ---- control queue ------------------------------------------------------ */

static void queue_ctrl(struct nb_console *con, uint32_t id, uint16_t event, uint16_t value)
{
	/* A guest that floods us with requests only loses replies. */
	if (con->npending == CTRL_PENDING)
		return;
	con->pending[con->npending++] = (struct ctrl_msg){
		.hdr = { .id = id, .event = event, .value = value },
		.named = event == VIRTIO_CONSOLE_PORT_NAME,
	};
}

static void flush_ctrl(struct nb_console *con)
{
	struct nb_virtio_dev *dev = &con->vdev;
	struct nb_virtq *q = &dev->queues[CTRL_RX];
	unsigned sent = 0;
	int rc = 0;

	while (sent < con->npending && (rc = nb_virtq_pop(q, &con->chain)) == 1) {
		const struct ctrl_msg *m = &con->pending[sent++];
		uint32_t n = (uint32_t)nb_virtq_chain_write(&con->chain, 0, &m->hdr,
							    sizeof(m->hdr));

		if (m->named && m->hdr.id < NPORTS)
			n += (uint32_t)nb_virtq_chain_write(&con->chain, n, port_names[m->hdr.id],
							    strlen(port_names[m->hdr.id]));
		nb_virtq_push(q, con->chain.head, n);
	}
	memmove(con->pending, con->pending + sent,
		(con->npending - sent) * sizeof(con->pending[0]));
	con->npending -= sent;
	if (rc < 0)
		nb_virtio_queue_broken(dev, q);
	if (sent)
		nb_virtio_signal_used(dev, q);
}

static bool host_connected(const struct port *p, unsigned id)
{
	if (id == SIGNAL_PORT)
		return true;
	return id == 0 ? p->in_fd >= 0 && !p->in_eof : p->out_fd >= 0;
}

static void handle_ctrl(struct nb_console *con, const struct virtio_console_control *c)
{
	struct port *p = c->id < NPORTS ? &con->ports[c->id] : NULL;

	switch (c->event) {
	case VIRTIO_CONSOLE_DEVICE_READY:
		for (unsigned i = 0; c->value && i < NPORTS; i++)
			queue_ctrl(con, i, VIRTIO_CONSOLE_PORT_ADD, 0);
		break;
	case VIRTIO_CONSOLE_PORT_READY:
		if (!p || !c->value)
			break;
		queue_ctrl(con, c->id, VIRTIO_CONSOLE_PORT_NAME, 1);
		if (host_connected(p, c->id))
			queue_ctrl(con, c->id, VIRTIO_CONSOLE_PORT_OPEN, 1);
		break;
	case VIRTIO_CONSOLE_PORT_OPEN:
		if (p)
			p->guest_open = c->value;
		/* A closed port drops what it is sent: so do we. */
		if (c->id == SIGNAL_PORT && !c->value)
			con->sig_len = 0;
		if (c->id == SIGNAL_PORT && c->value && con->held_len &&
		    con->held_len <= sizeof(con->sig_buf) - con->sig_len) {
			memcpy(con->sig_buf + con->sig_len, con->held, con->held_len);
			con->sig_len += con->held_len;
			con->held_len = 0;
		}
		break;
	default:
		break;
	}
}

static void serve_ctrl_tx(struct nb_console *con)
{
	struct nb_virtio_dev *dev = &con->vdev;
	struct nb_virtq *q = &dev->queues[CTRL_TX];
	struct virtio_console_control c;
	int rc;

	while ((rc = nb_virtq_pop(q, &con->chain)) == 1) {
		if (nb_virtq_chain_read(&con->chain, 0, &c, sizeof(c)) == sizeof(c))
			handle_ctrl(con, &c);
		nb_virtq_push(q, con->chain.head, 0);
	}
	if (rc < 0)
		nb_virtio_queue_broken(dev, q);
	nb_virtio_signal_used(dev, q);
}

/* ---- guest -> host -------------------------------------------------------- */

/* Who writes the guest's output, and how it waits for a slow reader. */
enum tx_mode {
	TX_EVENT,     /* the event thread: stop taking buffers, resume on EPOLLOUT */
	TX_DRAIN,     /* the main thread at exit: wait (a stop signal gives up) */
	TX_DRAIN_NOW, /* the main thread after a host stop: only what fits now */
};

static void on_writable(void *opaque, int fd, uint32_t events);

static bool fd_writable(const struct port *p)
{
	struct pollfd pfd = { .fd = p->out_fd, .events = POLLOUT };

	if (p->out_regular || !p->out_pollable)
		return true;
	return ppoll(&pfd, 1, &(struct timespec){ 0 }, NULL) == 1 &&
	       (pfd.revents & (POLLOUT | POLLERR | POLLHUP));
}

/* May a chunk be written to the port's fd now (without blocking for
 * long)? False: not now, and mode's way of waiting is set up. */
static bool ready_to_write(struct nb_console *con, struct port *p, enum tx_mode mode)
{
	struct nb_err err;

	if (con->given_up)
		return false;
	if (fd_writable(p))
		return true;
	switch (mode) {
	case TX_EVENT:
		if (!p->out_watched &&
		    nb_event_add(con->loop, p->out_fd, EPOLLOUT, on_writable, con, &err) == 0)
			p->out_watched = true;
		return !p->out_watched; /* epoll cannot watch it (table full): block */
	case TX_DRAIN:
		con->given_up = !nb_event_wait_writable(con->loop, p->out_fd);
		return !con->given_up;
	default:
		con->given_up = true;
		return false;
	}
}

/* The host fd failed: this port's output is dropped from now on, and the
 * VM stops with a status and message that say so. */
static void output_failed(struct nb_console *con, unsigned id, int errnum)
{
	con->ports[id].out_dead = true;
	nb_stop_write_failed(con->loop->stop, id == 2 ? "stderr" : "stdout", errnum);
}

/* Write the pending chain from tx_off on, at most WRITE_CHUNK at a time to
 * a pipe or tty (what a writable one surely takes, so a blocking fd never
 * blocks long). Partial writes resume where they ended; EINTR retries;
 * EAGAIN (someone made the fd non-blocking) waits as a full fd does.
 * Returns false when the chain is not done (see ready_to_write). */
static bool write_chain(struct nb_console *con, unsigned id, enum tx_mode mode)
{
	struct port *p = &con->ports[id];
	struct iovec iov[NB_VIRTQ_MAX_SIZE];

	while (p->tx_off < p->tx.read_len && !p->out_dead) {
		uint64_t left = p->tx.read_len - p->tx_off;
		uint64_t chunk = p->out_regular || left < WRITE_CHUNK ? left : WRITE_CHUNK;

		if (!ready_to_write(con, p, mode))
			return false;
		unsigned n = nb_virtq_chain_iov(&p->tx, false, p->tx_off, chunk, iov,
						NB_VIRTQ_MAX_SIZE);
		if (n == 0) /* nothing the host can read: the guest's loss */
			break;
		ssize_t done = writev(p->out_fd, iov, (int)n);
		if (done > 0)
			p->tx_off += (uint64_t)done;
		else if (done < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		else
			output_failed(con, id, done < 0 ? errno : EIO);
	}
	return true;
}

static void serve_tx(struct nb_console *con, unsigned id, enum tx_mode mode)
{
	struct nb_virtio_dev *dev = &con->vdev;
	struct nb_virtq *q = &dev->queues[tx_queue(id)];
	struct port *p = &con->ports[id];
	bool pushed = false;
	int rc = 0;

	for (;;) {
		if (!p->tx_pending) {
			rc = nb_virtq_pop(q, &p->tx);
			if (rc != 1)
				break;
			p->tx_pending = true;
			p->tx_off = 0;
		}
		if (p->out_fd < 0)
			p->out_dead = true; /* no host fd: the output goes nowhere, by design */
		if (!write_chain(con, id, mode))
			break;
		nb_virtq_push(q, p->tx.head, 0);
		p->tx_pending = false;
		pushed = true;
	}
	if (rc < 0)
		nb_virtio_queue_broken(dev, q);
	if (pushed)
		nb_virtio_signal_used(dev, q);
}

static void on_writable(void *opaque, int fd, uint32_t events)
{
	struct nb_console *con = opaque;
	struct nb_virtio_dev *dev = &con->vdev;

	(void)events;
	pthread_mutex_lock(&dev->lock);
	for (unsigned i = 1; i < NPORTS; i++) {
		struct port *p = &con->ports[i];

		if (p->out_fd != fd || !p->out_watched)
			continue;
		nb_event_remove(con->loop, fd);
		p->out_watched = false;
		if (nb_virtio_live(dev))
			serve_tx(con, i, TX_EVENT);
	}
	pthread_mutex_unlock(&dev->lock);
}

/* ---- host -> guest -------------------------------------------------------- */

static void on_readable(void *opaque, int fd, uint32_t events);

static void watch_input(struct nb_console *con, struct port *p, bool on)
{
	struct nb_err err;

	if (!p->in_pollable || p->in_watched == on)
		return;
	if (on && nb_event_add(con->loop, p->in_fd, EPOLLIN, on_readable, con, &err) < 0)
		return;
	if (!on)
		nb_event_remove(con->loop, p->in_fd);
	p->in_watched = on;
}

static void input_eof(struct nb_console *con, struct port *p)
{
	p->in_eof = true;
	watch_input(con, p, false);
	queue_ctrl(con, 0, VIRTIO_CONSOLE_PORT_OPEN, 0);
	flush_ctrl(con);
}

static void input_next(struct nb_console *con, struct port *p)
{
	watch_input(con, p, false);
	p->in_fd = p->in_then_fd;
	p->in_pollable = p->in_then_pollable;
	p->in_then_fd = -1;
}

/* Move host input into the guest's buffers while both have some. `ready`:
 * epoll said the fd is readable (a pollable fd is read once per event). */
static void serve_rx(struct nb_console *con, bool ready)
{
	struct nb_virtio_dev *dev = &con->vdev;
	struct nb_virtq *q = &dev->queues[rx_queue(0)];
	struct port *p = &con->ports[0];
	struct iovec iov[NB_VIRTQ_MAX_SIZE];
	bool pushed = false;

	while (p->in_fd >= 0 && !p->in_eof && p->guest_open) {
		if (p->in_pollable && !ready) {
			watch_input(con, p, nb_virtq_has_avail(q));
			break;
		}
		int rc = nb_virtq_pop(q, &con->chain);
		if (rc < 0)
			nb_virtio_queue_broken(dev, q);
		if (rc != 1) {
			watch_input(con, p, false); /* resume when the guest adds buffers */
			break;
		}
		unsigned n = nb_virtq_chain_iov(&con->chain, true, 0, con->chain.write_len, iov,
						NB_VIRTQ_MAX_SIZE);
		ssize_t got = 0;
		/* A buffer with no writable bytes goes back empty: reading
		 * into nothing would look like EOF. */
		errno = 0;
		while (n && (got = readv(p->in_fd, iov, (int)n)) < 0 && errno == EINTR)
			;
		/* The prefix ended: the buffer goes back unused (an empty one
		 * would read as EOF) and the next fd takes over. */
		if (n && got == 0 && p->in_then_fd >= 0) {
			nb_virtq_unpop(q);
			input_next(con, p);
			ready = false;
			continue;
		}
		nb_virtq_push(q, con->chain.head, got > 0 ? (uint32_t)got : 0);
		pushed = true;
		if (n && got <= 0 && errno != EAGAIN) {
			input_eof(con, p);
			break;
		}
		ready = false;
	}
	if (pushed)
		nb_virtio_signal_used(dev, q);
}

static void on_readable(void *opaque, int fd, uint32_t events)
{
	struct nb_console *con = opaque;
	struct nb_virtio_dev *dev = &con->vdev;

	(void)fd;
	(void)events;
	pthread_mutex_lock(&dev->lock);
	if (nb_virtio_live(dev))
		serve_rx(con, true);
	pthread_mutex_unlock(&dev->lock);
}

/* ---- host -> guest: the signal port ------------------------------------------ */

/* Move queued signal-port bytes into the guest's buffers. The guest driver
 * discards data for a port it has not opened, so wait for that. */
static void serve_signal_rx(struct nb_console *con)
{
	struct nb_virtio_dev *dev = &con->vdev;
	struct nb_virtq *q = &dev->queues[rx_queue(SIGNAL_PORT)];
	bool pushed = false;
	int rc = 1;

	while (con->sig_len && con->ports[SIGNAL_PORT].guest_open &&
	       (rc = nb_virtq_pop(q, &con->chain)) == 1) {
		uint64_t n = con->chain.write_len < con->sig_len ? con->chain.write_len
								 : con->sig_len;

		n = nb_virtq_chain_write(&con->chain, 0, con->sig_buf, n);
		nb_virtq_push(q, con->chain.head, (uint32_t)n);
		pushed = true;
		memmove(con->sig_buf, con->sig_buf + n, con->sig_len - n);
		con->sig_len -= (unsigned)n;
		if (n == 0) /* a buffer with no room: the guest is misbehaving */
			break;
	}
	if (rc < 0)
		nb_virtio_queue_broken(dev, q);
	if (pushed)
		nb_virtio_signal_used(dev, q);
}

bool nb_console_send_signal_msg(struct nb_console *con, const void *msg, size_t len)
{
	struct nb_virtio_dev *dev = &con->vdev;
	bool sent = false;

	pthread_mutex_lock(&dev->lock);
	if (nb_virtio_live(dev) && con->ports[SIGNAL_PORT].guest_open &&
	    len <= sizeof(con->sig_buf) - con->sig_len) {
		memcpy(con->sig_buf + con->sig_len, msg, len);
		con->sig_len += (unsigned)len;
		serve_signal_rx(con);
		sent = true;
	}
	pthread_mutex_unlock(&dev->lock);
	return sent;
}

bool nb_console_hold_signal_msg(struct nb_console *con, const void *msg, size_t len)
{
	bool held;

	if (nb_console_send_signal_msg(con, msg, len))
		return true;
	pthread_mutex_lock(&con->vdev.lock);
	held = len <= sizeof(con->held) - con->held_len;
	if (held) {
		memcpy(con->held + con->held_len, msg, len);
		con->held_len += (unsigned)len;
	}
	pthread_mutex_unlock(&con->vdev.lock);
	return held;
}

/* ---- device --------------------------------------------------------------- */

static void console_notify(struct nb_virtio_dev *dev)
{
	struct nb_console *con = dev->priv;

	serve_ctrl_tx(con);
	flush_ctrl(con);
	for (unsigned i = 1; i < NPORTS; i++)
		if (!con->ports[i].out_watched)
			serve_tx(con, i, TX_EVENT); /* SIGNAL_PORT: out_fd -1, dropped */
	serve_rx(con, false);
	serve_signal_rx(con);
	/* Ports 0 and 3 carry no guest output: hand their buffers straight back. */
	serve_tx(con, 0, TX_EVENT);
}

static void console_reset(struct nb_virtio_dev *dev)
{
	struct nb_console *con = dev->priv;

	con->npending = 0;
	con->sig_len = 0;
	for (unsigned i = 0; i < NPORTS; i++) {
		struct port *p = &con->ports[i];

		watch_input(con, p, false);
		p->guest_open = false;
		p->tx_pending = false;
	}
}

/* ---- snapshot ------------------------------------------------------------- */

struct console_state {
	uint8_t guest_open[NPORTS], in_eof[NPORTS];
	uint32_t npending, sig_len;
	struct ctrl_msg pending[CTRL_PENDING];
	uint8_t sig_buf[NB_CONSOLE_SIGNAL_BUF];
};

static int console_save(struct nb_virtio_dev *dev, void *buf, size_t size, struct nb_err *err)
{
	struct nb_console *con = dev->priv;
	struct console_state st = { .npending = con->npending, .sig_len = con->sig_len };

	for (unsigned i = 0; i < NPORTS; i++) {
		if (con->ports[i].tx_pending)
			return nb_err_set(err, 0, "port %u still holds guest output", i);
		st.guest_open[i] = con->ports[i].guest_open;
		st.in_eof[i] = con->ports[i].in_eof;
	}
	memcpy(st.pending, con->pending, sizeof(st.pending));
	memcpy(st.sig_buf, con->sig_buf, sizeof(st.sig_buf));
	if (size < sizeof(st))
		return nb_err_set(err, 0, "state too large");
	memcpy(buf, &st, sizeof(st));
	return (int)sizeof(st);
}

static int console_load(struct nb_virtio_dev *dev, const void *data, size_t len, struct nb_err *err)
{
	struct nb_console *con = dev->priv;
	struct console_state st;

	if (len != sizeof(st))
		return nb_err_set(err, 0, "snapshot: virtio-console state is %zu bytes", len);
	memcpy(&st, data, sizeof(st));
	if (st.npending > CTRL_PENDING || st.sig_len > sizeof(st.sig_buf))
		return nb_err_set(err, 0, "snapshot: virtio-console state is malformed");
	for (unsigned i = 0; i < NPORTS; i++) {
		if (st.guest_open[i] > 1 || st.in_eof[i] > 1)
			return nb_err_set(err, 0, "snapshot: virtio-console port %u is malformed",
					  i);
		con->ports[i].guest_open = st.guest_open[i];
		con->ports[i].in_eof = st.in_eof[i];
	}
	con->npending = st.npending;
	memcpy(con->pending, st.pending, sizeof(st.pending));
	for (unsigned i = 0; i < con->npending; i++)
		con->pending[i].named = con->pending[i].hdr.event == VIRTIO_CONSOLE_PORT_NAME;
	con->sig_len = st.sig_len;
	memcpy(con->sig_buf, st.sig_buf, sizeof(st.sig_buf));
	return 0;
}

static const struct nb_virtio_ops console_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.features = 1ull << VIRTIO_CONSOLE_F_MULTIPORT,
	.nqueues = 2 + 2 * NPORTS,
	.queue_max = 128,
	.config_size = sizeof(struct virtio_console_config),
	.notify = console_notify,
	.reset = console_reset,
	.save = console_save,
	.load = console_load,
};

static void drain(struct nb_console *con, enum tx_mode mode)
{
	struct nb_virtio_dev *dev = &con->vdev;

	pthread_mutex_lock(&dev->lock);
	if (nb_virtio_live(dev))
		for (unsigned i = 1; i < NPORTS; i++)
			serve_tx(con, i, mode);
	pthread_mutex_unlock(&dev->lock);
}

void nb_console_drain(struct nb_console *con)
{
	drain(con, TX_DRAIN);
}

void nb_console_drain_now(struct nb_console *con)
{
	drain(con, TX_DRAIN_NOW);
}

static void probe_fd(int fd, bool *pollable, bool *regular)
{
	struct stat st;

	*regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	/* epoll refuses regular files and /dev/null-like devices; those
	 * never block, so they are read or written directly. */
	*pollable = !*regular && !(fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
				   st.st_rdev == (dev_t)makedev(1, 3));
}

struct nb_console *nb_console_new(struct nb_event_loop *loop, const struct nb_console_opts *opts,
				  struct nb_err *err)
{
	struct nb_console *con = calloc(1, sizeof(*con));
	bool regular;

	if (!con) {
		nb_err_sys(err, "virtio-console");
		return NULL;
	}
	nb_virtio_dev_init(&con->vdev, &console_ops, con, &con->config);
	con->loop = loop;
	con->config.max_nr_ports = NPORTS;
	con->ports[0] = (struct port){ .in_fd = opts->stdin_fd,
				       .out_fd = -1,
				       .in_then_fd = opts->has_stdin_then ? opts->stdin_then_fd
									  : -1 };
	con->ports[1] = (struct port){ .in_fd = -1, .out_fd = opts->stdout_fd, .in_then_fd = -1 };
	con->ports[2] = (struct port){ .in_fd = -1, .out_fd = opts->stderr_fd, .in_then_fd = -1 };
	con->ports[SIGNAL_PORT] = (struct port){ .in_fd = -1, .out_fd = -1, .in_then_fd = -1 };
	if (opts->stdin_fd >= 0)
		probe_fd(opts->stdin_fd, &con->ports[0].in_pollable, &regular);
	if (con->ports[0].in_then_fd >= 0)
		probe_fd(con->ports[0].in_then_fd, &con->ports[0].in_then_pollable, &regular);
	for (unsigned i = 1; i < NPORTS; i++)
		if (con->ports[i].out_fd >= 0)
			probe_fd(con->ports[i].out_fd, &con->ports[i].out_pollable,
				 &con->ports[i].out_regular);
	/* A reader that went away must not kill the VMM: writes fail with
	 * EPIPE instead and the VM is stopped with a message. */
	signal(SIGPIPE, SIG_IGN);
	return con;
}

struct nb_virtio_dev *nb_console_dev(struct nb_console *con)
{
	return &con->vdev;
}

int nb_virtio_console_add(struct nb_virtio_transport *t, struct nb_event_loop *loop,
			  const struct nb_console_opts *opts, struct nb_console **out,
			  struct nb_err *err)
{
	struct nb_console *con = nb_console_new(loop, opts, err);

	if (!con)
		return -1;
	if (nb_virtio_register(t, &con->vdev, loop, err) < 0) {
		free(con);
		return -1;
	}
	*out = con;
	return 0;
}
