/* libFuzzer: virtio-blk requests from a fuzzer-written guest RAM image,
 * through the whole device path (mmio transport, queue walk, request
 * parsing, preadv/pwritev on a 64 KiB memfd disk).
 *
 * Covers: vmm/virtio/blk.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "lib/vring.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/mmio.h"

#define RAM_SIZE (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct nb_blk blk;
static char disk[64];

static void open_disk(bool ro)
{
	static int memfd = -1;
	struct nb_err err = { 0 };
	struct nb_blk_opts opts = { .read_only = ro, .serial = "fuzz" };

	if (memfd < 0) {
		memfd = memfd_create("fuzz-disk", 0);
		if (memfd < 0 || ftruncate(memfd, 64 << 10) < 0)
			abort();
		snprintf(disk, sizeof(disk), "/proc/self/fd/%d", memfd);
	}
	if (nb_blk_open(&blk, disk, &opts, &err) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nb_virtio_mmio m;
	struct nb_err err = { 0 };
	uint8_t *ram = malloc(RAM_SIZE);
	struct nb_guest_mem mem;

	if (!ram || size < 2) {
		free(ram);
		return 0;
	}
	memset(ram, 0, RAM_SIZE);
	memcpy(ram + VR_DESC, data + 1,
	       size - 1 < RAM_SIZE - VR_DESC ? size - 1 : RAM_SIZE - VR_DESC);
	nb_mem_layout(&mem, ram, RAM_SIZE);
	open_disk(data[0] & 0x80);
	if (nb_virtio_mmio_init(&m, &blk.vdev, &mem, &err) < 0)
		abort();
	m.dev->driver_features = NB_VIRTIO_F_VERSION_1 |
				 (data[0] & 0x10 ? NB_VIRTIO_F_INDIRECT_DESC : 0) |
				 (data[0] & 0x20 ? NB_VIRTIO_F_EVENT_IDX : 0);
	m.dev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	struct nb_virtq *q = &m.dev->queues[0];
	q->size = (uint16_t)(1u << (data[0] % 8));
	q->desc_gpa = VR_DESC;
	q->avail_gpa = VR_AVAIL;
	q->used_gpa = VR_USED;
	q->indirect = data[0] & 0x10;
	q->event_idx = data[0] & 0x20;
	if (nb_virtq_enable(q) == 0)
		nb_virtio_process(m.dev);
	nb_virtio_mmio_destroy(&m);
	nb_blk_close(&blk);
	free(ram);
	return 0;
}
