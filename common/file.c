#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nestbox/cleanup.h"

#define READ_FIRST_CHUNK 4096u

/* ---- bounded read ------------------------------------------------------------ */

/* Grow buf (cap bytes, plus the NUL) towards max + 1: the one byte past
 * the limit tells a larger file. */
static int grow(char **buf, size_t *cap, size_t max, struct nb_err *err)
{
	size_t next = *cap > (max + 1) / 2 ? max + 1 : *cap * 2;
	char *p = realloc(*buf, next + 1);

	if (!p)
		return nb_err_set(err, ENOMEM, "read");
	*buf = p;
	*cap = next;
	return 0;
}

int nb_file_read_fd(int fd, size_t max, char **data, size_t *len, struct nb_err *err)
{
	size_t cap = max < READ_FIRST_CHUNK ? max + 1 : READ_FIRST_CHUNK, got = 0;
	cleanup_free char *buf = NULL;

	if (max >= SIZE_MAX / 2)
		return nb_err_set(err, EINVAL, "read limit %zu", max);
	if (!(buf = malloc(cap + 1)))
		return nb_err_set(err, ENOMEM, "read");
	for (;;) {
		if (got == cap && cap > max)
			return nb_err_set(err, 0, "larger than %zu bytes", max);
		if (got == cap && grow(&buf, &cap, max, err) < 0)
			return -1;
		ssize_t n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return nb_err_sys(err, "read");
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*data = NB_STEAL(buf, NULL);
	*len = got;
	return 0;
}

static int read_path(int dir_fd, const char *path, int flags, size_t max, char **data, size_t *len,
		     struct nb_err *err)
{
	cleanup_close int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | flags);

	if (fd < 0)
		return nb_err_sys(err, "cannot open %s", path);
	if (nb_file_read_fd(fd, max, data, len, err) == 0)
		return 0;
	if (err->errnum == 0)
		return nb_err_set(err, 0, "%s is larger than %zu bytes", path, max);
	return nb_err_set(err, err->errnum, "cannot read %s", path);
}

int nb_file_read(int dir_fd, const char *path, size_t max, char **data, size_t *len,
		 struct nb_err *err)
{
	return read_path(dir_fd, path, 0, max, data, len, err);
}

int nb_file_read_nofollow(int dir_fd, const char *path, size_t max, char **data, size_t *len,
			  struct nb_err *err)
{
	return read_path(dir_fd, path, O_NOFOLLOW, max, data, len, err);
}

/* ---- atomic write ------------------------------------------------------------ */

static int create_fresh(int dir_fd, const char *tmp, mode_t mode)
{
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dir_fd, tmp, flags, mode);

	/* Ours, left by a dead writer (the name holds our pid, or the caller's
	 * directory is private): the link itself goes, nothing behind it. */
	if (fd < 0 && errno == EEXIST && unlinkat(dir_fd, tmp, 0) == 0)
		fd = openat(dir_fd, tmp, flags, mode);
	return fd;
}

