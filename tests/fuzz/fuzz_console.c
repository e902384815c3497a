/* libFuzzer: virtio-console (vmm/virtio/console.c) with its four ports
 * and both control queues, behind the mmio transport. Host stdio is
 * pipes (the output pipes one page deep, so back-pressure comes quickly),
 * regular files or nothing, as the input's first byte picks. The input
 * then picks guest-driver steps (tests/lib/vdrv.h) and console steps:
 * control messages of any id, event and value, control buffers, output
 * on any port, input buffers on any port, host stdin bytes and EOF,
 * signal-port messages, event-thread turns, a reader that drains or goes
 * away. Oracles: every control message is about one of the four ports
 * and names it right; stdout and stderr carry exactly the guest's bytes
 * in order (a chain given back is a chain written); the guest reads
 * exactly the host's stdin bytes and signal messages in order.
 * The first byte picks the host side: stdin (byte % 3: pipe, file, none),
 * stdout and stderr (bits 2-3, 4-5: pipe, file, none, /dev/null; bits 6,
 * 7: that pipe non-blocking).
 * Covers: vmm/virtio/console.c */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_console.h>

#include "fuzz/fuzz.h"
#include "nestbox/abi.h"
#include "vmm/virtio/console.h"

#define NPORTS 4u
#define CTRL_RX 2u
#define CTRL_TX 3u
#define STREAM_MAX (64u << 10)

static unsigned rx_queue(unsigned port)
{
	return port == 0 ? 0 : 2 + 2 * port;
}
static unsigned tx_queue(unsigned port)
{
	return port == 0 ? 1 : 3 + 2 * port;
}

static const char *const names[NPORTS] = { NB_PORT_STDIN, NB_PORT_STDOUT, NB_PORT_STDERR,
					   NB_PORT_SIGNAL };

/* Bytes sent one way, and how many of them the other end has seen. */
struct stream {
	uint8_t buf[STREAM_MAX];
	size_t sent, seen;
	bool off; /* the model lost track: no more checks */
};

static void stream_send(struct stream *s, const void *data, size_t n)
{
	if (s->sent + n > STREAM_MAX)
		s->off = true;
	if (s->off)
		return;
	memcpy(s->buf + s->sent, data, n);
	s->sent += n;
}

static void stream_seen(struct stream *s, const void *data, size_t n, const char *what)
{
	if (s->off)
		return;
	FZ_CHECK(s->seen + n <= s->sent && !memcmp(s->buf + s->seen, data, n),
		 "%s: %zu bytes at %zu differ from the %zu sent", what, n, s->seen, s->sent);
	s->seen += n;
}

/* What was sent and not seen is gone (the device dropped it). */
static void stream_resync(struct stream *s)
{
	s->sent = s->seen;
}

static struct nb_stop stop;
static struct nb_event_loop loop;
static struct vd d;
static struct nb_console *con;

static struct {
	int in_w;              /* our end of the stdin pipe; -1 closed */
	int out_r[3];          /* our end of stdout/stderr (1, 2): pipe or memfd */
	bool out_file[3];      /* ...a regular file read with pread */
	off_t read_off[3];     /* ...from here on */
	bool out_none[3];      /* the port has no host fd */
	struct stream out[3];  /* guest -> host, ports 1 and 2 */
	struct stream in, sig; /* host -> guest, ports 0 and 3 */
	uint64_t returned[3];  /* bytes of output chains given back */
	uint32_t chain_len[3][NB_VIRTQ_MAX_SIZE];
	bool closes_signal[NB_VIRTQ_MAX_SIZE]; /* control chain: PORT_OPEN(3, 0) */
} h;

static void init_once(void)
{
	static bool done;
	struct nb_err err = { 0 };

	if (done)
		return;
	done = true;
	if (nb_stop_init(&stop, &err) < 0 || nb_event_init(&loop, &stop, 0, &err) < 0)
		abort();
	pthread_sigmask(SIG_UNBLOCK, &loop.signals, NULL);
}

/* Host output fd for a port, by kind: 0 pipe, 1 regular file, 2 none,
 * 3 /dev/null; a pipe non-blocking if asked. Returns the fd the device
 * gets. */
