/* The Linux side of a nestbox network: its bridge (made on first use,
 * with the gateway's address, up) and the taps of its VMs attached to it,
 * by ioctl (SIOCBRADDBR and friends). Making a bridge also sets the
 * sysctls a routed, masqueraded bridge needs: net.ipv4.ip_forward = 1
 * (left so when the last network goes, as Docker does) and
 * net.ipv4.conf.BRIDGE.route_localnet = 1 (published ports reached at
 * 127.0.0.1). Needs CAP_NET_ADMIN. Host only. */
#ifndef NESTBOX_VMM_HOSTNET_LINK_H
#define NESTBOX_VMM_HOSTNET_LINK_H

#include <stdbool.h>

#include "nestbox/err.h"
#include "vmm/hostnet/netdef.h"

/* Does an interface of that name exist? */
bool nb_link_exists(const char *name);

/* def's bridge, there and up with the gateway's address. */
int nb_bridge_up(const struct nb_netdef *def, struct nb_err *err);

/* Remove the bridge (its ports leave it); a missing one is fine. */
int nb_bridge_remove(const char *bridge, struct nb_err *err);

/* Put the tap on the bridge and bring it up. */
int nb_bridge_attach(const char *bridge, const char *tap, struct nb_err *err);

#endif
