#include "vmm/run/template.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "images/cache.h"
#include "images/digest.h"
#include "images/image.h"
#include "images/json.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/hostnet/hostnet.h"
#include "vmm/hostnet/netdef.h"
#include "vmm/hostnet/publish.h"
#include "vmm/kvm/statefile.h"
#include "vmm/run/network.h"
#include "vmm/virtio/ratelimit.h"

void nb_template_free(struct nb_template *t)
{
	free(t->name);
	free(t->dir);
	free(t->image);
	free(t->digest);
	free(t->kernel);
	free(t->init);
	free(t->key);
	free(t->network);
	nb_strv_free(t->net_args);
	nb_strv_free(t->volumes);
	for (size_t i = 0; i < NB_RUN_MAX_VOLUMES; i++)
		free(t->disks[i]);
	memset(t, 0, sizeof(*t));
}

static int check_name(const char *name, struct nb_err *err)
{
	size_t len = strlen(name);

	if (len == 0 || len > NB_TEMPLATE_NAME_MAX || name[0] == '.' ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
		    len)
		return nb_err_set(err, 0,
				  "template name '%.80s': use 1 to %u letters, digits, '_', "
				  "'.' or '-', not starting with '.'",
				  name, NB_TEMPLATE_NAME_MAX);
	return 0;
}

/* ${cache}/templates, created. */
static char *templates_root(struct nb_err *err)
{
	struct nb_cache cache;
	char *root = NULL;

	if (nb_cache_open(&cache, false, err) < 0)
		return NULL;
	if (asprintf(&root, "%s/templates", cache.root) < 0)
		root = NULL;
	nb_cache_close(&cache);
	if (!root)
		return nb_err_sys(err, "templates"), NULL;
	if (nb_mkdir_p(AT_FDCWD, root, 0700, 0, err) < 0) {
		free(root);
		return NULL;
	}
	return root;
}

/* A file's identity: it changed if any of these did. */
static int file_id(const char *path, char *buf, size_t size, struct nb_err *err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return nb_err_sys(err, "%s", path);
	snprintf(buf, size, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
		 st.st_mtim.tv_nsec);
	return 0;
}

/* The key of a template of these inputs. */
static char *make_key(const char *digest, const char *kernel, const char *init, unsigned cpus,
		      uint64_t mem, const char *network, bool tap, bool vsock, unsigned shares,
		      bool balloon, struct nb_err *err)
{
	char kid[128], iid[128], *text = NULL;
	struct nb_digest d;
	int n;

	if (file_id(kernel, kid, sizeof(kid), err) < 0 || file_id(init, iid, sizeof(iid), err) < 0)
		return NULL;
	n = asprintf(&text,
		     "abi=%u spec=%u state=%u image=%s kernel=%s init=%s cpus=%u mem=%llu "
		     "network=%s vsock=%d shares=%u%s",
		     NB_ABI_VERSION, NB_SPEC_FORMAT, NB_STATE_FORMAT, digest, kid, iid, cpus,
		     (unsigned long long)mem,
		     /* no network name starts with '-' (nb_netname_check) */
		     network ? network
		     : tap   ? "--tap"
			     : "",
		     vsock, shares, balloon ? "" : " balloon=0");
	if (n < 0)
		return nb_err_sys(err, "template key"), NULL;
	n = nb_sha256_buf(text, strlen(text), &d, err);
	free(text);
	return n < 0 ? NULL : strdup(d.hex);
}

static int write_meta(const char *dir, const struct nb_template *t, struct nb_err *err)
{
	struct json_object *o = json_object_new_object();
	char *path = NULL;
	int rc;

	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "image", json_object_new_string(t->image));
	json_object_object_add(o, "digest", json_object_new_string(t->digest));
	json_object_object_add(o, "kernel", json_object_new_string(t->kernel));
	json_object_object_add(o, "init", json_object_new_string(t->init));
	json_object_object_add(o, "cpus", json_object_new_int((int)t->cpus));
	json_object_object_add(o, "memory", json_object_new_int64((int64_t)t->mem_size));
	json_object_object_add(o, "created", json_object_new_int64(t->created));
	json_object_object_add(o, "key", json_object_new_string(t->key));
	if (t->network)
		json_object_object_add(o, "network", json_object_new_string(t->network));
	if (t->tap)
		json_object_object_add(o, "nic", json_object_new_string("tap"));
	json_object_object_add(o, "vsock", json_object_new_boolean(t->vsock));
	json_object_object_add(o, "shares", json_object_new_int((int)t->shares));
	if (t->no_balloon)
		json_object_object_add(o, "balloon", json_object_new_boolean(false));
	if (t->net_args) {
		struct json_object *a = json_object_new_array();

		for (char **arg = t->net_args; *arg; arg++)
			json_object_array_add(a, json_object_new_string(*arg));
		json_object_object_add(o, "network_options", a);
	}
	if (t->volumes) {
		struct json_object *a = json_object_new_array();

		for (char **v = t->volumes; *v; v++)
			json_object_array_add(a, json_object_new_string(*v));
		json_object_object_add(o, "volumes", a);
	}
	rc = asprintf(&path, "%s/%s", dir, NB_TEMPLATE_META) < 0
		     ? nb_err_sys(err, "template")
		     : nb_json_write_atomic(path, o, 0600, err);
	free(path);
	json_object_put(o);
	return rc;
}

