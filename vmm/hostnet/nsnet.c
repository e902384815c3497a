#include "vmm/hostnet/nsnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nestbox/cleanup.h"

/* ---- parsing dump replies ------------------------------------------------------- */

/* The payload of attribute a when it is exactly size bytes. */
static bool attr_is(const struct rtattr *a, size_t size)
{
	return RTA_PAYLOAD(a) == size;
}

static int parse_link(const struct nlmsghdr *h, struct nb_nsnet *ns, struct nb_err *err)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	int left = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));
	char name[IF_NAMESIZE] = "";
	uint8_t mac[6];
	bool has_mac = false;
	unsigned mtu = 0;

	if (left < 0)
		return nb_err_set(err, 0, "netlink: a short link message");
	/* lo, and the fallback devices a tunnel module puts in every
	 * namespace (tunl0, sit0, gretap0: not Ethernet, or down), are not
	 * the engine's */
	if ((ifi->ifi_flags & IFF_LOOPBACK) || ifi->ifi_type != ARPHRD_ETHER ||
	    !(ifi->ifi_flags & IFF_UP))
		return 0;
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
		size_t n = RTA_PAYLOAD(a);

		if (a->rta_type == IFLA_IFNAME) {
			if (n < 2 || n > IF_NAMESIZE || memchr(RTA_DATA(a), '\0', n) == NULL)
				return nb_err_set(err, 0, "netlink: a bad interface name");
			memcpy(name, RTA_DATA(a), n);
		} else if (a->rta_type == IFLA_ADDRESS && attr_is(a, 6)) {
			memcpy(mac, RTA_DATA(a), 6);
			has_mac = true;
		} else if (a->rta_type == IFLA_MTU && attr_is(a, 4)) {
			memcpy(&mtu, RTA_DATA(a), 4);
		}
	}
	if (!name[0] || ifi->ifi_index <= 0)
		return nb_err_set(err, 0, "netlink: a link without a name or index");
	if (ns->nlinks++)
		return 0;
	if (!has_mac)
		return nb_err_set(err, 0, "interface %s has no Ethernet address", name);
	memcpy(ns->name, name, sizeof(name));
	ns->index = ifi->ifi_index;
	memcpy(ns->mac, mac, 6);
	ns->mtu = mtu;
	return 0;
}

static int parse_addr(const struct nlmsghdr *h, struct nb_nsnet *ns, struct nb_err *err)
{
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	int left = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifa));
	uint32_t addr = 0;
	bool has = false;

	if (left < 0)
		return nb_err_set(err, 0, "netlink: a short address message");
	if (ifa->ifa_family != AF_INET || (int)ifa->ifa_index != ns->index || !ns->index ||
	    ns->ipv4)
		return 0;
	if (ifa->ifa_prefixlen < 1 || ifa->ifa_prefixlen > 30)
		return nb_err_set(err, 0,
				  "interface %s: prefix /%u cannot hold a gateway and a host",
				  ns->name, ifa->ifa_prefixlen);
	for (const struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
		/* IFA_LOCAL is the interface's own address (IFA_ADDRESS the
		 * peer's on point-to-point links); either does on Ethernet */
		if ((a->rta_type == IFA_LOCAL || (a->rta_type == IFA_ADDRESS && !has)) &&
		    attr_is(a, 4)) {
			memcpy(&addr, RTA_DATA(a), 4);
			has = true;
		}
	}
	if (!has || !addr)
		return nb_err_set(err, 0, "netlink: an IPv4 address message without an address");
	ns->ipv4 = ntohl(addr);
	ns->prefix = ifa->ifa_prefixlen;
	return 0;
}

static int parse_route(const struct nlmsghdr *h, struct nb_nsnet *ns, struct nb_err *err)
{
	const struct rtmsg *rt = NLMSG_DATA(h);
	int left = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*rt));
	uint32_t gw = 0, table = rt->rtm_table;
	int oif = 0;

	if (left < 0)
		return nb_err_set(err, 0, "netlink: a short route message");
	if (rt->rtm_family != AF_INET || rt->rtm_dst_len != 0 || rt->rtm_type != RTN_UNICAST ||
	    ns->gateway)
		return 0;
	for (const struct rtattr *a = RTM_RTA(rt); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
		if (a->rta_type == RTA_GATEWAY && attr_is(a, 4))
			memcpy(&gw, RTA_DATA(a), 4);
		else if (a->rta_type == RTA_OIF && attr_is(a, 4))
			memcpy(&oif, RTA_DATA(a), 4);
		else if (a->rta_type == RTA_TABLE && attr_is(a, 4))
			memcpy(&table, RTA_DATA(a), 4);
	}
	if (table == RT_TABLE_MAIN && oif == ns->index && gw)
		ns->gateway = ntohl(gw);
	return 0;
}

