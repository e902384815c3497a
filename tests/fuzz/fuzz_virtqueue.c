/* libFuzzer: the split-virtqueue walker on a guest RAM image the fuzzer
 * writes entirely (rings, descriptors, indirect tables). Whatever the
 * bytes, the walker must stay inside guest RAM (ASan guards the buffer's
 * edges), terminate, and leave a consistent used ring.
 *
 * Covers: vmm/virtio/queue.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vring.h"

#define RAM_SIZE (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nb_virtq_chain chain;
	uint8_t *ram = malloc(RAM_SIZE);
	struct vr v;

	if (!ram || size < 2) {
		free(ram);
		return 0;
	}
	memset(ram, 0, RAM_SIZE);
	/* byte 0: log2 queue size and features; the rest: RAM from VR_DESC on */
	uint16_t qsize = (uint16_t)(1u << (data[0] % 9));
	memcpy(ram + VR_DESC, data + 1,
	       size - 1 < RAM_SIZE - VR_DESC ? size - 1 : RAM_SIZE - VR_DESC);
	if (vr_init(&v, ram, RAM_SIZE, qsize) == 0) {
		v.q.indirect = data[0] & 0x10;
		v.q.event_idx = data[0] & 0x20;
		v.q.last_avail = v.q.used_idx = (uint16_t)(data[0] & 0x40 ? 0xfff0 : 0);
		for (unsigned i = 0; i < 2u * qsize + 2; i++) {
			int rc = nb_virtq_pop(&v.q, &chain);
			uint8_t buf[64];

			if (rc != 1)
				break;
			nb_virtq_chain_read(&chain, 0, buf, sizeof(buf));
			nb_virtq_chain_write(&chain, chain.write_len / 2, buf, sizeof(buf));
			nb_virtq_push(&v.q, chain.head, (uint32_t)chain.write_len);
			nb_virtq_need_signal(&v.q);
		}
	}
	free(ram);
	return 0;
}
