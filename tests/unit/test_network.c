/* Network options (--vsock, --tap, --network, -p, --dns, --mac-address, --ip,
 * --gateway) and their spec
 * properties (NB_SPEC_NET_*): validation and the encode/decode round trip. */
#include <check.h>
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/spec.h"
#include "unit.h"
#include "vmm/cli/cli.h"
#include "vmm/cli/network_opts.h"
#include "nestbox/abi.h"
#include "vmm/run/network.h"

static int parse(struct nb_run_options *o, struct nb_err *err, const char *a1, const char *a2,
		 const char *a3, const char *a4)
{
	const char *argv[12] = { "run" };
	int n = 1;

	for (const char *a[] = { a1, a2, a3, a4 }, **p = a; p < a + 4; p++)
		if (*p)
			argv[n++] = *p;
	argv[n++] = "rootfs";
	argv[n++] = "true";
	memset(err, 0, sizeof(*err));
	int rc = nb_cli_parse_run(n, (char **)argv, "/x", o, err);
	return rc == 0 ? nb_network_check(o, err) : rc;
}

START_TEST(good_options)
{
	struct nb_run_options o;
	struct nb_err err;

	ck_assert_msg(parse(&o, &err, "--tap", "nb0", "--ip", "10.200.0.2/24") == 0, "%s", err.msg);
	ck_assert_str_eq(o.net.tap, "nb0");
	ck_assert_uint_eq(o.net.ipv4, 0x0ac80002u);
	ck_assert_uint_eq(o.net.prefix, 24);
	ck_assert_int_eq(parse(&o, &err, "--tap=nb0", "--ip=10.0.0.2/8", "--gateway=10.1.2.3",
			       "--mac-address=02:00:00:00:00:01"),
			 0);
	ck_assert_uint_eq(o.net.gateway, 0x0a010203u);
	ck_assert(o.net.has_mac);
	ck_assert_uint_eq(o.net.mac[5], 1);
	ck_assert_int_eq(parse(&o, &err, "--vsock", "/tmp/v.sock", "--vsock-cid", "42"), 0);
	ck_assert_str_eq(o.net.vsock_path, "/tmp/v.sock");
	ck_assert_uint_eq(o.net.vsock_cid, 42);
	/* Docker's --network NAME, its alias --net, --ip ADDR, -p, --dns */
	ck_assert_msg(parse(&o, &err, "--net", "t1", "--ip", "10.88.1.9") == 0, "%s", err.msg);
	ck_assert_str_eq(o.net.network, "t1");
	ck_assert_uint_eq(o.net.ipv4, 0x0a580109u);
	ck_assert_uint_eq(o.net.prefix, 0);
	ck_assert_msg(parse(&o, &err, "-p", "8080:80", "--dns", "9.9.9.9") == 0, "%s", err.msg);
	ck_assert(nb_network_joins(&o)); /* -p alone: the default network */
	ck_assert_uint_eq(o.net.npublish, 1);
	ck_assert_uint_eq(o.net.publish[0].host_port, 8080);
	ck_assert_uint_eq(o.net.ndns, 1);
	ck_assert_uint_eq(o.net.dns[0], 0x09090909u);
	ck_assert_int_eq(parse(&o, &err, "--network", "none", NULL, NULL), 0);
	ck_assert(!nb_network_joins(&o));
	ck_assert(o.container.namespaces & NB_NS_NET);
	ck_assert_int_eq(parse(&o, &err, "--network", "none", "--network", "host"), 0);
	ck_assert(!(o.container.namespaces & NB_NS_NET));
	ck_assert_int_eq(parse(&o, &err, NULL, NULL, NULL, NULL), 0);
	ck_assert(!nb_network_joins(&o)); /* the default: no NIC */
}
END_TEST

