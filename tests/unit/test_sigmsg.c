/* The signal port (include/nestbox/abi.h, NB_PORT_SIGNAL): the message
 * codec both sides share, the guest's stream reassembly of hostile bytes,
 * the -t spec property, and nestbox-init's delivery (guest-init/signals.c,
 * built here for the host) including the PID-1 default-action rule. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/sigmsg.h"
#include "common/spec.h"
#include "unit/unit.h"

/* nestbox-init's side, which the host build does not otherwise compile. */
#include "container/cgroup.c"
#include "guest-init/signals.c"
#include "guest-init/warm.c" /* the entropy signals.c adds */

static size_t enc_signal(int signo, uint8_t *buf)
{
	struct nb_sigmsg m = { .type = NB_SIGMSG_SIGNAL, .signo = signo };

	return nb_sigmsg_encode(&m, buf);
}

START_TEST(round_trip)
{
	uint8_t buf[NB_SIGMSG_MAX];
	struct nb_sigmsg in = { .type = NB_SIGMSG_WINSIZE, .rows = 24, .cols = 80 }, out;
	struct nb_err err;
	size_t len, used;

	len = enc_signal(SIGTERM, buf);
	ck_assert_uint_eq(len, NB_SIGMSG_HEADER + 4);
	ck_assert_int_eq(nb_sigmsg_decode(buf, len, &out, &used, &err), 1);
	ck_assert_uint_eq(used, len);
	ck_assert_uint_eq(out.type, NB_SIGMSG_SIGNAL);
	ck_assert_int_eq(out.signo, SIGTERM);
	len = nb_sigmsg_encode(&in, buf);
	ck_assert_int_eq(nb_sigmsg_decode(buf, len, &out, &used, &err), 1);
	ck_assert_uint_eq(out.rows, 24);
	ck_assert_uint_eq(out.cols, 80);
	for (int sig = 1; sig < 65; sig++)
		ck_assert_uint_eq(enc_signal(sig, buf) != 0, nb_sigmsg_signal_ok(sig));
}
END_TEST

START_TEST(truncated_waits)
{
	uint8_t buf[NB_SIGMSG_MAX];
	struct nb_sigmsg m;
	struct nb_err err;
	size_t len = enc_signal(SIGUSR1, buf), used = 99;

	for (size_t n = 0; n < len; n++) {
		ck_assert_int_eq(nb_sigmsg_decode(buf, n, &m, &used, &err), 0);
		ck_assert_uint_eq(used, 0);
	}
}
END_TEST

/* `nestbox update --memory`: le64 bytes, checked on both sides. */
START_TEST(memory_limit)
{
	static const uint64_t bad_values[] = { 0,
					       4096,
					       NB_SPEC_MIN_MEMORY - 4096,
					       NB_SPEC_MIN_MEMORY + 1,
					       NB_SIGMSG_MEMORY_MAX + 4096,
					       UINT64_MAX,
					       1ull << 63 };
	uint8_t buf[NB_SIGMSG_MAX];
	struct nb_sigmsg in = { .type = NB_SIGMSG_MEMORY, .memory = 128ull << 20 }, out;
	struct nb_err err;
	size_t used, len = nb_sigmsg_encode(&in, buf);

	ck_assert_uint_eq(len, NB_SIGMSG_HEADER + 8);
	ck_assert_int_eq(nb_sigmsg_decode(buf, len, &out, &used, &err), 1);
	ck_assert_uint_eq(used, len);
	ck_assert_uint_eq(out.type, NB_SIGMSG_MEMORY);
	ck_assert_uint_eq(out.memory, 128ull << 20);
	/* 4 bytes (the others' length) are not enough; a truncated one waits */
	ck_assert_int_eq(nb_sigmsg_decode(buf, len - 1, &out, &used, &err), 0);
	buf[2] = 4;
	ck_assert_int_eq(nb_sigmsg_decode(buf, NB_SIGMSG_HEADER + 4, &out, &used, &err), -1);
	ck_assert_uint_eq(used, NB_SIGMSG_HEADER + 4);
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		ck_assert(!nb_sigmsg_memory_ok(bad_values[i]));
		in.memory = bad_values[i];
		ck_assert_uint_eq(nb_sigmsg_encode(&in, buf), 0);
		/* forged by hand: the decoder refuses it too */
		buf[0] = NB_SIGMSG_MAGIC, buf[1] = NB_SIGMSG_MEMORY, buf[2] = 8, buf[3] = 0;
		for (int k = 0; k < 8; k++)
			buf[NB_SIGMSG_HEADER + k] = (uint8_t)(bad_values[i] >> (8 * k));
		ck_assert_msg(nb_sigmsg_decode(buf, NB_SIGMSG_HEADER + 8, &out, &used, &err) == -1,
			      "value %zu accepted", i);
		ck_assert_uint_eq(used, NB_SIGMSG_HEADER + 8);
	}
	ck_assert(nb_sigmsg_memory_ok(NB_SIGMSG_MEMORY_MAX));
	ck_assert(nb_sigmsg_memory_ok(NB_SPEC_MIN_MEMORY));
}
END_TEST

