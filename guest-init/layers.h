/* Guest side of image layers: the host attaches each layer's erofs image
 * as a read-only virtio-blk disk with serial NB_LAYER_SERIAL<N> (N from 0,
 * bottom layer first; include/nestbox/abi.h). When such disks exist,
 * nestbox-init mounts them read-only and stacks them with overlayfs, with
 * a tmpfs upper layer, at the workload's root. */
#ifndef NESTBOX_GUEST_LAYERS_H
#define NESTBOX_GUEST_LAYERS_H

#include "nestbox/err.h"

/* Mount the layers found at root (an absolute guest path, e.g.
 * NB_GUEST_ROOTFS). No layer disks: nothing to do, 0. */
int nb_layers_mount(const char *root, struct nb_err *err);

#endif
