/* An engine's network namespace joined to a VM (vmm/hostnet/nsnet.h): the
 * rtnetlink dump parser with well-formed and hostile replies; with root,
 * in a namespace of its own: a veth with an address and a default route is
 * found, a tap tied to it by tc redirects both ways, and untied. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <net/if.h> /* before the linux/ headers */
#include <linux/if_arp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "vmm/hostnet/nsnet.h"
#include "vmm/virtio/net.h"

/* A dump reply under construction. */
struct msgs {
	union {
		struct nlmsghdr h;
		char buf[4096];
	} u;
	size_t len;
	size_t cur; /* the message being built */
};

static void *add(struct msgs *m, const void *data, size_t size)
{
	char *at = m->u.buf + m->len;

	ck_assert_uint_le(m->len + NLMSG_ALIGN(size), sizeof(m->u.buf));
	memset(at, 0, NLMSG_ALIGN(size));
	if (data)
		memcpy(at, data, size);
	m->len += NLMSG_ALIGN(size);
	((struct nlmsghdr *)(void *)(m->u.buf + m->cur))->nlmsg_len = (uint32_t)(m->len - m->cur);
	return at;
}

static void msg(struct msgs *m, unsigned short type, const void *body, size_t size)
{
	struct nlmsghdr h = { .nlmsg_type = type };

	m->cur = m->len;
	add(m, &h, sizeof(h));
	add(m, body, size);
}

static void rta(struct msgs *m, unsigned short type, const void *data, size_t size)
{
	struct rtattr *a = add(m, NULL, RTA_LENGTH(size));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(size);
	memcpy(RTA_DATA(a), data, size);
}

static void link_msg(struct msgs *m, int index, unsigned flags, const char *name,
		     const uint8_t *mac)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC,
				 .ifi_type = (flags & IFF_LOOPBACK) ? ARPHRD_LOOPBACK
								    : ARPHRD_ETHER,
				 .ifi_index = index,
				 .ifi_flags = flags };
	unsigned mtu = 1500;

	msg(m, RTM_NEWLINK, &ifi, sizeof(ifi));
	rta(m, IFLA_IFNAME, name, strlen(name) + 1);
	if (mac)
		rta(m, IFLA_ADDRESS, mac, 6);
	rta(m, IFLA_MTU, &mtu, 4);
}

static void addr_msg(struct msgs *m, int index, unsigned prefix, const char *ip)
{
	struct ifaddrmsg ifa = { .ifa_family = AF_INET,
				 .ifa_prefixlen = (unsigned char)prefix,
				 .ifa_index = (unsigned)index };
	struct in_addr a;

	inet_pton(AF_INET, ip, &a);
	msg(m, RTM_NEWADDR, &ifa, sizeof(ifa));
	rta(m, IFA_LOCAL, &a, 4);
}

static void route_msg(struct msgs *m, int oif, unsigned table, const char *gw)
{
	struct rtmsg rt = { .rtm_family = AF_INET,
			    .rtm_table = (unsigned char)table,
			    .rtm_type = RTN_UNICAST };
	struct in_addr a;

	inet_pton(AF_INET, gw, &a);
	msg(m, RTM_NEWROUTE, &rt, sizeof(rt));
	rta(m, RTA_GATEWAY, &a, 4);
	rta(m, RTA_OIF, &oif, 4);
}

static void done(struct msgs *m)
{
	int zero = 0;

	msg(m, NLMSG_DONE, &zero, sizeof(zero));
}

static const uint8_t mac1[6] = { 0x3a, 0x11, 0x22, 0x33, 0x44, 0x55 };

START_TEST(parse_good)
{
	struct msgs m = { 0 };
	struct nb_nsnet ns = { 0 };
	struct nb_err err;

	link_msg(&m, 1, IFF_LOOPBACK | IFF_UP, "lo", NULL);
	link_msg(&m, 2, IFF_UP, "eth0", mac1);
	done(&m);
	ck_assert_int_eq(nb_nsnet_parse(m.u.buf, m.len, &ns, &err), 1);
	ck_assert_uint_eq(ns.nlinks, 1);
	ck_assert_str_eq(ns.name, "eth0");
	ck_assert_int_eq(ns.index, 2);
	ck_assert_mem_eq(ns.mac, mac1, 6);
	ck_assert_uint_eq(ns.mtu, 1500);

	m = (struct msgs){ 0 };
	addr_msg(&m, 1, 8, "127.0.0.1");
	addr_msg(&m, 2, 16, "10.88.0.5");
	addr_msg(&m, 2, 24, "10.99.0.5"); /* the first one is kept */
	done(&m);
	ck_assert_int_eq(nb_nsnet_parse(m.u.buf, m.len, &ns, &err), 1);
	ck_assert_uint_eq(ns.ipv4, 0x0a580005u);
	ck_assert_uint_eq(ns.prefix, 16);

	m = (struct msgs){ 0 };
	route_msg(&m, 2, 100, "10.88.9.9");           /* another table */
	route_msg(&m, 3, RT_TABLE_MAIN, "10.88.8.8"); /* another interface */
	route_msg(&m, 2, RT_TABLE_MAIN, "10.88.0.1");
	ck_assert_int_eq(nb_nsnet_parse(m.u.buf, m.len, &ns, &err), 0); /* no DONE yet */
	ck_assert_uint_eq(ns.gateway, 0x0a580001u);
}
END_TEST

