/* virtio-mmio transport, version 2 (virtio 1.1, 4.2.2), modern only.
 *
 * A struct nb_virtio_mmio_transport is the VM's virtio-mmio window: every
 * device registered on it gets a 4 KiB slot and an IOAPIC pin, allocated
 * here and nowhere else; nb_virtio_mmio_cmdline() turns the slots into the
 * kernel's `virtio_mmio.device=` arguments. Interrupts go through an
 * irqfd; QueueNotify writes through an ioeventfd the event thread
 * watches, so the vCPU thread only handles register accesses.
 */
#ifndef NESTBOX_VIRTIO_MMIO_H
#define NESTBOX_VIRTIO_MMIO_H

#include <stddef.h>

#include "vmm/kvm/event.h"
#include "vmm/kvm/statefile.h"
#include "vmm/virtio/virtio.h"

#define NB_VIRTIO_MMIO_SLOT_SIZE 0x1000u
#define NB_VIRTIO_MMIO_MAX 24u

struct nb_vm;

/* One device's register file. */
struct nb_virtio_mmio {
	struct nb_virtio_dev *dev;
	uint64_t base;
	unsigned irq; /* IOAPIC pin = GSI */
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	int irq_fd;    /* eventfd bound to the GSI with KVM_IRQFD */
	int notify_fd; /* eventfd bound to QueueNotify with KVM_IOEVENTFD */
};

/* Put dev (nb_virtio_dev_init done) on guest memory mem behind a register
 * file with its eventfds, without KVM (unit tests and fuzzers use this
 * directly). */
int nb_virtio_mmio_init(struct nb_virtio_mmio *m, struct nb_virtio_dev *dev,
			const struct nb_guest_mem *mem, struct nb_err *err);
void nb_virtio_mmio_destroy(struct nb_virtio_mmio *m);

/* Bus handler for the device's slot (vCPU threads). */
void nb_virtio_mmio_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* The VM's virtio-mmio window: the transport devices register on. */
struct nb_virtio_mmio_transport {
	struct nb_virtio_transport transport; /* what devices see */
	struct nb_vm *vm;
	unsigned count;
	struct nb_virtio_mmio *slots[NB_VIRTIO_MMIO_MAX];
};

/* An empty window on vm. A device registered on t->transport gets the
 * next slot, an MMIO range on vm->mmio, an irqfd and an ioeventfd watched
 * by the loop it was registered with. */
void nb_virtio_mmio_transport_init(struct nb_virtio_mmio_transport *t, struct nb_vm *vm);

/* Append " virtio_mmio.device=4K@0x...:N" for every device to buf (NUL
 * terminated). Returns -1 if it does not fit. */
int nb_virtio_mmio_cmdline(const struct nb_virtio_mmio_transport *t, char *buf, size_t size);

/* Snapshot: each slot's registers and device state (virtio.h's
 * nb_virtio_state plus the device's own save), sections
 * NB_STATE_VIRTIO_TRANSPORT and NB_STATE_VIRTIO_DEVICE indexed by slot.
 * Devices quiet (vCPUs and event threads stopped). */
int nb_virtio_mmio_save(struct nb_virtio_mmio_transport *t, struct nb_state_buf *b,
			struct nb_err *err);
/* Into a window built with the same devices in the same order. */
int nb_virtio_mmio_load(struct nb_virtio_mmio_transport *t, const struct nb_state *s,
			struct nb_err *err);
/* Have the event thread look at every device once (after a restore: the
 * notifications the guest sent before the snapshot are gone). */
void nb_virtio_mmio_kick_all(struct nb_virtio_mmio_transport *t);

/* Release every slot (after the vCPUs and the event threads stopped); the
 * devices are their owners'. */
void nb_virtio_mmio_transport_destroy(struct nb_virtio_mmio_transport *t);

#endif
