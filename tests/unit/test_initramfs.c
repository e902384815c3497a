/* Initramfs packer: build from a scratch tree, read every segment back with
 * libarchive and check entries, modes, links, owners, mtimes and bytes. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "images/initramfs.h"
#include "nestbox/abi.h"

#define MAX_ENTRIES 64
#define NEWC_HEADER 110

struct seen {
	unsigned segment;
	char path[256];
	mode_t mode;
	int64_t uid, gid, size, mtime;
	dev_t rdev;
	char symlink[256];
	char hardlink[256];
	char data[256];
};

struct readback {
	struct seen e[MAX_ENTRIES];
	size_t n;
	unsigned segments;
};

static const char init_bytes[] = "\177ELF pretend this is nestbox-init";
static const char spec_bytes[] = "\xd0\x0d\xfe\xed pretend spec";

static char tmp_root[64];
static char tree_dir[128];
static char init_path[128];

static void write_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static void path_in(char *buf, size_t size, const char *dir, const char *name)
{
	ck_assert_int_lt(snprintf(buf, size, "%s/%s", dir, name), (int)size);
}

/* tree: hello.txt (0640, mtime 1234567890), sub/ (0750), sub/nested,
 * sub/hard (hard link to hello.txt), link -> hello.txt, abs -> /nonexistent,
 * fifo (0600); as root also a char device and a chowned file. */
