#include "vmm/virtio/blk_concat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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

/* Where a request's buffers stand: iov[0] from byte skip on. */
struct cursor {
	const struct iovec *iov;
	unsigned n;
	size_t skip;
};

static void advance(struct cursor *cur, size_t len)
{
	while (len) {
		size_t left = cur->iov->iov_len - cur->skip;

		if (len < left) {
			cur->skip += len;
			return;
		}
		len -= left;
		cur->iov++;
		cur->n--;
		cur->skip = 0;
	}
}

/* The next len bytes of the buffers as at most max iovecs in out (empty
 * segments dropped); their count, *took the bytes they hold (less than len
 * only when out is full). */
static unsigned take(const struct cursor *cur, size_t len, struct iovec *out, unsigned max,
		     size_t *took)
{
	const struct iovec *iov = cur->iov;
	size_t skip = cur->skip;
	unsigned k = 0;

	*took = 0;
	for (unsigned i = 0; i < cur->n && len && k < max; i++, iov++, skip = 0) {
		size_t chunk = iov->iov_len - skip < len ? iov->iov_len - skip : len;

		if (chunk == 0)
			continue;
		out[k++] = (struct iovec){ (uint8_t *)iov->iov_base + skip, chunk };
		*took += chunk;
		len -= chunk;
	}
	return k;
}

/* Fill the next len bytes of the buffers from fd at pos, or with zeros
 * when fd is -1. A file's range is one preadv however many buffers it
 * spans (a guest's request is one per page). */
static int read_span(int fd, uint64_t pos, struct cursor *cur, size_t len)
{
	struct iovec out[64];
	size_t took;

	while (len) {
		unsigned k = take(cur, len, out, sizeof(out) / sizeof(out[0]), &took);
		ssize_t got;

		if (fd < 0) {
			for (unsigned i = 0; i < k; i++)
				memset(out[i].iov_base, 0, out[i].iov_len);
			got = (ssize_t)took;
		} else {
			/* preadv: the one read call virtio-blk's seccomp rule allows */
			got = preadv(fd, out, (int)k, (off_t)pos);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) /* an error, or the file shrank */
				return -1;
		}
		advance(cur, (size_t)got);
		pos += (uint64_t)got;
		len -= (size_t)got;
	}
	return 0;
}

int nb_blk_concat_read(const struct nb_blk_concat *c, const struct iovec *iov, unsigned n,
		       uint64_t off)
{
	struct cursor cur = { iov, n, 0 };
	uint64_t room, len;

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
	/* Span by span: a part's file, then the zeros up to the next part. */
	for (len = c->size - off - room; len;) {
		const struct nb_blk_part *p = part_at(c, off);
		bool in_file = off - p->start < p->len;
		uint64_t end = in_file                   ? p->start + p->len
			       : p + 1 < c->parts + c->n ? p[1].start
							 : c->size;
		size_t span = end - off < len ? (size_t)(end - off) : (size_t)len;

		if (read_span(in_file ? p->fd : -1, off - p->start, &cur, span) < 0)
			return -1;
		off += span;
		len -= span;
	}
	return 0;
}
