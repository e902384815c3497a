#include "images/initramfs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/file.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

#define COPY_CHUNK (64u << 10)

/* ---- nb_buf -------------------------------------------------------------- */

int nb_buf_append(struct nb_buf *buf, const void *data, size_t len, struct nb_err *err)
{
	if (len > SIZE_MAX / 2 - buf->len)
		return nb_err_set(err, 0, "buffer would exceed %zu bytes", SIZE_MAX / 2);
	if (buf->len + len > buf->cap) {
		size_t cap = buf->cap ? buf->cap : COPY_CHUNK;
		uint8_t *p;

		while (cap < buf->len + len)
			cap *= 2;
		p = realloc(buf->data, cap);
		if (!p)
			return nb_err_sys(err, "cannot grow buffer to %zu bytes", cap);
		buf->data = p;
		buf->cap = cap;
	}
	if (len)
		memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	return 0;
}

void nb_buf_free(struct nb_buf *buf)
{
	free(buf->data);
	*buf = (struct nb_buf){ 0 };
}

/* ---- one newc archive being written -------------------------------------- */

struct hardlink {
	dev_t dev;
	ino_t ino;
	uint32_t new_ino;
};

struct writer {
	struct archive *a;
	struct nb_buf *out;
	struct nb_err *err;
	bool out_failed; /* write_cb already filled err */
	uint32_t next_ino;
	struct hardlink *links; /* hard-linked tree files seen so far */
	size_t nlinks, links_cap;
};

static la_ssize_t write_cb(struct archive *a, void *client, const void *data, size_t len)
{
	struct writer *w = client;

	if (nb_buf_append(w->out, data, len, w->err) < 0) {
		w->out_failed = true;
		archive_set_error(a, ENOMEM, "%s", w->err->msg);
		return -1;
	}
	return (la_ssize_t)len;
}

/* Report libarchive's failure on a (the writer, or a disk reader) with
 * strerror of its errno when its message does not already say it. */
static int archive_error(struct nb_err *err, struct archive *a, const char *what)
{
	const char *msg = archive_error_string(a);
	int errnum = archive_errno(a);

	if (!msg)
		msg = "unknown libarchive error";
	if (errnum <= 0 || strstr(msg, strerror(errnum)))
		errnum = 0;
	/* libarchive's disk reader already starts its messages with the path. */
	if (strncmp(msg, what, strlen(what)) == 0)
		return nb_err_set(err, errnum, "%s", msg);
	return nb_err_set(err, errnum, "%s: %s", what, msg);
}

static int archive_fail(struct writer *w, struct archive *a, const char *what)
{
	if (w->out_failed)
		return nb_err_wrap(w->err, "%s", what);
	return archive_error(w->err, a, what);
}

