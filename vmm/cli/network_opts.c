#include "vmm/cli/network_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/parse.h"
#include "nestbox/abi.h"
#include "vmm/hostnet/hostnet.h"
#include "vmm/hostnet/netdef.h"
#include "vmm/virtio/ratelimit.h"
#include "vmm/virtio/vsock.h"

/* Unicast, as "aa:bb:cc:dd:ee:ff". */
static int parse_mac(const char *arg, struct nb_run_net *net, struct nb_err *err)
{
	unsigned b[6];
	char tail;

	if (sscanf(arg, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6 ||
	    strlen(arg) != 17 || (b[0] & 1) || !(b[0] | b[1] | b[2] | b[3] | b[4] | b[5]))
		return nb_err_set(err, 0, "--mac-address %s: use a unicast aa:bb:cc:dd:ee:ff", arg);
	for (int i = 0; i < 6; i++)
		net->mac[i] = (uint8_t)b[i];
	net->has_mac = true;
	return 0;
}

/* ADDR/PREFIX (--tap), IPv4, prefix 1..32; or ADDR alone (--network NAME,
 * prefix 0: the network's). */
static int parse_ip(const char *arg, struct nb_run_net *net, struct nb_err *err)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(arg, '/');
	size_t len = slash ? (size_t)(slash - arg) : strlen(arg);
	struct in_addr a;
	uint64_t prefix = 0;

	if (len >= sizeof(addr))
		goto bad;
	memcpy(addr, arg, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, &a) != 1 || a.s_addr == 0 ||
	    (slash && !nb_parse_decimal(slash + 1, 1, 32, &prefix)))
		goto bad;
	net->ipv4 = ntohl(a.s_addr);
	net->prefix = (uint32_t)prefix;
	return 0;
bad:
	return nb_err_set(err, 0, "--ip %s: use ADDR (--network) or ADDR/PREFIX (--tap)", arg);
}

/* --network NAME|none|host: none is also the container's own namespace. */
static int parse_network(const char *arg, struct nb_run_options *opts, struct nb_err *err)
{
	struct nb_run_net *net = &opts->net;

	net->network = NULL;
	net->network_mode = true;
	opts->container.namespaces &= ~NB_NS_NET;
	if (strcmp(arg, "none") == 0) {
		opts->container.namespaces |= NB_NS_NET;
		return 0;
	}
	if (strcmp(arg, "host") == 0)
		return 0;
	net->network_mode = false;
	net->network = arg;
	return nb_netname_check(arg, err) < 0 ? nb_err_wrap(err, "--network") : 0;
}

/* rx=RATE,tx=RATE,rx-ops=N,tx-ops=N, any non-empty subset, each once. */
static int parse_net_rate(const char *arg, struct nb_run_net *net, struct nb_err *err)
{
	uint64_t rates[NB_NET_RATES];

	if (nb_net_rate_parse(arg, rates, err) < 0)
		return -1;
	net->rx_bps = rates[NB_NET_RATE_RX];
	net->tx_bps = rates[NB_NET_RATE_TX];
	net->rx_ops = rates[NB_NET_RATE_RX_OPS];
	net->tx_ops = rates[NB_NET_RATE_TX_OPS];
	return 0;
}

