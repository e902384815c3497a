/* virtio-blk (device id 2) on a raw image file or block device: read,
 * write, flush, get-id and discard (fallocate PUNCH_HOLE, regular files
 * only). Requests run synchronously on the event thread with
 * preadv/pwritev straight into guest memory. A read-only disk advertises
 * VIRTIO_BLK_F_RO and also refuses writes with IOERR if the guest ignores
 * the flag. Reads and writes may each be rate limited (bytes and ops, token
 * buckets): a request that does not fit stays in the avail ring and the
 * device takes no more requests until the limiter's timer says it fits. */
#ifndef NESTBOX_VIRTIO_BLK_H
#define NESTBOX_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_blk.h>

#include "vmm/kvm/event.h"
#include "vmm/virtio/ratelimit.h"
#include "vmm/virtio/virtio.h"

#define NB_BLK_QUEUE_SIZE 128u
#define NB_BLK_SEG_MAX (NB_BLK_QUEUE_SIZE - 2u) /* minus header and status */
#define NB_BLK_SIZE_MAX (1u << 20)              /* bytes per data segment */
#define NB_BLK_SECTOR 512u

struct nb_blk_opts {
	bool read_only;
	bool direct;        /* O_DIRECT */
	const char *serial; /* GET_ID / /sys/block/vdX/serial, <= 20 bytes */
	struct nb_ratelimit_config read_limit, write_limit; /* zero: unlimited */
};

struct nb_blk_concat;

struct nb_blk {
	int fd;                             /* -1 with concat */
	const struct nb_blk_concat *concat; /* NULL, or the files it reads (blk_concat.h) */
	bool read_only, discard;
	uint64_t capacity; /* 512-byte sectors */
	char id[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_config config;
	struct nb_virtio_ops ops; /* the features depend on the disk */
	struct nb_virtio_dev vdev;
	struct nb_ratelimit read_rl, write_rl; /* unlimited unless blk_add set them */
	struct nb_virtq_chain chain;           /* scratch for the request being served */
};

/* Open the backend and fill the config space. */
int nb_blk_open(struct nb_blk *b, const char *path, const struct nb_blk_opts *opts,
		struct nb_err *err);
void nb_blk_close(struct nb_blk *b);

/* Fill the config space and the device (b->vdev) of b for a disk of
 * bytes (rounded down to whole sectors); nb_blk_open() does it for a file,
 * other backends call it. */
void nb_blk_init(struct nb_blk *b, uint64_t bytes, const struct nb_blk_opts *opts, bool discard);

/* Serve one request chain; returns the bytes written into the chain's
 * writable part (data + status byte), 0 when it has no status byte. */
uint32_t nb_blk_handle(struct nb_blk *b, const struct nb_virtq_chain *c);

/* Attach path as a virtio-blk disk on transport t, served on loop (the -v
 * option). The disk lives as long as the process. */
int nb_virtio_blk_add(struct nb_virtio_transport *t, struct nb_event_loop *loop, const char *path,
		      const struct nb_blk_opts *opts, struct nb_err *err);

/* Attach c (blk_concat.h) as a read-only virtio-blk disk with the given
 * serial (an image's layers). The disk uses c's descriptors from then on:
 * c must outlive the VM. */
int nb_virtio_blk_add_concat(struct nb_virtio_transport *t, struct nb_event_loop *loop,
			     struct nb_blk_concat *c, const char *serial, struct nb_err *err);

#endif
