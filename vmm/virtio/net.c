#include "vmm/virtio/net.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#define RXQ 0u
#define TXQ 1u
#define F(bit) (1ull << (bit))
/* Offloads: done end to end by the tap (the host kernel segments and
 * checksums), so each is offered only as the pair both sides need. */
#define NET_OFFLOADS                                                                     \
	(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | \
	 F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6))

struct nb_net {
	struct nb_virtio_dev vdev;
	struct nb_event_loop *loop;
	int tap_fd;    /* -1: unplugged (tx dropped, no rx) */
	bool watching; /* tap in the event loop */
	bool rx_held;  /* rx_chain popped, not yet filled */
	struct nb_ratelimit rx_rl, tx_rl;
	struct virtio_net_config config;
	struct nb_virtq_chain rx_chain, tx_chain;
};

static bool is_up(int sock, const char *name)
{
	struct ifreq ifr = { 0 };

	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	return ioctl(sock, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
}

static int set_up(const char *name, struct nb_err *err)
{
	struct ifreq ifr = { 0 };
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (sock < 0)
		return nb_err_sys(err, "--net tap:%s: socket", name);
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (!is_up(sock, name)) {
		if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
			rc = nb_err_sys(err, "--net tap:%s: SIOCGIFFLAGS", name);
		ifr.ifr_flags |= IFF_UP;
		if (rc == 0 && ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
			rc = nb_err_sys(err, "--net tap:%s: bringing it up", name);
	}
	close(sock);
	return rc;
}

int nb_tap_open(const char *name, bool *created, struct nb_err *err)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdr = NB_NET_HDR_SIZE;
	int fd;

	if (!name[0] || strlen(name) >= IFNAMSIZ || strchr(name, '/'))
		return nb_err_set(err, 0, "--net tap:%s: a name of 1 to %d characters", name,
				  IFNAMSIZ - 1);
	*created = if_nametoindex(name) == 0;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return nb_err_sys(err, "--net: /dev/net/tun");
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	/* A tap nestbox creates is not persistent: the kernel removes it
	 * when the last descriptor closes, whatever way nestbox exits. */
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		int e = errno;

		close(fd);
		return nb_err_set(err, e,
				  "--net tap:%s: cannot attach to the tap (an existing "
				  "non-tap interface, or no CAP_NET_ADMIN?)",
				  name);
	}
	if (*created && set_up(name, err) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- rx: tap -> guest -------------------------------------------------------- */

static void on_tap(void *opaque, int fd, uint32_t events);

static void watch_tap(struct nb_net *net, bool on)
{
	struct nb_err err;

	if (net->watching == on)
		return;
	if (!on)
		nb_event_remove(net->loop, net->tap_fd);
	else if (nb_event_add(net->loop, net->tap_fd, EPOLLIN, on_tap, net, &err) < 0)
		return;
	net->watching = on;
}

/* Move frames from the tap into guest buffers until either runs out. */
static void serve_rx(struct nb_net *net)
{
	struct nb_virtio_dev *dev = &net->vdev;
	struct nb_virtq *q = &dev->queues[RXQ];
	struct iovec iov[NB_VIRTQ_MAX_SIZE];
	bool pushed = false;

	if (net->tap_fd < 0) /* unplugged: its buffers wait */
		return;
	for (unsigned budget = 0; budget < 256; budget++) {
		if (!net->rx_held) {
			int rc = nb_virtq_pop(q, &net->rx_chain);

			if (rc < 0)
				nb_virtio_queue_broken(dev, q);
			if (rc != 1) {
				watch_tap(net, false); /* resume when the guest adds buffers */
				break;
			}
			net->rx_held = true;
		}
		if (net->rx_chain.write_len < NB_NET_HDR_SIZE) { /* useless buffer */
			nb_virtq_push(q, net->rx_chain.head, 0);
			net->rx_held = false;
			pushed = true;
			continue;
		}
		/* Dry: leave frames in the tap until the limiter's timer. */
		if (!nb_ratelimit_admit(&net->rx_rl, 0, 0)) {
			watch_tap(net, false);
			break;
		}
		unsigned n = nb_virtq_chain_iov(&net->rx_chain, true, 0, net->rx_chain.write_len,
						iov, NB_VIRTQ_MAX_SIZE);
		ssize_t got = readv(net->tap_fd, iov, (int)n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < (ssize_t)NB_NET_HDR_SIZE) { /* nothing to read: keep the buffer */
			watch_tap(net, true);
			break;
		}
		/* The tap leaves num_buffers alone; one buffer per frame here. */
		uint16_t one = 1;
		nb_virtq_chain_write(&net->rx_chain, 10, &one, sizeof(one));
		nb_ratelimit_charge(&net->rx_rl, (uint64_t)got - NB_NET_HDR_SIZE, 1);
		nb_virtq_push(q, net->rx_chain.head, (uint32_t)got);
		net->rx_held = false;
		pushed = true;
	}
	if (pushed)
		nb_virtio_signal_used(dev, q);
}

static void on_tap(void *opaque, int fd, uint32_t events)
{
	struct nb_net *net = opaque;
	struct nb_virtio_dev *dev = &net->vdev;

	(void)fd;
	(void)events;
	pthread_mutex_lock(&dev->lock);
	if (nb_virtio_live(dev))
		serve_rx(net);
	else
		watch_tap(net, false); /* until the driver is (again) ready */
	pthread_mutex_unlock(&dev->lock);
}

/* ---- tx: guest -> tap ---------------------------------------------------------- */

/* The guest's header, only with what it negotiated (the tap's kernel
 * checks the rest, as for any tap user); false: drop the frame. */
static bool tx_header(const struct nb_net *net, const struct nb_virtq_chain *c,
		      struct virtio_net_hdr_v1 *h)
{
	uint64_t f = net->vdev.driver_features;
	uint8_t gso;

	memset(h, 0, sizeof(*h));
	if (!(f & (F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6))))
		return true; /* no offloads: a zero header whatever the guest wrote */
	if (nb_virtq_chain_read(c, 0, h, NB_NET_HDR_SIZE) != NB_NET_HDR_SIZE)
		return false;
	h->num_buffers = 0;
	h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !(f & F(VIRTIO_NET_F_CSUM)))
		return false;
	gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN)
		return false; /* HOST_ECN not offered */
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return true;
	return (gso == VIRTIO_NET_HDR_GSO_TCPV4 && (f & F(VIRTIO_NET_F_HOST_TSO4))) ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV6 && (f & F(VIRTIO_NET_F_HOST_TSO6)));
}

