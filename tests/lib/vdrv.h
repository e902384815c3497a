/* A virtio driver played by tests and fuzzers through the virtio-mmio
 * register file, the way Linux's virtio_mmio driver does it: reset,
 * ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK, queue setup,
 * DRIVER_OK; then descriptor chains posted in a test guest-RAM buffer,
 * QueueNotify, and the used rings read back and checked.
 *
 * Layout: queue q's rings at VD_RING(q) (descriptors; avail at +0x1000;
 * used at +0x2000), buffers and indirect tables carved from VD_DATA on,
 * wrapping at the end of RAM. The driver keeps its own record of what it
 * posted (a free list, each chain's descriptors and writable bytes), so
 * what the device hands back is checked against that, never against
 * guest RAM the device could have scribbled on.
 */
#ifndef NESTBOX_TESTS_VDRV_H
#define NESTBOX_TESTS_VDRV_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "vmm/virtio/mmio.h"

#define VD_RAM_SIZE (1u << 20)
#define VD_RING(q) (0x4000u * ((q) + 1u))
#define VD_DATA VD_RING(NB_VIRTIO_MAX_QUEUES)
#define VD_MAX_SEGS 16u

struct vd_queue {
	uint16_t size; /* 0: not set up */
	uint16_t avail_idx, used_seen;
	unsigned nfree, inflight;          /* free descriptors, posted chains */
	bool busy[NB_VIRTQ_MAX_SIZE];      /* descriptor in a posted chain */
	bool head[NB_VIRTQ_MAX_SIZE];      /* ...which is a chain's head */
	uint16_t next[NB_VIRTQ_MAX_SIZE];  /* the chain as posted */
	uint16_t ndesc[NB_VIRTQ_MAX_SIZE]; /* descriptors in the chain at head */
	uint64_t wlen[NB_VIRTQ_MAX_SIZE];  /* writable bytes of the chain at head */
	uint64_t ext_start[NB_VIRTQ_MAX_SIZE], ext_end[NB_VIRTQ_MAX_SIZE]; /* its buffers */
};

struct vd {
	uint8_t *ram; /* VD_RAM_SIZE bytes */
	struct nb_guest_mem mem;
	struct nb_virtio_mmio *m;
	uint64_t features; /* what the driver wrote */
	unsigned nqueues;  /* set up by vd_probe() */
	struct vd_queue q[NB_VIRTIO_MAX_QUEUES];
	uint64_t data_next;
	/* The driver broke the rules itself (wrote queue registers or rings
	 * behind its own back): the used-ring checks are off until the
	 * next vd_probe(). */
	bool hostile;
};

struct vd_seg {
	const void *data; /* readable segments: len bytes to put there (NULL: zeroes) */
	uint32_t len;
	bool writable;
};

/* ram: VD_RAM_SIZE bytes; it is zeroed. Then nb_virtio_mmio_init(m, dev,
 * &d->mem, ...) and vd_attach(). */
static inline void vd_init(struct vd *d, uint8_t *ram)
{
	memset(d, 0, sizeof(*d));
	memset(ram, 0, VD_RAM_SIZE);
	d->ram = ram;
	d->data_next = VD_DATA;
	nb_mem_layout(&d->mem, ram, VD_RAM_SIZE);
}

static inline void vd_attach(struct vd *d, struct nb_virtio_mmio *m)
{
	d->m = m;
}

static inline uint32_t vd_rd(struct vd *d, uint64_t off)
{
	uint32_t v;

	nb_virtio_mmio_io(d->m, off, (uint8_t *)&v, 4, false);
	return v;
}

static inline void vd_wr(struct vd *d, uint64_t off, uint32_t v)
{
	nb_virtio_mmio_io(d->m, off, (uint8_t *)&v, 4, true);
}

/* The event thread's part: if QueueNotify (or a status change) kicked
 * the device, run nb_virtio_process() as the notify handler would.
 * Returns whether it ran. */
static inline bool vd_process(struct vd *d)
{
	uint64_t count;

	if (read(d->m->notify_fd, &count, sizeof(count)) != sizeof(count))
		return false;
	nb_virtio_process(d->m->dev);
	return true;
}

static inline uint64_t vd_offered(struct vd *d)
{
	vd_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t hi = vd_rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
	vd_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return hi << 32 | vd_rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
}

/* Status 0, and wait for the reset to finish as a driver does. */
static inline void vd_reset(struct vd *d)
{
	vd_wr(d, VIRTIO_MMIO_STATUS, 0);
	if (vd_rd(d, VIRTIO_MMIO_STATUS) != 0)
		vd_process(d);
	memset(d->q, 0, sizeof(d->q[0]) * d->nqueues); /* the others were never set up */
	d->nqueues = 0;
	d->hostile = false;
}

/* Set up queue q with `size` entries (clipped to QueueNumMax, rounded
 * down to a power of 2). Returns false if the device has no such queue
 * or refused it. */
