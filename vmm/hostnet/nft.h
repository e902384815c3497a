/* The host's packet rules for nestbox networks: one nftables table, `table
 * inet nestbox`, rebuilt whole from the networks in use (a network is in
 * use while a VM holds a lease on it) and replaced in one transaction, so
 * it never holds a rule of a VM that is gone. What it does:
 *   - masquerade: traffic from a network's subnet leaving by another
 *     interface gets the host's address;
 *   - published ports (-p): DNAT in prerouting (from other hosts) and in
 *     output (from this host, 127.0.0.1 included: the bridge then has
 *     route_localnet set and such packets are masqueraded to the bridge's
 *     address);
 *   - isolation: nothing is forwarded from one nestbox bridge to another
 *     (VMs of one network talk over their bridge, not through this table),
 *     nor from elsewhere to a VM unless it answers the VM or is a published
 *     port.
 * libnftables is loaded on first use (dlopen; a run without --network
 * never loads it). Host only. */
#ifndef NESTBOX_VMM_HOSTNET_NFT_H
#define NESTBOX_VMM_HOSTNET_NFT_H

#include <stddef.h>
#include <stdint.h>

#include "nestbox/err.h"
#include "vmm/hostnet/netdef.h"
#include "vmm/hostnet/store.h"

#define NB_NFT_TABLE "nestbox"

/* One network in use and its live leases. */
struct nb_nft_net {
	const struct nb_netdef *def;
	const struct nb_leases *leases;
};

/* The whole transaction as nft(8) text: the table replaced by the rules
 * for nets (n = 0: the table deleted). malloc'd, or NULL (no memory). */
char *nb_nft_ruleset(const struct nb_nft_net *nets, size_t n);

/* Run text through libnftables. */
int nb_nft_apply(const char *text, struct nb_err *err);

/* The generation of this network namespace's ruleset: a counter the
 * kernel moves on at every change anyone commits (nestbox, nft, a firewall
 * reload, iptables-nft). Asked with libmnl and libnftnl (loaded on first
 * use; libnftables' own dependencies, much smaller to load). Needs
 * CAP_NET_ADMIN. */
int nb_nft_generation(uint32_t *gen, struct nb_err *err);

#endif
