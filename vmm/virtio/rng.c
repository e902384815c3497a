#include "vmm/virtio/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include <linux/virtio_ids.h>

uint32_t nb_rng_handle(const struct nb_virtq_chain *c)
{
	uint8_t buf[NB_RNG_MAX_REQUEST];
	size_t want = c->write_len < sizeof(buf) ? (size_t)c->write_len : sizeof(buf);
	ssize_t got;

	if (want == 0)
		return 0;
	do
		got = getrandom(buf, want, 0);
	while (got < 0 && errno == EINTR);
	if (got <= 0)
		return 0;
	return (uint32_t)nb_virtq_chain_write(c, 0, buf, (size_t)got);
}

static void rng_notify(struct nb_virtio_dev *dev)
{
	struct nb_rng *r = dev->priv;
	struct nb_virtq *q = &dev->queues[0];
	int rc;

	while ((rc = nb_virtq_pop(q, &r->chain)) == 1)
		nb_virtq_push(q, r->chain.head, nb_rng_handle(&r->chain));
	if (rc < 0)
		nb_virtio_queue_broken(dev, q);
	nb_virtio_signal_used(dev, q);
}

static const struct nb_virtio_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.nqueues = 1,
	.queue_max = 64,
	.notify = rng_notify,
};

void nb_rng_init(struct nb_rng *r)
{
	nb_virtio_dev_init(&r->vdev, &rng_ops, r, NULL);
}

int nb_virtio_rng_add(struct nb_virtio_transport *t, struct nb_event_loop *loop, struct nb_err *err)
{
	struct nb_rng *r = malloc(sizeof(*r));

	if (!r)
		return nb_err_sys(err, "virtio-rng");
	nb_rng_init(r);
	if (nb_virtio_register(t, &r->vdev, loop, err) < 0) {
		free(r);
		return -1;
	}
	return 0; /* r lives as long as the VM: the process */
}