int nb_nsnet_parse(const void *buf, size_t len, struct nb_nsnet *ns, struct nb_err *err)
{
	int left = len > INT32_MAX ? INT32_MAX : (int)len;

	for (const struct nlmsghdr *h = buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
		int rc = 0;

		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return nb_err_set(err, 0, "netlink: a short error message");
			return nb_err_set(err, e->error < 0 ? -e->error : EIO,
					  "netlink: reading the interfaces");
		}
		if (h->nlmsg_type == RTM_NEWLINK)
			rc = parse_link(h, ns, err);
		else if (h->nlmsg_type == RTM_NEWADDR)
			rc = parse_addr(h, ns, err);
		else if (h->nlmsg_type == RTM_NEWROUTE)
			rc = parse_route(h, ns, err);
		if (rc < 0)
			return -1;
	}
	if (left != 0)
		return nb_err_set(err, 0, "netlink: a truncated message");
	return 0;
}

/* ---- talking to the kernel ---------------------------------------------------- */

/* One request under construction (attributes nested by offset). */
struct req {
	union {
		struct nlmsghdr h;
		char buf[512];
	} u;
	bool overflow;
};

static void *put(struct req *r, size_t size)
{
	size_t at = NLMSG_ALIGN(r->u.h.nlmsg_len);

	if (at + RTA_ALIGN(size) > sizeof(r->u.buf)) {
		r->overflow = true;
		return NULL;
	}
	memset(r->u.buf + at, 0, RTA_ALIGN(size));
	r->u.h.nlmsg_len = (uint32_t)(at + size);
	return r->u.buf + at;
}

/* Start attribute type (data NULL: a nest, ended by nest_end). */
static size_t attr(struct req *r, unsigned short type, const void *data, size_t size)
{
	size_t at = NLMSG_ALIGN(r->u.h.nlmsg_len);
	struct rtattr *a = put(r, RTA_LENGTH(data ? size : 0));

	if (!a)
		return 0;
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(data ? size : 0);
	if (data)
		memcpy(RTA_DATA(a), data, size);
	return at;
}

static void nest_end(struct req *r, size_t at)
{
	if (!r->overflow)
		((struct rtattr *)(void *)(r->u.buf + at))->rta_len =
			(unsigned short)(r->u.h.nlmsg_len - at);
}

static int rtnl_open(struct nb_err *err)
{
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (s < 0)
		return nb_err_sys(err, "netlink socket");
	return s;
}

