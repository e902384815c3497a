/* virtio-net (device id 1) over a tap (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
 * the 12-byte virtio_net_hdr_v1 of VERSION_1). Offered: MAC, STATUS (link
 * up), and checksum/TSO offloads in both directions, which the tap does end
 * to end (the host kernel checksums and segments): TUNSETOFFLOAD gets only
 * what the guest accepted (GUEST_CSUM, GUEST_TSO4/6), and a guest tx header
 * is passed on only with what it negotiated (CSUM, HOST_TSO4/6; no ECN, no
 * UFO), else the frame is dropped; without offloads the tap sees a zeroed
 * header. No mergeable rx buffers (Linux then posts 64 KiB "big" buffers
 * when it takes GUEST_TSO). Frames are bounded by
 * NB_NET_MAX_FRAME; rx stops reading the tap while the guest has no buffers
 * and resumes when it adds some. Each direction may be rate limited (token
 * buckets, bytes and frames): a dry tx leaves frames in the tx queue, a dry
 * rx stops reading the tap (which buffers, then drops, as a NIC's wire
 * would). A frame's size is known only once read, so rx reads while the
 * buckets are not in debt and charges the frame afterwards.
 * Unplugged (no tap: a template's NIC, or its clone's without a network),
 * the link is up and leads nowhere: tx frames are dropped, rx never comes.
 * The device restores (a clone on a tap of its own): the tap gets the
 * offloads the snapshot's driver negotiated. */
#ifndef NESTBOX_VIRTIO_NET_H
#define NESTBOX_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/kvm/event.h"
#include "vmm/virtio/ratelimit.h"
#include "vmm/virtio/virtio.h"

#define NB_NET_HDR_SIZE 12u
#define NB_NET_MAX_FRAME 65550u /* without the header */

struct nb_net;

struct nb_net_opts {
	const char *tap; /* interface name, < IFNAMSIZ; NULL (and no tap_fd): unplugged */
	int tap_fd;      /* > 0: tap already open (by nb_tap_open()), taken over */
	uint8_t mac[6];
	struct nb_ratelimit_config rx_limit, tx_limit; /* zero: unlimited */
};

/* Open (or create: then it vanishes when nestbox exits) the tap NAME. */
int nb_tap_open(const char *name, bool *created, struct nb_err *err);

/* Create the device on transport t, served on loop. */
int nb_virtio_net_add(struct nb_virtio_transport *t, struct nb_event_loop *loop,
		      const struct nb_net_opts *opts, struct nb_net **out, struct nb_err *err);
/* Stop watching the tap, close it and free the device. */
void nb_net_close(struct nb_net *net);

/* The pieces nb_virtio_net_add() registers, for tests and fuzzers (any
 * datagram socket may stand in for the tap as opts->tap_fd): the device
 * state and its virtio device, for a transport of the test's choosing. */
struct nb_net *nb_net_new(struct nb_event_loop *loop, const struct nb_net_opts *opts,
			  struct nb_err *err);
struct nb_virtio_dev *nb_net_dev(struct nb_net *net);

#endif
