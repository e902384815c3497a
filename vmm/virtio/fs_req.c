/* A request's arguments and reply (fs_impl.h): the helpers every virtio-fs
 * operation uses to take its checked arguments and build its answer. */
#include <errno.h>
#include <string.h>

#include "vmm/virtio/fs_impl.h"

int fs_arg(struct fs_req *r, void *dst, size_t n)
{
	if (r->arg_len - r->pos < n)
		return -EINVAL;
	memcpy(dst, r->arg + r->pos, n);
	r->pos += n;
	return 0;
}

int fs_arg_string(struct fs_req *r, const char **s, size_t max)
{
	const char *start = (const char *)r->arg + r->pos;
	size_t left = r->arg_len - r->pos, len = strnlen(start, left);

	if (len == left || len == 0) /* no terminator inside the request, or empty */
		return -EINVAL;
	if (len > max)
		return -ENAMETOOLONG;
	*s = start;
	r->pos += len + 1;
	return 0;
}

int fs_arg_name(struct fs_req *r, const char **name)
{
	int rc = fs_arg_string(r, name, FS_NAME_MAX);

	if (rc < 0)
		return rc;
	if (strchr(*name, '/') || strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0)
		return -EINVAL;
	return 0;
}

const uint8_t *fs_arg_rest(struct fs_req *r, size_t *len)
{
	const uint8_t *p = r->arg + r->pos;

	*len = r->arg_len - r->pos;
	r->pos = r->arg_len;
	return p;
}

size_t fs_reply_room(const struct fs_req *r)
{
	uint64_t room = r->chain->write_len - sizeof(struct fuse_out_header);

	if (r->chain->write_len < sizeof(struct fuse_out_header))
		return 0;
	return room < FS_OUT_MAX ? (size_t)room : FS_OUT_MAX;
}

int fs_reply(struct fs_req *r, const void *p, size_t n)
{
	if (n > fs_reply_room(r) - r->out_len)
		return -ERANGE;
	memcpy(r->fs->out + r->out_len, p, n);
	r->out_len += n;
	return 0;
}

struct fs_inode *fs_req_inode(struct fs_req *r, uint64_t nodeid)
{
	return fs_inode_get(&r->fs->t, nodeid);
}
