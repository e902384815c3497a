/* Layer cache: each layer (a tar, tar+gzip or tar+zstd blob) is converted
 * once into a read-only erofs image named by the layer's digest, and shared
 * by every VM that uses it.
 *
 * Why erofs rather than squashfs: it is in our guest kernel already
 * (CONFIG_EROFS_FS, with xattrs), it is built for fast random reads (block
 * aligned, uncompressed data is read straight from the page cache, no
 * per-block decompression as squashfs always does), and it stores every
 * xattr namespace including trusted.*, which overlayfs needs for opaque
 * directories. Images are written uncompressed: the layer blob stays the
 * compressed form of record, and reads in the guest cost no CPU.
 *
 * Conversion extracts the tar into a private temp directory under the
 * cache's tmp/ with libarchive's secure flags, sanitising every path and
 * refusing escapes, turns OCI whiteouts into overlayfs ones, runs
 * mkfs.erofs and renames the result into place: a crash leaves only a temp
 * directory, removed by the next conversion of that layer (under its lock)
 * or by `nestbox prune`. The blob is hashed while it is read; nothing is
 * renamed into the cache unless its digest and size match the descriptor.
 */
#ifndef NESTBOX_IMAGES_LAYERS_H
#define NESTBOX_IMAGES_LAYERS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/report.h"
#include "images/cache.h"
#include "images/oci.h"
#include "nestbox/err.h"

struct nb_layer_limits {
	uint64_t max_entries; /* tar members in one layer */
	uint64_t max_bytes;   /* sum of member sizes */
	uint64_t max_path;    /* bytes in one member path */
};

/* Defaults: 1M entries, 64 GiB, 4095-byte paths. */
extern const struct nb_layer_limits nb_layer_default_limits;

/* Extract the layer tar read from fd into the existing empty directory
 * root_dir (sanitising paths, converting whiteouts), hashing every byte
 * of fd to EOF into *digest and *size; reading more than blob_max bytes
 * (0: lim->max_bytes) fails. Needs root (owners, device nodes). */
int nb_layer_extract(int fd, uint64_t blob_max, const char *root_dir,
		     const struct nb_layer_limits *lim, struct nb_digest *digest, uint64_t *size,
		     struct nb_err *err);

/* Normalise a tar member path into out (max+1 bytes): leading '/' and "."
 * components dropped, ".." and over-long names refused; "" is the root. */
int nb_layer_sanitize_path(const char *in, char *out, size_t max, struct nb_err *err);

/* Opens the blob of a layer for reading (the caller's source: a layout
 * directory, a staged archive member, a downloaded file). */
typedef int (*nb_blob_open_fn)(void *ctx, const struct nb_desc *d, struct nb_err *err);

/* The cached erofs image of layer d, converting it first when absent
 * (a work directory left behind is a warning to report). *path is
 * malloc'd; *converted says whether this call did the work. */
int nb_layer_get(const struct nb_cache *c, const struct nb_desc *d, nb_blob_open_fn open_blob,
		 void *ctx, const struct nb_layer_limits *lim, const struct nb_report *report,
		 char **path, bool *converted, struct nb_err *err);

/* True when the layer's erofs image is in the cache. */
bool nb_layer_cached(const struct nb_cache *c, const struct nb_digest *d);

#endif