int nb_write_all(int fd, const void *buf, size_t len)
{
	const char *data = buf;

	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n < 0 ? errno : EIO;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

size_t nb_pread_upto(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	if (off > (uint64_t)INT64_MAX - len)
		return 0;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

int nb_file_extents(int fd, off_t size, int (*fn)(int fd, off_t start, off_t end, void *ctx),
		    void *ctx)
{
	for (off_t pos = 0; pos < size;) {
		off_t data = lseek(fd, pos, SEEK_DATA), hole;

		if (data < 0)
			return errno == ENXIO ? 0 : -1; /* ENXIO: only a hole is left */
		if (data >= size)
			return 0;
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return -1;
		if (hole > size)
			hole = size;
		if (fn(fd, data, hole, ctx) < 0)
			return -1;
		pos = hole;
	}
	return 0;
}

static int copy_extent(int in, off_t start, off_t end, void *out)
{
	for (off_t at = start; at < end;) {
		ssize_t n = copy_file_range(in, &at, *(int *)out, &(off_t){ at },
					    (size_t)(end - at), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n < 0 ? errno : EIO;
			return -1;
		}
	}
	return 0;
}

int nb_copy_sparse(int from_dir, const char *from, int to_dir, const char *to, struct nb_err *err)
{
	cleanup_close int in = openat(from_dir, from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1;
	struct stat st;

	if (in < 0 || fstat(in, &st) < 0)
		return nb_err_sys(err, "%s", from);
	out = openat(to_dir, to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return nb_err_sys(err, "%s", to);
	if (ftruncate(out, st.st_size) < 0 ||
	    nb_file_extents(in, st.st_size, copy_extent, &out) < 0 || fsync(out) < 0) {
		nb_err_sys(err, "copying %s to %s", from, to);
		unlinkat(to_dir, to, 0);
		return -1;
	}
	return 0;
}

int nb_file_write_atomic(int dir_fd, const char *name, const char *tmp, const void *data,
			 size_t len, mode_t mode, struct nb_err *err)
{
	cleanup_free char *own_tmp = NULL;
	int fd, rc;

	if (!tmp && asprintf(&own_tmp, "%s.tmp-%d", name, (int)getpid()) < 0)
		return nb_err_set(err, ENOMEM, "%s", name);
	if (!tmp)
		tmp = own_tmp;
	fd = create_fresh(dir_fd, tmp, mode);
	if (fd < 0)
		return nb_err_sys(err, "cannot create %s", tmp);
	rc = nb_write_all(fd, data, len) < 0 || fsync(fd) < 0
		     ? nb_err_sys(err, "cannot write %s", tmp)
		     : 0;
	close(fd);
	if (rc == 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
		rc = nb_err_sys(err, "cannot rename %s to %s", tmp, name);
	if (rc < 0)
		unlinkat(dir_fd, tmp, 0);
	return rc;
}

/* ---- mkdir -p ---------------------------------------------------------------- */

/* One level: made, or already a directory (stat follows a link there
 * unless nofollow, when a link is refused). */
static int make_one(int dir_fd, const char *dir, mode_t mode, bool nofollow, struct nb_err *err)
{
	struct stat st;

	if (mkdirat(dir_fd, dir, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return nb_err_sys(err, "cannot create %s", dir);
	if (fstatat(dir_fd, dir, &st, nofollow ? AT_SYMLINK_NOFOLLOW : 0) < 0)
		return nb_err_sys(err, "cannot create %s", dir);
	if (!S_ISDIR(st.st_mode))
		return nofollow ? nb_err_set(err, 0, "%s is not a directory", dir)
				: nb_err_set(err, ENOTDIR, "cannot create %s", dir);
	return 0;
}

/* Each component of path that ends after its first `trusted` bytes, in
 * order; an empty one (a//b, a trailing /) is skipped. */
static int walk(int dir_fd, const char *path, size_t trusted, mode_t mode, unsigned flags,
		bool nofollow, struct nb_err *err)
{
	cleanup_free char *buf = strdup(path);
	size_t len;

	if (!buf)
		return nb_err_set(err, ENOMEM, "%s", path);
	len = strlen(buf);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	for (size_t i = 1; i <= len; i++) {
		char c = buf[i];

		if ((c != '/' && c != '\0') || buf[i - 1] == '/' || i <= trusted)
			continue;
		if (c == '\0' && (flags & NB_MKDIR_PARENTS))
			break;
		buf[i] = '\0';
		int rc = make_one(dir_fd, buf, mode, nofollow, err);
		buf[i] = c;
		if (rc < 0)
			return -1;
	}
	return 0;
}

int nb_mkdir_p(int dir_fd, const char *path, mode_t mode, unsigned flags, struct nb_err *err)
{
	return walk(dir_fd, path, 0, mode, flags, false, err);
}

int nb_mkdir_p_beneath(const char *path, size_t trusted, mode_t mode, struct nb_err *err)
{
	return walk(AT_FDCWD, path, trusted, mode, 0, true, err);
}
