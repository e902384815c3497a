#include "vmm/hostnet/netdef.h"

#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/parse.h"

int nb_netname_check(const char *name, struct nb_err *err)
{
	size_t len = strnlen(name, NB_NETNAME_MAX + 1);
	bool ok = len >= 1 && len <= NB_NETNAME_MAX;

	for (size_t i = 0; ok && i < len; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		ok = alnum || (i > 0 && (c == '_' || c == '.' || c == '-'));
	}
	if (!ok)
		return nb_err_set(err, 0,
				  "invalid network name '%.64s': use 1 to %u of A-Z a-z 0-9 _ . -, "
				  "starting with a letter or digit",
				  name, NB_NETNAME_MAX);
	if (strcmp(name, "host") == 0 || strcmp(name, "none") == 0)
		return nb_err_set(err, 0, "'%s' is not a network name (it is a --network mode)",
				  name);
	return 0;
}

int nb_ipv4_parse(const char *text, bool any_ok, uint32_t *addr, struct nb_err *err)
{
	struct in_addr a;

	/* inet_pton takes only the strict dotted quad. */
	if (inet_pton(AF_INET, text, &a) != 1 || (!any_ok && a.s_addr == 0))
		return nb_err_set(err, 0, "invalid IPv4 address '%.64s'", text);
	*addr = ntohl(a.s_addr);
	return 0;
}

void nb_ipv4_format(uint32_t addr, char buf[NB_IPV4_TEXT])
{
	snprintf(buf, NB_IPV4_TEXT, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff,
		 (addr >> 8) & 0xff, addr & 0xff);
}

uint32_t nb_prefix_mask(uint32_t prefix)
{
	return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
}

int nb_cidr_parse(const char *text, uint32_t *subnet, uint32_t *prefix, struct nb_err *err)
{
	char addr[NB_IPV4_TEXT];
	const char *slash = strchr(text, '/');
	uint64_t p;
	uint32_t a = 0;

	if (!slash || (size_t)(slash - text) >= sizeof(addr) ||
	    !nb_parse_decimal(slash + 1, NB_NET_MIN_PREFIX, NB_NET_MAX_PREFIX, &p))
		goto bad;
	memcpy(addr, text, (size_t)(slash - text));
	addr[slash - text] = '\0';
	if (nb_ipv4_parse(addr, false, &a, err) < 0)
		goto bad;
	if (a & ~nb_prefix_mask((uint32_t)p))
		return nb_err_set(err, 0,
				  "subnet %.64s has host bits set (did you mean %u.%u.%u.%u/%u?)",
				  text, (a & nb_prefix_mask((uint32_t)p)) >> 24,
				  ((a & nb_prefix_mask((uint32_t)p)) >> 16) & 0xff,
				  ((a & nb_prefix_mask((uint32_t)p)) >> 8) & 0xff,
				  a & nb_prefix_mask((uint32_t)p) & 0xff, (unsigned)p);
	*subnet = a;
	*prefix = (uint32_t)p;
	return 0;
bad:
	return nb_err_set(err, 0, "invalid subnet '%.64s': use A.B.C.D/P with P from %u to %u",
			  text, NB_NET_MIN_PREFIX, NB_NET_MAX_PREFIX);
}

bool nb_subnets_overlap(uint32_t a, uint32_t pa, uint32_t b, uint32_t pb)
{
	uint32_t mask = nb_prefix_mask(pa < pb ? pa : pb);

	return (a & mask) == (b & mask);
}

bool nb_netdef_host(const struct nb_netdef *def, uint32_t addr)
{
	uint32_t mask = nb_prefix_mask(def->prefix);

	return (addr & mask) == def->subnet && addr != def->subnet && addr != (def->subnet | ~mask);
}

void nb_netdef_bridge(const char *name, char bridge[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	snprintf(bridge, 16, NB_BRIDGE_PREFIX "%08x", h);
}

int nb_netdef_check(const struct nb_netdef *def, struct nb_err *err)
{
	char bridge[16];

	if (nb_netname_check(def->name, err) < 0)
		return -1;
	if (def->prefix < NB_NET_MIN_PREFIX || def->prefix > NB_NET_MAX_PREFIX ||
	    (def->subnet & ~nb_prefix_mask(def->prefix)) || def->subnet == 0)
		return nb_err_set(err, 0, "network %s: bad subnet", def->name);
	if (!nb_netdef_host(def, def->gateway))
		return nb_err_set(err, 0,
				  "network %s: the gateway must be a host address of the subnet",
				  def->name);
	nb_netdef_bridge(def->name, bridge);
	if (strcmp(bridge, def->bridge) != 0)
		return nb_err_set(err, 0, "network %s: bridge %.16s is not %s", def->name,
				  def->bridge, bridge);
	return 0;
}

int nb_netdef_make(struct nb_netdef *def, const char *name, const char *subnet, const char *gateway,
		   struct nb_err *err)
{
	if (nb_netname_check(name, err) < 0)
		return -1;
	snprintf(def->name, sizeof(def->name), "%s", name);
	if (subnet && nb_cidr_parse(subnet, &def->subnet, &def->prefix, err) < 0)
		return -1;
	def->gateway = def->subnet + 1;
	if (gateway && nb_ipv4_parse(gateway, false, &def->gateway, err) < 0)
		return nb_err_wrap(err, "--gateway");
	nb_netdef_bridge(name, def->bridge);
	return nb_netdef_check(def, err);
}

char *nb_netdef_json(const struct nb_netdef *def)
{
	char subnet[NB_IPV4_TEXT + 3], gw[NB_IPV4_TEXT], a[NB_IPV4_TEXT];
	json_object *o = json_object_new_object();
	char *out = NULL;

	nb_ipv4_format(def->subnet, a);
	snprintf(subnet, sizeof(subnet), "%s/%u", a, def->prefix);
	nb_ipv4_format(def->gateway, gw);
	if (o && !json_object_object_add(o, "name", json_object_new_string(def->name)) &&
	    !json_object_object_add(o, "subnet", json_object_new_string(subnet)) &&
	    !json_object_object_add(o, "gateway", json_object_new_string(gw)) &&
	    !json_object_object_add(o, "bridge", json_object_new_string(def->bridge)))
		out = strdup(
			json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return out;
}

static const char *json_str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

int nb_netdef_parse(const char *text, struct nb_netdef *def, struct nb_err *err)
{
	json_object *o = json_tokener_parse(text);
	const char *name = json_str(o, "name"), *subnet = json_str(o, "subnet"),
		   *gw = json_str(o, "gateway"), *bridge = json_str(o, "bridge");
	int rc = -1;

	*def = (struct nb_netdef){ 0 };
	if (!o || !json_object_is_type(o, json_type_object) || !name || !subnet || !gw || !bridge)
		nb_err_set(err, 0, "not a network definition (name, subnet, gateway, bridge)");
	else if (strlen(bridge) < sizeof(def->bridge) &&
		 nb_netdef_make(def, name, subnet, gw, err) == 0)
		rc = strcmp(bridge, def->bridge) == 0
			     ? 0
			     : nb_err_set(err, 0, "network %s: bridge %.16s is not %s", name,
					  bridge, def->bridge);
	else if (strlen(bridge) >= sizeof(def->bridge))
		nb_err_set(err, 0, "network definition: bridge name too long");
	json_object_put(o);
	return rc;
}
