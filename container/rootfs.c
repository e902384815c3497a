/* The container's root file system, set up in the child's own mount
 * namespace (a copy of init's):
 *
 *  1. everything private, the rootfs bind-mounted onto itself (a mount of
 *     its own, so it can move and be remounted read-only);
 *  2. inside it: /proc, a minimal /dev on tmpfs, /sys read-only, the
 *     container's cgroup read-only, runc's masked and read-only paths,
 *     the --tmpfs mounts;
 *  3. init's own entries in the initramfs root (/init, /nestbox with the
 *     spec, init's /proc /sys /dev) covered by empty read-only mounts, in
 *     this namespace only;
 *  4. the switch: pivot_root where the kernel allows it; it never does
 *     while the namespace's root is the initramfs (rootfs cannot be
 *     unmounted, so pivot_root(2) says EINVAL). Then, as crun and runc's
 *     no_pivot do, MS_MOVE the rootfs onto / and chroot. A chroot can be
 *     escaped with CAP_SYS_CHROOT; step 3 is why the escape finds nothing
 *     of init's there.
 *
 * Paths come from a hostile image: mount targets are created or checked
 * with lstat so a symlink cannot aim a mount outside the rootfs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/file.h"
#include "common/tmpfs.h"
#include "container/container.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

#define PATH_BUF 4352 /* a rootfs path plus an NB_SPEC_MAX_PATH path */

static int join(char *out, const char *root, const char *path, struct nb_err *err)
{
	int n = snprintf(out, PATH_BUF, "%s%s", strcmp(root, "/") == 0 ? "" : root, path);

	if (n < 0 || n >= PATH_BUF)
		return nb_err_set(err, 0, "path %s%s is too long", root, path);
	return 0;
}

/* Create each component of path below root as a directory, refusing
 * symlinks and non-directories on the way. */
static int make_dirs(const char *root, const char *path, struct nb_err *err)
{
	char full[PATH_BUF];
	size_t base;

	if (join(full, root, "", err))
		return -1;
	base = strlen(full);
	if (join(full, root, path, err))
		return -1;
	return nb_mkdir_p_beneath(full, base, 0755, err);
}

static int do_mount(const char *src, const char *target, const char *type, unsigned long flags,
		    const char *data, struct nb_err *err)
{
	if (mount(src, target, type, flags, data) < 0)
		return nb_err_sys(err, "cannot mount %s on %s",
				  type  ? type
				  : src ? src
					: "(remount)",
				  target);
	return 0;
}

static int remount_ro(const char *target, unsigned long flags, struct nb_err *err)
{
	return do_mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | flags, NULL, err);
}

/* ---- /dev ----------------------------------------------------------------- */

static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };

/* Bind init's device nodes rather than mknod: works in a user namespace too. */
static int bind_dev_node(const char *dev, const char *name, struct nb_err *err)
{
	char src[64], dst[PATH_BUF];
	int fd;

	snprintf(src, sizeof(src), "/dev/%s", name);
	if (join(dst, dev, "/", err))
		return -1;
	strncat(dst, name, sizeof(dst) - strlen(dst) - 1);
	fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (fd < 0)
		return nb_err_sys(err, "cannot create %s", dst);
	close(fd);
	return do_mount(src, dst, NULL, MS_BIND, NULL, err);
}