static void make_tree(void)
{
	const struct timespec times[2] = { { 1234567890, 0 }, { 1234567890, 0 } };
	char p[256], q[256];

	strcpy(tmp_root, "/tmp/nb-initramfs-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp_root));
	ck_assert_int_eq(chmod(tmp_root, 0755), 0);
	path_in(tree_dir, sizeof(tree_dir), tmp_root, "tree");
	path_in(init_path, sizeof(init_path), tmp_root, "init");
	write_file(init_path, init_bytes, 0755);
	ck_assert_int_eq(mkdir(tree_dir, 0755), 0);
	path_in(p, sizeof(p), tree_dir, "hello.txt");
	write_file(p, "hello\n", 0640);
	ck_assert_int_eq(utimensat(AT_FDCWD, p, times, 0), 0);
	path_in(q, sizeof(q), tree_dir, "sub");
	ck_assert_int_eq(mkdir(q, 0750), 0);
	path_in(q, sizeof(q), tree_dir, "sub/nested");
	write_file(q, "nested\n", 0644);
	path_in(q, sizeof(q), tree_dir, "sub/hard");
	ck_assert_int_eq(link(p, q), 0);
	path_in(q, sizeof(q), tree_dir, "link");
	ck_assert_int_eq(symlink("hello.txt", q), 0);
	path_in(q, sizeof(q), tree_dir, "abs");
	ck_assert_int_eq(symlink("/nonexistent/target", q), 0);
	path_in(q, sizeof(q), tree_dir, "fifo");
	ck_assert_int_eq(mkfifo(q, 0600), 0);
	ck_assert_int_eq(chmod(q, 0600), 0);
	if (geteuid() == 0) {
		path_in(q, sizeof(q), tree_dir, "null");
		ck_assert_int_eq(mknod(q, S_IFCHR | 0666, makedev(1, 3)), 0);
		ck_assert_int_eq(chmod(q, 0666), 0);
		path_in(q, sizeof(q), tree_dir, "sub/owned");
		write_file(q, "owned\n", 0600);
		ck_assert_int_eq(lchown(q, 1234, 5678), 0);
	}
}

static void remove_tree(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
	ck_assert_int_eq(system(cmd), 0);
}

static uint32_t hex8(const uint8_t *p)
{
	char buf[9];

	memcpy(buf, p, 8);
	buf[8] = '\0';
	return (uint32_t)strtoul(buf, NULL, 16);
}

/* Length of the newc archive at the start of p, found by walking headers to
 * the trailer, so segments can be handed to libarchive one at a time. */
static size_t segment_len(const uint8_t *p, size_t len)
{
	size_t off = 0;

	for (;;) {
		uint32_t namesize, filesize;
		bool trailer;

		ck_assert_uint_le(off + NEWC_HEADER, len);
		ck_assert_int_eq(memcmp(p + off, "070701", 6), 0);
		filesize = hex8(p + off + 54);
		namesize = hex8(p + off + 94);
		ck_assert_uint_le(off + NEWC_HEADER + namesize, len);
		trailer = namesize == 11 && memcmp(p + off + NEWC_HEADER, "TRAILER!!!", 11) == 0;
		off = (off + NEWC_HEADER + namesize + 3) & ~(size_t)3;
		off = (off + filesize + 3) & ~(size_t)3;
		ck_assert_uint_le(off, len);
		if (trailer)
			return off;
	}
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static void read_segment(struct readback *rb, const uint8_t *p, size_t len)
{
	struct archive *a = archive_read_new();
	struct archive_entry *entry;
	int r;

	ck_assert_int_eq(archive_read_support_format_cpio(a), ARCHIVE_OK);
	ck_assert_int_eq(archive_read_open_memory(a, p, len), ARCHIVE_OK);
	while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK) {
		struct seen *s = &rb->e[rb->n++];

		ck_assert_uint_le(rb->n, MAX_ENTRIES);
		s->segment = rb->segments;
		copy_str(s->path, sizeof(s->path), archive_entry_pathname(entry));
		s->mode = archive_entry_mode(entry);
		s->uid = archive_entry_uid(entry);
		s->gid = archive_entry_gid(entry);
		s->size = archive_entry_size(entry);
		s->mtime = archive_entry_mtime(entry);
		s->rdev = archive_entry_rdev(entry);
		copy_str(s->symlink, sizeof(s->symlink), archive_entry_symlink(entry));
		copy_str(s->hardlink, sizeof(s->hardlink), archive_entry_hardlink(entry));
		ck_assert_int_ge(archive_read_data(a, s->data, sizeof(s->data) - 1), 0);
	}
	ck_assert_int_eq(r, ARCHIVE_EOF);
	archive_read_free(a);
	rb->segments++;
}

static void read_all(struct readback *rb, const struct nb_buf *buf)
{
	size_t off = 0;

	memset(rb, 0, sizeof(*rb));
	while (off < buf->len) {
		size_t n = segment_len(buf->data + off, buf->len - off);

		read_segment(rb, buf->data + off, n);
		off += n;
	}
	ck_assert_uint_eq(off, buf->len);
}

static const struct seen *find(const struct readback *rb, unsigned segment, const char *path)
{
	for (size_t i = 0; i < rb->n; i++)
		if (rb->e[i].segment == segment && strcmp(rb->e[i].path, path) == 0)
			return &rb->e[i];
	ck_abort_msg("no entry %s in segment %u", path, segment);
	return NULL;
}

static void build_ok(struct nb_buf *buf, const char *rootfs)
{
	struct nb_err err = { 0 };

	ck_assert_msg(nb_initramfs_build(buf, init_path, rootfs, spec_bytes, sizeof(spec_bytes),
					 &err) == 0,
		      "%s", err.msg);
}

START_TEST(base_and_spec)
{
	struct nb_buf buf = { 0 };
	struct readback rb;
	const struct seen *s;

	make_tree();
	build_ok(&buf, NULL);
	read_all(&rb, &buf);
	ck_assert_uint_eq(rb.segments, 2);
	ck_assert_uint_eq(find(&rb, 0, "dev")->mode, S_IFDIR | 0755);
	ck_assert_uint_eq(find(&rb, 0, "proc")->mode & S_IFMT, S_IFDIR);
	ck_assert_uint_eq(find(&rb, 0, "sys")->mode & S_IFMT, S_IFDIR);
	ck_assert_uint_eq(find(&rb, 0, "nestbox")->mode & S_IFMT, S_IFDIR);
	ck_assert_uint_eq(find(&rb, 0, NB_GUEST_ROOTFS + 1)->mode & S_IFMT, S_IFDIR);
	s = find(&rb, 0, "dev/console");
	ck_assert_uint_eq(s->mode, S_IFCHR | 0600);
	ck_assert_uint_eq(major(s->rdev), 5);
	ck_assert_uint_eq(minor(s->rdev), 1);
	s = find(&rb, 0, "init");
	ck_assert_uint_eq(s->mode, S_IFREG | 0755);
	ck_assert_int_eq(s->uid, 0);
	ck_assert_int_eq(s->size, (int64_t)strlen(init_bytes));
	ck_assert_str_eq(s->data, init_bytes);
	s = find(&rb, 1, NB_SPEC_PATH + 1);
	ck_assert_uint_eq(s->mode, S_IFREG | 0400);
	ck_assert_int_eq(s->size, (int64_t)sizeof(spec_bytes));
	ck_assert_int_eq(memcmp(s->data, spec_bytes, sizeof(spec_bytes)), 0);
	nb_buf_free(&buf);
	remove_tree();
}
END_TEST

static void check_hard_link(const struct readback *rb)
{
	const struct seen *a = find(rb, 1, "rootfs/hello.txt");
	const struct seen *b = find(rb, 1, "rootfs/sub/hard");
	const struct seen *first = a->hardlink[0] ? b : a, *second = a->hardlink[0] ? a : b;

	/* Whichever the walk met first carries the data; the other links to it. */
	ck_assert_str_eq(first->hardlink, "");
	ck_assert_str_eq(second->hardlink, first->path);
	ck_assert_str_eq(first->data, "hello\n");
	ck_assert_int_eq(second->size, 0);
	ck_assert_uint_eq(second->mode, S_IFREG | 0640);
}

START_TEST(tree_round_trip)
{
	struct nb_buf buf = { 0 };
	struct readback rb;
	const struct seen *s;

	make_tree();
	build_ok(&buf, tree_dir);
	read_all(&rb, &buf);
	ck_assert_uint_eq(rb.segments, 3);
	ck_assert_uint_eq(find(&rb, 1, "rootfs")->mode, S_IFDIR | 0755);
	s = find(&rb, 1, "rootfs/hello.txt");
	ck_assert_uint_eq(s->mode, S_IFREG | 0640);
	ck_assert_int_eq(s->mtime, 1234567890);
	ck_assert_uint_eq(find(&rb, 1, "rootfs/sub")->mode, S_IFDIR | 0750);
	ck_assert_str_eq(find(&rb, 1, "rootfs/sub/nested")->data, "nested\n");
	s = find(&rb, 1, "rootfs/link");
	ck_assert_uint_eq(s->mode & S_IFMT, S_IFLNK);
	ck_assert_str_eq(s->symlink, "hello.txt");
	ck_assert_str_eq(find(&rb, 1, "rootfs/abs")->symlink, "/nonexistent/target");
	ck_assert_uint_eq(find(&rb, 1, "rootfs/fifo")->mode, S_IFIFO | 0600);
	check_hard_link(&rb);
	if (geteuid() == 0) {
		s = find(&rb, 1, "rootfs/null");
		ck_assert_uint_eq(s->mode, S_IFCHR | 0666);
		ck_assert_uint_eq(s->rdev, makedev(1, 3));
		s = find(&rb, 1, "rootfs/sub/owned");
		ck_assert_int_eq(s->uid, 1234);
		ck_assert_int_eq(s->gid, 5678);
	}
	ck_assert_str_eq(find(&rb, 2, NB_SPEC_PATH + 1)->data, spec_bytes);
	nb_buf_free(&buf);
	remove_tree();
}
END_TEST

/* A trailing slash on the host dir must not change the names. */
START_TEST(tree_trailing_slash)
{
	struct nb_buf buf = { 0 };
	struct readback rb;
	char dir[160];

	make_tree();
	snprintf(dir, sizeof(dir), "%s//", tree_dir);
	build_ok(&buf, dir);
	read_all(&rb, &buf);
	ck_assert_str_eq(find(&rb, 1, "rootfs/sub/nested")->data, "nested\n");
	nb_buf_free(&buf);
	remove_tree();
}
END_TEST

static void expect_build_error(const char *init, const char *rootfs, const char *want1,
			       const char *want2)
{
	struct nb_buf buf = { 0 };
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_buf_append(&buf, "keep", 4, &err), 0);
	ck_assert_int_eq(nb_initramfs_build(&buf, init, rootfs, spec_bytes, sizeof(spec_bytes),
					    &err),
			 -1);
	ck_assert_msg(strstr(err.msg, want1) && strstr(err.msg, want2),
		      "message \"%s\" lacks \"%s\" or \"%s\"", err.msg, want1, want2);
	ck_assert_uint_eq(buf.len, 4); /* left as it was */
	nb_buf_free(&buf);
}

