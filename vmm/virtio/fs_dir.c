/* virtio-fs: directories (fs_impl.h). A directory handle is the inode
 * reopened O_RDONLY; READDIR and READDIRPLUS seek it to the guest's
 * offset (a d_off cookie the host file system gave earlier) and turn one
 * getdents64 batch into as many FUSE entries as fit the guest's buffer, so
 * the device keeps no position of its own. READDIRPLUS looks each entry up
 * (one more guest reference, as LOOKUP does) only once it is sure the
 * entry fits. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "vmm/virtio/fs_impl.h"

#define DENTS_MIN 4096u /* getdents64 wants room for one full-length entry */

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	uint16_t d_reclen;
	uint8_t d_type;
	char d_name[];
};

int fs_opendir(struct fs_req *r)
{
	struct fuse_open_in in;
	struct fuse_open_out out = { 0 };
	struct fs_inode *node;
	int fd, rc;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if (!(node = fs_req_inode(r, r->h.nodeid)))
		return -ESTALE;
	if (node->type != S_IFDIR)
		return -ENOTDIR;
	if (!fs_handle_room(&r->fs->t))
		return -ENFILE;
	if ((fd = fs_reopen(r->fs, node, O_RDONLY)) < 0)
		return fd;
	if ((rc = fs_handle_new(&r->fs->t, fd, FS_HANDLE_DIR, O_RDONLY, &out.fh)) < 0)
		return rc;
	return fs_reply(r, &out, sizeof(out));
}

static bool is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

/* Append one entry (plus: with its lookup) if it fits; 0 when it does
 * not, 1 when it was added. */
static int add_entry(struct fs_req *r, int dirfd, const struct linux_dirent64 *d, size_t namelen,
		     size_t limit, bool plus)
{
	struct fuse_entry_out e = { 0 };
	struct fuse_dirent de = {
		.ino = d->d_ino,
		.off = (uint64_t)d->d_off,
		.namelen = (uint32_t)namelen,
		.type = d->d_type,
	};
	size_t head = plus ? sizeof(e) : 0;
	size_t size = FUSE_DIRENT_ALIGN(head + FUSE_NAME_OFFSET + namelen);
	static const uint8_t pad[8];

	if (r->out_len + size > limit)
		return 0;
	/* A failed lookup leaves nodeid 0: the guest takes the name alone. */
	if (plus && !is_dot(d->d_name) && fs_lookup_name(r->fs, dirfd, d->d_name, &e) < 0)
		memset(&e, 0, sizeof(e));
	fs_reply(r, &e, head);
	fs_reply(r, &de, FUSE_NAME_OFFSET);
	fs_reply(r, d->d_name, namelen);
	fs_reply(r, pad, size - head - FUSE_NAME_OFFSET - namelen);
	return 1;
}

static int read_dir(struct fs_req *r, bool plus)
{
	struct fuse_read_in in;
	struct fs_handle *h;
	uint8_t *buf = r->fs->dents;
	size_t limit, want;
	ssize_t got;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if (!(h = fs_handle_get(&r->fs->t, in.fh, FS_HANDLE_DIR)))
		return -EBADF;
	if (in.offset > INT64_MAX)
		return -EINVAL;
	limit = in.size < fs_reply_room(r) ? in.size : fs_reply_room(r);
	want = limit > DENTS_MIN ? limit : DENTS_MIN;
	if (lseek(h->fd, (off_t)in.offset, SEEK_SET) < 0)
		return -errno;
	got = getdents64(h->fd, buf, want < FS_OUT_MAX ? want : FS_OUT_MAX);
	if (got < 0)
		return -errno;
	/* The host kernel's records; checked all the same. */
	for (size_t pos = 0; (size_t)got - pos > offsetof(struct linux_dirent64, d_name);) {
		const struct linux_dirent64 *d = (const void *)(buf + pos);
		size_t namelen;

		if (d->d_reclen <= offsetof(struct linux_dirent64, d_name) ||
		    d->d_reclen > (size_t)got - pos)
			break;
		namelen = strnlen(d->d_name, d->d_reclen - offsetof(struct linux_dirent64, d_name));
		if (!add_entry(r, h->fd, d, namelen, limit, plus))
			break;
		pos += d->d_reclen;
	}
	return 0;
}

int fs_readdir(struct fs_req *r)
{
	return read_dir(r, false);
}

int fs_readdirplus(struct fs_req *r)
{
	return read_dir(r, true);
}

int fs_releasedir(struct fs_req *r)
{
	struct fuse_release_in in;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	return fs_handle_release(&r->fs->t, in.fh, FS_HANDLE_DIR);
}

int fs_fsyncdir(struct fs_req *r)
{
	struct fuse_fsync_in in;
	struct fs_handle *h;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if (!(h = fs_handle_get(&r->fs->t, in.fh, FS_HANDLE_DIR)))
		return -EBADF;
	if (r->fs->read_only)
		return 0;
	return ((in.fsync_flags & 1) ? fdatasync(h->fd) : fsync(h->fd)) < 0 ? -errno : 0;
}
