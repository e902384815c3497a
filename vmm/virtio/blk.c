#include "vmm/virtio/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/virtio/blk_concat.h"

struct req_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static uint8_t status_of(int rc)
{
	return rc == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
}

/* [sector, sector + bytes/512) inside the disk, bytes a whole number of
 * sectors. */
static bool in_range(const struct nb_blk *b, uint64_t sector, uint64_t bytes)
{
	return bytes % NB_BLK_SECTOR == 0 && sector <= b->capacity &&
	       bytes / NB_BLK_SECTOR <= b->capacity - sector;
}

/* The limits we advertise are limits we enforce. */
static bool segments_ok(const struct iovec *iov, unsigned n)
{
	if (n == 0 || n > NB_BLK_SEG_MAX)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (iov[i].iov_len > NB_BLK_SIZE_MAX)
			return false;
	return true;
}

static int transfer(struct nb_blk *b, struct iovec *iov, unsigned n, uint64_t offset, bool write)
{
	if (b->concat) /* always read-only: do_rw refused writes already */
		return write ? -1 : nb_blk_concat_read(b->concat, iov, n, offset);
	while (n) {
		ssize_t done = write ? pwritev(b->fd, iov, (int)n, (off_t)offset)
				     : preadv(b->fd, iov, (int)n, (off_t)offset);
		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0) /* error, or the file shrank under us */
			return -1;
		offset += (uint64_t)done;
		while (n && (size_t)done >= iov->iov_len) {
			done -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + done;
			iov->iov_len -= (size_t)done;
		}
	}
	return 0;
}

