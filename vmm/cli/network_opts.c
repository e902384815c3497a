#include "vmm/cli/network_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/parse.h"
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
		return nb_err_set(err, 0, "--mac %s: use a unicast aa:bb:cc:dd:ee:ff", arg);
	for (int i = 0; i < 6; i++)
		net->mac[i] = (uint8_t)b[i];
	net->has_mac = true;
	return 0;
}

/* ADDR/PREFIX, IPv4, prefix 1..32. */
static int parse_ip(const char *arg, struct nb_run_net *net, struct nb_err *err)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(arg, '/');
	struct in_addr a;
	uint64_t prefix;

	if (!slash || (size_t)(slash - arg) >= sizeof(addr))
		return nb_err_set(err, 0, "--ip %s: use ADDR/PREFIX, e.g. 10.0.0.2/24", arg);
	memcpy(addr, arg, (size_t)(slash - arg));
	addr[slash - arg] = '\0';
	if (inet_pton(AF_INET, addr, &a) != 1 || a.s_addr == 0 ||
	    !nb_parse_decimal(slash + 1, 1, 32, &prefix))
		return nb_err_set(err, 0, "--ip %s: use ADDR/PREFIX, e.g. 10.0.0.2/24", arg);
	net->ipv4 = ntohl(a.s_addr);
	net->prefix = (uint32_t)prefix;
	return 0;
}

/* rx=RATE,tx=RATE,rx-ops=N,tx-ops=N, any non-empty subset, each once. */
static int parse_net_rate(const char *arg, struct nb_run_net *net, struct nb_err *err)
{
	static const char *const keys[] = { "rx", "tx", "rx-ops", "tx-ops" };
	uint64_t *fields[] = { &net->rx_bps, &net->tx_bps, &net->rx_ops, &net->tx_ops };
	char copy[256], *save = NULL, *item;
	bool seen[4] = { false };

	/* strtok_r would skip empty items: refuse them here. */
	if (strlen(arg) >= sizeof(copy) || !arg[0] || arg[0] == ',' ||
	    arg[strlen(arg) - 1] == ',' || strstr(arg, ",,"))
		goto bad;
	strcpy(copy, arg);
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		size_t k = 0;

		if (!eq)
			goto bad;
		*eq = '\0';
		while (k < 4 && strcmp(item, keys[k]) != 0)
			k++;
		if (k == 4 || seen[k])
			goto bad;
		seen[k] = true;
		if (k < 2 && nb_ratelimit_parse_rate(eq + 1, fields[k], err) < 0)
			return nb_err_wrap(err, "--net-rate %s", arg);
		if (k >= 2 &&
		    nb_parse_u64(keys[k], eq + 1, 1, NB_RATELIMIT_MAX_TOKENS, fields[k], err) < 0)
			return nb_err_wrap(err, "--net-rate %s", arg);
	}
	if (seen[0] || seen[1] || seen[2] || seen[3])
		return 0;
bad:
	return nb_err_set(err, 0,
			  "--net-rate %s: use rx=RATE,tx=RATE,rx-ops=N,tx-ops=N (any of "
			  "them, each once; RATE in bytes per second like 10mb)",
			  arg);
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
	case NB_OPT_NET:
		if (strncmp(arg, "tap:", 4) != 0 || !arg[4] || strlen(arg + 4) >= 16 ||
		    strchr(arg + 4, '/'))
			return nb_err_set(err, 0, "--net %s: use tap:NAME (1 to 15 characters)",
					  arg);
		net->tap = arg + 4;
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