static int open_output(unsigned port, unsigned kind, bool nonblock)
{
	int p[2];

	h.out_r[port] = -1;
	switch (kind) {
	case 0:
		if (pipe2(p, O_CLOEXEC) < 0)
			abort();
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		fcntl(p[1], F_SETPIPE_SZ, 4096);
		if (nonblock)
			fcntl(p[1], F_SETFL, O_NONBLOCK);
		h.out_r[port] = p[0];
		return p[1];
	case 1:
		h.out_r[port] = memfd_create("fuzz-out", MFD_CLOEXEC);
		h.out_file[port] = true;
		return dup(h.out_r[port]);
	case 2:
		h.out_none[port] = true;
		return -1;
	default:
		h.out_none[port] = true;
		return open("/dev/null", O_WRONLY | O_CLOEXEC);
	}
}

/* Host stdin by kind: 0 pipe, 1 regular file holding `file`, 2 none. */
static int open_input(unsigned kind, const uint8_t *file, size_t len)
{
	int p[2], fd;

	h.in_w = -1;
	switch (kind) {
	case 0:
		if (pipe2(p, O_CLOEXEC) < 0)
			abort();
		fcntl(p[1], F_SETFL, O_NONBLOCK);
		h.in_w = p[1];
		return p[0];
	case 1:
		fd = memfd_create("fuzz-in", MFD_CLOEXEC);
		if (fd < 0 || write(fd, file, len) != (ssize_t)len)
			abort();
		lseek(fd, 0, SEEK_SET);
		stream_send(&h.in, file, len);
		return fd;
	default:
		return -1;
	}
}

/* Read what the device wrote to stdout/stderr so far. */
static void read_outputs(void)
{
	static uint8_t buf[STREAM_MAX];

	for (unsigned p = 1; p < 3; p++) {
		struct stream *s = &h.out[p];
		ssize_t n;

		if (h.out_r[p] < 0)
			continue;
		if (h.out_file[p]) {
			while ((n = pread(h.out_r[p], buf, sizeof(buf), h.read_off[p])) > 0) {
				h.read_off[p] += n;
				stream_seen(s, buf, (size_t)n, p == 1 ? "stdout" : "stderr");
			}
		} else {
			while ((n = read(h.out_r[p], buf, sizeof(buf))) > 0)
				stream_seen(s, buf, (size_t)n, p == 1 ? "stdout" : "stderr");
		}
		FZ_CHECK(s->off || s->seen >= h.returned[p],
			 "port %u: %llu bytes given back, %zu written", p,
			 (unsigned long long)h.returned[p], s->seen);
	}
}

static void check_ctrl_msg(uint16_t head, uint32_t len)
{
	uint8_t buf[64];
	struct virtio_console_control c;
	size_t got = vd_read_back(&d, CTRL_RX, head, buf, len < sizeof(buf) ? len : sizeof(buf));

	FZ_CHECK(got == len || got == sizeof(buf), "control message of %u bytes", len);
	if (len < sizeof(c))
		return;
	memcpy(&c, buf, sizeof(c));
	FZ_CHECK(c.id < NPORTS, "control message about port %u", c.id);
	FZ_CHECK(c.event == VIRTIO_CONSOLE_PORT_ADD || c.event == VIRTIO_CONSOLE_PORT_OPEN ||
			 c.event == VIRTIO_CONSOLE_PORT_NAME,
		 "control event %u", c.event);
	if (c.event == VIRTIO_CONSOLE_PORT_NAME)
		FZ_CHECK(len - sizeof(c) <= strlen(names[c.id]) &&
				 !memcmp(buf + sizeof(c), names[c.id], got - sizeof(c)),
			 "port %u named wrong", c.id);
	else
		FZ_CHECK(len == sizeof(c), "event %u with %u bytes", c.event, len);
}

