/* Transport-independent device helpers: interrupts and the broken-queue
 * path (virtio 1.1, 2.1.2 DEVICE_NEEDS_RESET). */
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "vmm/virtio/virtio.h"

uint64_t nb_virtio_offered_features(const struct nb_virtio_dev *dev)
{
	return dev->ops->features | NB_VIRTIO_F_VERSION_1 | NB_VIRTIO_F_INDIRECT_DESC |
	       NB_VIRTIO_F_EVENT_IDX;
}

bool nb_virtio_live(const struct nb_virtio_dev *dev)
{
	return (dev->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	       !(dev->status & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED));
}

static void interrupt(struct nb_virtio_dev *dev, uint32_t isr_bit)
{
	__atomic_fetch_or(&dev->isr, isr_bit, __ATOMIC_SEQ_CST);
	if (dev->interrupt)
		dev->interrupt(dev->interrupt_opaque);
}

void nb_virtio_signal_used(struct nb_virtio_dev *dev, struct nb_virtq *q)
{
	if (nb_virtq_need_signal(q))
		interrupt(dev, VIRTIO_MMIO_INT_VRING);
}

void nb_virtio_queue_broken(struct nb_virtio_dev *dev, struct nb_virtq *q)
{
	q->broken = true;
	if (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	dev->config_generation++;
	interrupt(dev, VIRTIO_MMIO_INT_CONFIG);
}
