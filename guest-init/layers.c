#include "guest-init/layers.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest-init/sysfs.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

#define LAYER_DIR "/nestbox/l" /* each layer at /nestbox/l/N */
#define RW_DIR "/nestbox/rw"   /* tmpfs: upper and work */
#define LOOP_TRIES 8           /* LOOP_CTL_GET_FREE races with nobody, but be sure */
/* Each layer's readahead (512-byte sectors): 1 MiB, not the kernel's
 * 128 KiB. Every read is a virtio-blk request through the VMM, costly in
 * exits; an exec's first page faults then read a program in a few large
 * requests (measured in the test host: a cold busybox's execve to its
 * first output 166 -> 107 ms, median of 8 alternated runs). */
#define LAYER_READAHEAD_SECTORS 2048

/* The disk whose serial is NB_LAYER_SERIAL ("/dev/vdX" in dev), and its
 * size in bytes. */
static int find_layer_disk(char *dev, size_t size, uint64_t *bytes, struct nb_err *err)
{
	char path[300], line[64];

	if (nb_sysfs_find_disk(NB_LAYER_SERIAL, dev, size) == 0) {
		snprintf(path, sizeof(path), "/sys/block/%s/size", dev + strlen("/dev/"));
		if (nb_sysfs_read_line(path, line, sizeof(line)) == 0 &&
		    sscanf(line, "%" SCNu64, bytes) == 1 && *bytes <= NB_LAYER_MAX_DISK / 512) {
			*bytes *= 512;
			return 0;
		}
	}
	return nb_err_set(err, 0,
			  "the spec lists image layers but there is no readable "
			  "disk with serial %s",
			  NB_LAYER_SERIAL);
}

/* A fresh read-only loop device over [l->offset, +l->size) of disk_fd;
 * its path goes to dev. Direct I/O: the data is cached once, by erofs.
 * Its readahead is LAYER_READAHEAD_SECTORS (a kernel that refuses keeps
 * its own: slower, not wrong). */
static int attach_loop(int ctl, int disk_fd, const struct nb_spec_layer *l, char *dev, size_t size,
		       struct nb_err *err)
{
	struct loop_config cfg = {
		.fd = (uint32_t)disk_fd,
		.info = { .lo_offset = l->offset,
			  .lo_sizelimit = l->size,
			  .lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_DIRECT_IO },
	};

	for (int tries = 0; tries < LOOP_TRIES; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		cleanup_close int fd = -1;

		if (n < 0)
			return nb_err_sys(err, "/dev/loop-control: no free loop device");
		snprintf(dev, size, "/dev/loop%d", n);
		fd = open(dev, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return nb_err_sys(err, "%s", dev);
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
			if (ioctl(fd, BLKRASET, (unsigned long)LAYER_READAHEAD_SECTORS) < 0) {
				/* the default readahead: see above */
			}
			return 0;
		}
		if (errno != EBUSY)
			return nb_err_sys(err, "%s: LOOP_CONFIGURE", dev);
	}
	return nb_err_set(err, 0, "every free loop device was taken before it could be used");
}

static int mount_layer(size_t i, int ctl, int disk_fd, const struct nb_spec_layer *l,
		       struct nb_err *err)
{
	char dev[32], target[64];

	snprintf(target, sizeof(target), LAYER_DIR "/%zu", i);
	if (mkdir(target, 0755) < 0 && errno != EEXIST)
		return nb_err_sys(err, "mkdir %s", target);
	if (attach_loop(ctl, disk_fd, l, dev, sizeof(dev), err) < 0)
		return nb_err_wrap(err, "layer %zu", i);
	if (mount(dev, target, "erofs", MS_RDONLY, NULL) < 0)
		return nb_err_sys(err, "mount layer %zu (%s at offset %" PRIu64 ", erofs)", i, dev,
				  l->offset);
	return 0;
}

/* The spec's table was checked by the decoder (aligned, ordered, bounded);
 * what the decoder cannot know is the disk: every layer must lie on it. */
static int mount_all(const struct nb_spec *spec, const char *dev, uint64_t disk_bytes,
		     struct nb_err *err)
{
	const struct nb_spec_layer *top = &spec->layers[spec->nlayers - 1];
	cleanup_close int disk_fd = -1;
	cleanup_close int ctl = -1;

	if (top->offset + top->size > disk_bytes)
		return nb_err_set(err, 0,
				  "the spec's layer %zu ends at byte %" PRIu64 ", past the "
				  "%" PRIu64 "-byte layer disk",
				  spec->nlayers - 1, top->offset + top->size, disk_bytes);
	disk_fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (disk_fd < 0)
		return nb_err_sys(err, "layer disk %s", dev);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return nb_err_sys(err, "/dev/loop-control (a guest kernel without "
				       "CONFIG_BLK_DEV_LOOP?)");
	for (size_t i = 0; i < spec->nlayers; i++)
		if (mount_layer(i, ctl, disk_fd, &spec->layers[i], err) < 0)
			return -1;
	return 0;
}

static int mount_overlay(const char *root, size_t n, struct nb_err *err)
{
	char opts[NB_MAX_LAYERS * 24 + 128];
	size_t len;

	/* overlayfs cannot take its upper layer from the initramfs (rootfs). */
	if (mount("tmpfs", RW_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0 ||
	    mkdir(RW_DIR "/upper", 0755) < 0 || mkdir(RW_DIR "/work", 0755) < 0)
		return nb_err_sys(err, "layer upper tmpfs");
	/* lowerdir lists the top layer first. */
	len = (size_t)snprintf(opts, sizeof(opts), "lowerdir=");
	for (size_t i = n; i-- > 0;)
		len += (size_t)snprintf(opts + len, sizeof(opts) - len, "%s" LAYER_DIR "/%zu",
					i == n - 1 ? "" : ":", i);
	snprintf(opts + len, sizeof(opts) - len,
		 ",upperdir=" RW_DIR "/upper,workdir=" RW_DIR "/work");
	if (mkdir(root, 0755) < 0 && errno != EEXIST)
		return nb_err_sys(err, "mkdir %s", root);
	if (mount("overlay", root, "overlay", 0, opts) < 0)
		return nb_err_sys(err, "overlay of %zu image layers at %s", n, root);
	return 0;
}

int nb_layers_mount(const struct nb_spec *spec, struct nb_err *err)
{
	char disk[32];
	uint64_t disk_bytes = 0;

	if (spec->nlayers == 0)
		return 0;
	if (strcmp(spec->rootfs, "/") == 0)
		return nb_err_set(err, 0, "%zu image layers but the spec's rootfs is /",
				  spec->nlayers);
	if ((mkdir("/nestbox", 0755) < 0 && errno != EEXIST) ||
	    (mkdir(LAYER_DIR, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(RW_DIR, 0755) < 0 && errno != EEXIST))
		return nb_err_sys(err, "layer mount points");
	if (find_layer_disk(disk, sizeof(disk), &disk_bytes, err) < 0 ||
	    mount_all(spec, disk, disk_bytes, err) < 0)
		return -1;
	return mount_overlay(spec->rootfs, spec->nlayers, err);
}
