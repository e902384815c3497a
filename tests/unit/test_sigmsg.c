/* The signal port (include/nestbox/abi.h, NB_PORT_SIGNAL): the message
 * codec both sides share, the guest's stream reassembly of hostile bytes,
 * the -t spec property, and nestbox-init's delivery (guest-init/signals.c,
 * built here for the host) including the PID-1 default-action rule. */
#include <check.h>
#include <fcntl.h>
#include <sched.h>
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
#include "guest-init/net.c" /* a restore's network, signals.c applies */
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
		{ { NB_SIGMSG_MAGIC, 1, 4, 7, 15 }, 8, 1 },    /* reserved byte set */
		{ { NB_SIGMSG_MAGIC, 0x7f, 4, 0, 15 }, 8, 8 }, /* unknown type */
		{ { NB_SIGMSG_MAGIC, NB_SIGMSG_NET_APPLY + 1, 4, 0 }, 8, 8 },
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

/* abi.h: a MAC and an address with prefix take 8 bytes, the others 4. */
static size_t payload_len(uint8_t type)
{
	return type == NB_SIGMSG_NET_MAC || type == NB_SIGMSG_NET_ADDR ? 8 : 4;
}

/* run --restore of a VM on a network (abi.h, NB_SIGMSG_NET_*): each
 * message round trips; hostile values are refused both ways. */
START_TEST(net_messages)
{
	static const uint8_t mac[6] = { 0x02, 0x42, 0x0a, 0x58, 0x00, 0x07 };
	const struct nb_sigmsg good[] = {
		{ .type = NB_SIGMSG_NET_MAC, .value = nb_sigmsg_mac_value(mac) },
		{ .type = NB_SIGMSG_NET_ADDR, .value = 0x0a580007u | 24ull << 32 },
		{ .type = NB_SIGMSG_NET_ADDR, .value = 0xc0a80001u | 32ull << 32 },
		{ .type = NB_SIGMSG_NET_GATEWAY, .value = 0x0a580001u },
		{ .type = NB_SIGMSG_NET_DNS, .value = 0x08080808u },
		{ .type = NB_SIGMSG_NET_APPLY, .value = 0 },
	};
	const struct nb_sigmsg bad[] = {
		{ .type = NB_SIGMSG_NET_MAC, .value = 0 },                 /* zero */
		{ .type = NB_SIGMSG_NET_MAC, .value = 0x010203040501ull }, /* multicast */
		{ .type = NB_SIGMSG_NET_MAC, .value = 1ull << 48 | 0x02 }, /* padding */
		{ .type = NB_SIGMSG_NET_ADDR, .value = 24ull << 32 },      /* 0.0.0.0 */
		{ .type = NB_SIGMSG_NET_ADDR, .value = 0x0a580007u },      /* prefix 0 */
		{ .type = NB_SIGMSG_NET_ADDR, .value = 0x0a580007u | 33ull << 32 },
		{ .type = NB_SIGMSG_NET_GATEWAY, .value = 0 },
		{ .type = NB_SIGMSG_NET_DNS, .value = 0 },
		{ .type = NB_SIGMSG_NET_APPLY, .value = 1 },
	};
	uint8_t buf[NB_SIGMSG_MAX], back[6];
	struct nb_sigmsg out;
	struct nb_err err;
	size_t used, len;

	/* byte 0, the first on the wire, is the value's low one; and back */
	ck_assert_uint_eq(nb_sigmsg_mac_value(mac), 0x0700580a4202ull);
	nb_sigmsg_mac_bytes(0x0700580a4202ull, back);
	ck_assert_mem_eq(back, mac, 6);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		len = nb_sigmsg_encode(&good[i], buf);
		ck_assert_msg(len == NB_SIGMSG_HEADER + payload_len(good[i].type), "good %zu", i);
		ck_assert_int_eq(nb_sigmsg_decode(buf, len, &out, &used, &err), 1);
		ck_assert_uint_eq(used, len);
		ck_assert_uint_eq(out.type, good[i].type);
		ck_assert_uint_eq(out.value, good[i].value);
	}
	ck_assert_uint_eq(buf[NB_SIGMSG_HEADER], 0); /* APPLY's payload is zero */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t plen = payload_len(bad[i].type);

		ck_assert_msg(nb_sigmsg_encode(&bad[i], buf) == 0, "bad %zu encoded", i);
		buf[0] = NB_SIGMSG_MAGIC, buf[1] = bad[i].type, buf[2] = (uint8_t)plen, buf[3] = 0;
		for (size_t k = 0; k < plen; k++)
			buf[NB_SIGMSG_HEADER + k] = (uint8_t)(bad[i].value >> (8 * k));
		ck_assert_msg(nb_sigmsg_decode(buf, NB_SIGMSG_HEADER + plen, &out, &used, &err) ==
				      -1,
			      "bad %zu decoded", i);
		ck_assert_uint_eq(used, NB_SIGMSG_HEADER + plen);
		ck_assert_ptr_nonnull(strstr(err.msg, "network message"));
	}
	/* a MAC or an address with a signal's 4 bytes: the frame dropped */
	buf[1] = NB_SIGMSG_NET_ADDR, buf[2] = 4;
	ck_assert_int_eq(nb_sigmsg_decode(buf, NB_SIGMSG_HEADER + 4, &out, &used, &err), -1);
	ck_assert_uint_eq(used, NB_SIGMSG_HEADER + 4);
}
END_TEST