static char *dup_str(struct json_object *o, const char *key, struct nb_err *err)
{
	const char *s = NULL;

	if (nb_json_str(o, key, true, 4096, &s, err) < 0)
		return NULL;
	return strdup(s);
}

/* meta.json of template dir (hostile: bounded, typed). */
static int read_meta(const char *name, const char *dir, struct nb_template *t, struct nb_err *err)
{
	cleanup_free char *path = NULL;
	struct json_object *o;
	int64_t cpus = 0, mem = 0, created = 0, shares = 0;
	const char *network = NULL, *nic = NULL;
	struct json_object *vsock = NULL, *balloon = NULL;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	if (asprintf(&path, "%s/%s", dir, NB_TEMPLATE_META) < 0)
		return nb_err_sys(err, "template");
	o = nb_json_load(path, "template", err);
	if (!o)
		return -1;
	t->name = strdup(name);
	t->dir = strdup(dir);
	json_object_object_get_ex(o, "vsock", &vsock);
	json_object_object_get_ex(o, "balloon", &balloon);
	if ((t->image = dup_str(o, "image", err)) && (t->digest = dup_str(o, "digest", err)) &&
	    (t->kernel = dup_str(o, "kernel", err)) && (t->init = dup_str(o, "init", err)) &&
	    (t->key = dup_str(o, "key", err)) && nb_json_int(o, "cpus", true, &cpus, err) == 0 &&
	    nb_json_int(o, "memory", true, &mem, err) == 0 &&
	    nb_json_int(o, "created", false, &created, err) == 0 &&
	    nb_json_int(o, "shares", false, &shares, err) == 0 &&
	    nb_json_str(o, "network", false, 64, &network, err) == 0 &&
	    nb_json_str(o, "nic", false, 16, &nic, err) == 0 &&
	    nb_json_strv(o, "network_options", NB_TEMPLATE_MAX_NET_ARGS, 128, &t->net_args, err) ==
		    0 &&
	    nb_json_strv(o, "volumes", 3 * NB_RUN_MAX_VOLUMES, PATH_MAX, &t->volumes, err) == 0) {
		if (cpus < 1 || cpus > 255 || mem <= 0 || !t->name || !t->dir)
			nb_err_set(err, 0, "%s: cpus or memory out of range", path);
		else if (shares < 0 || shares > NB_TEMPLATE_SHARES)
			nb_err_set(err, 0, "%s: shares out of range", path);
		else if (network && nb_netname_check(network, err) < 0)
			nb_err_wrap(err, "%s: network", path);
		else if (nic && (strcmp(nic, "tap") != 0 || network))
			nb_err_set(err, 0, "%s: nic is not \"tap\", or beside a network", path);
		else if (t->net_args && ((!network && !nic) || nb_strv_len(t->net_args) % 2))
			nb_err_set(err, 0, "%s: network_options without a NIC, or odd", path);
		else if ((vsock && !json_object_is_type(vsock, json_type_boolean)) ||
			 (balloon && !json_object_is_type(balloon, json_type_boolean)))
			nb_err_set(err, 0, "%s: vsock or balloon is not true or false", path);
		else if (network && !(t->network = strdup(network)))
			nb_err_sys(err, "template");
		else
			rc = 0;
	}
	t->cpus = (unsigned)cpus;
	t->mem_size = (uint64_t)mem;
	t->created = created;
	t->vsock = vsock && json_object_get_boolean(vsock);
	t->no_balloon = balloon && !json_object_get_boolean(balloon);
	t->tap = nic != NULL;
	t->shares = (unsigned)shares;
	json_object_put(o);
	if (rc < 0)
		nb_template_free(t);
	return rc;
}

