/* virtio-fs (vmm/virtio/fs*.c) on crafted requests against a temporary
 * shared directory: the decoder (short, long and lying lengths, unknown
 * opcodes, requests before INIT), hostile names, escapes through "..",
 * absolute symlinks and renames, the bounded tables and a forget storm,
 * read-only shares, and each operation's effect on the host. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/falloc.h>
#include <linux/virtio_fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/fuse_req.h"
#include "unit/unit.h"
#include "vmm/virtio/fs.h"

static struct fr *f;
static struct nb_fs *fs;
static char dir[64], path[512];
static char outside[64]; /* a directory beside the share: nothing may reach it */

#define ROOM 8192u

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static const char *in_share(const char *name)
{
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static int32_t call(size_t room)
{
	fr_send(f, fs, room);
	return fr_header(f)->error;
}

static void do_init(void)
{
	struct fuse_init_in in = { .major = FUSE_KERNEL_VERSION,
				   .minor = 36,
				   .max_readahead = 1 << 17,
				   .flags = 0xffffffffu };

	fr_begin(f, FUSE_INIT, 0);
	fr_put(f, &in, sizeof(in));
	ck_assert_int_eq(call(ROOM), 0);
}

static void open_share(bool ro, unsigned max_inodes)
{
	struct nb_err err = { 0 };
	struct nb_fs_opts opts = { .tag = "share", .read_only = ro, .max_inodes = max_inodes };

	if (fs)
		nb_fs_close(fs);
	fs = NULL;
	ck_assert_msg(nb_fs_open(&fs, dir, &opts, &err) == 0, "%s", err.msg);
	do_init();
}

static void write_host(const char *name, const char *content)
{
	FILE *fp = fopen(in_share(name), "w");

	ck_assert_ptr_nonnull(fp);
	fputs(content, fp);
	fclose(fp);
}

static void setup(void)
{
	umask(0);
	if (!f)
		f = calloc(1, sizeof(*f));
	ck_assert_ptr_nonnull(f);
	strcpy(outside, "/tmp/nestbox-fs-out-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(outside));
	strcpy(dir, "/tmp/nestbox-fs-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	f->uid = f->gid = 0;
	open_share(false, 0);
}

static void teardown(void)
{
	nb_fs_close(fs);
	fs = NULL;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	nftw(outside, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t lookup(uint64_t parent, const char *name, int32_t *error)
{
	const struct fuse_entry_out *e = fr_payload(f);

	fr_begin(f, FUSE_LOOKUP, parent);
	fr_str(f, name);
	*error = call(ROOM);
	return *error ? 0 : e->nodeid;
}

static uint64_t must_lookup(uint64_t parent, const char *name)
{
	int32_t error;
	uint64_t id = lookup(parent, name, &error);

	ck_assert_msg(error == 0, "lookup %s: %d", name, error);
	return id;
}

static unsigned inodes(void)
{
	unsigned n, h;

	nb_fs_counts(fs, &n, &h);
	return n;
}

static unsigned handles(void)
{
	unsigned n, h;

	nb_fs_counts(fs, &n, &h);
	return h;
}

/* CREATE name in parent: the new nodeid, the handle in *fh. */
static uint64_t create(uint64_t parent, const char *name, uint32_t flags, uint32_t mode,
		       uint64_t *fh, int32_t *error)
{
	struct fuse_create_in in = { .flags = flags, .mode = S_IFREG | mode };
	const struct fuse_entry_out *e = fr_payload(f);

	fr_begin(f, FUSE_CREATE, parent);
	fr_put(f, &in, sizeof(in));
	fr_str(f, name);
	*error = call(ROOM);
	if (*error)
		return 0;
	*fh = ((const struct fuse_open_out *)(e + 1))->fh;
	return e->nodeid;
}

static int32_t write_fh(uint64_t fh, uint64_t off, const void *data, uint32_t size,
			uint32_t *written)
{
	struct fuse_write_in in = { .fh = fh, .offset = off, .size = size };

	fr_begin(f, FUSE_WRITE, 2);
	fr_put(f, &in, sizeof(in));
	fr_put(f, data, size);
	int32_t error = call(ROOM);
	*written = error ? 0 : ((const struct fuse_write_out *)fr_payload(f))->size;
	return error;
}

/* READ into the reply; returns the error, *got the data bytes. */
static int32_t read_fh(uint64_t fh, uint64_t off, uint32_t size, size_t room, uint32_t *got)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };

	fr_begin(f, FUSE_READ, 2);
	fr_put(f, &in, sizeof(in));
	uint32_t n = fr_send(f, fs, room);
	*got = n - (uint32_t)sizeof(struct fuse_out_header);
	return fr_header(f)->error;
}

static uint64_t open_node(uint64_t node, uint32_t flags, int32_t *error)
{
	struct fuse_open_in in = { .flags = flags };

	fr_begin(f, FUSE_OPEN, node);
	fr_put(f, &in, sizeof(in));
	*error = call(ROOM);
	return *error ? 0 : ((const struct fuse_open_out *)fr_payload(f))->fh;
}

static int32_t release(uint32_t opcode, uint64_t fh)
{
	struct fuse_release_in in = { .fh = fh };

	fr_begin(f, opcode, 2);
	fr_put(f, &in, sizeof(in));
	return call(ROOM);
}

static void forget(uint64_t node, uint64_t n)
{
	struct fuse_forget_in in = { .nlookup = n };

	fr_begin(f, FUSE_FORGET, node);
	fr_put(f, &in, sizeof(in));
	ck_assert_uint_eq(fr_send(f, fs, ROOM), 0); /* no reply, ever */
}

/* ---- the decoder ------------------------------------------------------------ */

START_TEST(reply_header_and_unique)
{
	struct fuse_getattr_in in = { 0 };

	fr_begin(f, FUSE_GETATTR, FUSE_ROOT_ID);
	fr_put(f, &in, sizeof(in));
	ck_assert_uint_eq(fr_send(f, fs, ROOM),
			  sizeof(struct fuse_out_header) + sizeof(struct fuse_attr_out));
	ck_assert_int_eq(fr_header(f)->error, 0);
	ck_assert_uint_eq(fr_header(f)->unique, f->unique);
	ck_assert_uint_eq(fr_header(f)->len,
			  sizeof(struct fuse_out_header) + sizeof(struct fuse_attr_out));
	const struct fuse_attr_out *a = fr_payload(f);
	ck_assert(S_ISDIR(a->attr.mode));
}
END_TEST

START_TEST(before_init_and_bad_versions)
{
	struct fuse_init_in in = { .major = FUSE_KERNEL_VERSION, .minor = 30 };
	struct fuse_getattr_in ga = { 0 };

	fr_begin(f, FUSE_DESTROY, 0);
	ck_assert_int_eq(call(ROOM), 0);
	fr_begin(f, FUSE_GETATTR, FUSE_ROOT_ID);
	fr_put(f, &ga, sizeof(ga));
	ck_assert_int_eq(call(ROOM), -EIO);
	fr_begin(f, FUSE_INIT, 0);
	fr_put(f, &in, sizeof(in));
	ck_assert_int_eq(call(ROOM), -EPROTO); /* older than virtio-fs */
	in.major = 6;
	fr_begin(f, FUSE_INIT, 0);
	fr_put(f, &in, sizeof(in));
	ck_assert_int_eq(call(ROOM), -EPROTO);
	in.major = 8; /* newer: we answer with ours and wait */
	fr_begin(f, FUSE_INIT, 0);
	fr_put(f, &in, sizeof(in));
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_uint_eq(((const struct fuse_init_out *)fr_payload(f))->major,
			  FUSE_KERNEL_VERSION);
	fr_begin(f, FUSE_GETATTR, FUSE_ROOT_ID);
	fr_put(f, &ga, sizeof(ga));
	ck_assert_int_eq(call(ROOM), -EIO);
	/* A short INIT. */
	fr_begin(f, FUSE_INIT, 0);
	fr_put(f, &in, 8);
	ck_assert_int_eq(call(ROOM), -EINVAL);
	do_init();
	const struct fuse_init_out *out = fr_payload(f);
	ck_assert_uint_eq(out->minor, 36);
	ck_assert_uint_eq(out->max_write, NB_FS_MAX_RW);
	ck_assert_uint_eq(out->flags & ~(uint32_t)(FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC |
						   FUSE_BIG_WRITES | FUSE_AUTO_INVAL_DATA |
						   FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
						   FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES),
			  0);
}
END_TEST

START_TEST(lying_lengths)
{
	struct fuse_getattr_in in = { 0 };

	/* Header claims more than the chain holds, or less than itself. */
	fr_begin(f, FUSE_GETATTR, FUSE_ROOT_ID);
	fr_put(f, &in, sizeof(in));
	f->len_delta = 1;
	ck_assert_int_eq(call(ROOM), -EINVAL);
	fr_begin(f, FUSE_GETATTR, FUSE_ROOT_ID);
	f->len_delta = -(int32_t)sizeof(struct fuse_in_header) + 4;
	ck_assert_int_eq(call(ROOM), -EINVAL);
	f->len_delta = INT32_MAX;
	ck_assert_int_eq(call(ROOM), -EINVAL);
	/* Arguments shorter than the operation's. */
	fr_begin(f, FUSE_GETATTR, FUSE_ROOT_ID);
	fr_put(f, &in, sizeof(in) - 1);
	ck_assert_int_eq(call(ROOM), -EINVAL);
	/* A chain shorter than a header: an error, unique 0. */
	fr_begin(f, FUSE_GETATTR, FUSE_ROOT_ID);
	f->in_len = 20;
	ck_assert_uint_eq(fr_send(f, fs, ROOM), sizeof(struct fuse_out_header));
	ck_assert_int_eq(fr_header(f)->error, -EINVAL);
	ck_assert_uint_eq(fr_header(f)->unique, 0);
	/* No room for even the out header: nothing written. */
	fr_begin(f, FUSE_GETATTR, FUSE_ROOT_ID);
	fr_put(f, &in, sizeof(in));
	ck_assert_uint_eq(fr_send(f, fs, 15), 0);
	/* Arguments far beyond any operation's. */
	fr_begin(f, FUSE_SETXATTR, FUSE_ROOT_ID);
	f->in_len = FR_IN_MAX - 16;
	ck_assert_int_eq(call(ROOM), -E2BIG);
}
END_TEST

START_TEST(unknown_opcodes)
{
	static const uint32_t codes[] = { 0,
					  7,
					  19,
					  FUSE_GETLK,
					  FUSE_IOCTL,
					  FUSE_POLL,
					  FUSE_SETUPMAPPING,
					  FUSE_TMPFILE,
					  52,
					  1000,
					  CUSE_INIT,
					  UINT32_MAX };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		fr_begin(f, codes[i], FUSE_ROOT_ID);
		fr_put(f, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
		ck_assert_msg(call(ROOM) == -ENOSYS, "opcode %u", codes[i]);
	}
}
END_TEST

START_TEST(reply_room_too_small)
{
	int32_t error;

	write_host("a", "x");
	/* An entry does not fit: refused before the lookup takes a reference. */
	fr_begin(f, FUSE_LOOKUP, FUSE_ROOT_ID);
	fr_str(f, "a");
	ck_assert_int_eq(call(sizeof(struct fuse_out_header) + 8), -EINVAL);
	ck_assert_uint_eq(inodes(), 1);
	must_lookup(FUSE_ROOT_ID, "a");
	ck_assert_uint_eq(inodes(), 2);
	(void)error;
}
END_TEST

START_TEST(segments_anywhere)
{
	static char data[3000];
	uint64_t fh, node;
	uint32_t n;
	int32_t error;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	node = create(FUSE_ROOT_ID, "seg", O_RDWR, 0644, &fh, &error);
	ck_assert_int_eq(error, 0);
	ck_assert_uint_ne(node, 0);
	struct fuse_write_in in = { .fh = fh, .size = sizeof(data) };
	fr_begin(f, FUSE_WRITE, node);
	fr_put(f, &in, sizeof(in));
	fr_put(f, data, sizeof(data));
	fr_send_split(f, fs, 64, 13); /* header, arguments and data cut into 13-byte pieces */
	ck_assert_int_eq(fr_header(f)->error, 0);
	ck_assert_uint_eq(((const struct fuse_write_out *)fr_payload(f))->size, sizeof(data));
	struct fuse_read_in rd = { .fh = fh, .size = sizeof(data) };
	fr_begin(f, FUSE_READ, node);
	fr_put(f, &rd, sizeof(rd));
	n = fr_send_split(f, fs, sizeof(data) + 16, 17);
	ck_assert_uint_eq(n, sizeof(data) + 16);
	ck_assert_mem_eq(fr_payload(f), data, sizeof(data));
}
END_TEST

/* ---- names and escapes ----------------------------------------------------------- */

START_TEST(hostile_names)
{
	static const char *const bad[] = { "..", ".", "", "a/b", "/etc", "../..", "x/" };
	char longname[300];
	int32_t error;

	mkdir(in_share("a"), 0755);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lookup(FUSE_ROOT_ID, bad[i], &error);
		ck_assert_msg(error == -EINVAL, "lookup '%s': %d", bad[i], error);
		fr_begin(f, FUSE_MKDIR, FUSE_ROOT_ID);
		struct fuse_mkdir_in mk = { .mode = 0755 };
		fr_put(f, &mk, sizeof(mk));
		fr_str(f, bad[i]);
		ck_assert_msg(call(ROOM) == -EINVAL, "mkdir '%s'", bad[i]);
	}
	memset(longname, 'n', sizeof(longname));
	longname[256] = '\0';
	lookup(FUSE_ROOT_ID, longname, &error);
	ck_assert_int_eq(error, -ENAMETOOLONG);
	/* A name without its terminator. */
	fr_begin(f, FUSE_LOOKUP, FUSE_ROOT_ID);
	fr_put(f, "abc", 3);
	ck_assert_int_eq(call(ROOM), -EINVAL);
	/* Nodeids the device never gave. */
	static const uint64_t ids[] = { 0, 2, 99, 1ull << 40, UINT64_MAX };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		lookup(ids[i], "a", &error);
		ck_assert_int_eq(error, -ESTALE);
	}
	ck_assert_uint_eq(inodes(), 1);
}
END_TEST

START_TEST(symlinks_never_followed)
{
	uint64_t link, abs, sub;
	int32_t error;
	char target[64];

	ck_assert_int_eq(symlink("/", in_share("root")), 0);
	ck_assert_int_eq(symlink(outside, in_share("out")), 0);
	mkdir(in_share("d"), 0755);
	/* The guest makes its own link to / and to ../.. */
	fr_begin(f, FUSE_SYMLINK, FUSE_ROOT_ID);
	fr_str(f, "mine");
	fr_str(f, "/");
	ck_assert_int_eq(call(ROOM), 0);
	fr_begin(f, FUSE_SYMLINK, FUSE_ROOT_ID);
	fr_str(f, "up");
	fr_str(f, "../../../..");
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_int_eq(readlink(in_share("mine"), target, sizeof(target)), 1);

	static const char *const links[] = { "root", "out", "mine", "up" };
	for (size_t i = 0; i < 4; i++) {
		link = must_lookup(FUSE_ROOT_ID, links[i]);
		ck_assert(S_ISLNK(((const struct fuse_entry_out *)fr_payload(f))->attr.mode));
		/* Through it: not a directory, for every kind of request. */
		lookup(link, "etc", &error);
		ck_assert_int_eq(error, -ENOTDIR);
		struct fuse_mknod_in mk = { .mode = S_IFREG | 0644 };
		fr_begin(f, FUSE_MKNOD, link);
		fr_put(f, &mk, sizeof(mk));
		fr_str(f, "planted");
		ck_assert_int_eq(call(ROOM), -ENOTDIR);
		open_node(link, O_RDONLY, &error);
		ck_assert_int_eq(error, -ELOOP);
		struct fuse_open_in od = { 0 };
		fr_begin(f, FUSE_OPENDIR, link);
		fr_put(f, &od, sizeof(od));
		ck_assert_int_eq(call(ROOM), -ENOTDIR);
		/* Rename into it, or over it. */
		struct fuse_rename_in rn = { .newdir = link };
		fr_begin(f, FUSE_RENAME, FUSE_ROOT_ID);
		fr_put(f, &rn, sizeof(rn));
		fr_str(f, "d");
		fr_str(f, "d");
		ck_assert_int_eq(call(ROOM), -ENOTDIR);
	}
	abs = must_lookup(FUSE_ROOT_ID, "root");
	fr_begin(f, FUSE_READLINK, abs);
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_uint_eq(fr_header(f)->len, sizeof(struct fuse_out_header) + 1);
	ck_assert_int_eq(*(const char *)fr_payload(f), '/');
	/* A directory replaced by a symlink after the guest looked it up:
	 * lookups beneath the (old) inode stay in it. */
	sub = must_lookup(FUSE_ROOT_ID, "d");
	char old[512];
	snprintf(old, sizeof(old), "%s", in_share("d"));
	ck_assert_int_eq(rename(old, in_share("d.old")), 0);
	ck_assert_int_eq(symlink("/etc", in_share("d")), 0);
	lookup(sub, "passwd", &error);
	ck_assert_int_eq(error, -ENOENT);
	/* Nothing was made outside. */
	ck_assert_int_ne(access("/planted", F_OK), 0);
	snprintf(path, sizeof(path), "%s/planted", outside);
	ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

START_TEST(rename_stays_inside)
{
	uint64_t d, file;
	int32_t error;

	write_host("f", "data");
	mkdir(in_share("d"), 0755);
	d = must_lookup(FUSE_ROOT_ID, "d");
	file = must_lookup(FUSE_ROOT_ID, "f");
	struct fuse_rename2_in in = { .newdir = d };
	fr_begin(f, FUSE_RENAME2, FUSE_ROOT_ID);
	fr_put(f, &in, sizeof(in));
	fr_str(f, "f");
	fr_str(f, "g");
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_int_eq(access(in_share("d/g"), F_OK), 0);
	/* Across the boundary: "..", a path, a file or a stale id as the new
	 * directory, bad flags. */
	static const char *const names[] = { "..", "../../tmp/x", "/tmp/x" };
	for (size_t i = 0; i < 3; i++) {
		fr_begin(f, FUSE_RENAME2, d);
		fr_put(f, &in, sizeof(in));
		fr_str(f, "g");
		fr_str(f, names[i]);
		ck_assert_int_eq(call(ROOM), -EINVAL);
	}
	in.newdir = file;
	fr_begin(f, FUSE_RENAME2, d);
	fr_put(f, &in, sizeof(in));
	fr_str(f, "g");
	fr_str(f, "h");
	ck_assert_int_eq(call(ROOM), -ENOTDIR);
	in.newdir = 12345;
	fr_begin(f, FUSE_RENAME2, d);
	fr_put(f, &in, sizeof(in));
	fr_str(f, "g");
	fr_str(f, "h");
	ck_assert_int_eq(call(ROOM), -ESTALE);
	in.newdir = d;
	in.flags = 1u << 7;
	fr_begin(f, FUSE_RENAME2, d);
	fr_put(f, &in, sizeof(in));
	fr_str(f, "g");
	fr_str(f, "h");
	ck_assert_int_eq(call(ROOM), -EINVAL);
	ck_assert_int_eq(access(in_share("d/g"), F_OK), 0);
	(void)error;
}
END_TEST

/* ---- tables ----------------------------------------------------------------------- */

START_TEST(forget_storm)
{
	uint64_t a, b;

	write_host("a", "1");
	write_host("b", "2");
	for (int i = 0; i < 1000; i++)
		a = must_lookup(FUSE_ROOT_ID, "a");
	b = must_lookup(FUSE_ROOT_ID, "b");
	ck_assert_uint_eq(inodes(), 3);
	/* A batch claiming 4 billion entries holds five: bogus ids, the root,
	 * a too-large count, and the real ones. */
	struct fuse_batch_forget_in bf = { .count = UINT32_MAX };
	struct fuse_forget_one one[] = {
		{ 0, 1 },          { FUSE_ROOT_ID, UINT64_MAX }, { UINT64_MAX, 5 }, { a, 999 },
		{ b, UINT64_MAX },
	};
	fr_begin(f, FUSE_BATCH_FORGET, 0);
	fr_put(f, &bf, sizeof(bf));
	fr_put(f, one, sizeof(one));
	fr_put(f, "\1\2\3", 3); /* a torn last entry */
	ck_assert_uint_eq(fr_send(f, fs, ROOM), 0);
	ck_assert_uint_eq(inodes(), 2); /* a keeps one reference, b is gone, root stays */
	forget(a, 1);
	forget(a, 1); /* once more: already gone */
	forget(FUSE_ROOT_ID, 1000);
	ck_assert_uint_eq(inodes(), 1);
	must_lookup(FUSE_ROOT_ID, "a"); /* the slot comes back fresh */
	ck_assert_uint_eq(inodes(), 2);
	/* A short FORGET: still no reply. */
	fr_begin(f, FUSE_FORGET, a);
	fr_put(f, "\1", 1);
	ck_assert_uint_eq(fr_send(f, fs, ROOM), 0);
}
END_TEST

START_TEST(bounded_tables)
{
	char name[16];
	uint64_t ids[8];
	int32_t error;

	open_share(false, 4); /* the root and three more */
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		write_host(name, "x");
	}
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ids[i] = must_lookup(FUSE_ROOT_ID, name);
	}
	lookup(FUSE_ROOT_ID, "f3", &error);
	ck_assert_int_eq(error, -ENFILE);
	/* Creating is refused before anything is made on the host. */
	uint64_t fh;
	create(FUSE_ROOT_ID, "new", O_RDWR, 0644, &fh, &error);
	ck_assert_int_eq(error, -ENFILE);
	ck_assert_int_ne(access(in_share("new"), F_OK), 0);
	must_lookup(FUSE_ROOT_ID, "f1"); /* one already held: fine */
	forget(ids[0], 1);
	must_lookup(FUSE_ROOT_ID, "f3");
	/* Handles too. */
	unsigned opened = 0;
	for (unsigned i = 0; i < NB_FS_MAX_HANDLES + 1; i++) {
		open_node(ids[1], O_RDONLY, &error);
		if (error == 0)
			opened++;
		else
			ck_assert_int_eq(error, -ENFILE);
	}
	ck_assert_uint_eq(opened, NB_FS_MAX_HANDLES);
	ck_assert_uint_eq(handles(), NB_FS_MAX_HANDLES);
	ck_assert_int_eq(release(FUSE_RELEASE, 1), 0);
	open_node(ids[1], O_RDONLY, &error);
	ck_assert_int_eq(error, 0);
	/* DESTROY drops them all. */
	fr_begin(f, FUSE_DESTROY, 0);
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_uint_eq(handles(), 0);
	ck_assert_uint_eq(inodes(), 1);
}
END_TEST