static uint8_t do_rw(struct nb_blk *b, const struct nb_virtq_chain *c, uint64_t sector, bool write,
		     uint32_t *data_written)
{
	struct iovec iov[NB_BLK_SEG_MAX + 1];
	uint64_t len = write ? c->read_len - sizeof(struct req_header) : c->write_len - 1;
	uint64_t off = write ? sizeof(struct req_header) : 0;
	unsigned n;

	if (write && b->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (!in_range(b, sector, len))
		return VIRTIO_BLK_S_IOERR;
	if (len == 0)
		return VIRTIO_BLK_S_OK;
	n = nb_virtq_chain_iov(c, !write, off, len, iov,
			       NB_BLK_SEG_MAX + 1); /* IN fills the writable part */
	if (!segments_ok(iov, n))
		return VIRTIO_BLK_S_IOERR;
	if (transfer(b, iov, n, sector * NB_BLK_SECTOR, write) < 0)
		return VIRTIO_BLK_S_IOERR;
	if (!write)
		*data_written = (uint32_t)len;
	return VIRTIO_BLK_S_OK;
}

static uint8_t do_discard(struct nb_blk *b, const struct nb_virtq_chain *c)
{
	struct virtio_blk_discard_write_zeroes range;

	if (!b->discard)
		return VIRTIO_BLK_S_UNSUPP;
	/* max_discard_seg is 1: exactly one range. */
	if (c->read_len != sizeof(struct req_header) + sizeof(range) ||
	    nb_virtq_chain_read(c, sizeof(struct req_header), &range, sizeof(range)) !=
		    sizeof(range))
		return VIRTIO_BLK_S_IOERR;
	if (range.flags || !in_range(b, range.sector, (uint64_t)range.num_sectors * NB_BLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(range.sector * NB_BLK_SECTOR),
		      (off_t)range.num_sectors * NB_BLK_SECTOR) < 0) {
		if (errno == EOPNOTSUPP)
			b->discard = false;
		return errno == EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

static uint8_t do_get_id(struct nb_blk *b, const struct nb_virtq_chain *c, uint32_t *written)
{
	uint64_t room = c->write_len - 1;
	size_t n = room < sizeof(b->id) ? (size_t)room : sizeof(b->id);

	*written = (uint32_t)nb_virtq_chain_write(c, 0, b->id, n);
	return VIRTIO_BLK_S_OK;
}

/* The request header, copied once: the guest may rewrite its memory
 * between the rate check and the request. False: none (IOERR). */
static bool read_header(const struct nb_virtq_chain *c, struct req_header *h)
{
	return c->read_len >= sizeof(*h) && nb_virtq_chain_read(c, 0, h, sizeof(*h)) == sizeof(*h);
}

/* Serve a chain that has a status byte; h NULL: no valid header. */
static uint32_t serve(struct nb_blk *b, const struct nb_virtq_chain *c, const struct req_header *h)
{
	uint32_t data = 0;
	uint8_t status;

	if (!h) {
		status = VIRTIO_BLK_S_IOERR;
	} else {
		switch (h->type) {
		case VIRTIO_BLK_T_IN:
			status = do_rw(b, c, h->sector, false, &data);
			break;
		case VIRTIO_BLK_T_OUT:
			status = do_rw(b, c, h->sector, true, &data);
			break;
		case VIRTIO_BLK_T_FLUSH:
			status = status_of(b->read_only ? 0 : fdatasync(b->fd));
			break;
		case VIRTIO_BLK_T_GET_ID:
			status = do_get_id(b, c, &data);
			break;
		case VIRTIO_BLK_T_DISCARD:
			status = b->read_only ? VIRTIO_BLK_S_IOERR : do_discard(b, c);
			break;
		default:
			status = VIRTIO_BLK_S_UNSUPP;
			break;
		}
	}
	nb_virtq_chain_write(c, c->write_len - 1, &status, 1);
	return data + 1;
}

uint32_t nb_blk_handle(struct nb_blk *b, const struct nb_virtq_chain *c)
{
	struct req_header h;

	/* No writable byte: nowhere to put a status; hand it back empty. */
	if (c->write_len == 0)
		return 0;
	return serve(b, c, read_header(c, &h) ? &h : NULL);
}

/* Whether the limiters let request h through now. Data bytes are what the
 * chain offers (the request fails unless they match the disk), so a
 * hostile guest pays for what it asked. Other requests are free. */
static bool admit(struct nb_blk *b, const struct nb_virtq_chain *c, const struct req_header *h)
{
	if (h->type == VIRTIO_BLK_T_IN)
		return nb_ratelimit_admit(&b->read_rl, c->write_len - 1, 1);
	if (h->type == VIRTIO_BLK_T_OUT)
		return nb_ratelimit_admit(&b->write_rl, c->read_len - sizeof(*h), 1);
	return true;
}

static void blk_notify(struct nb_virtio_dev *dev)
{
	struct nb_blk *b = dev->priv;
	struct nb_virtq *q = &dev->queues[0];
	struct req_header h;
	int rc;

	while ((rc = nb_virtq_pop(q, &b->chain)) == 1) {
		bool valid = read_header(&b->chain, &h);

		if (b->chain.write_len == 0) { /* nowhere to put a status */
			nb_virtq_push(q, b->chain.head, 0);
			continue;
		}
		if (valid && !admit(b, &b->chain, &h)) {
			nb_virtq_unpop(q); /* stays in the ring until the timer fires */
			break;
		}
		nb_virtq_push(q, b->chain.head, serve(b, &b->chain, valid ? &h : NULL));
	}
	if (rc < 0)
		nb_virtio_queue_broken(dev, q);
	nb_virtio_signal_used(dev, q);
}

/* A limiter's timer fired: take requests again (event thread). */
static void blk_resume(void *opaque)
{
	struct nb_blk *b = opaque;

	nb_virtio_process(&b->vdev);
}

static const struct nb_virtio_ops blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.nqueues = 1,
	.queue_max = NB_BLK_QUEUE_SIZE,
	.config_size = sizeof(struct virtio_blk_config),
	.notify = blk_notify,
};

static uint64_t features_of(const struct nb_blk *b)
{
	uint64_t f = 1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
		     1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH;

	if (b->read_only)
		f |= 1ull << VIRTIO_BLK_F_RO;
	if (b->discard)
		f |= 1ull << VIRTIO_BLK_F_DISCARD;
	return f;
}

static int backend_size(int fd, const char *path, bool *regular, uint64_t *bytes,
			struct nb_err *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return nb_err_sys(err, "disk %s", path);
	*regular = S_ISREG(st.st_mode);
	if (*regular) {
		*bytes = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, bytes) < 0)
			return nb_err_sys(err, "disk %s: BLKGETSIZE64", path);
	} else {
		return nb_err_set(err, 0, "disk %s is not a regular file or block device", path);
	}
	if (*bytes < NB_BLK_SECTOR)
		return nb_err_set(err, 0, "disk %s is smaller than one 512-byte sector", path);
	return 0;
}