static inline bool vd_setup_queue(struct vd *d, unsigned q, uint16_t size)
{
	struct vd_queue *vq = &d->q[q];
	uint32_t max;

	vd_wr(d, VIRTIO_MMIO_QUEUE_SEL, q);
	max = vd_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0)
		return false;
	if (size == 0 || size > max)
		size = (uint16_t)max;
	while (size & (size - 1))
		size &= (uint16_t)(size - 1);
	memset(d->ram + VD_RING(q), 0, 0x4000);
	memset(vq, 0, sizeof(*vq));
	vd_wr(d, VIRTIO_MMIO_QUEUE_NUM, size);
	vd_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, VD_RING(q));
	vd_wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	vd_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, VD_RING(q) + 0x1000);
	vd_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	vd_wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, VD_RING(q) + 0x2000);
	vd_wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	vd_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	if (!vd_rd(d, VIRTIO_MMIO_QUEUE_READY))
		return false;
	vq->size = size;
	vq->nfree = size;
	return true;
}

/* Reset, negotiate exactly `features` (the caller decides whether to
 * stay within vd_offered()), set up every queue with qsize entries
 * (0: QueueNumMax) and set DRIVER_OK. Returns whether the device
 * accepted it all (FEATURES_OK and DRIVER_OK read back). */
static inline bool vd_probe(struct vd *d, uint64_t features, uint16_t qsize)
{
	uint32_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE;

	vd_reset(d);
	vd_wr(d, VIRTIO_MMIO_STATUS, s);
	s |= VIRTIO_CONFIG_S_DRIVER;
	vd_wr(d, VIRTIO_MMIO_STATUS, s);
	vd_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vd_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	vd_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vd_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	d->features = features;
	s |= VIRTIO_CONFIG_S_FEATURES_OK;
	vd_wr(d, VIRTIO_MMIO_STATUS, s);
	if (!(vd_rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK))
		return false;
	while (d->nqueues < NB_VIRTIO_MAX_QUEUES && vd_setup_queue(d, d->nqueues, qsize))
		d->nqueues++;
	s |= VIRTIO_CONFIG_S_DRIVER_OK;
	vd_wr(d, VIRTIO_MMIO_STATUS, s);
	return vd_rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK;
}

static inline uint64_t vd_align(uint64_t n)
{
	return (n + 15) & ~15ull;
}

/* Guest address of len bytes of buffer space that overlaps no chain in
 * flight (so what the device reads later is what was posted), or 0. */
static inline uint64_t vd_alloc(struct vd *d, uint64_t len)
{
	uint64_t at = d->data_next;
	bool wrapped = false;

	for (;;) {
		if (at + len > VD_RAM_SIZE) {
			if (wrapped)
				return 0;
			wrapped = true;
			at = VD_DATA;
		}
		uint64_t past = 0;
		for (unsigned q = 0; q < d->nqueues && !past; q++)
			for (unsigned h = 0; h < d->q[q].size && !past; h++)
				if (d->q[q].head[h] && at < d->q[q].ext_end[h] &&
				    d->q[q].ext_start[h] < at + len)
					past = d->q[q].ext_end[h];
		if (!past) {
			d->data_next = vd_align(at + len);
			return at;
		}
		at = vd_align(past);
	}
}

static inline void vd_write_desc(uint8_t *at, uint64_t addr, uint32_t len, uint16_t flags,
				 uint16_t next)
{
	memcpy(at, &addr, 8);
	memcpy(at + 8, &len, 4);
	memcpy(at + 12, &flags, 2);
	memcpy(at + 14, &next, 2);
}

/* Post a chain of n segments on queue q (readable ones first, as the
 * spec wants; the walker refuses other orders). With `indirect`, the
 * segments go in an indirect table behind one descriptor. Returns the
 * head, or -1 if the queue is not set up or has too few free
 * descriptors. The caller kicks (vd_kick). */
