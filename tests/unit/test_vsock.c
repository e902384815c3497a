/* virtio-vsock packet state machine, driven through real split rings in a
 * test guest RAM and real Unix sockets, without KVM. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>

#include "unit.h"
#include "vmm/virtio/mmio.h"
#include "vmm/virtio/vsock.h"

#define RAM_SIZE (4u << 20)
#define QSIZE 64u
#define RXQ 0u
#define TXQ 1u
#define EVQ 2u
#define EV_DATA 0x300000u /* the guest's event buffers, 8 bytes each */
#define RX_BUF 4096u
#define GUEST_CID 3u
#define TX_DATA 0x100000u /* guest tx packets, 128 KiB slots */
#define RX_DATA 0x200000u /* guest rx buffers, RX_BUF + header each */
#define HDR NB_VSOCK_HDR_SIZE

static uint8_t *ram;
static struct nb_guest_mem mem;
static struct nb_virtio_mmio m;
static struct nb_vsock *vs;
static char dir[] = "/tmp/nestbox-vsock-XXXXXX";
static char path[64];
static uint16_t avail_idx[3], next_desc[3], used_seen[3];
static unsigned tx_slot;

static uint64_t qbase(unsigned q)
{
	return 0x10000u * (q + 1);
}

static void put_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = ram + qbase(q) + 16u * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void publish(unsigned q, uint16_t head)
{
	uint8_t *avail = ram + qbase(q) + 0x1000;
	uint16_t slot = avail_idx[q] % QSIZE;

	memcpy(avail + 4 + 2u * slot, &head, 2);
	avail_idx[q]++;
	memcpy(avail + 2, &avail_idx[q], 2);
}

