/* Guest networking over rtnetlink: lo up always; with the spec's
 * NB_SPEC_NET_MAC, eth0's MAC (set while it is down); with NB_SPEC_NET_IPV4,
 * eth0 up with that address and, with NB_SPEC_NET_GATEWAY, a default route;
 * with NB_SPEC_NET_DNS, the container's /etc/resolv.conf.
 * Done by nestbox-init before the workload starts: in a template's clone,
 * once the workload's spec has come (the template's eth0 stays down). */
#ifndef NESTBOX_GUEST_NET_H
#define NESTBOX_GUEST_NET_H

#include "common/spec.h"
#include "nestbox/err.h"

int nb_net_setup(const struct nb_spec *spec, struct nb_err *err);

/* A restored running VM's eth0 anew (abi.h, NB_SIGMSG_NET_APPLY): the
 * spec's MAC, its address in place of was_ipv4/was_prefix (0: none), its
 * route and, with nameservers, resolv.conf under spec->rootfs; without an
 * address, eth0 loses the old one and goes down. */
int nb_net_readdress(const struct nb_spec *spec, uint32_t was_ipv4, uint32_t was_prefix,
		     struct nb_err *err);

#endif