static void on_used(void *opaque, unsigned q, uint16_t head, uint32_t len)
{
	static uint8_t buf[0x10000];
	size_t got;

	(void)opaque;
	if (q == CTRL_RX) {
		check_ctrl_msg(head, len);
	} else if (q == CTRL_TX) {
		if (h.closes_signal[head])
			stream_resync(&h.sig);
	} else if (q == rx_queue(0) || q == rx_queue(3)) {
		got = vd_read_back(&d, q, head, buf, len < sizeof(buf) ? len : sizeof(buf));
		stream_seen(q == 0 ? &h.in : &h.sig, buf, got, q == 0 ? "stdin" : "signal port");
	} else if (q == tx_queue(1) || q == tx_queue(2)) {
		unsigned p = q == tx_queue(1) ? 1 : 2;

		FZ_CHECK(len == 0, "output chain given back with %u bytes written", len);
		h.returned[p] += h.chain_len[p][head];
	} else {
		/* Port 0 and 3 output is dropped; ports 1 and 2 take no input. */
		FZ_CHECK(q != rx_queue(1) && q != rx_queue(2), "input buffer on output port used");
		FZ_CHECK(len == 0, "queue %u gave back %u bytes", q, len);
	}
}

static void ctrl(struct fz *f)
{
	uint8_t pick = fz_u8(f);
	struct virtio_console_control c = {
		.id = pick & 0x80 ? fz_u32(f) : pick % (NPORTS + 1),
		.event = fz_u8(f) % 9,
		.value = fz_u8(f) % 3,
	};
	struct vd_seg seg = { &c, sizeof(c), false };
	int head = vd_post(&d, CTRL_TX, &seg, 1, pick & 0x20);

	if (head < 0)
		return;
	h.closes_signal[head] = c.id == 3 && c.event == VIRTIO_CONSOLE_PORT_OPEN && c.value == 0;
	if (!(pick & 0x40))
		vd_kick(&d, CTRL_TX);
}

static void buffers(struct fz *f, unsigned q)
{
	uint8_t shape = fz_u8(f);

	for (unsigned i = 0; i <= (shape & 3u); i++) {
		struct vd_seg segs[2];
		uint32_t len = shape & 0x10 ? fz_u16(f) % 8192 : fz_u8(f) % 64;
		unsigned n = shape & 0x08 ? 2 : 1;

		segs[0] = (struct vd_seg){ NULL, n == 2 ? len / 2 : len, true };
		segs[1] = (struct vd_seg){ NULL, len - len / 2, true };
		vd_post(&d, q, segs, n, shape & 0x20);
	}
	if (!(shape & 0x40))
		vd_kick(&d, q);
}

static void output(struct fz *f)
{
	uint8_t shape = fz_u8(f);
	unsigned port = shape % NPORTS, q = tx_queue(port);
	size_t len = shape & 0x10 ? fz_u16(f) % 8192 : fz_u8(f);
	const uint8_t *data = fz_bytes(f, &len);
	struct vd_seg segs[3];
	unsigned n = 1 + ((shape >> 2) & 3u) % 3;

	for (unsigned i = 0, at = 0; i < n; i++) {
		uint32_t part = i + 1 == n ? (uint32_t)(len - at) : (uint32_t)(len / n);

		segs[i] = (struct vd_seg){ data + at, part, false };
		at += part;
	}
	int head = vd_post(&d, q, segs, n, shape & 0x20);
	if (head < 0)
		return;
	if (port == 1 || port == 2) {
		stream_send(&h.out[port], data, len);
		h.chain_len[port][head] = (uint32_t)len;
	}
	if (!(shape & 0x40))
		vd_kick(&d, q);
}

static void stdin_bytes(struct fz *f)
{
	uint8_t shape = fz_u8(f);
	size_t len = shape & 0x7f;
	const uint8_t *data = fz_bytes(f, &len);

	if (h.in_w < 0)
		return;
	if (shape & 0x80) {
		close(h.in_w); /* EOF */
		h.in_w = -1;
		return;
	}
	ssize_t n = write(h.in_w, data, len);
	if (n > 0)
		stream_send(&h.in, data, (size_t)n);
}

static void reader(struct fz *f)
{
	uint8_t what = fz_u8(f);
	unsigned p = 1 + (what & 1);

	if ((what & 0x80) && h.out_r[p] >= 0 && !h.out_file[p]) {
		read_outputs();
		close(h.out_r[p]); /* the reader went away: EPIPE from now on */
		h.out_r[p] = -1;
		h.out[p].off = true;
		return;
	}
	read_outputs();
}

