/* common/file.c: the bounded read, the atomic write and mkdir -p that
 * every part of nestbox uses, on their edges: a limit exactly reached,
 * a symlink at the target, leftovers, directories that already exist. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "unit/unit.h"

static char dir[64];

static void setup(void)
{
	nb_unit_mkdir(dir, "file");
}

static void teardown(void)
{
	nb_unit_rmdir(dir);
}

static const char *at(const char *name)
{
	return nb_unit_at(dir, name);
}

static void put(const char *name, size_t len)
{
	FILE *f = fopen(at(name), "w");

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < len; i++)
		fputc('a' + (int)(i % 26), f);
	ck_assert_int_eq(fclose(f), 0);
}

static char *slurp(const char *name)
{
	static char buf[4096];
	int fd = open(at(name), O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return buf;
}

/* ---- bounded read ---- */

/* Exactly the limit is fine, one byte more is not: across the first
 * chunk, the growth steps and a limit of 0. */
START_TEST(read_limit_exactly)
{
	static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 8192, 100000 };
	struct nb_err err;
	char *data;
	size_t len;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		put("f", sizes[i]);
		ck_assert_int_eq(nb_file_read(AT_FDCWD, at("f"), sizes[i], &data, &len, &err), 0);
		ck_assert_uint_eq(len, sizes[i]);
		ck_assert_int_eq(data[len], '\0');
		ck_assert(len == 0 || data[len - 1] == 'a' + (int)((len - 1) % 26));
		free(data);
		if (sizes[i] == 0)
			continue;
		data = NULL;
		ck_assert_int_eq(nb_file_read(AT_FDCWD, at("f"), sizes[i] - 1, &data, &len, &err),
				 -1);
		ck_assert_ptr_null(data);
		ck_assert_ptr_nonnull(strstr(err.msg, "is larger than"));
		ck_assert_ptr_nonnull(strstr(err.msg, at("f")));
	}
}
END_TEST

/* A file that claims no size (a pipe, /proc) is read to its end too. */
START_TEST(read_from_a_pipe)
{
	struct nb_err err;
	int fds[2];
	char *data;
	size_t len;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(write(fds[1], "hello\0world", 11), 11);
	close(fds[1]);
	ck_assert_int_eq(nb_file_read_fd(fds[0], 11, &data, &len, &err), 0);
	ck_assert_uint_eq(len, 11);
	ck_assert_int_eq(memcmp(data, "hello\0world", 12), 0);
	free(data);
	close(fds[0]);
}
END_TEST