static void setup(void)
{
	struct nb_err err = { 0 };
	struct nb_vsock_opts opts = { .guest_cid = GUEST_CID, .uds_path = path };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	nb_unit_guest_map(&mem, RAM_SIZE);
	ram = mem.base;
	ck_assert_msg(nb_vsock_open(&opts, &vs, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(nb_virtio_mmio_init(&m, nb_vsock_dev(vs), &mem, &err), 0);
	m.dev->driver_features = NB_VIRTIO_F_VERSION_1;
	m.dev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	for (unsigned q = 0; q < 3; q++) {
		struct nb_virtq *vq = &m.dev->queues[q];

		vq->size = QSIZE;
		vq->desc_gpa = qbase(q);
		vq->avail_gpa = qbase(q) + 0x1000;
		vq->used_gpa = qbase(q) + 0x2000;
		ck_assert_int_eq(nb_virtq_enable(vq), 0);
	}
	memset(avail_idx, 0, sizeof(avail_idx));
	memset(next_desc, 0, sizeof(next_desc));
	memset(used_seen, 0, sizeof(used_seen));
	tx_slot = 0;
}

static void teardown(void)
{
	char sub[160];

	nb_vsock_close(vs);
	nb_virtio_mmio_destroy(&m);
	nb_mem_unmap(&mem);
	for (unsigned p = 0; p < 8000; p++) {
		snprintf(sub, sizeof(sub), "%s_%u", path, p);
		unlink(sub);
	}
	ck_assert_int_eq(access(path, F_OK), -1); /* the listener is gone */
	rmdir(dir);
	strcpy(dir, "/tmp/nestbox-vsock-XXXXXX");
}

static void process(void)
{
	nb_virtio_process(m.dev);
}

/* Give the device n rx buffers of HDR + RX_BUF bytes. */
static void rx_give(unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		uint16_t i = next_desc[RXQ]++ % QSIZE;

		put_desc(RXQ, i, RX_DATA + (uint64_t)i * (HDR + RX_BUF), HDR + RX_BUF,
			 VRING_DESC_F_WRITE, 0);
		publish(RXQ, i);
	}
	process();
}

static struct virtio_vsock_hdr mkhdr(uint16_t op, uint32_t src_port, uint32_t dst_port)
{
	return (struct virtio_vsock_hdr){ .src_cid = GUEST_CID,
					  .dst_cid = 2,
					  .src_port = src_port,
					  .dst_port = dst_port,
					  .type = VIRTIO_VSOCK_TYPE_STREAM,
					  .op = op,
					  .buf_alloc = 65536 };
}

/* One guest packet: header and payload in two readable descriptors. */
static void tx_raw(const struct virtio_vsock_hdr *h, const void *payload, uint32_t plen)
{
	uint64_t at = TX_DATA + (uint64_t)(tx_slot++ % 8) * 0x20000;
	uint16_t i = next_desc[TXQ]++ % QSIZE, j = next_desc[TXQ]++ % QSIZE;

	memcpy(ram + at, h, HDR);
	if (plen)
		memcpy(ram + at + HDR, payload, plen);
	put_desc(TXQ, i, at, HDR, plen ? VRING_DESC_F_NEXT : 0, j);
	if (plen)
		put_desc(TXQ, j, at + HDR, plen, 0, 0);
	publish(TXQ, i);
	process();
}

static void tx(uint16_t op, uint32_t src_port, uint32_t dst_port)
{
	struct virtio_vsock_hdr h = mkhdr(op, src_port, dst_port);

	tx_raw(&h, NULL, 0);
}

/* The next packet the device put in an rx buffer: 0 if none. */
static int rx_take(struct virtio_vsock_hdr *h, uint8_t *payload)
{
	uint8_t *used = ram + qbase(RXQ) + 0x2000;
	uint16_t idx;
	uint32_t id, len;

	memcpy(&idx, used + 2, 2);
	if (idx == used_seen[RXQ])
		return 0;
	uint16_t slot = used_seen[RXQ]++ % QSIZE;
	memcpy(&id, used + 4 + 8u * slot, 4);
	memcpy(&len, used + 8 + 8u * slot, 4);
	ck_assert_uint_ge(len, HDR);
	memcpy(h, ram + RX_DATA + (uint64_t)id * (HDR + RX_BUF), HDR);
	ck_assert_uint_eq(len, HDR + h->len);
	ck_assert_uint_eq(h->src_cid, 2);
	ck_assert_uint_eq(h->dst_cid, GUEST_CID);
	if (payload)
		memcpy(payload, ram + RX_DATA + (uint64_t)id * (HDR + RX_BUF) + HDR, h->len);
	return 1;
}

static void expect_op(uint16_t op, uint32_t src_port, uint32_t dst_port)
{
	struct virtio_vsock_hdr h;

	ck_assert_msg(rx_take(&h, NULL), "no packet for op %u", op);
	ck_assert_uint_eq(h.op, op);
	ck_assert_uint_eq(h.src_port, src_port);
	ck_assert_uint_eq(h.dst_port, dst_port);
}

static void expect_nothing(void)
{
	struct virtio_vsock_hdr h;

	ck_assert_msg(!rx_take(&h, NULL), "unexpected packet op %u", h.op);
}

/* A host service at PATH_port. */
static int serve(unsigned port)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", path, port);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 128), 0);
	return fd;
}

/* Guest connects from port 1000 to host port 5000; returns the host side. */
static int guest_connected(int *lfd)
{
	int c;

	*lfd = serve(5000);
	rx_give(32);
	tx(VIRTIO_VSOCK_OP_REQUEST, 1000, 5000);
	expect_op(VIRTIO_VSOCK_OP_RESPONSE, 5000, 1000);
	c = accept(*lfd, NULL, NULL);
	ck_assert_int_ge(c, 0);
	return c;
}

static ssize_t read_some(int fd, void *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	ck_assert_int_eq(poll(&p, 1, 2000), 1);
	return read(fd, buf, len);
}

START_TEST(config_carries_guest_cid)
{
	uint8_t cfg[8];

	nb_virtio_mmio_io(&m, 0x100, cfg, 8, false);
	ck_assert_uint_eq(cfg[0], GUEST_CID);
	ck_assert_uint_eq(m.dev->ops->device_id, 19);
}
END_TEST

