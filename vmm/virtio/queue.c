/* Split virtqueues (virtio 1.1, 2.6) walked against a hostile driver: every
 * index is checked against the queue size, every address and length
 * against guest RAM (nb_gpa_ptr), chains are bounded by the queue size (so
 * loops end), and each descriptor is read once into a local copy so the
 * guest cannot change it between check and use. */
#include "vmm/virtio/virtio.h"

#include <stdio.h>
#include <string.h>

#include <linux/virtio_ring.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtio 1.x rings are little endian");

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct desc) == 16, "virtq_desc is 16 bytes");

#define AVAIL_RING_OFF 4u
#define USED_RING_OFF 4u
#define USED_ELEM_SIZE 8u

static uint64_t desc_bytes(uint16_t size)
{
	return 16ull * size;
}
static uint64_t avail_bytes(uint16_t size)
{
	return 6ull + 2ull * size;
}
static uint64_t used_bytes(uint16_t size)
{
	return 6ull + 8ull * size;
}

static bool power_of_2(uint16_t n)
{
	return n && !(n & (n - 1));
}

void nb_virtq_reset(struct nb_virtq *q)
{
	const struct nb_guest_mem *mem = q->mem;
	uint16_t max = q->max_size;

	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->max_size = max;
}

int nb_virtq_enable(struct nb_virtq *q)
{
	if (!power_of_2(q->size) || q->size > q->max_size || q->size > NB_VIRTQ_MAX_SIZE)
		return -1;
	/* virtio 1.1, 2.6: descriptor table 16-, avail 2-, used 4-aligned. */
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -1;
	q->desc = nb_gpa_ptr(q->mem, q->desc_gpa, desc_bytes(q->size));
	q->avail = nb_gpa_ptr(q->mem, q->avail_gpa, avail_bytes(q->size));
	q->used = nb_gpa_ptr(q->mem, q->used_gpa, used_bytes(q->size));
	if (!q->desc || !q->avail || !q->used)
		return -1;
	q->last_avail = q->used_idx = q->signalled_used = 0;
	q->signalled_valid = false;
	q->broken = false;
	q->ready = true;
	return 0;
}

static uint16_t load16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static void store16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
}

static int broken(struct nb_virtq *q, const char *why, unsigned value)
{
	q->broken = true;
	snprintf(q->why, sizeof(q->why), "%s (%u)", why, value);
	return -1;
}

bool nb_virtq_has_avail(struct nb_virtq *q)
{
	if (!q->ready || q->broken)
		return false;
	return load16(q->avail + 2) != q->last_avail;
}

/* One table the walker is in: the queue's own or an indirect one. */
struct table {
	const uint8_t *base;
	uint32_t size;
	bool indirect;
};

static int enter_indirect(struct nb_virtq *q, const struct desc *d, struct table *t)
{
	if (!q->indirect)
		return broken(q, "indirect descriptor without VIRTIO_F_INDIRECT_DESC", d->flags);
	if (t->indirect)
		return broken(q, "indirect descriptor inside an indirect table", d->flags);
	if (d->flags & VRING_DESC_F_NEXT)
		return broken(q, "indirect descriptor with NEXT set", d->flags);
	if (d->len == 0 || d->len % sizeof(struct desc) || d->len / sizeof(struct desc) > q->size)
		return broken(q, "indirect table length", d->len);
	t->base = nb_gpa_ptr(q->mem, d->addr, d->len);
	if (!t->base)
		return broken(q, "indirect table outside guest RAM", d->len);
	t->size = d->len / sizeof(struct desc);
	t->indirect = true;
	return 0;
}

static int add_segment(struct nb_virtq *q, const struct desc *d, struct nb_virtq_chain *c)
{
	bool writable = d->flags & VRING_DESC_F_WRITE;
	uint8_t *host;

	if (!writable && c->nwrite)
		return broken(q, "device-readable descriptor after a writable one", d->flags);
	if (d->len == 0)
		return 0; /* nothing to touch; the address is never followed */
	host = nb_gpa_ptr(q->mem, d->addr, d->len);
	if (!host)
		return broken(q, "descriptor outside guest RAM", d->len);
	c->segs[c->nread + c->nwrite] = (struct nb_virtq_seg){ host, d->len };
	if (writable) {
		c->nwrite++;
		c->write_len += d->len;
	} else {
		c->nread++;
		c->read_len += d->len;
	}
	return 0;
}

/* Follow the chain from head. At most q->size buffer descriptors in all
 * (direct plus indirect) and one indirect hop, which also ends any loop. */