START_TEST(parse_counts_links)
{
	struct msgs m = { 0 };
	struct nb_nsnet ns = { 0 };
	struct nb_err err;

	link_msg(&m, 2, 0, "gretap0", mac1); /* down: a tunnel module's fallback device */
	link_msg(&m, 3, IFF_UP, "eth0", mac1);
	link_msg(&m, 4, IFF_UP, "eth1", NULL); /* a second one: counted, not read */
	done(&m);
	ck_assert_int_eq(nb_nsnet_parse(m.u.buf, m.len, &ns, &err), 1);
	ck_assert_uint_eq(ns.nlinks, 2);
	ck_assert_str_eq(ns.name, "eth0");
	ck_assert_int_eq(ns.index, 3);

	/* tunl0 (ARPHRD_TUNNEL) and lo: nothing to connect */
	m = (struct msgs){ 0 };
	ns = (struct nb_nsnet){ 0 };
	link_msg(&m, 1, IFF_LOOPBACK | IFF_UP, "lo", NULL);
	link_msg(&m, 2, IFF_UP, "tunl0", NULL);
	((struct ifinfomsg *)NLMSG_DATA((struct nlmsghdr *)(void *)(m.u.buf + m.cur)))->ifi_type =
		ARPHRD_TUNNEL;
	done(&m);
	ck_assert_int_eq(nb_nsnet_parse(m.u.buf, m.len, &ns, &err), 1);
	ck_assert_uint_eq(ns.nlinks, 0);
}
END_TEST

/* Each of these replies is refused with a message, never read past. */
START_TEST(parse_hostile)
{
	struct nb_nsnet ns;
	struct nb_err err;
	struct msgs m;
	char longname[IF_NAMESIZE + 4];

	/* a name without its NUL */
	m = (struct msgs){ 0 };
	link_msg(&m, 2, IFF_UP, "eth0", mac1);
	((struct rtattr *)(void *)(m.u.buf + NLMSG_LENGTH(sizeof(struct ifinfomsg))))->rta_len =
		RTA_LENGTH(4);
	ns = (struct nb_nsnet){ 0 };
	ck_assert_int_eq(nb_nsnet_parse(m.u.buf, m.len, &ns, &err), -1);

	/* a name longer than IF_NAMESIZE */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	m = (struct msgs){ 0 };
	link_msg(&m, 2, IFF_UP, longname, mac1);
	ns = (struct nb_nsnet){ 0 };
	ck_assert_int_eq(nb_nsnet_parse(m.u.buf, m.len, &ns, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "name"));

	/* no Ethernet address */
	m = (struct msgs){ 0 };
	link_msg(&m, 2, IFF_UP, "eth0", NULL);
	ns = (struct nb_nsnet){ 0 };
	ck_assert_int_eq(nb_nsnet_parse(m.u.buf, m.len, &ns, &err), -1);

	/* a message shorter than its header says it is */
	m = (struct msgs){ 0 };
	link_msg(&m, 2, IFF_UP, "eth0", mac1);
	ns = (struct nb_nsnet){ 0 };
	ck_assert_int_eq(nb_nsnet_parse(m.u.buf, m.len - 8, &ns, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));

	/* a body shorter than struct ifinfomsg */
	m = (struct msgs){ 0 };
	msg(&m, RTM_NEWLINK, "ab", 2);
	ns = (struct nb_nsnet){ 0 };
	ck_assert_int_eq(nb_nsnet_parse(m.u.buf, m.len, &ns, &err), -1);

	/* an attribute running past its message */
	m = (struct msgs){ 0 };
	link_msg(&m, 2, IFF_UP, "eth0", mac1);
	((struct rtattr *)(void *)(m.u.buf + NLMSG_LENGTH(sizeof(struct ifinfomsg))))->rta_len =
		2000;
	ns = (struct nb_nsnet){ 0 };
	ck_assert_int_eq(nb_nsnet_parse(m.u.buf, m.len, &ns, &err), -1); /* no name left */

	/* prefixes that cannot hold a host and a gateway */
	for (unsigned p = 0; p < 3; p++) {
		static const unsigned bad[] = { 0, 31, 33 };

		m = (struct msgs){ 0 };
		addr_msg(&m, 2, bad[p], "10.0.0.2");
		ns = (struct nb_nsnet){ .index = 2 };
		strcpy(ns.name, "eth0");
		ck_assert_int_eq(nb_nsnet_parse(m.u.buf, m.len, &ns, &err), -1);
	}

	/* the kernel's error */
	m = (struct msgs){ 0 };
	{
		struct nlmsgerr e = { .error = -EPERM };

		msg(&m, NLMSG_ERROR, &e, sizeof(e));
	}
	ns = (struct nb_nsnet){ 0 };
	ck_assert_int_eq(nb_nsnet_parse(m.u.buf, m.len, &ns, &err), -1);
	ck_assert_int_eq(err.errnum, EPERM);
}
END_TEST