static void signal_msg(struct fz *f)
{
	size_t len = fz_u8(f) % 64;
	const uint8_t *data = fz_bytes(f, &len);

	if (nb_console_send_signal_msg(con, data, len))
		stream_send(&h.sig, data, len);
}

static void step(struct fz *f, unsigned op)
{
	uint16_t before[3] = { d.q[tx_queue(1)].avail_idx, d.q[tx_queue(2)].avail_idx,
			       d.q[CTRL_TX].avail_idx };

	switch (op) {
	case FZ_NOPS + 0:
		ctrl(f);
		break;
	case FZ_NOPS + 1:
		buffers(f, CTRL_RX);
		break;
	case FZ_NOPS + 2:
		output(f);
		break;
	case FZ_NOPS + 3:
		buffers(f, rx_queue(fz_u8(f) % NPORTS));
		break;
	case FZ_NOPS + 4:
		stdin_bytes(f);
		break;
	case FZ_NOPS + 5:
		fz_serve_events(&loop, 0);
		break;
	case FZ_NOPS + 6:
		reader(f);
		break;
	case FZ_NOPS + 7:
		signal_msg(f);
		break;
	default:
		fz_virtio_op(f, &d, op);
		/* Chains the model does not know the bytes of. */
		h.out[1].off |= d.q[tx_queue(1)].avail_idx != before[0];
		h.out[2].off |= d.q[tx_queue(2)].avail_idx != before[1];
		h.sig.off |= d.q[CTRL_TX].avail_idx != before[2];
		if (op == FZ_OP_PROBE || op == FZ_OP_RESET) {
			/* A reset drops what the device held: half-written
			 * output, queued signal messages. */
			read_outputs();
			stream_resync(&h.out[1]);
			stream_resync(&h.out[2]);
			stream_resync(&h.sig);
		}
		break;
	}
	if (d.hostile)
		h.out[1].off = h.out[2].off = h.in.off = h.sig.off = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static struct nb_virtio_mmio m;
	struct nb_err err = { 0 };
	struct fz f = { data, size };
	const char *why = NULL;

	init_once();
	if (!ram && !(ram = malloc(VD_RAM_SIZE)))
		abort();
	memset(&h, 0, sizeof(h));
	uint8_t kinds = fz_u8(&f);
	size_t flen = fz_u8(&f);
	const uint8_t *file = fz_bytes(&f, &flen);
	struct nb_console_opts opts = {
		.stdin_fd = open_input(kinds % 3, file, flen),
		.stdout_fd = open_output(1, (kinds >> 2) & 3, kinds & 0x40),
		.stderr_fd = open_output(2, (kinds >> 4) & 3, kinds & 0x80),
	};
	h.out[1].off = h.out_none[1];
	h.out[2].off = h.out_none[2];
	con = nb_console_new(&loop, &opts, &err);
	if (!con)
		abort();
	vd_init(&d, ram);
	if (nb_virtio_mmio_init(&m, nb_console_dev(con), &d.mem, &err) < 0)
		abort();
	vd_attach(&d, &m);
	for (unsigned steps = 0; fz_more(&f) && steps < 256; steps++) {
		step(&f, fz_u8(&f) % (FZ_NOPS + 8));
		for (unsigned q = 0; q < d.nqueues; q++)
			FZ_CHECK(vd_reap(&d, q, on_used, NULL, &why), "queue %u: %s", q, why);
	}
	/* Exit: the reader goes (pipes), then everything queued is written. */
	read_outputs();
	for (unsigned p = 1; p < 3; p++)
		if (h.out_r[p] >= 0 && !h.out_file[p]) {
			close(h.out_r[p]);
			h.out_r[p] = -1;
		}
	nb_console_drain(con);
	read_outputs();
	fz_unwatch_all(&loop);
	nb_virtio_mmio_destroy(&m);
	pthread_mutex_destroy(&m.dev->lock);
	int fds[] = {
		opts.stdin_fd, opts.stdout_fd, opts.stderr_fd, h.in_w, h.out_r[1], h.out_r[2]
	};
	for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(con);
	return 0;
}
