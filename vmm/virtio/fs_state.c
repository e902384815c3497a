/* virtio-fs in a snapshot (fs_impl.h): the FUSE session and the tables,
 * each inode and open handle the guest holds as its path beneath the share
 * (where its descriptor's /proc/self/fd link points when the VM is saved).
 * A restore opens the same paths beneath its share again, one checked
 * name at a time as a lookup does (openat2, RESOLVE_BENEATH, no symlinks),
 * so a hostile state file names nothing outside the share. Nodeids and
 * handles keep their numbers: the guest's kernel holds them.
 *
 * A file gone since (deleted while the guest held it, moved out of the
 * share, or now of another type) comes back dead: its nodeid answers
 * ESTALE, its handle EBADF, until the guest lets go; the rest of the share
 * goes on. A state that does not fit the device's bounds, or names slots,
 * kinds or flags a live device never has, is refused.
 *
 * Layout: struct state_head, then head.inodes inode records and
 * head.handles handle records, each followed by its path (path.len bytes,
 * no NUL; "." for the share itself). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/virtio/fs_impl.h"

#define STATE_MAGIC 0x3153464eu /* "NFS1" */
#define HANDLE_FLAGS (O_ACCMODE | O_APPEND | O_SYNC | O_DSYNC)

struct state_head {
	uint32_t magic;
	uint32_t minor;      /* the FUSE minor version the guest negotiated */
	uint32_t inodes;     /* inode records that follow */
	uint32_t handles;    /* then handle records */
	uint32_t generation; /* the highest slot generation */
	uint32_t reserved;
};

/* Each record's end: the length of the path that follows it (0: dead). */
struct state_path {
	uint16_t len;
	uint16_t reserved;
};

struct state_inode {
	uint64_t dev, ino, nlookup;
	uint32_t slot; /* nodeid - 1; never 0 (the root is the share itself) */
	uint32_t type; /* S_IFMT bits */
	uint32_t generation;
	struct state_path path;
};

struct state_handle {
	uint32_t slot; /* fh - 1 */
	uint32_t kind; /* FS_HANDLE_FILE, _DIR or _DEAD */
	int32_t flags; /* HANDLE_FLAGS of a file; O_RDONLY for a directory */
	struct state_path path;
};

/* ---- save ---------------------------------------------------------------- */

/* Where descriptor fd points, into path (PATH_MAX); -errno. */
static int fd_path(const struct nb_fs *fs, int fd, char *path, size_t size)
{
	char name[16];
	ssize_t n;

	snprintf(name, sizeof(name), "%d", fd);
	n = readlinkat(fs->proc_fd, name, path, size - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size - 1)
		return -ENAMETOOLONG;
	path[n] = '\0';
	return 0;
}

/* fd's path beneath the share whose own path is root: "." for the share,
 * NULL when it is no longer there (deleted, or moved out of the share). */
static const char *beneath(const char *root, const char *path)
{
	static const char deleted[] = " (deleted)";
	size_t rlen = strcmp(root, "/") == 0 ? 0 : strlen(root), plen = strlen(path);

	if (path[0] != '/' || strncmp(path, root, rlen) != 0 ||
	    (plen >= sizeof(deleted) - 1 &&
	     strcmp(path + plen - (sizeof(deleted) - 1), deleted) == 0))
		return NULL;
	if (path[rlen] == '\0')
		return ".";
	if (path[rlen] != '/' || path[rlen + 1] == '\0')
		return NULL;
	return path + rlen + 1;
}

struct out {
	uint8_t *buf;
	size_t size, len;
};

static bool put(struct out *o, const void *p, size_t n)
{
	if (n > o->size - o->len)
		return false;
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return true;
}

/* The path of live descriptor fd beneath root, or "" (dead). */
static const char *rel_path(const struct nb_fs *fs, const char *root, int fd, char *path,
			    size_t size)
{
	const char *rel = fd >= 0 && fd_path(fs, fd, path, size) == 0 ? beneath(root, path) : NULL;

	return rel ? rel : "";
}