static void send_frame(struct nb_net *net, const struct nb_virtq_chain *c)
{
	struct virtio_net_hdr_v1 hdr;
	struct iovec iov[NB_VIRTQ_MAX_SIZE + 1] = { { &hdr, sizeof(hdr) } };
	uint64_t frame = c->read_len - NB_NET_HDR_SIZE;

	if (net->tap_fd < 0 || c->read_len < NB_NET_HDR_SIZE + 14 || frame > NB_NET_MAX_FRAME)
		return; /* unplugged, shorter than an Ethernet header, or too long: dropped */
	if (!tx_header(net, c, &hdr))
		return;
	unsigned n = nb_virtq_chain_iov(c, false, NB_NET_HDR_SIZE, frame, iov + 1,
					NB_VIRTQ_MAX_SIZE);
	/* A full tap queue drops the frame, as a NIC would. */
	while (writev(net->tap_fd, iov, (int)n + 1) < 0 && errno == EINTR)
		;
}

static void serve_tx(struct nb_net *net)
{
	struct nb_virtio_dev *dev = &net->vdev;
	struct nb_virtq *q = &dev->queues[TXQ];
	bool pushed = false;
	int rc;

	while ((rc = nb_virtq_pop(q, &net->tx_chain)) == 1) {
		uint64_t len = net->tx_chain.read_len;

		if (!nb_ratelimit_admit(&net->tx_rl,
					len > NB_NET_HDR_SIZE ? len - NB_NET_HDR_SIZE : 0, 1)) {
			nb_virtq_unpop(q); /* stays queued until the limiter's timer */
			break;
		}
		send_frame(net, &net->tx_chain);
		nb_virtq_push(q, net->tx_chain.head, 0);
		pushed = true;
	}
	if (rc < 0)
		nb_virtio_queue_broken(dev, q);
	if (pushed)
		nb_virtio_signal_used(dev, q);
}

/* ---- device ----------------------------------------------------------------------- */

/* A limiter's timer fired (event thread). */
static void rx_resume(void *opaque)
{
	struct nb_net *net = opaque;

	on_tap(net, net->tap_fd, 0);
}

static void tx_resume(void *opaque)
{
	struct nb_net *net = opaque;

	nb_virtio_process(&net->vdev);
}

static void net_notify(struct nb_virtio_dev *dev)
{
	struct nb_net *net = dev->priv;

	serve_tx(net);
	if (!net->watching)
		serve_rx(net);
}