int nb_blk_open(struct nb_blk *b, const char *path, const struct nb_blk_opts *opts,
		struct nb_err *err)
{
	int flags = (opts->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		    (opts->direct ? O_DIRECT : 0);
	uint64_t bytes = 0;
	bool regular = false;

	memset(b, 0, sizeof(*b) - sizeof(b->chain));
	b->fd = open(path, flags);
	if (b->fd < 0)
		return nb_err_sys(err, "disk %s", path);
	if (backend_size(b->fd, path, &regular, &bytes, err) < 0) {
		nb_blk_close(b);
		return -1;
	}
	nb_blk_init(b, bytes, opts, regular && !opts->read_only);
	return 0;
}

void nb_blk_init(struct nb_blk *b, uint64_t bytes, const struct nb_blk_opts *opts, bool discard)
{
	b->read_only = opts->read_only;
	b->discard = discard;
	b->capacity = bytes / NB_BLK_SECTOR; /* a partial last sector is not exposed */
	if (opts->serial)                    /* VIRTIO_BLK_ID_BYTES, NUL-padded, not terminated */
		memcpy(b->id, opts->serial, strnlen(opts->serial, sizeof(b->id)));
	b->config = (struct virtio_blk_config){
		.capacity = b->capacity,
		.size_max = NB_BLK_SIZE_MAX,
		.seg_max = NB_BLK_SEG_MAX,
		.blk_size = NB_BLK_SECTOR,
		.max_discard_sectors = b->discard ? UINT32_MAX : 0,
		.max_discard_seg = b->discard ? 1 : 0,
		.discard_sector_alignment = b->discard ? 8 : 0,
	};
	b->ops = blk_ops;
	b->ops.features = features_of(b);
	nb_virtio_dev_init(&b->vdev, &b->ops, b, &b->config);
}

void nb_blk_close(struct nb_blk *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

int nb_virtio_blk_add(struct nb_virtio_transport *t, struct nb_event_loop *loop, const char *path,
		      const struct nb_blk_opts *opts, struct nb_err *err)
{
	struct nb_blk *b = malloc(sizeof(*b));

	if (!b)
		return nb_err_sys(err, "disk %s", path);
	if (nb_blk_open(b, path, opts, err) < 0)
		goto fail;
	if (nb_ratelimit_attach(&b->read_rl, &opts->read_limit, loop, blk_resume, b, err) < 0)
		goto close;
	if (nb_ratelimit_attach(&b->write_rl, &opts->write_limit, loop, blk_resume, b, err) < 0)
		goto detach;
	if (nb_virtio_register(t, &b->vdev, loop, err) < 0) {
		nb_ratelimit_detach(&b->write_rl, loop);
		goto detach;
	}
	return 0; /* b lives as long as the VM: the process */
detach:
	nb_ratelimit_detach(&b->read_rl, loop);
close:
	nb_blk_close(b);
fail:
	free(b);
	return nb_err_wrap(err, "--volume");
}

int nb_virtio_blk_add_concat(struct nb_virtio_transport *t, struct nb_event_loop *loop,
			     struct nb_blk_concat *c, const char *serial, struct nb_err *err)
{
	struct nb_blk_opts opts = { .read_only = true, .serial = serial };
	struct nb_blk *b = calloc(1, sizeof(*b));

	if (!b)
		return nb_err_sys(err, "layer disk");
	b->fd = -1;
	b->concat = c;
	nb_blk_init(b, c->size, &opts, false);
	if (nb_virtio_register(t, &b->vdev, loop, err) < 0) {
		free(b);
		return nb_err_wrap(err, "layer disk");
	}
	return 0; /* b lives as long as the VM: the process */
}
