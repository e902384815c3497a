/* virtio-mmio register file (virtio 1.1, 4.2.2). Register accesses arrive
 * on vCPU threads under dev->lock; nothing here does device work except
 * through nb_virtio_process() on the event thread. */
#include "vmm/virtio/mmio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "vmm/kvm/vm.h"
#include "vmm/kvm/x86_64/layout.h"

#define MMIO_MAGIC 0x74726976u /* "virt" */
#define MMIO_VERSION 2u
#define MMIO_VENDOR 0x4e420000u /* "NB" */

static void raise_irq(void *opaque)
{
	struct nb_virtio_mmio *m = opaque;
	uint64_t one = 1;

	/* Never blocks: an eventfd counter only overflows after 2^64 - 1. */
	if (m->irq_fd >= 0 && write(m->irq_fd, &one, sizeof(one)) < 0) {
		/* nothing to do: the guest will poll ISR on its next interrupt */
	}
}

int nb_virtio_mmio_init(struct nb_virtio_mmio *m, struct nb_virtio_dev *dev,
			const struct nb_guest_mem *mem, struct nb_err *err)
{
	memset(m, 0, sizeof(*m));
	m->irq_fd = m->notify_fd = -1;
	if (!nb_virtio_ops_fit(dev->ops))
		return nb_err_set(err, 0, "virtio %s: too many or too large queues",
				  dev->ops->name);
	m->dev = dev;
	nb_virtio_dev_set_mem(dev, mem);
	dev->interrupt = raise_irq;
	dev->interrupt_opaque = m;
	m->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->irq_fd < 0 || m->notify_fd < 0) {
		nb_virtio_mmio_destroy(m);
		return nb_err_sys(err, "virtio %s: eventfd", dev->ops->name);
	}
	return 0;
}

void nb_virtio_mmio_destroy(struct nb_virtio_mmio *m)
{
	if (m->irq_fd >= 0)
		close(m->irq_fd);
	if (m->notify_fd >= 0)
		close(m->notify_fd);
	m->irq_fd = m->notify_fd = -1;
}

static struct nb_virtq *selected_queue(struct nb_virtio_mmio *m)
{
	if (m->queue_sel >= m->dev->ops->nqueues)
		return NULL;
	return &m->dev->queues[m->queue_sel];
}

static void kick(struct nb_virtio_mmio *m);

