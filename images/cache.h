/* The shared image cache at ${XDG_CACHE_HOME:-$HOME/.cache}/nestbox:
 *   lock                 flock: shared while importing, exclusive for prune/rmi
 *   layers/sha256-<hex>.erofs   one read-only erofs image per layer digest
 *   layers/sha256-<hex>.lock    per-layer flock: one process converts, others wait
 *   blobs/sha256/<hex>   small verified JSON blobs (manifests, configs)
 *   images.json          what `nestbox images` lists (written atomically)
 *   tmp/                 conversions and downloads in flight; names hold the
 *                        digest, so a stale one is removed under its lock. A
 *                        conversion's work directory holds the erofs image
 *                        being made and the layer's unpacked tree, or a link
 *                        "tree" to it in a stage outside the cache (see
 *                        nb_cache_tree); removing the work removes the stage
 * NESTBOX_CACHE_DIR overrides the whole path (tests). */
#ifndef NESTBOX_IMAGES_CACHE_H
#define NESTBOX_IMAGES_CACHE_H

#include <stdbool.h>

#include "images/digest.h"
#include "nestbox/err.h"

struct nb_cache {
	char *root, *layers, *blobs, *tmp;
	int lock_fd;
};

/* Create the directories and take the cache lock (shared or exclusive). */
int nb_cache_open(struct nb_cache *c, bool exclusive, struct nb_err *err);
void nb_cache_close(struct nb_cache *c);

/* malloc'd paths of one layer's image and lock, one blob. */
char *nb_cache_layer_path(const struct nb_cache *c, const struct nb_digest *d);
char *nb_cache_blob_path(const struct nb_cache *c, const struct nb_digest *d);

/* Store bytes as a blob after checking they hash to d (atomic). */
int nb_cache_put_blob(const struct nb_cache *c, const struct nb_digest *d, const void *data,
		      size_t len, struct nb_err *err);
/* Read a blob back, re-verifying its digest; *data malloc'd. */
int nb_cache_get_blob(const struct nb_cache *c, const struct nb_digest *d, size_t max, char **data,
		      size_t *len, struct nb_err *err);

/* The directory to unpack a layer's tree into, for the conversion whose work
 * directory (under tmp/) is work: work/tree when the cache's file system
 * can hold device nodes, owners and trusted xattrs, else a stage in
 * $TMPDIR, /var/tmp, /tmp or /dev/shm that work/tree links to (a cache on
 * 9p, NFS or vfat). *tree malloc'd. */
int nb_cache_tree(const struct nb_cache *c, const char *work, char **tree, struct nb_err *err);
/* Remove a conversion's work directory and the stage its tree link names. */
int nb_cache_remove_work(const char *work);

/* Remove path and everything under it (no symlinks followed). */
int nb_rm_rf(const char *path);
/* Remove tmp entries no live process owns: only valid with the lock held
 * exclusively, or for names starting with prefix under that digest's lock. */
void nb_cache_clean_tmp(const struct nb_cache *c, const char *prefix);

/* flock helper: open (create) path and lock it; returns the fd. */
int nb_lock_file(const char *path, bool exclusive, struct nb_err *err);

#endif
