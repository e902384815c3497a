/* virtio-fs device (fs.h): queues, config space, request decoding and
 * dispatch, FUSE_INIT and FUSE_DESTROY. The operations live in fs_node.c,
 * fs_file.c, fs_dir.c and fs_xattr.c, the tables in fs_table.c, the
 * argument and reply helpers they share in fs_req.c.
 *
 * A request chain is: readable fuse_in_header + arguments (for WRITE also
 * the data), writable fuse_out_header + reply (for READ also the data).
 * The header and arguments are copied out of guest memory once, checked
 * against the chain (in.len within the readable part) and the operation's
 * fixed sizes, before any handler runs; READ and WRITE data move between
 * the file and guest memory with preadv/pwritev and are never parsed. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/virtio_ids.h>

#include "vmm/virtio/fs_impl.h"

/* ---- INIT and DESTROY ---------------------------------------------------- */

/* What we take of the guest's offer: parallel lookups and readdirplus,
 * O_TRUNC in OPEN, big requests, and page-cache invalidation when a file's
 * mtime changed on the host. No writeback cache, locks, DAX or ACLs. */
#define INIT_FLAGS                                                                        \
	(FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES | FUSE_AUTO_INVAL_DATA | \
	 FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES)

static int fs_init(struct fs_req *r)
{
	struct fuse_init_in in = { 0 };
	struct fuse_init_out out = { .major = FUSE_KERNEL_VERSION };
	size_t fixed = offsetof(struct fuse_init_in, flags2);

	if (fs_arg(r, &in, fixed) < 0)
		return -EINVAL;
	if (in.major != FUSE_KERNEL_VERSION) {
		/* A newer major: answer ours alone, the guest retries or gives up. */
		if (in.major < FUSE_KERNEL_VERSION)
			return -EPROTO;
		return fs_reply(r, &out, sizeof(out));
	}
	if (in.minor < FS_MIN_MINOR)
		return -EPROTO;
	r->fs->minor = in.minor < FUSE_KERNEL_MINOR_VERSION ? in.minor : FUSE_KERNEL_MINOR_VERSION;
	out.minor = r->fs->minor;
	out.max_readahead = in.max_readahead;
	out.flags = in.flags & INIT_FLAGS;
	out.max_background = 64;
	out.congestion_threshold = 48;
	out.max_write = NB_FS_MAX_RW;
	out.time_gran = 1;
	out.max_pages = NB_FS_MAX_PAGES;
	fs_table_clear(&r->fs->t); /* a second INIT starts afresh */
	r->fs->initialized = true;
	return fs_reply(r, &out, sizeof(out));
}

static int fs_destroy(struct fs_req *r)
{
	fs_table_clear(&r->fs->t);
	r->fs->initialized = false;
	return 0;
}

static int fs_nosys(struct fs_req *r)
{
	(void)r;
	return -ENOSYS;
}

/* ---- dispatch ----------------------------------------------------------- */

struct op {
	fs_handler *fn;
	uint16_t in;  /* fixed argument bytes the request must carry */
	uint16_t out; /* fixed reply bytes the guest must have room for */
	bool mutates; /* refused with EROFS on a read-only share */
};

#define OP(code, f, i, o, m) [code] = { f, i, o, m }

