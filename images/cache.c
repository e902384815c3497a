#define _XOPEN_SOURCE 700
#include "images/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/file.h"
#include "nestbox/cleanup.h"

static char *cache_root(void)
{
	const char *env = getenv("NESTBOX_CACHE_DIR");
	char *path = NULL;

	if (env && *env)
		return strdup(env);
	env = getenv("XDG_CACHE_HOME");
	if (env && *env == '/')
		return asprintf(&path, "%s/nestbox", env) < 0 ? NULL : path;
	env = getenv("HOME");
	if (!env || *env != '/')
		return NULL;
	return asprintf(&path, "%s/.cache/nestbox", env) < 0 ? NULL : path;
}

int nb_lock_file(const char *path, bool exclusive, struct nb_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return nb_err_sys(err, "cannot open lock %s", path);
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
		if (errno != EINTR) {
			nb_err_sys(err, "cannot lock %s", path);
			close(fd);
			return -1;
		}
	}
	return fd;
}

int nb_cache_open(struct nb_cache *c, bool exclusive, struct nb_err *err)
{
	cleanup_free char *lock = NULL;

	*c = (struct nb_cache){ .lock_fd = -1 };
	c->root = cache_root();
	if (!c->root)
		return nb_err_set(err, 0, "no cache directory: set HOME or XDG_CACHE_HOME");
	if (asprintf(&c->layers, "%s/layers", c->root) < 0 ||
	    asprintf(&c->blobs, "%s/blobs/sha256", c->root) < 0 ||
	    asprintf(&c->tmp, "%s/tmp", c->root) < 0 || asprintf(&lock, "%s/lock", c->root) < 0) {
		nb_cache_close(c);
		return nb_err_set(err, ENOMEM, "cache paths");
	}
	if (nb_mkdir_p(AT_FDCWD, c->layers, 0755, 0, err) < 0 ||
	    nb_mkdir_p(AT_FDCWD, c->blobs, 0755, 0, err) < 0 ||
	    nb_mkdir_p(AT_FDCWD, c->tmp, 0755, 0, err) < 0 ||
	    (c->lock_fd = nb_lock_file(lock, exclusive, err)) < 0) {
		nb_cache_close(c);
		return nb_err_wrap(err, "image cache");
	}
	if (exclusive)
		nb_cache_clean_tmp(c, "");
	return 0;
}

void nb_cache_close(struct nb_cache *c)
{
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	free(c->root);
	free(c->layers);
	free(c->blobs);
	free(c->tmp);
	*c = (struct nb_cache){ .lock_fd = -1 };
}

char *nb_cache_layer_path(const struct nb_cache *c, const struct nb_digest *d)
{
	char *p;

	return asprintf(&p, "%s/sha256-%s.erofs", c->layers, d->hex) < 0 ? NULL : p;
}

char *nb_cache_blob_path(const struct nb_cache *c, const struct nb_digest *d)
{
	char *p;

	return asprintf(&p, "%s/%s", c->blobs, d->hex) < 0 ? NULL : p;
}

int nb_cache_put_blob(const struct nb_cache *c, const struct nb_digest *d, const void *data,
		      size_t len, struct nb_err *err)
{
	cleanup_free char *path = nb_cache_blob_path(c, d);
	cleanup_free char *tmp = NULL;

	if (!path || asprintf(&tmp, "%s/blob-%s.%d", c->tmp, d->hex, (int)getpid()) < 0)
		return nb_err_set(err, ENOMEM, "blob path");
	if (nb_digest_check("blob", d, -1, data, len, err) < 0)
		return -1;
	if (access(path, F_OK) == 0)
		return 0;
	return nb_file_write_atomic(AT_FDCWD, path, tmp, data, len, 0644, err);
}

int nb_cache_get_blob(const struct nb_cache *c, const struct nb_digest *d, size_t max, char **data,
		      size_t *len, struct nb_err *err)
{
	cleanup_free char *path = nb_cache_blob_path(c, d);
	cleanup_close int fd = -1;
	cleanup_free char *buf = NULL;

	if (!path)
		return nb_err_set(err, ENOMEM, "blob path");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nb_err_sys(err, "blob sha256:%.12s is not in the cache", d->hex);
	if (nb_file_read_fd(fd, max, &buf, len, err) < 0)
		return nb_err_wrap(err, "cached blob sha256:%.12s", d->hex);
	if (nb_digest_check("cached blob", d, -1, buf, *len, err) < 0)
		return nb_err_wrap(err, "cache is corrupt (remove %s)", path);
	*data = NB_STEAL(buf, NULL);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	/* Best effort: what cannot go is found by the caller's lstat. */
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

int nb_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	return lstat(path, &st) == 0 ? -1 : 0;
}