int fs_state_save(struct nb_fs *fs, void *buf, size_t size, struct nb_err *err)
{
	const struct fs_table *t = &fs->t;
	struct out o = { .buf = buf, .size = size };
	struct state_head h = { .magic = STATE_MAGIC, .minor = fs->minor };
	char root[PATH_MAX], path[PATH_MAX];
	int rc;

	if (fs->empty || !fs->initialized)
		return 0; /* never mounted: a restore starts it afresh */
	if ((rc = fd_path(fs, t->inodes[0].fd, root, sizeof(root))) < 0)
		return nb_err_set(err, -rc, "the shared directory's path");
	for (uint32_t i = 1; i < t->inode_unused; i++) {
		h.inodes += t->inodes[i].nlookup > 0;
		if (t->inodes[i].generation > h.generation)
			h.generation = t->inodes[i].generation;
	}
	for (uint32_t i = 0; i < t->handle_unused; i++)
		h.handles += t->handles[i].kind != FS_HANDLE_FREE;
	bool fits = put(&o, &h, sizeof(h));
	for (uint32_t i = 1; fits && i < t->inode_unused; i++) {
		const struct fs_inode *in = &t->inodes[i];
		const char *rel = in->nlookup ? rel_path(fs, root, in->fd, path, sizeof(path))
					      : NULL;
		struct state_inode r = { .dev = in->dev,
					 .ino = in->ino,
					 .nlookup = in->nlookup,
					 .slot = i,
					 .type = in->type,
					 .generation = in->generation };

		if (!rel)
			continue;
		r.path.len = (uint16_t)strlen(rel);
		fits = put(&o, &r, sizeof(r)) && put(&o, rel, r.path.len);
	}
	for (uint32_t i = 0; fits && i < t->handle_unused; i++) {
		const struct fs_handle *hd = &t->handles[i];
		struct state_handle r = { .slot = i, .kind = hd->kind, .flags = hd->flags };
		const char *rel;

		if (hd->kind == FS_HANDLE_FREE)
			continue;
		rel = rel_path(fs, root, hd->fd, path, sizeof(path));
		r.kind = rel[0] ? hd->kind : FS_HANDLE_DEAD;
		r.path.len = (uint16_t)strlen(rel);
		fits = put(&o, &r, sizeof(r)) && put(&o, rel, r.path.len);
	}
	if (!fits)
		return nb_err_set(err, E2BIG,
				  "the guest holds %u files and %u open handles of the shared "
				  "directory %s: more than a snapshot keeps (%zu bytes)",
				  h.inodes, h.handles, root, size);
	return (int)o.len;
}

/* ---- load ---------------------------------------------------------------- */

struct in {
	const uint8_t *p;
	size_t len, pos;
};

static bool take(struct in *i, void *dst, size_t n)
{
	if (n > i->len - i->pos)
		return false;
	memcpy(dst, i->p + i->pos, n);
	i->pos += n;
	return true;
}

/* A record of n bytes whose end is *tail, then its path (1..FS_LINK_MAX
 * bytes, no NUL) into buf: *path is buf, or NULL (dead). False when
 * short or malformed. */
static bool take_record(struct in *i, void *r, size_t n, const struct state_path *tail,
			char buf[PATH_MAX], const char **path)
{
	*path = NULL;
	if (!take(i, r, n) || tail->reserved || tail->len > FS_LINK_MAX)
		return false;
	if (tail->len == 0)
		return true;
	if (!take(i, buf, tail->len) || memchr(buf, '\0', tail->len))
		return false;
	buf[tail->len] = '\0';
	*path = buf;
	return true;
}

static bool known_type(uint32_t type)
{
	switch (type) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		return true;
	default:
		return false;
	}
}

static int bad(struct nb_err *err, const char *what)
{
	return nb_err_set(err, 0, "virtio-fs state: %s", what);
}

/* Inode record r at its slot: its path opened beneath the share again, or
 * dead when nothing of its type (or a file the table holds already) is
 * there now. */
static int load_inode(struct nb_fs *fs, const struct state_inode *r, const char *path,
		      struct nb_err *err)
{
	struct fs_table *t = &fs->t;
	struct fs_inode *in;
	struct stat st;
	int fd;

	if (r->slot == 0 || r->slot >= t->inode_cap)
		return nb_err_set(err, 0,
				  "virtio-fs state: nodeid %u is beyond this share's table (%u): "
				  "restore with a higher open-file limit (ulimit -n)",
				  r->slot + 1, t->inode_cap);
	in = &t->inodes[r->slot];
	if (in->nlookup || r->nlookup == 0 || !known_type(r->type))
		return bad(err, "an inode record twice, unreferenced, or of no file type");
	*in = (struct fs_inode){ .fd = -1,
				 .type = r->type,
				 .dev = (dev_t)r->dev,
				 .ino = (ino_t)r->ino,
				 .nlookup = r->nlookup,
				 .generation = r->generation,
				 .next = FS_NONE };
	if (r->slot >= t->inode_unused)
		t->inode_unused = r->slot + 1;
	t->ninodes++;
	fd = path ? fs_open_beneath(t->inodes[0].fd, path, O_PATH, 0) : -1;
	if (fd < 0)
		return 0;
	if (fs_stat(fd, &st) < 0 || (st.st_mode & S_IFMT) != r->type ||
	    fs_inode_rehash(t, r->slot, fd, &st) < 0)
		close(fd);
	return 0;
}