static int writer_open(struct writer *w, struct nb_buf *out, struct nb_err *err)
{
	*w = (struct writer){ .out = out, .err = err, .next_ino = 1 };
	w->a = archive_write_new();
	if (!w->a)
		return nb_err_set(err, ENOMEM, "cpio writer");
	/* No blocking: the archive ends right after its 4-byte-aligned
	 * trailer, ready for the next one to be appended. */
	if (archive_write_set_format_cpio_newc(w->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK ||
	    archive_write_open(w->a, w, NULL, write_cb, NULL) != ARCHIVE_OK) {
		archive_fail(w, w->a, "cpio writer");
		archive_write_free(w->a);
		return -1;
	}
	return 0;
}

/* Write the trailer unless the archive already failed, then free the
 * writer (only after a successful writer_open). Returns rc or -1. */
static int writer_close(struct writer *w, int rc)
{
	if (rc == 0 && archive_write_close(w->a) != ARCHIVE_OK)
		rc = archive_fail(w, w->a, "cpio trailer");
	archive_write_free(w->a);
	free(w->links);
	w->a = NULL;
	return rc;
}

static int write_header(struct writer *w, struct archive_entry *entry)
{
	if (archive_write_header(w->a, entry) != ARCHIVE_OK)
		return archive_fail(w, w->a, archive_entry_pathname(entry));
	return 0;
}

static int write_data(struct writer *w, const void *data, size_t len, const char *what)
{
	la_ssize_t n = archive_write_data(w->a, data, len);

	if (n < 0 || (size_t)n != len)
		return archive_fail(w, w->a, what);
	return 0;
}

/* ---- in-memory entries ----------------------------------------------------- */

/* cpio names are relative to the guest root: "/dev/console" -> "dev/console". */
static const char *cpio_name(const char *guest_path)
{
	while (*guest_path == '/')
		guest_path++;
	return *guest_path ? guest_path : ".";
}

struct mem_entry {
	const char *path; /* absolute guest path */
	mode_t mode;      /* type | permissions */
	dev_t rdev;
	const void *data;
	size_t len;
};

static int write_mem_entry(struct writer *w, const struct mem_entry *e)
{
	struct archive_entry *entry = archive_entry_new();
	int rc;

	if (!entry)
		return nb_err_set(w->err, ENOMEM, "cpio entry %s", e->path);
	archive_entry_set_pathname(entry, cpio_name(e->path));
	archive_entry_set_mode(entry, e->mode);
	archive_entry_set_ino(entry, w->next_ino++);
	archive_entry_set_nlink(entry, S_ISDIR(e->mode) ? 2 : 1);
	archive_entry_set_rdev(entry, e->rdev);
	archive_entry_set_size(entry, (la_int64_t)e->len);
	rc = write_header(w, entry);
	if (rc == 0 && e->len)
		rc = write_data(w, e->data, e->len, e->path);
	archive_entry_free(entry);
	return rc;
}

/* ---- segment (a): base --------------------------------------------------- */

/* Read the whole init binary: bounded, regular file only. */
static int read_init(const char *path, uint8_t **data, size_t *len, struct nb_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;

	if (fd < 0 || fstat(fd, &st) < 0)
		return nb_err_sys(err, "nestbox-init %s", path);
	if (!S_ISREG(st.st_mode))
		return nb_err_set(err, 0, "nestbox-init %s: not a regular file", path);
	if (st.st_size <= 0 || (uint64_t)st.st_size > NB_INIT_MAX_SIZE)
		return nb_err_set(err, 0, "nestbox-init %s: size %lld is not in 1..%u", path,
				  (long long)st.st_size, NB_INIT_MAX_SIZE);
	if (nb_file_read_fd(fd, NB_INIT_MAX_SIZE, &buf, len, err) < 0)
		return nb_err_wrap(err, "nestbox-init %s", path);
	if (*len != (size_t)st.st_size) {
		free(buf);
		return nb_err_set(err, 0, "nestbox-init %s: changed while being read", path);
	}
	*data = (uint8_t *)buf;
	return 0;
}

static int write_base(struct writer *w, const uint8_t *init, size_t init_len)
{
	const struct mem_entry entries[] = {
		{ .path = "/dev", .mode = S_IFDIR | 0755 },
		{ .path = "/dev/console", .mode = S_IFCHR | 0600, .rdev = makedev(5, 1) },
		{ .path = "/proc", .mode = S_IFDIR | 0555 },
		{ .path = "/sys", .mode = S_IFDIR | 0555 },
		{ .path = "/nestbox", .mode = S_IFDIR | 0755 },
		{ .path = NB_GUEST_ROOTFS, .mode = S_IFDIR | 0755 },
		{ .path = "/init", .mode = S_IFREG | 0755, .data = init, .len = init_len },
	};

	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
		if (write_mem_entry(w, &entries[i]) < 0)
			return -1;
	return 0;
}

int nb_initramfs_append_base(struct nb_buf *out, const char *init_path, struct nb_err *err)
{
	cleanup_free uint8_t *init = NULL;
	size_t init_len = 0;
	struct writer w;

	if (read_init(init_path, &init, &init_len, err) < 0)
		return -1;
	if (writer_open(&w, out, err) < 0)
		return -1;
	return writer_close(&w, write_base(&w, init, init_len));
}

/* ---- segment (c): one file ------------------------------------------------ */

int nb_initramfs_append_file(struct nb_buf *out, const char *guest_path, const void *data,
			     size_t len, mode_t mode, struct nb_err *err)
{
	const struct mem_entry e = {
		.path = guest_path, .mode = S_IFREG | (mode & 07777), .data = data, .len = len
	};
	struct writer w;

	if (guest_path[0] != '/')
		return nb_err_set(err, 0, "initramfs path %s is not absolute", guest_path);
	if (len > UINT32_MAX)
		return nb_err_set(err, 0, "initramfs file %s: %zu bytes is too large for cpio",
				  guest_path, len);
	if (writer_open(&w, out, err) < 0)
		return -1;
	return writer_close(&w, write_mem_entry(&w, &e));
}

/* ---- segment (b): a host tree ---------------------------------------------- */

struct tree {
	const char *host_dir; /* as given, trailing slashes stripped */
	size_t host_len;
	const char *guest_base; /* cpio name of the guest directory, "" for / */
	struct archive *disk;
	char *chunk;
};

/* Map the disk reader's path (host_dir + "/rest") to the cpio name. */
static int tree_name(const struct tree *t, const char *host_path, char *name, size_t size,
		     struct nb_err *err)
{
	const char *rest = host_path + t->host_len;
	bool at_boundary = !*rest || *rest == '/' || t->host_dir[t->host_len - 1] == '/';
	int n;

	if (strncmp(host_path, t->host_dir, t->host_len) != 0 || !at_boundary)
		return nb_err_set(err, 0, "rootfs %s: unexpected entry %s", t->host_dir, host_path);
	while (*rest == '/')
		rest++;
	if (!*t->guest_base)
		n = snprintf(name, size, "%s", *rest ? rest : ".");
	else
		n = snprintf(name, size, "%s%s%s", t->guest_base, *rest ? "/" : "", rest);
	if (n < 0 || (size_t)n >= size)
		return nb_err_set(err, 0, "rootfs %s: path %s is too long", t->host_dir, host_path);
	return 0;
}

/* Renumber the entry's inode. Returns 1 when it is a further link to a file
 * already written (then it carries no data), 0 otherwise, -1 on error. */
static int renumber(struct writer *w, struct archive_entry *entry)
{
	dev_t dev = archive_entry_dev(entry);
	ino_t ino = (ino_t)archive_entry_ino64(entry);
	bool linkable = archive_entry_nlink(entry) > 1 && archive_entry_filetype(entry) != AE_IFDIR;
	uint32_t new_ino = w->next_ino;

	archive_entry_set_dev(entry, 0);
	for (size_t i = 0; linkable && i < w->nlinks; i++) {
		if (w->links[i].dev == dev && w->links[i].ino == ino) {
			archive_entry_set_ino(entry, w->links[i].new_ino);
			archive_entry_set_size(entry, 0);
			return 1;
		}
	}
	if (w->next_ino == UINT32_MAX)
		return nb_err_set(w->err, 0, "rootfs has more than %u entries", UINT32_MAX - 1);
	archive_entry_set_ino(entry, w->next_ino++);
	if (!linkable)
		return 0;
	if (w->nlinks == w->links_cap) {
		size_t cap = w->links_cap ? 2 * w->links_cap : 64;
		struct hardlink *p = reallocarray(w->links, cap, sizeof(*p));

		if (!p)
			return nb_err_sys(w->err, "hard link table");
		w->links = p;
		w->links_cap = cap;
	}
	w->links[w->nlinks++] = (struct hardlink){ dev, ino, new_ino };
	return 0;
}

/* Stream a regular file's bytes; the header already promised st_size. */
static int copy_file_data(struct writer *w, struct tree *t, struct archive_entry *entry)
{
	const char *src = archive_entry_sourcepath(entry);
	la_int64_t want = archive_entry_size(entry), copied = 0;

	for (;;) {
		la_ssize_t n = archive_read_data(t->disk, t->chunk, COPY_CHUNK);

		if (n < 0)
			return archive_fail(w, t->disk, src);
		if (n == 0)
			break;
		if (copied + n > want)
			n = (la_ssize_t)(want - copied); /* grew: keep what was promised */
		if (n > 0 && write_data(w, t->chunk, (size_t)n, src) < 0)
			return -1;
		copied += n;
		if (copied == want)
			break;
	}
	if (copied != want)
		return nb_err_set(w->err, 0, "%s: changed size while being read", src);
	return 0;
}

static int write_tree_entry(struct writer *w, struct tree *t, struct archive_entry *entry)
{
	char name[PATH_MAX];
	int link;

	if (tree_name(t, archive_entry_pathname(entry), name, sizeof(name), w->err) < 0)
		return -1;
	archive_entry_copy_sourcepath(entry, archive_entry_pathname(entry));
	archive_entry_set_pathname(entry, name);
	link = renumber(w, entry);
	if (link < 0 || write_header(w, entry) < 0)
		return -1;
	if (link || archive_entry_filetype(entry) != AE_IFREG || archive_entry_size(entry) == 0)
		return 0;
	return copy_file_data(w, t, entry);
}

static int walk_tree(struct writer *w, struct tree *t)
{
	struct archive_entry *entry = archive_entry_new();
	int rc = 0;

	if (!entry)
		return nb_err_set(w->err, ENOMEM, "rootfs %s", t->host_dir);
	for (;;) {
		int r = archive_read_next_header2(t->disk, entry);

		if (r == ARCHIVE_EOF)
			break;
		/* A warning means something was not read (a directory, an
		 * attribute): a silently partial rootfs is worse than an error. */
		if (r != ARCHIVE_OK) {
			const char *path = archive_entry_pathname(entry);

			rc = archive_fail(w, t->disk, path && *path ? path : t->host_dir);
			break;
		}
		if (archive_read_disk_can_descend(t->disk))
			archive_read_disk_descend(t->disk);
		rc = write_tree_entry(w, t, entry);
		if (rc < 0)
			break;
	}
	archive_entry_free(entry);
	return rc;
}

static int open_disk(struct tree *t, struct nb_err *err)
{
	const int flags = ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
			  ARCHIVE_READDISK_NO_FFLAGS;

	t->disk = archive_read_disk_new();
	if (!t->disk)
		return nb_err_set(err, ENOMEM, "rootfs %s", t->host_dir);
	/* Hybrid: host_dir itself may be a symlink; nothing inside is followed. */
	if (archive_read_disk_set_symlink_hybrid(t->disk) != ARCHIVE_OK ||
	    archive_read_disk_set_behavior(t->disk, flags) != ARCHIVE_OK ||
	    archive_read_disk_open(t->disk, t->host_dir) != ARCHIVE_OK)
		return archive_error(err, t->disk, t->host_dir);
	return 0;
}

static int check_dir(const char *dir, struct nb_err *err)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return nb_err_sys(err, "rootfs %s", dir);
	if (!S_ISDIR(st.st_mode))
		return nb_err_set(err, ENOTDIR, "rootfs %s", dir);
	return 0;
}