static int walk(struct nb_virtq *q, uint16_t head, struct nb_virtq_chain *c)
{
	struct table t = { q->desc, q->size, false };
	uint32_t idx = head;
	unsigned seen = 0;

	memset(c, 0, offsetof(struct nb_virtq_chain, segs));
	c->head = head;
	for (;;) {
		struct desc d;

		if (idx >= t.size)
			return broken(q, "descriptor index out of range", idx);
		memcpy(&d, t.base + idx * sizeof(d), sizeof(d));
		/* The one indirect hop is not counted: a full-size table fits. */
		if (!(d.flags & VRING_DESC_F_INDIRECT) && ++seen > q->size)
			return broken(q, "descriptor chain longer than the queue (a loop?)", seen);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (enter_indirect(q, &d, &t) < 0)
				return -1;
			idx = 0;
			continue;
		}
		if (add_segment(q, &d, c) < 0)
			return -1;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		idx = d.next;
	}
}

int nb_virtq_pop(struct nb_virtq *q, struct nb_virtq_chain *chain)
{
	uint16_t avail_idx, pending, head;

	if (!q->ready || q->broken)
		return 0;
	avail_idx = load16(q->avail + 2); /* acquire: ring entries after it */
	pending = (uint16_t)(avail_idx - q->last_avail);
	if (pending == 0)
		return 0;
	if (pending > q->size)
		return broken(q, "avail idx moved by more than the queue size", pending);
	head = load16(q->avail + AVAIL_RING_OFF + 2u * (q->last_avail % q->size));
	if (walk(q, head, chain) < 0)
		return -1;
	q->last_avail++;
	if (q->event_idx)
		nb_virtq_arm_notify(q);
	return 1;
}

void nb_virtq_unpop(struct nb_virtq *q)
{
	q->last_avail--;
	/* With EVENT_IDX pop asked to be notified past this entry; the
	 * device's own timer brings it back, so ask for this one again. */
	if (q->event_idx)
		nb_virtq_arm_notify(q);
}

void nb_virtq_arm_notify(struct nb_virtq *q)
{
	if (q->ready && q->event_idx)
		store16(q->used + USED_RING_OFF + USED_ELEM_SIZE * q->size, q->last_avail);
}

void nb_virtq_push(struct nb_virtq *q, uint16_t head, uint32_t written)
{
	uint8_t *elem;
	uint32_t id = head;

	if (!q->ready || q->broken)
		return;
	elem = q->used + USED_RING_OFF + USED_ELEM_SIZE * (q->used_idx % q->size);
	memcpy(elem, &id, 4);
	memcpy(elem + 4, &written, 4);
	q->used_idx++;
	store16(q->used + 2, q->used_idx); /* release: the element before the index */
}

bool nb_virtq_need_signal(struct nb_virtq *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx;
	bool valid = q->signalled_valid;

	if (!q->ready)
		return false;
	/* The used idx store must be visible before we read the driver's
	 * suppression state, or we could miss its re-enable (2.6.7). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->signalled_used = now;
	q->signalled_valid = true;
	if (!q->event_idx)
		return !(load16(q->avail) & VRING_AVAIL_F_NO_INTERRUPT);
	uint16_t event = load16(q->avail + AVAIL_RING_OFF + 2u * q->size);
	return !valid || (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

/* ---- chain data ------------------------------------------------------- */

static size_t chain_copy(const struct nb_virtq_chain *c, bool writable, uint64_t offset,
			 uint8_t *buf, size_t len, bool to_guest)
{
	unsigned first = writable ? c->nread : 0, n = writable ? c->nwrite : c->nread;
	size_t done = 0;

	for (unsigned i = first; i < first + n && done < len; i++) {
		const struct nb_virtq_seg *s = &c->segs[i];

		if (offset >= s->len) {
			offset -= s->len;
			continue;
		}
		size_t chunk = s->len - offset;
		if (chunk > len - done)
			chunk = len - done;
		if (to_guest)
			memcpy(s->host + offset, buf + done, chunk);
		else
			memcpy(buf + done, s->host + offset, chunk);
		done += chunk;
		offset = 0;
	}
	return done;
}

size_t nb_virtq_chain_read(const struct nb_virtq_chain *c, uint64_t offset, void *dst, size_t len)
{
	return chain_copy(c, false, offset, dst, len, false);
}

size_t nb_virtq_chain_write(const struct nb_virtq_chain *c, uint64_t offset, const void *src,
			    size_t len)
{
	return chain_copy(c, true, offset, (uint8_t *)src, len, true);
}

unsigned nb_virtq_chain_iov(const struct nb_virtq_chain *c, bool writable, uint64_t offset,
			    uint64_t len, struct iovec *iov, unsigned max)
{
	unsigned first = writable ? c->nread : 0, n = writable ? c->nwrite : c->nread;
	unsigned count = 0;

	for (unsigned i = first; i < first + n && len; i++) {
		const struct nb_virtq_seg *s = &c->segs[i];

		if (offset >= s->len) {
			offset -= s->len;
			continue;
		}
		if (count == max)
			return 0;
		uint64_t chunk = s->len - offset;
		if (chunk > len)
			chunk = len;
		iov[count++] = (struct iovec){ s->host + offset, (size_t)chunk };
		len -= chunk;
		offset = 0;
	}
	return len ? 0 : count;
}
