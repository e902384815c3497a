/* The devices behind a run's network options (struct nb_run_net, parsed by
 * vmm/cli/network_opts.c): virtio-vsock with its broker, virtio-net on a
 * tap: the user's (--tap) or one nestbox makes and attaches to a nestbox
 * network (--network NAME, -p; vmm/hostnet/hostnet.h) before the VMM is
 * confined, the VMM getting only its descriptor. Their state is the
 * run's (struct nb_network), never a global. Host only. */
#ifndef NESTBOX_VMM_RUN_NETWORK_H
#define NESTBOX_VMM_RUN_NETWORK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/spec.h"
#include "nestbox/err.h"
#include "vmm/confine/vsock_broker.h"
#include "vmm/kvm/event.h"
#include "vmm/run/run.h"

struct nb_vsock;
struct nb_net;

/* One run's network devices. */
struct nb_network {
	struct nb_vsock *vsock;
	struct nb_vsock_broker broker;
	struct nb_vsock_host broker_host; /* the device's way to the broker */
	/* This run's record (vmm/run/records.h), for the vsock broker to
	 * remove with the socket at exit: the VMM, confined by then, cannot.
	 * record_taken: the broker took it (else the caller releases it). */
	const char *record;
	bool record_taken;
	struct nb_net *net;
	int early_tap_fd; /* the tap opened before the VMM (the jail keeps it), or -1 */
	/* eth0 as the guest gets it: from --tap's options, or from the
	 * network's lease (attached: this run holds one on network). */
	const char *tap; /* NULL: no NIC */
	char own_tap[16];
	const char *network;
	bool attached;
	struct nb_clone_net eth0; /* with a tap, has_mac: given, leased or the default */
};

/* Nothing added yet. */
void nb_network_init(struct nb_network *n);

/* Cross-option checks, after parsing. */
int nb_network_check(const struct nb_run_options *opts, struct nb_err *err);

/* Does this run join a nestbox network (--network NAME, or -p alone:
 * the default network)? Such a run is supervised: the process that
 * set the host up outlives the confined VMM and takes it down. */
bool nb_network_joins(const struct nb_run_options *opts);

/* eth0's configuration: with --tap from the options; with a nestbox
 * network, its tap made (vanishing with its last descriptor), attached and
 * leased. Before the spec is built; undone by nb_network_detach(). */
int nb_network_attach(struct nb_network *n, const struct nb_run_options *opts, struct nb_err *err);

/* Leave the network (lease, rules; the bridge stays with the network);
 * reports a failure to report. Safe when nothing was attached. */
void nb_network_detach(struct nb_network *n, const struct nb_report *report);

/* run -d: the monitor (a child of the process that attached) takes the
 * lease over from it, which then leaves the network alone at its exit. */
int nb_network_adopt(struct nb_network *n, pid_t from, struct nb_err *err);
void nb_network_disown(struct nb_network *n);

/* The guest's eth0 configuration (nb_network_attach) into the spec; the
 * nameserver strings live in buf. */
void nb_network_spec(const struct nb_network *n, struct nb_spec *spec, char buf[3][16],
		     const char *dns[3]);

/* Create the network devices opts ask for on transport t. */
struct nb_virtio_transport;
int nb_network_add(struct nb_network *n, struct nb_virtio_transport *t, struct nb_event_loop *loop,
		   const struct nb_run_options *opts, struct nb_err *err);

/* Before entering new namespaces (--jail): open the tap in the host's
 * network namespace. */
int nb_network_prepare(struct nb_network *n, const struct nb_run_options *opts, struct nb_err *err);

/* The vsock device's listening socket and its broker's socketpair end
 * (the seccomp lists match calls on them), -1 without --vsock. */
void nb_network_fds(const struct nb_network *n, int *vsock_listen, int *vsock_broker);

/* Close sockets and taps, remove what nestbox created (after the vCPUs
 * stopped; safe to call when nothing was added). */
void nb_network_cleanup(struct nb_network *n);

#endif