/* With root: a namespace of this test's own, a veth pair in it. */
/* A process in a namespace of its own, for the veth's peer; -1 if none. */
static pid_t peer_namespace(void)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (unshare(CLONE_NEWNET) == 0)
			(void)!write(p[1], "r", 1);
		close(p[1]);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return pid;
}

static int in_namespace(pid_t peer)
{
	struct nb_nsnet ns;
	struct nb_err err;
	bool created;
	char cmd[64];
	int tap;

	if (nb_unit_sh(
		    "ip link add nbv0 type veth peer name nbv1 && "
		    "ip link set nbv0 address 3a:11:22:33:44:55 && ip addr add 10.77.0.5/24 dev nbv0 && "
		    "ip link set nbv0 up && ip link set nbv1 up && "
		    "ip route add default via 10.77.0.1") != 0)
		return 10;
	/* two interfaces besides lo (nbv1 is the peer): refused */
	if (nb_nsnet_scan(&ns, &err) == 0 || ns.nlinks != 2)
		return 11;
	snprintf(cmd, sizeof(cmd), "ip link set nbv1 netns %d", (int)peer);
	if (nb_unit_sh(cmd) != 0)
		return 12;
	if (nb_nsnet_scan(&ns, &err) < 0 || ns.nlinks != 1 || strcmp(ns.name, "nbv0") != 0 ||
	    ns.ipv4 != 0x0a4d0005u || ns.prefix != 24 || ns.gateway != 0x0a4d0001u ||
	    memcmp(ns.mac, mac1, 6) != 0) {
		fprintf(stderr, "scan: %s\n", err.msg);
		return 13;
	}
	tap = nb_tap_open("nbtap0", &created, &err);
	if (tap < 0 || !created)
		return 14;
	if (nb_nsnet_connect(&ns, "nbtap0", &err) < 0) {
		fprintf(stderr, "connect: %s\n", err.msg);
		return 15;
	}
	if (nb_unit_sh("tc filter show dev nbv0 ingress | grep -q 'Redirect to device nbtap0' && "
		       "tc filter show dev nbtap0 ingress | grep -q 'Redirect to device nbv0'") !=
	    0)
		return 16;
	if (nb_nsnet_disconnect("nbv0", &err) < 0 ||
	    nb_unit_sh("tc qdisc show dev nbv0 | grep -q ingress") == 0)
		return 17;
	if (nb_nsnet_disconnect("nbv0", &err) < 0 || nb_nsnet_disconnect("nosuch0", &err) < 0)
		return 18;
	close(tap);
	return 0;
}

static int with_peer(void *unused)
{
	pid_t peer = peer_namespace();
	int rc;

	(void)unused;
	if (peer < 0)
		return 9;
	rc = in_namespace(peer);
	kill(peer, SIGKILL);
	waitpid(peer, NULL, 0);
	return rc;
}

START_TEST(kernel)
{
	ck_assert_int_le(nb_unit_in_netns("nsnet_kernel", with_peer, NULL), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("nsnet");
	TCase *tc = tcase_create("nsnet");

	tcase_add_test(tc, parse_good);
	tcase_add_test(tc, parse_counts_links);
	tcase_add_test(tc, parse_hostile);
	if (geteuid() == 0 && system("command -v ip >/dev/null && command -v tc >/dev/null") == 0)
		tcase_add_test(tc, kernel);
	else
		printf("skip nsnet_kernel: needs root, ip and tc\n");
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return nb_unit_run(suite());
}
