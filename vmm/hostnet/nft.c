#include "vmm/hostnet/nft.h"

#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common/dl.h"
#include "nestbox/cleanup.h"

/* A growing string; on failure it stays failed and yields NULL. */
struct text {
	char *buf;
	size_t len, cap;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt,
			      ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if (t->buf && t->len + (size_t)n < t->cap) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)n;
		char *grown = realloc(t->buf, cap);
		if (!grown) {
			t->failed = true;
			return;
		}
		t->buf = grown;
		t->cap = cap;
	}
}

/* DNAT rules for one published mapping, one per port of a range. */
static void put_dnat(struct text *t, const struct nb_publish *p, uint32_t guest)
{
	char host_ip[NB_IPV4_TEXT], to[NB_IPV4_TEXT];
	const char *proto = p->proto == IPPROTO_UDP ? "udp" : "tcp";

	nb_ipv4_format(p->host_ip, host_ip);
	nb_ipv4_format(guest, to);
	for (unsigned i = 0; i < p->count; i++) {
		put(t, "\t\t");
		if (p->host_ip)
			put(t, "ip daddr %s ", host_ip);
		else
			put(t, "fib daddr type local ");
		put(t, "%s dport %u dnat ip to %s:%u\n", proto, p->host_port + i, to,
		    p->container_port + i);
	}
}

static void put_nat_chain(struct text *t, const struct nb_nft_net *nets, size_t n, bool output)
{
	put(t, "\tchain %s {\n\t\ttype nat hook %s priority %s; policy accept;\n",
	    output ? "output" : "prerouting", output ? "output" : "prerouting",
	    output ? "-100" : "dstnat");
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < nets[i].leases->n; j++) {
			const struct nb_lease *l = &nets[i].leases->v[j];

			for (size_t k = 0; k < l->npublish; k++)
				put_dnat(t, &l->publish[k], l->ip);
		}
	put(t, "\t}\n");
}

char *nb_nft_ruleset(const struct nb_nft_net *nets, size_t n)
{
	struct text t = { 0 };

	/* "add" first: delete fails on a missing table. */
	put(&t, "add table inet " NB_NFT_TABLE "\ndelete table inet " NB_NFT_TABLE "\n");
	if (n == 0)
		return t.failed ? (free(t.buf), NULL) : t.buf;
	put(&t, "table inet " NB_NFT_TABLE " {\n");
	put_nat_chain(&t, nets, n, false);
	put_nat_chain(&t, nets, n, true);
	put(&t, "\tchain postrouting {\n"
		"\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	for (size_t i = 0; i < n; i++) {
		const struct nb_netdef *d = nets[i].def;
		char subnet[NB_IPV4_TEXT];

		nb_ipv4_format(d->subnet, subnet);
		put(&t, "\t\tip saddr %s/%u oifname != \"%s\" masquerade\n", subnet, d->prefix,
		    d->bridge);
		put(&t, "\t\toifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n", d->bridge);
		/* hairpin: a VM reaching a published port of its own network */
		put(&t, "\t\tiifname \"%s\" oifname \"%s\" ct status dnat masquerade\n", d->bridge,
		    d->bridge);
	}
	put(&t, "\t}\n\tchain forward {\n"
		"\t\ttype filter hook forward priority filter; policy accept;\n"
		"\t\tct state established,related accept\n"
		"\t\tct status dnat oifname \"" NB_BRIDGE_PREFIX "*\" accept\n");
	for (size_t i = 0; i < n; i++) {
		const char *br = nets[i].def->bridge;

		/* Isolation: no bridge to another bridge; from elsewhere only
		 * answers and published ports (accepted above). */
		put(&t,
		    "\t\tiifname \"%s\" oifname \"" NB_BRIDGE_PREFIX "*\" oifname != \"%s\" drop\n"
		    "\t\toifname \"%s\" iifname != \"%s\" drop\n",
		    br, br, br, br);
	}
	put(&t, "\t}\n}\n");
	return t.failed ? (free(t.buf), NULL) : t.buf;
}

/* The slice of libnftables' API nestbox uses (nftables/libnftables.h). */
struct nft_ctx;
struct nft_api {
	struct nft_ctx *(*ctx_new)(unsigned flags);
	void (*ctx_free)(struct nft_ctx *ctx);
	int (*buffer_error)(struct nft_ctx *ctx);
	const char *(*get_error)(struct nft_ctx *ctx);
	int (*run)(struct nft_ctx *ctx, const char *buf);
};

static const struct nb_dl_sym nft_symbols[] = {
	NB_DL_SYM(struct nft_api, ctx_new, "nft_ctx_new"),
	NB_DL_SYM(struct nft_api, ctx_free, "nft_ctx_free"),
	NB_DL_SYM(struct nft_api, buffer_error, "nft_ctx_buffer_error"),
	NB_DL_SYM(struct nft_api, get_error, "nft_ctx_get_error_buffer"),
	NB_DL_SYM(struct nft_api, run, "nft_run_cmd_from_buffer"),
};

static struct nft_api nft;
static struct nb_dl nft_lib = { .soname = "libnftables.so.1", .package = "libnftables1" };

