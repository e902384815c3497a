#include "vmm/run/network.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/parse.h"
#include "vmm/hostnet/hostnet.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/vsock.h"

void nb_network_init(struct nb_network *n)
{
	*n = (struct nb_network){ .broker = { .fd = -1 }, .early_tap_fd = -1 };
}

bool nb_network_joins(const struct nb_run_options *opts)
{
	return opts->net.network || (opts->net.npublish && !opts->net.network_mode);
}

int nb_network_check(const struct nb_run_options *opts, struct nb_err *err)
{
	const struct nb_run_net *net = &opts->net;
	bool joins = nb_network_joins(opts), nic = joins || net->tap;

	if (net->tap && joins)
		return nb_err_set(err, 0, "--tap and --network NAME (or -p) exclude each other");
	if (net->npublish && net->network_mode)
		return nb_err_set(err, 0,
				  "-p needs a network: --network NAME, or no --network "
				  "for the default network 'bridge'");
	if (net->ipv4 && net->prefix && !net->tap)
		return nb_err_set(err, 0,
				  "--ip ADDR/PREFIX is for --tap; with --network give ADDR");
	if (net->ipv4 && !net->prefix && !joins)
		return nb_err_set(err, 0,
				  "--ip ADDR needs --network NAME (or --tap with ADDR/PREFIX)");
	if (net->gateway && !net->tap)
		return nb_err_set(err, 0,
				  "--gateway is for --tap (a network's gateway is its own)");
	if ((net->has_mac || net->ndns) && !nic)
		return nb_err_set(err, 0,
				  "--mac-address and --dns need a NIC (--network NAME or --tap)");
	if ((net->rx_bps || net->tx_bps || net->rx_ops || net->tx_ops) && !nic)
		return nb_err_set(err, 0, "--net-rate needs a NIC (--network NAME or --tap)");
	if (net->gateway && !net->ipv4)
		return nb_err_set(err, 0, "--gateway needs --ip ADDR/PREFIX");
	if (net->gateway && net->prefix && (net->gateway ^ net->ipv4) >> (32 - net->prefix))
		return nb_err_set(err, 0, "--gateway is not inside the --ip network");
	return 0;
}

/* Locally administered unicast (02:...), "NB" and this process's pid (the
 * outer one's with --jail: attach runs before it). */
static void default_mac(uint8_t mac[6])
{
	uint32_t pid = (uint32_t)getpid();

	mac[0] = 0x02;
	mac[1] = 0x4e;
	mac[2] = 0x42;
	mac[3] = (uint8_t)(pid >> 16);
	mac[4] = (uint8_t)(pid >> 8);
	mac[5] = (uint8_t)pid;
}

int nb_network_attach(struct nb_network *n, const struct nb_run_options *opts, struct nb_err *err)
{
	const struct nb_run_net *net = &opts->net;
	struct nb_hostnet_vm vm;
	bool created = false;

	n->eth0.ipv4 = net->ipv4;
	n->eth0.prefix = net->prefix;
	n->eth0.gateway = net->gateway;
	n->eth0.has_mac = net->has_mac;
	memcpy(n->eth0.mac, net->mac, sizeof(n->eth0.mac));
	n->eth0.ndns = (uint32_t)net->ndns;
	memcpy(n->eth0.dns, net->dns, sizeof(n->eth0.dns));
	n->tap = net->tap;
	if (net->tap_fd > 0)
		n->early_tap_fd = net->tap_fd;
	if (!nb_network_joins(opts)) {
		if (n->tap && !n->eth0.has_mac)
			default_mac(n->eth0.mac);
		n->eth0.has_mac = n->tap != NULL;
		return 0;
	}
	n->network = net->network ? net->network : NB_NET_DEFAULT;
	snprintf(n->own_tap, sizeof(n->own_tap), "nbt%d", (int)getpid());
	n->early_tap_fd = nb_tap_open(n->own_tap, &created, err);
	if (n->early_tap_fd >= 0 && !created) {
		nb_err_set(err, 0, "a tap %s exists already (left by hand?); remove it",
			   n->own_tap);
		close(n->early_tap_fd);
		n->early_tap_fd = -1;
	}
	if (n->early_tap_fd < 0)
		return nb_err_wrap(err, "--network %s", n->network);
	n->tap = n->own_tap;
	if (nb_hostnet_attach(n->network, net->ipv4, net->publish, net->npublish, n->own_tap, &vm,
			      err) < 0)
		return -1;
	n->attached = true;
	n->eth0.ipv4 = vm.ip;
	n->eth0.prefix = vm.def.prefix;
	n->eth0.gateway = vm.def.gateway;
	if (!n->eth0.has_mac)
		memcpy(n->eth0.mac, vm.mac, sizeof(n->eth0.mac));
	n->eth0.has_mac = true;
	if (!n->eth0.ndns)
		n->eth0.ndns = (uint32_t)nb_hostnet_dns("/etc/resolv.conf", n->eth0.dns);
	return 0;
}

