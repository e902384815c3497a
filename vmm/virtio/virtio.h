/* virtio devices, transport-independent (virtio 1.x, modern only).
 *
 * A device model embeds a struct nb_virtio_dev, fills a struct
 * nb_virtio_ops (id, features, config space size, queues, a notify
 * handler) and never learns which transport carries it: it registers with
 * nb_virtio_register() on the struct nb_virtio_transport its caller chose
 * (virtio-mmio, mmio.h, today). queue.c walks split virtqueues with every
 * guest-supplied address, length, index and flag checked; core.c holds
 * what every transport shares (config space reads, feature negotiation
 * checks, reset, interrupts).
 *
 * Threads: the transport's register handlers run on vCPU threads; queue
 * notifications and all device work run on the event thread. Both take
 * dev->lock, so a device's ops are always called with it held.
 *
 * Adding a device (net, vsock, ...) is one file: a struct nb_virtio_ops, a
 * notify handler that pops chains with nb_virtq_pop(), pushes them back
 * with nb_virtq_push() and calls nb_virtio_signal_used(), and
 * nb_virtio_dev_init() plus nb_virtio_register() in its constructor.
 */
#ifndef NESTBOX_VIRTIO_H
#define NESTBOX_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nestbox/err.h"
#include "vmm/kvm/event.h"
#include "vmm/kvm/memory.h"

#define NB_VIRTQ_MAX_SIZE 256u   /* largest QueueNumMax a device may offer */
#define NB_VIRTIO_MAX_QUEUES 10u /* the console: 2 control + 2 per port, 4 ports */

#define NB_VIRTIO_F_VERSION_1 (1ull << 32)
#define NB_VIRTIO_F_INDIRECT_DESC (1ull << 28)
#define NB_VIRTIO_F_EVENT_IDX (1ull << 29)

/* One guest buffer segment of a chain, already translated and bounds
 * checked: host points at len bytes inside guest RAM. */
struct nb_virtq_seg {
	uint8_t *host;
	uint32_t len;
};

/* A descriptor chain taken from the avail ring. Segments the device reads
 * (driver -> device) come first, then those it writes: the spec's order,
 * enforced by the walker. */
struct nb_virtq_chain {
	uint16_t head;
	unsigned nread, nwrite;       /* segments in each part */
	uint64_t read_len, write_len; /* bytes in each part */
	struct nb_virtq_seg segs[NB_VIRTQ_MAX_SIZE];
};

/* Split virtqueue state; the transport fills the configuration fields, the
 * walker the rest. */
struct nb_virtq {
	const struct nb_guest_mem *mem;
	uint16_t size;     /* QueueNum: entries, a power of 2 */
	uint16_t max_size; /* QueueNumMax the device offers */
	bool ready;
	bool broken;              /* refused a hostile ring: no more processing */
	bool event_idx, indirect; /* negotiated features */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Host views of the rings, set by nb_virtq_enable() after checking. */
	uint8_t *desc, *avail, *used;
	uint16_t last_avail;     /* next avail entry the device takes */
	uint16_t used_idx;       /* next used entry the device fills */
	uint16_t signalled_used; /* used_idx when the driver was last signalled */
	bool signalled_valid;
	char why[96]; /* why the queue broke, for diagnostics */
};

/* Check the ring addresses against guest RAM and alignment and reset the
 * indices. Returns -1 (queue stays not ready) when they do not fit. */
int nb_virtq_enable(struct nb_virtq *q);
void nb_virtq_reset(struct nb_virtq *q);

/* Take the next available chain. Returns 1 with *chain filled, 0 when the
 * ring is empty (or the queue is not ready / broken), -1 when the guest's
 * ring is malformed: the queue is then marked broken (q->why says why) and
 * never processed again until reset. */
int nb_virtq_pop(struct nb_virtq *q, struct nb_virtq_chain *chain);

/* Put the chain nb_virtq_pop() just returned back at the head of the avail
 * ring, untouched (a rate limiter said "not yet"): the next pop returns it
 * again. Only the last pop can be undone. */
void nb_virtq_unpop(struct nb_virtq *q);

/* Give the chain whose head was taken back to the driver, `written` bytes
 * of its writable part filled. Publishes with a release barrier. */