static int setup_dev(const char *root, struct nb_err *err)
{
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" },       { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },          { "/proc/kcore", "core" },
	};
	char dev[PATH_BUF], path[PATH_BUF];

	if (make_dirs(root, "/dev", err) || join(dev, root, "/dev", err) ||
	    do_mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC | MS_STRICTATIME,
		     "mode=755,size=65536k", err))
		return -1;
	for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++)
		if (bind_dev_node(dev, dev_nodes[i], err))
			return -1;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (join(path, dev, "/", err))
			return -1;
		strncat(path, links[i][1], sizeof(path) - strlen(path) - 1);
		if (symlink(links[i][0], path) < 0)
			return nb_err_sys(err, "cannot create %s", path);
	}
	if (join(path, dev, "/pts", err) ||
	    (mkdir(path, 0755) < 0 && nb_err_sys(err, "cannot create %s", path)) ||
	    do_mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
		     "newinstance,ptmxmode=0666,mode=0620", err))
		return -1;
	if (join(path, dev, "/shm", err) ||
	    (mkdir(path, 01777) < 0 && nb_err_sys(err, "cannot create %s", path)) ||
	    do_mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		     "mode=1777,size=65536k", err))
		return -1;
	if (join(path, dev, "/mqueue", err) == 0 && mkdir(path, 0755) == 0)
		mount("mqueue", path, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	return 0;
}

/* ---- /proc, /sys, cgroup ---------------------------------------------------- */

/* runc's defaults (libcontainer/specconv): hidden, and read-only. */
static const char *const masked_paths[] = {
	"/proc/acpi",       "/proc/asound",      "/proc/interrupts",
	"/proc/kcore",      "/proc/keys",        "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi",       "/sys/firmware",     "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static int mask_path(const char *root, const char *path, struct nb_err *err)
{
	char full[PATH_BUF], null_dev[PATH_BUF];
	struct stat st;

	if (join(full, root, path, err) || join(null_dev, root, "/dev/null", err))
		return -1;
	if (lstat(full, &st) < 0)
		return errno == ENOENT ? 0 : nb_err_sys(err, "cannot mask %s", path);
	if (S_ISDIR(st.st_mode))
		return do_mount("tmpfs", full, "tmpfs",
				MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=000",
				err);
	return do_mount(null_dev, full, NULL, MS_BIND, NULL, err);
}

static int readonly_path(const char *root, const char *path, struct nb_err *err)
{
	char full[PATH_BUF];
	struct stat st;

	if (join(full, root, path, err))
		return -1;
	if (lstat(full, &st) < 0)
		return errno == ENOENT ? 0 : nb_err_sys(err, "cannot protect %s", path);
	if (do_mount(full, full, NULL, MS_BIND | MS_REC, NULL, err))
		return -1;
	return remount_ro(full, MS_NOSUID | MS_NODEV | MS_NOEXEC, err);
}

static int setup_proc_sys(const char *root, const struct nb_spec *spec, struct nb_err *err)
{
	const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
	char path[PATH_BUF];

	if (make_dirs(root, "/proc", err) || join(path, root, "/proc", err) ||
	    do_mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err))
		return -1;
	if (make_dirs(root, "/sys", err) || join(path, root, "/sys", err))
		return -1;
	/* sysfs needs a network namespace owned by our user namespace; with
	 * a user namespace but no network one, bind init's (read-only). */
	if (mount("sysfs", path, "sysfs", ro, NULL) < 0) {
		if (!(spec->namespaces & NB_NS_USER) || errno != EPERM)
			return nb_err_sys(err, "cannot mount sysfs on %s", path);
		if (do_mount("/sys", path, NULL, MS_BIND | MS_REC, NULL, err) ||
		    remount_ro(path, MS_NOSUID | MS_NODEV | MS_NOEXEC, err))
			return -1;
	}
	if (join(path, root, "/sys/fs/cgroup", err))
		return -1;
	if (mount("cgroup2", path, "cgroup2", ro, NULL) < 0) {
		/* In a user namespace the kernel may refuse a new cgroup2
		 * mount (EBUSY, EPERM); the recursive bind of /sys above
		 * brought the guest's along: make that read-only too (its
		 * files are uid 0's, which the mapped root is). */
		if (!(spec->namespaces & NB_NS_USER) || (errno != EBUSY && errno != EPERM))
			return nb_err_sys(err, "cannot mount cgroup2 on %s", path);
		if (remount_ro(path, MS_NOSUID | MS_NODEV | MS_NOEXEC, err))
			return -1;
	}
	for (size_t i = 0; i < sizeof(masked_paths) / sizeof(masked_paths[0]); i++)
		if (mask_path(root, masked_paths[i], err))
			return -1;
	for (size_t i = 0; i < sizeof(readonly_paths) / sizeof(readonly_paths[0]); i++)
		if (readonly_path(root, readonly_paths[i], err))
			return -1;
	return 0;
}