/* ---- where a layer's tree is unpacked ------------------------------------ */

#define TREE_LINK "tree"
#define STAGE_PREFIX "nestbox-stage."
#define PROBE_XATTR "trusted.overlay.opaque"

/* Can dir hold a layer's tree: device nodes (overlayfs whiteouts), owners,
 * trusted xattrs (opaque directories)? The errno of the first refusal, or 0.
 * 9p, NFS and vfat refuse some of these; ext4, xfs, btrfs, tmpfs do not. */
static int tree_support(const char *dir)
{
	cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int e = 0;

	if (fd < 0)
		return errno;
	if (mknodat(fd, ".nb-probe", S_IFCHR | 0600, makedev(0, 0)) < 0)
		return errno;
	if (fchownat(fd, ".nb-probe", 1, 1, AT_SYMLINK_NOFOLLOW) < 0)
		e = errno;
	unlinkat(fd, ".nb-probe", 0);
	if (e == 0 && fsetxattr(fd, PROBE_XATTR, "y", 1, 0) < 0)
		e = errno;
	else if (e == 0)
		fremovexattr(fd, PROBE_XATTR);
	return e;
}

/* A stage outside the cache, named by the link first so that a crash at
 * any point leaves a link for the cleaner to follow, never an orphan. */
static char *stage_in(const char *base, const char *link)
{
	for (int tries = 0; tries < 8; tries++) {
		uint64_t r;
		char *dir;
		if (getrandom(&r, sizeof(r), 0) != sizeof(r) ||
		    asprintf(&dir, "%s/" STAGE_PREFIX "%016llx", base, (unsigned long long)r) < 0)
			return NULL;
		unlink(link);
		if (symlink(dir, link) == 0 && mkdir(dir, 0755) == 0) {
			if (chmod(dir, 0755) == 0 && tree_support(dir) == 0)
				return dir;
			rmdir(dir);
			free(dir);
			break;
		}
		free(dir);
		if (errno != EEXIST)
			break;
	}
	unlink(link);
	return NULL;
}

int nb_cache_tree(const struct nb_cache *c, const char *work, char **tree, struct nb_err *err)
{
	const char *bases[] = { getenv("TMPDIR"), "/var/tmp", "/tmp", "/dev/shm" };
	cleanup_free char *path = NULL;
	int e;

	if (asprintf(&path, "%s/" TREE_LINK, work) < 0)
		return nb_err_set(err, ENOMEM, "layer tree path");
	if (mkdir(path, 0755) < 0)
		return nb_err_sys(err, "cannot create %s", path);
	e = tree_support(path);
	if (e == 0) {
		*tree = NB_STEAL(path, NULL);
		return 0;
	}
	rmdir(path);
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		if (!bases[i] || bases[i][0] != '/')
			continue;
		if ((*tree = stage_in(bases[i], path)))
			return 0;
	}
	return nb_err_set(err, e,
			  "the image cache's file system (%s) cannot hold a layer's "
			  "files (device nodes, owners, trusted xattrs), and neither can $TMPDIR, "
			  "/var/tmp, /tmp or /dev/shm; set TMPDIR to a directory on a local file "
			  "system (ext4, xfs, tmpfs)",
			  c->root);
}

int nb_cache_remove_work(const char *work)
{
	cleanup_free char *link = NULL;
	char target[4096];
	ssize_t n;

	if (asprintf(&link, "%s/" TREE_LINK, work) < 0)
		return -1;
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		const char *base = strrchr(target, '/');
		/* Only ever a stage of ours: an absolute path named nestbox-stage.* */
		if (target[0] == '/' && base &&
		    strncmp(base + 1, STAGE_PREFIX, strlen(STAGE_PREFIX)) == 0)
			nb_rm_rf(target);
	}
	return nb_rm_rf(work);
}

void nb_cache_clean_tmp(const struct nb_cache *c, const char *prefix)
{
	DIR *dir = opendir(c->tmp);
	struct dirent *e;
	size_t plen = strlen(prefix);

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		char *path;
		if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, plen) != 0)
			continue;
		if (asprintf(&path, "%s/%s", c->tmp, e->d_name) < 0)
			continue;
		nb_cache_remove_work(path);
		free(path);
	}
	closedir(dir);
}