static int template_dir(const char *name, char **dir, struct nb_err *err)
{
	cleanup_free char *root = NULL;

	if (check_name(name, err) < 0 || !(root = templates_root(err)))
		return -1;
	if (asprintf(dir, "%s/%s", root, name) < 0)
		return nb_err_sys(err, "template");
	return 0;
}

/* The manifest digest of opts->rootfs (resolving it, as the boot will). */
static int image_digest(const struct nb_run_options *opts, char *out, struct nb_err *err)
{
	struct nb_image image = { 0 };

	if (nb_image_resolve(opts->rootfs, &opts->report, &image, err) < 0)
		return nb_err_wrap(err, "image %s", opts->rootfs);
	nb_digest_format(&image.manifest, out);
	nb_image_free(&image);
	return 0;
}

/* The existing template is for exactly these inputs. */
static bool up_to_date(const char *name, const char *dir, const char *key)
{
	struct nb_template old;
	struct nb_err ignored;
	bool same;

	if (read_meta(name, dir, &old, &ignored) < 0)
		return false;
	same = strcmp(old.key, key) == 0;
	nb_template_free(&old);
	return same;
}

/* Boot into tmp; on success it holds meta.json, state and memory. */
/* The template boot's VMM in a child: its threads end up under their
 * seccomp filters, main thread included, and this process goes on to name
 * the template. The child's failure comes back on a pipe. */
static int run_vmm(const struct nb_run_options *opts, int *status, struct nb_err *err)
{
	int p[2], wstatus = 0;
	char msg[NB_ERR_MSG_MAX] = "";
	ssize_t n = 0, got;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return nb_err_sys(err, "template: pipe");
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct nb_err child = { 0 };
		int st = NB_STATUS_ERROR;

		close(p[0]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
			_exit(NB_STATUS_ERROR);
		if (nb_run(opts, &st, &child) < 0) {
			if (nb_write_all(p[1], child.msg, strlen(child.msg)) < 0) {
				/* the parent is gone */
			}
			_exit(NB_STATUS_ERROR);
		}
		_exit(st);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return nb_err_sys(err, "template: fork");
	}
	while ((size_t)n < sizeof(msg) - 1 &&
	       ((got = read(p[0], msg + n, sizeof(msg) - 1 - (size_t)n)) > 0 ||
		(got < 0 && errno == EINTR)))
		n += got > 0 ? got : 0;
	close(p[0]);
	msg[n] = '\0';
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	if (msg[0])
		return nb_err_set(err, 0, "%s", msg);
	if (WIFSIGNALED(wstatus))
		return nb_err_set(err, 0, "the template's VMM was killed by signal %d",
				  WTERMSIG(wstatus));
	*status = WEXITSTATUS(wstatus);
	return 0;
}

static int boot_template(const char *tmp, struct nb_run_options *opts, const struct nb_template *t,
			 struct nb_err *err)
{
	int status = 0;

	if (mkdir(tmp, 0700) < 0)
		return nb_err_sys(err, "%s", tmp);
	opts->warm.snapshot_to = tmp;
	/* Its NIC leads nowhere: each clone plugs in a tap of its own. */
	opts->net.network = NULL;
	opts->net.template_nic = t->network != NULL;
	opts->net.template_vsock = t->vsock; /* no host socket: each clone's own */
	opts->warm.share_slots = t->shares;  /* nothing behind them: each clone's -v */
	if (run_vmm(opts, &status, err) < 0)
		return -1;
	if (status != 0)
		return nb_err_set(err, 0,
				  "the template's guest stopped with status %d before it was "
				  "ready (its console output is above)",
				  status);
	return write_meta(tmp, t, err);
}