/* run --restore DIR: entropy (any 8 bytes) and the clock (1..INT64_MAX ns). */
START_TEST(resume_messages)
{
	static const uint64_t bad_clocks[] = { 0, (uint64_t)INT64_MAX + 1, UINT64_MAX };
	uint8_t buf[NB_SIGMSG_MAX];
	struct nb_sigmsg in = { .type = NB_SIGMSG_ENTROPY, .value = 0x0123456789abcdefull }, out;
	struct nb_err err;
	size_t used, len = nb_sigmsg_encode(&in, buf);

	ck_assert_uint_eq(len, NB_SIGMSG_HEADER + 8);
	ck_assert_int_eq(nb_sigmsg_decode(buf, len, &out, &used, &err), 1);
	ck_assert_uint_eq(out.type, NB_SIGMSG_ENTROPY);
	ck_assert_uint_eq(out.value, 0x0123456789abcdefull);
	in.value = 0; /* entropy may be anything */
	ck_assert_uint_eq(nb_sigmsg_encode(&in, buf), NB_SIGMSG_HEADER + 8);
	in = (struct nb_sigmsg){ .type = NB_SIGMSG_CLOCK, .value = 1733356800123456789ull };
	len = nb_sigmsg_encode(&in, buf);
	ck_assert_int_eq(nb_sigmsg_decode(buf, len, &out, &used, &err), 1);
	ck_assert_uint_eq(out.type, NB_SIGMSG_CLOCK);
	ck_assert_uint_eq(out.value, 1733356800123456789ull);
	/* 4 payload bytes (a signal's length) are refused, the frame dropped */
	buf[2] = 4;
	ck_assert_int_eq(nb_sigmsg_decode(buf, NB_SIGMSG_HEADER + 4, &out, &used, &err), -1);
	ck_assert_uint_eq(used, NB_SIGMSG_HEADER + 4);
	for (size_t i = 0; i < sizeof(bad_clocks) / sizeof(bad_clocks[0]); i++) {
		in.value = bad_clocks[i];
		ck_assert_uint_eq(nb_sigmsg_encode(&in, buf), 0);
		buf[0] = NB_SIGMSG_MAGIC, buf[1] = NB_SIGMSG_CLOCK, buf[2] = 8, buf[3] = 0;
		for (int k = 0; k < 8; k++)
			buf[NB_SIGMSG_HEADER + k] = (uint8_t)(bad_clocks[i] >> (8 * k));
		ck_assert_msg(nb_sigmsg_decode(buf, NB_SIGMSG_HEADER + 8, &out, &used, &err) == -1,
			      "clock %zu accepted", i);
		ck_assert_uint_eq(used, NB_SIGMSG_HEADER + 8);
	}
}
END_TEST

