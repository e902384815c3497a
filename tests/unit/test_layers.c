/* Layer extraction on crafted tars (built here with libarchive): whiteout
 * conversion, metadata, and every hostile member refused with nothing
 * written outside the target: '..', absolute paths, symlink and hard link
 * escapes, giant size claims, too many members, long paths, truncation,
 * overlay xattrs smuggled in; and the cache keeps no half entry when a
 * blob's digest does not match. Needs root (owners, device nodes). */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "images/cache.h"
#include "images/layers.h"
#include "unit/unit.h"

static char top[64], root[128], outside[128], tarpath[128];
static struct archive *w;

static void setup(void)
{
	strcpy(top, "/tmp/nb-layers-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
	snprintf(root, sizeof(root), "%s/root", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	snprintf(tarpath, sizeof(tarpath), "%s/layer.tar", top);
	ck_assert_int_eq(mkdir(root, 0755), 0);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
}

static void teardown(void)
{
	nb_rm_rf(top);
}

static void tar_begin(bool gzip)
{
	w = archive_write_new();
	archive_write_set_format_pax_restricted(w);
	if (gzip)
		archive_write_add_filter_gzip(w);
	ck_assert_int_eq(archive_write_open_filename(w, tarpath), ARCHIVE_OK);
}

static struct archive_entry *entry(const char *path, mode_t type, mode_t perm, int64_t size)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_size(e, size);
	archive_entry_set_mtime(e, 1700000000, 0);
	return e;
}

static void add(struct archive_entry *e, const char *data)
{
	ck_assert_int_eq(archive_write_header(w, e), ARCHIVE_OK);
	if (data)
		ck_assert_int_eq(archive_write_data(w, data, strlen(data)), (ssize_t)strlen(data));
	archive_entry_free(e);
}

static void add_file(const char *path, const char *data)
{
	add(entry(path, AE_IFREG, 0644, (int64_t)strlen(data)), data);
}

static void add_dir(const char *path)
{
	add(entry(path, AE_IFDIR, 0755, 0), NULL);
}

static void add_symlink(const char *path, const char *target)
{
	struct archive_entry *e = entry(path, AE_IFLNK, 0777, 0);

	archive_entry_set_symlink(e, target);
	add(e, NULL);
}

static void add_hardlink(const char *path, const char *target)
{
	struct archive_entry *e = entry(path, AE_IFREG, 0644, 0);

	archive_entry_set_hardlink(e, target);
	add(e, NULL);
}

static void tar_end(void)
{
	ck_assert_int_eq(archive_write_close(w), ARCHIVE_OK);
	archive_write_free(w);
}

static int extract_with(const struct nb_layer_limits *lim, struct nb_err *err)
{
	struct nb_digest d, want;
	uint64_t size, want_size;
	int fd = open(tarpath, O_RDONLY), rc;

	ck_assert_int_ge(fd, 0);
	rc = nb_layer_extract(fd, 0, root, lim, &d, &size, err);
	if (rc == 0) {
		/* The digest covers every byte of the blob. */
		lseek(fd, 0, SEEK_SET);
		ck_assert_int_eq(nb_sha256_fd(fd, &want, &want_size, err), 0);
		ck_assert_str_eq(d.hex, want.hex);
		ck_assert_uint_eq(size, want_size);
	}
	close(fd);
	return rc;
}

static int extract(struct nb_err *err)
{
	return extract_with(NULL, err);
}

static bool exists_in(const char *dir, const char *rel)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lstat(p, &st) == 0;
}

static void assert_outside_empty(void)
{
	char p[256];

	ck_assert(!exists_in(outside, "pwned"));
	snprintf(p, sizeof(p), "%s/pwned", top);
	ck_assert_int_ne(access(p, F_OK), 0);
	ck_assert_int_ne(access("/tmp/pwned-nestbox", F_OK), 0);
}

START_TEST(whiteouts)
{
	struct nb_err err = { 0 };
	char p[256], v[8];
	struct stat st;

	tar_begin(true);
	add_dir("etc");
	add_file("etc/.wh.passwd", "");
	add_file("opt/data/.wh..wh..opq", ""); /* its directory comes later */
	add_dir("opt/data");
	add_file("opt/data/new", "n");
	tar_end();
	ck_assert_msg(extract(&err) == 0, "%s", err.msg);
	snprintf(p, sizeof(p), "%s/etc/passwd", root);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_uint_eq(st.st_rdev, makedev(0, 0));
	ck_assert(!exists_in(root, "etc/.wh.passwd"));
	ck_assert(!exists_in(root, "opt/data/.wh..wh..opq"));
	snprintf(p, sizeof(p), "%s/opt/data", root);
	ck_assert_int_eq(lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v)), 1);
	ck_assert_int_eq(v[0], 'y');
	ck_assert(exists_in(root, "opt/data/new"));
}
END_TEST

