/* virtio-fs (device id 26): a host directory shared with the guest, served
 * by the VMM itself (no virtiofsd): FUSE requests (linux/fuse.h) over a
 * high-priority queue (FORGET) and one request queue, no DAX window.
 *
 * Confinement: every inode the guest can name is an O_PATH descriptor
 * reached from the shared directory one checked name at a time with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS):
 * the device never follows a symlink, so links the guest makes or finds
 * cannot lead outside the share. Names are single components (no '/', not
 * "." or ".."), lengths are checked against the request, the inode and
 * handle tables are bounded (NB_FS_MAX_INODES, NB_FS_MAX_HANDLES) and a
 * malformed request gets an error reply, never a crash. A read-only share
 * refuses every request that would change it (EROFS), whatever the guest's
 * mount says. setxattr/removexattr are limited to the "user." namespace
 * (no file capabilities, no trusted.overlay.* on the host); mknod makes
 * regular files, FIFOs, sockets and overlayfs whiteouts, never devices.
 *
 * Files the guest creates belong to the requesting guest uid:gid when the
 * VMM may chown (root, not jailed); otherwise to the VMM's own ids, and a
 * guest chown to another id fails with EPERM.
 *
 * Snapshots: the device saves its FUSE session and tables, each inode and
 * handle the guest holds as its path beneath the share, and a restore on
 * the same directory opens them again beneath it (fs_state.c); what is
 * gone by then answers ESTALE or EBADF until the guest lets go.
 *
 * Threads: the device's notify handler does blocking file I/O, so its
 * transport is bound to an event loop of its own, on a thread of its own
 * (vmm/run/run.c), which calls nb_fs_thread_init() first.
 */
#ifndef NESTBOX_VIRTIO_FS_H
#define NESTBOX_VIRTIO_FS_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/kvm/event.h"
#include "vmm/virtio/virtio.h"

#define NB_FS_TAG_MAX 36u /* virtio_fs_config.tag, not NUL terminated */
#define NB_FS_QUEUE_SIZE 256u
#define NB_FS_MAX_PAGES 256u /* FUSE max_pages; the guest clamps it to the queue */
#define NB_FS_MAX_RW (NB_FS_MAX_PAGES * 4096u) /* bytes per READ or WRITE */
#define NB_FS_MAX_INODES 65536u                /* inodes the guest may hold (one O_PATH fd each) */
#define NB_FS_MAX_HANDLES 4096u                /* open files and directories */
/* Descriptors one share may hold at most: what RLIMIT_NOFILE must leave. */
#define NB_FS_MAX_FDS (NB_FS_MAX_INODES + NB_FS_MAX_HANDLES + 2u)

struct nb_fs;

struct nb_fs_opts {
	const char *tag; /* the guest's mount source, 1..NB_FS_TAG_MAX bytes */
	bool read_only;
	unsigned max_inodes;  /* 0: NB_FS_MAX_INODES */
	unsigned max_handles; /* 0: NB_FS_MAX_HANDLES */
};

/* Open the shared directory dir and set up the tables. *out is freed by
 * nb_fs_close(). dir NULL: a device with nothing behind it (a template's
 * share slot, vmm/run/template.h), which fails every request (ENODEV),
 * FUSE_INIT too, so the guest cannot mount it; a clone puts a directory
 * in the slot instead. */
int nb_fs_open(struct nb_fs **out, const char *dir, const struct nb_fs_opts *opts,
	       struct nb_err *err);
void nb_fs_close(struct nb_fs *fs);

/* The share's virtio device (tests put it on a transport of their own). */
struct nb_virtio_dev *nb_fs_dev(struct nb_fs *fs);

/* Serve one request chain (queue 0 or 1); returns the bytes written into
 * its writable part. */
uint32_t nb_fs_handle(struct nb_fs *fs, const struct nb_virtq_chain *c);

/* Inodes and handles the device holds now (tests, --stats). */
void nb_fs_counts(const struct nb_fs *fs, unsigned *inodes, unsigned *handles);

/* On the thread that serves the device, before its seccomp filter: a file
 * system context of its own with umask 0 (the guest applied its umask). */
int nb_fs_thread_init(struct nb_err *err);

/* Share dir with the guest as a device on transport t whose work runs on
 * loop's thread; the device lives as long as the VM. */
int nb_virtio_fs_add(struct nb_virtio_transport *t, struct nb_event_loop *loop, const char *dir,
		     const struct nb_fs_opts *opts, struct nb_err *err);

#endif