static inline int vd_post(struct vd *d, unsigned q, const struct vd_seg *segs, unsigned n,
			  bool indirect)
{
	struct vd_queue *vq = &d->q[q];
	unsigned need = indirect ? 1 : n;
	uint16_t idx[VD_MAX_SEGS];
	uint64_t wlen = 0, total = indirect ? 16u * n : 0, at;

	if (q >= d->nqueues || n == 0 || n > VD_MAX_SEGS || need > vq->nfree ||
	    (indirect && n > vq->size))
		return -1;
	for (unsigned i = 0; i < n; i++)
		total += vd_align(segs[i].len);
	at = vd_alloc(d, total);
	if (!at)
		return -1;
	for (unsigned i = 0, slot = 0; i < need; slot++)
		if (!vq->busy[slot])
			idx[i++] = (uint16_t)slot;
	uint8_t *table = d->ram + VD_RING(q);
	uint64_t gpa = at;
	if (indirect) {
		vd_write_desc(table + 16u * idx[0], gpa, 16u * n, VRING_DESC_F_INDIRECT, 0);
		table = d->ram + gpa;
		gpa += 16u * n;
	}
	for (unsigned i = 0; i < n; i++) {
		uint16_t flags = (uint16_t)((segs[i].writable ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0));
		uint16_t next = indirect ? (uint16_t)(i + 1) : (i + 1 < n ? idx[i + 1] : 0);

		if (segs[i].data && !segs[i].writable)
			memcpy(d->ram + gpa, segs[i].data, segs[i].len);
		else
			memset(d->ram + gpa, 0, segs[i].len);
		vd_write_desc(table + 16u * (indirect ? i : idx[i]), gpa, segs[i].len, flags, next);
		if (segs[i].writable)
			wlen += segs[i].len;
		gpa += vd_align(segs[i].len);
	}
	for (unsigned i = 0; i < need; i++) {
		vq->busy[idx[i]] = true;
		vq->next[idx[i]] = i + 1 < need ? idx[i + 1] : 0;
	}
	vq->nfree -= need;
	vq->inflight++;
	vq->head[idx[0]] = true;
	vq->ndesc[idx[0]] = (uint16_t)need;
	vq->wlen[idx[0]] = wlen;
	vq->ext_start[idx[0]] = at;
	vq->ext_end[idx[0]] = at + total;
	uint8_t *avail = d->ram + VD_RING(q) + 0x1000;
	memcpy(avail + 4 + 2u * (vq->avail_idx % vq->size), &idx[0], 2);
	vq->avail_idx++;
	__atomic_store_n((uint16_t *)(avail + 2), vq->avail_idx, __ATOMIC_RELEASE);
	return idx[0];
}

/* QueueNotify for q, then the event thread's turn. */
static inline void vd_kick(struct vd *d, unsigned q)
{
	vd_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
	vd_process(d);
}

/* The device's writes to the used ring of q since the last call, checked
 * against what was posted: each id the head of a chain the device holds,
 * each length within that chain's writable bytes, the index moved by no
 * more than what the device holds. cb (may be NULL) sees each entry.
 * Returns false, with *why set, on the first violation; skips the checks
 * (returning true) once the driver itself went hostile. */
typedef void vd_used_fn(void *opaque, unsigned q, uint16_t head, uint32_t len);

static inline bool vd_reap(struct vd *d, unsigned q, vd_used_fn *cb, void *opaque, const char **why)
{
	struct vd_queue *vq = &d->q[q];
	const uint8_t *used = d->ram + VD_RING(q) + 0x2000;
	uint16_t idx = __atomic_load_n((const uint16_t *)(used + 2), __ATOMIC_ACQUIRE);

	if (d->hostile || q >= d->nqueues)
		return true;
	if ((uint16_t)(idx - vq->used_seen) > vq->inflight) {
		*why = "used idx moved past what the device holds";
		return false;
	}
	while (vq->used_seen != idx) {
		uint32_t id, len;
		const uint8_t *e = used + 4 + 8u * (vq->used_seen++ % vq->size);

		memcpy(&id, e, 4);
		memcpy(&len, e + 4, 4);
		if (id >= vq->size || !vq->head[id]) {
			*why = "used id is not a chain the device holds";
			return false;
		}
		if (len > vq->wlen[id]) {
			*why = "used length beyond the chain's writable bytes";
			return false;
		}
		if (cb)
			cb(opaque, q, (uint16_t)id, len);
		vq->head[id] = false;
		for (unsigned i = 0, at = id; i < vq->ndesc[id]; i++, at = vq->next[at])
			vq->busy[at] = false;
		vq->nfree += vq->ndesc[id];
		vq->inflight--;
	}
	return true;
}

/* Copy up to max bytes of the writable part of the chain at head (as
 * posted) out of guest RAM; returns the bytes copied. Trusts only the
 * driver's record and bounds every address by RAM. */
static inline size_t vd_read_back(struct vd *d, unsigned q, uint16_t head, void *dst, size_t max)
{
	const uint8_t *table = d->ram + VD_RING(q);
	unsigned n = d->q[q].ndesc[head], at = head;
	size_t done = 0;
	uint64_t addr;
	uint32_t len;
	uint16_t flags;

	memcpy(&flags, table + 16u * head + 12, 2);
	if (flags & VRING_DESC_F_INDIRECT) {
		memcpy(&addr, table + 16u * head, 8);
		memcpy(&len, table + 16u * head + 8, 4);
		if (addr > VD_RAM_SIZE || len > VD_RAM_SIZE - addr)
			return 0;
		table = d->ram + addr;
		n = len / 16;
		at = 0;
	}
	for (unsigned i = 0; i < n && done < max; i++) {
		const uint8_t *desc = table + 16u * at;

		memcpy(&addr, desc, 8);
		memcpy(&len, desc + 8, 4);
		memcpy(&flags, desc + 12, 2);
		if ((flags & VRING_DESC_F_WRITE) && addr <= VD_RAM_SIZE &&
		    len <= VD_RAM_SIZE - addr) {
			size_t chunk = len < max - done ? len : max - done;

			memcpy((uint8_t *)dst + done, d->ram + addr, chunk);
			done += chunk;
		}
		at = table == d->ram + VD_RING(q) ? d->q[q].next[at] : at + 1;
	}
	return done;
}

#endif
