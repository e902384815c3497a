/* nestbox networks, the parts without a kernel: names, addresses and
 * CIDRs, -p, definitions as JSON (hostile), address leases (exhaustion,
 * reuse, concurrent allocation under the store's lock), the nftables text,
 * the nameservers taken from resolv.conf; with root, in a network
 * namespace of its own, when the table is applied and the bridge kept. */
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "vmm/hostnet/hostnet.h"
#include "vmm/hostnet/link.h"
#include "vmm/hostnet/netdef.h"
#include "vmm/hostnet/nft.h"
#include "vmm/hostnet/publish.h"
#include "vmm/hostnet/store.h"

START_TEST(names)
{
	static const char *const good[] = { "t1", "a", "tenant-1.web_2", "0abc",
					    "abcdefghijklmnopqrstuvwxyz012345" };
	static const char *const bad[] = {
		"",    "-a",   ".a",   "_a", "a b", "a/b",
		"a:b", "host", "none", "é",  "a\n", "abcdefghijklmnopqrstuvwxyz0123456"
	};
	struct nb_err err;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(nb_netname_check(good[i], &err) == 0, "%s: %s", good[i], err.msg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(nb_netname_check(bad[i], &err) < 0, "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(cidrs)
{
	static const char *const bad[] = { "10.0.0.0",     "10.0.0.0/",     "10.0.0.0/7",
					   "10.0.0.0/31",  "10.0.0.0/32",   "10.0.0.0/24x",
					   "10.0.0.1/24",  "10.0.0/24",     "0.0.0.0/8x",
					   "10.0.0.0/+24", "10.0.0.0/ 24",  "a.b.c.d/24",
					   "/24",          "10.0.0.0/024a", "300.0.0.0/24",
					   "10.0.0.0//24", "1.2.3.4.5/24" };
	uint32_t subnet, prefix;
	struct nb_err err;

	ck_assert_int_eq(nb_cidr_parse("10.88.1.0/24", &subnet, &prefix, &err), 0);
	ck_assert_uint_eq(subnet, 0x0a580100u);
	ck_assert_uint_eq(prefix, 24);
	ck_assert_int_eq(nb_cidr_parse("172.16.0.0/12", &subnet, &prefix, &err), 0);
	ck_assert_int_eq(nb_cidr_parse("10.0.0.4/30", &subnet, &prefix, &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(nb_cidr_parse(bad[i], &subnet, &prefix, &err) < 0, "'%s' accepted",
			      bad[i]);
	ck_assert(nb_subnets_overlap(0x0a580000u, 16, 0x0a580100u, 24));
	ck_assert(!nb_subnets_overlap(0x0a580000u, 24, 0x0a580100u, 24));
	ck_assert_uint_eq(nb_prefix_mask(24), 0xffffff00u);
}
END_TEST

START_TEST(definitions)
{
	struct nb_netdef def, back;
	struct nb_err err;
	char *json;

	ck_assert_int_eq(nb_netdef_make(&def, "t1", "10.88.1.0/24", NULL, &err), 0);
	ck_assert_uint_eq(def.gateway, 0x0a580101u);
	ck_assert_uint_eq(strlen(def.bridge), 11);
	ck_assert_int_eq(strncmp(def.bridge, NB_BRIDGE_PREFIX, 3), 0);
	json = nb_netdef_json(&def);
	ck_assert_ptr_nonnull(json);
	ck_assert_int_eq(nb_netdef_parse(json, &back, &err), 0);
	ck_assert_int_eq(memcmp(&def, &back, sizeof(def)), 0);
	free(json);
	/* the gateway must be a host of the subnet */
	ck_assert_int_lt(nb_netdef_make(&def, "t1", "10.88.1.0/24", "10.88.2.1", &err), 0);
	ck_assert_int_lt(nb_netdef_make(&def, "t1", "10.88.1.0/24", "10.88.1.255", &err), 0);
	ck_assert_int_lt(nb_netdef_make(&def, "t1", "10.88.1.0/24", "10.88.1.0", &err), 0);
	ck_assert_int_eq(nb_netdef_make(&def, "t1", "10.88.1.0/24", "10.88.1.254", &err), 0);
	/* hostile files */
	static const char *const bad[] = {
		"",
		"[]",
		"{",
		"{\"name\":\"t1\"}",
		"{\"name\":\"t1\",\"subnet\":\"10.88.1.0/24\",\"gateway\":\"10.88.1.1\",\"bridge\":\"eth0\"}",
		"{\"name\":\"../x\",\"subnet\":\"10.88.1.0/24\",\"gateway\":\"10.88.1.1\",\"bridge\":\"nb-0\"}",
		"{\"name\":\"t1\",\"subnet\":\"10.88.1.0/24\",\"gateway\":1,\"bridge\":\"nb-0\"}",
		"{\"name\":\"t1\",\"subnet\":\"10.88.1.0/24\",\"gateway\":\"10.88.1.1\",\"bridge\":"
		"\"nb-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(nb_netdef_parse(bad[i], &back, &err) < 0, "case %zu accepted", i);
}
END_TEST

START_TEST(publish)
{
	static const char *const bad[] = {
		"80",
		":80",
		"80:",
		"8080::80",
		"0:80",
		"65536:80",
		"80:0",
		"a:80",
		"8080:80/sctp",
		"8080:80/",
		"8080:80/tcp/udp",
		"1.2.3.4:5:6:7",
		"1.2.3:80:80",
		"8080-8081:80",
		"8081-8080:80-79",
		"80-:80",
		"-80:80",
		"+80:80",
		"8080:80 ",
		" 8080:80",
		"::80",
		"99999999999999999999:80",
		"1.2.3.4::80",
		"8080:80:",
		"8080:80aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct nb_publish p, q;
	struct nb_err err;
	char text[NB_PUBLISH_TEXT];

	ck_assert_int_eq(nb_publish_parse("8080:80", &p, &err), 0);
	ck_assert(p.host_ip == 0 && p.host_port == 8080 && p.container_port == 80 && p.count == 1 &&
		  p.proto == IPPROTO_TCP);
	ck_assert_int_eq(nb_publish_parse("127.0.0.1:53:5353/udp", &p, &err), 0);
	ck_assert(p.host_ip == 0x7f000001u && p.proto == IPPROTO_UDP && p.container_port == 5353);
	ck_assert_int_eq(nb_publish_parse("8080-8082:80-82/tcp", &p, &err), 0);
	ck_assert_uint_eq(p.count, 3);
	nb_publish_format(&p, text);
	ck_assert_str_eq(text, "0.0.0.0:8080-8082:80-82/tcp");
	ck_assert_int_eq(nb_publish_parse(text, &q, &err), 0);
	ck_assert_int_eq(memcmp(&p, &q, sizeof(p)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(nb_publish_parse(bad[i], &p, &err) < 0, "'%s' accepted", bad[i]);
	/* clashes: the same port and protocol on a common address */
	nb_publish_parse("8081:90", &p, &err);
	nb_publish_parse("8080-8082:80-82", &q, &err);
	ck_assert(nb_publish_clash(&p, &q));
	nb_publish_parse("8081:90/udp", &p, &err);
	ck_assert(!nb_publish_clash(&p, &q));
	nb_publish_parse("10.0.0.1:9000:90", &p, &err);
	nb_publish_parse("10.0.0.2:9000:90", &q, &err);
	ck_assert(!nb_publish_clash(&p, &q));
	nb_publish_parse("9000:90", &q, &err);
	ck_assert(nb_publish_clash(&p, &q));
}
END_TEST

static struct nb_lease lease_of(uint32_t ip, int pid)
{
	return (struct nb_lease){ .ip = ip, .pid = pid, .start = 1, .tap = "nbt1" };
}

static bool odd_pids_alive(const struct nb_lease *l)
{
	return l->pid % 2 == 1;
}

START_TEST(allocation)
{
	struct nb_netdef def;
	struct nb_leases l = { 0 };
	struct nb_err err;
	uint32_t ip;

	/* a /29: .1 gateway, .2-.6 for VMs, .7 broadcast */
	ck_assert_int_eq(nb_netdef_make(&def, "small", "10.9.0.0/29", NULL, &err), 0);
	for (int i = 0; i < 5; i++) {
		ck_assert_msg(nb_leases_alloc(&def, &l, 0, &ip, &err) == 0, "%s", err.msg);
		ck_assert_uint_eq(ip, 0x0a090002u + (uint32_t)i);
		struct nb_lease x = lease_of(ip, 100 + i);
		ck_assert_int_eq(nb_leases_add(&l, &x, &err), 0);
	}
	ck_assert_int_lt(nb_leases_alloc(&def, &l, 0, &ip, &err), 0); /* exhausted */
	ck_assert_ptr_nonnull(strstr(err.msg, "no free address"));
	/* freed addresses come back, lowest first */
	ck_assert(nb_leases_remove(&l, 103));
	ck_assert(!nb_leases_remove(&l, 103));
	ck_assert_int_eq(nb_leases_alloc(&def, &l, 0, &ip, &err), 0);
	ck_assert_uint_eq(ip, 0x0a090005u);
	/* dead owners' leases are pruned: pids 100, 102, 104 */
	ck_assert_uint_eq(nb_leases_prune(&l, odd_pids_alive), 3);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_int_eq(nb_leases_alloc(&def, &l, 0, &ip, &err), 0);
	ck_assert_uint_eq(ip, 0x0a090002u);
	/* a wanted address: a free host of the subnet, not the gateway */
	ck_assert_int_eq(nb_leases_alloc(&def, &l, 0x0a090006u, &ip, &err), 0);
	ck_assert_int_lt(nb_leases_alloc(&def, &l, 0x0a090003u, &ip, &err), 0); /* pid 101's */
	ck_assert_int_lt(nb_leases_alloc(&def, &l, 0x0a090001u, &ip, &err), 0);
	ck_assert_int_lt(nb_leases_alloc(&def, &l, 0x0a090007u, &ip, &err), 0);
	ck_assert_int_lt(nb_leases_alloc(&def, &l, 0x0a090008u, &ip, &err), 0);
	nb_leases_free(&l);
}
END_TEST

/* Children allocate at once, each under the store's lock: every address
 * differs, and the file holds them all. */
START_TEST(concurrent_allocation)
{
	char dir[] = "/tmp/nb-hostnet-XXXXXX", defs[64], leases[64];
	enum { KIDS = 12 };
	struct nb_netstore s;
	struct nb_netdef def;
	struct nb_leases l;
	struct nb_err err;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(defs, sizeof(defs), "%s/defs", dir);
	snprintf(leases, sizeof(leases), "%s/leases", dir);
	ck_assert_int_eq(nb_netdef_make(&def, "c", "10.7.0.0/24", NULL, &err), 0);
	ck_assert_int_eq(nb_netstore_open(&s, defs, leases, &err), 0);
	ck_assert_int_eq(nb_netstore_put(&s, &def, &err), 0);
	nb_netstore_close(&s);
	for (int k = 0; k < KIDS; k++) {
		if (fork() != 0)
			continue;
		struct nb_lease mine = lease_of(0, 1000 + k);
		int ok = nb_netstore_open(&s, defs, leases, &err) == 0 &&
			 nb_leases_load(&s, "c", &l, &err) == 0 && (usleep(2000), 1) &&
			 nb_leases_alloc(&def, &l, 0, &mine.ip, &err) == 0 &&
			 nb_leases_add(&l, &mine, &err) == 0 &&
			 nb_leases_save(&s, "c", &l, &err) == 0;
		_exit(ok ? 0 : 1);
	}
	for (int k = 0; k < KIDS; k++) {
		int st;

		wait(&st);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	ck_assert_int_eq(nb_netstore_open(&s, defs, leases, &err), 0);
	ck_assert_int_eq(nb_leases_load(&s, "c", &l, &err), 0);
	ck_assert_uint_eq(l.n, KIDS);
	for (size_t i = 0; i < l.n; i++)
		for (size_t j = i + 1; j < l.n; j++)
			ck_assert_uint_ne(l.v[i].ip, l.v[j].ip);
	/* a hostile lease file is refused whole */
	FILE *f;
	char path[96];
	snprintf(path, sizeof(path), "%s/c.json", leases);
	nb_leases_free(&l);
	f = fopen(path, "w");
	fputs("[{\"ip\":\"10.7.0.2\",\"pid\":-1,\"start\":1,\"tap\":\"x\",\"publish\":[]}]", f);
	fclose(f);
	ck_assert_int_lt(nb_leases_load(&s, "c", &l, &err), 0);
	f = fopen(path, "w");
	fputs("[{\"ip\":\"10.7.0.2\",\"pid\":5,\"start\":1,\"tap\":\"x\",\"publish\":[\"80\"]}]",
	      f);
	fclose(f);
	ck_assert_int_lt(nb_leases_load(&s, "c", &l, &err), 0);
	ck_assert_int_eq(nb_netstore_del(&s, "c", &err), 0);
	ck_assert_int_eq(nb_netstore_get(&s, "c", &def, &err), 1);
	nb_netstore_close(&s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* run -d: the monitor takes the lease of the process that attached (it
 * returns, and a lease of a dead pid is freed); only that one. */
START_TEST(adopt_lease)
{
	char dir[] = "/tmp/nb-hostnet-XXXXXX", defs[64], leases[64];
	struct nb_netstore s;
	struct nb_netdef def;
	struct nb_leases l;
	struct nb_err err;
	struct nb_lease other = lease_of(0x0a070002u, 4242), mine = lease_of(0x0a070003u, 4343);

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(defs, sizeof(defs), "%s", dir);
	snprintf(leases, sizeof(leases), "%s/leases", dir);
	ck_assert_int_eq(setenv("NESTBOX_NETWORK_DIR", dir, 1), 0);
	ck_assert_int_eq(nb_netdef_make(&def, "a", "10.7.0.0/24", NULL, &err), 0);
	ck_assert_int_eq(nb_netstore_open(&s, defs, leases, &err), 0);
	ck_assert_int_eq(nb_netstore_put(&s, &def, &err), 0);
	ck_assert_int_eq(nb_leases_load(&s, "a", &l, &err), 0);
	ck_assert_int_eq(nb_leases_add(&l, &other, &err), 0);
	ck_assert_int_eq(nb_leases_add(&l, &mine, &err), 0);
	ck_assert_int_eq(nb_leases_save(&s, "a", &l, &err), 0);
	nb_leases_free(&l);
	nb_netstore_close(&s);

	ck_assert_msg(nb_hostnet_adopt("a", 4343, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(nb_hostnet_adopt("a", 4343, &err), -1); /* it is ours now */
	ck_assert_ptr_nonnull(strstr(err.msg, "no lease of process 4343"));
	ck_assert_int_eq(nb_netstore_open(&s, defs, leases, &err), 0);
	ck_assert_int_eq(nb_leases_load(&s, "a", &l, &err), 0);
	ck_assert_uint_eq(l.n, 2);
	for (size_t i = 0; i < l.n; i++) {
		if (l.v[i].ip == mine.ip) {
			ck_assert_int_eq(l.v[i].pid, getpid());
			ck_assert(nb_lease_alive(&l.v[i]));
		} else {
			ck_assert_int_eq(l.v[i].pid, 4242);
		}
	}
	nb_leases_free(&l);
	nb_netstore_close(&s);
	unsetenv("NESTBOX_NETWORK_DIR");
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(nft_text)
{
	struct nb_netdef a, b;
	struct nb_err err;
	struct nb_lease la = lease_of(0x0a580b0au, 1), lb = lease_of(0x0a580c02u, 2);
	struct nb_leases leases_a = { &la, 1 }, leases_b = { &lb, 1 };
	char *text;

	ck_assert_int_eq(nb_netdef_make(&a, "na", "10.88.11.0/24", NULL, &err), 0);
	ck_assert_int_eq(nb_netdef_make(&b, "nb", "10.88.12.0/24", NULL, &err), 0);
	ck_assert_int_eq(nb_publish_parse("8080:80", &la.publish[0], &err), 0);
	ck_assert_int_eq(nb_publish_parse("127.0.0.1:5000-5001:53-54/udp", &la.publish[1], &err),
			 0);
	la.npublish = 2;
	struct nb_nft_net nets[] = { { &a, &leases_a }, { &b, &leases_b } };
	/* nothing in use: the table goes */
	text = nb_nft_ruleset(nets, 0);
	ck_assert_str_eq(text, "add table inet nestbox\ndelete table inet nestbox\n");
	free(text);
	text = nb_nft_ruleset(nets, 2);
	ck_assert_ptr_nonnull(text);
	/* replaced in one transaction */
	ck_assert_int_eq(strncmp(text,
				 "add table inet nestbox\ndelete table inet nestbox\ntable inet "
				 "nestbox {\n",
				 70),
			 0);
	/* DNAT from outside and from this host (two chains), one rule per port */
	ck_assert_ptr_nonnull(strstr(text, "fib daddr type local tcp dport 8080 dnat ip to "
					   "10.88.11.10:80\n"));
	ck_assert_ptr_nonnull(strstr(text, "ip daddr 127.0.0.1 udp dport 5001 dnat ip to "
					   "10.88.11.10:54\n"));
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, "dport 8080 ")); p++)
		n++;
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_nonnull(strstr(text, "type nat hook output priority -100"));
	/* masquerade out, and localhost to the bridge */
	char rule[160];
	snprintf(rule, sizeof(rule), "ip saddr 10.88.11.0/24 oifname != \"%s\" masquerade",
		 a.bridge);
	ck_assert_ptr_nonnull(strstr(text, rule));
	snprintf(rule, sizeof(rule), "oifname \"%s\" ip saddr 127.0.0.0/8 masquerade", b.bridge);
	ck_assert_ptr_nonnull(strstr(text, rule));
	/* isolation: bridge to another bridge dropped, both ways */
	snprintf(rule, sizeof(rule), "iifname \"%s\" oifname \"nb-*\" oifname != \"%s\" drop",
		 b.bridge, b.bridge);
	ck_assert_ptr_nonnull(strstr(text, rule));
	snprintf(rule, sizeof(rule), "oifname \"%s\" iifname != \"%s\" drop", a.bridge, a.bridge);
	ck_assert_ptr_nonnull(strstr(text, rule));
	ck_assert_ptr_nonnull(strstr(text, "ct state established,related accept"));
	free(text);
}
END_TEST

START_TEST(dns)
{
	char path[] = "/tmp/nb-resolv-XXXXXX";
	int fd = mkstemp(path);
	uint32_t d[NB_DNS_MAX];
	const char *text = "# comment\nnameserver 127.0.0.53\nsearch x\nnameserver ::1\n"
			   "nameserver 10.0.0.2\n  nameserver 10.0.0.3 \nnameserver 1.1.1.1\n"
			   "nameserver 2.2.2.2\nnameserver 999.1.1.1\n";

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_uint_eq(nb_hostnet_dns(path, d), 3);
	ck_assert_uint_eq(d[0], 0x0a000002u);
	ck_assert_uint_eq(d[1], 0x0a000003u);
	ck_assert_uint_eq(d[2], 0x01010101u);
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "nameserver 127.0.0.1\n", 21), 21);
	close(fd);
	ck_assert_uint_eq(nb_hostnet_dns(path, d), 2); /* loopback only: the fallback */
	ck_assert_uint_eq(d[0], 0x08080808u);
	unlink(path);
	ck_assert_uint_eq(nb_hostnet_dns("/nonexistent/resolv.conf", d), 2);
}
END_TEST

/* In a network namespace of this test's own (the ruleset's generation is
 * the namespace's): step numbers say what failed. */
static int nft_fail(int step, const struct nb_err *err)
{
	fprintf(stderr, "hostnet_keeps_rules: step %d: %s\n", step, err ? err->msg : "");
	return step;
}

static bool table_has(const char *what)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "nft list table inet nestbox 2>/dev/null | grep -q -- '%s'",
		 what);
	return nb_unit_sh(cmd) == 0;
}

static int keeps_rules(void *arg)
{
	struct nb_err err = { 0 };
	struct nb_hostnet_vm vm;
	struct nb_netdef def;
	struct nb_publish p;
	uint32_t g1, g2;
	char applied[128];

	snprintf(applied, sizeof(applied), "%s/leases/nft-applied", (const char *)arg);
	if (setenv("NESTBOX_NETWORK_DIR", arg, 1) < 0 ||
	    nb_unit_sh(
		    "ip tuntap add nbt7001 mode tap && ip tuntap add nbt7002 mode tap && ip tuntap add nbt7003 mode tap") !=
		    0)
		return nft_fail(1, NULL);
	if (nb_hostnet_create("keep", "10.77.9.0/24", NULL, &def, &err) < 0 ||
	    nb_hostnet_attach("keep", 0, NULL, 0, "nbt7001", &vm, &err) < 0)
		return nft_fail(2, &err);
	if (!table_has("10.77.9.0/24") || nb_nft_generation(&g1, &err) < 0 ||
	    access(applied, F_OK) < 0)
		return nft_fail(3, &err);
	/* The VM's end and the next one's start change no rule: no
	 * transaction, and the bridge stays (as Docker's). */
	if (nb_hostnet_detach("keep", &err) < 0 || !nb_link_exists(def.bridge) ||
	    nb_hostnet_attach("keep", 0, NULL, 0, "nbt7002", &vm, &err) < 0)
		return nft_fail(4, &err);
	if (nb_nft_generation(&g2, &err) < 0 || g2 != g1)
		return nft_fail(5, &err);
	/* Someone else's change (a flush, a firewall reload): applied again. */
	if (nb_unit_sh("nft flush ruleset") != 0 || table_has("10.77.9.0/24") ||
	    nb_hostnet_detach("keep", &err) < 0 || !table_has("10.77.9.0/24"))
		return nft_fail(6, &err);
	/* A published port is a new rule: one transaction, then another
	 * when it goes. */
	if (nb_nft_generation(&g1, &err) < 0 || nb_publish_parse("18080:80", &p, &err) < 0 ||
	    nb_hostnet_attach("keep", 0, &p, 1, "nbt7003", &vm, &err) < 0)
		return nft_fail(7, &err);
	if (nb_nft_generation(&g2, &err) < 0 || g2 != g1 + 1 || !table_has("dport 18080"))
		return nft_fail(8, &err);
	if (nb_hostnet_detach("keep", &err) < 0 || table_has("dport 18080") ||
	    nb_nft_generation(&g1, &err) < 0 || g1 != g2 + 1)
		return nft_fail(9, &err);
	/* network rm: its bridge, the table and the record go. */
	if (nb_hostnet_remove("keep", &err) < 0 || nb_link_exists(def.bridge) ||
	    nb_unit_sh("nft list table inet nestbox >/dev/null 2>&1") == 0 ||
	    access(applied, F_OK) == 0)
		return nft_fail(10, &err);
	return 0;
}

START_TEST(keeps_rules_and_bridge)
{
	int rc = nb_unit_in_netns_dir("hostnet_keeps_rules", "nb-hostnet", keeps_rules);

	ck_assert_msg(rc <= 0, "step %d failed (see above)", rc);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hostnet");
	TCase *tc = tcase_create("hostnet");

	tcase_add_test(tc, names);
	tcase_add_test(tc, cidrs);
	tcase_add_test(tc, definitions);
	tcase_add_test(tc, publish);
	tcase_add_test(tc, allocation);
	tcase_add_test(tc, concurrent_allocation);
	tcase_add_test(tc, adopt_lease);
	tcase_add_test(tc, nft_text);
	tcase_add_test(tc, dns);
	if (geteuid() == 0 && system("command -v ip >/dev/null && command -v nft >/dev/null") == 0)
		tcase_add_test(tc, keeps_rules_and_bridge);
	else
		printf("skip hostnet_keeps_rules: needs root, ip and nft\n");
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return nb_unit_run(suite());
}