/* nestbox-init collects the messages until APPLY, then as a spec. */
START_TEST(net_next_collects)
{
	static const uint8_t mac[6] = { 0x02, 0x42, 0x0a, 0x58, 0x00, 0x07 };
	struct nb_net_next next = { 0 };
	struct nb_sigmsg m = { .type = NB_SIGMSG_NET_MAC, .value = nb_sigmsg_mac_value(mac) };
	uint8_t bytes[NB_SPEC_MAC_LEN];
	char text[NB_SPEC_MAX_DNS][16];
	const char *dns[NB_SPEC_MAX_DNS];
	struct nb_spec spec = { 0 };

	ck_assert_int_eq(nb_net_next_take(&next, &m), 0);
	m = (struct nb_sigmsg){ .type = NB_SIGMSG_NET_ADDR, .value = 0x0a580007u | 24ull << 32 };
	ck_assert_int_eq(nb_net_next_take(&next, &m), 0);
	m = (struct nb_sigmsg){ .type = NB_SIGMSG_NET_GATEWAY, .value = 0x0a580001u };
	ck_assert_int_eq(nb_net_next_take(&next, &m), 0);
	for (uint32_t i = 0; i < NB_SPEC_MAX_DNS; i++) {
		m = (struct nb_sigmsg){ .type = NB_SIGMSG_NET_DNS, .value = 0x0a000001u + i };
		ck_assert_int_eq(nb_net_next_take(&next, &m), 0);
	}
	ck_assert_int_eq(nb_net_next_take(&next, &m), -1); /* a fourth: dropped */
	m = (struct nb_sigmsg){ .type = NB_SIGMSG_NET_APPLY };
	ck_assert_int_eq(nb_net_next_take(&next, &m), 1);
	nb_net_next_spec(&next, &spec, bytes, text, dns);
	ck_assert_ptr_nonnull(spec.net_mac);
	ck_assert_uint_eq(spec.net_mac_len, 6);
	ck_assert_mem_eq(spec.net_mac, mac, 6);
	ck_assert_uint_eq(spec.net_ipv4, 0x0a580007u);
	ck_assert_uint_eq(spec.net_prefix, 24);
	ck_assert_uint_eq(spec.net_gateway, 0x0a580001u);
	ck_assert_uint_eq(spec.net_ndns, 3);
	ck_assert_str_eq(spec.net_dns[0], "10.0.0.1");
	ck_assert_str_eq(spec.net_dns[2], "10.0.0.3");
	/* no address: no route and no nameservers either (eth0 goes down) */
	next.ipv4 = 0;
	nb_net_next_spec(&next, &spec, bytes, text, dns);
	ck_assert_uint_eq(spec.net_ipv4, 0);
	ck_assert_uint_eq(spec.net_gateway, 0);
	ck_assert_uint_eq(spec.net_ndns, 0);
	ck_assert_ptr_null(spec.net_dns);
}
END_TEST

