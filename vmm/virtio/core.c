/* What every transport shares (virtio.h): device set-up, config space,
 * feature checks, reset, the event-thread entry, interrupts and the
 * broken-queue path (virtio 1.1, 2.1.2 DEVICE_NEEDS_RESET). */
#include <string.h>

#include <linux/virtio_config.h>

#include "vmm/virtio/virtio.h"

/* ISR bits, the same on every transport (virtio 1.1, 4.1.4.5, 4.2.2). */
#define ISR_USED 1u
#define ISR_CONFIG 2u

void nb_virtio_dev_init(struct nb_virtio_dev *dev, const struct nb_virtio_ops *ops, void *priv,
			const void *config)
{
	memset(dev, 0, sizeof(*dev));
	dev->ops = ops;
	dev->priv = priv;
	dev->config = config;
	for (unsigned i = 0; i < ops->nqueues && i < NB_VIRTIO_MAX_QUEUES; i++)
		dev->queues[i].max_size = ops->queue_max;
	pthread_mutex_init(&dev->lock, NULL);
}

bool nb_virtio_ops_fit(const struct nb_virtio_ops *ops)
{
	return ops->nqueues <= NB_VIRTIO_MAX_QUEUES && ops->queue_max <= NB_VIRTQ_MAX_SIZE;
}

void nb_virtio_dev_set_mem(struct nb_virtio_dev *dev, const struct nb_guest_mem *mem)
{
	dev->mem = mem;
	for (unsigned i = 0; i < dev->ops->nqueues; i++)
		dev->queues[i].mem = mem;
}

int nb_virtio_register(struct nb_virtio_transport *t, struct nb_virtio_dev *dev,
		       struct nb_event_loop *loop, struct nb_err *err)
{
	if (!nb_virtio_ops_fit(dev->ops))
		return nb_err_set(err, 0, "virtio %s: too many or too large queues",
				  dev->ops->name);
	return t->add(t, dev, loop, err);
}

uint64_t nb_virtio_offered_features(const struct nb_virtio_dev *dev)
{
	return dev->ops->features | NB_VIRTIO_F_VERSION_1 | NB_VIRTIO_F_INDIRECT_DESC |
	       NB_VIRTIO_F_EVENT_IDX;
}

bool nb_virtio_features_ok(const struct nb_virtio_dev *dev)
{
	uint64_t offered = nb_virtio_offered_features(dev);

	return (dev->driver_features & ~offered) == 0 &&
	       (dev->driver_features & NB_VIRTIO_F_VERSION_1);
}

/* [offset, offset+len) inside config space. */
static bool in_config(const struct nb_virtio_dev *dev, uint64_t offset, uint32_t len)
{
	return offset < dev->ops->config_size && len <= dev->ops->config_size - offset;
}

void nb_virtio_config_read(const struct nb_virtio_dev *dev, uint64_t offset, uint8_t *data,
			   uint32_t len)
{
	if (dev->config && in_config(dev, offset, len))
		memcpy(data, (const uint8_t *)dev->config + offset, len);
	else
		memset(data, 0, len);
}

void nb_virtio_config_write(struct nb_virtio_dev *dev, uint64_t offset, const uint8_t *data,
			    uint32_t len)
{
	if (dev->ops->config_write && in_config(dev, offset, len))
		dev->ops->config_write(dev, (uint32_t)offset, data, len);
}

void nb_virtio_reset(struct nb_virtio_dev *dev, bool with_device)
{
	if (with_device && dev->ops->reset)
		dev->ops->reset(dev);
	for (unsigned i = 0; i < dev->ops->nqueues; i++)
		nb_virtq_reset(&dev->queues[i]);
	dev->driver_features = 0;
	dev->status = 0;
	__atomic_store_n(&dev->isr, 0, __ATOMIC_SEQ_CST);
}