START_TEST(bad_handles)
{
	uint64_t fh, d, node;
	uint32_t n;
	int32_t error;
	char buf[4] = "abc";

	mkdir(in_share("d"), 0755);
	d = must_lookup(FUSE_ROOT_ID, "d");
	node = create(FUSE_ROOT_ID, "f", O_RDONLY, 0644, &fh, &error);
	ck_assert_int_eq(error, 0);
	ck_assert_int_eq(read_fh(999, 0, 10, ROOM, &n), -EBADF);
	ck_assert_int_eq(read_fh(0, 0, 10, ROOM, &n), -EBADF);
	ck_assert_int_eq(write_fh(fh, 0, buf, 3, &n), -EBADF); /* opened read-only */
	struct fuse_open_in od = { 0 };
	fr_begin(f, FUSE_OPENDIR, d);
	fr_put(f, &od, sizeof(od));
	ck_assert_int_eq(call(ROOM), 0);
	uint64_t dh = ((const struct fuse_open_out *)fr_payload(f))->fh;
	ck_assert_int_eq(read_fh(dh, 0, 10, ROOM, &n), -EBADF); /* a directory handle */
	ck_assert_int_eq(release(FUSE_RELEASE, dh), -EBADF);
	ck_assert_int_eq(release(FUSE_RELEASEDIR, fh), -EBADF);
	ck_assert_int_eq(release(FUSE_RELEASEDIR, dh), 0);
	ck_assert_int_eq(release(FUSE_RELEASE, fh), 0);
	ck_assert_int_eq(release(FUSE_RELEASE, fh), -EBADF); /* twice */
	open_node(d, O_RDONLY, &error);
	ck_assert_int_eq(error, -EISDIR);
	open_node(node, O_ACCMODE, &error);
	ck_assert_int_eq(error, -EINVAL);
	ck_assert_uint_eq(handles(), 0);
}
END_TEST