START_TEST(hostile_frames)
{
	struct nb_sigmsg m;
	struct nb_err err;
	size_t used;
	const struct {
		uint8_t b[NB_SIGMSG_MAX + 4];
		size_t len, used;
	} bad[] = {
		{ { 0x00, 1, 4, 0, 15 }, 8, 1 },         /* not a header */
		{ { NB_SIGMSG_MAGIC, 1, 9, 0 }, 13, 1 }, /* oversize payload */
		{ { NB_SIGMSG_MAGIC, 1, 255, 0 }, 16, 1 },
		{ { NB_SIGMSG_MAGIC, 1, 4, 7, 15 }, 8, 1 }, /* reserved byte set */
		{ { NB_SIGMSG_MAGIC, 9, 4, 0, 15 }, 8, 8 }, /* unknown type */
		{ { NB_SIGMSG_MAGIC, 0, 0, 0 }, 4, 4 },
		{ { NB_SIGMSG_MAGIC, 1, 2, 0, 15 }, 6, 6 }, /* short payload for its type */
		{ { NB_SIGMSG_MAGIC, 2, 8, 0, 24, 0, 80 }, 12, 12 }, /* long payload */
		{ { NB_SIGMSG_MAGIC, 1, 4, 0, 0 }, 8, 8 },           /* signal 0 */
		{ { NB_SIGMSG_MAGIC, 1, 4, 0, 9 }, 8, 8 },           /* SIGKILL */
		{ { NB_SIGMSG_MAGIC, 1, 4, 0, 19 }, 8, 8 },          /* SIGSTOP */
		{ { NB_SIGMSG_MAGIC, 1, 4, 0, 65 }, 8, 8 },
		{ { NB_SIGMSG_MAGIC, 1, 4, 0, 15, 0, 0, 1 }, 8, 8 }, /* 15 + 2^24 */
		{ { NB_SIGMSG_MAGIC, 1, 4, 0, 0xff, 0xff, 0xff, 0xff }, 8, 8 },
		{ { NB_SIGMSG_MAGIC, 2, 4, 0, 0, 0, 80, 0 }, 8, 8 },       /* 0 rows */
		{ { NB_SIGMSG_MAGIC, 2, 4, 0, 24, 0, 0x01, 0x10 }, 8, 8 }, /* 4097 columns */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(nb_sigmsg_decode(bad[i].b, bad[i].len, &m, &used, &err) == -1,
			      "case %zu accepted", i);
		ck_assert_msg(used == bad[i].used, "case %zu used %zu", i, used);
		ck_assert(strncmp(err.msg, "signal port: ", 13) == 0);
	}
	struct nb_sigmsg kill_msg = { .type = NB_SIGMSG_SIGNAL, .signo = SIGKILL };
	struct nb_sigmsg huge = { .type = NB_SIGMSG_WINSIZE, .rows = 5000, .cols = 80 };
	uint8_t buf[NB_SIGMSG_MAX];

	ck_assert_uint_eq(nb_sigmsg_encode(&kill_msg, buf), 0);
	ck_assert_uint_eq(nb_sigmsg_encode(&huge, buf), 0);
}
END_TEST

/* Garbage, a bad frame, then good messages split across reads. */
START_TEST(reader_resyncs)
{
	struct nb_sigmsg_reader r = { .len = 0 };
	uint8_t stream[64], *space;
	size_t n = 0, room, len;
	struct nb_sigmsg m;
	struct nb_err err;
	int got = 0, bad = 0, rc;

	stream[n++] = 0x42;
	stream[n++] = NB_SIGMSG_MAGIC; /* a magic byte with a bad header after it */
	stream[n++] = NB_SIGMSG_MAGIC;
	stream[n++] = 200;
	stream[n++] = 1;
	n += enc_signal(SIGHUP, stream + n);
	len = enc_signal(SIGWINCH, stream + n);
	n += len;
	for (size_t off = 0; off < n; off += 3) {
		size_t chunk = n - off < 3 ? n - off : 3;

		space = nb_sigmsg_reader_space(&r, &room);
		ck_assert_uint_ge(room, chunk);
		memcpy(space, stream + off, chunk);
		nb_sigmsg_reader_add(&r, chunk);
		while ((rc = nb_sigmsg_reader_next(&r, &m, &err)) != 0) {
			if (rc < 0) {
				bad++;
				continue;
			}
			ck_assert_int_eq(m.signo, got == 0 ? SIGHUP : SIGWINCH);
			got++;
		}
	}
	ck_assert_int_eq(got, 2);
	ck_assert_int_ge(bad, 3);
	ck_assert_uint_eq(r.len, 0);
}
END_TEST

