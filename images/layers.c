#include "images/layers.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "nestbox/cleanup.h"

#define READ_CHUNK (128u << 10)
#define NAME_MAX_LEN 255
#define WHITEOUT ".wh."
#define OPAQUE ".wh..wh..opq"
#define OVERLAY_XATTR "trusted.overlay."

const struct nb_layer_limits nb_layer_default_limits = {
	.max_entries = 1u << 20,
	.max_bytes = 64ull << 30,
	.max_path = 4095,
};

/* ---- reading the blob while hashing it ---------------------------------- */

struct hashed_fd {
	int fd;
	struct nb_sha256 h;
	uint64_t max; /* bytes the blob may have: a FIFO or device never ends */
	bool too_long;
	int read_errno;
	unsigned char buf[READ_CHUNK];
};

static la_ssize_t hashed_read(struct archive *a, void *opaque, const void **buf)
{
	struct hashed_fd *r = opaque;
	ssize_t n;
	struct nb_err ignored;

	size_t want = sizeof(r->buf);

	/* Read at most one byte past the limit: enough to know it is exceeded. */
	if (r->max - r->h.bytes + 1 < want)
		want = (size_t)(r->max - r->h.bytes + 1);
	do
		n = read(r->fd, r->buf, want);
	while (n < 0 && errno == EINTR);
	if (n > 0 && r->h.bytes + (uint64_t)n > r->max) {
		r->too_long = true;
		if (a)
			archive_set_error(a, EFBIG, "blob is longer than %llu bytes",
					  (unsigned long long)r->max);
		return -1;
	}
	if (n < 0) {
		r->read_errno = errno;
		if (a)
			archive_set_error(a, errno, "read error");
		return -1;
	}
	nb_sha256_update(&r->h, r->buf, (size_t)n, &ignored);
	*buf = r->buf;
	return n;
}

/* ---- paths ---------------------------------------------------------------- */

/* Normalise a member path to a relative one with no ".", "..", or empty
 * components (leading '/' dropped: layers are rooted at the image root).
 * "" is the root itself. */
int nb_layer_sanitize_path(const char *in, char *out, size_t max, struct nb_err *err)
{
	size_t len = 0;
	const char *p = in;

	if (!in)
		return nb_err_set(err, 0, "member without a path");
	if (strlen(in) > max)
		return nb_err_set(err, 0,
				  "member path is %zu bytes long, more than the %zu allowed",
				  strlen(in), max);
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return nb_err_set(err, 0, "member '%.200s' has a '..' component", in);
		if (n > NAME_MAX_LEN)
			return nb_err_set(err, 0, "member '%.200s' has a name longer than %d bytes",
					  in, NAME_MAX_LEN);
		if (n && !(n == 1 && p[0] == '.')) {
			if (len)
				out[len++] = '/';
			memcpy(out + len, p, n);
			len += n;
		}
		p = *end ? end + 1 : end;
	}
	out[len] = '\0';
	return 0;
}

static int openat2_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* Open the parent directory of rel (inside rootfd), creating missing
 * directories; never through a symlink. *base points at the last name. */
static int open_parent(int rootfd, char *rel, const char **base, struct nb_err *err)
{
	char *slash = strrchr(rel, '/');
	int fd;

	*base = slash ? slash + 1 : rel;
	if (!slash)
		return fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
	*slash = '\0';
	fd = openat2_beneath(rootfd, rel, O_DIRECTORY | O_RDONLY);
	for (char *p = rel; fd < 0 && errno == ENOENT;) {
		/* Create the chain one directory at a time, then retry. */
		char *next = strchrnul(p, '/');
		char saved = *next;
		*next = '\0';
		if (mkdirat(rootfd, rel, 0755) < 0 && errno != EEXIST)
			break;
		*next = saved;
		if (!saved) {
			fd = openat2_beneath(rootfd, rel, O_DIRECTORY | O_RDONLY);
			break;
		}
		p = next + 1;
	}
	if (fd < 0)
		nb_err_sys(err, "cannot open directory '%.200s' inside the layer (a symlink?)",
			   rel);
	*slash = '/';
	return fd;
}

