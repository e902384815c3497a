/* Shared by the libFuzzer targets over the VMM's devices: the input read
 * as a stream of little-endian values, the event thread's turn on an
 * event loop, and the guest-driver operations every virtio target
 * accepts (tests/lib/vdrv.h plays the driver). A target reads an op byte,
 * runs one of these or one of its own, and checks its oracles after each
 * (FZ_CHECK, fuzz_check.h).
 */
#ifndef NESTBOX_TESTS_FUZZ_H
#define NESTBOX_TESTS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "fuzz_check.h"
#include "lib/vdrv.h"
#include "vmm/kvm/event.h"

/* ---- the input ------------------------------------------------------------ */

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline bool fz_more(const struct fz *f)
{
	return f->n > 0;
}

/* Next `bytes` bytes as a little-endian number; missing bytes read 0. */
static inline uint64_t fz_uint(struct fz *f, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && f->n; i++, f->p++, f->n--)
		v |= (uint64_t)*f->p << (8 * i);
	return v;
}

static inline uint8_t fz_u8(struct fz *f)
{
	return (uint8_t)fz_uint(f, 1);
}
static inline uint16_t fz_u16(struct fz *f)
{
	return (uint16_t)fz_uint(f, 2);
}
static inline uint32_t fz_u32(struct fz *f)
{
	return (uint32_t)fz_uint(f, 4);
}
static inline uint64_t fz_u64(struct fz *f)
{
	return fz_uint(f, 8);
}

/* Up to *len next bytes (fewer when the input runs out: *len says). */
static inline const uint8_t *fz_bytes(struct fz *f, size_t *len)
{
	const uint8_t *p = f->p;

	if (*len > f->n)
		*len = f->n;
	f->p += *len;
	f->n -= *len;
	return p;
}

/* ---- the event thread --------------------------------------------------------- */

/* One turn of the event thread: call the handler of every descriptor in
 * loop's epoll set that is ready within timeout_ms (as nb_event_serve()
 * does; 0: ready now). */
static inline void fz_serve_events(struct nb_event_loop *loop, int timeout_ms)
{
	struct epoll_event ev[NB_EVENT_MAX_HANDLERS];
	int n = epoll_wait(loop->epoll_fd, ev, NB_EVENT_MAX_HANDLERS, timeout_ms);

	for (int i = 0; i < n; i++)
		for (unsigned h = 0; h < loop->nhandlers; h++)
			if (loop->handlers[h].fd == ev[i].data.fd) {
				loop->handlers[h].fn(loop->handlers[h].opaque, ev[i].data.fd,
						     ev[i].events);
				break;
			}
}

/* Forget every watched descriptor (between inputs, before closing them). */
static inline void fz_unwatch_all(struct nb_event_loop *loop)
{
	while (loop->nhandlers)
		nb_event_remove(loop, loop->handlers[0].fd);
}

/* ---- guest-driver operations ------------------------------------------------------ */

enum {
	FZ_OP_PROBE, /* the whole driver init, with fuzzed features and queue size */
	FZ_OP_RESET, /* status 0 and wait */
	FZ_OP_CHAIN, /* a chain of fuzzed segments on a queue, kicked */
	FZ_OP_KICK,  /* QueueNotify (or a spurious event-thread turn) */
	FZ_OP_REG,   /* one aligned 32-bit register access */
	FZ_OP_IO,    /* any access in the 4 KiB slot: offset, width 1..8 */
	FZ_OP_POKE,  /* bytes written anywhere in guest RAM */
	FZ_NOPS
};

/* Registers whose writes leave the driver's own record behind. */
static inline bool fz_reg_is_setup(uint64_t off)
{
	return off < VIRTIO_MMIO_CONFIG && off != VIRTIO_MMIO_QUEUE_NOTIFY &&
	       off != VIRTIO_MMIO_INTERRUPT_ACK && off != VIRTIO_MMIO_QUEUE_SEL &&
	       off != VIRTIO_MMIO_DEVICE_FEATURES_SEL && off != VIRTIO_MMIO_DRIVER_FEATURES_SEL;
}

static inline void fz_op_chain(struct fz *f, struct vd *d)
{
	struct vd_seg segs[4];
	uint8_t shape = fz_u8(f);
	unsigned q = fz_u8(f) % (d->nqueues ? d->nqueues : 1), n = 1 + (shape & 3);
	unsigned nread = ((shape >> 2) & 7u) % (n + 1);

	for (unsigned i = 0; i < n; i++) {
		size_t len = fz_u16(f) % 2048;

		segs[i] = (struct vd_seg){ .len = (uint32_t)len, .writable = i >= nread };
		if (!segs[i].writable) {
			segs[i].data = fz_bytes(f, &len);
			segs[i].len = (uint32_t)len;
		}
	}
	if (vd_post(d, q, segs, n, shape & 0x20) >= 0 && !(shape & 0x40))
		vd_kick(d, q);
}

static inline void fz_virtio_op(struct fz *f, struct vd *d, unsigned op)
{
	uint8_t data[8] = { 0 };
	uint64_t off, features;
	uint8_t mode;
	size_t len;

	switch (op) {
	case FZ_OP_PROBE:
		mode = fz_u8(f);
		features = fz_u64(f);
		if (mode & 1)
			features &= vd_offered(d);
		if (mode & 2)
			features |= NB_VIRTIO_F_VERSION_1;
		vd_probe(d, features, mode & 4 ? (uint16_t)(1u << (mode >> 4)) : 0);
		break;
	case FZ_OP_RESET:
		vd_reset(d);
		break;
	case FZ_OP_CHAIN:
		fz_op_chain(f, d);
		break;
	case FZ_OP_KICK:
		mode = fz_u8(f);
		if (mode & 0x80)
			nb_virtio_process(d->m->dev); /* the event thread may run any time */
		else
			vd_kick(d, mode);
		break;
	case FZ_OP_REG:
		mode = fz_u8(f);
		off = (mode & 0x3fu) * 4u;
		if (mode & 0x80) {
			vd_wr(d, off, fz_u32(f));
			d->hostile |= fz_reg_is_setup(off);
		} else {
			vd_rd(d, off);
		}
		break;
	case FZ_OP_IO:
		mode = fz_u8(f);
		off = fz_u16(f) % NB_VIRTIO_MMIO_SLOT_SIZE;
		len = 1 + (mode & 7);
		memcpy(data, f->p, f->n < 8 ? f->n : 8);
		fz_uint(f, 8);
		nb_virtio_mmio_io(d->m, off, data, (uint32_t)len, mode & 0x80);
		if (mode & 0x80)
			d->hostile |= fz_reg_is_setup(off);
		break;
	case FZ_OP_POKE:
		off = fz_u32(f) % VD_RAM_SIZE;
		len = fz_u8(f);
		if (len > VD_RAM_SIZE - off)
			len = VD_RAM_SIZE - off;
		const uint8_t *bytes = fz_bytes(f, &len);
		memcpy(d->ram + off, bytes, len);
		d->hostile = true;
		break;
	}
}

#endif
