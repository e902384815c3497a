/* libFuzzer: virtio-net (vmm/virtio/net.c), tx and rx, behind the mmio
 * transport, with a datagram socketpair standing in for the tap (one
 * datagram per frame, vnet header first, as the tap reads and writes).
 * The input picks guest-driver steps (tests/lib/vdrv.h: negotiation with
 * any offloads, chains of any shape, hostile registers and pokes) and
 * net steps: tx frames with any header and length, rx buffers of any
 * size, frames arriving on the wire, event-thread turns (the tap's and
 * the rate limiters' descriptors), config reads. The first byte sets rate
 * limits (bit 7 rx, bit 6 tx; bit 0 frames, bit 1 bytes; bits 2-3 the
 * frame bucket's size); bit 4 unplugs the NIC (no tap: a template's).
 * Oracles: every frame on the wire has a header the guest negotiated
 * (or a zero one) and an Ethernet-sized length; every filled rx buffer
 * holds the next wire frame (at least a header), truncated to the
 * buffer, with num_buffers 1; unplugged, no rx buffer is ever filled.
 * Covers: vmm/virtio/net.c */
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_net.h>

#include "fuzz/fuzz.h"
#include "vmm/virtio/net.h"

#define RXQ 0u
#define TXQ 1u
#define WIRE_FRAMES 16u
#define MAX_DGRAM (NB_NET_HDR_SIZE + NB_NET_MAX_FRAME + 64)

static struct nb_stop stop;
static struct nb_event_loop loop;
static struct vd d;
static bool unplugged;

/* Frames sent into the tap that the device has not delivered yet. */
static struct {
	uint8_t data[WIRE_FRAMES][2048];
	uint32_t len[WIRE_FRAMES];
	unsigned head, count;
	bool lost; /* a frame we did not keep (too long to record) */
} wire;

static void init_once(void)
{
	static bool done;
	struct nb_err err = { 0 };

	if (done)
		return;
	done = true;
	if (nb_stop_init(&stop, &err) < 0 || nb_event_init(&loop, &stop, 0, &err) < 0)
		abort();
	/* libFuzzer's own signals (^C, timeouts) must still reach it. */
	pthread_sigmask(SIG_UNBLOCK, &loop.signals, NULL);
}

static void check_rx(void *opaque, unsigned q, uint16_t head, uint32_t len)
{
	static uint8_t buf[MAX_DGRAM];
	uint16_t nbuf;

	(void)opaque;
	FZ_CHECK(!unplugged || q != RXQ || len == 0, "an unplugged NIC filled %u bytes", len);
	if (q != RXQ || len == 0)
		return;
	FZ_CHECK(len >= NB_NET_HDR_SIZE, "rx buffer filled with %u bytes", len);
	size_t got = vd_read_back(&d, q, head, buf, len);
	FZ_CHECK(got == len, "rx length %u, buffer holds %zu", len, got);
	memcpy(&nbuf, buf + 10, 2);
	FZ_CHECK(nbuf == 1, "num_buffers %u", nbuf);
	/* The next frame of at least a header (shorter ones are dropped). */
	while (wire.count && wire.len[wire.head] < NB_NET_HDR_SIZE) {
		wire.head = (wire.head + 1) % WIRE_FRAMES;
		wire.count--;
	}
	if (wire.lost || !wire.count)
		return;
	const uint8_t *want = wire.data[wire.head];
	uint32_t want_len = wire.len[wire.head];
	wire.head = (wire.head + 1) % WIRE_FRAMES;
	wire.count--;
	FZ_CHECK(len <= want_len, "rx %u bytes of a %u-byte frame", len, want_len);
	FZ_CHECK(!memcmp(buf, want, 10) && !memcmp(buf + 12, want + 12, len - 12),
		 "rx bytes differ from the frame sent");
}

