/* `nestbox exec` frames (common/execmsg.c): the request's round trip, and
 * hostile streams and requests (bad magic, types, lengths, unterminated or
 * oversized strings, counts beyond the bounds, trailing bytes). */
#include <check.h>
#include <string.h>

#include "common/execmsg.h"
#include "common/le.h"
#include "unit/unit.h"

static struct nb_exec_request sample(void)
{
	struct nb_exec_request r = { .flags = NB_EXEC_TTY,
				     .rows = 24,
				     .cols = 80,
				     .user = "0:0",
				     .cwd = "/",
				     .argc = 2,
				     .nenv = 1 };

	r.argv[0] = "sh";
	r.argv[1] = "-c";
	r.env[0] = "PATH=/bin";
	return r;
}

/* Feed bytes to a reader, return what nb_execmsg_next says. */
static int feed(struct nb_execmsg_reader *rd, const void *p, size_t n, bool from_guest,
		struct nb_execmsg *m)
{
	struct nb_err err;
	size_t room;
	uint8_t *space = nb_execmsg_reader_space(rd, &room);

	ck_assert_uint_ge(room, n);
	memcpy(space, p, n);
	nb_execmsg_reader_add(rd, n);
	return nb_execmsg_next(rd, from_guest, m, &err);
}

START_TEST(request_round_trip)
{
	static uint8_t buf[NB_EXEC_FRAME_MAX];
	static struct nb_execmsg_reader rd;
	struct nb_exec_request in = sample(), out;
	struct nb_execmsg m;
	struct nb_err err;
	size_t len = nb_exec_request_encode(&in, buf, &err);

	ck_assert_uint_gt(len, NB_EXEC_HEADER);
	/* in two pieces: the first is not a whole frame */
	memset(&rd, 0, sizeof(rd));
	ck_assert_int_eq(feed(&rd, buf, 7, false, &m), 0);
	ck_assert_int_eq(feed(&rd, buf + 7, len - 7, false, &m), 1);
	ck_assert_uint_eq(m.type, NB_EXEC_REQUEST);
	ck_assert_int_eq(nb_exec_request_decode(m.payload, m.len, &out, &err), 0);
	ck_assert_uint_eq(out.argc, 2);
	ck_assert_str_eq(out.argv[1], "-c");
	ck_assert_ptr_null(out.argv[2]);
	ck_assert_str_eq(out.env[0], "PATH=/bin");
	ck_assert_str_eq(out.user, "0:0");
	ck_assert_uint_eq(out.rows, 24);
	ck_assert_uint_eq(out.flags, NB_EXEC_TTY);
	/* the guest does not take a request */
	memset(&rd, 0, sizeof(rd));
	ck_assert_int_eq(feed(&rd, buf, len, true, &m), -1);
}
END_TEST

START_TEST(encode_refuses_bounds)
{
	static uint8_t buf[NB_EXEC_FRAME_MAX];
	static char big[NB_EXEC_MAX_STRING + 1];
	struct nb_exec_request r = sample();
	struct nb_err err;

	r.argc = 0;
	ck_assert_uint_eq(nb_exec_request_encode(&r, buf, &err), 0);
	r = sample();
	r.argv[1] = "";
	ck_assert_uint_eq(nb_exec_request_encode(&r, buf, &err), 0);
	memset(big, 'a', NB_EXEC_MAX_STRING);
	r = sample();
	r.argv[1] = big;
	ck_assert_uint_eq(nb_exec_request_encode(&r, buf, &err), 0);
	r = sample();
	r.rows = 0;
	ck_assert_uint_eq(nb_exec_request_encode(&r, buf, &err), 0);
	/* many strings that fit alone, too many bytes together */
	big[2000] = '\0';
	r = sample();
	r.argc = 40;
	for (size_t i = 0; i < r.argc; i++)
		r.argv[i] = big;
	ck_assert_uint_eq(nb_exec_request_encode(&r, buf, &err), 0);
}
END_TEST

static int decode(const void *p, size_t len)
{
	struct nb_exec_request r;
	struct nb_err err;

	return nb_exec_request_decode(p, len, &r, &err);
}

