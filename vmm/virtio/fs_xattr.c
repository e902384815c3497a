/* virtio-fs: extended attributes (fs_impl.h). The f*xattr calls need a
 * real descriptor, so regular files and directories are reopened
 * read-only for the call; symlinks and special files have none to show
 * and take none. The guest reads every namespace, but sets and removes
 * only "user." attributes: security.capability would grant a host binary
 * capabilities, trusted.* steer overlayfs on the host. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "vmm/virtio/fs_impl.h"

#define USER_PREFIX "user."

/* A descriptor to read or set xattrs through, -ENODATA when the inode
 * type has none. */
static int xattr_fd(struct fs_req *r, struct fs_inode **node)
{
	*node = fs_req_inode(r, r->h.nodeid);
	if (!*node)
		return -ESTALE;
	if ((*node)->type != S_IFREG && (*node)->type != S_IFDIR)
		return -ENODATA;
	return fs_reopen(r->fs, *node, O_RDONLY);
}

/* size 0: how many bytes the value (or list) has; else the bytes. */
static int reply_value(struct fs_req *r, uint32_t size, ssize_t got)
{
	struct fuse_getxattr_out out = { .size = (uint32_t)got };

	if (got < 0)
		return -errno;
	if (size == 0)
		return fs_reply(r, &out, sizeof(out));
	return fs_reply(r, r->fs->dents, (size_t)got);
}

/* The value buffer for a guest asking size bytes: never more than an
 * xattr can have, nor than the reply has room for. */
static size_t value_room(const struct fs_req *r, uint32_t size)
{
	size_t room = fs_reply_room(r);

	if (size > FS_XATTR_SIZE_MAX)
		size = FS_XATTR_SIZE_MAX;
	return size < room ? size : room;
}

int fs_getxattr(struct fs_req *r)
{
	struct fuse_getxattr_in in;
	struct fs_inode *node;
	const char *name;
	ssize_t got;
	int fd, rc;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if ((rc = fs_arg_string(r, &name, FS_XATTR_NAME_MAX)) < 0)
		return rc == -ENAMETOOLONG ? -ERANGE : rc;
	if ((fd = xattr_fd(r, &node)) < 0)
		return fd;
	got = fgetxattr(fd, name, in.size ? r->fs->dents : NULL, value_room(r, in.size));
	rc = reply_value(r, in.size, got);
	close(fd);
	return rc;
}

int fs_listxattr(struct fs_req *r)
{
	struct fuse_getxattr_in in;
	struct fs_inode *node;
	ssize_t got;
	int fd, rc;

	if (fs_arg(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	fd = xattr_fd(r, &node);
	if (fd == -ENODATA) /* an empty list */
		return reply_value(r, in.size, 0);
	if (fd < 0)
		return fd;
	got = flistxattr(fd, in.size ? (char *)r->fs->dents : NULL, value_room(r, in.size));
	rc = reply_value(r, in.size, got);
	close(fd);
	return rc;
}

static int user_name(struct fs_req *r, const char **name)
{
	int rc = fs_arg_string(r, name, FS_XATTR_NAME_MAX);

	if (rc < 0)
		return rc == -ENAMETOOLONG ? -ERANGE : rc;
	return strncmp(*name, USER_PREFIX, strlen(USER_PREFIX)) ? -EPERM : 0;
}

int fs_setxattr(struct fs_req *r)
{
	struct fuse_setxattr_in in = { 0 };
	struct fs_inode *node;
	const char *name;
	const uint8_t *value;
	size_t len;
	int fd, rc;

	/* Without FUSE_SETXATTR_EXT the guest sends the 8-byte form. */
	if (fs_arg(r, &in, FUSE_COMPAT_SETXATTR_IN_SIZE) < 0)
		return -EINVAL;
	if ((rc = user_name(r, &name)) < 0)
		return rc;
	value = fs_arg_rest(r, &len);
	if (in.size != len || len > FS_XATTR_SIZE_MAX)
		return -EINVAL;
	if (in.flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if ((fd = xattr_fd(r, &node)) < 0)
		return fd == -ENODATA ? -EPERM : fd;
	rc = fsetxattr(fd, name, value, len, (int)in.flags) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int fs_removexattr(struct fs_req *r)
{
	struct fs_inode *node;
	const char *name;
	int fd, rc;

	if ((rc = user_name(r, &name)) < 0)
		return rc;
	if ((fd = xattr_fd(r, &node)) < 0)
		return fd == -ENODATA ? -EPERM : fd;
	rc = fremovexattr(fd, name) < 0 ? -errno : 0;
	close(fd);
	return rc;
}