/* What the tap may hand us: only what the guest accepts. */
static void net_activate(struct nb_virtio_dev *dev)
{
	struct nb_net *net = dev->priv;
	uint64_t f = dev->driver_features;
	unsigned tun = 0;

	if (net->tap_fd < 0)
		return;
	if (f & F(VIRTIO_NET_F_GUEST_CSUM)) {
		tun |= TUN_F_CSUM;
		if (f & F(VIRTIO_NET_F_GUEST_TSO4))
			tun |= TUN_F_TSO4;
		if (f & F(VIRTIO_NET_F_GUEST_TSO6))
			tun |= TUN_F_TSO6;
	}
	if (ioctl(net->tap_fd, TUNSETOFFLOAD, tun) < 0)
		ioctl(net->tap_fd, TUNSETOFFLOAD, 0);
}

static void net_reset(struct nb_virtio_dev *dev)
{
	struct nb_net *net = dev->priv;

	/* The event loop is the event thread's: on_tap stops watching. */
	net->rx_held = false;
	if (net->tap_fd >= 0)
		ioctl(net->tap_fd, TUNSETOFFLOAD, 0);
}

/* A restore (a template's clone, on a tap of its own): the tap gets the
 * offloads the guest negotiated; the transport's kick starts rx. Nothing
 * of the device's own is saved: its MAC is the clone's (the guest sets it,
 * NB_SPEC_NET_MAC). */
static int net_load(struct nb_virtio_dev *dev, const void *data, size_t len, struct nb_err *err)
{
	(void)data;
	if (len)
		return nb_err_set(err, 0, "snapshot: virtio-net has state it does not take");
	if (nb_virtio_live(dev))
		net_activate(dev);
	return 0;
}

static const struct nb_virtio_ops net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.features = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | NET_OFFLOADS,
	.nqueues = 2,
	.queue_max = 256,
	.config_size = 10, /* mac, status, max_virtqueue_pairs */
	.notify = net_notify,
	.activate = net_activate,
	.reset = net_reset,
	.load = net_load,
};

struct nb_net *nb_net_new(struct nb_event_loop *loop, const struct nb_net_opts *opts,
			  struct nb_err *err)
{
	struct nb_net *net = calloc(1, sizeof(*net));
	bool created;

	if (!net) {
		nb_err_sys(err, "virtio-net");
		return NULL;
	}
	nb_virtio_dev_init(&net->vdev, &net_ops, net, &net->config);
	net->loop = loop;
	net->tap_fd = -1; /* neither: unplugged */
	if (opts->tap_fd > 0) {
		net->tap_fd = opts->tap_fd;
	} else if (opts->tap && (net->tap_fd = nb_tap_open(opts->tap, &created, err)) < 0) {
		free(net);
		return NULL;
	}
	memcpy(net->config.mac, opts->mac, 6);
	net->config.status = VIRTIO_NET_S_LINK_UP;
	net->config.max_virtqueue_pairs = 1;
	nb_ratelimit_init(&net->rx_rl, &(struct nb_ratelimit_config){ 0 }, NULL);
	nb_ratelimit_init(&net->tx_rl, &(struct nb_ratelimit_config){ 0 }, NULL);
	if (nb_ratelimit_attach(&net->rx_rl, &opts->rx_limit, loop, rx_resume, net, err) < 0 ||
	    nb_ratelimit_attach(&net->tx_rl, &opts->tx_limit, loop, tx_resume, net, err) < 0) {
		nb_ratelimit_detach(&net->rx_rl, loop);
		nb_net_close(net);
		return NULL;
	}
	return net;
}

struct nb_virtio_dev *nb_net_dev(struct nb_net *net)
{
	return &net->vdev;
}

int nb_virtio_net_add(struct nb_virtio_transport *t, struct nb_event_loop *loop,
		      const struct nb_net_opts *opts, struct nb_net **out, struct nb_err *err)
{
	struct nb_net *net = nb_net_new(loop, opts, err);

	if (!net)
		return -1;
	if (nb_virtio_register(t, &net->vdev, loop, err) < 0) {
		nb_ratelimit_detach(&net->rx_rl, loop);
		nb_ratelimit_detach(&net->tx_rl, loop);
		nb_net_close(net);
		return -1;
	}
	*out = net;
	return 0;
}

void nb_net_close(struct nb_net *net)
{
	if (!net)
		return;
	if (net->watching)
		nb_event_remove(net->loop, net->tap_fd);
	nb_ratelimit_detach(&net->rx_rl, NULL); /* teardown: the loop goes too */
	nb_ratelimit_detach(&net->tx_rl, NULL);
	if (net->tap_fd >= 0)
		close(net->tap_fd);
	free(net);
}
