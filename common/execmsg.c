#include "common/execmsg.h"

#include <string.h>

#include "common/le.h"

#define REQ_FIXED 12u /* argc, envc, rows, cols, flags */

size_t nb_execmsg_frame(uint8_t type, const void *payload, size_t len, uint8_t *buf)
{
	buf[0] = NB_EXEC_MAGIC;
	buf[1] = type;
	nb_put_le16(buf + 2, (uint16_t)len);
	if (len)
		memcpy(buf + NB_EXEC_HEADER, payload, len);
	return NB_EXEC_HEADER + len;
}

static bool put_str(uint8_t *p, size_t *off, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= NB_EXEC_MAX_STRING || *off + n + 1 > NB_EXEC_MAX_PAYLOAD)
		return false;
	memcpy(p + *off, s, n + 1);
	*off += n + 1;
	return true;
}

static bool winsize_ok(uint16_t rows, uint16_t cols)
{
	if (!rows && !cols)
		return true;
	return rows >= 1 && rows <= NB_WINSIZE_MAX && cols >= 1 && cols <= NB_WINSIZE_MAX;
}

size_t nb_exec_request_encode(const struct nb_exec_request *r, uint8_t *buf, struct nb_err *err)
{
	uint8_t *p = buf + NB_EXEC_HEADER;
	size_t off = REQ_FIXED;

	if (r->argc < 1 || r->argc > NB_EXEC_MAX_ARGS || r->nenv > NB_EXEC_MAX_ENV)
		return nb_err_set(err, 0, "exec: 1..%u arguments and 0..%u environment entries",
				  NB_EXEC_MAX_ARGS, NB_EXEC_MAX_ENV),
		       0;
	if (!winsize_ok(r->rows, r->cols) || (r->flags & ~NB_EXEC_TTY))
		return nb_err_set(err, 0, "exec: bad console size or flags"), 0;
	nb_put_le16(p, (uint16_t)r->argc);
	nb_put_le16(p + 2, (uint16_t)r->nenv);
	nb_put_le16(p + 4, r->rows);
	nb_put_le16(p + 6, r->cols);
	nb_put_le32(p + 8, r->flags);
	bool ok = put_str(p, &off, r->user) && put_str(p, &off, r->cwd);
	for (size_t i = 0; ok && i < r->argc; i++)
		ok = put_str(p, &off, r->argv[i]);
	for (size_t i = 0; ok && i < r->nenv; i++)
		ok = put_str(p, &off, r->env[i]);
	if (!ok)
		return nb_err_set(err, 0,
				  "exec: an empty string, one of %u bytes or more, or more "
				  "than %u bytes in all",
				  NB_EXEC_MAX_STRING, NB_EXEC_MAX_PAYLOAD),
		       0;
	buf[0] = NB_EXEC_MAGIC;
	buf[1] = NB_EXEC_REQUEST;
	nb_put_le16(buf + 2, (uint16_t)off);
	return NB_EXEC_HEADER + off;
}

/* The NUL-terminated string at p[*off..len), 1..NB_EXEC_MAX_STRING-1 bytes. */
static const char *take_str(const uint8_t *p, size_t len, size_t *off)
{
	const uint8_t *end;
	size_t n;

	if (*off >= len)
		return NULL;
	end = memchr(p + *off, 0, len - *off);
	if (!end)
		return NULL;
	n = (size_t)(end - (p + *off));
	if (n == 0 || n >= NB_EXEC_MAX_STRING)
		return NULL;
	*off += n + 1;
	return (const char *)end - n;
}

int nb_exec_request_decode(const uint8_t *p, size_t len, struct nb_exec_request *r,
			   struct nb_err *err)
{
	size_t off = REQ_FIXED;