static int create(const char *name, struct nb_run_options *opts, bool *kept, struct nb_err *err)
{
	cleanup_free char *dir = NULL, *tmp = NULL;
	char digest[NB_DIGEST_STR_LEN + 1];
	struct nb_template t = { .cpus = opts->cpus,
				 .mem_size = opts->mem_size,
				 .created = (int64_t)time(NULL) };
	int rc = -1;

	*kept = false;
	if (template_dir(name, &dir, err) < 0 || image_digest(opts, digest, err) < 0)
		return -1;
	t.network = (char *)opts->net.network;
	t.vsock = true; /* each clone may take --vsock PATH */
	t.shares = NB_TEMPLATE_SHARES;
	t.no_balloon = !nb_run_has_balloon(opts);
	t.key = make_key(digest, opts->kernel_path, opts->init_path, opts->cpus, opts->mem_size,
			 t.network, false, t.vsock, t.shares, !t.no_balloon, err);
	if (!t.key)
		return -1;
	if (up_to_date(name, dir, t.key)) {
		*kept = true;
		free(t.key);
		return 0;
	}
	t.image = (char *)opts->rootfs;
	t.digest = digest;
	t.kernel = (char *)opts->kernel_path;
	t.init = (char *)opts->init_path;
	if (asprintf(&tmp, "%s.tmp-%d", dir, (int)getpid()) < 0) {
		free(t.key);
		return nb_err_sys(err, "template");
	}
	rc = boot_template(tmp, opts, &t, err);
	free(t.key);
	if (rc == 0 && (nb_rm_rf(dir) < 0 && errno != ENOENT))
		rc = nb_err_sys(err, "removing the old template %s", dir);
	if (rc == 0 && rename(tmp, dir) < 0)
		rc = nb_err_sys(err, "%s", dir);
	if (rc < 0)
		nb_rm_rf(tmp);
	return rc;
}

/* A template takes a network's name for its clones; what is each
 * clone's own goes to the clone. */
static int check_template_net(const struct nb_run_net *net, struct nb_err *err)
{
	if (net->tap || net->npublish || net->ipv4 || net->gateway || net->has_mac || net->ndns ||
	    net->rx_bps || net->tx_bps || net->rx_ops || net->tx_ops)
		return nb_err_set(err, 0,
				  "a template takes --network NAME only (its clones join it): "
				  "give --tap, -p, --ip, --mac-address, --dns and --net-rate to "
				  "each clone (run --template, fn)");
	if (net->vsock_path)
		return nb_err_set(err, 0,
				  "a template has a vsock device without a host socket: give "
				  "--vsock PATH to each clone (run --template, fn)");
	/* Its clones join it: it must be there (the default is made on use). */
	if (net->network && strcmp(net->network, NB_NET_DEFAULT) != 0) {
		struct nb_hostnet_info info;

		if (nb_hostnet_inspect(net->network, &info, err) < 0)
			return nb_err_wrap(err, "--network %s", net->network);
		nb_hostnet_info_free(&info);
	}
	return 0;
}

int nb_template_create(const char *name, struct nb_run_options *opts, bool *kept,
		       struct nb_err *err)
{
	struct nb_run_options given = *opts;
	cleanup_free char *image = NULL, *kernel = NULL, *init = NULL;
	int rc;

	if (check_template_net(&opts->net, err) < 0)
		return -1;
	/* Its clones run from any working directory: they find these. */
	if (!(kernel = realpath(opts->kernel_path, NULL)))
		return nb_err_sys(err, "kernel %s", opts->kernel_path);
	if (!(init = realpath(opts->init_path, NULL)))
		return nb_err_sys(err, "nestbox-init %s", opts->init_path);
	if (!(image = nb_image_absolute(opts->rootfs, err)))
		return -1;
	opts->rootfs = image;
	opts->kernel_path = kernel;
	opts->init_path = init;
	rc = create(name, opts, kept, err);
	opts->rootfs = given.rootfs;
	opts->kernel_path = given.kernel_path;
	opts->init_path = given.init_path;
	opts->net = given.net;
	return rc;
}

/* A clone's NIC is its template's: it joins the template's network unless
 * it names its own (--network NAME, --tap) or none (--network none: the
 * NIC stays unplugged). Without one in the template, none can be added.
 * A snapshot of a VM on the user's --tap has no network to join: its
 * restore names where its NIC goes. */
static int clone_network(const char *what, const struct nb_template *t, struct nb_run_net *net,
			 struct nb_err *err)
{
	bool asks = net->network || net->tap || (net->npublish && !net->network_mode);

	net->template_nic = t->network || t->tap;
	if (t->tap && !net->network && !net->tap && !net->network_mode)
		return nb_err_set(err, 0,
				  "%s: its VM's NIC was on --tap (a tap of the user's): give the "
				  "restore --tap TAP of its own (or --network NAME, or --network "
				  "none to leave the NIC unplugged)",
				  what);
	if (!net->template_nic && asks)
		return nb_err_set(err, 0,
				  "%s has no network device: make it with nestbox template "
				  "create --network NAME (its clones join NAME, or the network "
				  "they name)",
				  what);
	if (t->network && !net->network && !net->tap && !net->network_mode)
		net->network = t->network;
	/* Its vsock device is the template's, the socket the clone's own. */
	net->template_vsock = t->vsock;
	if (!t->vsock && net->vsock_path)
		return nb_err_set(err, 0,
				  "%s has no vsock device: a template made before templates had "
				  "one (make it again), or a snapshot of a VM run without --vsock "
				  "(restore it without --vsock)",
				  what);
	return 0;
}