START_TEST(metadata)
{
	struct nb_err err = { 0 };
	struct archive_entry *e;
	char p[256];
	struct stat st, st2;

	tar_begin(false);
	e = entry("bin/suid", AE_IFREG, 04755, 2);
	archive_entry_set_uid(e, 1234);
	archive_entry_set_gid(e, 5678);
	add(e, "#!");
	e = entry("dev/null0", AE_IFCHR, 0666, 0);
	archive_entry_set_rdev(e, makedev(1, 3));
	add(e, NULL);
	add_hardlink("bin/suid2", "bin/suid");
	add_symlink("bin/sh", "/bin/busybox"); /* absolute targets are the guest's business */
	e = entry("etc/x", AE_IFREG, 0600, 1);
	archive_entry_xattr_add_entry(e, "user.keep", "1", 1);
	archive_entry_xattr_add_entry(e, "trusted.overlay.redirect", "/etc", 4);
	add(e, "x");
	add_file("/abs/file", "a"); /* absolute: made relative */
	add_file("./dot/./file", "d");
	tar_end();
	ck_assert_msg(extract(&err) == 0, "%s", err.msg);
	snprintf(p, sizeof(p), "%s/bin/suid", root);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 04755);
	ck_assert_uint_eq(st.st_uid, 1234);
	ck_assert_uint_eq(st.st_gid, 5678);
	ck_assert_uint_eq(st.st_nlink, 2);
	snprintf(p, sizeof(p), "%s/bin/suid2", root);
	ck_assert_int_eq(lstat(p, &st2), 0);
	ck_assert_uint_eq(st.st_ino, st2.st_ino);
	snprintf(p, sizeof(p), "%s/dev/null0", root);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_uint_eq(st.st_rdev, makedev(1, 3));
	snprintf(p, sizeof(p), "%s/bin/sh", root);
	char target[64] = "";
	ck_assert_int_gt(readlink(p, target, sizeof(target) - 1), 0);
	ck_assert_str_eq(target, "/bin/busybox");
	snprintf(p, sizeof(p), "%s/etc/x", root);
	ck_assert_int_eq(lgetxattr(p, "user.keep", target, sizeof(target)), 1);
	ck_assert_int_lt(lgetxattr(p, "trusted.overlay.redirect", target, sizeof(target)), 0);
	ck_assert(exists_in(root, "abs/file"));
	ck_assert(exists_in(root, "dot/file"));
}
END_TEST

START_TEST(dotdot)
{
	struct nb_err err = { 0 };

	tar_begin(false);
	add_file("../outside/pwned", "x");
	tar_end();
	ck_assert_int_lt(extract(&err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "'..'"));
	assert_outside_empty();
}
END_TEST

START_TEST(symlink_escape)
{
	struct nb_err err = { 0 };

	tar_begin(false);
	add_symlink("link", outside);
	add_file("link/pwned", "x");
	tar_end();
	ck_assert_int_lt(extract(&err), 0);
	ck_assert_msg(strstr(err.msg, "symlink") || strstr(err.msg, "link"), "%s", err.msg);
	assert_outside_empty();
}
END_TEST

START_TEST(symlink_relative_escape)
{
	struct nb_err err = { 0 };

	tar_begin(false);
	add_symlink("up", "../outside");
	add_file("up/pwned", "x");
	tar_end();
	ck_assert_int_lt(extract(&err), 0);
	assert_outside_empty();
}
END_TEST