static int load_handle(struct nb_fs *fs, const struct state_handle *r, const char *path,
		       struct nb_err *err)
{
	struct fs_table *t = &fs->t;
	struct fs_handle *h;
	struct stat st;
	int fd = -1, access = r->flags & O_ACCMODE;

	if (r->slot >= t->handle_cap)
		return nb_err_set(err, 0,
				  "virtio-fs state: handle %u is beyond this share's table (%u): "
				  "restore with a higher open-file limit (ulimit -n)",
				  r->slot + 1, t->handle_cap);
	h = &t->handles[r->slot];
	if (h->kind != FS_HANDLE_FREE ||
	    (r->kind != FS_HANDLE_FILE && r->kind != FS_HANDLE_DIR && r->kind != FS_HANDLE_DEAD) ||
	    (r->flags & ~HANDLE_FLAGS) || access == O_ACCMODE ||
	    (r->kind == FS_HANDLE_DIR && r->flags != O_RDONLY) ||
	    (fs->read_only && access != O_RDONLY) || (r->kind == FS_HANDLE_DEAD) != !path)
		return bad(err, "a handle record twice, of no kind, or with flags a share never "
				"opens with");
	if (r->kind == FS_HANDLE_DIR)
		fd = fs_open_beneath(t->inodes[0].fd, path, O_RDONLY | O_DIRECTORY, 0);
	else if (r->kind == FS_HANDLE_FILE)
		fd = fs_open_beneath(t->inodes[0].fd, path, r->flags | O_NONBLOCK, 0);
	if (fd >= 0 &&
	    (fstat(fd, &st) < 0 || (r->kind == FS_HANDLE_FILE && !S_ISREG(st.st_mode)))) {
		close(fd);
		fd = -1;
	}
	*h = (struct fs_handle){ .fd = fd < 0 ? -1 : fd,
				 .kind = fd < 0 ? FS_HANDLE_DEAD : (enum fs_handle_kind)r->kind,
				 .flags = r->flags };
	if (r->slot >= t->handle_unused)
		t->handle_unused = r->slot + 1;
	t->nhandles++;
	return 0;
}

int fs_state_load(struct nb_fs *fs, const void *data, size_t len, struct nb_err *err)
{
	struct fs_table *t = &fs->t;
	struct in i = { .p = data, .len = len };
	struct state_head h;
	char buf[PATH_MAX];
	const char *path;
	int rc = 0;

	if (len == 0)
		return 0; /* saved before the guest mounted it */
	if (fs->empty)
		return bad(err, "state for a share slot with no directory behind it");
	if (fs->initialized || t->ninodes != 1 || t->nhandles)
		return bad(err, "a device in use");
	if (!take(&i, &h, sizeof(h)) || h.magic != STATE_MAGIC)
		return bad(err, "not a virtio-fs state, or another version of it");
	if (h.minor < FS_MIN_MINOR || h.minor > FUSE_KERNEL_MINOR_VERSION || h.reserved)
		return bad(err, "a FUSE version this device does not speak");
	for (uint32_t n = 0; rc == 0 && n < h.inodes; n++) {
		struct state_inode r;

		if (!take_record(&i, &r, sizeof(r), &r.path, buf, &path))
			return bad(err, "a truncated or malformed inode record");
		rc = load_inode(fs, &r, path, err);
	}
	for (uint32_t n = 0; rc == 0 && n < h.handles; n++) {
		struct state_handle r;

		if (!take_record(&i, &r, sizeof(r), &r.path, buf, &path))
			return bad(err, "a truncated or malformed handle record");
		rc = load_handle(fs, &r, path, err);
	}
	if (rc < 0)
		return -1;
	if (i.pos != len)
		return bad(err, "bytes after the last record");
	fs_table_relink(t, h.generation);
	fs->minor = h.minor;
	fs->initialized = true;
	return 0;
}