/* t (read from its meta.json) into opts, unless its inputs changed. */
static int open_meta(const char *what, struct nb_run_options *opts, struct nb_template *t,
		     struct nb_err *err)
{
	cleanup_free char *key = make_key(t->digest, t->kernel, t->init, t->cpus, t->mem_size,
					  t->network, t->tap, t->vsock, t->shares, !t->no_balloon,
					  err);

	if (!key || strcmp(key, t->key) != 0) {
		nb_template_free(t);
		return nb_err_set(err, 0,
				  "%s is stale: its kernel, nestbox-init or nestbox "
				  "changed since it was made; make it again",
				  what);
	}
	opts->rootfs = t->image;
	opts->kernel_path = t->kernel;
	opts->init_path = t->init;
	opts->cpus = t->cpus;
	opts->mem_size = t->mem_size;
	if (clone_network(what, t, &opts->net, err) < 0) {
		nb_template_free(t);
		return -1;
	}
	opts->warm.restore = t->dir;
	/* no digest: a VM whose root was a directory (nb_template_save_meta) */
	opts->warm.digest = t->digest[0] ? t->digest : NULL;
	opts->warm.root_in_memory = !t->digest[0];
	opts->warm.share_slots = t->shares;
	opts->warm.no_balloon = t->no_balloon;
	return 0;
}

int nb_template_open(const char *name, struct nb_run_options *opts, struct nb_template *t,
		     struct nb_err *err)
{
	cleanup_free char *dir = NULL, *what = NULL;

	if (template_dir(name, &dir, err) < 0)
		return -1;
	if (access(dir, F_OK) < 0)
		return nb_err_set(err, 0,
				  "no template '%s' (create it with nestbox template create %s "
				  "IMAGE)",
				  name, name);
	if (read_meta(name, dir, t, err) < 0)
		return nb_err_wrap(err, "template %s", name);
	if (!t->digest[0]) { /* only a snapshot of a running VM has none */
		nb_template_free(t);
		return nb_err_set(err, 0, "template %s: its meta.json has no image digest", name);
	}
	if (asprintf(&what, "template '%s'", name) < 0)
		return nb_template_free(t), nb_err_sys(err, "template");
	return open_meta(what, opts, t, err);
}

/* An absolute path for meta.json (a restore may run elsewhere). */
static char *absolute_file(const char *path)
{
	char *abs = realpath(path, NULL);

	return abs ? abs : strdup(path);
}

/* One option and its value, copied, onto v (NULL-terminated, *n used). */
static int push_arg(char **v, size_t *n, const char *opt, const char *value)
{
	if (*n + 2 > NB_TEMPLATE_MAX_NET_ARGS || !(v[*n] = strdup(opt)))
		return -1;
	(*n)++;
	if (!(v[*n] = strdup(value)))
		return -1;
	(*n)++;
	return 0;
}

/* A VM's network options as `nestbox run` takes them (-p, --ip,
 * --gateway, --mac-address, --dns, --net-rate), for its restores. */
static char **net_args(const struct nb_run_net *net)
{
	char **v = calloc(NB_TEMPLATE_MAX_NET_ARGS + 1, sizeof(*v));
	char text[NB_PUBLISH_TEXT], rate[NB_NET_RATE_TEXT];
	size_t n = 0;
	int rc = v ? 0 : -1;

	for (size_t i = 0; rc == 0 && i < net->npublish; i++) {
		nb_publish_format(&net->publish[i], text);
		rc = push_arg(v, &n, "-p", text);
	}
	if (rc == 0 && net->ipv4) {
		nb_ipv4_format(net->ipv4, text);
		if (net->prefix) /* --tap's ADDR/PREFIX */
			snprintf(text + strlen(text), sizeof(text) - strlen(text), "/%u",
				 net->prefix);
		rc = push_arg(v, &n, "--ip", text);
	}
	if (rc == 0 && net->gateway) {
		nb_ipv4_format(net->gateway, text);
		rc = push_arg(v, &n, "--gateway", text);
	}
	if (rc == 0 && net->has_mac) {
		snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", net->mac[0],
			 net->mac[1], net->mac[2], net->mac[3], net->mac[4], net->mac[5]);
		rc = push_arg(v, &n, "--mac-address", text);
	}
	for (size_t i = 0; rc == 0 && i < net->ndns; i++) {
		nb_ipv4_format(net->dns[i], text);
		rc = push_arg(v, &n, "--dns", text);
	}
	nb_net_rate_format((const uint64_t[NB_NET_RATES]){ net->rx_bps, net->tx_bps, net->rx_ops,
							   net->tx_ops },
			   rate);
	if (rc == 0 && rate[0])
		rc = push_arg(v, &n, "--net-rate", rate);
	if (rc < 0) {
		nb_strv_free(v);
		return NULL;
	}
	return v;
}

