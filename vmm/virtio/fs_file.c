/* virtio-fs: open files (fs_impl.h). A file handle is a descriptor opened
 * from the inode's O_PATH descriptor (or created beneath its parent) with
 * the guest's flags filtered: no O_DIRECT, O_NOATIME, O_PATH or O_TMPFILE,
 * always O_NONBLOCK (a lease or a FIFO never blocks the device) and only
 * regular files. READ and WRITE move data between the file and guest
 * memory with preadv/pwritev on the chain's own buffers. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vmm/virtio/fs_impl.h"

/* Bytes one COPY_FILE_RANGE may move: the device serves nothing else
 * meanwhile. The guest goes on with what was copied. */
#define COPY_MAX (64u << 20)

static int open_flags(uint32_t guest, bool *writable)
{
	int access = (int)(guest & O_ACCMODE);

	if (access == O_ACCMODE)
		return -EINVAL;
	*writable = access != O_RDONLY;
	return access | (int)(guest & (O_APPEND | O_TRUNC | O_SYNC | O_DSYNC)) | O_NONBLOCK;
}

/* What a handle keeps of its open flags, for a restore to open it with. */
static int kept_flags(int flags)
{
	return flags & ~(O_TRUNC | O_NONBLOCK);
}

static int reply_open(struct fs_req *r, uint64_t fh)
{
	struct fuse_open_out out = { .fh = fh };

	return fs_reply(r, &out, sizeof(out));
}

int fs_open(struct fs_req *r)
{
	struct fuse_open_in in;
	struct fs_inode *node;
	bool writable;
	uint64_t fh;
	int flags, fd, rc;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if (!(node = fs_req_inode(r, r->h.nodeid)))
		return -ESTALE;
	if ((flags = open_flags(in.flags, &writable)) < 0)
		return flags;
	if (r->fs->read_only && (writable || (flags & O_TRUNC)))
		return -EROFS;
	if (node->type == S_IFDIR)
		return -EISDIR;
	if (!fs_handle_room(&r->fs->t))
		return -ENFILE;
	if ((fd = fs_reopen(r->fs, node, flags)) < 0)
		return fd;
	if ((rc = fs_handle_new(&r->fs->t, fd, FS_HANDLE_FILE, kept_flags(flags), &fh)) < 0)
		return rc;
	return reply_open(r, fh);
}

/* An existing name the guest creates without O_EXCL: open it, if it is a
 * regular file. */
static int open_existing(int dirfd, const char *name, int flags)
{
	struct stat st;
	int fd = fs_open_beneath(dirfd, name, flags, 0);

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		st.st_mode = 0;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EPERM;
	}
	return fd;
}

int fs_create(struct fs_req *r)
{
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out = { 0 };
	struct fuse_create_in in;
	struct fs_inode *dir;
	const char *name;
	bool writable, created;
	int flags, fd, rc;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if ((rc = fs_new_name(r, &dir, &name)) < 0)
		return rc;
	if (!fs_handle_room(&r->fs->t))
		return -ENFILE;
	if ((flags = open_flags(in.flags, &writable)) < 0)
		return flags;
	fd = fs_open_beneath(dir->fd, name, flags | O_CREAT | O_EXCL, in.mode & 07777);
	created = fd >= 0;
	if (fd == -EEXIST && !(in.flags & O_EXCL))
		fd = open_existing(dir->fd, name, flags);
	if (fd < 0)
		return fd;
	rc = created ? fs_lookup_new(r, dir->fd, name, &out.e)
		     : fs_lookup_name(r->fs, dir->fd, name, &out.e);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	if ((rc = fs_handle_new(&r->fs->t, fd, FS_HANDLE_FILE, kept_flags(flags), &out.o.fh)) < 0) {
		fs_inode_forget(&r->fs->t, out.e.nodeid, 1);
		return rc;
	}
	return fs_reply(r, &out, sizeof(out));
}

/* Move len bytes at offset between fd and the iovecs (advanced as they
 * fill); stops early at end of file. Returns the bytes moved or -errno. */
