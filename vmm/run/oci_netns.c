#include "vmm/run/oci_netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/file.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/hostnet/hostnet.h"
#include "vmm/hostnet/nsnet.h"
#include "vmm/virtio/net.h"

static int enter(const char *path, struct nb_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return nb_err_sys(err, "network namespace %s", path);
	if (setns(fd, CLONE_NEWNET) < 0)
		return nb_err_sys(err, "network namespace %s: cannot enter it", path);
	return 0;
}

/* eth0 as the guest takes it: the interface's address and MAC. */
static void describe(struct nb_oci_bundle *b, const struct nb_nsnet *ns, int tap_fd)
{
	struct nb_run_net *net = &b->opts.net;

	net->tap = NB_OCI_TAP;
	net->tap_fd = tap_fd;
	net->ipv4 = ns->ipv4;
	net->prefix = ns->prefix;
	net->gateway = ns->gateway;
	memcpy(net->mac, ns->mac, sizeof(net->mac));
	net->has_mac = true;
	if (b->resolv_conf)
		net->ndns = nb_hostnet_dns(b->resolv_conf, net->dns);
	/* the guest's own namespace holds eth0: the container shares it */
	b->opts.container.namespaces &= ~(uint32_t)NB_NS_NET;
}

static int write_state(const char *state_dir, const char *text, size_t len, struct nb_err *err)
{
	cleanup_close int dir = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dir < 0)
		return nb_err_sys(err, "%s", state_dir);
	return nb_file_write_atomic(dir, NB_OCI_NETNS_FILE, NULL, text, len, 0600, err);
}

int nb_oci_netns_join(struct nb_oci_bundle *b, const char *state_dir, struct nb_err *err)
{
	struct nb_nsnet ns;
	bool created = false;
	char text[4200 + IF_NAMESIZE];
	int fd, n;

	if (!b->netns)
		return 0;
	if (enter(b->netns, err) < 0 || nb_nsnet_scan(&ns, err) < 0)
		return nb_err_wrap(err, "network namespace %s", b->netns);
	if (ns.nlinks == 0)
		return 0;
	if (ns.gateway && (ns.gateway ^ ns.ipv4) >> (32 - ns.prefix))
		ns.gateway = 0; /* a gateway off the subnet: the guest cannot reach it */
	n = snprintf(text, sizeof(text), "%s\n%s\n", b->netns, ns.name);
	if (n < 0 || (size_t)n >= sizeof(text))
		return nb_err_set(err, 0, "network namespace %.64s...: path too long", b->netns);
	if (write_state(state_dir, text, (size_t)n, err) < 0)
		return -1;
	fd = nb_tap_open(NB_OCI_TAP, &created, err);
	if (fd >= 0 && !created) {
		close(fd);
		return nb_err_set(err, 0, "network namespace %s has a %s already", b->netns,
				  NB_OCI_TAP);
	}
	if (fd < 0 || nb_nsnet_connect(&ns, NB_OCI_TAP, err) < 0) {
		if (fd >= 0)
			close(fd);
		return nb_err_wrap(err, "network namespace %s: connecting %s", b->netns, ns.name);
	}
	describe(b, &ns, fd);
	return 0;
}

int nb_oci_netns_release(const char *state_dir, struct nb_err *err)
{
	cleanup_close int dir = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *text = NULL;
	char *name, *end;
	size_t len;
	int ws = 0;
	pid_t pid;

	if (dir < 0 ||
	    nb_file_read(dir, NB_OCI_NETNS_FILE, 4200 + IF_NAMESIZE, &text, &len, err) < 0)
		return 0; /* never joined (or its state went with a crash) */
	name = memchr(text, '\n', len);
	end = name ? memchr(name + 1, '\n', len - (size_t)(name + 1 - text)) : NULL;
	if (!name || !end || end - name - 1 < 1 || end - name - 1 >= IF_NAMESIZE ||
	    memchr(text, '\0', len))
		return nb_err_set(err, 0, "%s/%s: malformed", state_dir, NB_OCI_NETNS_FILE);
	*name++ = '\0';
	*end = '\0';
	pid = fork();
	if (pid == 0) {
		struct nb_err e;

		/* a namespace the engine removed took the redirect with it */
		if (access(text, F_OK) < 0)
			_exit(0);
		_exit(enter(text, &e) < 0 || nb_nsnet_disconnect(name, &e) < 0 ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &ws, 0) < 0)
		return nb_err_sys(err, "fork");
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
		return nb_err_set(err, 0,
				  "network namespace %s: cannot remove the redirect from %s", text,
				  name);
	return 0;
}