int nb_nft_apply(const char *text, struct nb_err *err)
{
	struct nft_ctx *ctx;
	int rc = 0;

	if (NB_DL_LOAD(&nft_lib, nft_symbols, &nft, err) < 0)
		return -1;
	if (!(ctx = nft.ctx_new(0)))
		return nb_err_set(err, 0, "nftables: cannot make a context");
	nft.buffer_error(ctx);
	if (nft.run(ctx, text) != 0) {
		const char *msg = nft.get_error(ctx);
		size_t len = msg ? strcspn(msg, "\n") : 0;

		rc = nb_err_set(err, 0,
				"nftables refused nestbox's rules (are nf_tables and nft_nat "
				"available? run as root): %.*s",
				(int)(len < 300 ? len : 300), msg ? msg : "");
	}
	nft.ctx_free(ctx);
	return rc;
}

/* The slice of libmnl's and libnftnl's API that asks for the ruleset's
 * generation (libmnl/libmnl.h, libnftnl/gen.h and common.h); both come
 * with libnftables and are much smaller to load. */
struct mnl_socket;
struct nftnl_gen;
typedef int (*mnl_cb)(const struct nlmsghdr *nlh, void *data);
struct mnl_api {
	struct mnl_socket *(*open)(int bus);
	int (*bind)(struct mnl_socket *nl, unsigned groups, pid_t pid);
	unsigned (*portid)(const struct mnl_socket *nl);
	ssize_t (*send)(const struct mnl_socket *nl, const void *buf, size_t len);
	ssize_t (*recv)(const struct mnl_socket *nl, void *buf, size_t size);
	int (*close)(struct mnl_socket *nl);
	int (*run)(const void *buf, size_t len, unsigned seq, unsigned portid, mnl_cb cb,
		   void *data);
};
struct nftnl_api {
	struct nlmsghdr *(*build)(char *buf, uint16_t type, uint16_t family, uint16_t flags,
				  uint32_t seq);
	struct nftnl_gen *(*alloc)(void);
	void (*free)(const struct nftnl_gen *gen);
	int (*parse)(const struct nlmsghdr *nlh, struct nftnl_gen *gen);
	uint32_t (*get_u32)(const struct nftnl_gen *gen, uint16_t attr);
};

#define NFTNL_GEN_ID 0 /* enum nftnl_gen_attr */
#define MNL_CB_STOP 0

static const struct nb_dl_sym mnl_symbols[] = {
	NB_DL_SYM(struct mnl_api, open, "mnl_socket_open"),
	NB_DL_SYM(struct mnl_api, bind, "mnl_socket_bind"),
	NB_DL_SYM(struct mnl_api, portid, "mnl_socket_get_portid"),
	NB_DL_SYM(struct mnl_api, send, "mnl_socket_sendto"),
	NB_DL_SYM(struct mnl_api, recv, "mnl_socket_recvfrom"),
	NB_DL_SYM(struct mnl_api, close, "mnl_socket_close"),
	NB_DL_SYM(struct mnl_api, run, "mnl_cb_run"),
};
static const struct nb_dl_sym nftnl_symbols[] = {
	NB_DL_SYM(struct nftnl_api, build, "nftnl_nlmsg_build_hdr"),
	NB_DL_SYM(struct nftnl_api, alloc, "nftnl_gen_alloc"),
	NB_DL_SYM(struct nftnl_api, free, "nftnl_gen_free"),
	NB_DL_SYM(struct nftnl_api, parse, "nftnl_gen_nlmsg_parse"),
	NB_DL_SYM(struct nftnl_api, get_u32, "nftnl_gen_get_u32"),
};

static struct mnl_api mnl;
static struct nftnl_api nftnl;
static struct nb_dl mnl_lib = { .soname = "libmnl.so.0", .package = "libmnl0" };
static struct nb_dl nftnl_lib = { .soname = "libnftnl.so.11", .package = "libnftnl11" };

struct gen_reply {
	struct nftnl_gen *gen;
	bool got;
};

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gen_reply *r = data;

	r->got = nftnl.parse(nlh, r->gen) == 0;
	return MNL_CB_STOP; /* one answer */
}

int nb_nft_generation(uint32_t *gen, struct nb_err *err)
{
	struct gen_reply reply = { 0 };
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	char buf[8192] __attribute__((aligned(8)));
	unsigned seq = 1, portid;
	ssize_t n;
	int rc = -1;

	if (NB_DL_LOAD(&mnl_lib, mnl_symbols, &mnl, err) < 0 ||
	    NB_DL_LOAD(&nftnl_lib, nftnl_symbols, &nftnl, err) < 0)
		return -1;
	if (!(nl = mnl.open(NETLINK_NETFILTER)))
		return nb_err_sys(err, "nftables generation: netlink socket");
	if (mnl.bind(nl, 0, 0) < 0) {
		rc = nb_err_sys(err, "nftables generation: netlink bind");
		goto out;
	}
	portid = mnl.portid(nl);
	nlh = nftnl.build(buf, NFT_MSG_GETGEN, 0 /* AF_UNSPEC */, NLM_F_REQUEST, seq);
	if (mnl.send(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = nb_err_sys(err, "nftables generation: netlink send");
		goto out;
	}
	if (!(reply.gen = nftnl.alloc())) {
		rc = nb_err_set(err, ENOMEM, "nftables generation");
		goto out;
	}
	n = mnl.recv(nl, buf, sizeof(buf));
	if (n < 0 || mnl.run(buf, (size_t)n, seq, portid, gen_cb, &reply) < 0 || !reply.got) {
		rc = nb_err_sys(err, "nftables generation: no answer from the kernel");
		goto out;
	}
	*gen = nftnl.get_u32(reply.gen, NFTNL_GEN_ID);
	rc = 0;
out:
	if (reply.gen)
		nftnl.free(reply.gen);
	mnl.close(nl);
	return rc;
}
