/* virtio-rng (device id 4): fills each guest buffer from getrandom(2), at
 * most NB_RNG_MAX_REQUEST bytes per request, so a hostile guest cannot make
 * one request cost unbounded host time. */
#ifndef NESTBOX_VIRTIO_RNG_H
#define NESTBOX_VIRTIO_RNG_H

#include "vmm/kvm/event.h"
#include "vmm/virtio/virtio.h"

#define NB_RNG_MAX_REQUEST 4096u

struct nb_rng {
	struct nb_virtio_dev vdev;
	struct nb_virtq_chain chain; /* scratch for the request being served */
};

/* Serve one chain; returns the bytes written. */
uint32_t nb_rng_handle(const struct nb_virtq_chain *c);

/* Create the device on transport t, served on loop. */
int nb_virtio_rng_add(struct nb_virtio_transport *t, struct nb_event_loop *loop,
		      struct nb_err *err);

/* The device nb_virtio_rng_add() registers, for tests and fuzzers: r's
 * virtio device (r->vdev) for a transport of the test's choosing. */
void nb_rng_init(struct nb_rng *r);

#endif
