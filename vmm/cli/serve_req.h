/* `nestbox serve`'s request (README, "nestbox serve"): one JSON object
 * per connection, from a client that may be hostile. Parsed with bounds
 * on every field; unknown fields, wrong types and out-of-range values are
 * refused with a message naming the field. */
#ifndef NESTBOX_VMM_CLI_SERVE_REQ_H
#define NESTBOX_VMM_CLI_SERVE_REQ_H

#include <stddef.h>
#include <stdint.h>

#include "nestbox/err.h"

#define NB_SERVE_REQ_MAX (8u << 20) /* bytes of one request */
#define NB_SERVE_MAX_ARGS 256u
#define NB_SERVE_MAX_ENV 256u
#define NB_SERVE_MAX_STR 65536u    /* bytes of one argv or env entry */
#define NB_SERVE_MAX_TIMEOUT 3600u /* seconds */

struct nb_serve_req {
	char **argv; /* NULL-terminated, argc >= 1 entries, none empty */
	size_t argc;
	char **env; /* NULL-terminated "NAME=value" (NAME not empty), or NULL */
	size_t nenv;
	uint8_t *input; /* the workload's stdin ("stdin" or "stdin_base64"), or NULL */
	size_t input_len;
	unsigned timeout_sec; /* 0: the server's default */
	uint64_t max_output;  /* with has_max_output */
	int has_max_output;
};

/* Parse len bytes of text (one JSON object, trailing whitespace allowed)
 * into req; on failure req holds nothing. */
int nb_serve_req_parse(const char *text, size_t len, struct nb_serve_req *req, struct nb_err *err);
void nb_serve_req_free(struct nb_serve_req *req);

#endif