/* A VM's -v volumes as HOST, GUEST, "ro" or "rw" (three strings each:
 * either path may hold a ':', as --mount takes them), a directory's HOST
 * made absolute (the snapshot may be restored from elsewhere), a disk's
 * the name of its copy in the snapshot (the monitor made it). */
static char **volume_args(const struct nb_run_options *opts, struct nb_err *err)
{
	char **v = calloc(3 * opts->nvolumes + 1, sizeof(*v));

	for (size_t i = 0; v && i < opts->nvolumes; i++) {
		const struct nb_run_volume *vol = &opts->volumes[i];
		char *host = NULL;

		if (vol->dir)
			host = realpath(vol->host, NULL);
		else if (asprintf(&host, NB_TEMPLATE_DISK, i) < 0)
			host = NULL;
		if (!host) {
			nb_err_sys(err, "snapshot: -v %s", vol->host);
			nb_strv_free(v);
			return NULL;
		}
		v[3 * i] = host;
		if (!(v[3 * i + 1] = strdup(vol->guest)) ||
		    !(v[3 * i + 2] = strdup(vol->read_only ? "ro" : "rw"))) {
			nb_strv_free(v);
			v = NULL;
		}
	}
	if (!v)
		nb_err_sys(err, "snapshot");
	return v;
}

int nb_template_save_meta(const char *dir, const struct nb_run_options *opts, struct nb_err *err)
{
	char digest[NB_DIGEST_STR_LEN + 1];
	cleanup_free char *kernel = absolute_file(opts->kernel_path),
			  *init = absolute_file(opts->init_path), *key = NULL;
	struct nb_template t = { .image = (char *)opts->rootfs,
				 .digest = digest,
				 .cpus = opts->cpus,
				 .mem_size = opts->mem_size,
				 .created = (int64_t)time(NULL) };
	int rc;

	if (!kernel || !init)
		return nb_err_sys(err, "snapshot");
	/* A vsock device: its restores have one, each with its own socket */
	t.vsock = opts->net.vsock_path || opts->net.template_vsock;
	t.shares = opts->warm.share_slots;        /* a clone's: its restores have them too */
	t.no_balloon = !nb_run_has_balloon(opts); /* the same devices */
	/* Its -v directories: its restores share them (template.h) */
	if (opts->nvolumes && !(t.volumes = volume_args(opts, err)))
		return -1;
	/* A VM on a network: its restores join it; on --tap: they give
	 * their own (template.h) */
	if (nb_network_joins(opts))
		t.network = (char *)(opts->net.network ? opts->net.network : NB_NET_DEFAULT);
	t.tap = opts->net.tap && !t.network;
	if ((t.network || t.tap) && !(t.net_args = net_args(&opts->net))) {
		nb_strv_free(t.volumes);
		return nb_err_sys(err, "snapshot");
	}
	/* A root directory is in the guest's initramfs, so in the snapshot's
	 * memory: no image to resolve again, no digest (nor layers) */
	digest[0] = '\0';
	if (!opts->warm.root_in_memory && nb_image_is_reference(opts->rootfs) &&
	    image_digest(opts, digest, err) < 0)
		key = NULL;
	else
		key = make_key(digest, kernel, init, opts->cpus, opts->mem_size, t.network, t.tap,
			       t.vsock, t.shares, !t.no_balloon, err);
	if (!key) {
		nb_strv_free(t.net_args);
		nb_strv_free(t.volumes);
		return -1;
	}
	t.kernel = kernel;
	t.init = init;
	t.key = key;
	rc = write_meta(dir, &t, err);
	nb_strv_free(t.net_args);
	nb_strv_free(t.volumes);
	return rc;
}

/* Whether two guest paths name the same directory ("/data" and "/data/"). */
static bool same_guest(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && !strncmp(a, b, la);
}

/* "WHAT: -v HOST:GUEST: why", -1. */
static int __attribute__((format(printf, 4, 5)))
refuse(struct nb_err *err, const char *what, const struct nb_run_volume *g, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return nb_err_set(err, 0, "%s: -v %s:%s: %s", what, g->host, g->guest, why);
}

