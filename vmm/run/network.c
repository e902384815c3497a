#include "vmm/run/network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/virtio/net.h"
#include "vmm/virtio/vsock.h"
#include "vmm/confine/vsock_broker.h"

/* Devices of this process's one VM, for nb_network_cleanup(). */
static struct nb_vsock *vsock;
static struct nb_vsock_broker broker = { .fd = -1 };
static struct nb_vsock_host broker_host;
static const char *run_record; /* handed to the broker (nb_network_hand_record) */
static bool record_taken;
static struct nb_net *net_dev;
static int early_tap_fd = -1;
static uint32_t mac_id;

static int parse_u64(const char *opt, const char *text, uint64_t min, uint64_t max,
		     uint64_t *out, struct nb_err *err)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (end == text || *end || errno || text[0] == '-' || v < min || v > max)
		return nb_err_set(err, 0, "invalid %s '%s': use a whole number from %" PRIu64
				  " to %" PRIu64, opt, text, min, max);
	*out = v;
	return 0;
}

/* Unicast, as "aa:bb:cc:dd:ee:ff". */
static int parse_mac(const char *arg, struct nb_run_net *net, struct nb_err *err)
{
	unsigned b[6];
	char tail;

	if (sscanf(arg, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6 || strlen(arg) != 17 || (b[0] & 1) ||
	    !(b[0] | b[1] | b[2] | b[3] | b[4] | b[5]))
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
	char *end;
	unsigned long prefix;

	if (!slash || (size_t)(slash - arg) >= sizeof(addr))
		return nb_err_set(err, 0, "--ip %s: use ADDR/PREFIX, e.g. 10.0.0.2/24", arg);
	memcpy(addr, arg, (size_t)(slash - arg));
	addr[slash - arg] = '\0';
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (inet_pton(AF_INET, addr, &a) != 1 || a.s_addr == 0 || !slash[1] || *end || errno ||
	    slash[1] == '-' || prefix < 1 || prefix > 32)
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
		if (k >= 2 && parse_u64(keys[k], eq + 1, 1, NB_RATELIMIT_MAX_TOKENS, fields[k],
					err) < 0)
			return nb_err_wrap(err, "--net-rate %s", arg);
	}
	if (seen[0] || seen[1] || seen[2] || seen[3])
		return 0;
bad:
	return nb_err_set(err, 0, "--net-rate %s: use rx=RATE,tx=RATE,rx-ops=N,tx-ops=N (any of "
			  "them, each once; RATE in bytes per second like 10mb)", arg);
}

int nb_network_cli_option(int opt, const char *arg, struct nb_run_options *opts,
			  struct nb_err *err)
{
	struct nb_run_net *net = &opts->net;

	switch (opt) {
	case NB_OPT_VSOCK:
		if (!arg[0])
			return nb_err_set(err, 0, "--vsock: give a socket path");
		net->vsock_path = arg;
		return 0;
	case NB_OPT_VSOCK_CID:
		return parse_u64("--vsock-cid", arg, NB_VSOCK_HOST_CID + 1, UINT32_MAX - 1,
				 &net->vsock_cid, err);
	case NB_OPT_NET:
		if (strncmp(arg, "tap:", 4) != 0 || !arg[4] || strlen(arg + 4) >= 16 ||
		    strchr(arg + 4, '/'))
			return nb_err_set(err, 0, "--net %s: use tap:NAME (1 to 15 characters)", arg);
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

int nb_network_check(const struct nb_run_options *opts, struct nb_err *err)
{
	const struct nb_run_net *net = &opts->net;

	if ((net->ipv4 || net->gateway || net->has_mac) && !net->tap)
		return nb_err_set(err, 0, "--ip, --gateway and --mac need --net tap:NAME");
	if ((net->rx_bps || net->tx_bps || net->rx_ops || net->tx_ops) && !net->tap)
		return nb_err_set(err, 0, "--net-rate needs --net tap:NAME (it limits that device)");
	if (net->gateway && !net->ipv4)
		return nb_err_set(err, 0, "--gateway needs --ip ADDR/PREFIX");
	if (net->gateway && net->prefix &&
	    (net->gateway ^ net->ipv4) >> (32 - net->prefix))
		return nb_err_set(err, 0, "--gateway is not inside the --ip network");
	return 0;
}

int nb_network_add(struct nb_virtio_transport *t, struct nb_event_loop *loop,
		   const struct nb_run_options *opts, struct nb_err *err)
{
	const struct nb_run_net *net = &opts->net;

	if (net->vsock_path) {
		struct nb_vsock_opts vo = {
			.uds_path = net->vsock_path,
			.guest_cid = net->vsock_cid ? net->vsock_cid : NB_VSOCK_DEFAULT_CID,
			.host = &broker_host,
		};

		/* Connect and unlink go through the broker (vsock_broker.h). */
		if (nb_vsock_broker_start(&broker, net->vsock_path, run_record, err) < 0)
			return -1;
		record_taken = run_record != NULL;
		broker_host = nb_vsock_broker_host(&broker);
		if (nb_virtio_vsock_add(t, loop, &vo, &vsock, err) < 0)
			return -1;
	}
	if (net->tap) {
		struct nb_net_opts no = { .tap = net->tap, .tap_fd = early_tap_fd };
		uint32_t pid = mac_id ? mac_id : (uint32_t)getpid();

		/* Locally administered unicast (02:...), "NB" and the pid. */
		const uint8_t def[6] = { 0x02, 0x4e, 0x42, (uint8_t)(pid >> 16), (uint8_t)(pid >> 8),
					 (uint8_t)pid };
		memcpy(no.mac, net->has_mac ? net->mac : def, 6);
		nb_ratelimit_config_rate(&no.rx_limit.bytes, net->rx_bps);
		nb_ratelimit_config_rate(&no.rx_limit.ops, net->rx_ops);
		nb_ratelimit_config_rate(&no.tx_limit.bytes, net->tx_bps);
		nb_ratelimit_config_rate(&no.tx_limit.ops, net->tx_ops);
		early_tap_fd = -1; /* the device owns it now */
		if (nb_virtio_net_add(t, loop, &no, &net_dev, err) < 0)
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

int nb_network_prepare(const struct nb_run_options *opts, struct nb_err *err)
{
	bool created;

	mac_id = (uint32_t)getpid();
	if (!opts->net.tap)
		return 0;
	early_tap_fd = nb_tap_open(opts->net.tap, &created, err);
	return early_tap_fd < 0 ? -1 : 0;
}

int nb_network_early_fd(void)
{
	return early_tap_fd;
}

void nb_network_hand_record(const char *record)
{
	run_record = record;
}

bool nb_network_took_record(void)
{
	return record_taken;
}

void nb_network_fds(int *vsock_listen, int *vsock_broker)
{
	*vsock_listen = vsock ? nb_vsock_listen_fd(vsock) : -1;
	*vsock_broker = broker.fd;
}

void nb_network_cleanup(void)
{
	if (early_tap_fd >= 0)
		close(early_tap_fd);
	early_tap_fd = -1;
	nb_vsock_close(vsock);
	vsock = NULL;
	nb_vsock_broker_stop(&broker);
	nb_net_close(net_dev); /* a tap nestbox created vanishes with its fd */
	net_dev = NULL;
}
