/* virtio-fs: the name space. Lookups and forgets, attributes, links,
 * nodes, renames, statfs (fs_impl.h). Every name is one component checked
 * by fs_arg_name() and resolved beneath its parent's O_PATH descriptor
 * with openat2, never following a symlink; every nodeid is checked against
 * the table before its descriptor is used. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/virtio/fs_impl.h"

#define VALID_SEC 1u /* entry and attribute timeouts: host changes show within 1 s */
#define RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

/* ---- helpers ------------------------------------------------------------- */

int fs_open_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE,
	};
	long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

static void fd_name(int fd, char buf[16])
{
	snprintf(buf, 16, "%d", fd);
}

int fs_reopen(struct nb_fs *fs, const struct fs_inode *in, int flags)
{
	char name[16];
	int fd;

	if (in->type == S_IFDIR)
		fd = openat(in->fd, ".", flags | O_DIRECTORY | O_CLOEXEC);
	else if (in->type == S_IFREG) {
		fd_name(in->fd, name);
		fd = openat(fs->proc_fd, name, (flags & ~O_CREAT) | O_NONBLOCK | O_CLOEXEC);
	} else {
		return in->type == S_IFLNK ? -ELOOP : -EPERM; /* never a FIFO or a device */
	}
	return fd < 0 ? -errno : fd;
}

