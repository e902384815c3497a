/* virtio-mmio transport, version 2 (virtio 1.1, 4.2.2), modern only.
 *
 * Every device gets a 4 KiB slot in the MMIO window and an IOAPIC pin,
 * allocated here and nowhere else; nb_virtio_mmio_cmdline() turns the
 * slots into the kernel's `virtio_mmio.device=` arguments. Interrupts go
 * through an irqfd; QueueNotify writes through an ioeventfd the event
 * thread watches, so the vCPU thread only handles register accesses.
 * One VM per process: the slot table is process-wide.
 */
#ifndef NESTBOX_VIRTIO_MMIO_H
#define NESTBOX_VIRTIO_MMIO_H

#include <stddef.h>

#include "vmm/kvm/event.h"
#include "vmm/virtio/virtio.h"

#define NB_VIRTIO_MMIO_SLOT_SIZE 0x1000u
#define NB_VIRTIO_MMIO_MAX 24u

struct nb_vm;

struct nb_virtio_mmio {
	struct nb_virtio_dev dev;
	uint64_t base;
	unsigned irq;                /* IOAPIC pin = GSI */
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	int irq_fd;                  /* eventfd bound to the GSI with KVM_IRQFD */
	int notify_fd;               /* eventfd bound to QueueNotify with KVM_IOEVENTFD */
	bool reset_pending;          /* the driver wrote Status 0: the event thread resets */
};

/* Set up the transport state and its eventfds, without KVM (unit tests
 * and fuzzers use this directly). */
int nb_virtio_mmio_init(struct nb_virtio_mmio *m, const struct nb_virtio_ops *ops, void *priv,
			const struct nb_guest_mem *mem, struct nb_err *err);
void nb_virtio_mmio_destroy(struct nb_virtio_mmio *m);

/* Bus handler for the device's slot (vCPU threads). */
void nb_virtio_mmio_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		       bool is_write);

/* Run the device's notify handler now, or the reset the driver asked for
 * (event thread; takes the lock). */
void nb_virtio_mmio_process(struct nb_virtio_mmio *m);

/* Create a device of ops on the VM: slot, MMIO range on vm->mmio, irqfd,
 * ioeventfd watched by loop. *out is owned by the slot table. */
int nb_virtio_mmio_add(struct nb_vm *vm, struct nb_event_loop *loop,
		       const struct nb_virtio_ops *ops, void *priv, struct nb_virtio_mmio **out,
		       struct nb_err *err);

/* Append " virtio_mmio.device=4K@0x...:N" for every device to buf (NUL
 * terminated). Returns -1 if it does not fit. */
int nb_virtio_mmio_cmdline(char *buf, size_t size);

/* Release every device (after the vCPUs stopped). */
void nb_virtio_mmio_destroy_all(void);

#endif