static void write_status(struct nb_virtio_mmio *m, uint32_t value)
{
	struct nb_virtio_dev *dev = m->dev;
	uint32_t old = dev->status;

	if (value == 0) {
		/* The selectors are the transport's: back to 0 now (no
		 * register write is taken while a reset is pending). */
		m->dev_features_sel = m->drv_features_sel = m->queue_sel = 0;
		/* A device that went live holds guest-facing host state;
		 * resetting it unwatches and closes descriptors: work for the
		 * event thread, whose seccomp filter allows it. Status reads
		 * non-zero until it is done, and the driver waits for 0
		 * (virtio 1.1, 4.2.3.1). A device that never went live only
		 * resets its transport here (the reset a driver does first at
		 * probe): host state it has (a vsock client that connected
		 * early) is for the driver about to come. */
		if (!(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
			nb_virtio_reset(dev, false);
			return;
		}
		dev->reset_pending = true;
		kick(m);
		return;
	}
	/* The driver only adds bits; NEEDS_RESET is the device's. */
	value = (value & ~VIRTIO_CONFIG_S_NEEDS_RESET) | old;
	if ((value & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !nb_virtio_features_ok(dev))
		value &= ~(uint32_t)VIRTIO_CONFIG_S_FEATURES_OK;
	if ((value & VIRTIO_CONFIG_S_DRIVER_OK) && !(value & VIRTIO_CONFIG_S_FEATURES_OK))
		value &= ~(uint32_t)VIRTIO_CONFIG_S_DRIVER_OK;
	dev->status = value & 0xff;
	if ((dev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		if (dev->ops->activate)
			dev->ops->activate(dev);
		/* Buffers the driver queued (and notified) before DRIVER_OK
		 * were not served: have the event thread look now. */
		kick(m);
	}
}

static void write_queue_ready(struct nb_virtio_mmio *m, struct nb_virtq *q, uint32_t value)
{
	if (!value) {
		uint16_t size = q->size;

		nb_virtq_reset(q);
		q->size = size;
		return;
	}
	if (q->ready || !(m->dev->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return;
	q->event_idx = m->dev->driver_features & NB_VIRTIO_F_EVENT_IDX;
	q->indirect = m->dev->driver_features & NB_VIRTIO_F_INDIRECT_DESC;
	/* Rings that do not fit guest RAM: QueueReady stays 0 (the driver
	 * reads it back) and nothing is ever followed. */
	nb_virtq_enable(q);
}

static void set_half(uint64_t *reg, bool high, uint32_t value)
{
	if (high)
		*reg = (*reg & 0xffffffffull) | ((uint64_t)value << 32);
	else
		*reg = (*reg & ~0xffffffffull) | value;
}

static void write_queue_reg(struct nb_virtio_mmio *m, uint64_t offset, uint32_t value)
{
	struct nb_virtq *q = selected_queue(m);

	if (!q)
		return;
	if (offset == VIRTIO_MMIO_QUEUE_READY) {
		write_queue_ready(m, q, value);
		return;
	}
	if (q->ready) /* 4.2.3.2: no changes to a live queue */
		return;
	switch (offset) {
	case VIRTIO_MMIO_QUEUE_NUM:
		q->size = value <= q->max_size ? (uint16_t)value : 0;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_half(&q->desc_gpa, offset == VIRTIO_MMIO_QUEUE_DESC_HIGH, value);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		set_half(&q->avail_gpa, offset == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, value);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		set_half(&q->used_gpa, offset == VIRTIO_MMIO_QUEUE_USED_HIGH, value);
		break;
	}
}

static void kick(struct nb_virtio_mmio *m)
{
	uint64_t one = 1;

	/* Reached only when KVM did not take the write through the
	 * ioeventfd: hand it to the event thread all the same. */
	if (write(m->notify_fd, &one, sizeof(one)) < 0) {
		/* counter full: a notification is pending anyway */
	}
}

static void write_reg(struct nb_virtio_mmio *m, uint64_t offset, uint32_t value)
{
	struct nb_virtio_dev *dev = m->dev;

	if (dev->reset_pending)
		return; /* the driver must wait for the reset to finish */
	switch (offset) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->dev_features_sel = value;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		m->drv_features_sel = value;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (dev->status & VIRTIO_CONFIG_S_FEATURES_OK || m->drv_features_sel > 1)
			break;
		set_half(&dev->driver_features, m->drv_features_sel == 1, value);
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		m->queue_sel = value;
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		kick(m);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&dev->isr, ~value, __ATOMIC_SEQ_CST);
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(m, value);
		break;
	default:
		write_queue_reg(m, offset, value);
		break;
	}
}

static uint32_t read_features(struct nb_virtio_mmio *m)
{
	uint64_t f = nb_virtio_offered_features(m->dev);

	if (m->dev_features_sel > 1)
		return 0;
	return (uint32_t)(f >> (32 * m->dev_features_sel));
}

static uint32_t read_reg(struct nb_virtio_mmio *m, uint64_t offset)
{
	struct nb_virtio_dev *dev = m->dev;
	struct nb_virtq *q = selected_queue(m);

	switch (offset) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return dev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return read_features(m);
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? q->max_size : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&dev->isr, __ATOMIC_SEQ_CST);
	case VIRTIO_MMIO_STATUS:
		return dev->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return dev->config_generation;
	default:
		return 0;
	}
}

void nb_virtio_mmio_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct nb_virtio_mmio *m = opaque;
	uint32_t value;

	pthread_mutex_lock(&m->dev->lock);
	if (offset >= VIRTIO_MMIO_CONFIG && is_write) {
		nb_virtio_config_write(m->dev, offset - VIRTIO_MMIO_CONFIG, data, len);
	} else if (offset >= VIRTIO_MMIO_CONFIG) {
		nb_virtio_config_read(m->dev, offset - VIRTIO_MMIO_CONFIG, data, len);
	} else if (len != 4 || (offset & 3)) {
		/* 4.2.2.2: registers are 32-bit; anything else is ignored. */
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		memcpy(&value, data, 4);
		write_reg(m, offset, value);
	} else {
		value = read_reg(m, offset);
		memcpy(data, &value, 4);
	}
	pthread_mutex_unlock(&m->dev->lock);
}

