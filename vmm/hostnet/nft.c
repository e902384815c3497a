#include "vmm/hostnet/nft.h"

#include <dlfcn.h>
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

static int load(struct nft_api *api, struct nb_err *err)
{
	static void *lib;

	if (!lib && !(lib = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL)))
		return nb_err_set(err, 0,
				  "cannot load libnftables (%s): install nftables "
				  "(apt-get install libnftables1)",
				  dlerror());
	*(void **)&api->ctx_new = dlsym(lib, "nft_ctx_new");
	*(void **)&api->ctx_free = dlsym(lib, "nft_ctx_free");
	*(void **)&api->buffer_error = dlsym(lib, "nft_ctx_buffer_error");
	*(void **)&api->get_error = dlsym(lib, "nft_ctx_get_error_buffer");
	*(void **)&api->run = dlsym(lib, "nft_run_cmd_from_buffer");
	if (!api->ctx_new || !api->ctx_free || !api->buffer_error || !api->get_error || !api->run)
		return nb_err_set(err, 0, "libnftables lacks the functions nestbox uses");
	return 0;
}

int nb_nft_apply(const char *text, struct nb_err *err)
{
	struct nft_api api = { 0 };
	struct nft_ctx *ctx;
	int rc = 0;

	if (load(&api, err) < 0)
		return -1;
	if (!(ctx = api.ctx_new(0)))
		return nb_err_set(err, 0, "nftables: cannot make a context");
	api.buffer_error(ctx);
	if (api.run(ctx, text) != 0) {
		const char *msg = api.get_error(ctx);
		size_t len = msg ? strcspn(msg, "\n") : 0;

		rc = nb_err_set(err, 0,
				"nftables refused nestbox's rules (are nf_tables and nft_nat "
				"available? run as root): %.*s",
				(int)(len < 300 ? len : 300), msg ? msg : "");
	}
	api.ctx_free(ctx);
	return rc;
}

/* The slice of libmnl's and libnftnl's API that asks for the ruleset's
 * generation (libmnl/libmnl.h, libnftnl/gen.h and common.h); both come
 * with libnftables and are much smaller to load. */
struct mnl_socket;
struct nftnl_gen;
typedef int (*mnl_cb)(const struct nlmsghdr *nlh, void *data);
struct gen_api {
	struct mnl_socket *(*open)(int bus);
	int (*bind)(struct mnl_socket *nl, unsigned groups, pid_t pid);
	unsigned (*portid)(const struct mnl_socket *nl);
	ssize_t (*send)(const struct mnl_socket *nl, const void *buf, size_t len);
	ssize_t (*recv)(const struct mnl_socket *nl, void *buf, size_t size);
	int (*close)(struct mnl_socket *nl);
	int (*run)(const void *buf, size_t len, unsigned seq, unsigned portid, mnl_cb cb,
		   void *data);
	struct nlmsghdr *(*build)(char *buf, uint16_t type, uint16_t family, uint16_t flags,
				  uint32_t seq);
	struct nftnl_gen *(*alloc)(void);
	void (*free)(const struct nftnl_gen *gen);
	int (*parse)(const struct nlmsghdr *nlh, struct nftnl_gen *gen);
	uint32_t (*get_u32)(const struct nftnl_gen *gen, uint16_t attr);
};

#define NFTNL_GEN_ID 0 /* enum nftnl_gen_attr */
#define MNL_CB_STOP 0

static int load_gen(struct gen_api *api, struct nb_err *err)
{
	static void *mnl, *nftnl;

	if (!mnl && !(mnl = dlopen("libmnl.so.0", RTLD_NOW | RTLD_LOCAL)))
		return nb_err_set(err, 0, "cannot load libmnl (%s): install libmnl0", dlerror());
	if (!nftnl && !(nftnl = dlopen("libnftnl.so.11", RTLD_NOW | RTLD_LOCAL)))
		return nb_err_set(err, 0, "cannot load libnftnl (%s): install libnftnl11",
				  dlerror());
	*(void **)&api->open = dlsym(mnl, "mnl_socket_open");
	*(void **)&api->bind = dlsym(mnl, "mnl_socket_bind");
	*(void **)&api->portid = dlsym(mnl, "mnl_socket_get_portid");
	*(void **)&api->send = dlsym(mnl, "mnl_socket_sendto");
	*(void **)&api->recv = dlsym(mnl, "mnl_socket_recvfrom");
	*(void **)&api->close = dlsym(mnl, "mnl_socket_close");
	*(void **)&api->run = dlsym(mnl, "mnl_cb_run");
	*(void **)&api->build = dlsym(nftnl, "nftnl_nlmsg_build_hdr");
	*(void **)&api->alloc = dlsym(nftnl, "nftnl_gen_alloc");
	*(void **)&api->free = dlsym(nftnl, "nftnl_gen_free");
	*(void **)&api->parse = dlsym(nftnl, "nftnl_gen_nlmsg_parse");
	*(void **)&api->get_u32 = dlsym(nftnl, "nftnl_gen_get_u32");
	if (!api->open || !api->bind || !api->portid || !api->send || !api->recv || !api->close ||
	    !api->run || !api->build || !api->alloc || !api->free || !api->parse || !api->get_u32)
		return nb_err_set(err, 0, "libmnl or libnftnl lacks the functions nestbox uses");
	return 0;
}

struct gen_reply {
	const struct gen_api *api;
	struct nftnl_gen *gen;
	bool got;
};

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gen_reply *r = data;

	r->got = r->api->parse(nlh, r->gen) == 0;
	return MNL_CB_STOP; /* one answer */
}

int nb_nft_generation(uint32_t *gen, struct nb_err *err)
{
	struct gen_api api = { 0 };
	struct gen_reply reply = { .api = &api };
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	char buf[8192] __attribute__((aligned(8)));
	unsigned seq = 1, portid;
	ssize_t n;
	int rc = -1;

	if (load_gen(&api, err) < 0)
		return -1;
	if (!(nl = api.open(NETLINK_NETFILTER)))
		return nb_err_sys(err, "nftables generation: netlink socket");
	if (api.bind(nl, 0, 0) < 0) {
		rc = nb_err_sys(err, "nftables generation: netlink bind");
		goto out;
	}
	portid = api.portid(nl);
	nlh = api.build(buf, NFT_MSG_GETGEN, 0 /* AF_UNSPEC */, NLM_F_REQUEST, seq);
	if (api.send(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = nb_err_sys(err, "nftables generation: netlink send");
		goto out;
	}
	if (!(reply.gen = api.alloc())) {
		rc = nb_err_set(err, ENOMEM, "nftables generation");
		goto out;
	}
	n = api.recv(nl, buf, sizeof(buf));
	if (n < 0 || api.run(buf, (size_t)n, seq, portid, gen_cb, &reply) < 0 || !reply.got) {
		rc = nb_err_sys(err, "nftables generation: no answer from the kernel");
		goto out;
	}
	*gen = api.get_u32(reply.gen, NFTNL_GEN_ID);
	rc = 0;
out:
	if (reply.gen)
		api.free(reply.gen);
	api.close(nl);
	return rc;
}
