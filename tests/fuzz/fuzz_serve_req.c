/* libFuzzer: `nestbox serve`'s request parser (vmm/cli/serve_req.h) on
 * what a caller writes to the server's socket, whole, as the worker reads
 * it (vmm/cli/serve.c: up to the first chunk with a newline, at most
 * NB_SERVE_REQ_MAX bytes). Whatever the bytes, a request it accepts is one
 * the server may run: argv of 1..NB_SERVE_MAX_ARGS non-empty strings and
 * env of at most NB_SERVE_MAX_ENV "NAME=value" strings, each at most
 * NB_SERVE_MAX_STR bytes and NULL-terminated; stdin no longer than the
 * request; timeout and max_output in range. Written back as a request
 * (stdin as base64), it parses to the same. A refusal leaves a message
 * and the request empty; no descriptor is left open, nothing leaks.
 *
 * Covers: vmm/cli/serve_req.c */
#include <nettle/base64.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "images/json.h"
#include "vmm/cli/fn.h"
#include "vmm/cli/serve_req.h"

/* A NULL-terminated vector of n bounded strings, or NULL (n 0). */
static void check_strv(char *const *v, size_t n, size_t max, const char *what)
{
	FZ_CHECK(n <= max && (v || n == 0), "%s: %zu entries", what, n);
	for (size_t i = 0; i < n; i++)
		FZ_CHECK(v[i] && strnlen(v[i], NB_SERVE_MAX_STR + 1) <= NB_SERVE_MAX_STR,
			 "%s[%zu] too long", what, i);
	FZ_CHECK(!v || !v[n], "%s not NULL-terminated", what);
}

static void check_request(const struct nb_serve_req *r, size_t size)
{
	check_strv(r->argv, r->argc, NB_SERVE_MAX_ARGS, "argv");
	check_strv(r->env, r->nenv, NB_SERVE_MAX_ENV, "env");
	FZ_CHECK(r->argc >= 1, "no argv");
	for (size_t i = 0; i < r->argc; i++)
		FZ_CHECK(r->argv[i][0], "argv[%zu] empty", i);
	for (size_t i = 0; i < r->nenv; i++)
		FZ_CHECK(r->env[i][0] != '=' && strchr(r->env[i], '='), "env[%zu] \"%.64s\"", i,
			 r->env[i]);
	FZ_CHECK(r->input_len <= size && (r->input || !r->input_len), "stdin of %zu bytes",
		 r->input_len);
	FZ_CHECK(r->timeout_sec <= NB_SERVE_MAX_TIMEOUT, "timeout %u", r->timeout_sec);
	FZ_CHECK(r->has_max_output ? r->max_output <= NB_FN_MAX_OUTPUT : r->max_output == 0,
		 "max_output %llu", (unsigned long long)r->max_output);
}

static json_object *strv_json(char *const *v, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static bool same_strv(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

/* r as a caller would write it, with stdin in base64, parsed again. */
static void check_again(const struct nb_serve_req *r)
{
	json_object *o = json_object_new_object();
	struct nb_serve_req again;
	struct nb_err err;
	const char *text;
	char *b64 = NULL;

	FZ_CHECK(o, "out of memory");
	json_object_object_add(o, "argv", strv_json(r->argv, r->argc));
	if (r->env)
		json_object_object_add(o, "env", strv_json(r->env, r->nenv));
	if (r->input) {
		b64 = malloc(BASE64_ENCODE_RAW_LENGTH(r->input_len) + 1);
		FZ_CHECK(b64, "out of memory");
		base64_encode_raw(b64, r->input_len, r->input);
		b64[BASE64_ENCODE_RAW_LENGTH(r->input_len)] = '\0';
		json_object_object_add(o, "stdin_base64", json_object_new_string(b64));
	}
	if (r->timeout_sec)
		json_object_object_add(o, "timeout", json_object_new_int64(r->timeout_sec));
	if (r->has_max_output)
		json_object_object_add(o, "max_output",
				       json_object_new_int64((int64_t)r->max_output));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	FZ_CHECK(nb_serve_req_parse(text, strlen(text), &again, &err) == 0, "%.200s refused: %s",
		 text, err.msg);
	FZ_CHECK(same_strv(r->argv, r->argc, again.argv, again.argc) &&
			 same_strv(r->env, r->nenv, again.env, again.nenv) &&
			 !r->input == !again.input && r->input_len == again.input_len &&
			 (!r->input_len || !memcmp(r->input, again.input, r->input_len)) &&
			 r->timeout_sec == again.timeout_sec &&
			 r->has_max_output == again.has_max_output &&
			 r->max_output == again.max_output,
		 "%.200s read back differently", text);
	nb_serve_req_free(&again);
	json_object_put(o);
	free(b64);
}

static bool empty(const struct nb_serve_req *r)
{
	return !r->argv && !r->argc && !r->env && !r->nenv && !r->input && !r->input_len &&
	       !r->timeout_sec && !r->max_output && !r->has_max_output;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nb_serve_req req;
	struct nb_err err = { 0 };
	int fd = fz_lowest_fd();
	char *text;

	if (size > NB_SERVE_REQ_MAX + 4096)
		return 0; /* read_request stops there */
	text = fz_copy(data, size);
	if (nb_serve_req_parse(text, size, &req, &err) == 0) {
		check_request(&req, size);
		check_again(&req);
		nb_serve_req_free(&req);
		FZ_CHECK(empty(&req), "free left the request set");
	} else {
		FZ_CHECK(err.msg[0], "a refusal without a message");
		FZ_CHECK(empty(&req), "a refused request holds something");
	}
	free(text);
	FZ_CHECK(fz_lowest_fd() == fd, "a descriptor left open");
	return 0;
}