/* A recorded volume (a HOST, GUEST, ro|rw triple of meta.json), told
 * once: a disk when HOST names its copy in the snapshot (NB_TEMPLATE_DISK
 * of its index), else a directory. */
struct recorded {
	bool disk, read_only;
};

/* Volume i's triple f told, or -1 when it is not an absolute HOST (or its
 * disk's copy), an absolute GUEST and ro or rw. */
static int tell_recorded(char **f, size_t i, struct recorded *r)
{
	char name[32];

	snprintf(name, sizeof(name), NB_TEMPLATE_DISK, i);
	r->disk = strcmp(f[0], name) == 0;
	r->read_only = strcmp(f[2], "ro") == 0;
	if ((f[0][0] != '/' && !r->disk) || f[1][0] != '/' ||
	    (!r->read_only && strcmp(f[2], "rw") != 0))
		return -1;
	return 0;
}

/* A restore's own -v into moved[], by the recorded volume they replace
 * the HOST of: a snapshot's directory moved (the same one, or a copy of
 * it, elsewhere on this host), or where a read-write disk's copy goes (a
 * path that does not exist yet). Each must name one of the snapshot's
 * GUEST paths (recorded triples), once, as what the guest has there, with
 * its mode (the guest has it mounted so). */
static int own_volumes(const char *what, const struct nb_run_volume *given, size_t ngiven,
		       char **guests, const struct recorded *rec, size_t nrecorded,
		       const char **moved, struct nb_err *err)
{
	for (size_t i = 0; i < ngiven; i++) {
		const struct nb_run_volume *g = &given[i];
		size_t j = 0;

		while (j < nrecorded && !same_guest(g->guest, guests[3 * j + 1]))
			j++;
		if (j == nrecorded)
			return refuse(err, what, g,
				      "the snapshot has no volume at %s; a restore's -v only "
				      "moves one of the snapshot's (run --restore takes -v "
				      "NEWHOST:GUEST for its GUEST paths)",
				      g->guest);
		bool disk = rec[j].disk;

		if (!disk && !g->dir)
			return refuse(err, what, g,
				      "not a directory (the guest has a shared directory at %s)",
				      g->guest);
		if (disk && g->dir)
			return refuse(err, what, g, "a directory (the guest has a disk at %s)",
				      g->guest);
		if (g->read_only != rec[j].read_only)
			return refuse(err, what, g, "the guest has %s mounted %s; give it %s",
				      g->guest, g->read_only ? "read-write" : "read-only",
				      g->read_only ? "without :ro" : "with :ro");
		if (moved[j])
			return refuse(err, what, g, "%s given twice", g->guest);
		if (disk && g->read_only)
			return refuse(err, what, g,
				      "the guest's read-only disk at %s is the snapshot's copy, "
				      "shared by its restores: give no -v for it",
				      g->guest);
		if (disk && (access(g->host, F_OK) == 0 || errno != ENOENT))
			return refuse(err, what, g,
				      "%s exists: a restore's disk is a new copy of the "
				      "snapshot's, made there (give a path that does not exist "
				      "yet)",
				      g->host);
		moved[j] = g->host;
	}
	return 0;
}

int nb_template_restore_volumes(const char *what, struct nb_run_options *opts,
				struct nb_template *t, struct nb_err *err)
{
	size_t n = t->volumes ? nb_strv_len(t->volumes) : 0;
	const char *moved[NB_RUN_MAX_VOLUMES] = { 0 };
	struct recorded rec[NB_RUN_MAX_VOLUMES] = { 0 };

