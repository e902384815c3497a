/* virtio-vsock bridged to host Unix sockets; see vsock.h for the model.
 *
 * Every header field the guest sends is hostile: len against the chain and
 * NB_VSOCK_MAX_PKT, src_cid against the configured CID, dst_cid against the
 * host's, type, op, and buf_alloc/fwd_cnt against what we actually sent.
 * Replies the guest has no rx buffer for wait as per-connection flags (at
 * most a few per connection) or in a bounded reset ring, never in an
 * unbounded queue. */
#include "vmm/virtio/vsock.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>

#define RXQ 0u
#define TXQ 1u
#define EVQ 2u
#define LISTEN_TAG UINT32_MAX
#define FIRST_LOCAL_PORT (1u << 30)
#define SHUT_BOTH (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)
#define MAX_ACCEPT 16u

enum conn_state {
	CONN_FREE,
	CONN_HOST_LINE,    /* host client connected, reading "CONNECT <port>\n" */
	CONN_HOST_REQUEST, /* REQUEST sent (or pending) to the guest */
	CONN_ESTABLISHED,
	CONN_DRAINING, /* guest shut both ways: write out the buffer, then RST */
};

/* Packets a connection still owes the guest, sent in this order. */
enum {
	PEND_REQUEST = 1u << 0,
	PEND_RESPONSE = 1u << 1,
	PEND_CREDIT = 1u << 2,
	PEND_CREDIT_REQ = 1u << 3,
	PEND_SHUTDOWN = 1u << 4,
};

struct conn {
	enum conn_state state;
	int fd; /* host socket; -1 once the host side is gone */
	uint32_t local_port, peer_port;
	uint32_t pending;        /* PEND_* */
	uint32_t shutdown_flags; /* what PEND_SHUTDOWN tells the guest */
	uint32_t peer_shutdown;  /* what the guest told us */
	bool rx_ready, hup, host_eof, wr_shut, stalled;
	uint32_t interest; /* epoll events registered; 0: not in the set */
	/* the guest's receive window (host -> guest) */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* ours (guest -> host) */
	uint32_t rx_cnt, fwd_cnt, fwd_cnt_sent;
	uint8_t *buf;              /* NB_VSOCK_CONN_BUF bytes, while needed */
	uint32_t buf_off, buf_len; /* unwritten bytes are [buf_off, buf_len) */
	char line[NB_VSOCK_LINE_MAX];
	unsigned line_len;
};

struct rst {
	uint32_t local_port, peer_port;
};

struct nb_vsock {
	struct nb_virtio_dev vdev;
	struct virtio_vsock_config config;
	uint64_t guest_cid;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd, epoll_fd;
	struct nb_vsock_host host; /* connect and unlink, direct or brokered */
	bool rx_starved;
	bool reset_pending; /* restored: the guest is told its connections are gone */
	uint32_t next_port;
	unsigned rr; /* where the next data round starts */
	unsigned nconns;
	struct conn conns[NB_VSOCK_MAX_CONNS];
	unsigned nrst;
	struct rst rsts[NB_VSOCK_MAX_RST];
	struct nb_virtq_chain chain; /* scratch */
};

/* ---- connections --------------------------------------------------------- */

static uint32_t buffered(const struct conn *c)
{
	return c->buf_len - c->buf_off;
}

/* What the guest may still receive: its buf_alloc minus what is in flight. */
static uint32_t peer_credit(const struct conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static uint32_t want_events(const struct nb_vsock *vs, const struct conn *c)
{
	uint32_t ev = 0;

	if (c->fd < 0)
		return 0;
	if (c->state == CONN_HOST_LINE)
		return EPOLLIN;
	if (c->state == CONN_ESTABLISHED && !c->host_eof &&
	    !(c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_RCV) && !vs->rx_starved && peer_credit(c))
		ev |= EPOLLIN;
	if (buffered(c) && (c->state == CONN_ESTABLISHED || c->state == CONN_DRAINING))
		ev |= EPOLLOUT;
	return ev;
}

/* Registered only while something is wanted: a hung-up socket reports
 * EPOLLHUP whatever the mask, and would spin a level-triggered loop. */
static void update_interest(struct nb_vsock *vs, struct conn *c)
{
	uint32_t want = want_events(vs, c);
	struct epoll_event ev = { .events = want, .data.u32 = (uint32_t)(c - vs->conns) };
	int op;

	if (want == c->interest)
		return;
	op = !want ? EPOLL_CTL_DEL : c->interest ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(vs->epoll_fd, op, c->fd, &ev) < 0 && op != EPOLL_CTL_DEL) {
		c->interest = 0; /* cannot watch it: it will be reset below */
		return;
	}
	c->interest = want;
}