START_TEST(request_to_closed_port_gets_rst)
{
	rx_give(4);
	tx(VIRTIO_VSOCK_OP_REQUEST, 1000, 4999);
	expect_op(VIRTIO_VSOCK_OP_RST, 4999, 1000);
	ck_assert_uint_eq(nb_vsock_nconns(vs), 0);
	/* a packet of no connection (not a RST) also gets a RST */
	tx(VIRTIO_VSOCK_OP_RW, 1000, 4999);
	expect_op(VIRTIO_VSOCK_OP_RST, 4999, 1000);
	tx(VIRTIO_VSOCK_OP_RST, 1000, 4999); /* and a RST never one */
	expect_nothing();
}
END_TEST

START_TEST(request_response_and_data_both_ways)
{
	int lfd, c = guest_connected(&lfd);
	struct virtio_vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 1000, 5000);
	uint8_t buf[64];

	h.len = 5;
	tx_raw(&h, "hello", 5);
	ck_assert_int_eq(read_some(c, buf, sizeof(buf)), 5);
	ck_assert_mem_eq(buf, "hello", 5);
	ck_assert_int_eq(write(c, "world!", 6), 6);
	nb_vsock_poll(vs);
	ck_assert(rx_take(&h, buf));
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RW);
	ck_assert_uint_eq(h.len, 6);
	ck_assert_mem_eq(buf, "world!", 6);
	ck_assert_uint_eq(h.buf_alloc, NB_VSOCK_CONN_BUF);
	ck_assert_uint_eq(h.fwd_cnt, 5); /* our credit rides on every packet */
	close(c);
	close(lfd);
}
END_TEST

START_TEST(host_never_sends_beyond_guest_credit)
{
	int lfd, c = guest_connected(&lfd);
	struct virtio_vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1000, 5000);
	static uint8_t big[10000], buf[RX_BUF];
	uint32_t got = 0;

	h.buf_alloc = 1000;
	tx_raw(&h, NULL, 0);
	ck_assert_int_eq(write(c, big, sizeof(big)), (ssize_t)sizeof(big));
	for (int i = 0; i < 5; i++)
		nb_vsock_poll(vs);
	while (rx_take(&h, buf))
		if (h.op == VIRTIO_VSOCK_OP_RW)
			got += h.len;
	ck_assert_uint_eq(got, 1000);
	/* The guest read it: credit again, and the next 1000 bytes come. */
	h = mkhdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1000, 5000);
	h.buf_alloc = 1000;
	h.fwd_cnt = 1000;
	tx_raw(&h, NULL, 0);
	for (int i = 0; i < 5; i++)
		nb_vsock_poll(vs);
	got = 0;
	while (rx_take(&h, buf))
		if (h.op == VIRTIO_VSOCK_OP_RW)
			got += h.len;
	ck_assert_uint_eq(got, 1000);
	close(c);
	close(lfd);
}
END_TEST

START_TEST(credit_request_gets_credit_update)
{
	int lfd, c = guest_connected(&lfd);

	tx(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 1000, 5000);
	expect_op(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 5000, 1000);
	close(c);
	close(lfd);
}
END_TEST

START_TEST(guest_fwd_cnt_beyond_what_was_sent_resets)
{
	int lfd, c = guest_connected(&lfd);
	struct virtio_vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1000, 5000);

	h.fwd_cnt = 100; /* the host sent nothing yet */
	tx_raw(&h, NULL, 0);
	expect_op(VIRTIO_VSOCK_OP_RST, 5000, 1000);
	ck_assert_uint_eq(nb_vsock_nconns(vs), 0);
	close(c);
	close(lfd);
}
END_TEST

/* The host socket stops reading: the device buffers at most its buf_alloc
 * and resets a guest that sends beyond it. */