	if (n % 3 || n / 3 > NB_RUN_MAX_VOLUMES)
		return nb_err_set(err, 0, "%s: volumes are not HOST, GUEST, ro|rw triples", what);
	for (size_t i = 0; i < n / 3; i++) {
		if (tell_recorded(&t->volumes[3 * i], i, &rec[i]) < 0)
			return nb_err_set(err, 0,
					  "%s: volume %zu is not an absolute HOST (or its disk's "
					  "copy) and GUEST and ro or rw",
					  what, i + 1);
	}
	if (opts->nvolumes && !n)
		return nb_err_set(err, 0, "%s: the snapshot has no -v volumes: give no -v", what);
	if (own_volumes(what, opts->volumes, opts->nvolumes, t->volumes, rec, n / 3, moved, err) <
	    0)
		return -1;
	for (size_t i = 0; i < n / 3; i++) {
		const char *guest = t->volumes[3 * i + 1];

		if (rec[i].disk && !rec[i].read_only && !moved[i])
			return nb_err_set(
				err, 0,
				"%s: its VM had a read-write disk at %s: give the restore "
				"-v NEWFILE:%s (a path that does not exist yet: the "
				"snapshot's disk is copied there, the restore's own)",
				what, guest, guest);
	}
	for (size_t i = 0; i < n / 3; i++) {
		char **f = &t->volumes[3 * i];

		/* a disk's copy by path: the read-only disk, or the source */
		free(t->disks[i]);
		t->disks[i] = NULL;
		if (rec[i].disk && asprintf(&t->disks[i], "%s/%s", t->dir, f[0]) < 0)
			return t->disks[i] = NULL, nb_err_sys(err, "snapshot");
		opts->volumes[i] = (struct nb_run_volume){ .host = moved[i]      ? (char *)moved[i]
								   : rec[i].disk ? t->disks[i]
										 : f[0],
							   .guest = f[1],
							   .read_only = rec[i].read_only,
							   .dir = !rec[i].disk };
	}
	opts->nvolumes = n / 3;
	return 0;
}

int nb_template_open_dir(const char *dir, struct nb_run_options *opts, struct nb_template *t,
			 struct nb_err *err)
{
	cleanup_free char *what = NULL, *abs = realpath(dir, NULL);

	if (!abs)
		return nb_err_sys(err, "snapshot %s", dir);
	if (read_meta(abs, abs, t, err) < 0)
		return nb_err_wrap(err, "snapshot %s", dir);
	if (asprintf(&what, "snapshot %s", dir) < 0)
		return nb_template_free(t), nb_err_sys(err, "snapshot");
	if (open_meta(what, opts, t, err) < 0)
		return -1;
	if (nb_template_restore_volumes(what, opts, t, err) < 0) {
		nb_template_free(t);
		return -1;
	}
	opts->warm.resume = true;
	return 0;
}

_Static_assert(NB_RUN_MAX_VOLUMES <= 32, "t->copied has a bit per volume");

int nb_template_copy_disks(struct nb_template *t, const struct nb_run_options *opts,
			   struct nb_err *err)
{
	for (size_t i = 0; i < opts->nvolumes; i++) {
		const struct nb_run_volume *v = &opts->volumes[i];

		if (!t->disks[i] || v->read_only)
			continue;
		if (nb_copy_sparse(AT_FDCWD, t->disks[i], AT_FDCWD, v->host, err) < 0) {
			nb_template_uncopy_disks(t, opts);
			return nb_err_wrap(err, "snapshot %s: -v %s", t->dir, v->host);
		}
		t->copied |= 1u << i;
		if (opts->confine.has_uid &&
		    chown(v->host, opts->confine.uid,
			  opts->confine.has_gid ? opts->confine.gid : (gid_t)-1) < 0) {
			nb_err_sys(err, "-v %s: chown to --uid", v->host);
			nb_template_uncopy_disks(t, opts);
			return -1;
		}
	}
	return 0;
}

void nb_template_uncopy_disks(struct nb_template *t, const struct nb_run_options *opts)
{
	for (size_t i = 0; i < opts->nvolumes; i++)
		if (t->copied & (1u << i))
			unlink(opts->volumes[i].host);
	t->copied = 0;
}

int nb_template_list(void (*fn)(const struct nb_template *t, void *opaque), void *opaque,
		     struct nb_err *err)
{
	cleanup_free char *root = templates_root(err);
	DIR *d = root ? opendir(root) : NULL;
	struct dirent *e;

	if (!d)
		return root ? nb_err_sys(err, "%s", root) : -1;
	while ((e = readdir(d))) {
		struct nb_template t;
		struct nb_err ignored;
		char *dir = NULL;

		if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp-") ||
		    asprintf(&dir, "%s/%s", root, e->d_name) < 0)
			continue;
		if (read_meta(e->d_name, dir, &t, &ignored) == 0) {
			fn(&t, opaque);
			nb_template_free(&t);
		}
		free(dir);
	}
	closedir(d);
	return 0;
}

int nb_template_remove(const char *name, struct nb_err *err)
{
	cleanup_free char *dir = NULL;

	if (template_dir(name, &dir, err) < 0)
		return -1;
	if (access(dir, F_OK) < 0)
		return nb_err_set(err, 0, "no template '%s'", name);
	if (nb_rm_rf(dir) < 0)
		return nb_err_sys(err, "removing %s", dir);
	return 0;
}
