/* virtio-balloon (device id 5; virtio 1.2, 5.5): memory that comes back.
 *
 * Free page reporting (VIRTIO_BALLOON_F_REPORTING): the guest kernel hands
 * ranges of pages it freed on the reporting queue; the device gives them
 * back to the host (MADV_DONTNEED) and returns the buffers. Inflate and
 * deflate queues carry 4 KiB page frame numbers (le32): inflated pages are
 * discarded the same way; deflated ones need nothing (the next guest
 * access faults in a zero page). VIRTIO_BALLOON_F_DEFLATE_ON_OOM: the guest
 * may take balloon pages back before its OOM killer runs. num_pages, the
 * target balloon size, is the host's to change at run time
 * (nb_balloon_set_target: a config-change interrupt).
 *
 * Every guest range, reported or inflated, is checked against guest RAM
 * (nb_mem_discard): whole 4 KiB pages inside one RAM region, else it is
 * left alone and counted as rejected. At most NB_BALLOON_MAX_PFNS page
 * numbers of one inflate/deflate buffer are honoured, so one buffer costs
 * bounded host work. Transport-neutral; queues on the event thread.
 */
#ifndef NESTBOX_VIRTIO_BALLOON_H
#define NESTBOX_VIRTIO_BALLOON_H

#include <stdint.h>

#include "vmm/kvm/event.h"
#include "vmm/virtio/virtio.h"

#define NB_BALLOON_F_DEFLATE_ON_OOM (1ull << 2) /* VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
#define NB_BALLOON_F_REPORTING (1ull << 5)      /* VIRTIO_BALLOON_F_REPORTING */
#define NB_BALLOON_PAGE 4096u                   /* 1 << VIRTIO_BALLOON_PFN_SHIFT */
#define NB_BALLOON_MAX_PFNS 4096u
#define NB_BALLOON_QUEUE_MAX 128u /* >= the guest's PAGE_REPORTING_CAPACITY (32) */

enum { NB_BALLOON_Q_INFLATE, NB_BALLOON_Q_DEFLATE, NB_BALLOON_Q_REPORTING, NB_BALLOON_NQUEUES };

/* What the device did, for --stats and tests (event thread; read after). */
struct nb_balloon_stats {
	uint64_t reported_bytes;   /* free page reports given back to the host */
	uint64_t inflated_bytes;   /* inflated pages given back */
	uint64_t deflated_bytes;   /* deflated pages (nothing to do) */
	uint64_t rejected_ranges;  /* ranges outside guest RAM, unaligned, or not discardable */
	uint64_t discard_failures; /* madvise refused a checked range */
};

struct nb_balloon {
	struct nb_virtio_dev vdev;
	struct nb_virtq_chain chain; /* scratch for the buffer being served */
	struct {
		uint32_t num_pages; /* le32: the target, host-written */
		uint32_t actual;    /* le32: pages in the balloon, guest-written */
	} config;
	struct nb_balloon_stats stats;
	uint32_t pfns[NB_BALLOON_MAX_PFNS]; /* scratch for one inflate/deflate buffer */
};

/* Create the device on transport t, served on loop; *out: the device (it
 * lives as long as the process), for nb_balloon_set_target(). */
int nb_virtio_balloon_add(struct nb_virtio_transport *t, struct nb_event_loop *loop,
			  struct nb_balloon **out, struct nb_err *err);

/* The device nb_virtio_balloon_add() registers, for tests and fuzzers. */
void nb_balloon_init(struct nb_balloon *b);

/* Ask the guest for a balloon of `bytes` (rounded down to 4 KiB pages;
 * 0 deflates it all): num_pages, then a config-change interrupt if the
 * driver is up. Any thread. Fails if bytes exceeds guest RAM (once the
 * transport gave the device its memory) or 2^32 pages. */
int nb_balloon_set_target(struct nb_balloon *b, uint64_t bytes, struct nb_err *err);

/* Bytes the guest says are in the balloon (its `actual`). Any thread. */
uint64_t nb_balloon_actual(struct nb_balloon *b);

#endif
