/* Network options of `nestbox run` (--vsock, --vsock-cid, --net, --mac,
 * --ip, --gateway, --net-rate) and the devices behind them (virtio-vsock, virtio-net).
 * Host only. */
#ifndef NESTBOX_VMM_RUN_NETWORK_H
#define NESTBOX_VMM_RUN_NETWORK_H

#include <getopt.h>

#include "common/spec.h"
#include "nestbox/err.h"
#include "vmm/kvm/event.h"
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
#define NB_NETWORK_LONG_OPTIONS                                                \
	{ "vsock", required_argument, NULL, NB_OPT_VSOCK },                    \
	{ "vsock-cid", required_argument, NULL, NB_OPT_VSOCK_CID },            \
	{ "net", required_argument, NULL, NB_OPT_NET },                        \
	{ "mac", required_argument, NULL, NB_OPT_MAC },                        \
	{ "ip", required_argument, NULL, NB_OPT_IP },                          \
	{ "gateway", required_argument, NULL, NB_OPT_GATEWAY },                \
	{ "net-rate", required_argument, NULL, NB_OPT_NET_RATE }

#define NB_NETWORK_USAGE                                                                         \
	"      --vsock PATH       virtio-vsock: host clients connect to the Unix socket PATH and\n" \
	"                         write 'CONNECT <port>\\n'; guest connections to CID 2 port P\n"   \
	"                         reach the Unix socket PATH_P\n"                                   \
	"      --vsock-cid N      the guest's vsock CID (default 3)\n"                           \
	"      --net tap:NAME     virtio-net on the tap NAME (created, and removed at exit, if\n"  \
	"                         missing); the guest's eth0\n"                                   \
	"      --mac MAC          eth0's MAC (default 02:4e:42 and the VMM's pid)\n"               \
	"      --ip ADDR/PREFIX   eth0's IPv4 address, set by nestbox-init\n"                     \
	"      --gateway ADDR     default route via ADDR\n"                                   \
	"      --net-rate rx=RATE,tx=RATE[,rx-ops=N,tx-ops=N]\n"                                 \
	"                         limit eth0 to RATE bytes (e.g. 10mb) and N frames per second\n" \
	"                         in each direction (any subset; token buckets of 1 s)\n"

/* Apply one network option. Returns 0, -1 with err set, or 1 if opt is not
 * a network option. */
int nb_network_cli_option(int opt, const char *arg, struct nb_run_options *opts,
			  struct nb_err *err);

/* Cross-option checks, after parsing. */
int nb_network_check(const struct nb_run_options *opts, struct nb_err *err);

/* The guest's eth0 configuration into the workload spec. */
void nb_network_spec(const struct nb_run_options *opts, struct nb_spec *spec);

/* Create the network devices opts ask for on transport t. */
struct nb_virtio_transport;
int nb_network_add(struct nb_virtio_transport *t, struct nb_event_loop *loop,
		   const struct nb_run_options *opts, struct nb_err *err);

/* Close sockets and taps, remove what nestbox created (after the vCPUs
 * stopped; safe to call when nothing was added). */
/* Before entering new namespaces (--jail): open the tap in the host's
 * network namespace, and fix the default MAC to this (outer) process. */
int nb_network_prepare(const struct nb_run_options *opts, struct nb_err *err);

/* The tap nb_network_prepare() opened (the jail keeps it), or -1. */
int nb_network_early_fd(void);

/* This run's record (vmm/run/records.h), for the vsock broker to remove with the
 * socket at exit: the VMM, confined by then, cannot. After the run, true
 * when the broker took it (else the caller releases it). */
void nb_network_hand_record(const char *record);
bool nb_network_took_record(void);

/* The vsock device's listening socket and its broker's socketpair end
 * (the seccomp lists match calls on them), -1 without --vsock. */
void nb_network_fds(int *vsock_listen, int *vsock_broker);

void nb_network_cleanup(void);

#endif