/* ---- slots, KVM wiring, command line ---------------------------------- */

/* IOAPIC pins for virtio: not 0 (PIT), 1 (i8042), 2 (cascade), 4 (the
 * UART), 8 (RTC), 12 (mouse). More devices than pins share pins: the
 * virtio-mmio driver requests its interrupt shared and reads ISR. */
static const uint8_t virtio_pins[] = { 5,  6,  7,  9,  10, 11, 13, 14, 15,
				       16, 17, 18, 19, 20, 21, 22, 23 };

static void on_notify(void *opaque, int fd, uint32_t events)
{
	struct nb_virtio_mmio *m = opaque;
	uint64_t count;

	(void)events;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	nb_virtio_process(m->dev);
}

static int wire_kvm(struct nb_vm *vm, struct nb_virtio_mmio *m, struct nb_err *err)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)m->irq_fd, .gsi = m->irq };
	struct kvm_ioeventfd ioev = {
		.addr = m->base + VIRTIO_MMIO_QUEUE_NOTIFY,
		.len = 4,
		.fd = m->notify_fd,
	};

	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return nb_err_sys(err, "virtio %s: KVM_IRQFD gsi %u", m->dev->ops->name, m->irq);
	/* Without an ioeventfd the register handler kicks the same eventfd,
	 * so only speed is lost. */
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &ioev) < 0 && errno != ENOSYS && errno != EINVAL)
		return nb_err_sys(err, "virtio %s: KVM_IOEVENTFD", m->dev->ops->name);
	return 0;
}

/* The transport's add (virtio.h): the next slot for dev. */
static int mmio_add(struct nb_virtio_transport *transport, struct nb_virtio_dev *dev,
		    struct nb_event_loop *loop, struct nb_err *err)
{
	struct nb_virtio_mmio_transport *t = (struct nb_virtio_mmio_transport *)transport;
	const char *name = dev->ops->name;
	unsigned slot = t->count;
	struct nb_virtio_mmio *m;

	if (slot == NB_VIRTIO_MMIO_MAX)
		return nb_err_set(err, 0, "virtio %s: more than %u virtio devices", name,
				  NB_VIRTIO_MMIO_MAX);
	m = calloc(1, sizeof(*m));
	if (!m)
		return nb_err_sys(err, "virtio %s", name);
	if (nb_virtio_mmio_init(m, dev, &t->vm->mem, err) < 0) {
		free(m);
		return -1;
	}
	m->base = NB_MMIO_BASE + (uint64_t)slot * NB_VIRTIO_MMIO_SLOT_SIZE;
	m->irq = virtio_pins[slot % sizeof(virtio_pins)];
	struct nb_bus_device busdev = { name, m->base, NB_VIRTIO_MMIO_SLOT_SIZE, nb_virtio_mmio_io,
					m };
	if (wire_kvm(t->vm, m, err) < 0 || nb_bus_register(&t->vm->mmio, &busdev, err) < 0 ||
	    nb_event_add(loop, m->notify_fd, EPOLLIN, on_notify, m, err) < 0) {
		nb_virtio_mmio_destroy(m);
		free(m);
		return -1;
	}
	t->slots[t->count++] = m;
	return 0;
}

void nb_virtio_mmio_transport_init(struct nb_virtio_mmio_transport *t, struct nb_vm *vm)
{
	*t = (struct nb_virtio_mmio_transport){ .transport = { .add = mmio_add }, .vm = vm };
}