static const struct op ops[] = {
	OP(FUSE_LOOKUP, fs_lookup, 0, sizeof(struct fuse_entry_out), false),
	OP(FUSE_FORGET, fs_forget, sizeof(struct fuse_forget_in), 0, false),
	OP(FUSE_GETATTR, fs_getattr, sizeof(struct fuse_getattr_in), sizeof(struct fuse_attr_out),
	   false),
	OP(FUSE_SETATTR, fs_setattr, sizeof(struct fuse_setattr_in), sizeof(struct fuse_attr_out),
	   true),
	OP(FUSE_READLINK, fs_readlink, 0, 0, false),
	OP(FUSE_SYMLINK, fs_symlink, 0, sizeof(struct fuse_entry_out), true),
	OP(FUSE_MKNOD, fs_mknod, sizeof(struct fuse_mknod_in), sizeof(struct fuse_entry_out), true),
	OP(FUSE_MKDIR, fs_mkdir, sizeof(struct fuse_mkdir_in), sizeof(struct fuse_entry_out), true),
	OP(FUSE_UNLINK, fs_unlink, 0, 0, true),
	OP(FUSE_RMDIR, fs_rmdir, 0, 0, true),
	OP(FUSE_RENAME, fs_rename, sizeof(struct fuse_rename_in), 0, true),
	OP(FUSE_LINK, fs_link, sizeof(struct fuse_link_in), sizeof(struct fuse_entry_out), true),
	OP(FUSE_OPEN, fs_open, sizeof(struct fuse_open_in), sizeof(struct fuse_open_out), false),
	OP(FUSE_READ, fs_read, sizeof(struct fuse_read_in), 0, false),
	OP(FUSE_WRITE, fs_write, sizeof(struct fuse_write_in), sizeof(struct fuse_write_out), true),
	OP(FUSE_STATFS, fs_statfs, 0, sizeof(struct fuse_statfs_out), false),
	OP(FUSE_RELEASE, fs_release, sizeof(struct fuse_release_in), 0, false),
	OP(FUSE_FSYNC, fs_fsync, sizeof(struct fuse_fsync_in), 0, false),
	OP(FUSE_SETXATTR, fs_setxattr, FUSE_COMPAT_SETXATTR_IN_SIZE, 0, true),
	OP(FUSE_GETXATTR, fs_getxattr, sizeof(struct fuse_getxattr_in), 0, false),
	OP(FUSE_LISTXATTR, fs_listxattr, sizeof(struct fuse_getxattr_in), 0, false),
	OP(FUSE_REMOVEXATTR, fs_removexattr, 0, 0, true),
	OP(FUSE_FLUSH, fs_flush, sizeof(struct fuse_flush_in), 0, false),
	OP(FUSE_INIT, fs_init, 0, 0, false),
	OP(FUSE_OPENDIR, fs_opendir, sizeof(struct fuse_open_in), sizeof(struct fuse_open_out),
	   false),
	OP(FUSE_READDIR, fs_readdir, sizeof(struct fuse_read_in), 0, false),
	OP(FUSE_RELEASEDIR, fs_releasedir, sizeof(struct fuse_release_in), 0, false),
	OP(FUSE_FSYNCDIR, fs_fsyncdir, sizeof(struct fuse_fsync_in), 0, false),
	OP(FUSE_ACCESS, fs_nosys, 0, 0, false), /* the guest checks (default_permissions) */
	OP(FUSE_CREATE, fs_create, sizeof(struct fuse_create_in),
	   sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out), true),
	OP(FUSE_DESTROY, fs_destroy, 0, 0, false),
	OP(FUSE_BATCH_FORGET, fs_batch_forget, sizeof(struct fuse_batch_forget_in), 0, false),
	OP(FUSE_FALLOCATE, fs_fallocate, sizeof(struct fuse_fallocate_in), 0, true),
	OP(FUSE_READDIRPLUS, fs_readdirplus, sizeof(struct fuse_read_in), 0, false),
	OP(FUSE_RENAME2, fs_rename2, sizeof(struct fuse_rename2_in), 0, true),
	OP(FUSE_LSEEK, fs_lseek, sizeof(struct fuse_lseek_in), sizeof(struct fuse_lseek_out),
	   false),
	OP(FUSE_COPY_FILE_RANGE, fs_copy_file_range, sizeof(struct fuse_copy_file_range_in),
	   sizeof(struct fuse_write_out), true),
	OP(FUSE_SYNCFS, fs_syncfs, sizeof(struct fuse_syncfs_in), 0, false),
};

#define NOPS (sizeof(ops) / sizeof(ops[0]))

/* Copy the header and arguments out of the chain and check them against
 * it. -errno: answer that without running anything. */