static int setup_tmpfs(const char *root, const struct nb_spec *spec, struct nb_err *err)
{
	char path[PATH_BUF];

	for (size_t i = 0; i < spec->ntmpfs; i++) {
		struct nb_tmpfs_mount m;

		if (nb_tmpfs_parse(spec->tmpfs[i], &m, err) || make_dirs(root, m.path, err) ||
		    join(path, root, m.path, err) ||
		    do_mount("tmpfs", path, "tmpfs", m.flags, m.data, err))
			return nb_err_wrap(err, "--tmpfs");
	}
	return 0;
}

/* ---- hiding init ---------------------------------------------------------------- */

/* Cover every entry of the initramfs root but the rootfs itself. Covering,
 * not unmounting: in a user namespace init's mounts are locked. */
static int hide_init(const char *root, struct nb_err *err)
{
	char rootname[256]; /* the top-level entry that holds the rootfs */
	DIR *d;
	struct dirent *e;
	int rc = 0;
	char path[PATH_BUF], null_dev[PATH_BUF];

	snprintf(rootname, sizeof(rootname), "%.*s", (int)strcspn(root + 1, "/"), root + 1);
	if (join(null_dev, root, "/dev/null", err))
		return -1;
	d = opendir("/");
	if (!d)
		return nb_err_sys(err, "cannot list /");
	while (rc == 0 && (e = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, rootname) == 0)
			continue;
		snprintf(path, sizeof(path), "/%s", e->d_name);
		if (lstat(path, &st) < 0 || S_ISLNK(st.st_mode))
			continue;
		if (S_ISDIR(st.st_mode))
			rc = do_mount("tmpfs", path, "tmpfs",
				      MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
				      "size=0,mode=000", err);
		else
			rc = do_mount(null_dev, path, NULL, MS_BIND, NULL, err);
	}
	closedir(d);
	return rc;
}

/* ---- the switch ---------------------------------------------------------------- */

static int switch_root(const char *root, struct nb_err *err)
{
	if (chdir(root) < 0)
		return nb_err_sys(err, "rootfs %s", root);
	/* runc's trick: the old root stacks under the new one at "."; then
	 * detach it. */
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH) < 0)
			return nb_err_sys(err, "cannot detach the old root");
		return chdir("/") < 0 ? nb_err_sys(err, "chdir /") : 0;
	}
	if (errno != EINVAL)
		return nb_err_sys(err, "pivot_root into %s", root);
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return nb_err_sys(err, "cannot move %s onto /", root);
	if (chroot(".") < 0 || chdir("/") < 0)
		return nb_err_sys(err, "cannot chroot into %s", root);
	return 0;
}

int nb_rootfs_enter(const struct nb_spec *spec, struct nb_err *err)
{
	const char *root = spec->rootfs;

	if (strcmp(root, "/") == 0)
		return nb_err_set(err, 0, "a container needs a rootfs other than /");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return nb_err_sys(err, "cannot make mounts private");
	if (do_mount(root, root, NULL, MS_BIND | MS_REC, NULL, err) || setup_dev(root, err) ||
	    setup_proc_sys(root, spec, err) || setup_tmpfs(root, spec, err) ||
	    hide_init(root, err) || switch_root(root, err))
		return nb_err_wrap(err, "rootfs");
	if (spec->read_only && remount_ro("/", MS_NOSUID, err))
		return nb_err_wrap(err, "--read-only");
	return 0;
}