/* ---- read-only shares ----------------------------------------------------------------- */

START_TEST(read_only_share)
{
	uint64_t node, fh, d;
	uint32_t n;
	int32_t error;

	write_host("f", "keep");
	mkdir(in_share("d"), 0755);
	open_share(true, 0);
	node = must_lookup(FUSE_ROOT_ID, "f");
	d = must_lookup(FUSE_ROOT_ID, "d");
	create(FUSE_ROOT_ID, "new", O_RDWR, 0644, &fh, &error);
	ck_assert_int_eq(error, -EROFS);
	open_node(node, O_WRONLY, &error);
	ck_assert_int_eq(error, -EROFS);
	open_node(node, O_RDWR, &error);
	ck_assert_int_eq(error, -EROFS);
	open_node(node, O_RDONLY | O_TRUNC, &error);
	ck_assert_int_eq(error, -EROFS);
	fh = open_node(node, O_RDONLY, &error);
	ck_assert_int_eq(error, 0);
	ck_assert_int_eq(write_fh(fh, 0, "x", 1, &n), -EROFS);
	struct {
		uint32_t op;
		size_t in;
	} refused[] = {
		{ FUSE_SETATTR, sizeof(struct fuse_setattr_in) },
		{ FUSE_MKNOD, sizeof(struct fuse_mknod_in) },
		{ FUSE_MKDIR, sizeof(struct fuse_mkdir_in) },
		{ FUSE_UNLINK, 0 },
		{ FUSE_RMDIR, 0 },
		{ FUSE_RENAME, sizeof(struct fuse_rename_in) },
		{ FUSE_RENAME2, sizeof(struct fuse_rename2_in) },
		{ FUSE_LINK, sizeof(struct fuse_link_in) },
		{ FUSE_SYMLINK, 0 },
		{ FUSE_SETXATTR, 8 },
		{ FUSE_REMOVEXATTR, 0 },
		{ FUSE_FALLOCATE, sizeof(struct fuse_fallocate_in) },
		{ FUSE_COPY_FILE_RANGE, sizeof(struct fuse_copy_file_range_in) },
	};
	static uint8_t zero[128];
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		fr_begin(f, refused[i].op, i % 2 ? d : node);
		fr_put(f, zero, refused[i].in);
		fr_str(f, "f");
		fr_str(f, "g");
		ck_assert_msg(call(ROOM) == -EROFS, "opcode %u", refused[i].op);
	}
	ck_assert_int_eq(read_fh(fh, 0, 100, ROOM, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(fr_payload(f), "keep", 4);
	ck_assert_int_eq(access(in_share("d"), F_OK), 0);
}
END_TEST

/* ---- operations ------------------------------------------------------------------------- */

START_TEST(create_write_read_truncate)
{
	static uint8_t big[NB_FS_MAX_RW];
	uint64_t fh, node;
	uint32_t n;
	int32_t error;
	struct stat st;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i ^ (i >> 9));
	f->uid = 1234;
	f->gid = 5678;
	node = create(FUSE_ROOT_ID, "big", O_RDWR, 0640, &fh, &error);
	ck_assert_int_eq(error, 0);
	ck_assert_int_eq(stat(in_share("big"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	if (geteuid() == 0) { /* the guest caller owns what it makes */
		ck_assert_uint_eq(st.st_uid, 1234);
		ck_assert_uint_eq(st.st_gid, 5678);
	}
	f->uid = f->gid = 0;
	ck_assert_int_eq(write_fh(fh, 0, big, sizeof(big), &n), 0);
	ck_assert_uint_eq(n, sizeof(big));
	/* More than a request may carry. */
	struct fuse_write_in in = { .fh = fh, .size = NB_FS_MAX_RW + 1 };
	fr_begin(f, FUSE_WRITE, node);
	fr_put(f, &in, sizeof(in));
	fr_put(f, big, sizeof(big));
	fr_put(f, big, 1);
	ck_assert_int_eq(call(ROOM), -EINVAL);
	/* size larger than the data the request holds */
	in.size = 100;
	fr_begin(f, FUSE_WRITE, node);
	fr_put(f, &in, sizeof(in));
	fr_put(f, big, 99);
	ck_assert_int_eq(call(ROOM), -EINVAL);
	/* Reads: all of it, a huge size clamped to the room, past the end. */
	ck_assert_int_eq(read_fh(fh, 0, sizeof(big), sizeof(big) + 16, &n), 0);
	ck_assert_uint_eq(n, sizeof(big));
	ck_assert_mem_eq(fr_payload(f), big, sizeof(big));
	ck_assert_int_eq(read_fh(fh, 10, UINT32_MAX, 116, &n), 0);
	ck_assert_uint_eq(n, 100);
	ck_assert_mem_eq(fr_payload(f), big + 10, 100);
	ck_assert_int_eq(read_fh(fh, sizeof(big) + 5, 100, ROOM, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(read_fh(fh, UINT64_MAX, 100, ROOM, &n), -EINVAL);
	/* truncate through the handle, then by inode */
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE | FATTR_FH, .fh = fh, .size = 7 };
	fr_begin(f, FUSE_SETATTR, node);
	fr_put(f, &sa, sizeof(sa));
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_uint_eq(((const struct fuse_attr_out *)fr_payload(f))->attr.size, 7);
	ck_assert_int_eq(release(FUSE_RELEASE, fh), 0);
	sa = (struct fuse_setattr_in){ .valid = FATTR_SIZE, .size = 3 };
	fr_begin(f, FUSE_SETATTR, node);
	fr_put(f, &sa, sizeof(sa));
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_int_eq(stat(in_share("big"), &st), 0);
	ck_assert_int_eq(st.st_size, 3);
	sa.size = UINT64_MAX;
	fr_begin(f, FUSE_SETATTR, node);
	fr_put(f, &sa, sizeof(sa));
	ck_assert_int_eq(call(ROOM), -EFBIG);
	/* O_EXCL on an existing name; O_CREAT without it opens the file. */
	create(FUSE_ROOT_ID, "big", O_RDWR | O_EXCL, 0644, &fh, &error);
	ck_assert_int_eq(error, -EEXIST);
	ck_assert_uint_eq(create(FUSE_ROOT_ID, "big", O_RDWR, 0644, &fh, &error), node);
	ck_assert_int_eq(error, 0);
}
END_TEST

START_TEST(setattr_modes_owners_times)
{
	struct stat st;
	uint64_t node;

	write_host("f", "x");
	node = must_lookup(FUSE_ROOT_ID, "f");
	struct fuse_setattr_in sa = { .valid = FATTR_MODE | FATTR_MTIME | FATTR_ATIME,
				      .mode = S_IFREG | 04751,
				      .mtime = 1000000,
				      .mtimensec = 5,
				      .atime = 2000000 };
	fr_begin(f, FUSE_SETATTR, node);
	fr_put(f, &sa, sizeof(sa));
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_int_eq(stat(in_share("f"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 04751);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1000000);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 5);
	ck_assert_int_eq(st.st_atim.tv_sec, 2000000);
	sa = (struct fuse_setattr_in){ .valid = FATTR_MTIME, .mtimensec = 1000000000u };
	fr_begin(f, FUSE_SETATTR, node);
	fr_put(f, &sa, sizeof(sa));
	ck_assert_int_eq(call(ROOM), -EINVAL);
	if (geteuid() == 0) {
		sa = (struct fuse_setattr_in){ .valid = FATTR_UID | FATTR_GID,
					       .uid = 42,
					       .gid = 43 };
		fr_begin(f, FUSE_SETATTR, node);
		fr_put(f, &sa, sizeof(sa));
		ck_assert_int_eq(call(ROOM), 0);
		ck_assert_int_eq(stat(in_share("f"), &st), 0);
		ck_assert_uint_eq(st.st_uid, 42);
		ck_assert_uint_eq(st.st_gid, 43);
	}
	/* A symlink's mode is not the guest's to set; its owner is. */
	ck_assert_int_eq(symlink("/", in_share("l")), 0);
	uint64_t l = must_lookup(FUSE_ROOT_ID, "l");
	sa = (struct fuse_setattr_in){ .valid = FATTR_MODE, .mode = 0777 };
	fr_begin(f, FUSE_SETATTR, l);
	fr_put(f, &sa, sizeof(sa));
	ck_assert_int_eq(call(ROOM), -EOPNOTSUPP);
}
END_TEST

START_TEST(nodes_and_links)
{
	uint64_t file, d;
	struct stat st;
	int32_t error;

	write_host("f", "content");
	file = must_lookup(FUSE_ROOT_ID, "f");
	/* mkdir, hard link, FIFO, whiteout; no devices. */
	struct fuse_mkdir_in mk = { .mode = 0750 };
	fr_begin(f, FUSE_MKDIR, FUSE_ROOT_ID);
	fr_put(f, &mk, sizeof(mk));
	fr_str(f, "d");
	ck_assert_int_eq(call(ROOM), 0);
	d = ((const struct fuse_entry_out *)fr_payload(f))->nodeid;
	ck_assert_int_eq(stat(in_share("d"), &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0750);
	struct fuse_link_in ln = { .oldnodeid = file };
	fr_begin(f, FUSE_LINK, d);
	fr_put(f, &ln, sizeof(ln));
	fr_str(f, "hard");
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_uint_eq(((const struct fuse_entry_out *)fr_payload(f))->nodeid, file);
	ck_assert_uint_eq(((const struct fuse_entry_out *)fr_payload(f))->attr.nlink, 2);
	ln.oldnodeid = d; /* no hard links to directories */
	fr_begin(f, FUSE_LINK, FUSE_ROOT_ID);
	fr_put(f, &ln, sizeof(ln));
	fr_str(f, "dlink");
	ck_assert_int_eq(call(ROOM), -EPERM);
	struct {
		uint32_t mode, rdev;
		int32_t want;
		const char *name;
	} nodes[] = {
		{ S_IFIFO | 0600, 0, 0, "fifo" },
		{ S_IFSOCK | 0600, 0, 0, "sock" },
		{ S_IFREG | 0600, 77, 0, "plain" },
		{ S_IFCHR | 0600, 0, 0, "whiteout" },
		{ S_IFCHR | 0666, makedev(1, 3), -EPERM, "null" },
		{ S_IFBLK | 0666, makedev(8, 0), -EPERM, "sda" },
		{ S_IFDIR | 0755, 0, -EPERM, "dir" },
	};
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		struct fuse_mknod_in in = { .mode = nodes[i].mode, .rdev = nodes[i].rdev };
		fr_begin(f, FUSE_MKNOD, FUSE_ROOT_ID);
		fr_put(f, &in, sizeof(in));
		fr_str(f, nodes[i].name);
		error = call(ROOM);
		if (nodes[i].want == 0 && error == -EPERM && geteuid() != 0)
			continue; /* a whiteout needs CAP_MKNOD */
		ck_assert_msg(error == nodes[i].want, "mknod %s: %d", nodes[i].name, error);
		if (nodes[i].want)
			ck_assert_int_ne(lstat(in_share(nodes[i].name), &st), 0);
	}
	/* A FIFO is never opened (it would block the device). */
	uint64_t fifo = must_lookup(FUSE_ROOT_ID, "fifo");
	open_node(fifo, O_RDONLY, &error);
	ck_assert_int_eq(error, -EPERM);
	uint64_t fh;
	create(FUSE_ROOT_ID, "fifo", O_RDONLY, 0644, &fh, &error);
	ck_assert_int_eq(error, -EPERM);
	/* unlink and rmdir */
	fr_begin(f, FUSE_RMDIR, FUSE_ROOT_ID);
	fr_str(f, "d");
	ck_assert_int_eq(call(ROOM), -ENOTEMPTY);
	fr_begin(f, FUSE_UNLINK, d);
	fr_str(f, "hard");
	ck_assert_int_eq(call(ROOM), 0);
	fr_begin(f, FUSE_RMDIR, FUSE_ROOT_ID);
	fr_str(f, "d");
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_int_ne(access(in_share("d"), F_OK), 0);
	fr_begin(f, FUSE_UNLINK, FUSE_ROOT_ID);
	fr_str(f, "..");
	ck_assert_int_eq(call(ROOM), -EINVAL);
	/* statfs of the share */
	fr_begin(f, FUSE_STATFS, FUSE_ROOT_ID);
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_uint_gt(((const struct fuse_statfs_out *)fr_payload(f))->st.bsize, 0);
}
END_TEST

/* Read the whole directory with entries of plus or not, size bytes per
 * request; returns how many names, checks each is name%05d once. */
static unsigned read_all(uint64_t fh, bool plus, uint32_t size, unsigned n_expected)
{
	static bool seen[20000];
	uint64_t off = 0;
	unsigned names = 0;

	memset(seen, 0, sizeof(seen));
	for (;;) {
		struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };
		fr_begin(f, plus ? FUSE_READDIRPLUS : FUSE_READDIR, 2);
		fr_put(f, &in, sizeof(in));
		ck_assert_int_eq(call(size + 16), 0);
		size_t len = fr_header(f)->len - sizeof(struct fuse_out_header);
		const uint8_t *p = fr_payload(f);
		if (len == 0)
			break;
		for (size_t pos = 0; pos < len;) {
			const struct fuse_entry_out *e = (const void *)(p + pos);
			const struct fuse_dirent *d = (const void *)(p + pos +
								     (plus ? sizeof(*e) : 0));
			char name[300];
			unsigned idx;

			memcpy(name, d->name, d->namelen);
			name[d->namelen] = '\0';
			if (sscanf(name, "name%05u", &idx) == 1) {
				ck_assert_uint_lt(idx, n_expected);
				ck_assert(!seen[idx]);
				seen[idx] = true;
				names++;
				if (plus)
					ck_assert_uint_ne(e->nodeid, 0);
			} else {
				ck_assert(!strcmp(name, ".") || !strcmp(name, ".."));
				if (plus)
					ck_assert_uint_eq(e->nodeid, 0);
			}
			off = d->off;
			pos += plus ? FUSE_DIRENTPLUS_SIZE(
					      (const struct fuse_direntplus *)(const void *)e)
				    : FUSE_DIRENT_SIZE(d);
		}
	}
	return names;
}

START_TEST(directories)
{
	const unsigned n = 3000;
	char name[32];
	int32_t error;

	mkdir(in_share("big"), 0755);
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "big/name%05u", i);
		close(open(in_share(name), O_CREAT | O_WRONLY, 0644));
	}
	uint64_t d = must_lookup(FUSE_ROOT_ID, "big");
	struct fuse_open_in od = { 0 };
	fr_begin(f, FUSE_OPENDIR, d);
	fr_put(f, &od, sizeof(od));
	ck_assert_int_eq(call(ROOM), 0);
	uint64_t fh = ((const struct fuse_open_out *)fr_payload(f))->fh;
	ck_assert_uint_eq(read_all(fh, false, 4096, n), n);
	ck_assert_uint_eq(read_all(fh, false, 200, n), n); /* tiny buffers: a few at a time */
	ck_assert_uint_eq(inodes(), 2);
	ck_assert_uint_eq(read_all(fh, true, 4096, n), n);
	ck_assert_uint_eq(inodes(), 2 + n); /* readdirplus took one reference each */
	/* A buffer too small for any entry: an empty answer, no reference taken. */
	struct fuse_read_in in = { .fh = fh, .size = 40 };
	fr_begin(f, FUSE_READDIRPLUS, d);
	fr_put(f, &in, sizeof(in));
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_uint_eq(fr_header(f)->len, sizeof(struct fuse_out_header));
	ck_assert_uint_eq(inodes(), 2 + n);
	/* A wild offset: the file system's answer, no crash. */
	in = (struct fuse_read_in){ .fh = fh, .size = 4096, .offset = (1ull << 62) + 12345 };
	fr_begin(f, FUSE_READDIR, d);
	fr_put(f, &in, sizeof(in));
	error = call(ROOM);
	ck_assert(error == 0 || error == -EINVAL || error == -ENOENT);
	ck_assert_int_eq(release(FUSE_RELEASEDIR, fh), 0);
}
END_TEST

/* Names of every length, the shortest last in their batch: all listed. */
START_TEST(short_names_listed)
{
	static const char *const names[] = { "f", "ab", "xyz", "a", "bcdef", "longer-name" };
	const size_t n = sizeof(names) / sizeof(names[0]);
	bool seen[sizeof(names) / sizeof(names[0])] = { 0 };
	uint64_t off = 0;

	for (size_t i = 0; i < n; i++)
		write_host(names[i], "x");
	struct fuse_open_in od = { 0 };
	fr_begin(f, FUSE_OPENDIR, FUSE_ROOT_ID);
	fr_put(f, &od, sizeof(od));
	ck_assert_int_eq(call(ROOM), 0);
	uint64_t fh = ((const struct fuse_open_out *)fr_payload(f))->fh;
	for (bool plus = false;; plus = !plus) {
		struct fuse_read_in in = { .fh = fh, .offset = off, .size = 4096 };
		fr_begin(f, plus ? FUSE_READDIRPLUS : FUSE_READDIR, FUSE_ROOT_ID);
		fr_put(f, &in, sizeof(in));
		ck_assert_int_eq(call(ROOM), 0);
		size_t len = fr_header(f)->len - sizeof(struct fuse_out_header);
		if (len == 0)
			break;
		for (size_t pos = 0; pos < len;) {
			const uint8_t *p = (const uint8_t *)fr_payload(f) + pos;
			const struct fuse_dirent *d =
				(const void *)(p + (plus ? sizeof(struct fuse_entry_out) : 0));

			for (size_t i = 0; i < n; i++)
				if (d->namelen == strlen(names[i]) &&
				    !memcmp(d->name, names[i], d->namelen))
					seen[i] = true;
			off = d->off;
			pos += plus ? FUSE_DIRENTPLUS_SIZE(
					      (const struct fuse_direntplus *)(const void *)p)
				    : FUSE_DIRENT_SIZE(d);
		}
	}
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(seen[i], "%s not listed", names[i]);
}
END_TEST

START_TEST(xattrs)
{
	uint64_t node;

	write_host("f", "x");
	node = must_lookup(FUSE_ROOT_ID, "f");
	struct fuse_setxattr_in in = { .size = 5 };
	fr_begin(f, FUSE_SETXATTR, node);
	fr_put(f, &in, 8);
	fr_str(f, "user.nb");
	fr_put(f, "hello", 5);
	if (call(ROOM) == -EOPNOTSUPP)
		return; /* the test directory's file system has no user xattrs */
	ck_assert_int_eq(fr_header(f)->error, 0);
	char v[16] = { 0 };
	ck_assert_int_eq(getxattr(in_share("f"), "user.nb", v, sizeof(v)), 5);
	ck_assert_str_eq(v, "hello");
	/* size 0 asks the length, then the value */
	struct fuse_getxattr_in g = { .size = 0 };
	fr_begin(f, FUSE_GETXATTR, node);
	fr_put(f, &g, sizeof(g));
	fr_str(f, "user.nb");
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_uint_eq(((const struct fuse_getxattr_out *)fr_payload(f))->size, 5);
	g.size = 3; /* too small */
	fr_begin(f, FUSE_GETXATTR, node);
	fr_put(f, &g, sizeof(g));
	fr_str(f, "user.nb");
	ck_assert_int_eq(call(ROOM), -ERANGE);
	g.size = 64;
	fr_begin(f, FUSE_GETXATTR, node);
	fr_put(f, &g, sizeof(g));
	fr_str(f, "user.nb");
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_uint_eq(fr_header(f)->len, sizeof(struct fuse_out_header) + 5);
	fr_begin(f, FUSE_LISTXATTR, node);
	fr_put(f, &g, sizeof(g));
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_str_eq((const char *)fr_payload(f), "user.nb");
	/* Only user.*: no capabilities, no overlayfs or trusted metadata. */
	static const char *const refused[] = { "security.capability", "trusted.overlay.opaque",
					       "system.posix_acl_access", "user" };
	for (size_t i = 0; i < 4; i++) {
		fr_begin(f, FUSE_SETXATTR, node);
		fr_put(f, &in, 8);
		fr_str(f, refused[i]);
		fr_put(f, "hello", 5);
		ck_assert_msg(call(ROOM) == -EPERM, "%s", refused[i]);
		fr_begin(f, FUSE_REMOVEXATTR, node);
		fr_str(f, refused[i]);
		ck_assert_int_eq(call(ROOM), -EPERM);
	}
	/* value size lying about the bytes sent */
	in.size = 6;
	fr_begin(f, FUSE_SETXATTR, node);
	fr_put(f, &in, 8);
	fr_str(f, "user.nb");
	fr_put(f, "hello", 5);
	ck_assert_int_eq(call(ROOM), -EINVAL);
	fr_begin(f, FUSE_REMOVEXATTR, node);
	fr_str(f, "user.nb");
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_int_lt(getxattr(in_share("f"), "user.nb", v, sizeof(v)), 0);
	/* a symlink has none (and is never opened) */
	ck_assert_int_eq(symlink("/etc/passwd", in_share("l")), 0);
	uint64_t l = must_lookup(FUSE_ROOT_ID, "l");
	g.size = 64;
	fr_begin(f, FUSE_GETXATTR, l);
	fr_put(f, &g, sizeof(g));
	fr_str(f, "user.nb");
	ck_assert_int_eq(call(ROOM), -ENODATA);
}
END_TEST

START_TEST(file_ops)
{
	uint64_t fh, fh2, node;
	uint32_t n;
	int32_t error;
	static char buf[8192];

	memset(buf, 'z', sizeof(buf));
	node = create(FUSE_ROOT_ID, "f", O_RDWR, 0644, &fh, &error);
	ck_assert_int_eq(error, 0);
	create(FUSE_ROOT_ID, "g", O_RDWR, 0644, &fh2, &error);
	ck_assert_int_eq(error, 0);
	ck_assert_int_eq(write_fh(fh, 1 << 20, buf, sizeof(buf), &n), 0);
	/* lseek: only SEEK_DATA/SEEK_HOLE */
	struct fuse_lseek_in ls = { .fh = fh, .offset = 0, .whence = SEEK_DATA };
	fr_begin(f, FUSE_LSEEK, node);
	fr_put(f, &ls, sizeof(ls));
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_uint_le(((const struct fuse_lseek_out *)fr_payload(f))->offset, 1 << 20);
	ls.whence = SEEK_SET;
	fr_begin(f, FUSE_LSEEK, node);
	fr_put(f, &ls, sizeof(ls));
	ck_assert_int_eq(call(ROOM), -EINVAL);
	/* fallocate: allowed modes only */
	struct fuse_fallocate_in fa = { .fh = fh, .offset = 0, .length = 4096, .mode = 0 };
	fr_begin(f, FUSE_FALLOCATE, node);
	fr_put(f, &fa, sizeof(fa));
	ck_assert_int_eq(call(ROOM), 0);
	fa.mode = FALLOC_FL_COLLAPSE_RANGE;
	fr_begin(f, FUSE_FALLOCATE, node);
	fr_put(f, &fa, sizeof(fa));
	ck_assert_int_eq(call(ROOM), -EOPNOTSUPP);
	/* copy_file_range between two handles */
	struct fuse_copy_file_range_in cp = {
		.fh_in = fh, .off_in = 1 << 20, .fh_out = fh2, .off_out = 0, .len = sizeof(buf)
	};
	fr_begin(f, FUSE_COPY_FILE_RANGE, node);
	fr_put(f, &cp, sizeof(cp));
	ck_assert_int_eq(call(ROOM), 0);
	ck_assert_uint_eq(((const struct fuse_write_out *)fr_payload(f))->size, sizeof(buf));
	cp.flags = 1;
	fr_begin(f, FUSE_COPY_FILE_RANGE, node);
	fr_put(f, &cp, sizeof(cp));
	ck_assert_int_eq(call(ROOM), -EINVAL);
	/* fsync, flush */
	struct fuse_fsync_in fsy = { .fh = fh, .fsync_flags = 1 };
	fr_begin(f, FUSE_FSYNC, node);
	fr_put(f, &fsy, sizeof(fsy));
	ck_assert_int_eq(call(ROOM), 0);
	struct fuse_flush_in fl = { .fh = 77 };
	fr_begin(f, FUSE_FLUSH, node);
	fr_put(f, &fl, sizeof(fl));
	ck_assert_int_eq(call(ROOM), -EBADF);
	fr_begin(f, FUSE_SYNCFS, FUSE_ROOT_ID);
	fr_put(f, "\0\0\0\0\0\0\0\0", 8);
	ck_assert_int_eq(call(ROOM), 0);
	struct stat st;
	ck_assert_int_eq(stat(in_share("g"), &st), 0);
	ck_assert_int_eq(st.st_size, sizeof(buf));
}
END_TEST

START_TEST(config_space)
{
	struct virtio_fs_config cfg;
	struct nb_virtio_dev *dev = nb_fs_dev(fs);

	ck_assert_uint_eq(dev->ops->device_id, 26);
	ck_assert_uint_eq(dev->ops->nqueues, 2);
	nb_virtio_config_read(dev, 0, (uint8_t *)&cfg, sizeof(cfg));
	ck_assert_mem_eq(cfg.tag, "share", 6);
	ck_assert_uint_eq(cfg.num_request_queues, 1);
	/* A driver reset forgets everything but the root and waits for INIT. */
	write_host("a", "1");
	must_lookup(FUSE_ROOT_ID, "a");
	nb_virtio_reset(dev, true);
	ck_assert_uint_eq(inodes(), 1);
	int32_t error;
	lookup(FUSE_ROOT_ID, "a", &error);
	ck_assert_int_eq(error, -EIO);
}
END_TEST

/* A template's share slot: a device with no directory, whose every
 * request fails (INIT too: the guest cannot mount it), with its tag. */
START_TEST(empty_slot_refuses_everything)
{
	struct nb_err err = { 0 };
	struct nb_fs *slot = NULL, *keep = fs;
	struct nb_fs_opts opts = { .tag = "nbvol2" };
	struct fuse_init_in in = { .major = FUSE_KERNEL_VERSION, .minor = 36 };
	struct fuse_getattr_in ga = { 0 };

	ck_assert_msg(nb_fs_open(&slot, NULL, &opts, &err) == 0, "%s", err.msg);
	ck_assert_mem_eq(((const struct virtio_fs_config *)nb_fs_dev(slot)->config)->tag, "nbvol2",
			 6);
	fs = slot;
	fr_begin(f, FUSE_INIT, 0);
	fr_put(f, &in, sizeof(in));
	ck_assert_int_eq(call(ROOM), -ENODEV);
	fr_begin(f, FUSE_GETATTR, FUSE_ROOT_ID);
	fr_put(f, &ga, sizeof(ga));
	ck_assert_int_eq(call(ROOM), -ENODEV);
	fr_begin(f, FUSE_FORGET, FUSE_ROOT_ID); /* no reply, as ever */
	ck_assert_uint_eq(fr_send(f, fs, ROOM), 0);
	fs = keep;
	nb_fs_close(slot);
	opts.tag = "";
	ck_assert_int_eq(nb_fs_open(&slot, NULL, &opts, &err), -1);
}
END_TEST

START_TEST(open_refuses_bad_dirs)
{
	struct nb_err err = { 0 };
	struct nb_fs *other = NULL;
	struct nb_fs_opts opts = { .tag = "t" };

	write_host("file", "x");
	ck_assert_int_eq(nb_fs_open(&other, in_share("file"), &opts, &err), -1);
	ck_assert_int_eq(nb_fs_open(&other, "/nonexistent-nestbox", &opts, &err), -1);
	opts.tag = "";
	ck_assert_int_eq(nb_fs_open(&other, dir, &opts, &err), -1);
	opts.tag = "0123456789012345678901234567890123456"; /* 37 bytes */
	ck_assert_int_eq(nb_fs_open(&other, dir, &opts, &err), -1);
	ck_assert_ptr_null(other);
}
END_TEST

/* ---- snapshots (fs_state.c) ------------------------------------------------ */

static uint8_t state[1u << 20];

/* The device's own state as a snapshot takes it (its ops->save). */
static size_t save_state(void)
{
	struct nb_virtio_dev *dev = nb_fs_dev(fs);
	struct nb_err err = { 0 };
	int n = dev->ops->save(dev, state, sizeof(state), &err);

	ck_assert_msg(n >= 0, "%s", err.msg);
	return (size_t)n;
}

/* A device fresh on the same directory (as a restore opens it) taking
 * len bytes of state: the load's result; fs is the new device. */
static int restore_state(const uint8_t *data, size_t len, struct nb_err *err)
{
	struct nb_fs_opts opts = { .tag = "share" };
	struct nb_virtio_dev *dev;

	nb_fs_close(fs);
	fs = NULL;
	ck_assert_msg(nb_fs_open(&fs, dir, &opts, err) == 0, "%s", err->msg);
	dev = nb_fs_dev(fs);
	return dev->ops->load(dev, data, len, err);
}

static int32_t getattr(uint64_t node)
{
	struct fuse_getattr_in in = { 0 };

	fr_begin(f, FUSE_GETATTR, node);
	fr_put(f, &in, sizeof(in));
	return call(ROOM);
}

static uint64_t opendir_node(uint64_t node)
{
	struct fuse_open_in in = { 0 };

	fr_begin(f, FUSE_OPENDIR, node);
	fr_put(f, &in, sizeof(in));
	ck_assert_int_eq(call(ROOM), 0);
	return ((const struct fuse_open_out *)fr_payload(f))->fh;
}

/* Descriptors this process holds now. */
static unsigned open_fds(void)
{
	unsigned n = 0;

	for (int fd = 0; fd < 4 * (int)NB_FS_MAX_HANDLES; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* A snapshot of a share in use restored into a new device on the same
 * directory: no INIT, the same nodeids and handles, an O_APPEND handle
 * still appends, a directory handle still lists, a file deleted while
 * held is dead (ESTALE) until forgotten, and lookups find the restored
 * nodes (the hash is rebuilt) or take new slots. */
START_TEST(snapshot_round_trip)
{
	struct nb_err err = { 0 };
	uint64_t d, b, c, e, fh, dh;
	int32_t error;
	uint32_t n;
	char got[16] = "";
	FILE *fp;

	ck_assert_int_eq(mkdir(in_share("d"), 0755), 0);
	ck_assert_int_eq(mkdir(in_share("l"), 0755), 0);
	write_host("d/b.txt", "hello");
	write_host("c.txt", "gone");
	for (unsigned i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "l/name%05u", i);
		write_host(name, "");
	}
	d = must_lookup(FUSE_ROOT_ID, "d");
	b = must_lookup(d, "b.txt");
	ck_assert_uint_eq(must_lookup(d, "b.txt"), b); /* two references */
	c = must_lookup(FUSE_ROOT_ID, "c.txt");
	fh = open_node(b, O_WRONLY | O_APPEND, &error);
	ck_assert_int_eq(error, 0);
	dh = opendir_node(must_lookup(FUSE_ROOT_ID, "l"));
	ck_assert_int_eq(unlink(in_share("c.txt")), 0); /* deleted while the guest holds it */

	size_t len = save_state();
	ck_assert_uint_gt(len, 0);
	ck_assert_msg(restore_state(state, len, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(inodes(), 5); /* the root, d, b.txt, c.txt (dead), l */
	ck_assert_uint_eq(handles(), 2);
	ck_assert_int_eq(getattr(b), 0);
	ck_assert_uint_eq(((const struct fuse_attr_out *)fr_payload(f))->attr.size, 5);
	ck_assert_int_eq(write_fh(fh, 0, "!", 1, &n), 0); /* O_APPEND kept: at the end */
	ck_assert_ptr_nonnull(fp = fopen(in_share("d/b.txt"), "r"));
	ck_assert_ptr_nonnull(fgets(got, sizeof(got), fp));
	fclose(fp);
	ck_assert_str_eq(got, "hello!");
	ck_assert_uint_eq(read_all(dh, false, 4096, 3), 3);
	ck_assert_int_eq(getattr(c), -ESTALE);
	forget(c, 1);
	ck_assert_uint_eq(inodes(), 4);
	ck_assert_uint_eq(must_lookup(d, "b.txt"), b);
	write_host("e", "x");
	e = must_lookup(FUSE_ROOT_ID, "e");
	ck_assert(e != d && e != b);
	ck_assert_int_eq(release(FUSE_RELEASE, fh), 0);
	ck_assert_int_eq(release(FUSE_RELEASEDIR, dh), 0);
	ck_assert_uint_eq(handles(), 0);
	/* the restored device snapshots again */
	ck_assert_uint_gt(save_state(), 0);
}
END_TEST

/* What a snapshot cannot name is dead after a restore, never reached: a
 * directory replaced by a symlink out of the share, a path the state file
 * was made to climb out with, a file now of another type; a handle whose
 * file is gone is EBADF until released. Never mounted: nothing saved, and
 * the restored device waits for INIT. */
START_TEST(snapshot_dead_and_beneath)
{
	static const char climb[] = "aaaaaaaaaaaaaaaaaaaaaaaaaa"; /* as long as ../OUTSIDE/x */
	struct nb_err err = { 0 };
	uint64_t x, y, z, fh;
	int32_t error;
	uint32_t n;
	char up[64], link[128];

	snprintf(up, sizeof(up), "../%s/x", strrchr(outside, '/') + 1);
	ck_assert_uint_eq(strlen(up), strlen(climb));
	snprintf(link, sizeof(link), "%s/x", outside);
	fclose(fopen(link, "w"));
	ck_assert_int_eq(mkdir(in_share("d"), 0755), 0);
	write_host("d/x", "in");
	write_host(climb, "c");
	write_host("z", "file");
	x = must_lookup(must_lookup(FUSE_ROOT_ID, "d"), "x");
	y = must_lookup(FUSE_ROOT_ID, climb);
	z = must_lookup(FUSE_ROOT_ID, "z");
	fh = open_node(z, O_RDONLY, &error);
	ck_assert_int_eq(error, 0);

	size_t len = save_state();
	uint8_t *at = memmem(state, len, climb, strlen(climb));
	ck_assert_ptr_nonnull(at);
	memcpy(at, up, strlen(up));
	ck_assert_int_eq(unlink(in_share("d/x")), 0);
	ck_assert_int_eq(rmdir(in_share("d")), 0);
	ck_assert_int_eq(symlink(outside, in_share("d")), 0);
	ck_assert_int_eq(unlink(in_share("z")), 0);
	ck_assert_int_eq(mkdir(in_share("z"), 0755), 0);
	ck_assert_msg(restore_state(state, len, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(getattr(x), -ESTALE);
	ck_assert_int_eq(getattr(y), -ESTALE);
	ck_assert_int_eq(getattr(z), -ESTALE);
	ck_assert_int_eq(read_fh(fh, 0, 4, ROOM, &n), -EBADF);
	ck_assert_int_eq(release(FUSE_RELEASE, fh), 0);
	ck_assert_uint_eq(handles(), 0);

	/* never mounted */
	nb_fs_close(fs);
	fs = NULL;
	struct nb_fs_opts opts = { .tag = "share" };
	ck_assert_int_eq(nb_fs_open(&fs, dir, &opts, &err), 0);
	ck_assert_uint_eq(save_state(), 0);
	ck_assert_int_eq(restore_state(state, 0, &err), 0);
	ck_assert_int_eq(getattr(FUSE_ROOT_ID), -EIO); /* before INIT, as a new device */
}
END_TEST

/* Hostile state: every truncation is refused, a byte changed anywhere
 * is refused or loads a device that works, and nothing leaks. */
START_TEST(snapshot_state_hostile)
{
	static uint8_t good[1u << 16], bad[1u << 16];
	struct nb_err err = { 0 };
	uint64_t d, fh;
	int32_t error;
	unsigned fds;

	ck_assert_int_eq(mkdir(in_share("d"), 0755), 0);
	write_host("d/f", "data");
	d = must_lookup(FUSE_ROOT_ID, "d");
	fh = open_node(must_lookup(d, "f"), O_RDWR, &error);
	ck_assert_int_eq(error, 0);
	(void)opendir_node(d);
	(void)fh;
	size_t len = save_state();
	ck_assert_uint_le(len, sizeof(good));
	memcpy(good, state, len);
	nb_fs_close(fs);
	fs = NULL;
	fds = open_fds();
	for (size_t cut = 1; cut < len; cut++) {
		ck_assert_msg(restore_state(good, cut, &err) == -1, "%zu of %zu bytes loaded", cut,
			      len);
		ck_assert_ptr_nonnull(strstr(err.msg, "virtio-fs state"));
	}
	for (size_t at = 0; at < len; at++) {
		for (unsigned v = 0; v < 3; v++) {
			memcpy(bad, good, len);
			bad[at] = (uint8_t[]){ 0x00, 0xff, (uint8_t)(good[at] ^ 0x01) }[v];
			if (restore_state(bad, len, &err) == 0)
				ck_assert_int_ne(getattr(FUSE_ROOT_ID), -EIO); /* a session */
		}
	}
	nb_fs_close(fs);
	fs = NULL;
	ck_assert_uint_eq(open_fds(), fds);
	ck_assert_int_eq(restore_state(good, len, &err), 0);
	ck_assert_uint_eq(handles(), 2);
	/* state for a device that holds something already is refused */
	struct nb_virtio_dev *dev = nb_fs_dev(fs);
	ck_assert_int_eq(dev->ops->load(dev, good, len, &err), -1);
}
END_TEST

int main(void)
{
	/* The handle table's bound is tested for real: room for it. */
	struct rlimit fds = { 2 * NB_FS_MAX_HANDLES, 2 * NB_FS_MAX_HANDLES };
	struct rlimit now;

	if (getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_max > fds.rlim_max)
		fds.rlim_max = now.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &fds) < 0) {
		perror("test_virtio_fs: RLIMIT_NOFILE");
		return EXIT_FAILURE;
	}
	Suite *s = suite_create("virtio_fs");
	TCase *dec = tcase_create("decoder"), *names = tcase_create("names"),
	      *tables = tcase_create("tables"), *ops = tcase_create("operations"),
	      *snap = tcase_create("snapshots");
	TCase *all[] = { dec, names, tables, ops, snap };

	for (size_t i = 0; i < 5; i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		tcase_set_timeout(all[i], 60);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_test(dec, reply_header_and_unique);
	tcase_add_test(dec, before_init_and_bad_versions);
	tcase_add_test(dec, lying_lengths);
	tcase_add_test(dec, unknown_opcodes);
	tcase_add_test(dec, reply_room_too_small);
	tcase_add_test(dec, segments_anywhere);
	tcase_add_test(dec, config_space);
	tcase_add_test(names, hostile_names);
	tcase_add_test(names, symlinks_never_followed);
	tcase_add_test(names, rename_stays_inside);
	tcase_add_test(tables, forget_storm);
	tcase_add_test(tables, bounded_tables);
	tcase_add_test(tables, bad_handles);
	tcase_add_test(ops, read_only_share);
	tcase_add_test(ops, create_write_read_truncate);
	tcase_add_test(ops, setattr_modes_owners_times);
	tcase_add_test(ops, nodes_and_links);
	tcase_add_test(ops, directories);
	tcase_add_test(ops, short_names_listed);
	tcase_add_test(ops, xattrs);
	tcase_add_test(ops, file_ops);
	tcase_add_test(ops, open_refuses_bad_dirs);
	tcase_add_test(ops, empty_slot_refuses_everything);
	tcase_add_test(snap, snapshot_round_trip);
	tcase_add_test(snap, snapshot_dead_and_beneath);
	tcase_add_test(snap, snapshot_state_hostile);
	return nb_unit_run(s);
}