static int decode(struct nb_fs *fs, const struct nb_virtq_chain *c, struct fs_req *r)
{
	size_t args, copy;

	if (c->read_len < sizeof(r->h) ||
	    nb_virtq_chain_read(c, 0, &r->h, sizeof(r->h)) != sizeof(r->h)) {
		memset(&r->h, 0, sizeof(r->h));
		return -EINVAL;
	}
	if (r->h.len < sizeof(r->h) || r->h.len > c->read_len)
		return -EINVAL;
	args = r->h.len - sizeof(r->h);
	/* WRITE data stays in guest memory: only its fixed arguments here. */
	copy = r->h.opcode == FUSE_WRITE && args > sizeof(struct fuse_write_in)
		       ? sizeof(struct fuse_write_in)
		       : args;
	if (copy > sizeof(fs->in))
		return -E2BIG;
	if (nb_virtq_chain_read(c, sizeof(r->h), fs->in, copy) != copy)
		return -EINVAL;
	r->arg = fs->in;
	r->arg_len = copy;
	return 0;
}

static int dispatch(struct nb_fs *fs, struct fs_req *r)
{
	const struct op *op = r->h.opcode < NOPS ? &ops[r->h.opcode] : NULL;

	if (r->h.opcode == FUSE_FORGET || r->h.opcode == FUSE_BATCH_FORGET)
		r->no_reply = true; /* even when malformed: the guest waits for none */
	if (fs->empty)
		return -ENODEV;
	if (!op || !op->fn)
		return -ENOSYS;
	if (!fs->initialized && r->h.opcode != FUSE_INIT)
		return -EIO;
	if (r->arg_len < op->in)
		return -EINVAL;
	if (op->out && fs_reply_room(r) < op->out)
		return -EINVAL; /* before any side effect: the answer could not be given */
	if (op->mutates && fs->read_only)
		return -EROFS;
	return op->fn(r);
}

static uint32_t answer(const struct fs_req *r, int rc)
{
	const struct nb_virtq_chain *c = r->chain;
	size_t payload = rc < 0 ? 0 : r->direct ? r->direct : r->out_len;
	struct fuse_out_header oh = {
		.len = (uint32_t)(sizeof(oh) + payload),
		.error = rc < 0 ? rc : 0,
		.unique = r->h.unique,
	};

	if (r->no_reply || c->write_len < sizeof(oh))
		return 0;
	nb_virtq_chain_write(c, 0, &oh, sizeof(oh));
	if (rc >= 0 && !r->direct && r->out_len)
		nb_virtq_chain_write(c, sizeof(oh), r->fs->out, r->out_len);
	return oh.len;
}

uint32_t nb_fs_handle(struct nb_fs *fs, const struct nb_virtq_chain *c)
{
	struct fs_req r = { .fs = fs, .chain = c };
	int rc = decode(fs, c, &r);

	if (rc == 0)
		rc = dispatch(fs, &r);
	if (rc > 0)
		rc = 0;
	return answer(&r, rc);
}

/* ---- the virtio device -------------------------------------------------- */

static void fs_notify(struct nb_virtio_dev *dev)
{
	struct nb_fs *fs = dev->priv;

	/* Queue 0: high priority (FORGET); 1: requests. */
	for (unsigned i = 0; i < 2; i++) {
		struct nb_virtq *q = &dev->queues[i];
		int rc;

		while ((rc = nb_virtq_pop(q, &fs->chain)) == 1) {
			nb_virtq_push(q, fs->chain.head, nb_fs_handle(fs, &fs->chain));
			/* Each answer at once: the guest goes on while we serve the next. */
			nb_virtio_signal_used(dev, q);
		}
		if (rc < 0)
			nb_virtio_queue_broken(dev, q);
	}
}

static void fs_reset(struct nb_virtio_dev *dev)
{
	struct nb_fs *fs = dev->priv;

	fs_table_clear(&fs->t);
	fs->initialized = false;
}

static int fs_save(struct nb_virtio_dev *dev, void *buf, size_t size, struct nb_err *err)
{
	return fs_state_save(dev->priv, buf, size, err);
}

static int fs_load(struct nb_virtio_dev *dev, const void *data, size_t len, struct nb_err *err)
{
	return fs_state_load(dev->priv, data, len, err);
}

static const struct nb_virtio_ops fs_ops = {
	.name = "virtio-fs",
	.device_id = VIRTIO_ID_FS,
	.nqueues = 2,
	.queue_max = NB_FS_QUEUE_SIZE,
	.config_size = sizeof(struct virtio_fs_config),
	.notify = fs_notify,
	.reset = fs_reset,
	.save = fs_save,
	.load = fs_load,
};

