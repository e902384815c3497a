/* libFuzzer: virtio-balloon (vmm/virtio/balloon.c) behind the mmio
 * transport, driven by a guest driver (tests/lib/vdrv.h) whose steps the
 * input picks: the generic ones (fuzz.h) plus raw descriptors with any
 * guest address and length on any queue (free page reports, page-number
 * lists pointing anywhere) and host target changes. Guest RAM sits between
 * two guard pages the device must never discard: after every step they
 * still hold their pattern, and what the device says it gave back fits
 * in RAM.
 * Covers: vmm/virtio/balloon.c, nb_mem_discard in vmm/kvm/memory.c */
#include <endian.h>
#include <sys/mman.h>

#include "fuzz/fuzz.h"
#include "vmm/virtio/balloon.h"

#define PAGE 4096u
#define GUARD 0x5a
#define FZ_OP_RAW FZ_NOPS          /* raw descriptors on a queue, kicked */
#define FZ_OP_TARGET (FZ_NOPS + 1) /* the host changes num_pages */
#define NOPS (FZ_NOPS + 2)

static void op_raw(struct fz *f, struct vd *d)
{
	unsigned q = fz_u8(f) % NB_BALLOON_NQUEUES, n = 1 + fz_u8(f) % 8;
	uint8_t *desc = d->ram + VD_RING(q), *avail = desc + 0x1000;
	uint16_t idx, head = fz_u8(f) % 64;

	for (unsigned i = 0; i < n; i++) {
		uint64_t addr = fz_u8(f) & 1 ? fz_u64(f) : (uint64_t)fz_u16(f) * 16u;
		uint32_t len = fz_u8(f) & 1 ? fz_u32(f) : (uint32_t)fz_u8(f) * PAGE;
		uint16_t flags = (uint16_t)(fz_u8(f) & 7);

		vd_write_desc(desc + 16u * ((head + i) % 64u), addr, len, flags,
			      (uint16_t)((head + i + 1) % 64u));
	}
	memcpy(&idx, avail + 2, 2);
	memcpy(avail + 4 + 2u * (idx % 64u), &head, 2);
	idx++;
	__atomic_store_n((uint16_t *)(avail + 2), idx, __ATOMIC_RELEASE);
	d->hostile = true;
	vd_kick(d, q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *map;
	static struct nb_balloon b;
	static struct nb_virtio_mmio m;
	struct nb_err err = { 0 };
	struct fz f = { data, size };
	struct vd d;

	if (!map) {
		map = mmap(NULL, VD_RAM_SIZE + 2 * PAGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED)
			abort();
	}
	memset(map, GUARD, PAGE);
	memset(map + PAGE + VD_RAM_SIZE, GUARD, PAGE);
	vd_init(&d, map + PAGE);
	nb_balloon_init(&b);
	if (nb_virtio_mmio_init(&m, &b.vdev, &d.mem, &err) < 0)
		abort();
	vd_attach(&d, &m);
	for (unsigned steps = 0; fz_more(&f) && steps < 256; steps++) {
		unsigned op = fz_u8(&f) % NOPS;

		if (op == FZ_OP_RAW)
			op_raw(&f, &d);
		else if (op == FZ_OP_TARGET)
			nb_balloon_set_target(&b, fz_u64(&f), &err);
		else
			fz_virtio_op(&f, &d, op);
		for (unsigned i = 0; i < PAGE; i++)
			FZ_CHECK(map[i] == GUARD && map[PAGE + VD_RAM_SIZE + i] == GUARD,
				 "a guard page byte %u changed", i);
		FZ_CHECK(le32toh(b.config.num_pages) <= VD_RAM_SIZE / PAGE, "target %u pages",
			 le32toh(b.config.num_pages));
	}
	nb_virtio_mmio_destroy(&m);
	pthread_mutex_destroy(&m.dev->lock);
	return 0;
}
