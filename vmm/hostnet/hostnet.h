/* nestbox networks as a whole (Docker's user-defined bridge networks):
 * create, list, inspect and remove definitions; attach a VM's tap to a
 * network (an address lease, the bridge made on first use and kept until
 * the network is removed, as Docker's, the nftables table rebuilt) and
 * detach it (the lease freed, the table rebuilt); collect what dead VMs
 * left. The table is applied only when the kernel does not hold it
 * already (the ruleset's generation, nft.h). Every step
 * runs under the store's lock (vmm/hostnet/store.h). Needs root.
 *
 * Where: NESTBOX_NETWORK_DIR (definitions; leases in its leases/), else
 * /var/lib/nestbox/networks (definitions, persistent) and
 * /run/nestbox/networks (leases: a reboot ends every VM). Host only. */
#ifndef NESTBOX_VMM_HOSTNET_HOSTNET_H
#define NESTBOX_VMM_HOSTNET_HOSTNET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/report.h"
#include "nestbox/err.h"
#include "vmm/hostnet/netdef.h"
#include "vmm/hostnet/publish.h"
#include "vmm/hostnet/store.h"

#define NB_NET_DEFAULT_SUBNET 0x0a580000u /* 10.88.0.0: the default network, then 10.88.N.0/24 */
#define NB_DNS_MAX 3u                     /* resolv.conf's MAXNS */

/* What one VM got from its network. */
struct nb_hostnet_vm {
	struct nb_netdef def;
	uint32_t ip;
	uint8_t mac[6]; /* 02:42 and the address, as Docker */
};

/* A network and its live leases. */
struct nb_hostnet_info {
	struct nb_netdef def;
	struct nb_leases leases;
	bool bridge_up;
};

/* Define a network; subnet NULL: the first free 10.88.N.0/24 (N >= 1);
 * gateway NULL: the subnet's first address. Refused: a name in use, a
 * subnet overlapping another network's. */
int nb_hostnet_create(const char *name, const char *subnet, const char *gateway,
		      struct nb_netdef *out, struct nb_err *err);

/* Remove a network and all it has on the host; refused while a live VM
 * uses it. */
int nb_hostnet_remove(const char *name, struct nb_err *err);

/* Every network (*out malloc'd; nb_hostnet_info_free each, then free). */
int nb_hostnet_list(struct nb_hostnet_info **out, size_t *n, struct nb_err *err);
int nb_hostnet_inspect(const char *name, struct nb_hostnet_info *out, struct nb_err *err);
void nb_hostnet_info_free(struct nb_hostnet_info *info);

/* Attach the existing tap to network name (NB_NET_DEFAULT is defined on
 * first use) for this process: lease want (0: any free address) and the
 * published ports (refused if another VM publishes one of them), the
 * bridge up, the tap on it, the rules in place (applied only if the
 * kernel does not hold them already: see sync_host in hostnet.c). */
int nb_hostnet_attach(const char *name, uint32_t want, const struct nb_publish *publish,
		      size_t npublish, const char *tap, struct nb_hostnet_vm *vm,
		      struct nb_err *err);

/* This process leaves network name: its lease freed, the rules rebuilt
 * (the bridge stays until nb_hostnet_remove). */
int nb_hostnet_detach(const char *name, struct nb_err *err);

/* Process `from`'s lease on network name becomes this process's (run -d:
 * the monitor goes on after the process that attached has returned). */
int nb_hostnet_adopt(const char *name, pid_t from, struct nb_err *err);

/* Leases of dead VMs freed and the rules rebuilt without their ports;
 * each freed lease reported to out (NULL: quiet). Does nothing when no
 * network was ever defined. Returns 0 or -1. */
int nb_hostnet_gc(const struct nb_report *out, struct nb_err *err);

/* The nameservers for a VM: the IPv4 ones of resolv_path that are not
 * loopback (a local resolver is not reachable from a VM), else Docker's
 * fallback 8.8.8.8 and 8.8.4.4. Returns how many (1..NB_DNS_MAX). */
size_t nb_hostnet_dns(const char *resolv_path, uint32_t dns[NB_DNS_MAX]);

#endif
