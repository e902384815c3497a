#include "vmm/hostnet/hostnet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file.h"
#include "common/parse.h"
#include "common/procstat.h"
#include "nestbox/cleanup.h"
#include "vmm/hostnet/link.h"
#include "vmm/hostnet/nft.h"

#define DEFS_DIR "/var/lib/nestbox/networks"
#define LEASES_DIR "/run/nestbox/networks"

struct dirs {
	char defs[4096], leases[4096];
};

static void get_dirs(struct dirs *d)
{
	const char *env = getenv("NESTBOX_NETWORK_DIR");

	snprintf(d->defs, sizeof(d->defs), "%s", env && env[0] ? env : DEFS_DIR);
	if (env && env[0])
		snprintf(d->leases, sizeof(d->leases), "%s/leases", env);
	else
		snprintf(d->leases, sizeof(d->leases), "%s", LEASES_DIR);
}

static int open_store(struct nb_netstore *s, struct nb_err *err)
{
	struct dirs d;

	if (geteuid() != 0)
		return nb_err_set(err, EPERM, "networks need root (bridges, taps, nftables)");
	get_dirs(&d);
	return nb_netstore_open(s, d.defs, d.leases, err);
}

/* What nestbox last applied, in the leases directory (a reboot empties
 * both it and the kernel's tables): "generation N" and the ruleset's text,
 * N being the ruleset's generation just after nestbox's transaction. */
#define APPLIED_FILE "nft-applied"
#define APPLIED_MAX (1u << 20)

/* Is text what the kernel holds, untouched since nestbox applied it? */
static bool applied_already(struct nb_netstore *s, uint32_t gen, const char *text)
{
	static const char head[] = "generation ";
	cleanup_free char *data = NULL;
	struct nb_err ignored;
	const char *end;
	uint64_t was;
	size_t len;

	if (nb_file_read_nofollow(s->leases_fd, APPLIED_FILE, APPLIED_MAX, &data, &len, &ignored) <
		    0 ||
	    strncmp(data, head, strlen(head)) != 0 ||
	    !nb_parse_digits(data + strlen(head), &was, &end) || *end != '\n')
		return false;
	return was == gen && strcmp(end + 1, text) == 0;
}

static void applied_record(struct nb_netstore *s, uint32_t gen, const char *text)
{
	cleanup_free char *data = NULL;
	struct nb_err ignored;

	if (asprintf(&data, "generation %lu\n%s", (unsigned long)gen, text) < 0 ||
	    nb_file_write_atomic(s->leases_fd, APPLIED_FILE, NULL, data, strlen(data), 0600,
				 &ignored) < 0)
		unlinkat(s->leases_fd, APPLIED_FILE, 0);
}

/* Replace the table with text, unless the kernel holds it already: when
 * the ruleset's generation is the one recorded after nestbox's last
 * transaction, of the same text, nobody has changed any table since (a
 * flush, a firewall reload or another tool's rule moves it on). A VM's
 * start or end that changes no rule (no -p) so costs no transaction. */
static int apply_rules(struct nb_netstore *s, const char *text, bool empty, struct nb_err *err)
{
	struct nb_err ignored;
	uint32_t before, after;
	bool known = nb_nft_generation(&before, &ignored) == 0;

	if (known && !empty && applied_already(s, before, text))
		return 0;
	if (nb_nft_apply(text, err) < 0) {
		unlinkat(s->leases_fd, APPLIED_FILE, 0);
		return -1;
	}
	/* Only nestbox's one transaction between the two readings: recorded. */
	if (known && !empty && nb_nft_generation(&after, &ignored) == 0 && after == before + 1)
		applied_record(s, after, text);
	else
		unlinkat(s->leases_fd, APPLIED_FILE, 0);
	return 0;
}

/* Make the host match the store: dead VMs' leases dropped, the table
 * rebuilt from every network (its bridge stays until network rm, as
 * Docker's does) and the live VMs' published ports, and applied if the
 * kernel does not hold it already (checked only if a lease died, unless
 * force). */
static int sync_host(struct nb_netstore *s, const struct nb_report *out, bool force,
		     struct nb_err *err)
{
	bool changed = force;
	cleanup_free struct nb_netdef *defs = NULL;
	cleanup_free struct nb_leases *leases = NULL;
	cleanup_free struct nb_nft_net *nets = NULL;
	cleanup_free char *text = NULL;
	size_t n;
	int rc = 0;