void nb_network_detach(struct nb_network *n, const struct nb_report *report)
{
	struct nb_err err;

	if (!n->attached)
		return;
	n->attached = false;
	if (nb_hostnet_detach(n->network, &err) < 0)
		nb_report(report, NB_REPORT_MESSAGE,
			  "leaving network %s: %s (nestbox gc will finish it)", n->network,
			  err.msg);
}

int nb_network_add(struct nb_network *n, struct nb_virtio_transport *t, struct nb_event_loop *loop,
		   const struct nb_run_options *opts, struct nb_err *err)
{
	const struct nb_run_net *net = &opts->net;

	if (net->vsock_path || net->template_vsock) {
		struct nb_vsock_opts vo = {
			.uds_path = net->vsock_path,
			.guest_cid = net->vsock_cid ? net->vsock_cid : NB_VSOCK_DEFAULT_CID,
			.host = net->vsock_path ? &n->broker_host : NULL,
		};

		/* Connect and unlink go through the broker (vsock_broker.h);
		 * without a socket the device has no host side at all. */
		if (net->vsock_path) {
			if (nb_vsock_broker_start(&n->broker, net->vsock_path, n->record, err) < 0)
				return -1;
			n->record_taken = n->record != NULL;
			n->broker_host = nb_vsock_broker_host(&n->broker);
		}
		if (nb_virtio_vsock_add(t, loop, &vo, &n->vsock, err) < 0)
			return -1;
	}
	/* A template's NIC may have no tap: unplugged (vmm/virtio/net.h). */
	if (n->tap || net->template_nic) {
		struct nb_net_opts no = { .tap = n->tap, .tap_fd = n->early_tap_fd };

		if (n->eth0.has_mac)
			memcpy(no.mac, n->eth0.mac, 6);
		else
			default_mac(no.mac);
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

void nb_network_spec(const struct nb_network *n, struct nb_spec *spec, char buf[3][16],
		     const char *dns[3])
{
	spec->net_ipv4 = n->eth0.ipv4;
	spec->net_prefix = n->eth0.ipv4 ? n->eth0.prefix : 0;
	spec->net_gateway = n->eth0.gateway;
	spec->net_mac = n->eth0.has_mac ? n->eth0.mac : NULL; /* a clone's NIC has the template's */
	spec->net_mac_len = n->eth0.has_mac ? sizeof(n->eth0.mac) : 0;
	for (size_t i = 0; n->eth0.ipv4 && i < n->eth0.ndns && i < 3; i++) {
		nb_ipv4_format(n->eth0.dns[i], buf[i]);
		dns[spec->net_ndns++] = buf[i];
	}
	spec->net_dns = spec->net_ndns ? dns : NULL;
}

int nb_network_adopt(struct nb_network *n, pid_t from, struct nb_err *err)
{
	if (!n->attached)
		return 0;
	return nb_hostnet_adopt(n->network, from, err) < 0 ? nb_err_wrap(err, "run -d") : 0;
}

void nb_network_disown(struct nb_network *n)
{
	n->attached = false;
}

int nb_network_prepare(struct nb_network *n, const struct nb_run_options *opts, struct nb_err *err)
{
	bool created;

	(void)opts;
	if (!n->tap || n->early_tap_fd >= 0)
		return 0;
	n->early_tap_fd = nb_tap_open(n->tap, &created, err);
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
