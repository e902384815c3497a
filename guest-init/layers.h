/* Guest side of image layers: the host puts all of an image's erofs layers
 * on one read-only virtio-blk disk with serial NB_LAYER_SERIAL, and the
 * spec's layer table says where each lies (include/nestbox/abi.h).
 * nestbox-init puts a read-only loop device on each range, mounts them
 * (erofs) and stacks them with overlayfs, with a tmpfs upper layer, at the
 * workload's root. */
#ifndef NESTBOX_GUEST_LAYERS_H
#define NESTBOX_GUEST_LAYERS_H

#include "common/spec.h"
#include "nestbox/err.h"

/* Mount spec's layers at spec->rootfs (an absolute guest path, e.g.
 * NB_GUEST_ROOTFS). No layers in the spec: nothing to do, 0. */
int nb_layers_mount(const struct nb_spec *spec, struct nb_err *err);

#endif
