/* Network options of `nestbox run` (--network/--net, -p/--publish, --ip,
 * --dns, --mac-address, --tap, --gateway, --net-rate, --vsock,
 * --vsock-cid): their parsing into struct nb_run_net
 * (vmm/run/network.h adds the devices behind them). Host only. */
#ifndef NESTBOX_VMM_CLI_NETWORK_OPTS_H
#define NESTBOX_VMM_CLI_NETWORK_OPTS_H

#include <getopt.h>

#include "nestbox/err.h"
#include "vmm/run/run.h"

enum {
	NB_OPT_VSOCK = 768,
	NB_OPT_VSOCK_CID,
	NB_OPT_NETWORK,
	NB_OPT_TAP,
	NB_OPT_MAC,
	NB_OPT_IP,
	NB_OPT_GATEWAY,
	NB_OPT_DNS,
	NB_OPT_NET_RATE,
};

/* getopt_long entries, spliced into cli.c's table (-p is in
 * NB_NETWORK_SHORT_OPTIONS). --net is Docker's alias of --network. */
#define NB_NETWORK_LONG_OPTIONS                                             \
	{ "vsock", required_argument, NULL, NB_OPT_VSOCK },                 \
		{ "vsock-cid", required_argument, NULL, NB_OPT_VSOCK_CID }, \
		{ "network", required_argument, NULL, NB_OPT_NETWORK },     \
		{ "net", required_argument, NULL, NB_OPT_NETWORK },         \
		{ "publish", required_argument, NULL, 'p' },                \
		{ "tap", required_argument, NULL, NB_OPT_TAP },             \
		{ "mac-address", required_argument, NULL, NB_OPT_MAC },     \
		{ "ip", required_argument, NULL, NB_OPT_IP },               \
		{ "gateway", required_argument, NULL, NB_OPT_GATEWAY },     \
		{ "dns", required_argument, NULL, NB_OPT_DNS },             \
	{                                                                   \
		"net-rate", required_argument, NULL, NB_OPT_NET_RATE        \
	}
#define NB_NETWORK_SHORT_OPTIONS "p:"

#define NB_NETWORK_USAGE                                                                             \
	"      --network NAME|none|host  (alias --net) NAME: a NIC (eth0) on the nestbox network\n"  \
	"                         NAME (nestbox network create; 'bridge' is the default network,\n"  \
	"                         made on first use): an address, a route out through NAT, DNS;\n"   \
	"                         none: no NIC, the container's own network namespace (loopback);\n" \
	"                         host (default): the container shares the VM's network, which\n"    \
	"                         has a NIC only with --tap or -p\n"                                 \
	"  -p, --publish [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]\n"                                \
	"                         publish a port (ranges: 8080-8081:80-81); without --network, on\n" \
	"                         the default network 'bridge'\n"                                    \
	"      --ip ADDR          with --network NAME: eth0's address (default: the first free)\n"   \
	"      --dns ADDR         the container's nameserver (up to 3; default: the host's, or\n"    \
	"                         8.8.8.8 and 8.8.4.4 when the host's are loopback)\n"               \
	"      --mac-address MAC  eth0's MAC (default: from the address, or 02:4e:42 and the pid)\n" \
	"      --tap NAME         eth0 on the existing tap NAME instead (created, and removed at\n"  \
	"                         exit, if missing), configured with:\n"                             \
	"      --ip ADDR/PREFIX   with --tap: eth0's IPv4 address, set by nestbox-init\n"            \
	"      --gateway ADDR     with --tap: default route via ADDR\n"                              \
	"      --net-rate rx=RATE,tx=RATE[,rx-ops=N,tx-ops=N]\n"                                     \
	"                         limit eth0 to RATE bytes (e.g. 10mb) and N frames per second\n"    \
	"                         in each direction (any subset; token buckets of 1 s)\n"            \
	"      --vsock PATH       virtio-vsock: host clients connect to the Unix socket PATH and\n"  \
	"                         write 'CONNECT <port>\\n'; guest connections to CID 2 port P\n"    \
	"                         reach the Unix socket PATH_P\n"                                    \
	"      --vsock-cid N      the guest's vsock CID (default 3)\n"

/* Apply one network option. Returns 0, -1 with err set, or 1 if opt is not
 * a network option. */
int nb_network_cli_option(int opt, const char *arg, struct nb_run_options *opts,
			  struct nb_err *err);

/* A snapshot's network options (its run's, as `nestbox run` takes them:
 * struct nb_template's net_args, recorded on network or --tap) into a
 * restore's opts, once nb_template_open_dir has set its network: each kind
 * (-p, --ip, --gateway, --mac-address, --dns, --net-rate) unless the
 * restore gives its own, as podman's restore keeps ports and a static
 * address; the address only on that same network (or, for a snapshot on
 * --tap, onto the restore's own --tap), the ports on any. */
int nb_network_cli_restore(struct nb_run_options *opts, const char *network, bool tap,
			   char *const *args, struct nb_err *err);

#endif