START_TEST(rw_beyond_credit_is_refused)
{
	int lfd, c = guest_connected(&lfd);
	struct virtio_vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_RW, 1000, 5000);
	static uint8_t chunk[60000];
	bool reset = false;

	h.len = sizeof(chunk);
	for (int i = 0; i < 64 && !reset; i++) {
		struct virtio_vsock_hdr r;

		tx_raw(&h, chunk, sizeof(chunk));
		while (rx_take(&r, NULL))
			reset |= r.op == VIRTIO_VSOCK_OP_RST;
	}
	ck_assert_msg(reset, "a guest ignoring credit was never reset");
	ck_assert_uint_eq(nb_vsock_nconns(vs), 0);
	close(c);
	close(lfd);
}
END_TEST

START_TEST(shutdown_both_ways)
{
	int lfd, c = guest_connected(&lfd);
	struct virtio_vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_SHUTDOWN, 1000, 5000);
	uint8_t buf[16];

	/* guest: no more sending -> the host reads EOF */
	h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
	tx_raw(&h, NULL, 0);
	ck_assert_int_eq(read_some(c, buf, sizeof(buf)), 0);
	/* host closes -> the guest hears SHUTDOWN (both: the socket is gone) */
	close(c);
	nb_vsock_poll(vs);
	ck_assert(rx_take(&h, NULL));
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND | VIRTIO_VSOCK_SHUTDOWN_RCV);
	ck_assert_uint_eq(nb_vsock_nconns(vs), 1);
	/* guest closes too -> RST ends it */
	h = mkhdr(VIRTIO_VSOCK_OP_SHUTDOWN, 1000, 5000);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND | VIRTIO_VSOCK_SHUTDOWN_RCV;
	tx_raw(&h, NULL, 0);
	expect_op(VIRTIO_VSOCK_OP_RST, 5000, 1000);
	ck_assert_uint_eq(nb_vsock_nconns(vs), 0);
	close(lfd);
}
END_TEST

START_TEST(host_half_close_is_shutdown_send)
{
	int lfd, c = guest_connected(&lfd);
	struct virtio_vsock_hdr h;

	shutdown(c, SHUT_WR);
	nb_vsock_poll(vs);
	ck_assert(rx_take(&h, NULL));
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	close(c);
	close(lfd);
}
END_TEST

START_TEST(bad_headers_are_refused)
{
	int lfd, c = guest_connected(&lfd);
	struct virtio_vsock_hdr h = mkhdr(VIRTIO_VSOCK_OP_REQUEST, 1001, 5000);

	h.src_cid = 7; /* spoofed source: no answer at all, no connection */
	tx_raw(&h, NULL, 0);
	expect_nothing();
	h = mkhdr(VIRTIO_VSOCK_OP_REQUEST, 1001, 5000);
	h.dst_cid = 9; /* not the host */
	tx_raw(&h, NULL, 0);
	expect_op(VIRTIO_VSOCK_OP_RST, 5000, 1001);
	h = mkhdr(VIRTIO_VSOCK_OP_REQUEST, 1001, 5000);
	h.type = VIRTIO_VSOCK_TYPE_SEQPACKET; /* not negotiated */
	tx_raw(&h, NULL, 0);
	expect_op(VIRTIO_VSOCK_OP_RST, 5000, 1001);
	h = mkhdr(99, 1001, 5000); /* unknown op */
	tx_raw(&h, NULL, 0);
	expect_op(VIRTIO_VSOCK_OP_RST, 5000, 1001);
	ck_assert_uint_eq(nb_vsock_nconns(vs), 1);
	/* len beyond the chain on the live connection: it is reset */
	h = mkhdr(VIRTIO_VSOCK_OP_RW, 1000, 5000);
	h.len = 100;
	tx_raw(&h, "abc", 3);
	expect_op(VIRTIO_VSOCK_OP_RST, 5000, 1000);
	ck_assert_uint_eq(nb_vsock_nconns(vs), 0);
	/* a chain shorter than a header is dropped without an answer */
	uint16_t i = next_desc[TXQ]++ % QSIZE;
	put_desc(TXQ, i, TX_DATA, 10, 0, 0);
	publish(TXQ, i);
	process();
	expect_nothing();
	close(c);
	close(lfd);
}
END_TEST

