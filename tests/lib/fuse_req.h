/* Crafting FUSE requests as a virtio-fs driver would (unit tests): the
 * in header and arguments in the readable part of a chain, room for the
 * reply in the writable part, each split into segments of a chosen size
 * (to cross segment boundaries anywhere). */
#ifndef NESTBOX_TESTS_FUSE_REQ_H
#define NESTBOX_TESTS_FUSE_REQ_H

#include <linux/fuse.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/virtio/fs.h"
#include "vmm/virtio/virtio.h"

#define FR_IN_MAX (NB_FS_MAX_RW + 128u * 1024u)
#define FR_OUT_MAX (NB_FS_MAX_RW + 4096u)

struct fr {
	uint8_t in[FR_IN_MAX];
	size_t in_len;
	uint8_t out[FR_OUT_MAX];
	struct nb_virtq_chain c;
	uint64_t unique;
	uint32_t uid, gid; /* the caller in the next header */
	int32_t len_delta; /* added to the header's len (hostile lengths) */
};

static inline void fr_begin(struct fr *f, uint32_t opcode, uint64_t nodeid)
{
	struct fuse_in_header h = {
		.opcode = opcode,
		.nodeid = nodeid,
		.unique = ++f->unique,
		.uid = f->uid,
		.gid = f->gid,
		.pid = 1,
	};

	memcpy(f->in, &h, sizeof(h));
	f->in_len = sizeof(h);
	f->len_delta = 0;
}

static inline void fr_put(struct fr *f, const void *p, size_t n)
{
	memcpy(f->in + f->in_len, p, n);
	f->in_len += n;
}

static inline void fr_str(struct fr *f, const char *s)
{
	fr_put(f, s, strlen(s) + 1);
}

/* Segments of at most split bytes over [base, base + len). */
static inline void fr_segs(struct nb_virtq_chain *c, uint8_t *base, size_t len, size_t split,
			   bool writable)
{
	for (size_t off = 0; off < len; off += split) {
		size_t n = len - off < split ? len - off : split;

		if (c->nread + c->nwrite == NB_VIRTQ_MAX_SIZE)
			abort(); /* a test asked for more segments than a chain has */
		c->segs[c->nread + c->nwrite] = (struct nb_virtq_seg){ base + off, (uint32_t)n };
		if (writable) {
			c->nwrite++;
			c->write_len += n;
		} else {
			c->nread++;
			c->read_len += n;
		}
	}
}

/* Serve the request with room reply bytes (header included), both parts
 * cut into split-byte segments; returns the bytes the device wrote. */
static inline uint32_t fr_send_split(struct fr *f, struct nb_fs *fs, size_t room, size_t split)
{
	uint32_t len = (uint32_t)((int64_t)f->in_len + f->len_delta);

	memcpy(f->in, &len, sizeof(len));
	memset(&f->c, 0, sizeof(f->c));
	memset(f->out, 0xee, room < sizeof(f->out) ? room : sizeof(f->out));
	fr_segs(&f->c, f->in, f->in_len, split, false);
	fr_segs(&f->c, f->out, room, split, true);
	return nb_fs_handle(fs, &f->c);
}

static inline uint32_t fr_send(struct fr *f, struct nb_fs *fs, size_t room)
{
	size_t most = f->in_len > room ? f->in_len : room;

	/* One segment per part when it fits a queue's worth of pages. */
	return fr_send_split(f, fs, room, most ? most : 1);
}

static inline const struct fuse_out_header *fr_header(const struct fr *f)
{
	return (const struct fuse_out_header *)f->out;
}

static inline const void *fr_payload(const struct fr *f)
{
	return f->out + sizeof(struct fuse_out_header);
}

#endif
