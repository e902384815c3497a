/* A container engine's network namespace joined to a VM (Kata's
 * "tcfilter" model), for the OCI runtime (vmm/cli/oci.c): the namespace's
 * one interface besides lo (the veth netavark or CNI made, with an IPv4
 * address and a default route) is read by rtnetlink; a tap made in the
 * same namespace is tied to it by two tc ingress qdiscs whose u32
 * match-all filters redirect every frame (mirred egress redirect) veth -> tap and
 * tap -> veth. The veth keeps its address and MAC: the guest's eth0 takes
 * both, so the bridge, its neighbour entries and the engine's port rules
 * see the container as with crun; the namespace's own stack no longer
 * receives anything. The calling process must be in that namespace, with
 * CAP_NET_ADMIN. Host only; nothing here prints. */
#ifndef NESTBOX_VMM_HOSTNET_NSNET_H
#define NESTBOX_VMM_HOSTNET_NSNET_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "nestbox/err.h"

/* The interface found, as the guest's eth0 takes it over. */
struct nb_nsnet {
	char name[IF_NAMESIZE];
	int index;
	uint8_t mac[6];
	uint32_t ipv4, prefix, gateway; /* host byte order; gateway 0: no default route */
	unsigned mtu;
	unsigned nlinks; /* Ethernet interfaces that are up */
};

/* Parse len bytes of one rtnetlink dump reply (RTM_NEWLINK, RTM_NEWADDR
 * or RTM_NEWROUTE messages; hostile: every length checked) into *ns.
 * Links first: the first Ethernet link that is up is kept, nlinks counts
 * them (lo, tunnel modules' fallback devices, links down: ignored);
 * then its first IPv4 address, and the main table's IPv4 default route
 * through it. Returns 1 at NLMSG_DONE, 0 when more is to come, -1 on a
 * malformed message or an NLMSG_ERROR. */
int nb_nsnet_parse(const void *buf, size_t len, struct nb_nsnet *ns, struct nb_err *err);

/* Read this namespace's interfaces: ns->nlinks 0 means none to connect
 * (lo only, as podman's --network none); one with an address is what nb_nsnet_connect takes. More
 * than one interface, or one without an IPv4 address, is refused. */
int nb_nsnet_scan(struct nb_nsnet *ns, struct nb_err *err);

/* Tie the tap (existing, up) to ns's interface both ways. */
int nb_nsnet_connect(const struct nb_nsnet *ns, const char *tap, struct nb_err *err);

/* Remove the ingress qdisc (and so the redirect) from interface name; a
 * missing interface or qdisc is fine. */
int nb_nsnet_disconnect(const char *name, struct nb_err *err);

#endif
