/* virtio-fs internals shared by fs.c (device, request decoding and
 * dispatch), fs_req.c (a request's arguments and reply), fs_table.c (inode
 * and handle tables), fs_node.c (lookups and the name space), fs_file.c
 * (open files), fs_dir.c (directories), fs_xattr.c (extended
 * attributes) and fs_state.c (snapshots). Not for other modules: fs.h is the
 * device's interface.
 *
 * A handler gets a decoded request whose arguments are a host copy of the
 * guest's bytes (taken once, so the guest cannot change them under the
 * checks), consumes them with the fs_arg_* helpers, and returns 0 with the
 * reply payload appended by fs_reply(), or -errno.
 */
#ifndef NESTBOX_VIRTIO_FS_IMPL_H
#define NESTBOX_VIRTIO_FS_IMPL_H

#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/virtio_fs.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "vmm/virtio/fs.h"
#include "vmm/virtio/virtio.h"

/* Requests other than WRITE carry at most a name, a link target (PATH_MAX)
 * or an xattr value (XATTR_SIZE_MAX) besides their fixed arguments. */
#define FS_IN_MAX (sizeof(struct fuse_in_header) + 64u + 256u + 65536u + 4096u)
/* Replies other than READ: at most an xattr value or list, or a page of
 * directory entries the guest asked for (it asks for one page). */
#define FS_OUT_MAX (65536u + 4096u)
#define FS_NAME_MAX 255u         /* NAME_MAX */
#define FS_XATTR_NAME_MAX 255u   /* XATTR_NAME_MAX */
#define FS_XATTR_SIZE_MAX 65536u /* XATTR_SIZE_MAX */
#define FS_LINK_MAX 4095u        /* PATH_MAX - 1 */
#define FS_MIN_MINOR 31u         /* virtio-fs appeared with FUSE 7.31 (Linux 5.4) */

/* ---- tables (fs_table.c) ----------------------------------------------- */

struct fs_inode {
	/* O_PATH | O_NOFOLLOW, beneath the share; -1: free, or dead (nlookup
	 * > 0: a restore found nothing at its path, fs_state.c) */
	int fd;
	mode_t type; /* S_IFMT bits, fixed for the inode's life */
	dev_t dev;
	ino_t ino;
	uint64_t nlookup;    /* the guest's references (FUSE lookup count) */
	uint32_t generation; /* bumped when the slot is reused */
	uint32_t next;       /* hash chain / free list, FS_NONE at the end */
};

/* DEAD: a handle a restore could not open again (fs_state.c); only
 * RELEASE takes it. */
enum fs_handle_kind { FS_HANDLE_FREE, FS_HANDLE_FILE, FS_HANDLE_DIR, FS_HANDLE_DEAD };

struct fs_handle {
	int fd; /* -1: FREE or DEAD */
	enum fs_handle_kind kind;
	int flags; /* opened with: O_ACCMODE, O_APPEND, O_SYNC, O_DSYNC (a restore's too) */
	uint32_t next_free;
};

static inline bool fs_handle_writable(const struct fs_handle *h)
{
	return (h->flags & O_ACCMODE) != O_RDONLY;
}

#define FS_NONE UINT32_MAX

struct fs_table {
	struct fs_inode *inodes; /* slot i is nodeid i + 1; slot 0 the root */
	uint32_t inode_cap, ninodes, inode_free, inode_unused;
	uint32_t *buckets;         /* (dev, ino) hash -> first slot */
	uint32_t nbuckets;         /* a power of 2 */
	struct fs_handle *handles; /* slot i is fh i + 1 */
	uint32_t handle_cap, nhandles, handle_free, handle_unused;
};

int fs_table_init(struct fs_table *t, uint32_t inode_cap, uint32_t handle_cap);
void fs_table_destroy(struct fs_table *t);

/* The inode of a guest nodeid, NULL if it names none. */
struct fs_inode *fs_inode_get(struct fs_table *t, uint64_t nodeid);
uint64_t fs_inode_nodeid(const struct fs_table *t, const struct fs_inode *in);

/* Take fd (an O_PATH descriptor with stat st) into the table as one more
 * guest reference: the inode already there for (st_dev, st_ino) (fd is
 * closed), else a new slot. -ENFILE when the table is full (fd closed). */
int fs_inode_ref(struct fs_table *t, int fd, const struct stat *st, struct fs_inode **out);
/* Drop n guest references; the slot is freed at zero (never the root).
 * A dead inode's slot too. */
void fs_inode_forget(struct fs_table *t, uint64_t nodeid, uint64_t n);
/* Whether one more inode, or handle, fits (checked before creating a
 * file, so a full table never leaves one behind). */
bool fs_inode_room(const struct fs_table *t);
bool fs_handle_room(const struct fs_table *t);
/* Forget every inode but the root and close every handle (DESTROY, reset). */
void fs_table_clear(struct fs_table *t);

/* A new handle owning fd, opened with flags; -ENFILE when full (fd
 * closed). */
int fs_handle_new(struct fs_table *t, int fd, enum fs_handle_kind kind, int flags, uint64_t *fh);
/* The handle fh of kind, NULL if fh names none of that kind. */
struct fs_handle *fs_handle_get(struct fs_table *t, uint64_t fh, enum fs_handle_kind kind);
/* Close and free fh; -EBADF if it names none of that kind. */
int fs_handle_release(struct fs_table *t, uint64_t fh, enum fs_handle_kind kind);