START_TEST(connection_limit)
{
	int lfd = serve(5000);

	rx_give(63);
	for (uint32_t p = 0; p < NB_VSOCK_MAX_CONNS; p++) {
		tx(VIRTIO_VSOCK_OP_REQUEST, 2000 + p, 5000);
		expect_op(VIRTIO_VSOCK_OP_RESPONSE, 5000, 2000 + p);
		if (p % 32 == 31)
			rx_give(32);
	}
	ck_assert_uint_eq(nb_vsock_nconns(vs), NB_VSOCK_MAX_CONNS);
	tx(VIRTIO_VSOCK_OP_REQUEST, 3000, 5000);
	expect_op(VIRTIO_VSOCK_OP_RST, 5000, 3000);
	ck_assert_uint_eq(nb_vsock_nconns(vs), NB_VSOCK_MAX_CONNS);
	close(lfd);
}
END_TEST

/* Replies wait for rx buffers instead of being lost. */
START_TEST(replies_wait_for_rx_buffers)
{
	tx(VIRTIO_VSOCK_OP_REQUEST, 1000, 4999);
	expect_nothing();
	rx_give(1);
	expect_op(VIRTIO_VSOCK_OP_RST, 4999, 1000);
}
END_TEST

static int host_client(const char *line)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(a.sun_path, path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	for (int i = 0; i < 3; i++)
		nb_vsock_poll(vs);
	return fd;
}

START_TEST(host_connect_protocol)
{
	struct virtio_vsock_hdr h, r;
	char buf[32] = { 0 };
	int fd;

	rx_give(8);
	fd = host_client("CONNECT 77\n");
	ck_assert(rx_take(&h, NULL));
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_REQUEST);
	ck_assert_uint_eq(h.dst_port, 77);
	r = mkhdr(VIRTIO_VSOCK_OP_RESPONSE, 77, h.src_port);
	tx_raw(&r, NULL, 0);
	ck_assert_int_gt(read_some(fd, buf, sizeof(buf) - 1), 0);
	char want[32];
	snprintf(want, sizeof(want), "OK %u\n", h.src_port);
	ck_assert_str_eq(buf, want);
	/* the client goes away: the guest hears SHUTDOWN, its RST ends it */
	close(fd);
	nb_vsock_poll(vs);
	ck_assert(rx_take(&r, NULL));
	ck_assert_uint_eq(r.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	ck_assert_uint_eq(r.src_port, h.src_port);
	r = mkhdr(VIRTIO_VSOCK_OP_RST, 77, h.src_port);
	tx_raw(&r, NULL, 0);
	ck_assert_uint_eq(nb_vsock_nconns(vs), 0);

	/* the guest refuses: the client's socket closes */
	fd = host_client("CONNECT 78\n");
	ck_assert(rx_take(&h, NULL));
	r = mkhdr(VIRTIO_VSOCK_OP_RST, 78, h.src_port);
	tx_raw(&r, NULL, 0);
	ck_assert_int_eq(read_some(fd, buf, sizeof(buf)), 0);
	close(fd);
	ck_assert_uint_eq(nb_vsock_nconns(vs), 0);
}
END_TEST

START_TEST(host_bad_connect_lines_close)
{
	const char *bad[] = { "CONNEKT 1\n", "CONNECT \n", "CONNECT 99999999999\n", "CONNECT 1x\n",
			      "CONNECT 123456789012345678901234567890" };
	char buf[8];

	rx_give(8);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = host_client(bad[i]);

		ck_assert_int_le(read_some(fd, buf, sizeof(buf)), 0);
		close(fd);
	}
	expect_nothing();
	ck_assert_uint_eq(nb_vsock_nconns(vs), 0);
}
END_TEST

