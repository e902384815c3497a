#include "images/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "nestbox/cleanup.h"

struct json_object *nb_json_parse(const char *data, size_t len, const char *what,
				  struct nb_err *err)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error jerr;

	if (len > NB_JSON_MAX_BYTES) {
		nb_err_set(err, 0, "%s is %zu bytes, more than the %u allowed", what, len,
			   NB_JSON_MAX_BYTES);
		return NULL;
	}
	tok = json_tokener_new_ex(NB_JSON_MAX_DEPTH);
	if (!tok) {
		nb_err_set(err, ENOMEM, "%s", what);
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, data, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue)
		jerr = json_tokener_error_parse_eof;
	if (jerr == json_tokener_success && json_tokener_get_parse_end(tok) != len) {
		/* Anything but whitespace after the document is an error. */
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
			if (!memchr(" \t\r\n", data[i], 4)) {
				jerr = json_tokener_error_parse_unexpected;
				break;
			}
	}
	if (jerr != json_tokener_success) {
		nb_err_set(err, 0, "%s is not valid JSON: %s", what, json_tokener_error_desc(jerr));
		json_object_put(o);
		o = NULL;
	} else if (!o) {
		/* json-c reads a lone null as a NULL object: not a document. */
		nb_err_set(err, 0, "%s is JSON null, not a document", what);
	}
	json_tokener_free(tok);
	return o;
}

struct json_object *nb_json_load(const char *path, const char *what, struct nb_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	struct stat st;
	size_t len;

	if (fd < 0) {
		nb_err_sys(err, "cannot open %s %s", what, path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		nb_err_set(err, 0, "%s %s is not a regular file", what, path);
		return NULL;
	}
	if (nb_file_read_fd(fd, NB_JSON_MAX_BYTES, &buf, &len, err) < 0) {
		nb_err_wrap(err, "%s %s", what, path);
		return NULL;
	}
	return nb_json_parse(buf, len, what, err);
}

static int get(struct json_object *o, const char *key, bool required, enum json_type type,
	       const char *type_name, struct json_object **out, struct nb_err *err)
{
	struct json_object *v = NULL;

	*out = NULL;
	if (!json_object_is_type(o, json_type_object))
		return nb_err_set(err, 0, "expected a JSON object holding \"%s\"", key);
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			return nb_err_set(err, 0, "missing field \"%s\"", key);
		return 0;
	}
	if (!json_object_is_type(v, type))
		return nb_err_set(err, 0, "field \"%s\" must be %s", key, type_name);
	*out = v;
	return 0;
}

int nb_json_obj(struct json_object *o, const char *key, bool required, struct json_object **out,
		struct nb_err *err)
{
	return get(o, key, required, json_type_object, "an object", out, err);
}

int nb_json_arr(struct json_object *o, const char *key, bool required, size_t max,
		struct json_object **out, struct nb_err *err)
{
	if (get(o, key, required, json_type_array, "an array", out, err) < 0)
		return -1;
	if (*out && json_object_array_length(*out) > max)
		return nb_err_set(err, 0, "field \"%s\" has %zu entries, more than the %zu allowed",
				  key, json_object_array_length(*out), max);
	return 0;
}

int nb_json_str(struct json_object *o, const char *key, bool required, size_t max, const char **out,
		struct nb_err *err)
{
	struct json_object *v;

	*out = NULL;
	if (get(o, key, required, json_type_string, "a string", &v, err) < 0)
		return -1;
	if (!v)
		return 0;
	size_t len = (size_t)json_object_get_string_len(v);
	if (len > max)
		return nb_err_set(err, 0, "field \"%s\" is %zu bytes long, more than %zu", key, len,
				  max);
	if (memchr(json_object_get_string(v), '\0', len))
		return nb_err_set(err, 0, "field \"%s\" holds a NUL byte", key);
	*out = json_object_get_string(v);
	return 0;
}

int nb_json_int(struct json_object *o, const char *key, bool required, int64_t *out,
		struct nb_err *err)
{
	struct json_object *v;

	if (get(o, key, required, json_type_int, "an integer", &v, err) < 0)
		return -1;
	if (v) {
		errno = 0;
		*out = json_object_get_int64(v);
		if (errno)
			return nb_err_set(err, 0, "field \"%s\" is out of range", key);
	}
	return 0;
}

void nb_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

size_t nb_strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

int nb_json_strv(struct json_object *o, const char *key, size_t max_items, size_t max_len,
		 char ***out, struct nb_err *err)
{
	struct json_object *arr;
	char **v;
	size_t n;

	*out = NULL;
	if (nb_json_arr(o, key, false, max_items, &arr, err) < 0)
		return -1;
	if (!arr)
		return 0;
	n = json_object_array_length(arr);
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return nb_err_set(err, ENOMEM, "field \"%s\"", key);
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(arr, i);
		size_t len;
		if (!json_object_is_type(s, json_type_string)) {
			nb_strv_free(v);
			return nb_err_set(err, 0, "field \"%s\"[%zu] must be a string", key, i);
		}
		len = (size_t)json_object_get_string_len(s);
		if (len > max_len || memchr(json_object_get_string(s), '\0', len)) {
			nb_strv_free(v);
			return nb_err_set(err, 0,
					  "field \"%s\"[%zu] is too long or holds a NUL byte", key,
					  i);
		}
		v[i] = strdup(json_object_get_string(s));
		if (!v[i]) {
			nb_strv_free(v);
			return nb_err_set(err, ENOMEM, "field \"%s\"", key);
		}
	}
	*out = v;
	return 0;
}

int nb_json_write_atomic(const char *path, struct json_object *o, mode_t mode, struct nb_err *err)
{
	const char *text = json_object_to_json_string_ext(o,
							  JSON_C_TO_STRING_PRETTY |
								  JSON_C_TO_STRING_NOSLASHESCAPE);
	cleanup_free char *line = NULL;
	int len = text ? asprintf(&line, "%s\n", text) : -1;

	if (len < 0)
		return nb_err_set(err, ENOMEM, "%s", path);
	return nb_file_write_atomic(AT_FDCWD, path, NULL, line, (size_t)len, mode, err);
}
