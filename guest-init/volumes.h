/* Guest side of nestbox's virtio devices: volumes (virtio-blk disks named
 * by serial and virtio-fs shares named by tag, mounted under the rootfs)
 * and the workload's stdio over the virtio-console ports
 * (include/nestbox/abi.h). */
#ifndef NESTBOX_GUEST_VOLUMES_H
#define NESTBOX_GUEST_VOLUMES_H

#include "common/spec.h"
#include "nestbox/err.h"

/* Mount every spec volume at spec->rootfs + PATH (a disk as ext4, else
 * erofs; a share as virtiofs; read-only for "ro" and "fs-ro"), creating
 * missing directories but never following a symlink on the way. */
int nb_volumes_mount(const struct nb_spec *spec, struct nb_err *err);

/* Unmount them again (after the workload ended), so a writable ext4
 * volume is left clean for the next VM. Best effort. */
void nb_volumes_unmount(const struct nb_spec *spec);

/* If the VM has the virtio-console, put its stdin/stdout/stderr ports on
 * fds 0, 1 and 2 (which the workload inherits) and return in *log_fd a
 * close-on-exec copy of the previous stderr (the UART) for init's own
 * messages, and in *signal_fd the signal port (non-blocking, close-on-exec).
 * Without the device: 0, *log_fd = 2 and *signal_fd = -1. */
int nb_console_attach(int *log_fd, int *signal_fd, struct nb_err *err);

#endif
