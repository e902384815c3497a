#include "guest-init/volumes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "guest-init/sysfs.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

#define SYSFS_WAIT_MS 3000

static void sleep_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- volumes ---------------------------------------------------------------- */

/* mkdir -p under root, refusing symlinks (a hostile image must not aim the
 * mount outside the rootfs). */
static int make_target(const char *root, const char *path, char *out, size_t size,
		       struct nb_err *err)
{
	const char *base = strcmp(root, "/") == 0 ? "" : root;
	int n = snprintf(out, size, "%s%s%s", base, path[0] == '/' ? "" : "/", path);

	if (n < 0 || (size_t)n >= size)
		return nb_err_set(err, 0, "volume path %s is too long", path);
	if (nb_mkdir_p_beneath(out, strlen(base), 0755, err) < 0)
		return nb_err_wrap(err, "volume target");
	return 0;
}

/* FUSE caps a mount's readahead at 128 KiB, a fraction of what one
 * virtio-fs request may carry (the device's max_pages): sequential reads
 * go in requests of up to this instead. */
#define SHARE_READAHEAD_KB 1024

/* Best effort: a share reads as fast with the kernel's default. */
static void share_readahead(const char *target)
{
	char path[64], value[16];
	struct stat st;
	int fd, n;

	if (stat(target, &st) < 0)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", major(st.st_dev),
		 minor(st.st_dev));
	n = snprintf(value, sizeof(value), "%d", SHARE_READAHEAD_KB);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, value, (size_t)n) < 0) {
			/* the default stays */
		}
		close(fd);
	}
}

/* A shared host directory: virtio-fs, its tag the mount source. */
static int mount_share(const char *tag, const char *path, const char *target, unsigned long flags,
		       struct nb_err *err)
{
	if (mount(tag, target, "virtiofs", flags, NULL) < 0)
		return nb_err_sys(err, "volume %s: cannot mount the shared directory %s (virtiofs)",
				  path, tag);
	share_readahead(target);
	return 0;
}

static int mount_volume(const char *root, const char *entry, struct nb_err *err)
{
	char serial[NB_VOLUME_SERIAL_MAX + 1], dev[300], target[4200];
	const char *mode = strchr(entry, ':'), *path = mode ? strchr(mode + 1, ':') : NULL;
	unsigned long flags = MS_NOSUID | MS_NODEV;
	bool share, read_only;

	/* The spec codec checked the shape; copy the serial (or tag) out. */
	if (!path || (size_t)(mode - entry) > NB_VOLUME_SERIAL_MAX)
		return nb_err_set(err, 0, "bad volume entry %s", entry);
	snprintf(serial, sizeof(serial), "%.*s", (int)(mode - entry), entry);
	nb_spec_volume_mode(entry, &share, &read_only);
	if (read_only)
		flags |= MS_RDONLY;
	path++;
	if (share) {
		if (make_target(root, path, target, sizeof(target), err) < 0)
			return -1;
		return mount_share(serial, path, target, flags, err);
	}
	if (nb_sysfs_find_disk(serial, dev, sizeof(dev)) < 0)
		return nb_err_set(err, 0, "volume %s: no virtio disk with serial %s", path, serial);
	if (make_target(root, path, target, sizeof(target), err) < 0)
		return -1;
	/* A read-only disk whose journal needs replay (its last writer never
	 * unmounted it) mounts only without loading the journal. */
	if (mount(dev, target, "ext4", flags, NULL) == 0 ||
	    ((flags & MS_RDONLY) && mount(dev, target, "ext4", flags, "noload") == 0) ||
	    mount(dev, target, "erofs", flags | MS_RDONLY, NULL) == 0)
		return 0;
	return nb_err_sys(err, "volume %s: cannot mount %s (ext4 or erofs)", path, dev);
}

int nb_volumes_mount(const struct nb_spec *spec, struct nb_err *err)
{
	/* An OCI bundle's root share is mounted at the rootfs itself. */
	if (strcmp(spec->rootfs, "/") != 0 && mkdir(spec->rootfs, 0755) < 0 && errno != EEXIST)
		return nb_err_sys(err, "mkdir %s", spec->rootfs);
	for (size_t i = 0; i < spec->nvolumes; i++)
		if (mount_volume(spec->rootfs, spec->volumes[i], err) < 0)
			return -1;
	return 0;
}

void nb_volumes_unmount(const struct nb_spec *spec)
{
	const char *root = strcmp(spec->rootfs, "/") == 0 ? "" : spec->rootfs;

	for (size_t i = spec->nvolumes; i-- > 0;) {
		const char *mode = strchr(spec->volumes[i], ':');
		const char *path = mode ? strchr(mode + 1, ':') : NULL;
		char target[4200];

		if (path &&
		    snprintf(target, sizeof(target), "%s%s", root, path + 1) < (int)sizeof(target))
			umount2(target, 0);
	}
}

/* ---- console ports ------------------------------------------------------------ */

static bool have_virtio_console(void)
{
	DIR *d = opendir("/sys/bus/virtio/devices");
	struct dirent *e;
	bool found = false;

	while (d && !found && (e = readdir(d))) {
		char path[300], id[32];

		snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%s/device", e->d_name);
		found = nb_sysfs_read_line(path, id, sizeof(id)) == 0 && strcmp(id, "0x0003") == 0;
	}
	if (d)
		closedir(d);
	return found;
}

/* /dev/vportNpM of the port called name, once the driver has named it. */
static int find_port(const char *name, char *dev, size_t size)
{
	return nb_sysfs_find_dev("/sys/class/virtio-ports", "", "name", name, dev, size);
}

int nb_console_attach(int *log_fd, int *signal_fd, struct nb_err *err)
{
	static const struct {
		const char *name;
		int fd, flags;
	} ports[] = {
		{ NB_PORT_STDIN, STDIN_FILENO, O_RDONLY },
		{ NB_PORT_STDOUT, STDOUT_FILENO, O_WRONLY },
		{ NB_PORT_STDERR, STDERR_FILENO, O_WRONLY },
		{ NB_PORT_SIGNAL, -1, O_RDONLY | O_NONBLOCK | O_CLOEXEC },
	};
	char dev[4][300];

	*log_fd = STDERR_FILENO;
	*signal_fd = -1;
	if (!have_virtio_console())
		return 0;
	/* The ports are added by the driver's control work after probe:
	 * wait for all four names. */
	for (int waited = 0;; waited += 5) {
		size_t found = 0;

		for (size_t i = 0; i < 4; i++)
			found += find_port(ports[i].name, dev[i], sizeof(dev[i])) == 0;
		if (found == 4)
			break;
		if (waited >= SYSFS_WAIT_MS)
			return nb_err_set(err, 0, "virtio-console ports did not appear in %d ms",
					  SYSFS_WAIT_MS);
		sleep_ms(5);
	}
	*log_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (*log_fd < 0)
		return nb_err_sys(err, "cannot keep the console");
	for (size_t i = 0; i < 4; i++) {
		int fd = open(dev[i], ports[i].flags | O_NOCTTY);

		if (fd < 0)
			return nb_err_sys(err, "cannot open %s (%s)", dev[i], ports[i].name);
		if (ports[i].fd < 0) { /* init's own, never the workload's */
			*signal_fd = fd;
			continue;
		}
		if (fd != ports[i].fd && (dup2(fd, ports[i].fd) < 0 || close(fd) < 0))
			return nb_err_sys(err, "cannot attach %s", ports[i].name);
	}
	return 0;
}