START_TEST(spec_tty)
{
	const char *argv[] = { "sh", NULL };
	struct nb_spec in = { .argv = argv,
			      .argc = 1,
			      .rootfs = "/",
			      .tty = true,
			      .tty_rows = 33,
			      .tty_cols = 101 },
		       out;
	struct nb_err err;
	void *blob = NULL;
	size_t len;

	ck_assert_msg(nb_spec_encode(&in, &blob, &len, &err) == 0, "%s", err.msg);
	ck_assert_msg(nb_spec_decode(blob, len, &out, &err) == 0, "%s", err.msg);
	ck_assert(out.tty);
	ck_assert_uint_eq(out.tty_rows, 33);
	ck_assert_uint_eq(out.tty_cols, 101);
	nb_spec_free(&out);
	free(blob);
	in.tty = false;
	ck_assert_int_eq(nb_spec_encode(&in, &blob, &len, &err), -1); /* a size without -t */
	in.tty = true;
	in.tty_rows = NB_WINSIZE_MAX + 1;
	ck_assert_int_eq(nb_spec_encode(&in, &blob, &len, &err), -1);
	in.tty_rows = in.tty_cols = 0; /* unknown size */
	ck_assert_int_eq(nb_spec_encode(&in, &blob, &len, &err), 0);
	ck_assert_int_eq(nb_spec_decode(blob, len, &out, &err), 0);
	ck_assert(out.tty && out.tty_rows == 0);
	nb_spec_free(&out);
	free(blob);
}
END_TEST

/* ---- nestbox-init's delivery ------------------------------------------- */

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

/* A child that runs setup(arg), says "ready" on *ready_fd, then runs
 * body(arg), which does not return. */
static pid_t fork_ready(void (*setup)(int), void (*body)(int), int arg, int *ready_fd)
{
	int p[2];
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		setup(arg);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		body(arg);
	}
	close(p[1]);
	*ready_fd = p[0];
	char c;
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	return pid;
}

static void usr1_handler(int handler)
{
	if (handler)
		signal(SIGUSR1, on_usr1);
}

static void wait_usr1(int arg)
{
	(void)arg;
	for (int i = 0; i < 500 && !got_usr1; i++)
		usleep(10000);
	_exit(got_usr1 ? 7 : 0);
}

/* A child that waits 5 s; with a USR1 handler, exits 7 on USR1. */
static pid_t child(bool handler, int *ready_fd)
{
	return fork_ready(usr1_handler, wait_usr1, handler, ready_fd);
}

START_TEST(deliver_default_action)
{
	int fd, ws;
	pid_t pid = child(false, &fd);

	/* No handler: the default action (end it) is applied for USR1. */
	ck_assert_int_eq(nb_signal_deliver(pid, SIGUSR1, true), SIGUSR1);
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
	close(fd);
	/* A signal whose default is to be ignored is sent as it is. */
	pid = child(false, &fd);
	ck_assert_int_eq(nb_signal_deliver(pid, SIGWINCH, true), 0);
	kill(pid, SIGKILL);
	waitpid(pid, &ws, 0);
	close(fd);
}
END_TEST

