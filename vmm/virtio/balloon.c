#include "vmm/virtio/balloon.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>

/* Give [gpa, gpa+len) back, counting what was done. */
static void discard(struct nb_balloon *b, uint64_t gpa, uint64_t len, uint64_t *counter)
{
	const struct nb_guest_mem *mem = b->vdev.mem;

	if (len == 0 || gpa % NB_BALLOON_PAGE || len % NB_BALLOON_PAGE ||
	    !nb_mem_contains(mem, gpa, len)) {
		b->stats.rejected_ranges++;
		return;
	}
	if (!nb_mem_discard(mem, gpa, len)) {
		b->stats.discard_failures++;
		return;
	}
	*counter += len;
}

/* The page frame numbers of one inflate (discard) or deflate buffer:
 * runs of consecutive pages are discarded with one call. */
static void serve_pfns(struct nb_balloon *b, bool inflate)
{
	size_t n = nb_virtq_chain_read(&b->chain, 0, b->pfns, sizeof(b->pfns)) / sizeof(b->pfns[0]);
	uint64_t run_start = 0, run_pages = 0;

	if (!inflate) {
		b->stats.deflated_bytes += (uint64_t)n * NB_BALLOON_PAGE;
		return;
	}
	for (size_t i = 0; i <= n; i++) {
		uint64_t pfn = i < n ? le32toh(b->pfns[i]) : 0;

		if (i < n && run_pages && pfn == run_start + run_pages) {
			run_pages++;
			continue;
		}
		if (run_pages)
			discard(b, run_start * NB_BALLOON_PAGE, run_pages * NB_BALLOON_PAGE,
				&b->stats.inflated_bytes);
		run_start = pfn;
		run_pages = 1;
	}
}

/* A free page report: each writable segment is a range of free guest
 * pages (already inside guest RAM: the walker checked). */
static void serve_report(struct nb_balloon *b)
{
	const struct nb_guest_mem *mem = b->vdev.mem;
	const struct nb_virtq_chain *c = &b->chain;

	for (unsigned i = 0; i < c->nread + c->nwrite; i++) {
		uint64_t gpa;

		if (!nb_mem_gpa_of(mem, c->segs[i].host, &gpa)) {
			b->stats.rejected_ranges++;
			continue;
		}
		discard(b, gpa, c->segs[i].len, &b->stats.reported_bytes);
	}
}

static void serve_queue(struct nb_balloon *b, unsigned qi)
{
	struct nb_virtio_dev *dev = &b->vdev;
	struct nb_virtq *q = &dev->queues[qi];
	int rc;

	while ((rc = nb_virtq_pop(q, &b->chain)) == 1) {
		if (qi == NB_BALLOON_Q_REPORTING)
			serve_report(b);
		else
			serve_pfns(b, qi == NB_BALLOON_Q_INFLATE);
		nb_virtq_push(q, b->chain.head, 0);
	}
	if (rc < 0)
		nb_virtio_queue_broken(dev, q);
	nb_virtio_signal_used(dev, q);
}

static void balloon_notify(struct nb_virtio_dev *dev)
{
	struct nb_balloon *b = dev->priv;

	serve_queue(b, NB_BALLOON_Q_INFLATE);
	serve_queue(b, NB_BALLOON_Q_DEFLATE);
	if (dev->driver_features & NB_BALLOON_F_REPORTING)
		serve_queue(b, NB_BALLOON_Q_REPORTING);
}

/* The driver updates `actual` (bytes 4..7); num_pages is the host's. */
static void balloon_config_write(struct nb_virtio_dev *dev, uint32_t offset, const uint8_t *data,
				 uint32_t len)
{
	struct nb_balloon *b = dev->priv;
	uint8_t *actual = (uint8_t *)&b->config.actual;
	const uint32_t at = offsetof(__typeof__(b->config), actual);

	if (offset >= at && offset + len <= at + sizeof(b->config.actual))
		memcpy(actual + (offset - at), data, len);
}

/* Snapshot: the config space (the host's target, the guest's count);
 * the queues are the transport's. */
static int balloon_save(struct nb_virtio_dev *dev, void *buf, size_t size, struct nb_err *err)
{
	struct nb_balloon *b = dev->priv;

	if (size < sizeof(b->config))
		return nb_err_set(err, 0, "state too large");
	memcpy(buf, &b->config, sizeof(b->config));
	return (int)sizeof(b->config);
}

static int balloon_load(struct nb_virtio_dev *dev, const void *data, size_t len, struct nb_err *err)
{
	struct nb_balloon *b = dev->priv;
	__typeof__(b->config) c;

	if (len != sizeof(c))
		return nb_err_set(err, 0, "snapshot: virtio-balloon state is %zu bytes", len);
	memcpy(&c, data, sizeof(c));
	/* Both count 4 KiB pages of guest RAM: no more than there is. */
	if (dev->mem && ((uint64_t)le32toh(c.num_pages) * NB_BALLOON_PAGE > dev->mem->size ||
			 (uint64_t)le32toh(c.actual) * NB_BALLOON_PAGE > dev->mem->size))
		return nb_err_set(err, 0, "snapshot: virtio-balloon state is malformed");
	b->config = c;
	return 0;
}

static const struct nb_virtio_ops balloon_ops = {
	.name = "virtio-balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.features = NB_BALLOON_F_DEFLATE_ON_OOM | NB_BALLOON_F_REPORTING,
	.nqueues = NB_BALLOON_NQUEUES,
	.queue_max = NB_BALLOON_QUEUE_MAX,
	.config_size = 8,
	.config_write = balloon_config_write,
	.notify = balloon_notify,
	.save = balloon_save,
	.load = balloon_load,
};

void nb_balloon_init(struct nb_balloon *b)
{
	memset(b, 0, sizeof(*b));
	nb_virtio_dev_init(&b->vdev, &balloon_ops, b, &b->config);
}

int nb_virtio_balloon_add(struct nb_virtio_transport *t, struct nb_event_loop *loop,
			  struct nb_balloon **out, struct nb_err *err)
{
	struct nb_balloon *b = malloc(sizeof(*b));

	if (!b)
		return nb_err_sys(err, "virtio-balloon");
	nb_balloon_init(b);
	if (nb_virtio_register(t, &b->vdev, loop, err) < 0) {
		free(b);
		return -1;
	}
	*out = b;
	return 0; /* b lives as long as the VM: the process */
}

int nb_balloon_set_target(struct nb_balloon *b, uint64_t bytes, struct nb_err *err)
{
	struct nb_virtio_dev *dev = &b->vdev;
	uint64_t pages = bytes / NB_BALLOON_PAGE;
	int rc = 0;

	pthread_mutex_lock(&dev->lock);
	if (pages > UINT32_MAX || (dev->mem && bytes > dev->mem->size)) {
		rc = nb_err_set(err, 0, "balloon target %llu MiB is more than the guest's RAM",
				(unsigned long long)(bytes >> 20));
	} else if (le32toh(b->config.num_pages) != pages) {
		b->config.num_pages = htole32((uint32_t)pages);
		if (nb_virtio_live(dev))
			nb_virtio_config_changed(dev);
	}
	pthread_mutex_unlock(&dev->lock);
	return rc;
}

uint64_t nb_balloon_actual(struct nb_balloon *b)
{
	uint32_t actual;

	pthread_mutex_lock(&b->vdev.lock);
	actual = le32toh(b->config.actual);
	pthread_mutex_unlock(&b->vdev.lock);
	return (uint64_t)actual * NB_BALLOON_PAGE;
}
