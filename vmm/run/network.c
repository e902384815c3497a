#include "vmm/run/network.h"

#include <string.h>
#include <unistd.h>

#include "common/parse.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/vsock.h"

void nb_network_init(struct nb_network *n)
{
	*n = (struct nb_network){ .broker = { .fd = -1 }, .early_tap_fd = -1 };
}

int nb_network_check(const struct nb_run_options *opts, struct nb_err *err)
{
	const struct nb_run_net *net = &opts->net;

	if ((net->ipv4 || net->gateway || net->has_mac) && !net->tap)
		return nb_err_set(err, 0, "--ip, --gateway and --mac need --net tap:NAME");
	if ((net->rx_bps || net->tx_bps || net->rx_ops || net->tx_ops) && !net->tap)
		return nb_err_set(err, 0,
				  "--net-rate needs --net tap:NAME (it limits that device)");
	if (net->gateway && !net->ipv4)
		return nb_err_set(err, 0, "--gateway needs --ip ADDR/PREFIX");
	if (net->gateway && net->prefix && (net->gateway ^ net->ipv4) >> (32 - net->prefix))
		return nb_err_set(err, 0, "--gateway is not inside the --ip network");
	return 0;
}

int nb_network_add(struct nb_network *n, struct nb_virtio_transport *t, struct nb_event_loop *loop,
		   const struct nb_run_options *opts, struct nb_err *err)
{
	const struct nb_run_net *net = &opts->net;

	if (net->vsock_path) {
		struct nb_vsock_opts vo = {
			.uds_path = net->vsock_path,
			.guest_cid = net->vsock_cid ? net->vsock_cid : NB_VSOCK_DEFAULT_CID,
			.host = &n->broker_host,
		};

		/* Connect and unlink go through the broker (vsock_broker.h). */
		if (nb_vsock_broker_start(&n->broker, net->vsock_path, n->record, err) < 0)
			return -1;
		n->record_taken = n->record != NULL;
		n->broker_host = nb_vsock_broker_host(&n->broker);
		if (nb_virtio_vsock_add(t, loop, &vo, &n->vsock, err) < 0)
			return -1;
	}
	if (net->tap) {
		struct nb_net_opts no = { .tap = net->tap, .tap_fd = n->early_tap_fd };
		uint32_t pid = n->mac_id ? n->mac_id : (uint32_t)getpid();

		/* Locally administered unicast (02:...), "NB" and the pid. */
		const uint8_t def[6] = {
			0x02, 0x4e, 0x42, (uint8_t)(pid >> 16), (uint8_t)(pid >> 8), (uint8_t)pid
		};
		memcpy(no.mac, net->has_mac ? net->mac : def, 6);
		nb_ratelimit_config_rate(&no.rx_limit.bytes, net->rx_bps);
		nb_ratelimit_config_rate(&no.rx_limit.ops, net->rx_ops);
		nb_ratelimit_config_rate(&no.tx_limit.bytes, net->tx_bps);
		nb_ratelimit_config_rate(&no.tx_limit.ops, net->tx_ops);
		n->early_tap_fd = -1; /* the device owns it now */
		if (nb_virtio_net_add(t, loop, &no, &n->net, err) < 0)
			return -1;
	}
	return 0;
}

void nb_network_spec(const struct nb_run_options *opts, struct nb_spec *spec)
{
	spec->net_ipv4 = opts->net.ipv4;
	spec->net_prefix = opts->net.ipv4 ? opts->net.prefix : 0;
	spec->net_gateway = opts->net.gateway;
}

int nb_network_prepare(struct nb_network *n, const struct nb_run_options *opts, struct nb_err *err)
{
	bool created;

	n->mac_id = (uint32_t)getpid();
	if (!opts->net.tap)
		return 0;
	n->early_tap_fd = nb_tap_open(opts->net.tap, &created, err);
	return n->early_tap_fd < 0 ? -1 : 0;
}

void nb_network_fds(const struct nb_network *n, int *vsock_listen, int *vsock_broker)
{
	*vsock_listen = n->vsock ? nb_vsock_listen_fd(n->vsock) : -1;
	*vsock_broker = n->broker.fd;
}

void nb_network_cleanup(struct nb_network *n)
{
	if (n->early_tap_fd >= 0)
		close(n->early_tap_fd);
	n->early_tap_fd = -1;
	nb_vsock_close(n->vsock);
	n->vsock = NULL;
	nb_vsock_broker_stop(&n->broker);
	nb_net_close(n->net); /* a tap nestbox created vanishes with its fd */
	n->net = NULL;
}