int fs_stat(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

void fs_attr(struct fuse_attr *a, const struct stat *st)
{
	*a = (struct fuse_attr){
		.ino = st->st_ino,
		.size = (uint64_t)st->st_size,
		.blocks = (uint64_t)st->st_blocks,
		.atime = (uint64_t)st->st_atim.tv_sec,
		.mtime = (uint64_t)st->st_mtim.tv_sec,
		.ctime = (uint64_t)st->st_ctim.tv_sec,
		.atimensec = (uint32_t)st->st_atim.tv_nsec,
		.mtimensec = (uint32_t)st->st_mtim.tv_nsec,
		.ctimensec = (uint32_t)st->st_ctim.tv_nsec,
		.mode = st->st_mode,
		.nlink = (uint32_t)st->st_nlink,
		.uid = st->st_uid,
		.gid = st->st_gid,
		.rdev = (uint32_t)st->st_rdev,
		.blksize = (uint32_t)st->st_blksize,
	};
}

static int entry(struct nb_fs *fs, int fd, struct fuse_entry_out *e)
{
	struct fs_inode *in;
	struct stat st;
	int rc = fs_stat(fd, &st);

	if (rc < 0) {
		close(fd);
		return rc;
	}
	rc = fs_inode_ref(&fs->t, fd, &st, &in); /* takes fd */
	if (rc < 0)
		return rc;
	*e = (struct fuse_entry_out){
		.nodeid = fs_inode_nodeid(&fs->t, in),
		.generation = in->generation,
		.entry_valid = VALID_SEC,
		.attr_valid = VALID_SEC,
	};
	fs_attr(&e->attr, &st);
	return 0;
}

int fs_lookup_name(struct nb_fs *fs, int dirfd, const char *name, struct fuse_entry_out *e)
{
	int fd = fs_open_beneath(dirfd, name, O_PATH, 0);

	return fd < 0 ? fd : entry(fs, fd, e);
}

/* A node just made by the VMM belongs to the guest caller (when the VMM may
 * give it away), with the group of a set-group-ID parent. chown clears
 * set-user/group-ID bits, so they are put back. */
static void give_to_caller(struct fs_req *r, int fd, int dirfd)
{
	gid_t gid = r->h.gid;
	struct stat parent, st;

	if (!r->fs->may_chown || (r->h.uid == 0 && r->h.gid == 0))
		return;
	if (fs_stat(dirfd, &parent) == 0 && (parent.st_mode & S_ISGID))
		gid = (gid_t)-1;
	if (fs_stat(fd, &st) < 0 ||
	    fchownat(fd, "", r->h.uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (S_ISREG(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID))) {
		char name[16];

		fd_name(fd, name);
		fchmodat(r->fs->proc_fd, name, st.st_mode & 07777, 0);
	}
}

int fs_lookup_new(struct fs_req *r, int dirfd, const char *name, struct fuse_entry_out *e)
{
	int fd = fs_open_beneath(dirfd, name, O_PATH, 0);

	if (fd < 0)
		return fd;
	give_to_caller(r, fd, dirfd);
	return entry(r->fs, fd, e);
}

/* The request's nodeid as a directory. */
static int dir_of(struct fs_req *r, uint64_t nodeid, struct fs_inode **dir)
{
	*dir = fs_req_inode(r, nodeid);
	if (!*dir)
		return -ESTALE;
	return (*dir)->type == S_IFDIR ? 0 : -ENOTDIR;
}

static int reply_entry(struct fs_req *r, int rc, const struct fuse_entry_out *e)
{
	return rc < 0 ? rc : fs_reply(r, e, sizeof(*e));
}

/* ---- lookups and forgets --------------------------------------------------- */

int fs_lookup(struct fs_req *r)
{
	struct fuse_entry_out e;
	struct fs_inode *dir;
	const char *name;
	int rc = fs_arg_name(r, &name);

	if (rc < 0 || (rc = dir_of(r, r->h.nodeid, &dir)) < 0)
		return rc;
	return reply_entry(r, fs_lookup_name(r->fs, dir->fd, name, &e), &e);
}

int fs_forget(struct fs_req *r)
{
	struct fuse_forget_in in;

	if (fs_arg(r, &in, sizeof(in)) == 0)
		fs_inode_forget(&r->fs->t, r->h.nodeid, in.nlookup);
	return 0;
}

int fs_batch_forget(struct fs_req *r)
{
	struct fuse_batch_forget_in in;
	struct fuse_forget_one one;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return 0;
	/* As many as the request holds, whatever count says. */
	for (uint32_t i = 0; i < in.count && fs_arg(r, &one, sizeof(one)) == 0; i++)
		fs_inode_forget(&r->fs->t, one.nodeid, one.nlookup);
	return 0;
}

/* ---- attributes ------------------------------------------------------------ */

static int reply_attr(struct fs_req *r, int fd)
{
	struct fuse_attr_out out = { .attr_valid = VALID_SEC };
	struct stat st;
	int rc = fs_stat(fd, &st);

	if (rc < 0)
		return rc;
	fs_attr(&out.attr, &st);
	return fs_reply(r, &out, sizeof(out));
}

int fs_getattr(struct fs_req *r)
{
	struct fuse_getattr_in in;
	struct fs_inode *node;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	node = fs_req_inode(r, r->h.nodeid);
	return node ? reply_attr(r, node->fd) : -ESTALE;
}

/* An open, writable handle given with the request, else -1. */
static int setattr_fd(struct fs_req *r, const struct fuse_setattr_in *in)
{
	struct fs_handle *h = (in->valid & FATTR_FH)
				      ? fs_handle_get(&r->fs->t, in->fh, FS_HANDLE_FILE)
				      : NULL;

	return h && fs_handle_writable(h) ? h->fd : -1;
}

static int set_mode(struct fs_req *r, struct fs_inode *node, const struct fuse_setattr_in *in)
{
	char name[16];

	if (node->type == S_IFLNK)
		return -EOPNOTSUPP;
	fd_name(node->fd, name);
	/* Through the magic link: fchmod does not take an O_PATH descriptor. */
	return fchmodat(r->fs->proc_fd, name, in->mode & 07777, 0) < 0 ? -errno : 0;
}

static int set_owner(struct fs_inode *node, const struct fuse_setattr_in *in)
{
	uid_t uid = (in->valid & FATTR_UID) ? in->uid : (uid_t)-1;
	gid_t gid = (in->valid & FATTR_GID) ? in->gid : (gid_t)-1;

	if (fchownat(node->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

static int set_size(struct fs_req *r, struct fs_inode *node, const struct fuse_setattr_in *in)
{
	int fd = setattr_fd(r, in), own = -1, rc = 0;

	if (node->type == S_IFDIR)
		return -EISDIR;
	if (node->type != S_IFREG)
		return -EINVAL;
	if (in->size > INT64_MAX)
		return -EFBIG;
	if (fd < 0 && (fd = own = fs_reopen(r->fs, node, O_WRONLY)) < 0)
		return fd;
	if (ftruncate(fd, (off_t)in->size) < 0)
		rc = -errno;
	if (own >= 0)
		close(own);
	return rc;
}

static struct timespec when(uint32_t valid, uint32_t set, uint32_t now, uint64_t sec, uint32_t nsec)
{
	if (valid & now)
		return (struct timespec){ .tv_nsec = UTIME_NOW };
	if (valid & set)
		return (struct timespec){ .tv_sec = (time_t)sec, .tv_nsec = nsec };
	return (struct timespec){ .tv_nsec = UTIME_OMIT };
}

static int set_times(struct fs_inode *node, const struct fuse_setattr_in *in)
{
	struct timespec ts[2] = {
		when(in->valid, FATTR_ATIME, FATTR_ATIME_NOW, in->atime, in->atimensec),
		when(in->valid, FATTR_MTIME, FATTR_MTIME_NOW, in->mtime, in->mtimensec),
	};

	if ((ts[0].tv_nsec != UTIME_NOW && ts[0].tv_nsec != UTIME_OMIT &&
	     in->atimensec >= 1000000000u) ||
	    (ts[1].tv_nsec != UTIME_NOW && ts[1].tv_nsec != UTIME_OMIT &&
	     in->mtimensec >= 1000000000u))
		return -EINVAL;
	return utimensat(node->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

int fs_setattr(struct fs_req *r)
{
	struct fuse_setattr_in in;
	struct fs_inode *node;
	int rc = 0;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	node = fs_req_inode(r, r->h.nodeid);
	if (!node)
		return -ESTALE;
	if (in.valid & FATTR_MODE)
		rc = set_mode(r, node, &in);
	if (rc == 0 && (in.valid & (FATTR_UID | FATTR_GID)))
		rc = set_owner(node, &in);
	if (rc == 0 && (in.valid & FATTR_SIZE))
		rc = set_size(r, node, &in);
	if (rc == 0 && (in.valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)))
		rc = set_times(node, &in);
	return rc < 0 ? rc : reply_attr(r, node->fd);
}

/* ---- links and nodes ---------------------------------------------------------- */

int fs_readlink(struct fs_req *r)
{
	struct fs_inode *node = fs_req_inode(r, r->h.nodeid);
	char target[FS_LINK_MAX + 1];
	ssize_t n;

	if (!node)
		return -ESTALE;
	if (node->type != S_IFLNK)
		return -EINVAL;
	n = readlinkat(node->fd, "", target, sizeof(target));
	if (n < 0)
		return -errno;
	return fs_reply(r, target, (size_t)n);
}

int fs_new_name(struct fs_req *r, struct fs_inode **dir, const char **name)
{
	int rc = dir_of(r, r->h.nodeid, dir);

	if (rc < 0 || (rc = fs_arg_name(r, name)) < 0)
		return rc;
	return fs_inode_room(&r->fs->t) ? 0 : -ENFILE;
}

int fs_symlink(struct fs_req *r)
{
	struct fuse_entry_out e;
	struct fs_inode *dir;
	const char *name, *target;
	int rc = fs_new_name(r, &dir, &name);

	if (rc < 0 || (rc = fs_arg_string(r, &target, FS_LINK_MAX)) < 0)
		return rc;
	/* The target is the guest's: the host never follows it (RESOLVE). */
	if (symlinkat(target, dir->fd, name) < 0)
		return -errno;
	return reply_entry(r, fs_lookup_new(r, dir->fd, name, &e), &e);
}

int fs_mknod(struct fs_req *r)
{
	struct fuse_mknod_in in;
	struct fuse_entry_out e;
	struct fs_inode *dir;
	const char *name;
	int rc;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if ((rc = fs_new_name(r, &dir, &name)) < 0)
		return rc;
	/* Files, FIFOs, sockets and overlayfs whiteouts (0:0 character
	 * devices); no device node reaches the host. */
	switch (in.mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		in.rdev = 0;
		break;
	case S_IFCHR:
		if (in.rdev != 0)
			return -EPERM;
		break;
	default:
		return -EPERM;
	}
	if (mknodat(dir->fd, name, (in.mode & S_IFMT) | (in.mode & 07777), in.rdev) < 0)
		return -errno;
	return reply_entry(r, fs_lookup_new(r, dir->fd, name, &e), &e);
}

int fs_mkdir(struct fs_req *r)
{
	struct fuse_mkdir_in in;
	struct fuse_entry_out e;
	struct fs_inode *dir;
	const char *name;
	int rc;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if ((rc = fs_new_name(r, &dir, &name)) < 0)
		return rc;
	if (mkdirat(dir->fd, name, in.mode & 07777) < 0)
		return -errno;
	return reply_entry(r, fs_lookup_new(r, dir->fd, name, &e), &e);
}

static int remove_name(struct fs_req *r, int flags)
{
	struct fs_inode *dir;
	const char *name;
	int rc = fs_arg_name(r, &name);

	if (rc < 0 || (rc = dir_of(r, r->h.nodeid, &dir)) < 0)
		return rc;
	return unlinkat(dir->fd, name, flags) < 0 ? -errno : 0;
}

int fs_unlink(struct fs_req *r)
{
	return remove_name(r, 0);
}

int fs_rmdir(struct fs_req *r)
{
	return remove_name(r, AT_REMOVEDIR);
}

static int rename_names(struct fs_req *r, uint64_t newdir, unsigned flags)
{
	struct fs_inode *from, *to;
	const char *old, *new;
	int rc;

	if ((rc = fs_arg_name(r, &old)) < 0 || (rc = fs_arg_name(r, &new)) < 0 ||
	    (rc = dir_of(r, r->h.nodeid, &from)) < 0 || (rc = dir_of(r, newdir, &to)) < 0)
		return rc;
	/* Both ends are directories of the share: nothing moves across it. */
	if (syscall(SYS_renameat2, from->fd, old, to->fd, new, flags) < 0)
		return -errno;
	return 0;
}

int fs_rename(struct fs_req *r)
{
	struct fuse_rename_in in;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	return rename_names(r, in.newdir, 0);
}

int fs_rename2(struct fs_req *r)
{
	struct fuse_rename2_in in;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if (in.flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	return rename_names(r, in.newdir, in.flags);
}

int fs_link(struct fs_req *r)
{
	struct fuse_link_in in;
	struct fuse_entry_out e;
	struct fs_inode *dir, *node;
	const char *name;
	char old[16];
	int rc;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if ((rc = fs_new_name(r, &dir, &name)) < 0)
		return rc;
	node = fs_req_inode(r, in.oldnodeid);
	if (!node)
		return -ESTALE;
	if (node->type == S_IFDIR)
		return -EPERM;
	/* linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the magic link
	 * does not, and names exactly this inode. */
	fd_name(node->fd, old);
	if (linkat(r->fs->proc_fd, old, dir->fd, name, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	return reply_entry(r, fs_lookup_name(r->fs, dir->fd, name, &e), &e);
}

/* ---- the file system ---------------------------------------------------------- */

int fs_statfs(struct fs_req *r)
{
	struct fs_inode *node = fs_req_inode(r, r->h.nodeid);
	struct fuse_statfs_out out = { 0 };
	struct statfs s;

	if (!node)
		node = fs_req_inode(r, FUSE_ROOT_ID);
	if (fstatfs(node->fd, &s) < 0)
		return -errno;
	out.st = (struct fuse_kstatfs){
		.blocks = s.f_blocks,
		.bfree = s.f_bfree,
		.bavail = s.f_bavail,
		.files = s.f_files,
		.ffree = s.f_ffree,
		.bsize = (uint32_t)s.f_bsize,
		.namelen = (uint32_t)s.f_namelen,
		.frsize = (uint32_t)s.f_frsize,
	};
	return fs_reply(r, &out, sizeof(out));
}

int fs_syncfs(struct fs_req *r)
{
	struct fs_inode *root = fs_req_inode(r, FUSE_ROOT_ID);
	int fd = fs_reopen(r->fs, root, O_RDONLY), rc = 0;

	if (fd < 0)
		return fd;
	if (syncfs(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