/* ---- whiteouts ------------------------------------------------------------ */

/* OCI ".wh.NAME" -> overlayfs whiteout (char device 0:0 named NAME);
 * ".wh..wh..opq" -> trusted.overlay.opaque="y" on the directory. */
static int apply_whiteout(int rootfd, char *rel, struct nb_err *err)
{
	const char *base;
	cleanup_close int dirfd = open_parent(rootfd, rel, &base, err);

	if (dirfd < 0)
		return -1;
	if (strcmp(base, OPAQUE) == 0) {
		if (fsetxattr(dirfd, OVERLAY_XATTR "opaque", "y", 1, 0) < 0)
			return nb_err_sys(err,
					  "cannot mark '%.200s' opaque (xattr trusted.overlay."
					  "opaque; the cache file system needs trusted xattrs)",
					  rel);
		return 0;
	}
	const char *name = base + strlen(WHITEOUT);
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strncmp(name, WHITEOUT, strlen(WHITEOUT)) == 0)
		return nb_err_set(err, 0, "member '%.200s' is not a valid whiteout", rel);
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT && errno != EISDIR)
		return nb_err_sys(err, "cannot replace '%s' with a whiteout", name);
	if (mknodat(dirfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
		return nb_err_sys(err, "cannot create whiteout for '%.200s'", rel);
	return 0;
}

/* ---- one member ----------------------------------------------------------- */

struct extract {
	struct archive *in, *disk;
	int rootfd;
	const struct nb_layer_limits *lim;
	uint64_t entries, bytes;
	char path[8192], link[8192];
};

/* Overlay's own xattrs in a layer would steer the guest's overlayfs
 * (redirects, metacopy, fake opaque dirs): keep every other xattr only. */
static void drop_overlay_xattrs(struct archive_entry *e)
{
	struct {
		char *name;
		void *value;
		size_t size;
	} keep[64];
	size_t n = 0;
	const char *name;
	const void *value;
	size_t size;
	bool drop = false;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (strncmp(name, OVERLAY_XATTR, strlen(OVERLAY_XATTR)) == 0)
			drop = true;
		else if (n < sizeof(keep) / sizeof(keep[0]) && (keep[n].name = strdup(name)) &&
			 (keep[n].value = malloc(size ? size : 1))) {
			memcpy(keep[n].value, value, size);
			keep[n++].size = size;
		}
	}
	if (drop) {
		archive_entry_xattr_clear(e);
		for (size_t i = 0; i < n; i++)
			archive_entry_xattr_add_entry(e, keep[i].name, keep[i].value, keep[i].size);
	}
	for (size_t i = 0; i < n; i++) {
		free(keep[i].name);
		free(keep[i].value);
	}
}

static int check_limits(struct extract *x, struct archive_entry *e, struct nb_err *err)
{
	int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;

	if (++x->entries > x->lim->max_entries)
		return nb_err_set(err, 0, "layer has more than %" PRIu64 " members",
				  x->lim->max_entries);
	if (size < 0 || (uint64_t)size > x->lim->max_bytes - x->bytes)
		return nb_err_set(err, 0,
				  "member '%.200s' claims %" PRId64 " bytes: the layer would "
				  "exceed %" PRIu64 " bytes",
				  archive_entry_pathname(e), size, x->lim->max_bytes);
	x->bytes += (uint64_t)size;
	return 0;
}

static int check_hardlink(struct extract *x, struct archive_entry *e, struct nb_err *err)
{
	const char *target = archive_entry_hardlink(e);
	int fd;

	if (!target)
		return 0;
	if (nb_layer_sanitize_path(target, x->link, x->lim->max_path, err) < 0)
		return nb_err_wrap(err, "hard link '%.200s'", x->path);
	if (!x->link[0])
		return nb_err_set(err, 0, "hard link '%.200s' points at the root", x->path);
	/* The target must already be inside the tree, reached without symlinks. */
	fd = openat2_beneath(x->rootfd, x->link, O_PATH | O_NOFOLLOW);
	if (fd < 0)
		return nb_err_sys(err,
				  "hard link '%.200s' -> '%.200s' escapes the layer or names "
				  "nothing extracted before it",
				  x->path, x->link);
	close(fd);
	archive_entry_set_hardlink(e, x->link);
	return 0;
}

