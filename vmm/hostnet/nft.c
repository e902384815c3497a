#include "vmm/hostnet/nft.h"

#include <dlfcn.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