static void update_all(struct nb_vsock *vs)
{
	for (unsigned i = 0; i < NB_VSOCK_MAX_CONNS; i++)
		if (vs->conns[i].state != CONN_FREE)
			update_interest(vs, &vs->conns[i]);
}

static void close_fd(struct nb_vsock *vs, struct conn *c)
{
	if (c->fd < 0)
		return;
	if (c->interest)
		epoll_ctl(vs->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->interest = 0;
	c->fwd_cnt += buffered(c); /* dropped, but the guest's window stays whole */
	free(c->buf);
	c->buf = NULL;
	c->buf_off = c->buf_len = 0;
}

static void free_conn(struct nb_vsock *vs, struct conn *c)
{
	close_fd(vs, c);
	*c = (struct conn){ .state = CONN_FREE, .fd = -1 };
	vs->nconns--;
}

static struct conn *alloc_conn(struct nb_vsock *vs, int fd)
{
	for (unsigned i = 0; i < NB_VSOCK_MAX_CONNS; i++) {
		struct conn *c = &vs->conns[i];

		if (c->state != CONN_FREE)
			continue;
		*c = (struct conn){ .fd = fd };
		vs->nconns++;
		return c;
	}
	return NULL;
}

static struct conn *find_conn(struct nb_vsock *vs, uint32_t local_port, uint32_t peer_port)
{
	for (unsigned i = 0; i < NB_VSOCK_MAX_CONNS; i++) {
		struct conn *c = &vs->conns[i];

		if (c->state > CONN_HOST_LINE && c->local_port == local_port &&
		    c->peer_port == peer_port)
			return c;
	}
	return NULL;
}

/* A reset for the guest; dropped when NB_VSOCK_MAX_RST are already waiting
 * (the guest then only sees its connection time out). */
static void queue_rst(struct nb_vsock *vs, uint32_t local_port, uint32_t peer_port)
{
	if (vs->nrst < NB_VSOCK_MAX_RST)
		vs->rsts[vs->nrst++] = (struct rst){ local_port, peer_port };
}

/* End a connection now: RST to the guest if it knows of it. */
static void reset_conn(struct nb_vsock *vs, struct conn *c)
{
	bool guest_knows = c->state > CONN_HOST_LINE && !(c->pending & PEND_REQUEST);

	if (guest_knows)
		queue_rst(vs, c->local_port, c->peer_port);
	free_conn(vs, c);
}

/* ---- host -> guest packets -------------------------------------------------- */

static void fill_hdr(const struct nb_vsock *vs, struct virtio_vsock_hdr *h, uint32_t local_port,
		     uint32_t peer_port, uint16_t op)
{
	*h = (struct virtio_vsock_hdr){
		.src_cid = htole64(NB_VSOCK_HOST_CID),
		.dst_cid = htole64(vs->guest_cid),
		.src_port = htole32(local_port),
		.dst_port = htole32(peer_port),
		.type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
		.op = htole16(op),
	};
}

/* A header about connection c, carrying our credit (virtio 1.2, 5.10.6.3). */
static void conn_hdr(const struct nb_vsock *vs, struct conn *c, struct virtio_vsock_hdr *h,
		     uint16_t op)
{
	fill_hdr(vs, h, c->local_port, c->peer_port, op);
	h->buf_alloc = htole32(NB_VSOCK_CONN_BUF);
	h->fwd_cnt = htole32(c->fwd_cnt);
	c->fwd_cnt_sent = c->fwd_cnt;
}

static uint32_t put_hdr(struct nb_vsock *vs, const struct virtio_vsock_hdr *h)
{
	return (uint32_t)nb_virtq_chain_write(&vs->chain, 0, h, sizeof(*h));
}

/* One control packet of c's pending set into the chain. */
static uint32_t send_pending(struct nb_vsock *vs, struct conn *c)
{
	static const uint16_t ops[] = { VIRTIO_VSOCK_OP_REQUEST, VIRTIO_VSOCK_OP_RESPONSE,
					VIRTIO_VSOCK_OP_CREDIT_UPDATE,
					VIRTIO_VSOCK_OP_CREDIT_REQUEST, VIRTIO_VSOCK_OP_SHUTDOWN };
	struct virtio_vsock_hdr h;
	unsigned bit = (unsigned)__builtin_ctz(c->pending);

	c->pending &= ~(1u << bit);
	conn_hdr(vs, c, &h, ops[bit]);
	if (ops[bit] == VIRTIO_VSOCK_OP_SHUTDOWN)
		h.flags = htole32(c->shutdown_flags);
	return put_hdr(vs, &h);
}

/* The host socket ended: tell the guest (SEND: no more data from us; a
 * full hang-up also RCV, and the socket is closed). */
static void host_eof(struct nb_vsock *vs, struct conn *c)
{
	c->host_eof = true;
	c->rx_ready = false;
	c->shutdown_flags |= VIRTIO_VSOCK_SHUTDOWN_SEND;
	if (c->hup) {
		c->shutdown_flags |= VIRTIO_VSOCK_SHUTDOWN_RCV;
		close_fd(vs, c);
	}
	c->pending |= PEND_SHUTDOWN;
}

/* Read host bytes straight into the guest's buffer, at most its credit. */
static uint32_t send_data(struct nb_vsock *vs, struct conn *c)
{
	struct iovec iov[NB_VIRTQ_MAX_SIZE];
	uint64_t room = vs->chain.write_len - NB_VSOCK_HDR_SIZE;
	uint32_t credit = peer_credit(c);
	struct virtio_vsock_hdr h;
	ssize_t got;

	if (room > NB_VSOCK_MAX_PKT)
		room = NB_VSOCK_MAX_PKT;
	if (room > credit)
		room = credit;
	unsigned n = room ? nb_virtq_chain_iov(&vs->chain, true, NB_VSOCK_HDR_SIZE, room, iov,
					       NB_VIRTQ_MAX_SIZE)
			  : 0;

	if (!n) { /* a buffer with no room for data: it carries our credit */
		conn_hdr(vs, c, &h, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
		return put_hdr(vs, &h);
	}
	do
		got = readv(c->fd, iov, (int)n);
	while (got < 0 && errno == EINTR);
	if (got > 0) {
		conn_hdr(vs, c, &h, VIRTIO_VSOCK_OP_RW);
		h.len = htole32((uint32_t)got);
		c->tx_cnt += (uint32_t)got;
		if ((uint64_t)got < room)
			c->rx_ready = false; /* likely drained; epoll says if not */
		if (!peer_credit(c) && !c->stalled) {
			c->stalled = true; /* ask once per stall */
			c->pending |= PEND_CREDIT_REQ;
		}
		return put_hdr(vs, &h) + (uint32_t)got;
	}
	if (got == 0 || errno != EAGAIN) {
		host_eof(vs, c);
		return send_pending(vs, c);
	}
	/* Nothing there after all: the buffer still carries a valid packet. */
	c->rx_ready = false;
	conn_hdr(vs, c, &h, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	return put_hdr(vs, &h);
}

static bool can_send_data(const struct conn *c)
{
	return c->state == CONN_ESTABLISHED && c->rx_ready && c->fd >= 0 && !c->host_eof &&
	       !(c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_RCV) && peer_credit(c);
}

/* The connection that gets the next rx buffer, control before data. */
static struct conn *next_sender(struct nb_vsock *vs, bool *data)
{
	for (unsigned i = 0; i < NB_VSOCK_MAX_CONNS; i++)
		if (vs->conns[i].state > CONN_HOST_LINE && vs->conns[i].pending) {
			*data = false;
			return &vs->conns[i];
		}
	for (unsigned k = 0; k < NB_VSOCK_MAX_CONNS; k++) {
		unsigned i = (vs->rr + k) % NB_VSOCK_MAX_CONNS;

		if (can_send_data(&vs->conns[i])) {
			vs->rr = i + 1;
			*data = true;
			return &vs->conns[i];
		}
	}
	return NULL;
}

static bool rx_has_work(struct nb_vsock *vs)
{
	bool data;

	return vs->nrst || next_sender(vs, &data);
}

/* Fill guest rx buffers while there is something to say. */
static void rx_pump(struct nb_vsock *vs)
{
	struct nb_virtio_dev *dev = &vs->vdev;
	struct nb_virtq *q = &dev->queues[RXQ];
	bool pushed = false, retried = false, data;
	int rc = 0;

again:
	while (rx_has_work(vs) && (rc = nb_virtq_pop(q, &vs->chain)) == 1) {
		uint32_t written = 0;

		if (vs->chain.write_len >= NB_VSOCK_HDR_SIZE) { /* else: useless, drop */
			if (vs->nrst) {
				struct virtio_vsock_hdr h;
				struct rst r = vs->rsts[--vs->nrst];

				fill_hdr(vs, &h, r.local_port, r.peer_port, VIRTIO_VSOCK_OP_RST);
				written = put_hdr(vs, &h);
			} else {
				struct conn *c = next_sender(vs, &data);

				written = data ? send_data(vs, c) : send_pending(vs, c);
				update_interest(vs, c);
			}
		}
		nb_virtq_push(q, vs->chain.head, written);
		pushed = true;
	}
	if (rc < 0) {
		nb_virtio_queue_broken(dev, q);
	} else if (rc == 0 && rx_has_work(vs) && !vs->rx_starved) {
		/* No buffers: stop reading sockets until the guest adds some
		 * (and, having asked for a notification, look once more). */
		nb_virtq_arm_notify(q);
		vs->rx_starved = true;
		update_all(vs);
		if (nb_virtq_has_avail(q) && !retried) {
			retried = true;
			vs->rx_starved = false;
			update_all(vs);
			goto again;
		}
	}
	if (pushed)
		nb_virtio_signal_used(dev, q);
}

/* ---- guest -> host --------------------------------------------------------- */

/* Our fwd_cnt moved: tell the guest once a quarter of its window is free
 * again (packets we send anyway carry fwd_cnt too). */
static void maybe_credit_update(struct conn *c)
{
	if (c->fwd_cnt - c->fwd_cnt_sent >= NB_VSOCK_CONN_BUF / 4)
		c->pending |= PEND_CREDIT;
}

static void after_drain(struct nb_vsock *vs, struct conn *c)
{
	if (buffered(c))
		return;
	if (c->state == CONN_DRAINING) {
		reset_conn(vs, c);
		return;
	}
	if ((c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND) && !c->wr_shut && c->fd >= 0) {
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = true;
	}
}

/* Write buffered guest bytes to the socket. Returns -1 when the socket
 * failed (the caller resets). */
static int flush_buf(struct conn *c)
{
	while (buffered(c)) {
		ssize_t n = write(c->fd, c->buf + c->buf_off, buffered(c));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return -1;
		c->buf_off += (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	if (!buffered(c))
		c->buf_off = c->buf_len = 0;
	maybe_credit_update(c);
	return 0;
}

static void on_writable(struct nb_vsock *vs, struct conn *c)
{
	if (flush_buf(c) < 0) {
		reset_conn(vs, c);
		return;
	}
	after_drain(vs, c);
	if (c->state != CONN_FREE)
		update_interest(vs, c);
}

/* Keep what the socket did not take; room is guaranteed by the credit
 * check. */
static int buffer_rest(struct conn *c, const struct nb_virtq_chain *ch, uint64_t off, uint32_t len)
{
	if (!c->buf && !(c->buf = malloc(NB_VSOCK_CONN_BUF)))
		return -1;
	if (c->buf_off && c->buf_len + len > NB_VSOCK_CONN_BUF) {
		memmove(c->buf, c->buf + c->buf_off, buffered(c));
		c->buf_len -= c->buf_off;
		c->buf_off = 0;
	}
	if (nb_virtq_chain_read(ch, off, c->buf + c->buf_len, len) != len)
		return -1;
	c->buf_len += len;
	return 0;
}

static int guest_rw(struct nb_vsock *vs, struct conn *c, const struct nb_virtq_chain *ch,
		    uint32_t len)
{
	struct iovec iov[NB_VIRTQ_MAX_SIZE];
	uint32_t done = 0;

	/* Beyond the credit we gave: a guest that ignores flow control. */
	if (len > NB_VSOCK_CONN_BUF - (c->rx_cnt - c->fwd_cnt) ||
	    (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND))
		return -1;
	c->rx_cnt += len;
	if (c->fd < 0 || c->state != CONN_ESTABLISHED) { /* host gone: drop, keep credit flowing */
		c->fwd_cnt += len;
		maybe_credit_update(c);
		return 0;
	}
	if (!buffered(c) && len) {
		unsigned n = nb_virtq_chain_iov(ch, false, NB_VSOCK_HDR_SIZE, len, iov,
						NB_VIRTQ_MAX_SIZE);
		ssize_t w;

		do
			w = writev(c->fd, iov, (int)n);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN)
			return -1;
		done = w > 0 ? (uint32_t)w : 0;
		c->fwd_cnt += done;
	}
	if (done < len && buffer_rest(c, ch, NB_VSOCK_HDR_SIZE + done, len - done) < 0)
		return -1;
	maybe_credit_update(c);
	update_interest(vs, c);
	return 0;
}

/* The guest's window. fwd_cnt may only move forward, and never past what
 * we sent it. */
static int take_credit(struct conn *c, const struct virtio_vsock_hdr *h)
{
	uint32_t fwd = le32toh(h->fwd_cnt);

	if (fwd - c->peer_fwd_cnt > c->tx_cnt - c->peer_fwd_cnt)
		return -1;
	c->peer_fwd_cnt = fwd;
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	if (peer_credit(c))
		c->stalled = false;
	return 0;
}

int nb_vsock_port_path(const char *path, uint32_t port, struct sockaddr_un *addr)
{
	*addr = (struct sockaddr_un){ .sun_family = AF_UNIX };
	/* Fits: nb_vsock_open() left room for "_" and ten digits. */
	if (snprintf(addr->sun_path, sizeof(addr->sun_path), "%.*s_%" PRIu32,
		     (int)sizeof(addr->sun_path) - 12, path, port) >= (int)sizeof(addr->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The device's own way to the host (no broker): socket and connect. */
static int direct_connect(void *opaque, uint32_t port)
{
	struct nb_vsock *vs = opaque;
	struct sockaddr_un addr;
	int fd;

	if (nb_vsock_port_path(vs->path, port, &addr) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void direct_unlink(void *opaque)
{
	struct nb_vsock *vs = opaque;

	unlink(vs->path);
}

static void guest_connect(struct nb_vsock *vs, const struct virtio_vsock_hdr *h)
{
	uint32_t port = le32toh(h->dst_port), peer = le32toh(h->src_port);
	struct conn *c;
	int fd;

	if (!vs->path[0] || vs->nconns == NB_VSOCK_MAX_CONNS ||
	    (fd = vs->host.connect_port(vs->host.opaque, port)) < 0) {
		queue_rst(vs, port, peer);
		return;
	}
	c = alloc_conn(vs, fd);
	c->state = CONN_ESTABLISHED;
	c->local_port = port;
	c->peer_port = peer;
	c->pending = PEND_RESPONSE;
	if (take_credit(c, h) < 0) { /* a window about bytes never sent */
		reset_conn(vs, c);
		return;
	}
	update_interest(vs, c);
}

static void host_accepted(struct nb_vsock *vs, struct conn *c)
{
	char ok[24];
	int len = snprintf(ok, sizeof(ok), "OK %" PRIu32 "\n", c->local_port);

	/* A fresh socket's buffer surely takes a dozen bytes. */
	if (write(c->fd, ok, (size_t)len) != len) {
		reset_conn(vs, c);
		return;
	}
	c->state = CONN_ESTABLISHED;
	update_interest(vs, c);
}

static void guest_shutdown(struct nb_vsock *vs, struct conn *c, uint32_t flags)
{
	c->peer_shutdown |= flags & SHUT_BOTH;
	if (c->peer_shutdown == SHUT_BOTH) {
		c->state = CONN_DRAINING;
		c->pending = 0;
	}
	after_drain(vs, c);
	if (c->state != CONN_FREE)
		update_interest(vs, c);
}

/* A packet on an existing connection. */
static void conn_packet(struct nb_vsock *vs, struct conn *c, const struct virtio_vsock_hdr *h,
			const struct nb_virtq_chain *ch)
{
	uint16_t op = le16toh(h->op);

	if (op == VIRTIO_VSOCK_OP_RST) {
		free_conn(vs, c);
		return;
	}
	if (take_credit(c, h) < 0) {
		reset_conn(vs, c);
		return;
	}
	switch (op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != CONN_HOST_REQUEST || (c->pending & PEND_REQUEST))
			break;
		host_accepted(vs, c);
		return;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state != CONN_ESTABLISHED && c->state != CONN_DRAINING)
			break;
		if (guest_rw(vs, c, ch, le32toh(h->len)) < 0)
			break;
		return;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (c->state != CONN_ESTABLISHED)
			break;
		guest_shutdown(vs, c, le32toh(h->flags));
		return;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		update_interest(vs, c); /* more credit may mean reading again */
		return;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pending |= PEND_CREDIT;
		update_interest(vs, c);
		return;
	default: /* REQUEST on a live connection, unknown ops */
		break;
	}
	reset_conn(vs, c);
}

/* One guest packet from the tx queue. */
static void guest_packet(struct nb_vsock *vs, const struct nb_virtq_chain *ch)
{
	struct virtio_vsock_hdr h;
	struct conn *c;

	if (nb_virtq_chain_read(ch, 0, &h, sizeof(h)) != sizeof(h))
		return; /* not even a header: nothing to answer */
	uint32_t local = le32toh(h.dst_port), peer = le32toh(h.src_port);
	uint32_t len = le32toh(h.len);
	uint16_t op = le16toh(h.op);

	if (le64toh(h.src_cid) != vs->guest_cid)
		return; /* spoofed source: never answer it */
	c = find_conn(vs, local, peer);
	if (le64toh(h.dst_cid) != NB_VSOCK_HOST_CID ||
	    le16toh(h.type) != VIRTIO_VSOCK_TYPE_STREAM || len > NB_VSOCK_MAX_PKT ||
	    len > ch->read_len - NB_VSOCK_HDR_SIZE || (len && op != VIRTIO_VSOCK_OP_RW)) {
		if (c)
			reset_conn(vs, c);
		else if (op != VIRTIO_VSOCK_OP_RST)
			queue_rst(vs, local, peer);
		return;
	}
	if (c)
		conn_packet(vs, c, &h, ch);
	else if (op == VIRTIO_VSOCK_OP_REQUEST)
		guest_connect(vs, &h);
	else if (op != VIRTIO_VSOCK_OP_RST)
		queue_rst(vs, local, peer);
}

static void serve_tx(struct nb_vsock *vs)
{
	struct nb_virtio_dev *dev = &vs->vdev;
	struct nb_virtq *q = &dev->queues[TXQ];
	bool pushed = false;
	int rc;

	while ((rc = nb_virtq_pop(q, &vs->chain)) == 1) {
		guest_packet(vs, &vs->chain);
		nb_virtq_push(q, vs->chain.head, 0);
		pushed = true;
	}
	if (rc < 0)
		nb_virtio_queue_broken(dev, q);
	if (pushed)
		nb_virtio_signal_used(dev, q);
}

/* ---- host sockets ------------------------------------------------------------ */

static uint32_t alloc_local_port(struct nb_vsock *vs, uint32_t peer)
{
	for (unsigned tries = 0; tries <= NB_VSOCK_MAX_CONNS; tries++) {
		uint32_t p = vs->next_port++;

		if (vs->next_port < FIRST_LOCAL_PORT)
			vs->next_port = FIRST_LOCAL_PORT;
		if (!find_conn(vs, p, peer))
			return p;
	}
	return vs->next_port; /* unreachable: fewer connections than tries */
}

/* "CONNECT <port>\n", port a decimal u32 without sign or padding. */
static int parse_connect(const char *line, uint32_t *port)
{
	const char *p = line + 8;
	uint64_t v = 0;

	if (strncmp(line, "CONNECT ", 8) != 0 || *p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	if (*p != '\0')
		return -1;
	*port = (uint32_t)v;
	return 0;
}

/* Read the host client's CONNECT line, never past its newline (the bytes
 * after it belong to the guest). */
static void read_line(struct nb_vsock *vs, struct conn *c)
{
	char *room = c->line + c->line_len;
	size_t want = sizeof(c->line) - 1 - c->line_len;
	ssize_t n = recv(c->fd, room, want, MSG_PEEK);
	char *nl;
	uint32_t port;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		free_conn(vs, c);
		return;
	}
	nl = memchr(room, '\n', (size_t)n);
	n = nl ? nl - room + 1 : n;
	if (recv(c->fd, room, (size_t)n, 0) != n) {
		free_conn(vs, c);
		return;
	}
	c->line_len += (unsigned)n;
	if (!nl) {
		if (c->line_len == sizeof(c->line) - 1)
			free_conn(vs, c); /* no newline within the limit */
		return;
	}
	c->line[c->line_len - 1] = '\0';
	if (parse_connect(c->line, &port) < 0) {
		free_conn(vs, c);
		return;
	}
	c->state = CONN_HOST_REQUEST;
	c->peer_port = port;
	c->local_port = alloc_local_port(vs, port);
	c->pending = PEND_REQUEST;
	update_interest(vs, c);
}

static void on_listen(struct nb_vsock *vs)
{
	for (unsigned i = 0; i < MAX_ACCEPT; i++) {
		int fd = accept4(vs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return;
		c = vs->nconns < NB_VSOCK_MAX_CONNS ? alloc_conn(vs, fd) : NULL;
		if (!c) { /* full: the client sees its connection close */
			close(fd);
			continue;
		}
		c->state = CONN_HOST_LINE;
		update_interest(vs, c);
		if (!c->interest)
			free_conn(vs, c);
	}
}

static void on_conn(struct nb_vsock *vs, struct conn *c, uint32_t events)
{
	if (c->state == CONN_FREE || c->fd < 0)
		return; /* stale event of a connection closed in this round */
	if (events & EPOLLERR) {
		reset_conn(vs, c);
		return;
	}
	if (c->state == CONN_HOST_LINE) {
		read_line(vs, c);
		return;
	}
	if (events & EPOLLHUP)
		c->hup = true;
	if (events & EPOLLOUT)
		on_writable(vs, c);
	if (c->state != CONN_FREE && (events & (EPOLLIN | EPOLLHUP)))
		c->rx_ready = true;
}

void nb_vsock_poll(struct nb_vsock *vs)
{
	struct epoll_event evs[16];
	int n = epoll_wait(vs->epoll_fd, evs, 16, 0);
	struct nb_virtio_dev *dev = &vs->vdev;
	bool live;

	if (n <= 0)
		return;
	pthread_mutex_lock(&dev->lock);
	live = nb_virtio_live(dev);
	for (int i = 0; i < n; i++) {
		uint32_t idx = evs[i].data.u32;

		if (idx == LISTEN_TAG)
			on_listen(vs);
		else if (idx < NB_VSOCK_MAX_CONNS &&
			 (live || vs->conns[idx].state == CONN_HOST_LINE))
			on_conn(vs, &vs->conns[idx], evs[i].events);
		else if (idx < NB_VSOCK_MAX_CONNS) /* broken device: nobody to talk to */
			free_conn(vs, &vs->conns[idx]);
	}
	if (live)
		rx_pump(vs);
	pthread_mutex_unlock(&dev->lock);
}

/* ---- device ---------------------------------------------------------------------- */

/* After a restore (a clone, or a running VM's snapshot restored): the
 * guest's connections were with another VMM's sockets, and its CID may be
 * another. VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (virtio 1.2, 5.10.6.7) has
 * the driver reset every connected socket and read the CID again, as
 * Firecracker does. Sent in one of the event buffers the guest posted
 * before the snapshot; without one, at the next notification. */
static void announce_reset(struct nb_vsock *vs)
{
	struct nb_virtio_dev *dev = &vs->vdev;
	struct nb_virtq *q = &dev->queues[EVQ];
	struct virtio_vsock_event ev = { .id = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET) };
	int rc = nb_virtq_pop(q, &vs->chain);

	if (rc < 0)
		nb_virtio_queue_broken(dev, q);
	if (rc != 1)
		return;
	nb_virtq_push(q, vs->chain.head,
		      (uint32_t)nb_virtq_chain_write(&vs->chain, 0, &ev, sizeof(ev)));
	nb_virtio_signal_used(dev, q);
	vs->reset_pending = false;
}

static void vsock_notify(struct nb_virtio_dev *dev)
{
	struct nb_vsock *vs = dev->priv;

	if (vs->reset_pending)
		announce_reset(vs);
	serve_tx(vs);
	if (vs->rx_starved && nb_virtq_has_avail(&dev->queues[RXQ])) {
		vs->rx_starved = false;
		update_all(vs);
	}
	rx_pump(vs);
	/* Otherwise the event queue's buffers stay with us. */
}

/* A restore: nothing of the device's own was saved (its connections were
 * the saved VMM's); the transport's kick announces the reset. */
static int vsock_load(struct nb_virtio_dev *dev, const void *data, size_t len, struct nb_err *err)
{
	struct nb_vsock *vs = dev->priv;

	(void)data;
	if (len)
		return nb_err_set(err, 0, "snapshot: virtio-vsock has state it does not take");
	vs->reset_pending = nb_virtio_live(dev);
	return 0;
}

static void vsock_reset(struct nb_virtio_dev *dev)
{
	struct nb_vsock *vs = dev->priv;

	for (unsigned i = 0; i < NB_VSOCK_MAX_CONNS; i++)
		if (vs->conns[i].state > CONN_HOST_LINE)
			free_conn(vs, &vs->conns[i]);
	vs->nrst = 0;
	vs->rx_starved = false;
	vs->reset_pending = false;
}

static const struct nb_virtio_ops vsock_ops = {
	.name = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.nqueues = 3,
	.queue_max = 128,
	.config_size = sizeof(struct virtio_vsock_config),
	.notify = vsock_notify,
	.reset = vsock_reset,
	.load = vsock_load,
};

/* ---- set-up ------------------------------------------------------------------------ */

static bool socket_alive(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive = fd >= 0 && connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;

	if (fd >= 0)
		close(fd);
	return alive;
}

static int listen_on(struct nb_vsock *vs, struct nb_err *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = LISTEN_TAG };
	struct stat st;

	memcpy(addr.sun_path, vs->path, sizeof(vs->path));
	/* A socket left by an earlier run that died goes; one somebody still
	 * listens on, or anything else, stays (bind then fails). */
	if (lstat(vs->path, &st) == 0 && S_ISSOCK(st.st_mode) && !socket_alive(&addr))
		unlink(vs->path);
	vs->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (vs->listen_fd < 0)
		return nb_err_sys(err, "--vsock %s: socket", vs->path);
	if (bind(vs->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;

		vs->path[0] = '\0'; /* not ours to unlink */
		return nb_err_set(err, e, "--vsock %s: bind", addr.sun_path);
	}
	if (listen(vs->listen_fd, 16) < 0 ||
	    epoll_ctl(vs->epoll_fd, EPOLL_CTL_ADD, vs->listen_fd, &ev) < 0)
		return nb_err_sys(err, "--vsock %s: listen", vs->path);
	return 0;
}

int nb_vsock_open(const struct nb_vsock_opts *opts, struct nb_vsock **out, struct nb_err *err)
{
	struct nb_vsock *vs;
	/* room for "_4294967295" after PATH */
	size_t max = sizeof(vs->path) - 12;

	if (opts->guest_cid <= NB_VSOCK_HOST_CID || opts->guest_cid >= UINT32_MAX)
		return nb_err_set(err, 0, "--vsock-cid %" PRIu64 ": use 3 to %u", opts->guest_cid,
				  UINT32_MAX - 1);
	if (opts->uds_path && (!opts->uds_path[0] || strlen(opts->uds_path) > max))
		return nb_err_set(err, 0, "--vsock: the socket path must be 1 to %zu bytes", max);
	vs = calloc(1, sizeof(*vs));
	if (!vs)
		return nb_err_sys(err, "virtio-vsock");
	nb_virtio_dev_init(&vs->vdev, &vsock_ops, vs, &vs->config);
	vs->listen_fd = -1;
	vs->guest_cid = opts->guest_cid;
	vs->config.guest_cid = htole64(opts->guest_cid);
	vs->next_port = FIRST_LOCAL_PORT;
	for (unsigned i = 0; i < NB_VSOCK_MAX_CONNS; i++)
		vs->conns[i].fd = -1;
	if (opts->uds_path)
		strcpy(vs->path, opts->uds_path);
	vs->host = opts->host ? *opts->host
			      : (struct nb_vsock_host){ direct_connect, direct_unlink, vs };
	vs->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (vs->epoll_fd < 0) {
		nb_err_sys(err, "virtio-vsock: epoll_create1");
		nb_vsock_close(vs);
		return -1;
	}
	if (vs->path[0] && listen_on(vs, err) < 0) {
		nb_vsock_close(vs);
		return -1;
	}
	*out = vs;
	return 0;
}

struct nb_virtio_dev *nb_vsock_dev(struct nb_vsock *vs)
{
	return &vs->vdev;
}

int nb_vsock_poll_fd(const struct nb_vsock *vs)
{
	return vs->epoll_fd;
}

unsigned nb_vsock_nconns(const struct nb_vsock *vs)
{
	return vs->nconns;
}

int nb_vsock_listen_fd(const struct nb_vsock *vs)
{
	return vs->listen_fd;
}

void nb_vsock_close(struct nb_vsock *vs)
{
	if (!vs)
		return;
	for (unsigned i = 0; i < NB_VSOCK_MAX_CONNS; i++)
		if (vs->conns[i].state != CONN_FREE)
			free_conn(vs, &vs->conns[i]);
	if (vs->listen_fd >= 0) {
		close(vs->listen_fd);
		vs->host.unlink_listener(vs->host.opaque);
	}
	if (vs->epoll_fd >= 0)
		close(vs->epoll_fd);
	free(vs);
}

static void on_poll(void *opaque, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	nb_vsock_poll(opaque);
}

int nb_virtio_vsock_add(struct nb_virtio_transport *t, struct nb_event_loop *loop,
			const struct nb_vsock_opts *opts, struct nb_vsock **out, struct nb_err *err)
{
	struct nb_vsock *vs;

	if (nb_vsock_open(opts, &vs, err) < 0)
		return -1;
	/* On failure the run ends before any vCPU runs: a slot registered
	 * already never reaches the freed device. */
	if (nb_virtio_register(t, &vs->vdev, loop, err) < 0 ||
	    nb_event_add(loop, vs->epoll_fd, EPOLLIN, on_poll, vs, err) < 0) {
		nb_vsock_close(vs);
		return -1;
	}
	*out = vs;
	return 0;
}