/* libarchive, told to unlink what is in the way, would silently replace a
 * symlink on a member's path by a directory: refuse such a member instead,
 * a layer that does this is broken or hostile. */
static int check_parent(struct extract *x, struct nb_err *err)
{
	char *slash = strrchr(x->path, '/');
	int fd;

	if (!slash)
		return 0;
	*slash = '\0';
	fd = openat2_beneath(x->rootfd, x->path, O_PATH | O_DIRECTORY);
	bool refused = fd < 0 && errno != ENOENT;
	if (refused)
		nb_err_sys(err,
			   "member '%.200s/%.200s' would be extracted through a symlink or "
			   "non-directory inside the layer (refused)",
			   x->path, slash + 1);
	*slash = '/';
	if (fd >= 0)
		close(fd);
	return refused ? -1 : 0;
}

static int copy_data(struct extract *x, struct nb_err *err)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r;

	while ((r = archive_read_data_block(x->in, &buf, &size, &offset)) == ARCHIVE_OK) {
		if (archive_write_data_block(x->disk, buf, size, offset) < ARCHIVE_WARN)
			return nb_err_set(err, 0, "cannot write '%.200s': %s", x->path,
					  archive_error_string(x->disk));
	}
	if (r != ARCHIVE_EOF)
		return nb_err_set(err, 0, "cannot read '%.200s' (truncated or corrupt layer): %s",
				  x->path, archive_error_string(x->in));
	return 0;
}

static int extract_member(struct extract *x, struct archive_entry *e, struct nb_err *err)
{
	const char *base;

	if (check_limits(x, e, err) < 0 ||
	    nb_layer_sanitize_path(archive_entry_pathname(e), x->path, x->lim->max_path, err) < 0)
		return -1;
	if (!x->path[0])
		return 0; /* the root directory itself */
	base = strrchr(x->path, '/');
	base = base ? base + 1 : x->path;
	if (strncmp(base, WHITEOUT, strlen(WHITEOUT)) == 0)
		return apply_whiteout(x->rootfd, x->path, err);
	if (check_parent(x, err) < 0 || check_hardlink(x, e, err) < 0)
		return -1;
	archive_entry_set_pathname(e, x->path);
	drop_overlay_xattrs(e);
	if (archive_write_header(x->disk, e) < ARCHIVE_WARN)
		return nb_err_set(err, 0, "cannot extract '%.200s': %s", x->path,
				  archive_error_string(x->disk));
	if (archive_entry_size(e) > 0 && copy_data(x, err) < 0)
		return -1;
	if (archive_write_finish_entry(x->disk) < ARCHIVE_WARN)
		return nb_err_set(err, 0, "cannot finish '%.200s': %s", x->path,
				  archive_error_string(x->disk));
	return 0;
}

/* ---- whole layer ---------------------------------------------------------- */

static int open_archives(struct extract *x, struct hashed_fd *r, struct nb_err *err)
{
	x->in = archive_read_new();
	x->disk = archive_write_disk_new();
	if (!x->in || !x->disk)
		return nb_err_set(err, ENOMEM, "libarchive");
	/* Layers are tar, tar+gzip or tar+zstd; nothing else is accepted. */
	archive_read_support_format_tar(x->in);
	archive_read_support_filter_gzip(x->in);
	archive_read_support_filter_zstd(x->in);
	/* File flags (chattr) are left out on purpose: erofs cannot store them,
	 * and an immutable file would make the temp tree impossible to remove. */
	archive_write_disk_set_options(x->disk,
				       ARCHIVE_EXTRACT_SECURE_NODOTDOT |
					       ARCHIVE_EXTRACT_SECURE_SYMLINKS |
					       ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
					       ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM |
					       ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
					       ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_UNLINK);
	/* Numeric owners only: never map through the host's passwd. */
	if (archive_read_open(x->in, r, NULL, hashed_read, NULL) != ARCHIVE_OK)
		return nb_err_set(err, 0, "layer is not a tar, tar+gzip or tar+zstd stream: %s",
				  archive_error_string(x->in));
	return 0;
}

