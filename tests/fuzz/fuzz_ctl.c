/* libFuzzer: the control API's request parser (vmm/run/ctl_proto.h) on
 * what a client writes to a detached VM's control.sock, cut into lines at
 * each newline and handed over as the monitor does (vmm/run/monitor.c:
 * no newline, a message buffer of NB_ERR_MSG_MAX bytes). Whatever the
 * bytes, a request it accepts is one the monitor may act on: a known op;
 * stop's timeout 0..86400, kill's signal 1..SIGRTMAX, update's memory in
 * range and 4 KiB-aligned, snapshot's path absolute, at most
 * NB_CTL_PATH_MAX bytes, printable, with no "." or ".." component; every
 * field the op does not take at its default. Written back as the request
 * it is, it parses to the same. A refusal carries one of the documented
 * codes ("too_long" exactly when the line is over NB_CTL_LINE_MAX) and a
 * message, which nb_ctl_error_reply() makes one JSON line that reads back
 * the same code and message.
 *
 * Covers: vmm/run/ctl_proto.c */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/parse.h"
#include "fuzz_check.h"
#include "images/json.h"
#include "nestbox/abi.h"
#include "vmm/run/ctl_proto.h"
#include "vmm/run/resources.h"

/* Absolute, bounded, no control character, no "." or ".." component. */
static void check_path(const char *p)
{
	size_t len = strnlen(p, NB_CTL_PATH_MAX + 1);

	FZ_CHECK(len >= 1 && len <= NB_CTL_PATH_MAX && p[0] == '/', "path \"%.64s\"", p);
	for (size_t i = 0; i < len; i++)
		FZ_CHECK((unsigned char)p[i] >= 0x20 && p[i] != 0x7f, "control byte in \"%.64s\"",
			 p);
	for (const char *c = p; *c; c++)
		if (c[0] == '/' && c[1] == '.')
			FZ_CHECK(!(c[2] == '/' || c[2] == '\0' ||
				   (c[2] == '.' && (c[3] == '/' || c[3] == '\0'))),
				 ". or .. in \"%.64s\"", p);
}

static void check_request(const struct nb_ctl_request *r)
{
	FZ_CHECK(r->op <= NB_CTL_SNAPSHOT && nb_ctl_op_name(r->op), "op %d", (int)r->op);
	FZ_CHECK(r->timeout >= 0 && r->timeout <= NB_CTL_MAX_TIMEOUT, "timeout %d", r->timeout);
	FZ_CHECK(r->op == NB_CTL_STOP || r->timeout == 10, "timeout %d for %s", r->timeout,
		 nb_ctl_op_name(r->op));
	FZ_CHECK(r->signal >= 1 && r->signal <= SIGRTMAX, "signal %d", r->signal);
	FZ_CHECK(r->op == NB_CTL_KILL || r->signal == SIGKILL, "signal %d for %s", r->signal,
		 nb_ctl_op_name(r->op));
	if (r->op == NB_CTL_UPDATE)
		FZ_CHECK(r->memory >= NB_MEMORY_MIN && r->memory <= NB_SIGMSG_MEMORY_MAX &&
				 r->memory % 4096 == 0,
			 "memory %llu", (unsigned long long)r->memory);
	else
		FZ_CHECK(r->memory == 0, "memory for %s", nb_ctl_op_name(r->op));
	if (r->op == NB_CTL_SNAPSHOT)
		check_path(r->path);
	else
		FZ_CHECK(r->path[0] == '\0', "path for %s", nb_ctl_op_name(r->op));
}