/* One event buffer for the device. */
static void ev_give(void)
{
	uint16_t i = next_desc[EVQ]++ % QSIZE;

	put_desc(EVQ, i, EV_DATA + 8u * i, 8, VRING_DESC_F_WRITE, 0);
	publish(EVQ, i);
}

/* The next event the device sent: its id, or -1 if none. */
static int64_t ev_take(void)
{
	uint8_t *used = ram + qbase(EVQ) + 0x2000;
	uint16_t idx;
	uint32_t id, len, event;

	memcpy(&idx, used + 2, 2);
	if (idx == used_seen[EVQ])
		return -1;
	uint16_t slot = used_seen[EVQ]++ % QSIZE;
	memcpy(&id, used + 4 + 8u * slot, 4);
	memcpy(&len, used + 8 + 8u * slot, 4);
	ck_assert_uint_eq(len, 4);
	memcpy(&event, ram + EV_DATA + 8u * id, 4);
	return event;
}

/* A restore (the device's load hook) has the guest told, once, in an
 * event buffer it posted, that its connections are gone: at once if it
 * has one, else when it gives one. Never without a restore. */
START_TEST(restore_announces_transport_reset)
{
	struct nb_virtio_dev *dev = nb_vsock_dev(vs);
	struct nb_err err;

	ev_give();
	process();
	ck_assert_int_eq(ev_take(), -1); /* no event in a plain run */
	ck_assert_int_eq(dev->ops->load(dev, "x", 1, &err), -1);
	ck_assert_int_eq(dev->ops->load(dev, NULL, 0, &err), 0);
	process();
	ck_assert_int_eq(ev_take(), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	ev_give();
	process();
	ck_assert_int_eq(ev_take(), -1); /* once */
	/* the other buffer is taken by a second restore; then none is left */
	ck_assert_int_eq(dev->ops->load(dev, NULL, 0, &err), 0);
	process();
	ck_assert_int_eq(ev_take(), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	ck_assert_int_eq(dev->ops->load(dev, NULL, 0, &err), 0);
	process();
	ck_assert_int_eq(ev_take(), -1); /* no buffer: it waits */
	ev_give();
	process();
	ck_assert_int_eq(ev_take(), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
}
END_TEST

START_TEST(open_validates_options)
{
	struct nb_err err = { 0 };
	struct nb_vsock *v;
	struct nb_vsock_opts bad_cid = { .guest_cid = 2 };
	char long_path[200];

	ck_assert_int_eq(nb_vsock_open(&bad_cid, &v, &err), -1);
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	struct nb_vsock_opts bad_path = { .guest_cid = 3, .uds_path = long_path };
	ck_assert_int_eq(nb_vsock_open(&bad_path, &v, &err), -1);
	/* PATH of a live VM is never taken over */
	struct nb_vsock_opts busy = { .guest_cid = 3, .uds_path = path };
	ck_assert_int_eq(nb_vsock_open(&busy, &v, &err), -1);
	ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("vsock");
	TCase *tc = tcase_create("vsock");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config_carries_guest_cid);
	tcase_add_test(tc, request_to_closed_port_gets_rst);
	tcase_add_test(tc, request_response_and_data_both_ways);
	tcase_add_test(tc, host_never_sends_beyond_guest_credit);
	tcase_add_test(tc, credit_request_gets_credit_update);
	tcase_add_test(tc, guest_fwd_cnt_beyond_what_was_sent_resets);
	tcase_add_test(tc, rw_beyond_credit_is_refused);
	tcase_add_test(tc, shutdown_both_ways);
	tcase_add_test(tc, host_half_close_is_shutdown_send);
	tcase_add_test(tc, bad_headers_are_refused);
	tcase_add_test(tc, connection_limit);
	tcase_add_test(tc, replies_wait_for_rx_buffers);
	tcase_add_test(tc, host_connect_protocol);
	tcase_add_test(tc, host_bad_connect_lines_close);
	tcase_add_test(tc, open_validates_options);
	tcase_add_test(tc, restore_announces_transport_reset);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return nb_unit_run(suite());
}
