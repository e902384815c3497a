#include "vmm/virtio/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include <linux/virtio_ids.h>

#include "vmm/virtio/mmio.h"

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
	struct nb_virtq_chain *chain = dev->priv;
	struct nb_virtq *q = &dev->queues[0];
	int rc;

	while ((rc = nb_virtq_pop(q, chain)) == 1)
		nb_virtq_push(q, chain->head, nb_rng_handle(chain));
	if (rc < 0)
		nb_virtio_queue_broken(dev, q);
	nb_virtio_signal_used(dev, q);
}

const struct nb_virtio_ops nb_virtio_rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.nqueues = 1,
	.queue_max = 64,
	.notify = rng_notify,
};

int nb_virtio_rng_add(struct nb_vm *vm, struct nb_event_loop *loop, struct nb_err *err)
{
	struct nb_virtq_chain *chain = malloc(sizeof(*chain));

	if (!chain)
		return nb_err_sys(err, "virtio-rng");
	if (nb_virtio_mmio_add(vm, loop, &nb_virtio_rng_ops, chain, NULL, err) < 0) {
		free(chain);
		return -1;
	}
	return 0;
}