int nb_initramfs_append_tree(struct nb_buf *out, const char *host_dir, const char *guest_dir,
			     struct nb_err *err)
{
	struct tree t = { .host_dir = host_dir, .host_len = strlen(host_dir) };
	struct writer w;
	int rc;

	if (guest_dir[0] != '/')
		return nb_err_set(err, 0, "initramfs path %s is not absolute", guest_dir);
	t.guest_base = cpio_name(guest_dir);
	if (strcmp(t.guest_base, ".") == 0)
		t.guest_base = "";
	while (t.host_len > 1 && host_dir[t.host_len - 1] == '/')
		t.host_len--;
	if (check_dir(host_dir, err) < 0)
		return -1;
	t.chunk = malloc(COPY_CHUNK);
	if (!t.chunk)
		return nb_err_sys(err, "rootfs %s", host_dir);
	rc = open_disk(&t, err);
	if (rc == 0)
		rc = writer_open(&w, out, err);
	if (rc == 0)
		rc = writer_close(&w, walk_tree(&w, &t));
	archive_read_free(t.disk);
	free(t.chunk);
	return rc;
}

/* ---- the whole initramfs ------------------------------------------------- */

int nb_initramfs_build(struct nb_buf *out, const char *init_path, const char *rootfs_dir,
		       const void *spec, size_t spec_len, struct nb_err *err)
{
	size_t start = out->len;

	if (nb_initramfs_append_base(out, init_path, err) < 0 ||
	    (rootfs_dir && nb_initramfs_append_tree(out, rootfs_dir, NB_GUEST_ROOTFS, err) < 0) ||
	    nb_initramfs_append_file(out, NB_SPEC_PATH, spec, spec_len, 0400, err) < 0) {
		out->len = start;
		return -1;
	}
	return 0;
}