int nb_virtio_mmio_cmdline(const struct nb_virtio_mmio_transport *t, char *buf, size_t size)
{
	size_t len = strnlen(buf, size);

	for (unsigned i = 0; i < t->count; i++) {
		int n = snprintf(buf + len, size - len, " virtio_mmio.device=4K@%#" PRIx64 ":%u",
				 t->slots[i]->base, t->slots[i]->irq);
		if (n < 0 || (size_t)n >= size - len)
			return -1;
		len += (size_t)n;
	}
	return 0;
}

/* ---- snapshot ------------------------------------------------------------ */

/* a device's own state: a share's tables with their paths are the most */
#define DEVICE_STATE_MAX NB_STATE_MAX_SECTION

struct mmio_state {
	uint32_t device_id;
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	struct nb_virtio_state dev;
};

int nb_virtio_mmio_save(struct nb_virtio_mmio_transport *t, struct nb_state_buf *b,
			struct nb_err *err)
{
	static uint8_t buf[DEVICE_STATE_MAX];

	for (unsigned i = 0; i < t->count; i++) {
		struct nb_virtio_mmio *m = t->slots[i];
		struct nb_virtio_dev *dev = m->dev;
		struct mmio_state st = { .device_id = dev->ops->device_id,
					 .dev_features_sel = m->dev_features_sel,
					 .drv_features_sel = m->drv_features_sel,
					 .queue_sel = m->queue_sel };
		int n = 0;

		pthread_mutex_lock(&dev->lock);
		nb_virtio_state_save(dev, &st.dev);
		if (dev->ops->save)
			n = dev->ops->save(dev, buf, sizeof(buf), err);
		pthread_mutex_unlock(&dev->lock);
		if (n < 0)
			return nb_err_wrap(err, "virtio %s", dev->ops->name);
		nb_state_put(b, NB_STATE_VIRTIO_TRANSPORT, i, &st, sizeof(st));
		nb_state_put(b, NB_STATE_VIRTIO_DEVICE, i, buf, (size_t)n);
	}
	return 0;
}

static int load_slot(struct nb_virtio_mmio *m, unsigned i, const struct nb_state *s,
		     struct nb_err *err)
{
	struct nb_virtio_dev *dev = m->dev;
	struct mmio_state st;
	const void *data;
	size_t len;

	if (nb_state_get(s, NB_STATE_VIRTIO_TRANSPORT, i, &st, sizeof(st), err) < 0 ||
	    nb_state_find(s, NB_STATE_VIRTIO_DEVICE, i, &data, &len, err) < 0)
		return -1;
	if (st.device_id != dev->ops->device_id)
		return nb_err_set(err, 0, "snapshot: slot %u holds device %u, not %s", i,
				  st.device_id, dev->ops->name);
	m->dev_features_sel = st.dev_features_sel;
	m->drv_features_sel = st.drv_features_sel;
	m->queue_sel = st.queue_sel;
	if (nb_virtio_state_load(dev, &st.dev, err) < 0)
		return -1;
	if (dev->ops->load)
		return dev->ops->load(dev, data, len, err);
	if (len)
		return nb_err_set(err, 0, "snapshot: virtio %s has state it does not take",
				  dev->ops->name);
	return 0;
}

int nb_virtio_mmio_load(struct nb_virtio_mmio_transport *t, const struct nb_state *s,
			struct nb_err *err)
{
	for (unsigned i = 0; i < t->count; i++) {
		struct nb_virtio_dev *dev = t->slots[i]->dev;
		int rc;

		pthread_mutex_lock(&dev->lock);
		rc = load_slot(t->slots[i], i, s, err);
		pthread_mutex_unlock(&dev->lock);
		if (rc < 0)
			return -1;
	}
	return 0;
}

void nb_virtio_mmio_kick_all(struct nb_virtio_mmio_transport *t)
{
	for (unsigned i = 0; i < t->count; i++)
		kick(t->slots[i]);
}

void nb_virtio_mmio_transport_destroy(struct nb_virtio_mmio_transport *t)
{
	for (unsigned i = 0; i < t->count; i++) {
		nb_virtio_mmio_destroy(t->slots[i]);
		free(t->slots[i]);
	}
	t->count = 0;
}
