/* Host-side initramfs packer: newc cpio archives in memory (libarchive).
 *
 * The kernel unpacks concatenated archives in order, so an initramfs is
 * built from independent segments:
 *   (a) base:   /dev /proc /sys /nestbox NB_GUEST_ROOTFS, /dev/console (5,1)
 *               and /init (nestbox-init); depends only on the init binary,
 *               so a caller may build it once and cache the bytes;
 *   (b) tree:   a host directory copied under a guest directory;
 *   (c) file:   one in-memory file, e.g. the spec at NB_SPEC_PATH.
 * Inode numbers are renumbered per segment (dev 0, ino 1..) so host inode
 * numbers never leak and newc's 32-bit field never overflows; hard links in
 * a tree keep one data copy (first link) and share an inode number.
 */
#ifndef NESTBOX_INITRAMFS_H
#define NESTBOX_INITRAMFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nestbox/err.h"

/* A growable byte buffer; zero-initialise before first use. */
struct nb_buf {
	uint8_t *data;
	size_t len, cap;
};

int nb_buf_append(struct nb_buf *buf, const void *data, size_t len, struct nb_err *err);
void nb_buf_free(struct nb_buf *buf);

/* Largest nestbox-init binary the packer accepts. */
#define NB_INIT_MAX_SIZE (64u << 20)

/* Append segment (a) with /init read from init_path. */
int nb_initramfs_append_base(struct nb_buf *out, const char *init_path, struct nb_err *err);

/* Append segment (b): the tree at host_dir (symlinks inside it are not
 * followed; host_dir itself may be a symlink to a directory) placed at
 * guest_dir (absolute, e.g. NB_GUEST_ROOTFS). Type, mode, uid/gid, mtime,
 * symlink targets, hard links and device numbers are preserved. */
int nb_initramfs_append_tree(struct nb_buf *out, const char *host_dir, const char *guest_dir,
			     struct nb_err *err);

/* Append segment (c): a regular file at guest_path (absolute; its parent
 * must exist by then) with the given bytes, owner root, permission bits
 * mode. */
int nb_initramfs_append_file(struct nb_buf *out, const char *guest_path, const void *data,
			     size_t len, mode_t mode, struct nb_err *err);

/* Append (a), (b) for rootfs_dir at NB_GUEST_ROOTFS unless rootfs_dir is
 * NULL, and (c) with the spec at NB_SPEC_PATH. On failure out is left as it
 * was (its length restored). */
int nb_initramfs_build(struct nb_buf *out, const char *init_path, const char *rootfs_dir,
		       const void *spec, size_t spec_len, struct nb_err *err);

#endif
