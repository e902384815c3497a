/* Crafting split virtqueues in a test guest-memory buffer (unit tests and
 * fuzzers). Layout: descriptor table at VR_DESC, avail at VR_AVAIL, used
 * at VR_USED, free space for indirect tables and data from VR_DATA. */
#ifndef NESTBOX_TESTS_VRING_H
#define NESTBOX_TESTS_VRING_H

#include <stdint.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "vmm/kvm/memory.h"
#include "vmm/virtio/virtio.h"

#define VR_DESC 0x1000u
#define VR_AVAIL 0x2000u
#define VR_USED 0x3000u
#define VR_DATA 0x4000u

struct vr {
	struct nb_guest_mem mem;
	uint8_t *ram;
	uint64_t ram_size;
	struct nb_virtq q;
	uint16_t avail_idx;
};

static inline void vr_desc_at(struct vr *v, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
			      uint16_t flags, uint16_t next)
{
	uint8_t *d = v->ram + table + 16u * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static inline void vr_desc(struct vr *v, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
			   uint16_t next)
{
	vr_desc_at(v, VR_DESC, i, addr, len, flags, next);
}

/* Put head in the avail ring and publish it. */
static inline void vr_avail(struct vr *v, uint16_t head)
{
	uint16_t slot = v->avail_idx % v->q.size;

	memcpy(v->ram + VR_AVAIL + 4 + 2u * slot, &head, 2);
	v->avail_idx++;
	memcpy(v->ram + VR_AVAIL + 2, &v->avail_idx, 2);
}

static inline void vr_set_avail_idx(struct vr *v, uint16_t idx)
{
	v->avail_idx = idx;
	memcpy(v->ram + VR_AVAIL + 2, &idx, 2);
}

static inline uint16_t vr_used_idx(const struct vr *v)
{
	uint16_t idx;

	memcpy(&idx, v->ram + VR_USED + 2, 2);
	return idx;
}

static inline void vr_used_elem(const struct vr *v, uint16_t slot, uint32_t *id, uint32_t *len)
{
	memcpy(id, v->ram + VR_USED + 4 + 8u * slot, 4);
	memcpy(len, v->ram + VR_USED + 4 + 8u * slot + 4, 4);
}

/* ram must be ram_size bytes (>= 64 KiB), zeroed. */
static inline int vr_init(struct vr *v, uint8_t *ram, uint64_t ram_size, uint16_t size)
{
	memset(v, 0, sizeof(*v));
	v->ram = ram;
	v->ram_size = ram_size;
	nb_mem_layout(&v->mem, ram, ram_size);
	v->q.mem = &v->mem;
	v->q.max_size = NB_VIRTQ_MAX_SIZE;
	v->q.size = size;
	v->q.desc_gpa = VR_DESC;
	v->q.avail_gpa = VR_AVAIL;
	v->q.used_gpa = VR_USED;
	return nb_virtq_enable(&v->q);
}

#endif
