/* libFuzzer: the virtio-mmio register file (vmm/virtio/mmio.c) under a
 * hostile driver: reads and writes of every register at any offset and
 * width, feature negotiation, queue setup with any addresses and sizes,
 * status transitions, resets and notifications, interleaved with a
 * well-behaved driver's steps (tests/lib/vdrv.h) so live states are
 * reached. The device behind it is a stub with the most queues a device
 * may have, a config space and a notify handler that serves every queue.
 * After each step the transport's invariants are checked.
 * Covers: vmm/virtio/mmio.c */
#include <errno.h>

#include "fuzz/fuzz.h"

#define CONFIG_SIZE 12u

static uint8_t config[CONFIG_SIZE];
static unsigned activations;

static void check_locked(struct nb_virtio_dev *dev)
{
	FZ_CHECK(pthread_mutex_trylock(&dev->lock) == EBUSY, "device op called without the lock");
}

static void stub_notify(struct nb_virtio_dev *dev)
{
	static struct nb_virtq_chain chain;
	static const uint8_t fill[64] = { 0xa5 };

	check_locked(dev);
	FZ_CHECK(nb_virtio_live(dev), "notify on a device that is not live (status %#x)",
		 dev->status);
	for (unsigned i = 0; i < dev->ops->nqueues; i++) {
		struct nb_virtq *q = &dev->queues[i];
		int rc;

		while ((rc = nb_virtq_pop(q, &chain)) == 1) {
			size_t n = nb_virtq_chain_write(&chain, 0, fill, sizeof(fill));

			nb_virtq_push(q, chain.head, (uint32_t)n);
		}
		if (rc < 0)
			nb_virtio_queue_broken(dev, q);
		nb_virtio_signal_used(dev, q);
	}
}

static void stub_activate(struct nb_virtio_dev *dev)
{
	check_locked(dev);
	FZ_CHECK((dev->status & VIRTIO_CONFIG_S_FEATURES_OK), "activated without FEATURES_OK");
	activations++;
}

static void stub_reset(struct nb_virtio_dev *dev)
{
	check_locked(dev);
}

static void stub_config_write(struct nb_virtio_dev *dev, uint32_t off, const uint8_t *data,
			      uint32_t len)
{
	check_locked(dev);
	FZ_CHECK(off < CONFIG_SIZE && len <= CONFIG_SIZE - off, "config write %u+%u", off, len);
	memcpy(config + off, data, len);
}

static const struct nb_virtio_ops stub_ops = {
	.name = "fuzz-stub",
	.device_id = 0x42,
	.features = 1ull << 0 | 1ull << 5 | 1ull << 31,
	.nqueues = NB_VIRTIO_MAX_QUEUES,
	.queue_max = NB_VIRTQ_MAX_SIZE,
	.config_size = CONFIG_SIZE,
	.config_write = stub_config_write,
	.notify = stub_notify,
	.activate = stub_activate,
	.reset = stub_reset,
};

static void check_transport(struct vd *d)
{
	const struct nb_virtio_dev *dev = d->m->dev;
	uint64_t offered = nb_virtio_offered_features(dev);

	FZ_CHECK(dev->status <= 0xff, "status %#x", dev->status);
	FZ_CHECK(!(dev->status & VIRTIO_CONFIG_S_DRIVER_OK) ||
			 (dev->status & VIRTIO_CONFIG_S_FEATURES_OK),
		 "DRIVER_OK without FEATURES_OK");
	FZ_CHECK(!(dev->status & VIRTIO_CONFIG_S_FEATURES_OK) ||
			 ((dev->driver_features & ~offered) == 0 &&
			  (dev->driver_features & NB_VIRTIO_F_VERSION_1)),
		 "FEATURES_OK with features %#llx", (unsigned long long)dev->driver_features);
	FZ_CHECK((dev->isr & ~3u) == 0, "ISR %#x", dev->isr);
	for (unsigned i = 0; i < NB_VIRTIO_MAX_QUEUES; i++) {
		const struct nb_virtq *q = &dev->queues[i];

		if (!q->ready)
			continue;
		FZ_CHECK(dev->status & VIRTIO_CONFIG_S_FEATURES_OK || dev->reset_pending,
			 "queue %u ready without FEATURES_OK", i);
		FZ_CHECK(q->size && !(q->size & (q->size - 1)) && q->size <= q->max_size,
			 "queue %u ready with size %u", i, q->size);
		FZ_CHECK(nb_gpa_ptr(&d->mem, q->desc_gpa, 16ull * q->size) == q->desc &&
				 nb_gpa_ptr(&d->mem, q->avail_gpa, 6ull + 2ull * q->size) ==
					 q->avail &&
				 nb_gpa_ptr(&d->mem, q->used_gpa, 6ull + 8ull * q->size) ==
					 q->used &&
				 q->desc && q->avail && q->used,
			 "queue %u ready with rings outside RAM", i);
		FZ_CHECK(q->event_idx == !!(dev->driver_features & NB_VIRTIO_F_EVENT_IDX) &&
				 q->indirect ==
					 !!(dev->driver_features & NB_VIRTIO_F_INDIRECT_DESC),
			 "queue %u features differ from the negotiated ones", i);
	}
	/* The identification registers never change. */
	FZ_CHECK(vd_rd(d, VIRTIO_MMIO_MAGIC_VALUE) == 0x74726976 &&
			 vd_rd(d, VIRTIO_MMIO_VERSION) == 2 &&
			 vd_rd(d, VIRTIO_MMIO_DEVICE_ID) == stub_ops.device_id,
		 "identification changed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static struct nb_virtio_mmio m;
	static struct nb_virtio_dev dev;
	struct nb_err err = { 0 };
	struct fz f = { data, size };
	struct vd d;
	const char *why = NULL;

	if (!ram && !(ram = malloc(VD_RAM_SIZE)))
		abort();
	vd_init(&d, ram);
	memset(config, 0, sizeof(config));
	nb_virtio_dev_init(&dev, &stub_ops, NULL, config);
	if (nb_virtio_mmio_init(&m, &dev, &d.mem, &err) < 0)
		abort();
	vd_attach(&d, &m);
	for (unsigned steps = 0; fz_more(&f) && steps < 512; steps++) {
		fz_virtio_op(&f, &d, fz_u8(&f) % FZ_NOPS);
		check_transport(&d);
		for (unsigned q = 0; q < d.nqueues; q++)
			FZ_CHECK(vd_reap(&d, q, NULL, NULL, &why), "queue %u: %s", q, why);
	}
	nb_virtio_mmio_destroy(&m);
	pthread_mutex_destroy(&m.dev->lock);
	return 0;
}