static ssize_t transfer(int fd, struct iovec *iov, unsigned n, uint64_t offset, bool write)
{
	size_t done = 0;

	while (n) {
		ssize_t got = write ? pwritev(fd, iov, (int)n, (off_t)(offset + done))
				    : preadv(fd, iov, (int)n, (off_t)(offset + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return done ? (ssize_t)done : -errno;
		if (got == 0)
			break;
		done += (size_t)got;
		while (n && (size_t)got >= iov->iov_len) {
			got -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + got;
			iov->iov_len -= (size_t)got;
		}
	}
	return (ssize_t)done;
}

int fs_read(struct fs_req *r)
{
	struct iovec iov[NB_VIRTQ_MAX_SIZE];
	struct fuse_read_in in;
	struct fs_handle *h;
	uint64_t size;
	unsigned n;
	ssize_t got;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if (!(h = fs_handle_get(&r->fs->t, in.fh, FS_HANDLE_FILE)))
		return -EBADF;
	if (in.offset > INT64_MAX || r->chain->write_len < sizeof(struct fuse_out_header))
		return -EINVAL;
	/* As much as asked, allowed and room for, straight into the chain. */
	size = in.size < NB_FS_MAX_RW ? in.size : NB_FS_MAX_RW;
	if (size > r->chain->write_len - sizeof(struct fuse_out_header))
		size = r->chain->write_len - sizeof(struct fuse_out_header);
	if (size == 0)
		return 0;
	n = nb_virtq_chain_iov(r->chain, true, sizeof(struct fuse_out_header), size, iov,
			       NB_VIRTQ_MAX_SIZE);
	if (n == 0)
		return -EINVAL;
	got = transfer(h->fd, iov, n, in.offset, false);
	if (got < 0)
		return (int)got;
	r->direct = (size_t)got;
	return 0;
}

int fs_write(struct fs_req *r)
{
	struct iovec iov[NB_VIRTQ_MAX_SIZE];
	struct fuse_write_in in;
	struct fuse_write_out out = { 0 };
	struct fs_handle *h;
	size_t data_off = sizeof(struct fuse_in_header) + sizeof(in);
	unsigned n = 0;
	ssize_t done;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	/* The data follows the arguments in the chain, in.size bytes of it. */
	if (in.size > NB_FS_MAX_RW || in.size > r->h.len - data_off || in.offset > INT64_MAX)
		return -EINVAL;
	if (!(h = fs_handle_get(&r->fs->t, in.fh, FS_HANDLE_FILE)) || !fs_handle_writable(h))
		return -EBADF;
	if (in.size &&
	    !(n = nb_virtq_chain_iov(r->chain, false, data_off, in.size, iov, NB_VIRTQ_MAX_SIZE)))
		return -EINVAL;
	done = transfer(h->fd, iov, n, in.offset, true);
	if (done < 0)
		return (int)done;
	out.size = (uint32_t)done;
	return fs_reply(r, &out, sizeof(out));
}

int fs_release(struct fs_req *r)
{
	struct fuse_release_in in;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	return fs_handle_release(&r->fs->t, in.fh, FS_HANDLE_FILE);
}

int fs_flush(struct fs_req *r)
{
	struct fuse_flush_in in;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	/* No POSIX locks are negotiated: nothing to drop at close. */
	return fs_handle_get(&r->fs->t, in.fh, FS_HANDLE_FILE) ? 0 : -EBADF;
}

int fs_fsync(struct fs_req *r)
{
	struct fuse_fsync_in in;
	struct fs_handle *h;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if (!(h = fs_handle_get(&r->fs->t, in.fh, FS_HANDLE_FILE)))
		return -EBADF;
	if (!fs_handle_writable(h)) /* nothing of ours to write back */
		return 0;
	return ((in.fsync_flags & 1) ? fdatasync(h->fd) : fsync(h->fd)) < 0 ? -errno : 0;
}

int fs_fallocate(struct fs_req *r)
{
	const uint32_t allowed = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
	struct fuse_fallocate_in in;
	struct fs_handle *h;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if ((in.mode & ~allowed) || in.offset > INT64_MAX || in.length > INT64_MAX)
		return -EOPNOTSUPP;
	if (!(h = fs_handle_get(&r->fs->t, in.fh, FS_HANDLE_FILE)) || !fs_handle_writable(h))
		return -EBADF;
	if (fallocate(h->fd, (int)in.mode, (off_t)in.offset, (off_t)in.length) < 0)
		return -errno;
	return 0;
}

int fs_lseek(struct fs_req *r)
{
	struct fuse_lseek_in in;
	struct fuse_lseek_out out;
	struct fs_handle *h;
	off_t at;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if ((in.whence != SEEK_DATA && in.whence != SEEK_HOLE) || in.offset > INT64_MAX)
		return -EINVAL;
	if (!(h = fs_handle_get(&r->fs->t, in.fh, FS_HANDLE_FILE)))
		return -EBADF;
	at = lseek(h->fd, (off_t)in.offset, (int)in.whence);
	if (at < 0)
		return -errno;
	out.offset = (uint64_t)at;
	return fs_reply(r, &out, sizeof(out));
}

int fs_copy_file_range(struct fs_req *r)
{
	struct fuse_copy_file_range_in in;
	struct fuse_write_out out = { 0 };
	struct fs_handle *from, *to;
	loff_t off_in, off_out;
	ssize_t done;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if (in.flags || in.off_in > INT64_MAX || in.off_out > INT64_MAX)
		return -EINVAL;
	from = fs_handle_get(&r->fs->t, in.fh_in, FS_HANDLE_FILE);
	to = fs_handle_get(&r->fs->t, in.fh_out, FS_HANDLE_FILE);
	if (!from || !to || !fs_handle_writable(to))
		return -EBADF;
	off_in = (loff_t)in.off_in;
	off_out = (loff_t)in.off_out;
	done = copy_file_range(from->fd, &off_in, to->fd, &off_out,
			       in.len < COPY_MAX ? (size_t)in.len : COPY_MAX, 0);
	if (done < 0)
		return -errno;
	out.size = (uint32_t)done;
	return fs_reply(r, &out, sizeof(out));
}