/* Everything the device wrote to the tap. */
static void drain_wire(int fd)
{
	static uint8_t buf[MAX_DGRAM];
	uint64_t f = d.m->dev->driver_features;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		struct virtio_net_hdr_v1 h;
		uint8_t gso;

		FZ_CHECK(n >= (ssize_t)NB_NET_HDR_SIZE + 14 &&
				 n <= (ssize_t)(NB_NET_HDR_SIZE + NB_NET_MAX_FRAME),
			 "a %zd-byte frame on the tap", n);
		memcpy(&h, buf, sizeof(h));
		FZ_CHECK(h.num_buffers == 0 && !(h.flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM),
			 "tx header flags %#x num_buffers %u", h.flags, h.num_buffers);
		FZ_CHECK(!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
				 (f & 1ull << VIRTIO_NET_F_CSUM),
			 "NEEDS_CSUM passed without CSUM");
		gso = h.gso_type;
		FZ_CHECK(gso == VIRTIO_NET_HDR_GSO_NONE ||
				 (gso == VIRTIO_NET_HDR_GSO_TCPV4 &&
				  (f & 1ull << VIRTIO_NET_F_HOST_TSO4)) ||
				 (gso == VIRTIO_NET_HDR_GSO_TCPV6 &&
				  (f & 1ull << VIRTIO_NET_F_HOST_TSO6)),
			 "gso_type %#x passed with features %#llx", gso, (unsigned long long)f);
		if (!(f & (1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_HOST_TSO4 |
			   1ull << VIRTIO_NET_F_HOST_TSO6))) {
			static const uint8_t zero[NB_NET_HDR_SIZE];

			FZ_CHECK(!memcmp(buf, zero, NB_NET_HDR_SIZE), "a header without offloads");
		}
	}
}

/* A frame the guest sends: header, then payload, in 1 to 4 pieces. */
static void tx_frame(struct fz *f)
{
	uint8_t shape = fz_u8(f);
	size_t hlen = NB_NET_HDR_SIZE, plen = fz_u16(f);
	const uint8_t *hdr = fz_bytes(f, &hlen);
	static uint8_t frame[NB_NET_HDR_SIZE + 0x10000];
	struct vd_seg segs[4];
	unsigned n = 1 + (shape & 3);
	uint32_t total, at = 0;

	if (shape & 0x10)
		plen %= 1600; /* mostly ordinary Ethernet sizes */
	memset(frame, 0, NB_NET_HDR_SIZE);
	memcpy(frame, hdr, hlen);
	size_t have = plen;
	memcpy(frame + NB_NET_HDR_SIZE, fz_bytes(f, &have), have);
	memset(frame + NB_NET_HDR_SIZE + have, 0x5a, plen - have);
	total = (uint32_t)(NB_NET_HDR_SIZE + plen);
	for (unsigned i = 0; i < n; i++) {
		/* The header alone first when split; the rest in equal parts. */
		uint32_t len = i + 1 == n ? total - at
			       : i == 0   ? NB_NET_HDR_SIZE
					  : (total - at) / 2;

		segs[i] = (struct vd_seg){ frame + at, len, false };
		at += len;
	}
	if (vd_post(&d, TXQ, segs, n, shape & 0x20) >= 0)
		vd_kick(&d, TXQ);
}

/* Buffers for received frames: 1 to 8 chains of 1 to 3 writable pieces. */
static void rx_buffers(struct fz *f)
{
	static const uint32_t sizes[] = { 0, 1, 11, 12, 60, 1526, 4096, 65562 };
	uint8_t shape = fz_u8(f);

	for (unsigned c = 0; c <= (shape & 7u); c++) {
		uint8_t pick = fz_u8(f);
		uint32_t len = pick & 0x80 ? fz_u16(f) : sizes[pick & 7];
		unsigned n = 1 + ((pick >> 4) & 7u) % 3;
		struct vd_seg segs[3];

		for (unsigned i = 0; i < n; i++)
			segs[i] = (struct vd_seg){ NULL,
						   i + 1 == n ? len - len / n * (n - 1) : len / n,
						   true };
		vd_post(&d, RXQ, segs, n, shape & 0x20);
	}
	if (!(shape & 0x40))
		vd_kick(&d, RXQ);
}