int nb_network_cli_option(int opt, const char *arg, struct nb_run_options *opts, struct nb_err *err)
{
	struct nb_run_net *net = &opts->net;

	switch (opt) {
	case NB_OPT_VSOCK:
		if (!arg[0])
			return nb_err_set(err, 0, "--vsock: give a socket path");
		net->vsock_path = arg;
		return 0;
	case NB_OPT_VSOCK_CID:
		return nb_parse_u64("--vsock-cid", arg, NB_VSOCK_HOST_CID + 1, UINT32_MAX - 1,
				    &net->vsock_cid, err);
	case NB_OPT_TAP:
		if (!arg[0] || strlen(arg) >= 16 || strchr(arg, '/'))
			return nb_err_set(err, 0,
					  "--tap %s: use an interface name (1 to 15 characters)",
					  arg);
		net->tap = arg;
		return 0;
	case NB_OPT_NETWORK:
		return parse_network(arg, opts, err);
	case 'p':
		if (net->npublish == NB_PUBLISH_MAX)
			return nb_err_set(err, 0, "-p: at most %u", NB_PUBLISH_MAX);
		return nb_publish_parse(arg, &net->publish[net->npublish++], err);
	case NB_OPT_DNS:
		if (net->ndns == NB_DNS_MAX)
			return nb_err_set(err, 0, "--dns: at most %u nameservers", NB_DNS_MAX);
		if (nb_ipv4_parse(arg, false, &net->dns[net->ndns++], err) < 0)
			return nb_err_wrap(err, "--dns");
		return 0;
	case NB_OPT_MAC:
		return parse_mac(arg, net, err);
	case NB_OPT_IP:
		return parse_ip(arg, net, err);
	case NB_OPT_NET_RATE:
		return parse_net_rate(arg, net, err);
	case NB_OPT_GATEWAY: {
		struct in_addr a;

		if (inet_pton(AF_INET, arg, &a) != 1 || a.s_addr == 0)
			return nb_err_set(err, 0, "--gateway %s: use an IPv4 address", arg);
		net->gateway = ntohl(a.s_addr);
		return 0;
	}
	default:
		return 1;
	}
}

int nb_network_cli_restore(struct nb_run_options *opts, const char *network, bool tap,
			   char *const *args, struct nb_err *err)
{
	static const struct {
		const char *name;
		int opt;
	} known[] = { { "-p", 'p' },
		      { "--ip", NB_OPT_IP },
		      { "--gateway", NB_OPT_GATEWAY },
		      { "--mac-address", NB_OPT_MAC },
		      { "--dns", NB_OPT_DNS },
		      { "--net-rate", NB_OPT_NET_RATE } };
	struct nb_run_net *net = &opts->net;
	struct nb_run_options saved_opts = { 0 };
	const struct nb_run_net *saved = &saved_opts.net;
	bool nic = net->network || net->tap;

	for (; args && args[0] && args[1]; args += 2) {
		size_t k = 0;

		while (k < sizeof(known) / sizeof(known[0]) && strcmp(args[0], known[k].name) != 0)
			k++;
		if (k == sizeof(known) / sizeof(known[0]))
			return nb_err_set(err, 0, "its network options: unknown option %.64s",
					  args[0]);
		if (nb_network_cli_option(known[k].opt, args[1], &saved_opts, err) < 0)
			return nb_err_wrap(err, "its network options");
	}
	/* -p needs a network (nb_network_check); an address is the
	 * network's own. */
	if (net->network && !net->npublish) {
		memcpy(net->publish, saved->publish, sizeof(net->publish));
		net->npublish = saved->npublish;
	}
	if (net->network && network && strcmp(net->network, network) == 0 && !net->ipv4)
		net->ipv4 = saved->ipv4;
	if (tap && net->tap && !net->ipv4) { /* the user's addressing, onto the user's tap */
		net->ipv4 = saved->ipv4;
		net->prefix = saved->prefix;
		if (!net->gateway)
			net->gateway = saved->gateway;
	}
	if (nic && !net->has_mac) {
		memcpy(net->mac, saved->mac, sizeof(net->mac));
		net->has_mac = saved->has_mac;
	}
	if (nic && !net->ndns) {
		memcpy(net->dns, saved->dns, sizeof(net->dns));
		net->ndns = saved->ndns;
	}
	if (nic && !net->rx_bps && !net->tx_bps && !net->rx_ops && !net->tx_ops) {
		net->rx_bps = saved->rx_bps;
		net->tx_bps = saved->tx_bps;
		net->rx_ops = saved->rx_ops;
		net->tx_ops = saved->tx_ops;
	}
	return 0;
}
