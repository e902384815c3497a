/* Network options of `nestbox run` (--vsock, --vsock-cid, --net, --mac,
 * --ip, --gateway, --net-rate): their parsing into struct nb_run_net
 * (vmm/run/network.h adds the devices behind them). Host only. */
#ifndef NESTBOX_VMM_CLI_NETWORK_OPTS_H
#define NESTBOX_VMM_CLI_NETWORK_OPTS_H

#include <getopt.h>

#include "nestbox/err.h"
#include "vmm/run/run.h"

enum {
	NB_OPT_VSOCK = 768,
	NB_OPT_VSOCK_CID,
	NB_OPT_NET,
	NB_OPT_MAC,
	NB_OPT_IP,
	NB_OPT_GATEWAY,
	NB_OPT_NET_RATE,
};

/* getopt_long entries, spliced into cli.c's table. */
#define NB_NETWORK_LONG_OPTIONS                                             \
	{ "vsock", required_argument, NULL, NB_OPT_VSOCK },                 \
		{ "vsock-cid", required_argument, NULL, NB_OPT_VSOCK_CID }, \
		{ "net", required_argument, NULL, NB_OPT_NET },             \
		{ "mac", required_argument, NULL, NB_OPT_MAC },             \
		{ "ip", required_argument, NULL, NB_OPT_IP },               \
		{ "gateway", required_argument, NULL, NB_OPT_GATEWAY },     \
	{                                                                   \
		"net-rate", required_argument, NULL, NB_OPT_NET_RATE        \
	}

#define NB_NETWORK_USAGE                                                                            \
	"      --vsock PATH       virtio-vsock: host clients connect to the Unix socket PATH and\n" \
	"                         write 'CONNECT <port>\\n'; guest connections to CID 2 port P\n"   \
	"                         reach the Unix socket PATH_P\n"                                   \
	"      --vsock-cid N      the guest's vsock CID (default 3)\n"                              \
	"      --net tap:NAME     virtio-net on the tap NAME (created, and removed at exit, if\n"   \
	"                         missing); the guest's eth0\n"                                     \
	"      --mac MAC          eth0's MAC (default 02:4e:42 and the VMM's pid)\n"                \
	"      --ip ADDR/PREFIX   eth0's IPv4 address, set by nestbox-init\n"                       \
	"      --gateway ADDR     default route via ADDR\n"                                         \
	"      --net-rate rx=RATE,tx=RATE[,rx-ops=N,tx-ops=N]\n"                                    \
	"                         limit eth0 to RATE bytes (e.g. 10mb) and N frames per second\n"   \
	"                         in each direction (any subset; token buckets of 1 s)\n"

/* Apply one network option. Returns 0, -1 with err set, or 1 if opt is not
 * a network option. */
int nb_network_cli_option(int opt, const char *arg, struct nb_run_options *opts,
			  struct nb_err *err);

#endif