START_TEST(read_missing_and_symlink)
{
	struct nb_err err;
	char *data;
	size_t len;

	ck_assert_int_eq(nb_file_read(AT_FDCWD, at("none"), 10, &data, &len, &err), -1);
	ck_assert_int_eq(err.errnum, ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot open"));
	put("target", 3);
	ck_assert_int_eq(symlink(at("target"), at("link")), 0);
	ck_assert_int_eq(nb_file_read(AT_FDCWD, at("link"), 10, &data, &len, &err), 0);
	free(data);
	ck_assert_int_eq(nb_file_read_nofollow(AT_FDCWD, at("link"), 10, &data, &len, &err), -1);
	ck_assert_int_eq(err.errnum, ELOOP);
	ck_assert_int_eq(nb_file_read(AT_FDCWD, dir, 10, &data, &len, &err), -1); /* EISDIR */
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot read"));
}
END_TEST

/* ---- atomic write ---- */

START_TEST(write_creates_and_replaces)
{
	struct nb_err err;
	struct stat st;
	mode_t old = umask(022);

	ck_assert_int_eq(nb_file_write_atomic(AT_FDCWD, at("w"), NULL, "one", 3, 0640, &err), 0);
	ck_assert_str_eq(slurp("w"), "one");
	ck_assert_int_eq(stat(at("w"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0640);
	ck_assert_int_eq(nb_file_write_atomic(AT_FDCWD, at("w"), NULL, "", 0, 0600, &err), 0);
	ck_assert_str_eq(slurp("w"), "");
	ck_assert_int_eq(stat(at("w"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600); /* a new file, the new mode */
	umask(old);
	/* No temporary file stays behind. */
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A symlink at the target is replaced, never written through; one at the
 * temporary name is removed, never followed. */
START_TEST(write_never_follows_links)
{
	struct nb_err err;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct stat st;

	put("victim", 6);
	ck_assert_int_eq(symlink(at("victim"), at("rec")), 0);
	ck_assert_int_eq(symlink(at("victim"), at("rec.tmp")), 0);
	ck_assert_int_eq(nb_file_write_atomic(dfd, "rec", "rec.tmp", "new", 3, 0600, &err), 0);
	ck_assert_str_eq(slurp("victim"), "abcdef");
	ck_assert_int_eq(lstat(at("rec"), &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_str_eq(slurp("rec"), "new");
	ck_assert_int_eq(access(at("rec.tmp"), F_OK), -1);
	close(dfd);
}
END_TEST

/* A leftover temporary file (a dead writer's) is replaced. */
START_TEST(write_replaces_leftover_tmp)
{
	struct nb_err err;
	char tmp[64];

	snprintf(tmp, sizeof(tmp), "x.tmp-%d", (int)getpid());
	put(tmp, 100);
	ck_assert_int_eq(nb_file_write_atomic(AT_FDCWD, at("x"), NULL, "ok", 2, 0644, &err), 0);
	ck_assert_str_eq(slurp("x"), "ok");
	ck_assert_int_eq(access(at(tmp), F_OK), -1);
}
END_TEST

/* Failure leaves the target as it was and no temporary file. */
START_TEST(write_failure_keeps_target)
{
	struct nb_err err;

	put("keep", 4);
	ck_assert_int_eq(mkdir(at("sub"), 0755), 0);
	/* rename() of a file over a non-empty directory fails */
	put("sub/inside", 1);
	ck_assert_int_eq(nb_file_write_atomic(AT_FDCWD, at("sub"), NULL, "zz", 2, 0644, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot rename"));
	ck_assert_str_eq(slurp("sub/inside"), "a");
	ck_assert_int_eq(nb_file_write_atomic(AT_FDCWD, at("none/keep"), NULL, "z", 1, 0644, &err),
			 -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot create"));
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 2", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- mkdir -p ---- */

static bool is_dir(const char *name)
{
	struct stat st;

	return lstat(at(name), &st) == 0 && S_ISDIR(st.st_mode);
}

START_TEST(mkdir_p_makes_and_tolerates)
{
	struct nb_err err;

	ck_assert_int_eq(nb_mkdir_p(AT_FDCWD, at("a/b/c"), 0755, 0, &err), 0);
	ck_assert(is_dir("a/b/c"));
	ck_assert_int_eq(nb_mkdir_p(AT_FDCWD, at("a/b/c"), 0755, 0, &err), 0); /* again */
	ck_assert_int_eq(nb_mkdir_p(AT_FDCWD, at("a//b///d/"), 0755, 0, &err), 0);
	ck_assert(is_dir("a/b/d"));
	ck_assert_int_eq(nb_mkdir_p(AT_FDCWD, at("p/q/file"), 0700, NB_MKDIR_PARENTS, &err), 0);
	ck_assert(is_dir("p/q"));
	ck_assert(!is_dir("p/q/file"));
	ck_assert_int_eq(nb_mkdir_p(AT_FDCWD, "/", 0755, 0, &err), 0);
	/* relative to a directory fd */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(nb_mkdir_p(dfd, "r/s", 0755, 0, &err), 0);
	close(dfd);
	ck_assert(is_dir("r/s"));
}
END_TEST

START_TEST(mkdir_p_refuses_a_file)
{
	struct nb_err err;

	put("f", 1);
	ck_assert_int_eq(nb_mkdir_p(AT_FDCWD, at("f"), 0755, 0, &err), -1);
	ck_assert_int_eq(err.errnum, ENOTDIR);
	ck_assert_int_eq(nb_mkdir_p(AT_FDCWD, at("f/g"), 0755, 0, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot create"));
}
END_TEST

/* Plain mkdir -p goes through a link to a directory; beneath a root, a
 * link (even to a directory inside) and a file are refused and nothing
 * is made through them. */
START_TEST(mkdir_p_beneath_refuses_links)
{
	struct nb_err err;
	char path[256];
	size_t root;

	ck_assert_int_eq(mkdir(at("root"), 0755), 0);
	ck_assert_int_eq(mkdir(at("outside"), 0755), 0);
	ck_assert_int_eq(symlink(at("outside"), at("root/esc")), 0);
	ck_assert_int_eq(nb_mkdir_p(AT_FDCWD, at("root/esc/x"), 0755, 0, &err), 0);
	ck_assert(is_dir("outside/x"));

	root = strlen(at("root"));
	snprintf(path, sizeof(path), "%s/esc/y", at("root"));
	ck_assert_int_eq(nb_mkdir_p_beneath(path, root, 0755, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "root/esc is not a directory"));
	ck_assert(!is_dir("outside/y"));
	put("root/file", 1);
	snprintf(path, sizeof(path), "%s/file/z", at("root"));
	ck_assert_int_eq(nb_mkdir_p_beneath(path, root, 0755, &err), -1);
	snprintf(path, sizeof(path), "%s/in/deep/", at("root"));
	ck_assert_int_eq(nb_mkdir_p_beneath(path, root, 0755, &err), 0);
	ck_assert(is_dir("root/in/deep"));
	/* the trusted prefix itself may be a link (the caller vouched for it) */
	ck_assert_int_eq(symlink(at("root"), at("alias")), 0);
	snprintf(path, sizeof(path), "%s/in/other", at("alias"));
	ck_assert_int_eq(nb_mkdir_p_beneath(path, strlen(at("alias")), 0755, &err), 0);
	ck_assert(is_dir("root/in/other"));
}
END_TEST

/* ---- data extents ---- */

struct extents {
	off_t v[4][2];
	int n, fail_at;
};

static int note_extent(int fd, off_t start, off_t end, void *ctx)
{
	struct extents *e = ctx;

	(void)fd;
	if (e->n == e->fail_at) {
		errno = ENOSPC;
		return -1;
	}
	if (e->n < 4) {
		e->v[e->n][0] = start;
		e->v[e->n][1] = end;
	}
	e->n++;
	return 0;
}

/* Data at 0 and at 4 MiB of an 8 MiB file: two extents, in order, the
 * holes between and after skipped; cut at size; fn's failure ends it. */
START_TEST(extents_skip_holes)
{
	const off_t mid = 4 << 20, size = 8 << 20;
	int fd = open(at("sparse"), O_RDWR | O_CREAT, 0600);
	struct extents e = { .fail_at = -1 };

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	ck_assert_int_eq(pwrite(fd, "head", 4, 0), 4);
	ck_assert_int_eq(pwrite(fd, "mid", 3, mid), 3);
	ck_assert_int_eq(nb_file_extents(fd, size, note_extent, &e), 0);
	ck_assert_int_eq(e.n, 2);
	ck_assert_int_eq(e.v[0][0], 0);
	ck_assert(e.v[0][1] >= 4 && e.v[0][1] < mid);
	ck_assert(e.v[1][0] > e.v[0][1] && e.v[1][0] <= mid);
	ck_assert(e.v[1][1] >= mid + 3 && e.v[1][1] < size);
	/* cut at size: the second extent ends there; a size in the hole has one */
	e = (struct extents){ .fail_at = -1 };
	ck_assert_int_eq(nb_file_extents(fd, mid + 1, note_extent, &e), 0);
	ck_assert_int_eq(e.n, 2);
	ck_assert_int_eq(e.v[1][1], mid + 1);
	e = (struct extents){ .fail_at = -1 };
	ck_assert_int_eq(nb_file_extents(fd, mid / 2, note_extent, &e), 0);
	ck_assert_int_eq(e.n, 1);
	e = (struct extents){ .fail_at = -1 };
	ck_assert_int_eq(nb_file_extents(fd, 0, note_extent, &e), 0);
	ck_assert_int_eq(e.n, 0);
	/* fn's -1 ends the walk, its errno kept */
	e = (struct extents){ .fail_at = 1 };
	errno = 0;
	ck_assert_int_eq(nb_file_extents(fd, size, note_extent, &e), -1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(e.n, 1);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("file");
	TCase *tc = tcase_create("file");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, read_limit_exactly);
	tcase_add_test(tc, read_from_a_pipe);
	tcase_add_test(tc, read_missing_and_symlink);
	tcase_add_test(tc, write_creates_and_replaces);
	tcase_add_test(tc, write_never_follows_links);
	tcase_add_test(tc, write_replaces_leftover_tmp);
	tcase_add_test(tc, write_failure_keeps_target);
	tcase_add_test(tc, mkdir_p_makes_and_tolerates);
	tcase_add_test(tc, mkdir_p_refuses_a_file);
	tcase_add_test(tc, mkdir_p_beneath_refuses_links);
	tcase_add_test(tc, extents_skip_holes);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
