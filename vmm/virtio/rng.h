/* virtio-rng (device id 4): fills each guest buffer from getrandom(2), at
 * most NB_RNG_MAX_REQUEST bytes per request, so a hostile guest cannot make
 * one request cost unbounded host time. */
#ifndef NESTBOX_VIRTIO_RNG_H
#define NESTBOX_VIRTIO_RNG_H

#include "vmm/kvm/event.h"
#include "vmm/virtio/virtio.h"

#define NB_RNG_MAX_REQUEST 4096u

struct nb_vm;

/* Serve one chain; returns the bytes written. */
uint32_t nb_rng_handle(const struct nb_virtq_chain *c);

int nb_virtio_rng_add(struct nb_vm *vm, struct nb_event_loop *loop, struct nb_err *err);

/* The ops nb_virtio_rng_add() binds, for tests and fuzzers; the device's
 * priv is a struct nb_virtq_chain it uses as scratch. */
extern const struct nb_virtio_ops nb_virtio_rng_ops;

#endif