START_TEST(hostile_requests)
{
	static uint8_t p[NB_EXEC_MAX_PAYLOAD + 64];
	static const uint8_t ok_tail[] = "0:0\0/\0sh\0A=b";
	uint8_t fixed[12] = { 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

	memcpy(p, fixed, 12);
	memcpy(p + 12, ok_tail, sizeof(ok_tail));
	ck_assert_int_eq(decode(p, 12 + sizeof(ok_tail)), 0);
	/* unterminated last string */
	ck_assert_int_eq(decode(p, 12 + sizeof(ok_tail) - 1), -1);
	/* a trailing byte */
	ck_assert_int_eq(decode(p, 12 + sizeof(ok_tail) + 1), -1);
	/* too short for its fixed part */
	ck_assert_int_eq(decode(p, 11), -1);
	/* more arguments than strings */
	p[0] = 9;
	ck_assert_int_eq(decode(p, 12 + sizeof(ok_tail)), -1);
	/* counts beyond the bounds */
	nb_put_le16(p, NB_EXEC_MAX_ARGS + 1);
	ck_assert_int_eq(decode(p, 12 + sizeof(ok_tail)), -1);
	nb_put_le16(p, 0);
	ck_assert_int_eq(decode(p, 12 + sizeof(ok_tail)), -1);
	nb_put_le16(p, 1);
	/* unknown flags, half a window size */
	p[8] = 2;
	ck_assert_int_eq(decode(p, 12 + sizeof(ok_tail)), -1);
	p[8] = 0;
	p[4] = 24;
	ck_assert_int_eq(decode(p, 12 + sizeof(ok_tail)), -1);
	p[4] = 0;
	/* a relative cwd, an env entry without '=' */
	p[12 + 4] = 'x';
	ck_assert_int_eq(decode(p, 12 + sizeof(ok_tail)), -1);
	p[12 + 4] = '/';
	p[12 + 10] = '_';
	ck_assert_int_eq(decode(p, 12 + sizeof(ok_tail)), -1);
	p[12 + 10] = '=';
	/* an empty string */
	p[12 + 6] = '\0';
	ck_assert_int_eq(decode(p, 12 + sizeof(ok_tail)), -1);
	/* a string of NB_EXEC_MAX_STRING bytes */
	memset(p + 12, 'u', NB_EXEC_MAX_STRING);
	memcpy(p + 12 + NB_EXEC_MAX_STRING, ok_tail + 3, sizeof(ok_tail) - 3);
	ck_assert_int_eq(decode(p, 12 + NB_EXEC_MAX_STRING + sizeof(ok_tail) - 3), -1);
	/* longer than any payload */
	ck_assert_int_eq(decode(p, NB_EXEC_MAX_PAYLOAD + 1), -1);
}
END_TEST

START_TEST(hostile_frames)
{
	static struct nb_execmsg_reader rd;
	uint8_t f[NB_EXEC_HEADER + 8];
	struct nb_execmsg m;
	uint8_t v[4];

	/* bad magic */
	memset(&rd, 0, sizeof(rd));
	f[0] = 0;
	f[1] = NB_EXEC_STDOUT;
	ck_assert_int_eq(feed(&rd, f, 4, true, &m), -1);
	/* unknown type; a host type from the guest and back */
	memset(&rd, 0, sizeof(rd));
	ck_assert_int_eq(feed(&rd, f, nb_execmsg_frame(0x7f, NULL, 0, f), true, &m), -1);
	memset(&rd, 0, sizeof(rd));
	ck_assert_int_eq(feed(&rd, f, nb_execmsg_frame(NB_EXEC_STDIN, "x", 1, f), true, &m), -1);
	memset(&rd, 0, sizeof(rd));
	ck_assert_int_eq(feed(&rd, f, nb_execmsg_frame(NB_EXEC_EXIT, v, 4, f), false, &m), -1);
	/* a length the type does not allow, a claimed length beyond the bound */
	memset(&rd, 0, sizeof(rd));
	ck_assert_int_eq(feed(&rd, f, nb_execmsg_frame(NB_EXEC_STARTED, "x", 1, f), true, &m), -1);
	memset(&rd, 0, sizeof(rd));
	ck_assert_int_eq(feed(&rd, f, nb_execmsg_frame(NB_EXEC_STDOUT, NULL, 0, f), true, &m), -1);
	f[0] = NB_EXEC_MAGIC;
	f[1] = NB_EXEC_STDOUT;
	nb_put_le16(f + 2, NB_EXEC_MAX_PAYLOAD + 1);
	memset(&rd, 0, sizeof(rd));
	ck_assert_int_eq(feed(&rd, f, 4, true, &m), -1);
	/* values: exit status, signal, window size */
	nb_put_le32(v, 256);
	memset(&rd, 0, sizeof(rd));
	ck_assert_int_eq(feed(&rd, f, nb_execmsg_frame(NB_EXEC_EXIT, v, 4, f), true, &m), -1);
	nb_put_le32(v, 137);
	memset(&rd, 0, sizeof(rd));
	ck_assert_int_eq(feed(&rd, f, nb_execmsg_frame(NB_EXEC_EXIT, v, 4, f), true, &m), 1);
	ck_assert_uint_eq(nb_get_le32(m.payload), 137);
	nb_put_le32(v, 65);
	memset(&rd, 0, sizeof(rd));
	ck_assert_int_eq(feed(&rd, f, nb_execmsg_frame(NB_EXEC_SIGNAL, v, 4, f), false, &m), -1);
	nb_put_le32(v, 0);
	memset(&rd, 0, sizeof(rd));
	ck_assert_int_eq(feed(&rd, f, nb_execmsg_frame(NB_EXEC_WINSIZE, v, 4, f), false, &m), -1);
	/* two frames in one read come out one by one; an empty STDIN is EOF */
	memset(&rd, 0, sizeof(rd));
	size_t n = nb_execmsg_frame(NB_EXEC_STDIN, "ab", 2, f);
	n += nb_execmsg_frame(NB_EXEC_STDIN, NULL, 0, f + n);
	ck_assert_int_eq(feed(&rd, f, n, false, &m), 1);
	ck_assert_uint_eq(m.len, 2);
	ck_assert_int_eq(memcmp(m.payload, "ab", 2), 0);
	ck_assert_int_eq(nb_execmsg_next(&rd, false, &m, &(struct nb_err){ 0 }), 1);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_int_eq(nb_execmsg_next(&rd, false, &m, &(struct nb_err){ 0 }), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("execmsg");
	TCase *tc = tcase_create("execmsg");

	tcase_add_test(tc, request_round_trip);
	tcase_add_test(tc, encode_refuses_bounds);
	tcase_add_test(tc, hostile_requests);
	tcase_add_test(tc, hostile_frames);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