static int extract_all(struct extract *x, struct nb_err *err)
{
	struct archive_entry *e;
	int r;

	while ((r = archive_read_next_header(x->in, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)
		if (extract_member(x, e, err) < 0)
			return -1;
	if (r != ARCHIVE_EOF)
		return nb_err_set(err, 0, "layer is truncated or corrupt: %s",
				  archive_error_string(x->in));
	if (archive_write_close(x->disk) < ARCHIVE_WARN)
		return nb_err_set(err, 0, "cannot finish extraction: %s",
				  archive_error_string(x->disk));
	return 0;
}

static int drain(struct hashed_fd *r, struct nb_err *err)
{
	const void *buf;
	la_ssize_t n;

	while ((n = hashed_read(NULL, r, &buf)) > 0)
		;
	if (r->too_long)
		return nb_err_set(err, 0,
				  "layer blob is longer than %llu bytes (its descriptor's "
				  "size or the layer limit)",
				  (unsigned long long)r->max);
	return n < 0 ? nb_err_set(err, r->read_errno, "cannot read layer") : 0;
}

int nb_layer_extract(int fd, uint64_t blob_max, const char *root_dir,
		     const struct nb_layer_limits *lim, struct nb_digest *digest, uint64_t *size,
		     struct nb_err *err)
{
	struct hashed_fd *r = calloc(1, sizeof(*r));
	struct extract x = { .lim = lim ? lim : &nb_layer_default_limits, .rootfd = -1 };
	int cwd = open(".", O_PATH | O_CLOEXEC), rc = -1;

	if (!r || cwd < 0) {
		nb_err_sys(err, "layer extraction");
		goto out;
	}
	if (x.lim->max_path >= sizeof(x.path)) {
		nb_err_set(err, 0, "layer path limit %" PRIu64 " is too large", x.lim->max_path);
		goto out;
	}
	r->fd = fd;
	r->max = blob_max ? blob_max : x.lim->max_bytes;
	if (nb_sha256_init(&r->h, err) < 0)
		goto out;
	x.rootfd = open(root_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	/* archive_write_disk resolves member paths against the working
	 * directory: it must be the tree's root, restored afterwards. */
	if (x.rootfd < 0 || fchdir(x.rootfd) < 0) {
		nb_err_sys(err, "cannot enter %s", root_dir);
		goto out;
	}
	if (open_archives(&x, r, err) < 0 || extract_all(&x, err) < 0) {
		if (r->too_long)
			nb_err_set(err, 0,
				   "layer blob is longer than %llu bytes (its descriptor's "
				   "size or the layer limit)",
				   (unsigned long long)r->max);
		goto out;
	}
	archive_read_close(x.in);
	if (drain(r, err) < 0)
		goto out;
	*size = r->h.bytes;
	rc = nb_sha256_final(&r->h, digest, err);
out:
	if (x.in)
		archive_read_free(x.in);
	if (x.disk)
		archive_write_free(x.disk);
	if (cwd >= 0) {
		if (fchdir(cwd) < 0 && rc == 0)
			rc = nb_err_sys(err, "cannot return to the working directory");
		close(cwd);
	}
	if (x.rootfd >= 0)
		close(x.rootfd);
	if (r) {
		nb_sha256_free(&r->h);
		free(r);
	}
	return rc;
}

/* ---- erofs image ---------------------------------------------------------- */

/* The child's side: stdout to /dev/null, and never outlive nestbox (a
 * kill -9 of nestbox must not leave mkfs.erofs writing into the cache). */
static void exec_mkfs(char **argv, pid_t parent)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent || null < 0 || dup2(null, 1) < 0)
		_exit(126);
	execvp(argv[0], argv);
	_exit(errno == ENOENT ? 127 : 126);
}

static int run_mkfs(const char *image, const char *dir, struct nb_err *err)
{
	char *argv[] = { (char *)"mkfs.erofs", (char *)"--quiet", (char *)"--preserve-mtime",
			 (char *)image,        (char *)dir,       NULL };
	pid_t parent = getpid(), pid;
	int status;

	pid = fork();
	if (pid == 0)
		exec_mkfs(argv, parent);
	if (pid < 0)
		return nb_err_sys(err, "cannot start mkfs.erofs");
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return nb_err_sys(err, "waiting for mkfs.erofs");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return nb_err_set(err, 0,
				  "mkfs.erofs not found: install erofs-utils "
				  "(scripts/deps.sh)");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return nb_err_set(err, 0, "mkfs.erofs %s failed (status %d)", image,
				  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}

/* The image must be on disk before its name says it is complete. */
static int sync_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

bool nb_layer_cached(const struct nb_cache *c, const struct nb_digest *d)
{
	cleanup_free char *path = nb_cache_layer_path(c, d);

	return path && access(path, R_OK) == 0;
}

static int convert(const struct nb_cache *c, const struct nb_desc *d, nb_blob_open_fn open_blob,
		   void *ctx, const struct nb_layer_limits *lim, const struct nb_report *report,
		   const char *final, struct nb_err *err)
{
	cleanup_free char *dir = NULL, *root = NULL, *image = NULL;
	cleanup_close int fd = -1;
	struct nb_digest got;
	uint64_t size;
	int rc = -1;

	if (geteuid() != 0)
		return nb_err_set(err, 0,
				  "converting image layers needs root (file owners and device "
				  "nodes must be preserved): run nestbox as root");
	if (asprintf(&dir, "%s/layer-%s.XXXXXX", c->tmp, d->digest.hex) < 0 || !mkdtemp(dir))
		return nb_err_sys(err, "cannot create a temp directory in %s", c->tmp);
	if (asprintf(&image, "%s/image.erofs", dir) < 0) {
		nb_err_set(err, ENOMEM, "layer paths");
		goto out;
	}
	if (nb_cache_tree(c, dir, &root, err) < 0)
		goto out;
	fd = open_blob(ctx, d, err);
	/* A blob may not be longer than its descriptor says (+1 to detect it). */
	if (fd < 0 ||
	    nb_layer_extract(fd, (uint64_t)d->size + 1, root, lim, &got, &size, err) < 0 ||
	    nb_digest_verify("layer", &d->digest, d->size, &got, size, err) < 0 ||
	    run_mkfs(image, root, err) < 0)
		goto out;
	if (sync_file(image) < 0 || chmod(image, 0444) < 0 || rename(image, final) < 0) {
		nb_err_sys(err, "cannot move the layer image to %s", final);
		goto out;
	}
	rc = 0;
out:
	if (nb_cache_remove_work(dir) < 0 && rc == 0)
		nb_report(report, NB_REPORT_WARNING, "could not remove %s", dir);
	return rc;
}

int nb_layer_get(const struct nb_cache *c, const struct nb_desc *d, nb_blob_open_fn open_blob,
		 void *ctx, const struct nb_layer_limits *lim, const struct nb_report *report,
		 char **path, bool *converted, struct nb_err *err)
{
	cleanup_free char *final = nb_cache_layer_path(c, &d->digest);
	cleanup_free char *lock = NULL, *prefix = NULL;
	cleanup_close int lock_fd = -1;

	*converted = false;
	if (!final || asprintf(&lock, "%s/sha256-%s.lock", c->layers, d->digest.hex) < 0 ||
	    asprintf(&prefix, "layer-%s.", d->digest.hex) < 0)
		return nb_err_set(err, ENOMEM, "layer paths");
	/* Whoever holds the layer's lock converts; the others wait, then find
	 * the image in place and reuse it. */
	lock_fd = nb_lock_file(lock, true, err);
	if (lock_fd < 0)
		return -1;
	if (access(final, R_OK) != 0) {
		/* With the lock held, any temp tree of this layer is a crashed run's. */
		nb_cache_clean_tmp(c, prefix);
		if (convert(c, d, open_blob, ctx, lim, report, final, err) < 0)
			return nb_err_wrap(err, "layer sha256:%.12s", d->digest.hex);
		*converted = true;
	}
	*path = NB_STEAL(final, NULL);
	return 0;
}
