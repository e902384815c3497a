#include "vmm/run/ctl_proto.h"

#include <ctype.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/parse.h"
#include "images/json.h"
#include "nestbox/abi.h"
#include "vmm/run/resources.h"

static const char *const op_names[] = {
	[NB_CTL_HELLO] = "hello",   [NB_CTL_STATE] = "state",   [NB_CTL_CONFIG] = "config",
	[NB_CTL_STOP] = "stop",     [NB_CTL_KILL] = "kill",     [NB_CTL_PAUSE] = "pause",
	[NB_CTL_RESUME] = "resume", [NB_CTL_STATS] = "stats",   [NB_CTL_EVENTS] = "events",
	[NB_CTL_WAIT] = "wait",     [NB_CTL_UPDATE] = "update", [NB_CTL_SNAPSHOT] = "snapshot",
};

const char *nb_ctl_op_name(enum nb_ctl_op op)
{
	return op_names[op];
}

int nb_ctl_signal(const char *text)
{
	uint64_t n;

	if (nb_parse_decimal(text, 1, SIGRTMAX, &n))
		return (int)n;
	if (!strncasecmp(text, "SIG", 3))
		text += 3;
	for (int sig = 1; sig < SIGRTMIN; sig++) {
		const char *abbrev = sigabbrev_np(sig);

		if (abbrev && !strcasecmp(text, abbrev))
			return sig;
	}
	return 0;
}

static __attribute__((format(printf, 5, 6))) int fail(const char **code, const char *what,
						      char *msg, size_t size, const char *fmt, ...)
{
	va_list ap;

	*code = what;
	va_start(ap, fmt);
	vsnprintf(msg, size, fmt, ap);
	va_end(ap);
	return -1;
}

/* A snapshot's directory: absolute, bounded, printable, no "." or ".."
 * component (the monitor creates it: no surprises in its name). */
static bool good_path(const char *p, size_t len)
{
	if (len == 0 || len > NB_CTL_PATH_MAX || p[0] != '/' || strlen(p) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return false;
	for (const char *c = p; c; c = strchr(c + 1, '/')) {
		size_t n = strcspn(c + 1, "/");

		if ((n == 1 && c[1] == '.') || (n == 2 && c[1] == '.' && c[2] == '.'))
			return false;
	}
	return true;
}

/* The value of an op's one argument, type-checked. */
static int argument(const char *key, json_object *v, struct nb_ctl_request *req, const char **code,
		    char *msg, size_t size)
{
	if (!strcmp(key, "timeout") && req->op == NB_CTL_STOP) {
		int64_t t = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || t < 0 || t > NB_CTL_MAX_TIMEOUT)
			return fail(
				code, NB_CTL_E_BAD_REQUEST, msg, size,
				"\"timeout\" must be a whole number of seconds from 0 to 86400");
		req->timeout = (int)t;
		return 0;
	}
	if (!strcmp(key, "signal") && req->op == NB_CTL_KILL) {
		if (json_object_is_type(v, json_type_int)) {
			int64_t s = json_object_get_int64(v);
			req->signal = s >= 1 && s <= SIGRTMAX ? (int)s : 0;
		} else if (json_object_is_type(v, json_type_string) &&
			   json_object_get_string_len(v) < 16) {
			req->signal = nb_ctl_signal(json_object_get_string(v));
		} else {
			req->signal = 0;
		}
		if (!req->signal)
			return fail(code, NB_CTL_E_BAD_REQUEST, msg, size,
				    "\"signal\" must be a signal name (\"HUP\") or number");
		return 0;
	}
	if (!strcmp(key, "memory") && req->op == NB_CTL_UPDATE) {
		int64_t bytes = json_object_get_int64(v);

		/* json-c saturates at INT64_MAX: far above the maximum */
		if (!json_object_is_type(v, json_type_int) || bytes < (int64_t)NB_MEMORY_MIN ||
		    (uint64_t)bytes > NB_SIGMSG_MEMORY_MAX)
			return fail(code, NB_CTL_E_BAD_REQUEST, msg, size,
				    "\"memory\" must be a whole number of bytes from %llu "
				    "(6 MiB) to %llu (16 TiB)",
				    NB_MEMORY_MIN, NB_SIGMSG_MEMORY_MAX);
		req->memory = (uint64_t)bytes & ~4095ull;
		return 0;
	}
	if (!strcmp(key, "path") && req->op == NB_CTL_SNAPSHOT) {
		if (!json_object_is_type(v, json_type_string) ||
		    !good_path(json_object_get_string(v), (size_t)json_object_get_string_len(v)))
			return fail(code, NB_CTL_E_BAD_REQUEST, msg, size,
				    "\"path\" must be an absolute path of at most %u bytes, "
				    "without control characters or . and .. components",
				    NB_CTL_PATH_MAX);
		memcpy(req->path, json_object_get_string(v),
		       (size_t)json_object_get_string_len(v) + 1);
		return 0;
	}
	return fail(code, NB_CTL_E_BAD_REQUEST, msg, size, "unknown field \"%.64s\" for this op",
		    key);
}

