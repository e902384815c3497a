/* The network namespace an OCI bundle names (linux.namespaces "network"
 * with a path), for the OCI runtime's monitor (vmm/cli/oci.c): lo alone
 * (podman --network none) gives the container a namespace of its own in
 * the guest, as before; one interface (netavark's or CNI's veth) is
 * joined to the VM through a tap made in that namespace
 * (vmm/hostnet/nsnet.h), and the guest's eth0 takes the interface's
 * address, prefix, gateway and MAC, and the nameservers of the engine's
 * resolv.conf. What it leaves in the namespace is named in the state
 * directory's NB_OCI_NETNS_FILE for `delete`. Host only. */
#ifndef NESTBOX_VMM_RUN_OCI_NETNS_H
#define NESTBOX_VMM_RUN_OCI_NETNS_H

#include "nestbox/err.h"
#include "vmm/run/oci_bundle.h"

#define NB_OCI_TAP "nbtap0"       /* the tap, in the engine's namespace */
#define NB_OCI_NETNS_FILE "netns" /* in the state directory: the path, the interface */

/* Move this process into b->netns (nothing without one) and connect it:
 * b->opts.net then describes eth0 and holds the tap's descriptor. The
 * state file is written to state_dir. */
int nb_oci_netns_join(struct nb_oci_bundle *b, const char *state_dir, struct nb_err *err);

/* Undo what nb_oci_netns_join left in the namespace (the veth's redirect;
 * the tap went with the monitor), as state_dir's file names it; a missing
 * file or namespace is fine. Runs in a child: the caller's namespace is
 * left alone. */
int nb_oci_netns_release(const char *state_dir, struct nb_err *err);

#endif