	memset(r, 0, sizeof(*r));
	if (len < REQ_FIXED || len > NB_EXEC_MAX_PAYLOAD)
		return nb_err_set(err, 0, "exec request: %zu bytes", len);
	r->argc = nb_get_le16(p);
	r->nenv = nb_get_le16(p + 2);
	r->rows = nb_get_le16(p + 4);
	r->cols = nb_get_le16(p + 6);
	r->flags = nb_get_le32(p + 8);
	if (r->argc < 1 || r->argc > NB_EXEC_MAX_ARGS || r->nenv > NB_EXEC_MAX_ENV)
		return nb_err_set(err, 0, "exec request: %zu arguments, %zu environment entries",
				  r->argc, r->nenv);
	if (!winsize_ok(r->rows, r->cols) || (r->flags & ~NB_EXEC_TTY))
		return nb_err_set(err, 0, "exec request: bad window size or flags");
	if (!(r->user = take_str(p, len, &off)) || !(r->cwd = take_str(p, len, &off)))
		return nb_err_set(err, 0, "exec request: no user or working directory");
	if (r->cwd[0] != '/')
		return nb_err_set(err, 0, "exec request: the working directory is not absolute");
	for (size_t i = 0; i < r->argc; i++)
		if (!(r->argv[i] = take_str(p, len, &off)))
			return nb_err_set(err, 0, "exec request: argument %zu is bad", i);
	for (size_t i = 0; i < r->nenv; i++) {
		const char *e = take_str(p, len, &off);

		if (!e || e[0] == '=' || !strchr(e, '='))
			return nb_err_set(err, 0, "exec request: environment entry %zu is bad", i);
		r->env[i] = e;
	}
	if (off != len)
		return nb_err_set(err, 0, "exec request: %zu bytes after the last string",
				  len - off);
	return 0;
}

uint8_t *nb_execmsg_reader_space(struct nb_execmsg_reader *r, size_t *room)
{
	if (r->used) {
		memmove(r->buf, r->buf + r->used, r->len - r->used);
		r->len -= r->used;
		r->used = 0;
	}
	*room = sizeof(r->buf) - r->len;
	return r->buf + r->len;
}

void nb_execmsg_reader_add(struct nb_execmsg_reader *r, size_t n)
{
	size_t room = sizeof(r->buf) - r->len;

	r->len += n < room ? n : room;
}

/* The payload lengths a type allows: [min, max]. */
static bool type_ok(uint8_t type, bool from_guest, size_t *min, size_t *max)
{
	*min = 0;
	*max = NB_EXEC_MAX_PAYLOAD;
	switch (from_guest ? type : type | 0x100) {
	case NB_EXEC_REQUEST | 0x100:
		*min = REQ_FIXED;
		return true;
	case NB_EXEC_STDIN | 0x100:
		return true;
	case NB_EXEC_SIGNAL | 0x100:
	case NB_EXEC_WINSIZE | 0x100:
	case NB_EXEC_EXIT:
		*min = *max = 4;
		return true;
	case NB_EXEC_STARTED:
		*max = 0;
		return true;
	case NB_EXEC_STDOUT:
	case NB_EXEC_STDERR:
		*min = 1;
		return true;
	case NB_EXEC_ERROR:
		*min = 1;
		*max = NB_EXEC_MAX_STRING - 1;
		return true;
	default:
		return false;
	}
}

static int check_value(const struct nb_execmsg *m, bool from_guest, struct nb_err *err)
{
	uint32_t v = m->len == 4 ? nb_get_le32(m->payload) : 0;

	if (from_guest && m->type == NB_EXEC_EXIT && v > 255)
		return nb_err_set(err, 0, "exec: exit status %u", v);
	if (!from_guest && m->type == NB_EXEC_SIGNAL && (v < 1 || v > 64))
		return nb_err_set(err, 0, "exec: signal %u", v);
	if (!from_guest && m->type == NB_EXEC_WINSIZE &&
	    !(winsize_ok((uint16_t)v, (uint16_t)(v >> 16)) && (uint16_t)v))
		return nb_err_set(err, 0, "exec: window size %ux%u", v & 0xffff, v >> 16);
	return 0;
}

int nb_execmsg_next(struct nb_execmsg_reader *r, bool from_guest, struct nb_execmsg *m,
		    struct nb_err *err)
{
	size_t room, plen, min, max;

	nb_execmsg_reader_space(r, &room); /* drops the frame handed out last */
	if (r->len < NB_EXEC_HEADER)
		return 0;
	if (r->buf[0] != NB_EXEC_MAGIC)
		return nb_err_set(err, 0, "exec: byte %#x where a frame should start", r->buf[0]);
	m->type = r->buf[1];
	plen = nb_get_le16(r->buf + 2);
	if (!type_ok(m->type, from_guest, &min, &max) || plen < min || plen > max)
		return nb_err_set(err, 0, "exec: frame type %#x with %zu bytes", m->type, plen);
	if (r->len < NB_EXEC_HEADER + plen)
		return 0;
	m->payload = r->buf + NB_EXEC_HEADER;
	m->len = plen;
	r->used = NB_EXEC_HEADER + plen;
	return check_value(m, from_guest, err) < 0 ? -1 : 1;
}
