#include "vmm/confine/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/file.h"
#include "nestbox/cleanup.h"

#define KVM_MAJOR 10
#define KVM_MINOR 232

int nb_jail_paths_add(struct nb_jail_paths *paths, const char *host, bool writable, bool dir,
		      struct nb_err *err)
{
	if (paths->n == NB_JAIL_MAX_PATHS)
		return nb_err_set(err, 0, "--jail: more than %u files to expose",
				  NB_JAIL_MAX_PATHS);
	if (host[0] != '/')
		return nb_err_set(err, 0, "--jail: %s is not an absolute path", host);
	paths->path[paths->n++] = (struct nb_jail_path){ host, writable, dir };
	return 0;
}

/* Bind host at root + host, read-only unless writable. */
static int expose(const char *root, const struct nb_jail_path *p, struct nb_err *err)
{
	char target[PATH_MAX];
	unsigned long ro = p->writable ? 0 : MS_RDONLY;

	if (snprintf(target, sizeof(target), "%s%s", root, p->host) >= (int)sizeof(target))
		return nb_err_set(err, 0, "--jail: path too long: %s", p->host);
	if (nb_mkdir_p(AT_FDCWD, target, 0755, NB_MKDIR_PARENTS, err) < 0)
		return nb_err_wrap(err, "--jail");
	if (p->dir) {
		if (mkdir(target, 0755) < 0 && errno != EEXIST)
			return nb_err_sys(err, "--jail: mkdir %s", target);
	} else {
		int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return nb_err_sys(err, "--jail: creating %s", target);
		close(fd);
	}
	if (mount(p->host, target, NULL, MS_BIND, NULL) < 0)
		return nb_err_sys(err, "--jail: bind-mounting %s", p->host);
	/* Bind mounts take their flags only on a remount. */
	if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC | ro,
		  NULL) < 0)
		return nb_err_sys(err, "--jail: remounting %s", p->host);
	return 0;
}

static int make_dev_kvm(const char *root, unsigned uid, unsigned gid, struct nb_err *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/dev", root);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return nb_err_sys(err, "--jail: mkdir %s", path);
	snprintf(path, sizeof(path), "%s/dev/kvm", root);
	if (mknod(path, S_IFCHR | 0600, makedev(KVM_MAJOR, KVM_MINOR)) < 0 ||
	    chown(path, uid, gid) < 0)
		return nb_err_sys(err, "--jail: creating %s", path);
	return 0;
}

/* /proc of the jail's own PID namespace (where the VMM is PID 1 and alone),
 * pid directories only (subset=pid: no /proc/sys, no kernel knobs),
 * read-only: the VMM's /proc/self/fd for virtio-fs. */
static int mount_proc(const char *root, struct nb_err *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/proc", root);
	if (mkdir(path, 0555) < 0 && errno != EEXIST)
		return nb_err_sys(err, "--jail: mkdir %s", path);
	if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
		  "subset=pid,hidepid=invisible") < 0)
		return nb_err_sys(err, "--jail: mounting /proc for the shared directories");
	return 0;
}

/* The new root: a small tmpfs on dir (nothing is written to the host's
 * dir, and everything vanishes with the mount namespace), then pivot. */
static int build_root(const char *dir, unsigned uid, unsigned gid,
		      const struct nb_jail_paths *paths, struct nb_err *err)
{
	char old[PATH_MAX];

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return nb_err_sys(err, "--jail: making mounts private");
	if (mount("nestbox-jail", dir, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=1m") < 0)
		return nb_err_sys(err, "--jail %s: mounting its tmpfs", dir);
	if (make_dev_kvm(dir, uid, gid, err) < 0)
		return -1;
	/* Directories first: a file inside one (a read-only volume beside the
	 * vsock socket) is then bound over it and keeps its own flags. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < paths->n; i++)
			if (paths->path[i].dir == (pass == 0) &&
			    expose(dir, &paths->path[i], err) < 0)
				return -1;
	if (paths->proc && mount_proc(dir, err) < 0)
		return -1;
	snprintf(old, sizeof(old), "%s/.old-root", dir);
	if (mkdir(old, 0700) < 0)
		return nb_err_sys(err, "--jail: mkdir %s", old);
	if (syscall(SYS_pivot_root, dir, old) < 0)
		return nb_err_sys(err, "--jail %s: pivot_root", dir);
	if (chdir("/") < 0 || umount2("/.old-root", MNT_DETACH) < 0 || rmdir("/.old-root") < 0)
		return nb_err_sys(err, "--jail: leaving the old root");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) < 0)
		return nb_err_sys(err, "--jail: making the root read-only");
	return 0;
}

/* Bounded per VM: a guest cannot make the jailed VMM hold more
 * descriptors (vsock connections, which are also capped in vsock.c) than
 * this plus what the shared directories' tables are bounded to, nor dump
 * core. */
#define JAIL_MAX_FDS 1024

static int set_limits(unsigned extra_fds, struct nb_err *err)
{
	const struct rlimit fds = { JAIL_MAX_FDS + extra_fds, JAIL_MAX_FDS + extra_fds };
	const struct rlimit core = { 0, 0 };

	if (setrlimit(RLIMIT_NOFILE, &fds) < 0 || setrlimit(RLIMIT_CORE, &core) < 0)
		return nb_err_sys(err, "--jail: setrlimit");
	return 0;
}

static int drop_privileges(unsigned uid, unsigned gid, struct nb_err *err)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct none[2] = { 0 };

	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return nb_err_sys(err, "--jail: dropping capability %d", cap);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return nb_err_sys(err, "--jail: clearing ambient capabilities");
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0)
		return nb_err_sys(err, "--jail: becoming gid %u", gid);
	if (setresuid(uid, uid, uid) < 0)
		return nb_err_sys(err, "--jail: becoming uid %u", uid);
	/* A uid change empties the sets, except for uid 0: empty them always. */
	if (syscall(SYS_capset, &hdr, none) < 0)
		return nb_err_sys(err, "--jail: clearing capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return nb_err_sys(err, "--jail: no_new_privs");
	return 0;
}

static int by_value(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every descriptor from 3 up but the kept ones (the gaps between
 * them, in order). */
static void close_other_fds(const struct nb_jail_paths *paths)
{
	int keep[NB_JAIL_MAX_PATHS];
	unsigned from = 3;

	memcpy(keep, paths->keep_fds, paths->nkeep * sizeof(int));
	qsort(keep, paths->nkeep, sizeof(int), by_value);
	for (size_t i = 0; i < paths->nkeep; i++) {
		if (keep[i] < (int)from)
			continue;
		if (keep[i] > (int)from)
			syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0u);
		from = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0u, 0u);
}

int nb_jail_enter(const char *dir, unsigned uid, unsigned gid, const struct nb_jail_paths *paths,
		  struct nb_err *err)
{
	struct stat st;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return nb_err_set(err, 0,
				  "--jail %s: not a directory (create an empty one; nestbox "
				  "mounts a private tmpfs on it and writes nothing there)",
				  dir);
	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
		return nb_err_sys(err, "--jail: new namespaces (nestbox must run as root)");
	if (sethostname("nestbox", 7) < 0)
		return nb_err_sys(err, "--jail: sethostname");
	if (build_root(dir, uid, gid, paths, err) < 0 || set_limits(paths->extra_fds, err) < 0 ||
	    drop_privileges(uid, gid, err) < 0)
		return -1;
	close_other_fds(paths);
	return 0;
}