void nb_virtq_push(struct nb_virtq *q, uint16_t head, uint32_t written);

/* Whether the driver wants an interrupt for what was pushed since the last
 * signal (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX). */
bool nb_virtq_need_signal(struct nb_virtq *q);

/* With EVENT_IDX: ask for a notification at the next avail entry. */
void nb_virtq_arm_notify(struct nb_virtq *q);

/* Whether the avail ring holds entries the device has not taken. */
bool nb_virtq_has_avail(struct nb_virtq *q);

/* Copy out of the readable part, from byte `offset` on; returns bytes copied. */
size_t nb_virtq_chain_read(const struct nb_virtq_chain *c, uint64_t offset, void *dst, size_t len);
/* Copy into the writable part at byte `offset`; returns bytes copied. */
size_t nb_virtq_chain_write(const struct nb_virtq_chain *c, uint64_t offset, const void *src,
			    size_t len);
/* iovecs for bytes [offset, offset+len) of the readable (writable=false) or
 * writable part; returns the count (at most max), 0 if out of range. */
unsigned nb_virtq_chain_iov(const struct nb_virtq_chain *c, bool writable, uint64_t offset,
			    uint64_t len, struct iovec *iov, unsigned max);

/* ---- devices ---------------------------------------------------------- */

struct nb_virtio_dev;

struct nb_virtio_ops {
	const char *name;
	uint32_t device_id; /* VIRTIO_ID_* */
	uint64_t features;  /* device-specific bits; the transport adds
				      * VERSION_1, INDIRECT_DESC and EVENT_IDX */
	unsigned nqueues;
	uint16_t queue_max;   /* QueueNumMax for every queue */
	uint32_t config_size; /* bytes of dev->config the driver reads */
	/* A driver write to config space, offset+len within config_size
	 * (checked); NULL: config space is read-only (writes are ignored). */
	void (*config_write)(struct nb_virtio_dev *dev, uint32_t offset, const uint8_t *data,
			     uint32_t len);
	/* The driver notified (one or more queues may have work): event thread. */
	void (*notify)(struct nb_virtio_dev *dev);
	/* DRIVER_OK was set: the device may start using its queues. */
	void (*activate)(struct nb_virtio_dev *dev);
	/* The driver reset the device: drop in-flight state. */
	void (*reset)(struct nb_virtio_dev *dev);
	/* Snapshot (vmm/kvm/snapshot.h): write the device's own state (not
	 * its queues: the transport keeps those) into buf, at most size
	 * bytes; returns the bytes written, or -1 when the device cannot be
	 * saved now (err says why). NULL: nothing beyond the queues. */
	int (*save)(struct nb_virtio_dev *dev, void *buf, size_t size, struct nb_err *err);
	/* Take back what save wrote: hostile bytes, checked. */
	int (*load)(struct nb_virtio_dev *dev, const void *data, size_t len, struct nb_err *err);
};

struct nb_virtio_dev {
	const struct nb_virtio_ops *ops;
	void *priv;         /* the device model's state */
	const void *config; /* ops->config_size bytes; NULL: reads as zeros */
	pthread_mutex_t lock;
	const struct nb_guest_mem *mem; /* set by the transport */
	uint64_t driver_features;       /* accepted at FEATURES_OK */
	uint32_t status;                /* VIRTIO_CONFIG_S_* */
	uint32_t isr;                   /* InterruptStatus: 1 used buffer, 2 config */
	uint32_t config_generation;
	bool reset_pending; /* the driver reset a live device: the event thread resets */
	struct nb_virtq queues[NB_VIRTIO_MAX_QUEUES];
	/* Raise the interrupt (set by the transport); never blocks. */
	void (*interrupt)(void *opaque);
	void *interrupt_opaque;
};

/* What carries devices to the guest; mmio.h's virtio-mmio window is one. */
struct nb_virtio_transport {
	/* Give dev (nb_virtio_dev_init done) its guest memory, registers,
	 * interrupt and notifications, whose work runs on loop's thread. dev
	 * must outlive the transport. */
	int (*add)(struct nb_virtio_transport *t, struct nb_virtio_dev *dev,
		   struct nb_event_loop *loop, struct nb_err *err);
};