START_TEST(bad_options)
{
	static const char *bad[][4] = {
		{ "--tap", "" },
		{ "--tap", "a/b" },
		{ "--tap", "abcdefghijklmnop" },      /* 16 characters */
		{ "--tap", "x", "--ip", "10.0.0.1" }, /* no prefix */
		{ "--tap", "x", "--ip", "10.0.0.1/33" },
		{ "--tap", "x", "--ip", "10.0.0.1/0" },
		{ "--tap", "x", "--ip", "10.0.0/24" },
		{ "--tap", "x", "--ip", "0.0.0.0/24" },
		{ "--tap", "x", "--mac-address", "03:00:00:00:00:01" }, /* multicast */
		{ "--tap", "x", "--mac-address", "02:00:00:00:00" },
		{ "--tap", "x", "--mac-address", "02:00:00:00:00:01:02" },
		{ "--tap", "x", "--gateway", "10.0.0.1" },    /* without --ip */
		{ "--ip", "10.0.0.2/24" },                    /* without --tap */
		{ "--ip", "10.0.0.2" },                       /* without --network */
		{ "--network", "n1", "--ip", "10.0.0.2/24" }, /* a prefix with --network */
		{ "--network", "n1", "--tap", "t0" },         /* both */
		{ "--network", "bad name" },
		{ "--network", "n1", "--gateway", "10.0.0.1" },
		{ "--network", "none", "-p", "80:80" }, /* -p needs a network */
		{ "--network", "host", "-p", "80:80" },
		{ "--dns", "1.2.3.4" },                   /* no NIC */
		{ "--mac-address", "02:00:00:00:00:01" }, /* no NIC */
		{ "--network", "n1", "--dns", "1.2.3" },
		{ "-p", "80" },                   /* no host port */
		{ "--mac", "02:00:00:00:00:01" }, /* Docker's name is --mac-address */
		{ "--vsock-cid", "2" },
		{ "--vsock-cid", "4294967295" },
		{ "--vsock-cid", "-3" },
		{ "--vsock", "" },
	};
	struct nb_run_options o;
	struct nb_err err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(&o, &err, bad[i][0], bad[i][1], bad[i][2], bad[i][3]) < 0,
			      "accepted case %zu", i);
	/* the gateway outside the network */
	ck_assert_int_lt(parse(&o, &err, "--tap=x", "--ip=10.0.0.2/24", "--gateway=10.0.1.1", NULL),
			 0);
}
END_TEST

static const char *const argv1[] = { "true" };

START_TEST(net_rate)
{
	static const char *const bad[] = { "",           "rx",      "rx=",         "rx=0",
					   "rx=1x",      "up=1m",   "rx=1m,rx=2m", "rx-ops=0",
					   "tx-ops=1.5", "rx=1m,,", "=1m",         "rx=1m;tx=1m" };
	struct nb_run_options o;
	struct nb_err err;

	ck_assert_msg(parse(&o, &err, "--tap", "nb0", "--net-rate", "rx=10mb,tx=512k") == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(o.net.rx_bps, 10u << 20);
	ck_assert_uint_eq(o.net.tx_bps, 512u << 10);
	ck_assert_uint_eq(o.net.rx_ops + o.net.tx_ops, 0);
	ck_assert_int_eq(parse(&o, &err, "--tap=nb0", "--net-rate=tx-ops=100,rx-ops=7,tx=1g", NULL,
			       NULL),
			 0);
	ck_assert_uint_eq(o.net.tx_ops, 100);
	ck_assert_uint_eq(o.net.rx_ops, 7);
	ck_assert_uint_eq(o.net.tx_bps, 1u << 30);
	ck_assert_uint_eq(o.net.rx_bps, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(&o, &err, "--tap", "nb0", "--net-rate", bad[i]) < 0,
			      "'%s' accepted", bad[i]);
		ck_assert_ptr_nonnull(strstr(err.msg, "--net-rate"));
	}
	/* A rate for a device that is not there. */
	ck_assert_int_lt(parse(&o, &err, "--net-rate", "rx=1m", NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "needs a NIC"));
}
END_TEST

static const char *const dns2[] = { "8.8.8.8", "8.8.4.4" };

