/* Typed, bounded access to untrusted JSON over json-c. Every getter checks
 * the type and names the field in its error. */
#ifndef NESTBOX_IMAGES_JSON_H
#define NESTBOX_IMAGES_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nestbox/err.h"

#define NB_JSON_MAX_BYTES (4u << 20) /* manifests, indexes, configs */
#define NB_JSON_MAX_DEPTH 32

/* Parse exactly one JSON document of len bytes (no trailing garbage). */
struct json_object *nb_json_parse(const char *data, size_t len, const char *what,
				  struct nb_err *err);
/* Read a whole JSON file (bounded by NB_JSON_MAX_BYTES) and parse it. */
struct json_object *nb_json_load(const char *path, const char *what, struct nb_err *err);

/* Field getters: required fields fail when absent; optional ones return 0
 * with *out untouched (NULL) when absent. Wrong types always fail. */
int nb_json_obj(struct json_object *o, const char *key, bool required, struct json_object **out,
		struct nb_err *err);
int nb_json_arr(struct json_object *o, const char *key, bool required, size_t max,
		struct json_object **out, struct nb_err *err);
int nb_json_str(struct json_object *o, const char *key, bool required, size_t max, const char **out,
		struct nb_err *err);
int nb_json_int(struct json_object *o, const char *key, bool required, int64_t *out,
		struct nb_err *err);
/* A JSON array of strings (or null/absent -> *out NULL) as a NULL-terminated
 * malloc'd vector of malloc'd strings. */
int nb_json_strv(struct json_object *o, const char *key, size_t max_items, size_t max_len,
		 char ***out, struct nb_err *err);
void nb_strv_free(char **v);
size_t nb_strv_len(char *const *v);

/* Write o (pretty, with a final newline) to path atomically, created with
 * mode less the umask (nb_file_write_atomic: a temp file beside it). */
int nb_json_write_atomic(const char *path, struct json_object *o, mode_t mode, struct nb_err *err);

#endif