/* The share's root, with a clear word when the VMM's ids may not use it
 * (under --jail they are U:G). */
static int open_root(struct nb_fs *fs, const char *dir, bool read_only, struct nb_err *err)
{
	struct fs_inode *root;
	struct stat st;
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return nb_err_sys(err, "shared directory %s", dir);
	if (fs_stat(fd, &st) < 0 ||
	    faccessat(fd, ".", R_OK | X_OK | (read_only ? 0 : W_OK), AT_EACCESS) < 0) {
		nb_err_sys(err, "shared directory %s: uid %u gid %u may not %s it", dir,
			   (unsigned)geteuid(), (unsigned)getegid(),
			   read_only ? "read" : "read and write");
		close(fd);
		return -1;
	}
	return fs_inode_ref(&fs->t, fd, &st, &root) < 0 ? nb_err_set(err, ENFILE, "%s", dir) : 0;
}

int nb_fs_open(struct nb_fs **out, const char *dir, const struct nb_fs_opts *opts,
	       struct nb_err *err)
{
	size_t tag_len = opts->tag ? strlen(opts->tag) : 0;
	unsigned inodes = opts->max_inodes ? opts->max_inodes : NB_FS_MAX_INODES;
	unsigned handles = opts->max_handles ? opts->max_handles : NB_FS_MAX_HANDLES;
	struct nb_fs *fs;
	int rc;

	if (tag_len == 0 || tag_len > NB_FS_TAG_MAX)
		return nb_err_set(err, 0, "shared directory %s: tag of 1 to %u bytes needed",
				  dir ? dir : "(none)", NB_FS_TAG_MAX);
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return nb_err_sys(err, "shared directory %s", dir ? dir : "(none)");
	nb_virtio_dev_init(&fs->vdev, &fs_ops, fs, &fs->config);
	fs->proc_fd = -1;
	fs->empty = !dir;
	rc = fs_table_init(&fs->t, fs->empty ? 1 : inodes, fs->empty ? 1 : handles);
	if (rc < 0) {
		free(fs);
		return nb_err_set(err, -rc, "shared directory %s", dir ? dir : "(none)");
	}
	fs->read_only = opts->read_only;
	fs->may_chown = geteuid() == 0;
	memcpy(fs->config.tag, opts->tag, tag_len);
	fs->config.num_request_queues = 1;
	if (fs->empty) {
		*out = fs;
		return 0;
	}
	if (open_root(fs, dir, opts->read_only, err) < 0)
		goto fail;
	/* Reopening an O_PATH descriptor for I/O goes through its magic link. */
	fs->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->proc_fd < 0) {
		nb_err_sys(err, "shared directory %s: /proc/self/fd", dir);
		goto fail;
	}
	*out = fs;
	return 0;
fail:
	nb_fs_close(fs);
	return -1;
}

void nb_fs_close(struct nb_fs *fs)
{
	if (!fs)
		return;
	fs_table_destroy(&fs->t);
	if (fs->proc_fd >= 0)
		close(fs->proc_fd);
	free(fs);
}

void nb_fs_counts(const struct nb_fs *fs, unsigned *inodes, unsigned *handles)
{
	*inodes = fs->t.ninodes;
	*handles = fs->t.nhandles;
}

int nb_fs_thread_init(struct nb_err *err)
{
	if (unshare(CLONE_FS) < 0)
		return nb_err_sys(err, "virtio-fs thread: unshare(CLONE_FS)");
	umask(0);
	return 0;
}

struct nb_virtio_dev *nb_fs_dev(struct nb_fs *fs)
{
	return &fs->vdev;
}

int nb_virtio_fs_add(struct nb_virtio_transport *t, struct nb_event_loop *loop, const char *dir,
		     const struct nb_fs_opts *opts, struct nb_err *err)
{
	struct nb_fs *fs;

	if (nb_fs_open(&fs, dir, opts, err) < 0)
		return -1;
	if (nb_virtio_register(t, &fs->vdev, loop, err) < 0) {
		nb_fs_close(fs);
		return -1;
	}
	return 0; /* fs lives as long as the VM: the process */
}
