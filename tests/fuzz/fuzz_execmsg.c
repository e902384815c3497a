/* libFuzzer: the `nestbox exec` stream (common/execmsg.h) as each side
 * reads the other's: the host the guest's (nestbox-init is the guest's,
 * hostile), nestbox-init the host client's. The first byte picks the side
 * and how the rest arrives: in reads of 1..64 bytes or as large as the
 * reader has room for. Whatever the bytes: a frame handed out has a type
 * that side may receive and a length within that type's bounds, lies in
 * the reader's buffer and in what was sent; EXIT's status is 0..255, a
 * signal 1..64; a reader that wants more bytes always has room for them (a
 * stream never wedges it); a refusal leaves a message and ends the
 * stream. A request the guest decodes has 1..NB_EXEC_MAX_ARGS arguments
 * and at most NB_EXEC_MAX_ENV NAME=value entries, each string non-empty,
 * shorter than NB_EXEC_MAX_STRING and inside the frame, an absolute cwd;
 * encoded again it is the same bytes.
 *
 * Covers: common/execmsg.c */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/execmsg.h"
#include "common/le.h"
#include "fuzz_check.h"

static void check_str(const char *s, const struct nb_execmsg *m, const char *what, size_t i)
{
	const uint8_t *p = (const uint8_t *)s;

	FZ_CHECK(s && p >= m->payload && p < m->payload + m->len, "%s %zu outside the frame", what,
		 i);
	size_t n = strnlen(s, (size_t)(m->payload + m->len - p));

	FZ_CHECK(n >= 1 && n < NB_EXEC_MAX_STRING && p + n < m->payload + m->len,
		 "%s %zu: %zu bytes, or not NUL-terminated in the frame", what, i, n);
}

static void check_request(const struct nb_execmsg *m)
{
	static uint8_t again[NB_EXEC_FRAME_MAX];
	struct nb_exec_request r;
	struct nb_err err = { 0 };

	if (nb_exec_request_decode(m->payload, m->len, &r, &err) < 0) {
		FZ_CHECK(err.msg[0], "a refused request without a message");
		return;
	}
	FZ_CHECK(r.argc >= 1 && r.argc <= NB_EXEC_MAX_ARGS && r.nenv <= NB_EXEC_MAX_ENV,
		 "%zu arguments, %zu entries", r.argc, r.nenv);
	FZ_CHECK(!r.argv[r.argc] && !r.env[r.nenv], "vectors not NULL-terminated");
	FZ_CHECK(!(r.flags & ~NB_EXEC_TTY), "flags %#x", r.flags);
	FZ_CHECK((!r.rows && !r.cols) || (r.rows >= 1 && r.rows <= NB_WINSIZE_MAX && r.cols >= 1 &&
					  r.cols <= NB_WINSIZE_MAX),
		 "window %ux%u", r.rows, r.cols);
	check_str(r.user, m, "user", 0);
	check_str(r.cwd, m, "cwd", 0);
	FZ_CHECK(r.cwd[0] == '/', "cwd \"%.64s\"", r.cwd);
	for (size_t i = 0; i < r.argc; i++)
		check_str(r.argv[i], m, "argument", i);
	for (size_t i = 0; i < r.nenv; i++) {
		check_str(r.env[i], m, "environment entry", i);
		FZ_CHECK(r.env[i][0] != '=' && strchr(r.env[i], '='), "env %zu \"%.64s\"", i,
			 r.env[i]);
	}
	size_t n = nb_exec_request_encode(&r, again, &err);

	FZ_CHECK(n == NB_EXEC_HEADER + m->len &&
			 !memcmp(again + NB_EXEC_HEADER, m->payload, m->len),
		 "encoded again: %zu bytes for a frame of %zu (%s)", n, m->len, err.msg);
}

static void check_frame(const struct nb_execmsg_reader *rd, const struct nb_execmsg *m,
			bool from_guest)
{
	uint32_t v = m->len == 4 ? nb_get_le32(m->payload) : 0;

	FZ_CHECK(m->len <= NB_EXEC_MAX_PAYLOAD && m->payload >= rd->buf + NB_EXEC_HEADER &&
			 m->payload + m->len <= rd->buf + rd->len,
		 "type %#x: %zu bytes outside the reader", m->type, m->len);
	if (from_guest) {
		switch (m->type) {
		case NB_EXEC_STARTED:
			FZ_CHECK(m->len == 0, "STARTED of %zu bytes", m->len);
			return;
		case NB_EXEC_STDOUT:
		case NB_EXEC_STDERR:
			FZ_CHECK(m->len >= 1, "empty output");
			return;
		case NB_EXEC_ERROR:
			FZ_CHECK(m->len >= 1 && m->len < NB_EXEC_MAX_STRING, "ERROR of %zu",
				 m->len);
			return;
		case NB_EXEC_EXIT:
			FZ_CHECK(m->len == 4 && v <= 255, "EXIT %u (%zu bytes)", v, m->len);
			return;
		}
	} else {
		switch (m->type) {
		case NB_EXEC_REQUEST:
			check_request(m);
			return;
		case NB_EXEC_STDIN:
			return;
		case NB_EXEC_SIGNAL:
			FZ_CHECK(m->len == 4 && v >= 1 && v <= 64, "SIGNAL %u", v);
			return;
		case NB_EXEC_WINSIZE:
			FZ_CHECK(m->len == 4 && (v & 0xffff) >= 1 &&
					 (v & 0xffff) <= NB_WINSIZE_MAX && (v >> 16) >= 1 &&
					 (v >> 16) <= NB_WINSIZE_MAX,
				 "WINSIZE %ux%u", v & 0xffff, v >> 16);
			return;
		}
	}
	FZ_CHECK(false, "type %#x handed to the %s", m->type, from_guest ? "host" : "guest");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nb_execmsg_reader rd;
	const bool from_guest = size && (data[0] & 1);
	const bool small_reads = size && (data[0] & 2);
	size_t off = size ? 1 : 0, framed = 0;

	memset(&rd, 0, sizeof(rd));
	for (;;) {
		struct nb_execmsg m;
		struct nb_err err = { 0 };
		int rc = nb_execmsg_next(&rd, from_guest, &m, &err);

		if (rc < 0) {
			FZ_CHECK(err.msg[0], "a broken stream without a message");
			return 0;
		}
		if (rc == 1) {
			check_frame(&rd, &m, from_guest);
			framed += NB_EXEC_HEADER + m.len;
			FZ_CHECK(framed <= size - 1, "%zu bytes of frames from %zu sent", framed,
				 size - 1);
			continue;
		}
		size_t room;
		uint8_t *space = nb_execmsg_reader_space(&rd, &room);

		FZ_CHECK(room > 0, "the reader wants more bytes but has no room (%zu held)",
			 rd.len);
		if (off == size)
			return 0;
		size_t n = size - off;

		if (small_reads)
			n = 1 + data[off] % 64 < n ? 1 + data[off] % 64 : n;
		n = n < room ? n : room;
		memcpy(space, data + off, n);
		nb_execmsg_reader_add(&rd, n);
		off += n;
	}
}