/* The request r is, as a client would write it, parsed again. */
static void check_again(const struct nb_ctl_request *r)
{
	json_object *o = json_object_new_object();
	struct nb_ctl_request again;
	char msg[NB_ERR_MSG_MAX];
	const char *code, *line;

	FZ_CHECK(o, "out of memory");
	json_object_object_add(o, "op", json_object_new_string(nb_ctl_op_name(r->op)));
	if (r->op == NB_CTL_STOP)
		json_object_object_add(o, "timeout", json_object_new_int(r->timeout));
	if (r->op == NB_CTL_KILL)
		json_object_object_add(o, "signal", json_object_new_int(r->signal));
	if (r->op == NB_CTL_UPDATE)
		json_object_object_add(o, "memory", json_object_new_int64((int64_t)r->memory));
	if (r->op == NB_CTL_SNAPSHOT)
		json_object_object_add(o, "path", json_object_new_string(r->path));
	line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	FZ_CHECK(nb_ctl_parse(line, strlen(line), &again, &code, msg, sizeof(msg)) == 0,
		 "%s refused: %s", line, msg);
	FZ_CHECK(again.op == r->op && again.timeout == r->timeout && again.signal == r->signal &&
			 again.memory == r->memory && strcmp(again.path, r->path) == 0,
		 "%s read back differently", line);
	json_object_put(o);
}

/* The error reply: one line of well-formed UTF-8, that JSON reads back as
 * code and msg (scrubbed: the caller's bytes echoed, or a name cut). */
static void check_reply(const char *code, const char *msg)
{
	char *line = nb_ctl_error_reply(code, msg), want[NB_ERR_MSG_MAX];
	json_object *o, *e, *v;
	struct nb_err err;
	size_t len;

	snprintf(want, sizeof(want), "%s", msg);
	nb_utf8_scrub(want);
	FZ_CHECK(line, "no reply");
	FZ_CHECK(nb_utf8_valid(line, strlen(line)), "not UTF-8: %s", line);
	len = strlen(line);
	FZ_CHECK(len > 1 && line[len - 1] == '\n' && !memchr(line, '\n', len - 1),
		 "not one line: %s", line);
	o = nb_json_parse(line, len - 1, "reply", &err);
	FZ_CHECK(o, "%s: %s", line, err.msg);
	FZ_CHECK(json_object_object_get_ex(o, "ok", &v) && !json_object_get_boolean(v) &&
			 json_object_object_get_ex(o, "error", &e) &&
			 json_object_object_get_ex(e, "code", &v) &&
			 strcmp(json_object_get_string(v), code) == 0 &&
			 json_object_object_get_ex(e, "message", &v) &&
			 strcmp(json_object_get_string(v), want) == 0,
		 "reply %s", line);
	json_object_put(o);
	free(line);
}

static void one_line(const char *line, size_t len)
{
	struct nb_ctl_request req;
	char msg[NB_ERR_MSG_MAX];
	const char *code = NULL;

	memset(msg, 0, sizeof(msg));
	if (nb_ctl_parse(line, len, &req, &code, msg, sizeof(msg)) == 0) {
		check_request(&req);
		check_again(&req);
		return;
	}
	FZ_CHECK(code && (strcmp(code, NB_CTL_E_BAD_REQUEST) == 0 ||
			  strcmp(code, NB_CTL_E_TOO_LONG) == 0 ||
			  strcmp(code, NB_CTL_E_UNKNOWN_OP) == 0),
		 "code %s", code ? code : "(none)");
	FZ_CHECK((strcmp(code, NB_CTL_E_TOO_LONG) == 0) == (len > NB_CTL_LINE_MAX),
		 "%s for a line of %zu bytes", code, len);
	FZ_CHECK(msg[0] && memchr(msg, '\0', sizeof(msg)), "no message");
	check_reply(code, msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *nl;
	int fd = fz_lowest_fd();
	char *line;

	/* the monitor's buffer holds the line; a copy shows reads past it */
	while (size) {
		size_t len = (nl = memchr(text, '\n', size)) ? (size_t)(nl - text) : size;

		line = fz_copy((const uint8_t *)text, len);
		one_line(line, len);
		free(line);
		text += len + (nl != NULL);
		size -= len + (nl != NULL);
	}
	FZ_CHECK(fz_lowest_fd() == fd, "a descriptor left open");
	return 0;
}
