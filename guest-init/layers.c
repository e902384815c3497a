#include "guest-init/layers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

#define LAYER_DIR "/nestbox/l"   /* each layer at /nestbox/l/N */
#define RW_DIR "/nestbox/rw"     /* tmpfs: upper and work */

static int read_serial(const char *disk, char *buf, size_t size)
{
	char path[300];
	cleanup_close int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/block/%s/serial", disk);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, size - 1);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* disks[N] = "vdX" for serial NB_LAYER_SERIAL<N>; returns the count, which
 * must be gap-free from 0. */
static int find_layers(char disks[][16], struct nb_err *err)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;
	size_t prefix = strlen(NB_LAYER_SERIAL);
	int n = 0, max = -1;

	while (d && (e = readdir(d))) {
		char serial[64], *end;
		long idx;

		if (strncmp(e->d_name, "vd", 2) != 0 || strlen(e->d_name) >= 16 ||
		    read_serial(e->d_name, serial, sizeof(serial)) < 0 ||
		    strncmp(serial, NB_LAYER_SERIAL, prefix) != 0)
			continue;
		idx = strtol(serial + prefix, &end, 10);
		if (end == serial + prefix || *end || idx < 0 || idx >= (long)NB_MAX_LAYERS ||
		    disks[idx][0]) {
			closedir(d);
			return nb_err_set(err, 0, "layer disk %s has a bad or repeated serial '%s'",
					  e->d_name, serial);
		}
		memcpy(disks[idx], e->d_name, strlen(e->d_name) + 1);
		n++;
		max = idx > max ? (int)idx : max;
	}
	if (d)
		closedir(d);
	if (n != max + 1)
		return nb_err_set(err, 0, "layer disks are not numbered 0..%d without gaps", max);
	return n;
}

static int mount_layer(int i, const char *disk, struct nb_err *err)
{
	char dev[32], target[64];

	if (snprintf(dev, sizeof(dev), "/dev/%s", disk) >= (int)sizeof(dev))
		return nb_err_set(err, 0, "layer disk name %s is too long", disk);
	snprintf(target, sizeof(target), LAYER_DIR "/%d", i);
	if (mkdir(target, 0755) < 0 && errno != EEXIST)
		return nb_err_sys(err, "mkdir %s", target);
	if (mount(dev, target, "erofs", MS_RDONLY, NULL) < 0)
		return nb_err_sys(err, "mount layer %d (%s, erofs)", i, dev);
	return 0;
}

int nb_layers_mount(const char *root, struct nb_err *err)
{
	static char disks[NB_MAX_LAYERS][16];
	char opts[NB_MAX_LAYERS * 24 + 128];
	size_t len;
	int n = find_layers(disks, err);

	if (n <= 0)
		return n;
	if (strcmp(root, "/") == 0)
		return nb_err_set(err, 0, "%d image layers but the spec's rootfs is /", n);
	if ((mkdir("/nestbox", 0755) < 0 && errno != EEXIST) ||
	    (mkdir(LAYER_DIR, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(RW_DIR, 0755) < 0 && errno != EEXIST))
		return nb_err_sys(err, "layer mount points");
	for (int i = 0; i < n; i++)
		if (mount_layer(i, disks[i], err) < 0)
			return -1;
	/* overlayfs cannot take its upper layer from the initramfs (rootfs). */
	if (mount("tmpfs", RW_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0 ||
	    mkdir(RW_DIR "/upper", 0755) < 0 || mkdir(RW_DIR "/work", 0755) < 0)
		return nb_err_sys(err, "layer upper tmpfs");
	/* lowerdir lists the top layer first. */
	len = (size_t)snprintf(opts, sizeof(opts), "lowerdir=");
	for (int i = n - 1; i >= 0; i--)
		len += (size_t)snprintf(opts + len, sizeof(opts) - len, "%s" LAYER_DIR "/%d",
					i == n - 1 ? "" : ":", i);
	snprintf(opts + len, sizeof(opts) - len, ",upperdir=" RW_DIR "/upper,workdir=" RW_DIR
		 "/work");
	if (mkdir(root, 0755) < 0 && errno != EEXIST)
		return nb_err_sys(err, "mkdir %s", root);
	if (mount("overlay", root, "overlay", 0, opts) < 0)
		return nb_err_sys(err, "overlay of %d image layers at %s", n, root);
	return 0;
}
