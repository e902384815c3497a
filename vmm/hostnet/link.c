#include "vmm/hostnet/link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nestbox/cleanup.h"

bool nb_link_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

static int ctl_socket(struct nb_err *err)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return nb_err_sys(err, "socket");
	return s;
}

static void name_ifr(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, IFNAMSIZ, "%s", name);
}

static int set_up(int s, const char *name, bool up, struct nb_err *err)
{
	struct ifreq ifr;

	name_ifr(&ifr, name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return nb_err_sys(err, "%s", name);
	ifr.ifr_flags = (short)(up ? ifr.ifr_flags | IFF_UP : ifr.ifr_flags & ~IFF_UP);
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return nb_err_sys(err, "cannot bring %s %s", name, up ? "up" : "down");
	return 0;
}

static int set_addr(int s, const char *name, unsigned long req, uint32_t addr, struct nb_err *err)
{
	struct ifreq ifr;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(addr) };

	name_ifr(&ifr, name);
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	if (ioctl(s, req, &ifr) < 0)
		return nb_err_sys(err, "cannot set the address of %s", name);
	return 0;
}

static int sysctl_set(const char *path, struct nb_err *err)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "1\n", 2) != 2)
		return nb_err_sys(err, "cannot set %s to 1", path);
	return 0;
}

int nb_bridge_up(const struct nb_netdef *def, struct nb_err *err)
{
	cleanup_close int s = ctl_socket(err);
	char path[96];

	if (s < 0)
		return -1;
	if (ioctl(s, SIOCBRADDBR, def->bridge) < 0 && errno != EEXIST)
		return nb_err_sys(err,
				  "cannot create bridge %s for network %s (run as root, with "
				  "the bridge module)",
				  def->bridge, def->name);
	if (set_addr(s, def->bridge, SIOCSIFADDR, def->gateway, err) < 0 ||
	    set_addr(s, def->bridge, SIOCSIFNETMASK, nb_prefix_mask(def->prefix), err) < 0 ||
	    set_up(s, def->bridge, true, err) < 0)
		return nb_err_wrap(err, "network %s", def->name);
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", def->bridge);
	if (sysctl_set("/proc/sys/net/ipv4/ip_forward", err) < 0 || sysctl_set(path, err) < 0)
		return nb_err_wrap(err, "network %s", def->name);
	return 0;
}

int nb_bridge_remove(const char *bridge, struct nb_err *err)
{
	cleanup_close int s = ctl_socket(err);

	if (s < 0)
		return -1;
	if (!nb_link_exists(bridge))
		return 0;
	set_up(s, bridge, false, err);
	if (ioctl(s, SIOCBRDELBR, bridge) < 0 && errno != ENXIO && errno != ENODEV)
		return nb_err_sys(err, "cannot remove bridge %s", bridge);
	return 0;
}

int nb_bridge_attach(const char *bridge, const char *tap, struct nb_err *err)
{
	cleanup_close int s = ctl_socket(err);
	struct ifreq ifr;

	if (s < 0)
		return -1;
	name_ifr(&ifr, bridge);
	ifr.ifr_ifindex = (int)if_nametoindex(tap);
	if (!ifr.ifr_ifindex || ioctl(s, SIOCBRADDIF, &ifr) < 0)
		return nb_err_sys(err, "cannot attach %s to bridge %s", tap, bridge);
	return set_up(s, tap, true, err);
}