void nb_virtio_process(struct nb_virtio_dev *dev)
{
	pthread_mutex_lock(&dev->lock);
	if (dev->reset_pending) {
		nb_virtio_reset(dev, true);
		dev->reset_pending = false;
	} else if (nb_virtio_live(dev) && dev->ops->notify) {
		dev->ops->notify(dev);
	}
	pthread_mutex_unlock(&dev->lock);
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
		interrupt(dev, ISR_USED);
}

void nb_virtio_config_changed(struct nb_virtio_dev *dev)
{
	dev->config_generation++;
	interrupt(dev, ISR_CONFIG);
}

void nb_virtio_queue_broken(struct nb_virtio_dev *dev, struct nb_virtq *q)
{
	q->broken = true;
	if (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	dev->config_generation++;
	interrupt(dev, ISR_CONFIG);
}

/* ---- snapshot ------------------------------------------------------------ */

void nb_virtio_state_save(const struct nb_virtio_dev *dev, struct nb_virtio_state *st)
{
	memset(st, 0, sizeof(*st));
	st->driver_features = dev->driver_features;
	st->status = dev->status;
	st->isr = __atomic_load_n(&dev->isr, __ATOMIC_SEQ_CST);
	st->config_generation = dev->config_generation;
	st->nqueues = dev->ops->nqueues;
	for (unsigned i = 0; i < dev->ops->nqueues; i++) {
		const struct nb_virtq *q = &dev->queues[i];

		st->queues[i] = (struct nb_virtq_state){
			.desc_gpa = q->desc_gpa,
			.avail_gpa = q->avail_gpa,
			.used_gpa = q->used_gpa,
			.size = q->size,
			.last_avail = q->last_avail,
			.used_idx = q->used_idx,
			.signalled_used = q->signalled_used,
			.ready = q->ready,
			.broken = q->broken,
			.event_idx = q->event_idx,
			.indirect = q->indirect,
			.signalled_valid = q->signalled_valid,
		};
	}
}

static int load_queue(struct nb_virtq *q, const struct nb_virtq_state *s, unsigned i,
		      struct nb_err *err)
{
	nb_virtq_reset(q);
	q->desc_gpa = s->desc_gpa;
	q->avail_gpa = s->avail_gpa;
	q->used_gpa = s->used_gpa;
	q->size = s->size <= q->max_size ? s->size : 0;
	if (s->ready > 1 || s->broken > 1 || s->size > q->max_size)
		return nb_err_set(err, 0, "queue %u is malformed", i);
	if (!s->ready)
		return 0;
	/* The same checks as the driver's QueueReady write. */
	if (nb_virtq_enable(q) < 0)
		return nb_err_set(err, 0, "queue %u does not fit guest memory", i);
	q->last_avail = s->last_avail;
	q->used_idx = s->used_idx;
	q->signalled_used = s->signalled_used;
	q->signalled_valid = s->signalled_valid;
	q->event_idx = s->event_idx;
	q->indirect = s->indirect;
	q->broken = s->broken;
	return 0;
}

int nb_virtio_state_load(struct nb_virtio_dev *dev, const struct nb_virtio_state *st,
			 struct nb_err *err)
{
	const char *name = dev->ops->name;

	if (st->nqueues != dev->ops->nqueues)
		return nb_err_set(err, 0, "snapshot: virtio %s has %u queues, not %u", name,
				  st->nqueues, dev->ops->nqueues);
	if (st->status > 0xff || st->isr > 3)
		return nb_err_set(err, 0, "snapshot: virtio %s status is malformed", name);
	dev->driver_features = st->driver_features;
	if (st->driver_features && !nb_virtio_features_ok(dev))
		return nb_err_set(err, 0, "snapshot: virtio %s has features it never offered",
				  name);
	dev->status = st->status;
	dev->isr = st->isr;
	dev->config_generation = st->config_generation;
	dev->reset_pending = false;
	for (unsigned i = 0; i < dev->ops->nqueues; i++)
		if (load_queue(&dev->queues[i], &st->queues[i], i, err) < 0)
			return nb_err_wrap(err, "snapshot: virtio %s", name);
	return 0;
}