START_TEST(hardlink_escape)
{
	struct nb_err err = { 0 };
	char victim[256];
	struct stat st;

	snprintf(victim, sizeof(victim), "%s/victim", outside);
	close(open(victim, O_CREAT | O_WRONLY, 0644));
	tar_begin(false);
	add_hardlink("h", "../outside/victim");
	tar_end();
	ck_assert_int_lt(extract(&err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "'..'"));
	/* Through a symlink that points outside. */
	nb_rm_rf(root);
	mkdir(root, 0755);
	tar_begin(false);
	add_symlink("out", outside);
	add_hardlink("h", "out/victim");
	tar_end();
	ck_assert_int_lt(extract(&err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "escapes"));
	ck_assert_int_eq(stat(victim, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 1);
}
END_TEST

/* A ustar header claiming an 8 GiB member with no data behind it. */
static void write_giant_claim(void)
{
	unsigned char hdr[1024] = { 0 };
	unsigned sum = 0;
	int fd;

	strcpy((char *)hdr, "giant");
	memcpy(hdr + 100, "0000644", 8);
	memcpy(hdr + 108, "0000000", 8);
	memcpy(hdr + 116, "0000000", 8);
	memcpy(hdr + 124, "77777777777", 12);
	memcpy(hdr + 136, "00000000000", 12);
	memset(hdr + 148, ' ', 8);
	hdr[156] = '0';
	memcpy(hdr + 257, "ustar", 6);
	memcpy(hdr + 263, "00", 2);
	for (int i = 0; i < 512; i++)
		sum += hdr[i];
	snprintf((char *)hdr + 148, 8, "%06o", sum);
	fd = open(tarpath, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	ck_assert_int_eq(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	close(fd);
}

START_TEST(giant_size)
{
	struct nb_layer_limits lim = nb_layer_default_limits;
	struct nb_err err = { 0 };

	lim.max_bytes = 1ull << 30;
	write_giant_claim();
	ck_assert_int_lt(extract_with(&lim, &err), 0);
	ck_assert_msg(strstr(err.msg, "claims 8589934591 bytes"), "%s", err.msg);
	ck_assert(!exists_in(root, "giant"));
}
END_TEST

START_TEST(too_many_entries)
{
	struct nb_layer_limits lim = nb_layer_default_limits;
	struct nb_err err = { 0 };
	char name[32];

	lim.max_entries = 10;
	tar_begin(false);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		add_file(name, "");
	}
	tar_end();
	ck_assert_int_lt(extract_with(&lim, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "more than 10 members"));
}
END_TEST

START_TEST(long_paths)
{
	struct nb_layer_limits lim = nb_layer_default_limits;
	struct nb_err err = { 0 };
	char name[300];

	lim.max_path = 100;
	memset(name, 'a', 150);
	name[150] = '\0';
	tar_begin(false);
	add_file(name, "");
	tar_end();
	ck_assert_int_lt(extract_with(&lim, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "long"));
	/* One component over NAME_MAX with the default limits. */
	memset(name, 'b', 299);
	name[299] = '\0';
	nb_rm_rf(root);
	mkdir(root, 0755);
	tar_begin(false);
	add_file(name, "");
	tar_end();
	ck_assert_int_lt(extract(&err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "longer than 255"));
}
END_TEST

START_TEST(truncated)
{
	struct nb_err err = { 0 };
	char big[20000];
	struct stat st;

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)('a' + (i * 7919) % 26);
	tar_begin(true);
	add_file("a", big);
	add_file("b", big);
	tar_end();
	ck_assert_int_eq(stat(tarpath, &st), 0);
	ck_assert_int_eq(truncate(tarpath, st.st_size / 2), 0);
	ck_assert_int_lt(extract(&err), 0);
	ck_assert_msg(strstr(err.msg, "truncated") || strstr(err.msg, "corrupt"), "%s", err.msg);
}
END_TEST

START_TEST(not_a_tar)
{
	struct nb_err err = { 0 };
	int fd = open(tarpath, O_CREAT | O_TRUNC | O_WRONLY, 0644);

	ck_assert_int_eq(write(fd, "hello, not a tar at all\n", 24), 24);
	close(fd);
	ck_assert_int_lt(extract(&err), 0);
}
END_TEST

START_TEST(endless_blob)
{
	struct nb_err err = { 0 };
	struct nb_digest d;
	uint64_t size;
	int fd = open("/dev/zero", O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_lt(nb_layer_extract(fd, 1u << 20, root, NULL, &d, &size, &err), 0);
	ck_assert_msg(strstr(err.msg, "longer than 1048576"), "%s", err.msg);
	close(fd);
}
END_TEST

static int open_tar(void *ctx, const struct nb_desc *d, struct nb_err *err)
{
	(void)ctx, (void)d;
	int fd = open(tarpath, O_RDONLY);
	return fd < 0 ? nb_err_sys(err, "open") : fd;
}

START_TEST(cache_mismatch_leaves_nothing)
{
	struct nb_err err = { 0 };
	struct nb_cache c;
	struct nb_desc d = { .size = -1 };
	char cache_dir[200], *path = NULL;
	bool converted;

	snprintf(cache_dir, sizeof(cache_dir), "%s/cache", top);
	setenv("NESTBOX_CACHE_DIR", cache_dir, 1);
	tar_begin(false);
	add_file("f", "data");
	tar_end();
	ck_assert_int_eq(nb_cache_open(&c, false, &err), 0);
	nb_digest_parse("sha256:1111111111111111111111111111111111111111111111111111111111111111",
			&d.digest, &err);
	ck_assert_int_lt(nb_layer_get(&c, &d, open_tar, NULL, NULL, NULL, &path, &converted, &err),
			 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "mismatch"));
	ck_assert(!nb_layer_cached(&c, &d.digest));
	ck_assert(!exists_in(
		c.tmp,
		"layer-1111111111111111111111111111111111111111111111111111111111111111.XXXXXX"));
	/* tmp/ is empty again. */
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\"", c.tmp);
	ck_assert_int_eq(system(cmd), 0);
	nb_cache_close(&c);
	unsetenv("NESTBOX_CACHE_DIR");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("layers");
	TCase *tc = tcase_create("layers");

	if (geteuid() != 0) {
		printf("skip layers: needs root (owners, device nodes)\n");
		printf("100%%: Checks: 0, Failures: 0, Errors: 0\n");
		return 0;
	}
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, whiteouts);
	tcase_add_test(tc, metadata);
	tcase_add_test(tc, dotdot);
	tcase_add_test(tc, symlink_escape);
	tcase_add_test(tc, symlink_relative_escape);
	tcase_add_test(tc, hardlink_escape);
	tcase_add_test(tc, giant_size);
	tcase_add_test(tc, too_many_entries);
	tcase_add_test(tc, long_paths);
	tcase_add_test(tc, truncated);
	tcase_add_test(tc, not_a_tar);
	tcase_add_test(tc, endless_blob);
	tcase_add_test(tc, cache_mismatch_leaves_nothing);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
