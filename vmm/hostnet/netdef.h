/* A nestbox network's definition (`nestbox network create`): its name, its
 * IPv4 subnet, the gateway (the bridge's address) and the Linux bridge that
 * carries it; and the small parsers behind it (names, addresses, CIDRs).
 * No side effects: vmm/hostnet/store.h keeps definitions on disk. Host only.
 * Addresses are IPv4 values in host byte order. */
#ifndef NESTBOX_VMM_HOSTNET_NETDEF_H
#define NESTBOX_VMM_HOSTNET_NETDEF_H

#include <stdbool.h>
#include <stdint.h>

#include "nestbox/err.h"

#define NB_NETNAME_MAX 32u
#define NB_BRIDGE_PREFIX "nb-"  /* every bridge nestbox makes; "nb-" + 8 hex digits */
#define NB_NET_DEFAULT "bridge" /* Docker's default network's name */
#define NB_NET_MIN_PREFIX 8u    /* at most a /8 */
#define NB_NET_MAX_PREFIX 30u   /* at least a gateway and one VM */
#define NB_IPV4_TEXT 16u        /* "255.255.255.255" and NUL */

struct nb_netdef {
	char name[NB_NETNAME_MAX + 1];
	uint32_t subnet; /* network address (host bits zero) */
	uint32_t prefix; /* NB_NET_MIN_PREFIX..NB_NET_MAX_PREFIX */
	uint32_t gateway;
	char bridge[16]; /* IFNAMSIZ */
};

/* Docker's rule: 1..NB_NETNAME_MAX of [A-Za-z0-9_.-], starting with a
 * letter or digit; "host" and "none" are not networks. */
int nb_netname_check(const char *name, struct nb_err *err);

/* A dotted IPv4 address ("10.0.0.1"); 0.0.0.0 is refused unless any_ok. */
int nb_ipv4_parse(const char *text, bool any_ok, uint32_t *addr, struct nb_err *err);
void nb_ipv4_format(uint32_t addr, char buf[NB_IPV4_TEXT]);

/* "A.B.C.D/P" with P in NB_NET_MIN_PREFIX..NB_NET_MAX_PREFIX and no host
 * bits set. */
int nb_cidr_parse(const char *text, uint32_t *subnet, uint32_t *prefix, struct nb_err *err);

/* The netmask of prefix (1..32). */
uint32_t nb_prefix_mask(uint32_t prefix);

/* Do a/pa and b/pb share an address? */
bool nb_subnets_overlap(uint32_t a, uint32_t pa, uint32_t b, uint32_t pb);

/* Is addr a host address of def's subnet (not the network or broadcast
 * address)? */
bool nb_netdef_host(const struct nb_netdef *def, uint32_t addr);

/* A definition from the user's words: name, subnet (NULL: *subnet and
 * *prefix as given, the caller's pick), gateway (NULL: the subnet's first
 * host). The bridge name is derived from the name (nb_netdef_bridge). */
int nb_netdef_make(struct nb_netdef *def, const char *name, const char *subnet, const char *gateway,
		   struct nb_err *err);

/* The definition's own consistency (after reading one from disk). */
int nb_netdef_check(const struct nb_netdef *def, struct nb_err *err);

/* NB_BRIDGE_PREFIX and 8 hex digits of a hash of name: <= 15 characters
 * whatever the name, and the same on every host. */
void nb_netdef_bridge(const char *name, char bridge[16]);

/* As JSON (malloc'd, free() it): {"name","subnet","gateway","bridge"}. */
char *nb_netdef_json(const struct nb_netdef *def);
/* From that JSON (hostile: every field checked). */
int nb_netdef_parse(const char *text, struct nb_netdef *def, struct nb_err *err);

#endif