/* The messages as the host sends them after a restore, through the port. */
static void send_net(int fd, uint64_t mac, uint32_t ipv4, uint32_t prefix, uint32_t gw,
		     uint32_t dns)
{
	const struct nb_sigmsg msgs[] = {
		{ .type = NB_SIGMSG_NET_MAC, .value = mac },
		{ .type = NB_SIGMSG_NET_ADDR, .value = ipv4 | (uint64_t)prefix << 32 },
		{ .type = NB_SIGMSG_NET_GATEWAY, .value = gw },
		{ .type = NB_SIGMSG_NET_DNS, .value = dns },
		{ .type = NB_SIGMSG_NET_APPLY },
	};
	uint8_t buf[5 * NB_SIGMSG_MAX];
	size_t len = 0;

	for (size_t i = 0; i < 5; i++)
		if (i == 4 || (i == 0 ? mac : i == 1 ? ipv4 : i == 2 ? gw : dns))
			len += nb_sigmsg_encode(&msgs[i], buf + len);
	(void)!write(fd, buf, len);
}

/* In a network namespace of its own: eth0 (a veth) with nestbox-init's
 * first address is given a new MAC, address (same subnet: the old one is
 * removed first, or the new one would go with it), route and
 * resolv.conf; then no address: eth0 goes down. Returns the failed step. */
static int readdress_in_namespace(void *arg)
{
	const char *root = arg;
	struct nb_signal_target t = { .pid = -1,
				      .tty_master = -1,
				      .cgroup_fd = -1,
				      .net_ipv4 = 0x0a4d0005u,
				      .net_prefix = 24,
				      .rootfs = root };
	struct nb_signal_port port = { .log_fd = STDERR_FILENO };
	static const uint8_t mac[6] = { 0x02, 0x42, 0x0a, 0x4d, 0x00, 0x09 };
	char path[128], line[128] = "";
	int p[2];

	if (nb_unit_sh(
		    "ip link add eth0 type veth peer name nbpeer && "
		    "ip link set eth0 address 02:42:0a:4d:00:05 && ip addr add 10.77.0.5/24 dev eth0 && "
		    "ip link set eth0 up && ip link set nbpeer up && "
		    "ip route add default via 10.77.0.1") != 0)
		return 10;
	if (pipe2(p, O_NONBLOCK) < 0)
		return 11;
	port.fd = p[0];
	send_net(p[1], nb_sigmsg_mac_value(mac), 0x0a4d0009u, 24, 0x0a4d00feu, 0x0a4d0035u);
	nb_signal_port_read(&port, &t);
	if (t.net_ipv4 != 0x0a4d0009u)
		return 12;
	if (nb_unit_sh(
		    "test \"$(ip -4 -o addr show dev eth0 | awk '{print $4}')\" = 10.77.0.9/24") !=
	    0)
		return 13;
	if (nb_unit_sh("ip route show default | grep -q 'via 10.77.0.254 dev eth0'") != 0)
		return 14;
	if (nb_unit_sh("ip -o link show eth0 | grep -q 'link/ether 02:42:0a:4d:00:09'") != 0)
		return 15;
	snprintf(path, sizeof(path), "%s/etc/resolv.conf", root);
	FILE *f = fopen(path, "r");
	if (!f)
		return 16;
	while (fgets(line, sizeof(line), f) && strncmp(line, "nameserver", 10) != 0)
		;
	fclose(f);
	if (strcmp(line, "nameserver 10.77.0.53\n") != 0)
		return 17;
	/* --network none: no address, eth0 down */
	send_net(p[1], 0, 0, 0, 0, 0);
	nb_signal_port_read(&port, &t);
	if (t.net_ipv4 != 0 || nb_unit_sh("ip -4 -o addr show dev eth0 | grep -q inet") == 0 ||
	    nb_unit_sh("ip -o link show eth0 | grep -q '[<,]UP[,>]'") == 0)
		return 18;
	close(p[1]);
	close(p[0]);
	return 0;
}

START_TEST(readdress_kernel)
{
	ck_assert_int_le(nb_unit_in_netns_dir("sigmsg_readdress_kernel", "nb-readdr",
					      readdress_in_namespace),
			 0);
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
	tcase_add_test(tc, net_messages);
	tcase_add_test(tc, net_next_collects);
	if (geteuid() == 0 && system("command -v ip >/dev/null && command -v awk >/dev/null") == 0)
		tcase_add_test(tc, readdress_kernel);
	else
		printf("skip sigmsg_readdress_kernel: needs root and ip\n");
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