	if (nb_netstore_list(s, &defs, &n, err) < 0)
		return -1;
	leases = calloc(n ? n : 1, sizeof(*leases));
	nets = calloc(n ? n : 1, sizeof(*nets));
	if (!leases || !nets)
		return nb_err_set(err, ENOMEM, "networks");
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t dead;

		rc = nb_leases_load(s, defs[i].name, &leases[i], err);
		if (rc < 0)
			break;
		dead = nb_leases_prune(&leases[i], nb_lease_alive);
		if (dead && out)
			nb_report(out, NB_REPORT_MESSAGE,
				  "freed %zu lease(s) of dead VMs on network %s", dead,
				  defs[i].name);
		if (dead)
			rc = nb_leases_save(s, defs[i].name, &leases[i], err);
		changed |= dead > 0;
		nets[i] = (struct nb_nft_net){ &defs[i], &leases[i] };
	}
	if (rc == 0 && changed) {
		text = nb_nft_ruleset(nets, n);
		rc = text ? apply_rules(s, text, n == 0, err)
			  : nb_err_set(err, ENOMEM, "nftables rules");
	}
	for (size_t i = 0; i < n; i++)
		nb_leases_free(&leases[i]);
	return rc;
}

/* The first 10.88.N.0/24, N from first, that overlaps no network. */
static int free_subnet(const struct nb_netdef *defs, size_t n, uint32_t first, uint32_t *subnet,
		       struct nb_err *err)
{
	for (uint32_t k = first; k < 256; k++) {
		uint32_t cand = NB_NET_DEFAULT_SUBNET | k << 8;
		bool clash = false;

		for (size_t i = 0; i < n && !clash; i++)
			clash = nb_subnets_overlap(cand, 24, defs[i].subnet, defs[i].prefix);
		if (!clash) {
			*subnet = cand;
			return 0;
		}
	}
	return nb_err_set(err, 0, "no free 10.88.N.0/24 left: give --subnet");
}