START_TEST(spec_round_trip)
{
	struct nb_spec in = { .argv = argv1,
			      .argc = 1,
			      .rootfs = "/",
			      .net_ipv4 = 0x0ac80002,
			      .net_prefix = 24,
			      .net_gateway = 0x0ac80001,
			      .net_dns = dns2,
			      .net_ndns = 2 },
		       out;
	struct nb_err err = { 0 };
	void *blob;
	size_t len;

	ck_assert_msg(nb_spec_encode(&in, &blob, &len, &err) == 0, "%s", err.msg);
	ck_assert_msg(nb_spec_decode(blob, len, &out, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(out.net_ipv4, 0x0ac80002);
	ck_assert_uint_eq(out.net_prefix, 24);
	ck_assert_uint_eq(out.net_gateway, 0x0ac80001);
	ck_assert_uint_eq(out.net_ndns, 2);
	ck_assert_str_eq(out.net_dns[1], "8.8.4.4");
	/* network byte order in the blob */
	int plen;
	const uint8_t *p = fdt_getprop(blob, 0, NB_SPEC_NET_IPV4, &plen);
	ck_assert_int_eq(plen, 8);
	ck_assert_uint_eq(p[0], 10);
	ck_assert_uint_eq(p[3], 2);
	nb_spec_free(&out);
	free(blob);
}
END_TEST

START_TEST(spec_refuses_bad_net)
{
	struct nb_spec in = {
		.argv = argv1, .argc = 1, .rootfs = "/", .net_ipv4 = 1, .net_prefix = 33
	};
	struct nb_err err = { 0 };
	void *blob;
	size_t len;

	ck_assert_int_eq(nb_spec_validate(&in, &err), -1);
	in.net_prefix = 0;
	ck_assert_int_eq(nb_spec_validate(&in, &err), -1);
	in = (struct nb_spec){ .argv = argv1, .argc = 1, .rootfs = "/", .net_gateway = 5 };
	ck_assert_int_eq(nb_spec_validate(&in, &err), -1);
	/* nameservers: IPv4 only, at most 3, only with an address */
	static const char *const bad_dns[] = { "8.8.8.8", "8.8.8", "::1", "1.1.1.1", "2.2.2.2" };
	in = (struct nb_spec){ .argv = argv1,
			       .argc = 1,
			       .rootfs = "/",
			       .net_ipv4 = 1,
			       .net_prefix = 8,
			       .net_dns = bad_dns,
			       .net_ndns = 2 };
	ck_assert_int_eq(nb_spec_validate(&in, &err), -1);
	in.net_dns = bad_dns + 2;
	in.net_ndns = 1;
	ck_assert_int_eq(nb_spec_validate(&in, &err), -1);
	in.net_dns = bad_dns + 3;
	ck_assert_int_eq(nb_spec_validate(&in, &err), 0);
	in = (struct nb_spec){ .argv = argv1,
			       .argc = 1,
			       .rootfs = "/",
			       .net_ipv4 = 1,
			       .net_prefix = 8,
			       .net_dns = bad_dns,
			       .net_ndns = 4 };
	in.net_dns = (const char *const[]){ "1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4" };
	ck_assert_int_eq(nb_spec_validate(&in, &err), -1);
	/* a hostile blob: prefix 40 and a 4-byte ipv4 */
	in = (struct nb_spec){
		.argv = argv1, .argc = 1, .rootfs = "/", .net_ipv4 = 1, .net_prefix = 8
	};
	ck_assert_int_eq(nb_spec_encode(&in, &blob, &len, &err), 0);
	void *big = calloc(1, len + 64);
	ck_assert_int_eq(fdt_open_into(blob, big, (int)len + 64), 0);
	fdt32_t bad[2] = { cpu_to_fdt32(1), cpu_to_fdt32(40) };
	ck_assert_int_eq(fdt_setprop(big, 0, NB_SPEC_NET_IPV4, bad, sizeof(bad)), 0);
	struct nb_spec out;
	ck_assert_int_eq(nb_spec_decode(big, fdt_totalsize(big), &out, &err), -1);
	ck_assert_int_eq(fdt_setprop(big, 0, NB_SPEC_NET_IPV4, bad, 4), 0);
	ck_assert_int_eq(nb_spec_decode(big, fdt_totalsize(big), &out, &err), -1);
	free(big);
	free(blob);
}
END_TEST

/* NB_SPEC_NET_MAC: 6 bytes, unicast, not zero; a hostile blob is refused. */
START_TEST(spec_mac)
{
	static const uint8_t mac[6] = { 0x02, 0x4e, 0x42, 0x01, 0x02, 0x03 };
	static const uint8_t multicast[6] = { 0x03, 0, 0, 0, 0, 1 }, zero[6] = { 0 };
	struct nb_spec in = { .argv = argv1,
			      .argc = 1,
			      .rootfs = "/",
			      .net_mac = mac,
			      .net_mac_len = 6 },
		       out;
	struct nb_err err = { 0 };
	void *blob, *big;
	size_t len;

	ck_assert_msg(nb_spec_encode(&in, &blob, &len, &err) == 0, "%s", err.msg);
	ck_assert_msg(nb_spec_decode(blob, len, &out, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(out.net_mac_len, 6);
	ck_assert_mem_eq(out.net_mac, mac, 6);
	nb_spec_free(&out);
	in.net_mac = multicast;
	ck_assert_int_eq(nb_spec_validate(&in, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "unicast"));
	in.net_mac = zero;
	ck_assert_int_eq(nb_spec_validate(&in, &err), -1);
	in.net_mac = mac;
	in.net_mac_len = 5;
	ck_assert_int_eq(nb_spec_validate(&in, &err), -1);
	/* the guest's decode refuses the same, and a 7-byte one */
	big = calloc(1, len + 64);
	ck_assert_int_eq(fdt_open_into(blob, big, (int)len + 64), 0);
	ck_assert_int_eq(fdt_setprop(big, 0, NB_SPEC_NET_MAC, multicast, 6), 0);
	ck_assert_int_eq(nb_spec_decode(big, fdt_totalsize(big), &out, &err), -1);
	ck_assert_int_eq(fdt_setprop(big, 0, NB_SPEC_NET_MAC, "\x02\x01\x02\x03\x04\x05\x06", 7),
			 0);
	ck_assert_int_eq(nb_spec_decode(big, fdt_totalsize(big), &out, &err), -1);
	free(big);
	free(blob);
}
END_TEST

/* A NIC's MAC is fixed when the run attaches (before the spec is built, so
 * a clone's guest gets the one its device has): given, or the default
 * 02:4e:42 and the pid; the spec carries it. No NIC, no MAC. */
START_TEST(attach_fixes_the_mac)
{
	struct nb_run_options o;
	struct nb_network n;
	struct nb_spec spec = { 0 };
	struct nb_err err;
	char buf[3][16];
	const char *dns[3];
	uint32_t pid = (uint32_t)getpid();

	ck_assert_int_eq(parse(&o, &err, "--tap", "nb0", NULL, NULL), 0);
	nb_network_init(&n);
	ck_assert_msg(nb_network_attach(&n, &o, &err) == 0, "%s", err.msg);
	ck_assert(n.eth0.has_mac);
	const uint8_t want[6] = {
		0x02, 0x4e, 0x42, (uint8_t)(pid >> 16), (uint8_t)(pid >> 8), (uint8_t)pid
	};
	ck_assert_mem_eq(n.eth0.mac, want, 6);
	nb_network_spec(&n, &spec, buf, dns);
	ck_assert_uint_eq(spec.net_mac_len, 6);
	ck_assert_mem_eq(spec.net_mac, want, 6);
	nb_network_cleanup(&n);

	ck_assert_int_eq(parse(&o, &err, "--tap", "nb0", "--mac-address", "02:00:00:00:00:07"), 0);
	nb_network_init(&n);
	ck_assert_int_eq(nb_network_attach(&n, &o, &err), 0);
	spec = (struct nb_spec){ 0 };
	nb_network_spec(&n, &spec, buf, dns);
	ck_assert_uint_eq(((const uint8_t *)spec.net_mac)[5], 7);
	nb_network_cleanup(&n);

	/* A pool clone's run tells its caller eth0 (all the spec's network),
	 * whose spec then says the same (nb_run_clone_spec). */
	struct nb_network told;
	ck_assert_int_eq(parse(&o, &err, "--tap", "nb0", "--ip", "10.1.2.3/24"), 0);
	nb_network_init(&n);
	ck_assert_int_eq(nb_network_attach(&n, &o, &err), 0);
	nb_network_init(&told);
	told.eth0 = n.eth0;
	struct nb_spec a = { 0 }, b = { 0 };
	char buf2[3][16];
	const char *dns_told[3];
	nb_network_spec(&n, &a, buf, dns);
	nb_network_spec(&told, &b, buf2, dns_told);
	ck_assert_uint_eq(b.net_ipv4, 0x0a010203u);
	ck_assert_uint_eq(b.net_prefix, 24);
	ck_assert_uint_eq(b.net_mac_len, 6);
	ck_assert_mem_eq(a.net_mac, b.net_mac, 6);
	nb_network_cleanup(&n);

	ck_assert_int_eq(parse(&o, &err, NULL, NULL, NULL, NULL), 0);
	nb_network_init(&n);
	ck_assert_int_eq(nb_network_attach(&n, &o, &err), 0);
	spec = (struct nb_spec){ 0 };
	nb_network_spec(&n, &spec, buf, dns);
	ck_assert(!n.eth0.has_mac);
	ck_assert_ptr_null(spec.net_mac);
	ck_assert_uint_eq(spec.net_mac_len, 0);
	nb_network_cleanup(&n);
}
END_TEST

/* A snapshot's recorded network options (template.h net_args) in a
 * restore: each kind unless the restore gives its own; the static
 * address only on the snapshot's network; hostile records refused. */
START_TEST(restore_takes_recorded_options)
{
	char *recorded[] = { "-p",
			     "8080:80/tcp",
			     "-p",
			     "127.0.0.1:5353:53/udp",
			     "--ip",
			     "10.88.1.9",
			     "--mac-address",
			     "02:00:00:00:00:09",
			     "--dns",
			     "9.9.9.9",
			     "--net-rate",
			     "rx=1048576,tx-ops=100",
			     NULL };
	char *bad[][3] = {
		{ "--tap", "nb0", NULL },        { "-p", "80", NULL },
		{ "--ip", "10.1.1.1/33", NULL }, { "--mac-address", "01:00:00:00:00:01", NULL },
		{ "--net-rate", "up=1", NULL },  { "--vsock", "/tmp/x", NULL }
	};
	struct nb_run_options o;
	struct nb_err err;

	/* nothing given: everything recorded (the network is the snapshot's) */
	ck_assert_int_eq(parse(&o, &err, NULL, NULL, NULL, NULL), 0);
	o.net.network = "t1";
	ck_assert_msg(nb_network_cli_restore(&o, "t1", false, recorded, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(o.net.npublish, 2);
	ck_assert_uint_eq(o.net.publish[1].host_port, 5353);
	ck_assert_uint_eq(o.net.publish[1].host_ip, 0x7f000001u);
	ck_assert_uint_eq(o.net.ipv4, 0x0a580109u);
	ck_assert(o.net.has_mac);
	ck_assert_uint_eq(o.net.mac[5], 9);
	ck_assert_uint_eq(o.net.ndns, 1);
	ck_assert_uint_eq(o.net.rx_bps, 1048576);
	ck_assert_uint_eq(o.net.tx_ops, 100);
	ck_assert_uint_eq(o.net.tx_bps, 0);
	ck_assert_msg(nb_network_check(&o, &err) == 0, "%s", err.msg);
	/* the restore's own -p and --ip win; its other network drops the address */
	ck_assert_int_eq(parse(&o, &err, "-p", "9090:90", "--network", "t2"), 0);
	ck_assert_int_eq(nb_network_cli_restore(&o, "t1", false, recorded, &err), 0);
	ck_assert_uint_eq(o.net.npublish, 1);
	ck_assert_uint_eq(o.net.publish[0].host_port, 9090);
	ck_assert_uint_eq(o.net.ipv4, 0);
	ck_assert(o.net.has_mac);
	ck_assert_int_eq(parse(&o, &err, "--ip", "10.88.1.20", "--network", "t1"), 0);
	ck_assert_int_eq(nb_network_cli_restore(&o, "t1", false, recorded, &err), 0);
	ck_assert_uint_eq(o.net.ipv4, 0x0a580114u);
	/* --network none: no NIC, nothing of it */
	ck_assert_int_eq(parse(&o, &err, "--network", "none", NULL, NULL), 0);
	ck_assert_int_eq(nb_network_cli_restore(&o, "t1", false, recorded, &err), 0);
	ck_assert_uint_eq(o.net.npublish, 0);
	ck_assert(!o.net.has_mac);
	ck_assert_uint_eq(o.net.rx_bps, 0);
	ck_assert_int_eq(nb_network_check(&o, &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(parse(&o, &err, NULL, NULL, NULL, NULL), 0);
		o.net.network = "t1";
		ck_assert_msg(nb_network_cli_restore(&o, "t1", false, bad[i], &err) == -1,
			      "bad %zu", i);
		ck_assert_ptr_nonnull(strstr(err.msg, "network options"));
	}
}
END_TEST

/* A snapshot of a VM on the user's --tap (template.h tap): its address
 * and gateway go onto the restore's own --tap, not onto a network. */
START_TEST(restore_onto_own_tap)
{
	char *recorded[] = { "--ip",          "10.200.0.2/24",     "--gateway", "10.200.0.1",
			     "--mac-address", "02:00:00:00:00:07", NULL };
	struct nb_run_options o;
	struct nb_err err;

	ck_assert_int_eq(parse(&o, &err, "--tap", "nb1", NULL, NULL), 0);
	ck_assert_msg(nb_network_cli_restore(&o, NULL, true, recorded, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(o.net.ipv4, 0x0ac80002u);
	ck_assert_uint_eq(o.net.prefix, 24);
	ck_assert_uint_eq(o.net.gateway, 0x0ac80001u);
	ck_assert(o.net.has_mac);
	ck_assert_uint_eq(o.net.mac[5], 7);
	/* its own --ip wins, and the old gateway does not come with it */
	ck_assert_int_eq(parse(&o, &err, "--tap", "nb1", "--ip", "10.201.0.5/24"), 0);
	ck_assert_int_eq(nb_network_cli_restore(&o, NULL, true, recorded, &err), 0);
	ck_assert_uint_eq(o.net.ipv4, 0x0ac90005u);
	ck_assert_uint_eq(o.net.gateway, 0);
	/* onto a network: the network's address, the MAC kept */
	ck_assert_int_eq(parse(&o, &err, "--network", "t2", NULL, NULL), 0);
	ck_assert_int_eq(nb_network_cli_restore(&o, NULL, true, recorded, &err), 0);
	ck_assert_uint_eq(o.net.ipv4, 0);
	ck_assert_uint_eq(o.net.gateway, 0);
	ck_assert(o.net.has_mac);
	/* a network VM's snapshot onto --tap: the address was the network's */
	ck_assert_int_eq(parse(&o, &err, "--tap", "nb1", NULL, NULL), 0);
	ck_assert_int_eq(nb_network_cli_restore(&o, "t1", false, recorded, &err), 0);
	ck_assert_uint_eq(o.net.ipv4, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("network");
	TCase *tc = tcase_create("network");

	tcase_add_test(tc, good_options);
	tcase_add_test(tc, bad_options);
	tcase_add_test(tc, net_rate);
	tcase_add_test(tc, spec_round_trip);
	tcase_add_test(tc, spec_refuses_bad_net);
	tcase_add_test(tc, spec_mac);
	tcase_add_test(tc, attach_fixes_the_mac);
	tcase_add_test(tc, restore_takes_recorded_options);
	tcase_add_test(tc, restore_onto_own_tap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return nb_unit_run(suite());
}
