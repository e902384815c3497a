#include "vmm/virtio/blk_concat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t align_up(uint64_t v)
{
	return (v + NB_LAYER_ALIGN - 1) / NB_LAYER_ALIGN * NB_LAYER_ALIGN;
}

static int open_part(struct nb_blk_part *p, const char *path, uint64_t start, struct nb_err *err)
{
	struct stat st;

	p->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->fd < 0)
		return nb_err_sys(err, "layer %s", path);
	if (fstat(p->fd, &st) < 0)
		return nb_err_sys(err, "layer %s", path);
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		return nb_err_set(err, 0, "layer %s is not a regular, non-empty file", path);
	if ((uint64_t)st.st_size > NB_LAYER_MAX_DISK - start)
		return nb_err_set(err, 0, "layer %s: the image's layers exceed %llu bytes", path,
				  NB_LAYER_MAX_DISK);
	p->start = start;
	p->len = (uint64_t)st.st_size;
	return 0;
}

int nb_blk_concat_open(struct nb_blk_concat *c, char *const *paths, size_t n, struct nb_err *err)
{
	uint64_t next = 0;

	c->n = 0;
	c->size = 0;
	if (n == 0 || n > NB_MAX_LAYERS)
		return nb_err_set(err, 0,
				  "an image with %zu layers cannot run: nestbox takes 1 to "
				  "%u (Docker's limit); flatten it (e.g. a multi-stage build)",
				  n, NB_MAX_LAYERS);
	for (size_t i = 0; i < n; i++) {
		struct nb_blk_part *p = &c->parts[i];

		c->n = i + 1; /* so close releases this one too */
		if (open_part(p, paths[i], next, err) < 0) {
			nb_blk_concat_close(c);
			return -1;
		}
		next = align_up(p->start + p->len); /* both below 2^50: no overflow */
	}
	c->size = next;
	return 0;
}

void nb_blk_concat_close(struct nb_blk_concat *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->parts[i].fd >= 0)
			close(c->parts[i].fd);
	c->n = 0;
}

/* The part holding offset off, or the last one before it (off is then in
 * its zero-filled tail); parts are sorted and parts[0].start is 0. */
static const struct nb_blk_part *part_at(const struct nb_blk_concat *c, uint64_t off)
{
	size_t lo = 0, hi = c->n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->parts[mid].start <= off)
			lo = mid;
		else
			hi = mid;
	}
	return &c->parts[lo];
}

/* Fill len bytes at buf from disk offset off, within one part and its tail. */
static int read_span(const struct nb_blk_concat *c, uint8_t *buf, size_t len, uint64_t off)
{
	while (len) {
		const struct nb_blk_part *p = part_at(c, off);
		uint64_t in_file = off - p->start;
		size_t chunk;

		if (in_file >= p->len) { /* the gap up to the next part (or the end) */
			uint64_t gap_end = p + 1 < c->parts + c->n ? p[1].start : c->size;
			chunk = gap_end - off < len ? (size_t)(gap_end - off) : len;
			memset(buf, 0, chunk);
		} else {
			ssize_t got;
			chunk = p->len - in_file < len ? (size_t)(p->len - in_file) : len;
			/* preadv, not pread: the one read call virtio-blk's seccomp rule allows */
			got = preadv(p->fd, &(struct iovec){ buf, chunk }, 1, (off_t)in_file);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) /* an error, or the file shrank */
				return -1;
			chunk = (size_t)got;
		}
		buf += chunk;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

int nb_blk_concat_read(const struct nb_blk_concat *c, const struct iovec *iov, unsigned n,
		       uint64_t off)
{
	uint64_t room;

	/* The whole request inside the disk first: lengths taken from the
	 * room left, so neither their sum nor off + sum can wrap. */
	if (c->n == 0 || off > c->size)
		return -1;
	room = c->size - off;
	for (unsigned i = 0; i < n; i++) {
		if (iov[i].iov_len > room)
			return -1;
		room -= iov[i].iov_len;
	}
	for (unsigned i = 0; i < n; i++) {
		if (read_span(c, iov[i].iov_base, iov[i].iov_len, off) < 0)
			return -1;
		off += iov[i].iov_len;
	}
	return 0;
}