static int define(struct nb_netstore *s, const char *name, const char *subnet, const char *gateway,
		  uint32_t first, struct nb_netdef *def, struct nb_err *err)
{
	cleanup_free struct nb_netdef *defs = NULL;
	size_t n;

	*def = (struct nb_netdef){ .prefix = 24 };
	if (nb_netname_check(name, err) < 0 || nb_netstore_list(s, &defs, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(defs[i].name, name) == 0)
			return nb_err_set(err, 0, "network %s exists already", name);
	if (!subnet && free_subnet(defs, n, first, &def->subnet, err) < 0)
		return -1;
	if (nb_netdef_make(def, name, subnet, gateway, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (nb_subnets_overlap(def->subnet, def->prefix, defs[i].subnet, defs[i].prefix))
			return nb_err_set(err, 0,
					  "network %s: its subnet overlaps network %s's; choose "
					  "another --subnet",
					  name, defs[i].name);
	return nb_netstore_put(s, def, err);
}

int nb_hostnet_create(const char *name, const char *subnet, const char *gateway,
		      struct nb_netdef *out, struct nb_err *err)
{
	struct nb_netstore s;
	int rc;

	if (open_store(&s, err) < 0)
		return -1;
	rc = define(&s, name, subnet, gateway, 1, out, err);
	nb_netstore_close(&s);
	return rc;
}

static int get(struct nb_netstore *s, const char *name, struct nb_netdef *def, struct nb_err *err)
{
	int rc = nb_netstore_get(s, name, def, err);

	if (rc > 0)
		return nb_err_set(err, 0,
				  "no network %s (nestbox network ls lists them; nestbox network "
				  "create %s makes it)",
				  name, name);
	return rc;
}

int nb_hostnet_remove(const char *name, struct nb_err *err)
{
	struct nb_netstore s;
	struct nb_netdef def;
	struct nb_leases l = { 0 };
	int rc;

	if (open_store(&s, err) < 0)
		return -1;
	rc = get(&s, name, &def, err);
	if (rc == 0)
		rc = nb_leases_load(&s, name, &l, err);
	if (rc == 0 && (nb_leases_prune(&l, nb_lease_alive), l.n))
		rc = nb_err_set(
			err, 0,
			"network %s is in use by %zu VM(s) (nestbox pid %d%s): stop them first",
			name, l.n, l.v[0].pid, l.n > 1 ? ", ..." : "");
	if (rc == 0)
		rc = nb_bridge_remove(def.bridge, err);
	if (rc == 0)
		rc = nb_netstore_del(&s, name, err);
	if (rc == 0)
		rc = sync_host(&s, NULL, true, err);
	nb_leases_free(&l);
	nb_netstore_close(&s);
	return rc;
}

static int info(struct nb_netstore *s, const struct nb_netdef *def, struct nb_hostnet_info *out,
		struct nb_err *err)
{
	*out = (struct nb_hostnet_info){ .def = *def, .bridge_up = nb_link_exists(def->bridge) };
	if (nb_leases_load(s, def->name, &out->leases, err) < 0)
		return -1;
	nb_leases_prune(&out->leases, nb_lease_alive);
	return 0;
}

void nb_hostnet_info_free(struct nb_hostnet_info *i)
{
	nb_leases_free(&i->leases);
}

int nb_hostnet_list(struct nb_hostnet_info **out, size_t *n, struct nb_err *err)
{
	struct nb_netstore s;
	cleanup_free struct nb_netdef *defs = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (open_store(&s, err) < 0)
		return -1;
	rc = nb_netstore_list(&s, &defs, n, err);
	if (rc == 0 && *n && !(*out = calloc(*n, sizeof(**out))))
		rc = nb_err_set(err, ENOMEM, "networks");
	for (size_t i = 0; rc == 0 && i < *n; i++)
		rc = info(&s, &defs[i], &(*out)[i], err);
	nb_netstore_close(&s);
	if (rc < 0) {
		for (size_t i = 0; *out && i < *n; i++)
			nb_hostnet_info_free(&(*out)[i]);
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int nb_hostnet_inspect(const char *name, struct nb_hostnet_info *out, struct nb_err *err)
{
	struct nb_netstore s;
	struct nb_netdef def;
	int rc;

	*out = (struct nb_hostnet_info){ 0 };
	if (open_store(&s, err) < 0)
		return -1;
	rc = get(&s, name, &def, err);
	if (rc == 0)
		rc = info(&s, &def, out, err);
	nb_netstore_close(&s);
	return rc;
}

/* Is one of want's ports published by a live VM on any network? */
static int check_ports(struct nb_netstore *s, const struct nb_publish *want, size_t nwant,
		       struct nb_err *err)
{
	cleanup_free struct nb_netdef *defs = NULL;
	size_t n;
	int rc;

	if (nwant == 0)
		return 0;
	if (nb_netstore_list(s, &defs, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct nb_leases l;

		if (nb_leases_load(s, defs[i].name, &l, err) < 0)
			return -1;
		nb_leases_prune(&l, nb_lease_alive);
		rc = 0;
		for (size_t j = 0; j < l.n && rc == 0; j++)
			for (size_t k = 0; k < l.v[j].npublish && rc == 0; k++)
				for (size_t m = 0; m < nwant && rc == 0; m++)
					if (nb_publish_clash(&want[m], &l.v[j].publish[k])) {
						char text[NB_PUBLISH_TEXT];

						nb_publish_format(&want[m], text);
						rc = nb_err_set(err, 0,
								"-p %s: the host port is already "
								"published by nestbox pid %d",
								text, l.v[j].pid);
					}
		nb_leases_free(&l);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int lease(struct nb_netstore *s, const struct nb_netdef *def, uint32_t want,
		 const struct nb_publish *publish, size_t npublish, const char *tap, uint32_t *ip,
		 struct nb_err *err)
{
	struct nb_leases l;
	struct nb_lease mine = { .pid = getpid(),
				 .start = nb_proc_start_time(getpid()),
				 .npublish = npublish };
	int rc;

	if (npublish > NB_PUBLISH_MAX)
		return nb_err_set(err, 0, "at most %u -p options", NB_PUBLISH_MAX);
	if (npublish)
		memcpy(mine.publish, publish, npublish * sizeof(*publish));
	snprintf(mine.tap, sizeof(mine.tap), "%s", tap);
	if (check_ports(s, publish, npublish, err) < 0 || nb_leases_load(s, def->name, &l, err) < 0)
		return -1;
	nb_leases_prune(&l, nb_lease_alive);
	nb_leases_remove(&l, mine.pid);
	rc = nb_leases_alloc(def, &l, want, &mine.ip, err);
	if (rc == 0)
		rc = nb_leases_add(&l, &mine, err);
	if (rc == 0)
		rc = nb_leases_save(s, def->name, &l, err);
	nb_leases_free(&l);
	*ip = mine.ip;
	return rc;
}

/* Drop this process's lease (if any). */
static int unlease(struct nb_netstore *s, const char *name, struct nb_err *err)
{
	struct nb_leases l;
	int rc = 0;

	if (nb_leases_load(s, name, &l, err) < 0)
		return -1;
	if (nb_leases_remove(&l, getpid()))
		rc = nb_leases_save(s, name, &l, err);
	nb_leases_free(&l);
	return rc;
}

int nb_hostnet_attach(const char *name, uint32_t want, const struct nb_publish *publish,
		      size_t npublish, const char *tap, struct nb_hostnet_vm *vm,
		      struct nb_err *err)
{
	struct nb_netstore s;
	int rc;

	*vm = (struct nb_hostnet_vm){ 0 };
	if (open_store(&s, err) < 0)
		return -1;
	rc = nb_netstore_get(&s, name, &vm->def, err);
	if (rc > 0 && strcmp(name, NB_NET_DEFAULT) == 0) /* Docker's default, on first use */
		rc = define(&s, name, NULL, NULL, 0, &vm->def, err);
	else if (rc > 0)
		rc = get(&s, name, &vm->def, err);
	if (rc == 0)
		rc = lease(&s, &vm->def, want, publish, npublish, tap, &vm->ip, err);
	if (rc == 0 &&
	    (nb_bridge_up(&vm->def, err) < 0 || nb_bridge_attach(vm->def.bridge, tap, err) < 0 ||
	     sync_host(&s, NULL, true, err) < 0)) {
		struct nb_err ignored;

		rc = -1;
		if (unlease(&s, name, &ignored) == 0)
			sync_host(&s, NULL, true, &ignored);
	}
	nb_netstore_close(&s);
	if (rc < 0)
		return nb_err_wrap(err, "--network %s", name);
	vm->mac[0] = 0x02;
	vm->mac[1] = 0x42;
	for (int i = 0; i < 4; i++)
		vm->mac[2 + i] = (uint8_t)(vm->ip >> (24 - 8 * i));
	return 0;
}

int nb_hostnet_detach(const char *name, struct nb_err *err)
{
	struct nb_netstore s;
	int rc;

	if (open_store(&s, err) < 0)
		return -1;
	rc = unlease(&s, name, err);
	if (rc == 0)
		rc = sync_host(&s, NULL, true, err);
	nb_netstore_close(&s);
	return rc;
}

int nb_hostnet_adopt(const char *name, pid_t from, struct nb_err *err)
{
	struct nb_netstore s;
	struct nb_leases l;
	size_t i = 0;
	int rc = -1;

	if (open_store(&s, err) < 0)
		return -1;
	if (nb_leases_load(&s, name, &l, err) == 0) {
		while (i < l.n && l.v[i].pid != from)
			i++;
		if (i == l.n) {
			rc = nb_err_set(err, 0, "network %s: no lease of process %d to take over",
					name, (int)from);
		} else {
			l.v[i].pid = getpid();
			l.v[i].start = nb_proc_start_time(getpid());
			rc = nb_leases_save(&s, name, &l, err);
		}
		nb_leases_free(&l);
	}
	nb_netstore_close(&s);
	return rc;
}

int nb_hostnet_gc(const struct nb_report *out, struct nb_err *err)
{
	struct nb_netstore s;
	struct dirs d;
	int rc;

	get_dirs(&d);
	if (geteuid() != 0 || access(d.defs, F_OK) < 0)
		return 0;
	if (nb_netstore_open(&s, d.defs, d.leases, err) < 0)
		return -1;
	rc = sync_host(&s, out, false, err);
	nb_netstore_close(&s);
	return rc;
}

size_t nb_hostnet_dns(const char *resolv_path, uint32_t dns[NB_DNS_MAX])
{
	cleanup_free char *text = NULL;
	struct nb_err ignored;
	size_t len, n = 0;
	char *save = NULL;

	if (nb_file_read(AT_FDCWD, resolv_path, 1u << 16, &text, &len, &ignored) == 0)
		for (char *line = strtok_r(text, "\n", &save); line && n < NB_DNS_MAX;
		     line = strtok_r(NULL, "\n", &save)) {
			char addr[64];
			uint32_t a;

			if (sscanf(line, " nameserver %63s", addr) == 1 &&
			    nb_ipv4_parse(addr, false, &a, &ignored) == 0 && a >> 24 != 127)
				dns[n++] = a;
		}
	if (n == 0) {
		dns[n++] = 0x08080808u;
		dns[n++] = 0x08080404u;
	}
	return n;
}