static void block_all(int arg)
{
	sigset_t all;

	(void)arg;
	signal(SIGTERM, SIG_DFL); /* Check's own handler, inherited */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

static void unblock_after(int block_ms)
{
	sigset_t none;

	if (block_ms >= 0) {
		usleep((useconds_t)block_ms * 1000);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	for (;;)
		pause();
}

/* A child that blocks every signal for `block_ms` (busybox ash around its
 * sigsuspend; -1: for good, as a signalfd user does), having said "ready". */
static pid_t blocking_child(int block_ms, int *ready_fd)
{
	return fork_ready(block_all, unblock_after, block_ms, ready_fd);
}

/* Blocked for a moment, the default action still applies (SIGKILL, said);
 * blocked for good, the signal is sent as it is and stays pending. */
START_TEST(deliver_waits_out_a_brief_block)
{
	int fd, ws;
	pid_t pid = blocking_child(5, &fd);

	ck_assert_int_eq(nb_signal_deliver(pid, SIGTERM, true), SIGTERM);
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
	close(fd);
	pid = blocking_child(-1, &fd);
	ck_assert_int_eq(nb_signal_deliver(pid, SIGTERM, true), 0);
	ck_assert_int_eq(waitpid(pid, &ws, WNOHANG), 0); /* pending, not killed */
	kill(pid, SIGKILL);
	waitpid(pid, &ws, 0);
	close(fd);
}
END_TEST

START_TEST(port_reaches_handler)
{
	int fd, ws, p[2];
	pid_t pid = child(true, &fd);
	uint8_t msg[64] = { 0x13, NB_SIGMSG_MAGIC, 1, 4, 0, 9, 0, 0, 0 }; /* junk, SIGKILL */
	size_t n = 9;
	struct nb_signal_target t = {
		.pid = pid, .pid_ns_init = true, .tty_master = -1, .cgroup_fd = -1
	};
	struct nb_signal_port port = { .log_fd = -1 };

	n += enc_signal(SIGUSR1, msg + n);
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	ck_assert_int_eq(write(p[1], msg, n), (ssize_t)n);
	port.fd = p[0];
	nb_signal_port_read(&port, &t);
	ck_assert_int_eq(port.fd, p[0]); /* EAGAIN: still listening */
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert(WIFEXITED(ws) &&
		  WEXITSTATUS(ws) == 7); /* the handler ran, SIGKILL did not pass */
	ck_assert_int_eq(t.forced, 0);
	close(p[1]);
	nb_signal_port_read(&port, &t);
	ck_assert_int_eq(port.fd, -1); /* EOF: closed */
	close(fd);
}
END_TEST

/* A memory message reaches the cgroup's memory.max (a directory stands in
 * for the cgroup); a hostile one leaves it alone. */
START_TEST(port_sets_memory_max)
{
	char dir[] = "/tmp/nb-sigmsg-XXXXXX", path[64], text[32] = "";
	uint8_t msg[2 * NB_SIGMSG_MAX];
	struct nb_sigmsg m = { .type = NB_SIGMSG_MEMORY, .memory = 128ull << 20 };
	struct nb_signal_target t = { .pid = -1, .tty_master = -1 };
	struct nb_signal_port port = { .log_fd = -1 };
	int p[2], fd;
	size_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/memory.max", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	t.cgroup_fd = open(dir, O_DIRECTORY | O_RDONLY);
	ck_assert_int_ge(t.cgroup_fd, 0);
	n = nb_sigmsg_encode(&m, msg);
	/* then one with 4097 bytes: dropped, logged */
	memcpy(msg + n, msg, n);
	msg[n + NB_SIGMSG_HEADER] = 0x01, msg[n + NB_SIGMSG_HEADER + 1] = 0x10;
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	ck_assert_int_eq(write(p[1], msg, 2 * n), (ssize_t)(2 * n));
	port.fd = p[0];
	nb_signal_port_read(&port, &t);
	fd = open(path, O_RDONLY);
	ck_assert_int_gt(read(fd, text, sizeof(text) - 1), 0);
	close(fd);
	ck_assert_str_eq(text, "134217728");
	close(p[1]);
	close(p[0]);
	close(t.cgroup_fd);
	unlink(path);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sigmsg");
	TCase *tc = tcase_create("sigmsg");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, truncated_waits);
	tcase_add_test(tc, hostile_frames);
	tcase_add_test(tc, memory_limit);
	tcase_add_test(tc, resume_messages);
	tcase_add_test(tc, reader_resyncs);
	tcase_add_test(tc, spec_tty);
	tcase_add_test(tc, deliver_default_action);
	tcase_add_test(tc, deliver_waits_out_a_brief_block);
	tcase_add_test(tc, port_reaches_handler);
	tcase_add_test(tc, port_sets_memory_max);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