static int parse_op(json_object *o, struct nb_ctl_request *req, const char **code, char *msg,
		    size_t size)
{
	json_object *v;
	const char *name;

	if (!json_object_object_get_ex(o, "op", &v) || !json_object_is_type(v, json_type_string))
		return fail(code, NB_CTL_E_BAD_REQUEST, msg, size,
			    "a request needs \"op\", a string");
	name = json_object_get_string(v);
	for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (!strcmp(name, op_names[i])) {
			req->op = (enum nb_ctl_op)i;
			return 0;
		}
	return fail(code, NB_CTL_E_UNKNOWN_OP, msg, size, "unknown op \"%.64s\"", name);
}

int nb_ctl_parse(const char *line, size_t len, struct nb_ctl_request *req, const char **code,
		 char *msg, size_t size)
{
	struct nb_err err;
	json_object *o;
	int rc = 0;

	*req = (struct nb_ctl_request){ .timeout = 10, .signal = SIGKILL };
	if (len > NB_CTL_LINE_MAX)
		return fail(code, NB_CTL_E_TOO_LONG, msg, size,
			    "a request line is at most %u bytes", NB_CTL_LINE_MAX);
	if (memchr(line, '\0', len))
		return fail(code, NB_CTL_E_BAD_REQUEST, msg, size, "a NUL byte in the request");
	o = nb_json_parse(line, len, "the request", &err);
	if (!o)
		return fail(code, NB_CTL_E_BAD_REQUEST, msg, size, "%s", err.msg);
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return fail(code, NB_CTL_E_BAD_REQUEST, msg, size, "a request is a JSON object%s",
			    "");
	}
	rc = parse_op(o, req, code, msg, size);
	json_object_object_foreach(o, key, v) {
		if (rc < 0)
			break;
		if (strcmp(key, "op") != 0)
			rc = argument(key, v, req, code, msg, size);
	}
	if (rc == 0 && req->op == NB_CTL_UPDATE && !req->memory)
		rc = fail(code, NB_CTL_E_BAD_REQUEST, msg, size,
			  "update needs \"memory\", the container's new limit in bytes");
	if (rc == 0 && req->op == NB_CTL_SNAPSHOT && !req->path[0])
		rc = fail(code, NB_CTL_E_BAD_REQUEST, msg, size,
			  "snapshot needs \"path\", the directory to save into");
	json_object_put(o);
	return rc;
}

char *nb_ctl_error_reply(const char *code, const char *msg)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();
	char *line = NULL, text[NB_ERR_MSG_MAX];

	/* msg may quote the caller's bytes (an unknown op or field), cut. */
	snprintf(text, sizeof(text), "%s", msg);
	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(nb_utf8_scrub(text)));
	json_object_object_add(o, "ok", json_object_new_boolean(false));
	json_object_object_add(o, "error", e);
	if (asprintf(&line, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) < 0)
		line = NULL;
	json_object_put(o);
	return line;
}
