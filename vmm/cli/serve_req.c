/* `nestbox serve`'s request parser (vmm/cli/serve_req.h). */
#include "vmm/cli/serve_req.h"

#include <errno.h>
#include <nettle/base64.h>
#include <stdlib.h>
#include <string.h>

#include "images/json.h"
#include "vmm/cli/fn.h"

static const char *const known[] = {
	"argv", "env", "stdin", "stdin_base64", "timeout", "max_output"
};

static int check_fields(struct json_object *o, struct nb_err *err)
{
	json_object_object_foreach(o, key, val) {
		size_t i = 0;

		(void)val;
		while (i < sizeof(known) / sizeof(known[0]) && strcmp(key, known[i]))
			i++;
		if (i == sizeof(known) / sizeof(known[0]))
			return nb_err_set(err, 0, "unknown field \"%.64s\"", key);
	}
	return 0;
}

static int parse_env(struct nb_serve_req *req, struct json_object *o, struct nb_err *err)
{
	if (nb_json_strv(o, "env", NB_SERVE_MAX_ENV, NB_SERVE_MAX_STR, &req->env, err) < 0)
		return -1;
	req->nenv = nb_strv_len(req->env);
	for (size_t i = 0; i < req->nenv; i++) {
		const char *eq = strchr(req->env[i], '=');

		if (!eq || eq == req->env[i])
			return nb_err_set(err, 0, "field \"env\"[%zu] is not NAME=value", i);
	}
	return 0;
}

static int parse_input(struct nb_serve_req *req, struct json_object *o, struct nb_err *err)
{
	const char *text = NULL, *b64 = NULL;
	struct base64_decode_ctx ctx;
	size_t len;

	if (nb_json_str(o, "stdin", false, NB_SERVE_REQ_MAX, &text, err) < 0 ||
	    nb_json_str(o, "stdin_base64", false, NB_SERVE_REQ_MAX, &b64, err) < 0)
		return -1;
	if (text && b64)
		return nb_err_set(err, 0, "give \"stdin\" or \"stdin_base64\", not both");
	if (text) {
		len = strlen(text);
		req->input = malloc(len + 1);
		if (!req->input)
			return nb_err_set(err, ENOMEM, "field \"stdin\"");
		memcpy(req->input, text, len);
		req->input_len = len;
	} else if (b64) {
		len = strlen(b64);
		req->input = malloc(BASE64_DECODE_LENGTH(len) + 1);
		if (!req->input)
			return nb_err_set(err, ENOMEM, "field \"stdin_base64\"");
		base64_decode_init(&ctx);
		req->input_len = BASE64_DECODE_LENGTH(len);
		if (!base64_decode_update(&ctx, &req->input_len, req->input, len, b64) ||
		    !base64_decode_final(&ctx))
			return nb_err_set(err, 0, "field \"stdin_base64\" is not base64");
	}
	return 0;
}

static int parse_numbers(struct nb_serve_req *req, struct json_object *o, struct nb_err *err)
{
	int64_t timeout = 0, max = -1;

	if (nb_json_int(o, "timeout", false, &timeout, err) < 0 ||
	    nb_json_int(o, "max_output", false, &max, err) < 0)
		return -1;
	if (json_object_object_get_ex(o, "timeout", NULL) &&
	    (timeout < 1 || timeout > NB_SERVE_MAX_TIMEOUT))
		return nb_err_set(err, 0, "field \"timeout\" must be 1..%u seconds",
				  NB_SERVE_MAX_TIMEOUT);
	if (json_object_object_get_ex(o, "max_output", NULL) && (max < 0 || max > NB_FN_MAX_OUTPUT))
		return nb_err_set(err, 0, "field \"max_output\" must be 0..%u bytes",
				  NB_FN_MAX_OUTPUT);
	req->timeout_sec = (unsigned)timeout;
	req->has_max_output = max >= 0;
	req->max_output = max >= 0 ? (uint64_t)max : 0;
	return 0;
}

int nb_serve_req_parse(const char *text, size_t len, struct nb_serve_req *req, struct nb_err *err)
{
	struct json_object *o;
	int rc = -1;

	*req = (struct nb_serve_req){ 0 };
	if (len > NB_SERVE_REQ_MAX)
		return nb_err_set(err, 0, "the request is longer than %u bytes", NB_SERVE_REQ_MAX);
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	o = nb_json_parse(text, len, "request", err);
	if (!o)
		return -1;
	if (!json_object_is_type(o, json_type_object))
		nb_err_set(err, 0, "the request is not a JSON object");
	else if (check_fields(o, err) == 0 &&
		 nb_json_strv(o, "argv", NB_SERVE_MAX_ARGS, NB_SERVE_MAX_STR, &req->argv, err) ==
			 0 &&
		 parse_env(req, o, err) == 0 && parse_input(req, o, err) == 0 &&
		 parse_numbers(req, o, err) == 0)
		rc = 0;
	json_object_put(o);
	req->argc = nb_strv_len(req->argv);
	if (rc == 0 && req->argc == 0)
		rc = nb_err_set(err, 0,
				"field \"argv\" is required: the command and its arguments");
	for (size_t i = 0; rc == 0 && i < req->argc; i++)
		if (!req->argv[i][0])
			rc = nb_err_set(err, 0, "field \"argv\"[%zu] is empty", i);
	if (rc < 0)
		nb_serve_req_free(req);
	return rc;
}

void nb_serve_req_free(struct nb_serve_req *req)
{
	nb_strv_free(req->argv);
	nb_strv_free(req->env);
	free(req->input);
	*req = (struct nb_serve_req){ 0 };
}