/* A restore (fs_state.c) fills slots where the snapshot had them. Slot i,
 * its record set (dead), becomes live on fd (stat st: its dev and ino now);
 * -EEXIST when the table holds that file in another slot already. */
int fs_inode_rehash(struct fs_table *t, uint32_t i, int fd, const struct stat *st);
/* Then the free slots below the highest used one go on the free lists;
 * a reused inode slot's generation goes on from generation. */
void fs_table_relink(struct fs_table *t, uint32_t generation);

/* ---- snapshots (fs_state.c) ---------------------------------------------- */

/* The session and the tables, each held inode and handle as its path
 * beneath the share, into buf: bytes written (0: never mounted), or -1
 * when they do not fit (err). */
int fs_state_save(struct nb_fs *fs, void *buf, size_t size, struct nb_err *err);
/* What fs_state_save wrote, into a device fresh from nb_fs_open on the
 * same directory (hostile bytes: checked; files gone since come back
 * dead). */
int fs_state_load(struct nb_fs *fs, const void *data, size_t len, struct nb_err *err);

/* ---- the device ------------------------------------------------------- */

struct nb_fs {
	struct nb_virtio_dev vdev;
	struct fs_table t;
	int proc_fd; /* /proc/self/fd: reopening O_PATH descriptors */
	bool read_only;
	bool may_chown;   /* created files get the guest caller's ids */
	bool initialized; /* FUSE_INIT done */
	bool empty;       /* no directory (a template's share slot): every request fails */
	uint32_t minor;   /* negotiated FUSE minor version */
	struct virtio_fs_config config;
	struct nb_virtq_chain chain;
	uint8_t in[FS_IN_MAX] __attribute__((aligned(8)));
	uint8_t out[FS_OUT_MAX] __attribute__((aligned(8)));
	uint8_t dents[FS_OUT_MAX] __attribute__((aligned(8)));
};

/* One request being served. */
struct fs_req {
	struct nb_fs *fs;
	const struct nb_virtq_chain *chain;
	struct fuse_in_header h;
	const uint8_t *arg;  /* the arguments after the header (host copy) */
	size_t arg_len, pos; /* bytes of them, bytes consumed */
	size_t out_len;      /* reply payload in fs->out */
	size_t direct;       /* or: payload bytes written straight into the chain */
	bool no_reply;       /* FORGET, BATCH_FORGET */
};

/* ---- arguments and replies (fs_req.c) ---------------------------------- */

/* Take n bytes of fixed arguments; -EINVAL if the request is short. */
int fs_arg(struct fs_req *r, void *dst, size_t n);
/* Take a NUL-terminated string of 1..max bytes; -EINVAL if malformed,
 * -ENAMETOOLONG if longer. */
int fs_arg_string(struct fs_req *r, const char **s, size_t max);
/* Take one path component: a string that is not "", ".", "..", has no
 * '/' and at most NAME_MAX bytes. */
int fs_arg_name(struct fs_req *r, const char **name);
/* The rest of the arguments (WRITE payloads excepted). */
const uint8_t *fs_arg_rest(struct fs_req *r, size_t *len);

/* Append n bytes to the reply; -ERANGE if it would not fit. */
int fs_reply(struct fs_req *r, const void *p, size_t n);
/* Room the guest gave for the reply payload (after the out header). */
size_t fs_reply_room(const struct fs_req *r);

/* The request's inode, -ESTALE (NULL) when nodeid names none. */
struct fs_inode *fs_req_inode(struct fs_req *r, uint64_t nodeid);

/* ---- helpers (fs_node.c) ----------------------------------------------- */

/* openat2 of one name beneath dirfd, never following a symlink. */
int fs_open_beneath(int dirfd, const char *name, int flags, mode_t mode);
/* A new descriptor with flags for the inode behind fd (O_PATH), through
 * /proc/self/fd; never for a symlink or a special file. */
int fs_reopen(struct nb_fs *fs, const struct fs_inode *in, int flags);
/* fstat of an O_PATH descriptor (without following a symlink). */
int fs_stat(int fd, struct stat *st);
void fs_attr(struct fuse_attr *a, const struct stat *st);
/* Look up name beneath dirfd as one more guest reference and fill e. */
int fs_lookup_name(struct nb_fs *fs, int dirfd, const char *name, struct fuse_entry_out *e);
/* The parent directory and new name a creating request carries, with
 * room in the table for the new inode. */
int fs_new_name(struct fs_req *r, struct fs_inode **dir, const char **name);
/* The same for a new node: give it the caller's ids first. */
int fs_lookup_new(struct fs_req *r, int dirfd, const char *name, struct fuse_entry_out *e);

/* ---- handlers: 0 with the reply in r, or -errno ---------------------------- */

typedef int fs_handler(struct fs_req *r);

fs_handler fs_lookup, fs_forget, fs_batch_forget, fs_getattr, fs_setattr, fs_readlink, fs_symlink,
	fs_mknod, fs_mkdir, fs_unlink, fs_rmdir, fs_rename, fs_rename2, fs_link, fs_statfs,
	fs_syncfs;
fs_handler fs_open, fs_create, fs_read, fs_write, fs_release, fs_flush, fs_fsync, fs_fallocate,
	fs_lseek, fs_copy_file_range;
fs_handler fs_opendir, fs_readdir, fs_readdirplus, fs_releasedir, fs_fsyncdir;
fs_handler fs_getxattr, fs_listxattr, fs_setxattr, fs_removexattr;

#endif
