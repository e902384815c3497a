/* rtnetlink requests built in a fixed buffer with explicit bounds, each
 * acknowledged (NLM_F_ACK) before the next. */
#include "guest-init/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

#define MSG_MAX 256u

struct req {
	struct nlmsghdr *nh;
	uint8_t buf[MSG_MAX] __attribute__((aligned(NLMSG_ALIGNTO)));
};

static void *begin(struct req *r, uint16_t type, uint16_t flags, size_t body)
{
	memset(r->buf, 0, sizeof(r->buf));
	r->nh = (struct nlmsghdr *)r->buf;
	r->nh->nlmsg_len = NLMSG_LENGTH(body);
	r->nh->nlmsg_type = type;
	r->nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->nh->nlmsg_seq = 1;
	return NLMSG_DATA(r->nh);
}

/* Append one attribute; -1 if it would not fit (never with our sizes). */
static int add_attr(struct req *r, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(r->nh->nlmsg_len);
	struct rtattr *rta = (struct rtattr *)(r->buf + off);

	if (off + RTA_SPACE(len) > sizeof(r->buf))
		return -1;
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->nh->nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
	return 0;
}

/* Send and wait for the kernel's ack; its error comes back as errno. */
static int talk(int sock, struct req *r, const char *what, struct nb_err *err)
{
	uint8_t reply[1024] __attribute__((aligned(NLMSG_ALIGNTO)));
	ssize_t n;

	if (send(sock, r->buf, r->nh->nlmsg_len, 0) < 0)
		return nb_err_sys(err, "net: %s", what);
	n = recv(sock, reply, sizeof(reply), 0);
	if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
		return nb_err_sys(err, "net: %s: no netlink answer", what);
	struct nlmsghdr *nh = (struct nlmsghdr *)reply;
	if (nh->nlmsg_type != NLMSG_ERROR)
		return nb_err_set(err, 0, "net: %s: unexpected netlink answer", what);
	int code = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
	if (code < 0 && code != -EEXIST)
		return nb_err_set(err, -code, "net: %s", what);
	return 0;
}

static int set_link(int sock, unsigned index, bool up, const char *what, struct nb_err *err)
{
	struct req r;
	struct ifinfomsg *ifi = begin(&r, RTM_NEWLINK, 0, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)index;
	ifi->ifi_flags = up ? IFF_UP : 0;
	ifi->ifi_change = IFF_UP;
	return talk(sock, &r, what, err);
}

/* eth0's MAC, while it is down (virtio-net takes it without the device:
 * the host side does not filter). */
static int set_mac(int sock, unsigned index, const uint8_t *mac, struct nb_err *err)
{
	struct req r;
	struct ifinfomsg *ifi = begin(&r, RTM_NEWLINK, 0, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)index;
	if (add_attr(&r, IFLA_ADDRESS, mac, NB_SPEC_MAC_LEN) < 0)
		return nb_err_set(err, 0, "net: link message too long");
	return talk(sock, &r, "setting the eth0 MAC address", err);
}

static int add_address(int sock, unsigned index, const struct nb_spec *spec, struct nb_err *err)
{
	struct req r;
	struct ifaddrmsg *ifa = begin(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*ifa));
	uint32_t addr = htonl(spec->net_ipv4);
	uint32_t bcast = htonl(spec->net_ipv4 |
			       (spec->net_prefix == 32 ? 0 : 0xffffffffu >> spec->net_prefix));

	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)spec->net_prefix;
	ifa->ifa_index = index;
	if (add_attr(&r, IFA_LOCAL, &addr, 4) < 0 || add_attr(&r, IFA_ADDRESS, &addr, 4) < 0 ||
	    add_attr(&r, IFA_BROADCAST, &bcast, 4) < 0)
		return nb_err_set(err, 0, "net: address message too long");
	return talk(sock, &r, "adding the eth0 address", err);
}

static int del_address(int sock, unsigned index, uint32_t ipv4, uint32_t prefix, struct nb_err *err)
{
	struct req r;
	struct ifaddrmsg *ifa = begin(&r, RTM_DELADDR, 0, sizeof(*ifa));
	uint32_t addr = htonl(ipv4);

	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_index = index;
	if (add_attr(&r, IFA_LOCAL, &addr, 4) < 0)
		return nb_err_set(err, 0, "net: address message too long");
	/* gone already (the workload may hold CAP_NET_ADMIN): fine */
	if (talk(sock, &r, "removing the old eth0 address", err) < 0 &&
	    err->errnum != EADDRNOTAVAIL)
		return -1;
	return 0;
}