/* Fill the transport-independent part of dev for ops; priv is handed back
 * to ops, config is what the driver reads of config space (ops->config_size
 * bytes, the device keeps it current). */
void nb_virtio_dev_init(struct nb_virtio_dev *dev, const struct nb_virtio_ops *ops, void *priv,
			const void *config);

/* Whether ops stays within NB_VIRTIO_MAX_QUEUES queues of at most
 * NB_VIRTQ_MAX_SIZE entries (nb_virtio_register and transports check). */
bool nb_virtio_ops_fit(const struct nb_virtio_ops *ops);

/* Put dev's queues on guest memory mem (the transport does, when it
 * takes the device). */
void nb_virtio_dev_set_mem(struct nb_virtio_dev *dev, const struct nb_guest_mem *mem);

/* Hand an initialised dev to transport t; its work runs on loop. Fails if
 * its ops do not fit (nb_virtio_ops_fit) or the transport is full. */
int nb_virtio_register(struct nb_virtio_transport *t, struct nb_virtio_dev *dev,
		       struct nb_event_loop *loop, struct nb_err *err);

/* The device offered to the driver: ops->features plus transport bits. */
uint64_t nb_virtio_offered_features(const struct nb_virtio_dev *dev);

/* Whether the driver's features may be accepted at FEATURES_OK: a subset
 * of what was offered that includes VERSION_1 (virtio 1.1, 3.1.1). */
bool nb_virtio_features_ok(const struct nb_virtio_dev *dev);

/* A driver read of config space, [offset, offset+len) of dev->config;
 * outside it (or without one) reads as zeros. */
void nb_virtio_config_read(const struct nb_virtio_dev *dev, uint64_t offset, uint8_t *data,
			   uint32_t len);
/* A driver write of config space, to ops->config_write if inside it. */
void nb_virtio_config_write(struct nb_virtio_dev *dev, uint64_t offset, const uint8_t *data,
			    uint32_t len);

/* Back to the state before the driver found it: queues, features, status,
 * ISR; with_device, the device's own reset runs first (it went live).
 * Lock held. */
void nb_virtio_reset(struct nb_virtio_dev *dev, bool with_device);

/* Run the reset the driver asked for, or else the device's notify handler
 * if it is live (event thread; takes the lock). Transports call it on a
 * notification, devices when a timer says they may go on. */
void nb_virtio_process(struct nb_virtio_dev *dev);

/* Set ISR bit 0 and interrupt if any of the device's queues wants it. */
void nb_virtio_signal_used(struct nb_virtio_dev *dev, struct nb_virtq *q);

/* A queue broke: set DEVICE_NEEDS_RESET, raise a config-change interrupt
 * (virtio 1.1, 2.1.2), stop processing until the driver resets. */
void nb_virtio_queue_broken(struct nb_virtio_dev *dev, struct nb_virtq *q);

/* ---- snapshot ------------------------------------------------------------ */

/* What a transport saves of a device besides its own registers: the
 * negotiated features, status, ISR, config generation and every queue's
 * configuration and indices. Fixed layout, host byte order. */
struct nb_virtio_state {
	uint64_t driver_features;
	uint32_t status, isr, config_generation, nqueues;
	struct nb_virtq_state {
		uint64_t desc_gpa, avail_gpa, used_gpa;
		uint16_t size, last_avail, used_idx, signalled_used;
		uint8_t ready, broken, event_idx, indirect, signalled_valid, pad[3];
	} queues[NB_VIRTIO_MAX_QUEUES];
};

/* Fill st from dev (lock held, device quiet: vCPUs and event thread stopped). */
void nb_virtio_state_save(const struct nb_virtio_dev *dev, struct nb_virtio_state *st);

/* Put st back into dev (freshly created, same ops), checking every field
 * against the device and guest memory. */
int nb_virtio_state_load(struct nb_virtio_dev *dev, const struct nb_virtio_state *st,
			 struct nb_err *err);

/* The device changed its config space: bump the generation and raise a
 * config-change interrupt (virtio 1.1, 2.4.2). Lock held. */
void nb_virtio_config_changed(struct nb_virtio_dev *dev);

/* Whether the device may process its queues (DRIVER_OK, not NEEDS_RESET). */
bool nb_virtio_live(const struct nb_virtio_dev *dev);

#endif