/* Send r and read the kernel's acknowledgement. */
static int transact(int s, struct req *r, struct nb_err *err)
{
	union {
		struct nlmsghdr h;
		char buf[1024];
	} ack;
	ssize_t n;

	if (r->overflow)
		return nb_err_set(err, 0, "netlink: request too large");
	r->u.h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (send(s, r->u.buf, r->u.h.nlmsg_len, 0) < 0)
		return nb_err_sys(err, "netlink send");
	do
		n = recv(s, ack.buf, sizeof(ack.buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return nb_err_sys(err, "netlink recv");
	if (!NLMSG_OK(&ack.h, (int)n) || ack.h.nlmsg_type != NLMSG_ERROR ||
	    ack.h.nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
		return nb_err_set(err, 0, "netlink: an unexpected reply");
	const struct nlmsgerr *e = NLMSG_DATA(&ack.h);
	if (e->error)
		return nb_err_set(err, -e->error, "netlink");
	return 0;
}

/* Dump one kind of object (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE) into ns. */
static int dump(int s, unsigned short type, struct nb_nsnet *ns, struct nb_err *err)
{
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
	} q = { .h = { .nlmsg_len = sizeof(q),
		       .nlmsg_type = type,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.g = { .rtgen_family = AF_UNSPEC } };
	static union {
		struct nlmsghdr h;
		char buf[32768];
	} reply;
	int rc = 0;

	if (send(s, &q, sizeof(q), 0) < 0)
		return nb_err_sys(err, "netlink send");
	while (rc == 0) {
		ssize_t n = recv(s, reply.buf, sizeof(reply.buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return nb_err_sys(err, "netlink recv");
		rc = nb_nsnet_parse(reply.buf, (size_t)n, ns, err);
	}
	return rc < 0 ? -1 : 0;
}

int nb_nsnet_scan(struct nb_nsnet *ns, struct nb_err *err)
{
	cleanup_close int s = rtnl_open(err);

	memset(ns, 0, sizeof(*ns));
	if (s < 0 || dump(s, RTM_GETLINK, ns, err) < 0)
		return -1;
	if (ns->nlinks == 0)
		return 0;
	if (ns->nlinks > 1)
		return nb_err_set(err, 0,
				  "%u Ethernet interfaces are up (%s and others): nestbox "
				  "connects one",
				  ns->nlinks, ns->name);
	if (dump(s, RTM_GETADDR, ns, err) < 0 || dump(s, RTM_GETROUTE, ns, err) < 0)
		return -1;
	if (!ns->ipv4)
		return nb_err_set(err, 0, "interface %s has no IPv4 address", ns->name);
	return 0;
}

static void tc_header(struct req *r, unsigned short type, unsigned short flags, int index,
		      uint32_t parent, uint32_t handle, uint32_t info)
{
	struct tcmsg *t;

	memset(r, 0, sizeof(*r));
	r->u.h.nlmsg_len = NLMSG_LENGTH(0);
	r->u.h.nlmsg_type = type;
	r->u.h.nlmsg_flags = flags;
	t = put(r, sizeof(*t));
	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = index;
	t->tcm_parent = parent;
	t->tcm_handle = handle;
	t->tcm_info = info;
}

/* `tc qdisc add dev from ingress` and `tc filter add dev from parent ffff:
 * protocol all u32 match u8 0 0 action mirred egress redirect dev to`
 * (Kata's filter: u32 is in every distribution kernel). */
static int redirect(int s, int from, int to, struct nb_err *err)
{
	struct tc_mirred m = { .action = TC_ACT_STOLEN,
			       .eaction = TCA_EGRESS_REDIR,
			       .ifindex = (uint32_t)to };
	struct {
		struct tc_u32_sel sel;
		struct tc_u32_key key; /* mask 0: every frame matches */
	} sel = { .sel = { .flags = TC_U32_TERMINAL, .nkeys = 1 } };
	struct req r;
	size_t opts, acts, act, aopts;

	tc_header(&r, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, from, TC_H_INGRESS,
		  TC_H_MAKE(TC_H_INGRESS, 0), 0);
	attr(&r, TCA_KIND, "ingress", sizeof("ingress"));
	if (transact(s, &r, err) < 0)
		return nb_err_wrap(err, "an ingress qdisc (is sch_ingress available?)");
	tc_header(&r, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, from, TC_H_MAKE(TC_H_INGRESS, 0),
		  0, TC_H_MAKE(1u << 16, htons(ETH_P_ALL)));
	attr(&r, TCA_KIND, "u32", sizeof("u32"));
	opts = attr(&r, TCA_OPTIONS, NULL, 0);
	attr(&r, TCA_U32_SEL, &sel, sizeof(sel));
	acts = attr(&r, TCA_U32_ACT, NULL, 0);
	act = attr(&r, 1, NULL, 0);
	attr(&r, TCA_ACT_KIND, "mirred", sizeof("mirred"));
	aopts = attr(&r, TCA_ACT_OPTIONS, NULL, 0);
	attr(&r, TCA_MIRRED_PARMS, &m, sizeof(m));
	nest_end(&r, aopts);
	nest_end(&r, act);
	nest_end(&r, acts);
	nest_end(&r, opts);
	if (transact(s, &r, err) < 0)
		return nb_err_wrap(err,
				   "a redirect filter (are cls_u32 and act_mirred available?)");
	return 0;
}

int nb_nsnet_connect(const struct nb_nsnet *ns, const char *tap, struct nb_err *err)
{
	cleanup_close int s = rtnl_open(err);
	int tap_index = (int)if_nametoindex(tap);

	if (s < 0)
		return -1;
	if (!tap_index)
		return nb_err_sys(err, "tap %s", tap);
	if (redirect(s, ns->index, tap_index, err) < 0)
		return nb_err_wrap(err, "%s -> %s", ns->name, tap);
	if (redirect(s, tap_index, ns->index, err) < 0) {
		nb_nsnet_disconnect(ns->name, &(struct nb_err){ 0 });
		return nb_err_wrap(err, "%s -> %s", tap, ns->name);
	}
	return 0;
}

int nb_nsnet_disconnect(const char *name, struct nb_err *err)
{
	cleanup_close int s = -1;
	int index = (int)if_nametoindex(name);
	struct req r;

	if (!index)
		return 0;
	s = rtnl_open(err);
	if (s < 0)
		return -1;
	tc_header(&r, RTM_DELQDISC, 0, index, TC_H_INGRESS, TC_H_MAKE(TC_H_INGRESS, 0), 0);
	if (transact(s, &r, err) < 0 && err->errnum != ENOENT && err->errnum != EINVAL &&
	    err->errnum != ENODEV)
		return nb_err_wrap(err, "removing the ingress qdisc of %s", name);
	return 0;
}