static int add_default_route(int sock, unsigned index, uint32_t gateway, struct nb_err *err)
{
	struct req r;
	struct rtmsg *rt = begin(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*rt));
	uint32_t gw = htonl(gateway), oif = index;

	rt->rtm_family = AF_INET;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	if (add_attr(&r, RTA_GATEWAY, &gw, 4) < 0 || add_attr(&r, RTA_OIF, &oif, 4) < 0)
		return nb_err_set(err, 0, "net: route message too long");
	return talk(sock, &r, "adding the default route", err);
}

/* The container's /etc/resolv.conf from NB_SPEC_NET_DNS: the image's is
 * replaced (unlinked first, created with O_EXCL | O_NOFOLLOW beneath an
 * /etc opened without following a link), so a hostile image's symlink
 * leads nowhere. */
static int write_resolv(const struct nb_spec *spec, struct nb_err *err)
{
	char text[64 + NB_SPEC_MAX_DNS * 32];
	size_t len = 0;
	cleanup_close int root = open(spec->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int etc = -1, fd = -1;

	if (root < 0)
		return nb_err_sys(err, "net: resolv.conf: %s", spec->rootfs);
	if (mkdirat(root, "etc", 0755) < 0 && errno != EEXIST)
		return nb_err_sys(err, "net: resolv.conf: cannot create /etc");
	etc = openat(root, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (etc < 0)
		return nb_err_sys(err, "net: resolv.conf: the image's /etc");
	if (unlinkat(etc, "resolv.conf", 0) < 0 && errno != ENOENT)
		return nb_err_sys(err, "net: cannot replace the image's /etc/resolv.conf");
	fd = openat(etc, "resolv.conf", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return nb_err_sys(err, "net: cannot create /etc/resolv.conf");
	len = (size_t)snprintf(text, sizeof(text), "# written by nestbox\n");
	for (size_t i = 0; i < spec->net_ndns && i < NB_SPEC_MAX_DNS; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "nameserver %.15s\n",
					spec->net_dns[i]);
	if (write(fd, text, len) != (ssize_t)len)
		return nb_err_sys(err, "net: writing /etc/resolv.conf");
	return 0;
}

/* eth0 up with the spec's address, route and nameservers. */
static int address(int sock, unsigned eth, const struct nb_spec *spec, struct nb_err *err)
{
	if (set_link(sock, eth, true, "bringing eth0 up", err) < 0 ||
	    add_address(sock, eth, spec, err) < 0)
		return -1;
	if (spec->net_gateway && add_default_route(sock, eth, spec->net_gateway, err) < 0)
		return -1;
	return spec->net_ndns ? write_resolv(spec, err) : 0;
}

static int open_rtnl(struct nb_err *err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		nb_err_sys(err, "net: netlink socket");
		if (sock >= 0)
			close(sock);
		return -1;
	}
	return sock;
}

int nb_net_setup(const struct nb_spec *spec, struct nb_err *err)
{
	cleanup_close int sock = open_rtnl(err);
	unsigned lo, eth;

	if (sock < 0)
		return -1;
	lo = if_nametoindex("lo");
	if (lo && set_link(sock, lo, true, "bringing lo up", err) < 0)
		return -1;
	if (!spec->net_ipv4 && !spec->net_mac)
		return 0;
	eth = if_nametoindex(NB_GUEST_NET_IF);
	if (!eth)
		return nb_err_set(err, 0, "net: no %s (is the VM's virtio-net there?)",
				  NB_GUEST_NET_IF);
	if (spec->net_mac && set_mac(sock, eth, spec->net_mac, err) < 0)
		return -1;
	return spec->net_ipv4 ? address(sock, eth, spec, err) : 0;
}

int nb_net_readdress(const struct nb_spec *spec, uint32_t was_ipv4, uint32_t was_prefix,
		     struct nb_err *err)
{
	cleanup_close int sock = open_rtnl(err);
	unsigned eth;

	if (sock < 0)
		return -1;
	eth = if_nametoindex(NB_GUEST_NET_IF);
	if (!eth)
		return nb_err_set(err, 0, "net: no %s to re-address", NB_GUEST_NET_IF);
	if (spec->net_mac && set_mac(sock, eth, spec->net_mac, err) < 0)
		return -1;
	/* The old one first: removing a primary address takes the secondary
	 * ones of its subnet (the new one) along. The route goes with it. */
	if (was_ipv4 && (was_ipv4 != spec->net_ipv4 || was_prefix != spec->net_prefix) &&
	    del_address(sock, eth, was_ipv4, was_prefix, err) < 0)
		return -1;
	if (!spec->net_ipv4)
		return set_link(sock, eth, false, "taking eth0 down", err);
	return address(sock, eth, spec, err);
}