/* A frame arrives on the wire (the tap has it for the device to read). */
static void wire_send(struct fz *f, int fd)
{
	static uint8_t buf[MAX_DGRAM];
	uint8_t shape = fz_u8(f);
	size_t len = shape & 0x80 ? fz_u16(f) : shape & 0x7f, have = len;

	memcpy(buf, fz_bytes(f, &have), have);
	memset(buf + have, 0xa5, len - have);
	if (send(fd, buf, len, MSG_DONTWAIT) != (ssize_t)len)
		return;
	if (wire.count == WIRE_FRAMES || len > sizeof(wire.data[0])) {
		wire.lost = true;
		return;
	}
	unsigned slot = (wire.head + wire.count++) % WIRE_FRAMES;
	memcpy(wire.data[slot], buf, len);
	wire.len[slot] = (uint32_t)len;
}

static struct nb_ratelimit_config limit(uint8_t mode)
{
	struct nb_ratelimit_config c = { 0 };

	/* Small buckets refilled within milliseconds: they run dry and
	 * their timers fire within one input. */
	if (mode & 1)
		c.ops = (struct nb_bucket_config){ .size = 1 + ((mode >> 2) & 3), .refill_ms = 2 };
	if (mode & 2)
		c.bytes = (struct nb_bucket_config){ .size = 4096,
						     .one_time_burst = 1500,
						     .refill_ms = 2 };
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static struct nb_virtio_mmio m;
	struct nb_err err = { 0 };
	struct fz f = { data, size };
	const char *why = NULL;
	uint8_t config[16];
	int sv[2];

	init_once();
	if (!ram && !(ram = malloc(VD_RAM_SIZE)))
		abort();
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	uint8_t mode = fz_u8(&f);
	struct nb_net_opts opts = { .tap_fd = sv[0],
				    .mac = { 2, 0, 0, 0, 0, 1 },
				    .rx_limit = limit(mode & 0x80 ? mode : 0),
				    .tx_limit = limit(mode & 0x40 ? mode : 0) };
	unplugged = mode & 0x10;
	if (unplugged) { /* the wire's end stays: sends to it fail */
		close(sv[0]);
		opts.tap_fd = 0;
	}
	struct nb_net *net = nb_net_new(&loop, &opts, &err);
	if (!net)
		abort();
	vd_init(&d, ram);
	memset(&wire, 0, sizeof(wire));
	if (nb_virtio_mmio_init(&m, nb_net_dev(net), &d.mem, &err) < 0)
		abort();
	vd_attach(&d, &m);
	for (unsigned steps = 0; fz_more(&f) && steps < 256; steps++) {
		unsigned op = fz_u8(&f) % (FZ_NOPS + 5);

		switch (op) {
		case FZ_NOPS + 0:
			tx_frame(&f);
			break;
		case FZ_NOPS + 1:
			rx_buffers(&f);
			break;
		case FZ_NOPS + 2:
			wire_send(&f, sv[1]);
			break;
		case FZ_NOPS + 3: /* now, or after waiting for a limiter's timer */
			fz_serve_events(&loop, fz_u8(&f) & 0x80 ? 3 : 0);
			break;
		case FZ_NOPS + 4:
			for (uint64_t off = 0; off < sizeof(config); off += 2)
				nb_virtio_mmio_io(&m, VIRTIO_MMIO_CONFIG + off, config + off, 2,
						  false);
			FZ_CHECK(!memcmp(config, opts.mac, 6), "config space MAC");
			break;
		default:
			fz_virtio_op(&f, &d, op);
			break;
		}
		wire.lost |= d.hostile;
		drain_wire(sv[1]);
		for (unsigned q = 0; q < 2; q++)
			FZ_CHECK(vd_reap(&d, q, check_rx, NULL, &why), "queue %u: %s", q, why);
	}
	fz_unwatch_all(&loop);
	nb_net_close(net);
	close(sv[1]);
	nb_virtio_mmio_destroy(&m);
	pthread_mutex_destroy(&m.dev->lock);
	return 0;
}