START_TEST(missing_rootfs)
{
	make_tree();
	expect_build_error(init_path, "/nonexistent/rootfs", "/nonexistent/rootfs",
			   "No such file or directory");
	remove_tree();
}
END_TEST

START_TEST(rootfs_not_a_directory)
{
	make_tree();
	expect_build_error(init_path, init_path, init_path, "Not a directory");
	remove_tree();
}
END_TEST

START_TEST(missing_init)
{
	make_tree();
	expect_build_error("/nonexistent/init", tree_dir, "/nonexistent/init", "No such file");
	expect_build_error(tree_dir, NULL, tree_dir, "not a regular file");
	remove_tree();
}
END_TEST

/* Root reads everything, so drop to nobody in a child for this one. */
START_TEST(unreadable_file)
{
	char secret[256];
	pid_t pid;
	int status;

	make_tree();
	path_in(secret, sizeof(secret), tree_dir, "secret");
	write_file(secret, "s3cret\n", 0000);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct nb_buf buf = { 0 };
		struct nb_err err = { 0 };

		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(2);
		if (nb_initramfs_append_tree(&buf, tree_dir, NB_GUEST_ROOTFS, &err) == 0)
			_exit(3);
		if (!strstr(err.msg, "secret") || !strstr(err.msg, "ermission denied")) {
			fprintf(stderr, "unexpected message: %s\n", err.msg);
			_exit(4);
		}
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	remove_tree();
}
END_TEST

static Suite *initramfs_suite(void)
{
	Suite *s = suite_create("initramfs");
	TCase *tc = tcase_create("packer");

	tcase_add_test(tc, base_and_spec);
	tcase_add_test(tc, tree_round_trip);
	tcase_add_test(tc, tree_trailing_slash);
	tcase_add_test(tc, missing_rootfs);
	tcase_add_test(tc, rootfs_not_a_directory);
	tcase_add_test(tc, missing_init);
	tcase_add_test(tc, unreadable_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(initramfs_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
