/* images.json: the record of imported images, for `nestbox images`, `rmi`,
 * `prune` and the run path. Read-modify-write under records.lock; written
 * atomically. Shape:
 *   { "version": 1, "images": [ { "ref", "manifest", "config",
 *       "layers": [ { "digest", "size" } ], "created" } ] } */
#ifndef NESTBOX_IMAGES_RECORDS_H
#define NESTBOX_IMAGES_RECORDS_H

#include <json-c/json.h>

#include <stdbool.h>
#include <stdint.h>

#include "images/cache.h"
#include "images/types.h"
#include "nestbox/err.h"

#define NB_RECORDS_MAX 4096

/* Load the image record for ref (exact name or manifest digest/prefix). */
int nb_records_find(const struct nb_cache *c, const char *ref, struct nb_image *out, bool *found,
		    struct nb_err *err);
int nb_records_put(const struct nb_cache *c, const struct nb_image *img,
		   const struct nb_desc *config_desc, const uint64_t *blob_sizes,
		   struct nb_err *err);

/* The whole file (an empty record set when absent); caller puts it. */
struct json_object *nb_records_load(const struct nb_cache *c, struct nb_err *err);
/* Index of the record matching ref (name, "sha256:<hex>" or a hex prefix of
 * 12+ digits of the manifest digest), -1 if none. */
int nb_records_match(struct json_object *images, const char *ref);
/* Remove the record for ref; *removed says whether one was there. */
int nb_records_remove(const struct nb_cache *c, const char *ref, char *removed_name,
		      size_t name_size, struct nb_err *err);

#endif
