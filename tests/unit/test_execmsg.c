/* `nestbox exec` frames (common/execmsg.c): the request's round trip, and
 * hostile streams and requests (bad magic, types, lengths, unterminated or
 * oversized strings, counts beyond the bounds, trailing bytes). */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/execmsg.h"
#include "common/file.h"
#include "common/le.h"
#include "unit/unit.h"
#include "vmm/run/oci_exec.h"

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

/* A fake nestbox-init on the other end of a socketpair: it takes the
 * request, says STARTED, sends back every STDIN byte as STDOUT and, at
 * the input's end, a line on STDERR and EXIT 3. */
static void *fake_guest(void *arg)
{
	static struct nb_execmsg_reader rd;
	static uint8_t out[NB_EXEC_FRAME_MAX];
	int fd = *(int *)arg;
	struct nb_execmsg m;
	struct nb_err err;
	uint8_t v[4];
	bool requested = false;

	memset(&rd, 0, sizeof(rd));
	for (;;) {
		size_t room;
		uint8_t *space = nb_execmsg_reader_space(&rd, &room);
		ssize_t n = read(fd, space, room);
		int rc;

		if (n <= 0)
			return NULL;
		nb_execmsg_reader_add(&rd, (size_t)n);
		while ((rc = nb_execmsg_next(&rd, false, &m, &err)) > 0) {
			if (m.type == NB_EXEC_REQUEST && !requested) {
				requested = true;
				ck_assert_int_eq(write(fd, out,
						       nb_execmsg_frame(NB_EXEC_STARTED, NULL, 0,
									out)),
						 4);
			} else if (m.type == NB_EXEC_STDIN && m.len) {
				size_t len = nb_execmsg_frame(NB_EXEC_STDOUT, m.payload, m.len,
							      out);
				ck_assert_int_eq(write(fd, out, len), (ssize_t)len);
			} else if (m.type == NB_EXEC_STDIN) {
				size_t len = nb_execmsg_frame(NB_EXEC_STDERR, "bye\n", 4, out);
				nb_put_le32(v, 3);
				len += nb_execmsg_frame(NB_EXEC_EXIT, v, 4, out + len);
				ck_assert_int_eq(write(fd, out, len), (ssize_t)len);
			}
		}
		ck_assert_int_eq(rc, 0);
	}
}

/* The host's relay (vmm/run/oci_exec.c): stdin in frames and its end,
 * output to the right descriptors, STARTED reported, the status. */
START_TEST(host_relay)
{
	struct nb_exec_request r = sample();
	int sv[2], in[2], out[2], errp[2], started[2], status = -1;
	struct nb_err err;
	pthread_t t;
	char buf[64] = { 0 };

	r.flags = 0;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(pipe(errp), 0);
	ck_assert_int_eq(pipe(started), 0);
	ck_assert_int_eq(write(in[1], "piped\n", 6), 6);
	close(in[1]);
	pthread_create(&t, NULL, fake_guest, &sv[1]);
	struct nb_oci_exec_io io = { .in = in[0],
				     .out = out[1],
				     .err = errp[1],
				     .started_fd = started[1],
				     .signal_fd = -1 };
	ck_assert_int_eq(nb_oci_exec_run(sv[0], &r, &io, &status, &err), 0);
	ck_assert_int_eq(status, 3);
	close(sv[0]);
	pthread_join(t, NULL);
	close(sv[1]);
	ck_assert_int_eq(read(out[0], buf, sizeof(buf)), 6);
	ck_assert_str_eq(buf, "piped\n");
	ck_assert_int_eq(read(errp[0], buf, sizeof(buf)), 4);
	ck_assert_int_eq(read(started[0], buf, 1), 1);
	ck_assert_int_eq(buf[0], 's');
}
END_TEST

/* A fake nestbox-init whose process never reads its stdin: past the
 * request it reads nothing more, and sends STARTED, BIG bytes of STDOUT,
 * a line of STDERR and EXIT 3 (blocking: the host must keep reading). */
#define BIG (1u << 20)
static void *deaf_guest(void *arg)
{
	static uint8_t out[NB_EXEC_FRAME_MAX], data[8192];
	int fd = *(int *)arg;
	uint8_t hdr[NB_EXEC_HEADER], v[4];
	size_t len;

	/* the request: its header, then its payload */
	ck_assert_int_eq(read(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	len = nb_get_le16(hdr + 2);
	ck_assert_int_eq(recv(fd, out, len, MSG_WAITALL), (ssize_t)len);
	len = nb_execmsg_frame(NB_EXEC_STARTED, NULL, 0, out);
	ck_assert_int_eq(nb_write_all(fd, out, len), 0);
	for (size_t i = 0; i < BIG / sizeof(data); i++) {
		memset(data, 'a' + (int)(i % 26), sizeof(data));
		len = nb_execmsg_frame(NB_EXEC_STDOUT, data, sizeof(data), out);
		ck_assert_int_eq(nb_write_all(fd, out, len), 0);
	}
	len = nb_execmsg_frame(NB_EXEC_STDERR, "bye\n", 4, out);
	nb_put_le32(v, 3);
	len += nb_execmsg_frame(NB_EXEC_EXIT, v, 4, out + len);
	ck_assert_int_eq(nb_write_all(fd, out, len), 0);
	return NULL;
}

/* Endless stdin (`yes | nestbox exec ID true`) for a process that never
 * reads it: the host backs off its stdin, and every output byte and the
 * status still arrive (before: a blocking send stalled both ends). */
START_TEST(host_relay_deaf_stdin)
{
	static uint8_t got[BIG];
	struct nb_exec_request r = sample();
	int sv[2], status = -1;
	int in = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	int out = memfd_create("out", MFD_CLOEXEC), errf = memfd_create("err", MFD_CLOEXEC);
	struct nb_err err;
	pthread_t t;
	char buf[8];

	r.flags = 0;
	ck_assert_int_ge(in, 0);
	ck_assert_int_ge(out, 0);
	ck_assert_int_ge(errf, 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pthread_create(&t, NULL, deaf_guest, &sv[1]);
	struct nb_oci_exec_io io = {
		.in = in, .out = out, .err = errf, .started_fd = -1, .signal_fd = -1
	};
	ck_assert_int_eq(nb_oci_exec_run(sv[0], &r, &io, &status, &err), 0);
	ck_assert_int_eq(status, 3);
	pthread_join(t, NULL);
	ck_assert_int_eq(pread(out, got, sizeof(got), 0), (ssize_t)BIG);
	for (size_t i = 0; i < BIG; i += 8192) {
		uint8_t want[8192];

		memset(want, 'a' + (int)(i / 8192 % 26), sizeof(want));
		ck_assert_int_eq(memcmp(got + i, want, sizeof(want)), 0);
	}
	ck_assert_int_eq(pread(out, buf, 1, BIG), 0);
	ck_assert_int_eq(pread(errf, buf, sizeof(buf), 0), 4);
	close(sv[0]);
	close(sv[1]);
	close(in);
	close(out);
	close(errf);
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
	tcase_add_test(tc, host_relay);
	tcase_add_test(tc, host_relay_deaf_stdin);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
