/* Small file helpers, one of each, for host and guest alike (built with
 * musl for nestbox-init too): read a whole file within a limit, write one
 * atomically, make a directory and its parents. Errors as values
 * (nestbox/err.h); each message names the path it failed on. */
#ifndef NESTBOX_COMMON_FILE_H
#define NESTBOX_COMMON_FILE_H

#include <fcntl.h> /* AT_FDCWD */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nestbox/err.h"

/* Read fd from its offset to its end into a fresh buffer (*data, free()
 * it; NUL-terminated after *len bytes, which may hold NULs themselves).
 * Never trusts the file's size: reads at most one byte more than max to
 * notice a larger file, which is the error "larger than MAX bytes". */
int nb_file_read_fd(int fd, size_t max, char **data, size_t *len, struct nb_err *err);

/* The same for path (relative to dir_fd, or AT_FDCWD). nofollow: a
 * symlink at path is refused (O_NOFOLLOW). Errors: "cannot open PATH:
 * <errno>", "PATH is larger than MAX bytes", "cannot read PATH: <errno>". */
int nb_file_read(int dir_fd, const char *path, size_t max, char **data, size_t *len,
		 struct nb_err *err);
int nb_file_read_nofollow(int dir_fd, const char *path, size_t max, char **data, size_t *len,
			  struct nb_err *err);

/* Write all len bytes (again after EINTR or a short write): 0, or -1 with
 * errno (EIO for a write of nothing). */
int nb_write_all(int fd, const void *buf, size_t len);

/* Up to len bytes of fd at off into buf (again after EINTR or a short
 * read): fewer at the file's end or on a failed read (which sets errno;
 * the end leaves it alone), none for an off + len beyond INT64_MAX. */
size_t nb_pread_upto(int fd, void *buf, size_t len, uint64_t off);

/* Call fn for each data extent [start, end) of fd below size, in order:
 * its holes skipped (SEEK_DATA, SEEK_HOLE; a file system without them
 * reports the whole file as data). fn returns 0, or -1 with errno set.
 * Returns 0, or -1 with errno (fn's or lseek's). */
int nb_file_extents(int fd, off_t size, int (*fn)(int fd, off_t start, off_t end, void *ctx),
		    void *ctx);

/* Copy file from (relative to from_dir) to a new file to (relative to
 * to_dir; O_EXCL, mode 0600), keeping its holes: only the data extents
 * are copied (SEEK_DATA), the size set with ftruncate. On failure to is
 * removed. */
int nb_copy_sparse(int from_dir, const char *from, int to_dir, const char *to, struct nb_err *err);

/* Replace name (relative to dir_fd, or AT_FDCWD) with len bytes of data,
 * all or nothing: written to tmp (relative to dir_fd too; NULL:
 * "NAME.tmp-PID" beside it), created afresh with mode less the umask
 * (O_EXCL | O_NOFOLLOW: never through a link; a leftover of that name is
 * removed and created again), fsync()ed, then renamed over name. A symlink
 * at name is replaced, never followed. On failure tmp is removed and name
 * is as it was. */
int nb_file_write_atomic(int dir_fd, const char *name, const char *tmp, const void *data,
			 size_t len, mode_t mode, struct nb_err *err);

/* mkdir -p: path (relative to dir_fd, or AT_FDCWD) and every missing
 * directory above it (mode less the umask). An existing directory is
 * fine, a link to one too; anything else in the way is "cannot create
 * PATH: Not a directory". */
#define NB_MKDIR_PARENTS 1u /* only the directories above path's last component */
int nb_mkdir_p(int dir_fd, const char *path, mode_t mode, unsigned flags, struct nb_err *err);

/* mkdir -p of path whose first `trusted` bytes (a root the caller made
 * or checked) are taken as they are: below them a component that is a
 * symlink or no directory is refused ("PATH is not a directory"), never
 * followed, so a hostile tree cannot aim the result elsewhere. */
int nb_mkdir_p_beneath(const char *path, size_t trusted, mode_t mode, struct nb_err *err);

#endif
