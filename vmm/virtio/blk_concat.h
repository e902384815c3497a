/* A read-only virtio-blk backend made of several files back to back: the
 * one disk that carries all of an image's layers (include/nestbox/abi.h,
 * NB_LAYER_SERIAL). Each file starts at a multiple of NB_LAYER_ALIGN; the
 * gap after it (to the next file, or to the end of the disk) reads as
 * zeros. The files stay what they are in the cache, shared by every VM:
 * nothing is copied, a read is a preadv on the file that holds the range.
 * Requests run on the event thread like every virtio-blk request. */
#ifndef NESTBOX_VIRTIO_BLK_CONCAT_H
#define NESTBOX_VIRTIO_BLK_CONCAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nestbox/abi.h"
#include "nestbox/err.h"

struct nb_blk_concat {
	struct nb_blk_part {
		int fd;
		uint64_t start, len; /* [start, start + len) of the disk is the file */
	} parts[NB_MAX_LAYERS];
	size_t n;
	uint64_t size; /* bytes, a multiple of NB_LAYER_ALIGN */
};

/* Open paths[0..n) read-only and lay them out; at most NB_MAX_LAYERS, each
 * a non-empty regular file. On failure nothing stays open. */
int nb_blk_concat_open(struct nb_blk_concat *c, char *const *paths, size_t n, struct nb_err *err);
void nb_blk_concat_close(struct nb_blk_concat *c);

/* Fill iov[0..n) from disk offset off. -1 when the range is not inside
 * the disk or a file reads short (it shrank under us). */
int nb_blk_concat_read(const struct nb_blk_concat *c, const struct iovec *iov, unsigned n,
		       uint64_t off);

#endif
