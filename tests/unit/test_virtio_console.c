/* virtio-console multiport protocol: port discovery, output with
 * back-pressure, stdin with EOF, hostile control messages. The guest
 * driver is played by hand on a test RAM buffer. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ring.h>

#include "nestbox/abi.h"
#include "vmm/kvm/event.h"
#include "vmm/confine/seccomp.h"
#include "vmm/kvm/stop.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/mmio.h"
#include "unit/unit.h"

#define RAM_SIZE (1u << 20)
#define QSIZE 16u
#define QB(q) (0x10000u + (q)*0x4000u)
#define DATA 0x80000u

static uint8_t *ram;
static struct nb_guest_mem mem;
static struct nb_virtio_mmio m;
static struct nb_console *con;
static struct nb_stop stop;
static struct nb_event_loop loop;
static int out_pipe[2], in_pipe[2];
static uint16_t avail_idx[10], used_seen[10];
static uint64_t next_data;

static uint64_t add_buf(unsigned q, const void *data, uint32_t len, bool writable)
{
	uint16_t slot = avail_idx[q] % QSIZE, flags = writable ? VRING_DESC_F_WRITE : 0;
	uint64_t gpa = next_data;
	uint8_t *d = ram + QB(q) + 16u * slot;

	next_data += (len + 63) & ~63u;
	if (data)
		memcpy(ram + gpa, data, len);
	memcpy(d, &gpa, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(ram + QB(q) + 0x1000 + 4 + 2u * slot, &slot, 2);
	avail_idx[q]++;
	memcpy(ram + QB(q) + 0x1000 + 2, &avail_idx[q], 2);
	return gpa;
}

static uint16_t used_idx(unsigned q)
{
	uint16_t idx;

	memcpy(&idx, ram + QB(q) + 0x2000 + 2, 2);
	return idx;
}

/* Next used buffer of q: its guest data and length; NULL if none. */
static uint8_t *next_used(unsigned q, uint32_t *len)
{
	uint32_t id;
	uint64_t gpa;

	if (used_seen[q] == used_idx(q))
		return NULL;
	uint8_t *e = ram + QB(q) + 0x2000 + 4 + 8u * (used_seen[q]++ % QSIZE);
	memcpy(&id, e, 4);
	memcpy(len, e + 4, 4);
	memcpy(&gpa, ram + QB(q) + 16u * id, 8);
	return ram + gpa;
}

static void send_ctrl(uint32_t id, uint16_t event, uint16_t value)
{
	struct virtio_console_control c = { .id = id, .event = event, .value = value };

	add_buf(3, &c, sizeof(c), false);
	nb_virtio_process(m.dev);
}

static bool next_ctrl(struct virtio_console_control *c, char *name, size_t size)
{
	uint32_t len;
	uint8_t *buf = next_used(2, &len);

	if (!buf)
		return false;
	ck_assert_uint_ge(len, sizeof(*c));
	memcpy(c, buf, sizeof(*c));
	if (name) {
		size_t n = len - sizeof(*c) < size - 1 ? len - sizeof(*c) : size - 1;
		memcpy(name, buf + sizeof(*c), n);
		name[n] = '\0';
	}
	return true;
}

static void dispatch(int fd)
{
	for (unsigned i = 0; i < loop.nhandlers; i++)
		if (loop.handlers[i].fd == fd) {
			loop.handlers[i].fn(loop.handlers[i].opaque, fd, 0);
			return;
		}
	ck_abort_msg("fd %d not watched", fd);
}

static bool watched(int fd)
{
	for (unsigned i = 0; i < loop.nhandlers; i++)
		if (loop.handlers[i].fd == fd)
			return true;
	return false;
}

static bool out_on_stdout;
static int spec_fd = -1; /* setup_spec_first: the stdin port reads it, then in_pipe */

static void setup(void)
{
	struct nb_err err = { 0 };

	ram = aligned_alloc(4096, RAM_SIZE);
	memset(ram, 0, RAM_SIZE);
	memset(avail_idx, 0, sizeof(avail_idx));
	memset(used_seen, 0, sizeof(used_seen));
	next_data = DATA;
	nb_mem_layout(&mem, ram, RAM_SIZE);
	ck_assert_int_eq(pipe(out_pipe), 0);
	if (out_on_stdout) { /* as nestbox runs: the host's stdout is fd 1 */
		ck_assert_int_eq(dup2(out_pipe[1], STDOUT_FILENO), STDOUT_FILENO);
		close(out_pipe[1]);
		out_pipe[1] = STDOUT_FILENO;
	}
	ck_assert_int_eq(pipe(in_pipe), 0);
	ck_assert_int_eq(nb_stop_init(&stop, &err), 0);
	ck_assert_int_eq(nb_event_init(&loop, &stop, 0, &err), 0);
	struct nb_console_opts opts = { .stdin_fd = spec_fd >= 0 ? spec_fd : in_pipe[0],
					.stdout_fd = out_pipe[1],
					.stderr_fd = -1,
					.stdin_then_fd = in_pipe[0],
					.has_stdin_then = spec_fd >= 0 };
	con = nb_console_new(&loop, &opts, &err);
	ck_assert_ptr_nonnull(con);
	ck_assert_int_eq(nb_virtio_mmio_init(&m, nb_console_dev(con), &mem, &err), 0);
	m.dev->driver_features = NB_VIRTIO_F_VERSION_1 | 1ull << VIRTIO_CONSOLE_F_MULTIPORT;
	m.dev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	for (unsigned q = 0; q < 10; q++) {
		struct nb_virtq *vq = &m.dev->queues[q];

		vq->size = QSIZE;
		vq->desc_gpa = QB(q);
		vq->avail_gpa = QB(q) + 0x1000;
		vq->used_gpa = QB(q) + 0x2000;
		ck_assert_int_eq(nb_virtq_enable(vq), 0);
	}
	for (unsigned i = 0; i < 12; i++)
		add_buf(2, NULL, 64, true); /* control buffers for the host's messages */
}

static void teardown(void);

/* A clone with -i: its spec in a memfd, then the host's stdin. */
static void setup_spec_first(void)
{
	spec_fd = memfd_create("spec", MFD_CLOEXEC);
	ck_assert_int_ge(spec_fd, 0);
	ck_assert_int_eq(write(spec_fd, "SPEC", 4), 4);
	ck_assert_int_eq(lseek(spec_fd, 0, SEEK_SET), 0);
	setup();
}

static void teardown_spec_first(void)
{
	teardown();
	close(spec_fd);
	spec_fd = -1;
}

static void setup_on_stdout(void)
{
	out_on_stdout = true;
	setup();
}

static void teardown(void)
{
	nb_virtio_mmio_destroy(&m);
	nb_event_destroy(&loop);
	nb_stop_destroy(&stop);
	free(con);
	free(ram);
	close(out_pipe[0]);
	close(out_pipe[1]);
	close(in_pipe[0]);
	if (in_pipe[1] >= 0)
		close(in_pipe[1]);
}

START_TEST(ports_are_announced_and_named)
{
	struct virtio_console_control c;
	char name[64];

	send_ctrl(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (uint32_t i = 0; i < 4; i++) {
		ck_assert(next_ctrl(&c, NULL, 0));
		ck_assert_uint_eq(c.event, VIRTIO_CONSOLE_PORT_ADD);
		ck_assert_uint_eq(c.id, i);
	}
	ck_assert(!next_ctrl(&c, NULL, 0));
	send_ctrl(1, VIRTIO_CONSOLE_PORT_READY, 1);
	ck_assert(next_ctrl(&c, name, sizeof(name)));
	ck_assert_uint_eq(c.event, VIRTIO_CONSOLE_PORT_NAME);
	ck_assert_str_eq(name, NB_PORT_STDOUT);
	ck_assert(next_ctrl(&c, NULL, 0));
	ck_assert_uint_eq(c.event, VIRTIO_CONSOLE_PORT_OPEN);
	ck_assert_uint_eq(c.value, 1);
	send_ctrl(2, VIRTIO_CONSOLE_PORT_READY, 1); /* stderr has no host fd here */
	ck_assert(next_ctrl(&c, name, sizeof(name)));
	ck_assert_str_eq(name, NB_PORT_STDERR);
	ck_assert(!next_ctrl(&c, NULL, 0)); /* never opened by the host */
}
END_TEST

START_TEST(hostile_control_messages)
{
	struct virtio_console_control c;
	uint32_t junk = 0xffffffff;

	send_ctrl(1000, VIRTIO_CONSOLE_PORT_READY, 1);
	send_ctrl(UINT32_MAX, VIRTIO_CONSOLE_PORT_OPEN, 1);
	send_ctrl(1, 0xffff, 0xffff);
	add_buf(3, &junk, sizeof(junk), false); /* short message */
	nb_virtio_process(m.dev);
	ck_assert(!next_ctrl(&c, NULL, 0));
	ck_assert_uint_eq(used_idx(3), 4); /* all handed back */
	for (int i = 0; i < 40; i++)       /* a flood only loses replies */
		send_ctrl(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	ck_assert(!(m.dev->status & VIRTIO_CONFIG_S_NEEDS_RESET));
}
END_TEST

START_TEST(output_with_back_pressure)
{
	char buf[70000];
	ssize_t n;
	size_t filled = 0;

	add_buf(5, "hello", 5, false); /* port 1 transmitq */
	nb_virtio_process(m.dev);
	ck_assert_int_eq(read(out_pipe[0], buf, sizeof(buf)), 5);
	ck_assert_mem_eq(buf, "hello", 5);
	ck_assert_uint_eq(used_idx(5), 1);

	fcntl(out_pipe[1], F_SETFL, O_NONBLOCK);
	while ((n = write(out_pipe[1], buf, sizeof(buf))) > 0)
		filled += (size_t)n;
	fcntl(out_pipe[1], F_SETFL, 0);
	add_buf(5, "world", 5, false);
	nb_virtio_process(m.dev);
	ck_assert_uint_eq(used_idx(5), 1); /* not taken: the host fd is full */
	ck_assert(watched(out_pipe[1]));
	while (filled) {
		n = read(out_pipe[0], buf, filled < sizeof(buf) ? filled : sizeof(buf));
		ck_assert_int_gt(n, 0);
		filled -= (size_t)n;
	}
	dispatch(out_pipe[1]);
	ck_assert_uint_eq(used_idx(5), 2);
	ck_assert(!watched(out_pipe[1]));
	ck_assert_int_eq(read(out_pipe[0], buf, sizeof(buf)), 5);
	ck_assert_mem_eq(buf, "world", 5);
}
END_TEST

START_TEST(input_then_eof)
{
	struct virtio_console_control c;
	uint32_t len;
	uint8_t *data;

	add_buf(0, NULL, 64, true);
	add_buf(0, NULL, 64, true);
	nb_virtio_process(m.dev);
	ck_assert(!watched(in_pipe[0])); /* the guest has not opened the port */
	send_ctrl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	ck_assert(watched(in_pipe[0]));
	ck_assert_int_eq(write(in_pipe[1], "abc", 3), 3);
	close(in_pipe[1]);
	in_pipe[1] = -1;
	dispatch(in_pipe[0]);
	data = next_used(0, &len);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(data, "abc", 3);
	dispatch(in_pipe[0]);
	ck_assert(next_used(0, &len) != NULL && len == 0);
	ck_assert(next_ctrl(&c, NULL, 0));
	ck_assert_uint_eq(c.id, 0);
	ck_assert_uint_eq(c.event, VIRTIO_CONSOLE_PORT_OPEN);
	ck_assert_uint_eq(c.value, 0); /* host closed: the guest's read returns 0 */
	ck_assert(!watched(in_pipe[0]));
}
END_TEST

/* The memfd's bytes, then the pipe's, with no empty buffer (EOF to the
 * guest) between them; the pipe's end is the port's. */
START_TEST(spec_then_stdin)
{
	struct virtio_console_control c;
	uint32_t len;
	uint8_t *data;

	for (int i = 0; i < 3; i++)
		add_buf(0, NULL, 64, true);
	nb_virtio_process(m.dev);
	send_ctrl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	data = next_used(0, &len);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(len, 4);
	ck_assert_mem_eq(data, "SPEC", 4);
	ck_assert_ptr_null(next_used(0, &len)); /* the end of the memfd is not the guest's */
	ck_assert(watched(in_pipe[0]));
	ck_assert_int_eq(write(in_pipe[1], "typed", 5), 5);
	dispatch(in_pipe[0]);
	data = next_used(0, &len);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(data, "typed", 5);
	ck_assert(!next_ctrl(&c, NULL, 0) || c.event != VIRTIO_CONSOLE_PORT_OPEN || c.id != 0);
	close(in_pipe[1]);
	in_pipe[1] = -1;
	dispatch(in_pipe[0]);
	ck_assert(next_used(0, &len) != NULL && len == 0);
	ck_assert(next_ctrl(&c, NULL, 0));
	ck_assert_uint_eq(c.id, 0);
	ck_assert_uint_eq(c.event, VIRTIO_CONSOLE_PORT_OPEN);
	ck_assert_uint_eq(c.value, 0);
}
END_TEST

/* Port 3: named, always opened by the host; messages only once the guest
 * opened it, split over small buffers, refused when it is closed or full. */
START_TEST(signal_port)
{
	struct virtio_console_control c;
	char name[64];
	uint8_t msg[40], got[40];
	uint32_t len, total = 0;
	uint8_t *data;

	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7);
	send_ctrl(3, VIRTIO_CONSOLE_PORT_READY, 1);
	ck_assert(next_ctrl(&c, name, sizeof(name)));
	ck_assert_str_eq(name, NB_PORT_SIGNAL);
	ck_assert(next_ctrl(&c, NULL, 0));
	ck_assert_uint_eq(c.event, VIRTIO_CONSOLE_PORT_OPEN);
	ck_assert_uint_eq(c.value, 1);
	ck_assert(!nb_console_send_signal_msg(con, msg, 8)); /* the guest has not opened it */
	send_ctrl(3, VIRTIO_CONSOLE_PORT_OPEN, 1);
	ck_assert(nb_console_send_signal_msg(con, msg, sizeof(msg)));
	ck_assert(next_used(8, &len) == NULL); /* no guest buffer yet */
	add_buf(8, NULL, 16, true);
	add_buf(8, NULL, 16, true);
	add_buf(8, NULL, 16, true);
	nb_virtio_process(m.dev);
	while ((data = next_used(8, &len)) != NULL) {
		ck_assert_uint_le(len, 16);
		memcpy(got + total, data, len);
		total += len;
	}
	ck_assert_uint_eq(total, sizeof(msg));
	ck_assert_mem_eq(got, msg, sizeof(msg));
	for (unsigned i = 0; i < NB_CONSOLE_SIGNAL_BUF / 8; i++)
		ck_assert(nb_console_send_signal_msg(con, msg, 8));
	ck_assert(!nb_console_send_signal_msg(con, msg, 8)); /* full: the guest is not reading */
	send_ctrl(3, VIRTIO_CONSOLE_PORT_OPEN, 0);
	ck_assert(!nb_console_send_signal_msg(con, msg, 8));
}
END_TEST

/* Fill the output pipe; returns how many bytes it holds. */
static size_t fill_out_pipe(void)
{
	static char junk[70000];
	size_t filled = 0;
	ssize_t n;

	fcntl(out_pipe[1], F_SETFL, O_NONBLOCK);
	while ((n = write(out_pipe[1], junk, sizeof(junk))) > 0)
		filled += (size_t)n;
	fcntl(out_pipe[1], F_SETFL, 0);
	return filled;
}

/* Read n bytes of filler, then the rest into buf (up to cap); returns how
 * many went into buf. */
static size_t read_after(size_t n, char *buf, size_t cap)
{
	char junk[4096];
	size_t got = 0;
	ssize_t r;

	while (n && (r = read(out_pipe[0], junk, n < sizeof(junk) ? n : sizeof(junk))) > 0)
		n -= (size_t)r;
	while (got < cap && (r = read(out_pipe[0], buf + got, cap - got)) > 0)
		got += (size_t)r;
	return got;
}

/* The reader of stdout went away: the VM is stopped with 141 and a message
 * naming EPIPE; the buffer goes back to the guest (issue 11). */
START_TEST(output_reader_gone_stops_the_vm)
{
	close(out_pipe[0]);
	out_pipe[0] = open("/dev/null", O_RDONLY); /* for teardown */
	add_buf(5, "lost", 4, false);
	nb_virtio_process(m.dev);
	ck_assert(nb_stop_requested(&stop));
	ck_assert_int_eq(stop.lost_status, 141);
	ck_assert_ptr_nonnull(strstr(stop.lost_msg, "EPIPE"));
	ck_assert_ptr_nonnull(strstr(stop.lost_msg, "stdout"));
	ck_assert_uint_eq(used_idx(5), 1);
}
END_TEST

/* A write error other than EPIPE (here EBADF) is an error status, 125. */
START_TEST(output_write_error_is_an_error)
{
	close(out_pipe[1]);
	add_buf(5, "lost", 4, false);
	nb_virtio_process(m.dev);
	out_pipe[1] = open("/dev/null", O_WRONLY); /* for teardown */
	ck_assert_int_eq(stop.lost_status, NB_STATUS_ERROR);
	ck_assert_ptr_nonnull(strstr(stop.lost_msg, "Bad file descriptor"));
}
END_TEST

/* Output the event thread could not write waits in the queue; at exit the
 * main thread writes it under its own seccomp filter, waiting for the slow
 * reader (nestbox died of SIGSYS there: issue 11). */
START_TEST(drain_under_the_main_filter)
{
	static char big[12000];
	char got[sizeof(big)];
	struct nb_sandbox sb;
	struct nb_err err;
	int status;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	size_t filled = fill_out_pipe();
	add_buf(5, big, sizeof(big), false);
	nb_virtio_process(m.dev);
	ck_assert_uint_eq(used_idx(5), 0); /* waiting for the reader */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct nb_sandbox_config cfg = { .pid = getpid(),
						 .vsock_listen_fd = -1,
						 .vsock_broker_fd = -1 };

		if (nb_sandbox_init(&sb, false, 1, &cfg, &err) < 0)
			_exit(5);
		nb_sandbox_release(&sb);
		nb_sandbox_enter(&sb, NB_THREAD_MAIN, &stop);
		nb_console_drain(con);
		syscall(SYS_exit_group, stop.lost_status ? 3 : used_idx(5) == 1 ? 0 : 4);
	}
	close(STDOUT_FILENO); /* the child holds the only write end: EOF if it dies */
	usleep(100000);       /* the child is waiting now */
	size_t n = read_after(filled, got, sizeof(got));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "drain child: status 0x%x",
		      status);
	ck_assert_uint_eq(n, sizeof(big));
	ck_assert_mem_eq(got, big, sizeof(big));
}
END_TEST

/* A stop signal while the drain waits for a reader that never reads gives
 * the rest up: 128 + the signal, said. Other signals do not. */
START_TEST(drain_gives_up_on_a_stop_signal)
{
	fill_out_pipe();
	add_buf(5, "never read", 10, false);
	nb_virtio_process(m.dev);
	raise(SIGWINCH); /* blocked by nb_event_init: waits on the signalfd */
	raise(SIGTERM);
	nb_console_drain(con);
	ck_assert_int_eq(stop.lost_status, 128 + SIGTERM);
	ck_assert_ptr_nonnull(strstr(stop.lost_msg, "signal"));
	ck_assert_uint_eq(used_idx(5), 0);
	nb_console_drain_now(con); /* after a host stop: only what fits now */
	ck_assert_uint_eq(used_idx(5), 0);
}
END_TEST

/* Someone made stdout non-blocking: EAGAIN waits like a full pipe and
 * every byte arrives in order. */
START_TEST(output_to_a_nonblocking_fd)
{
	static char big[30000];
	char got[sizeof(big)];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 31 + 7);
	size_t filled = fill_out_pipe();
	fcntl(out_pipe[1], F_SETFL, O_NONBLOCK);
	add_buf(5, big, sizeof(big), false);
	nb_virtio_process(m.dev);
	ck_assert(watched(out_pipe[1]));
	size_t n = read_after(filled, got, 0);
	while (n < sizeof(big)) {
		if (watched(out_pipe[1]))
			dispatch(out_pipe[1]);
		ssize_t r = read(out_pipe[0], got + n, sizeof(big) - n);
		ck_assert_int_gt(r, 0);
		n += (size_t)r;
	}
	ck_assert_mem_eq(got, big, sizeof(big));
	ck_assert_uint_eq(used_idx(5), 1);
	ck_assert(!nb_stop_requested(&stop));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("virtio_console");
	TCase *tc = tcase_create("virtio_console");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ports_are_announced_and_named);
	tcase_add_test(tc, hostile_control_messages);
	tcase_add_test(tc, output_with_back_pressure);
	tcase_add_test(tc, input_then_eof);
	tcase_add_test(tc, signal_port);
	tcase_add_test(tc, output_reader_gone_stops_the_vm);
	tcase_add_test(tc, output_write_error_is_an_error);
	tcase_add_test(tc, drain_gives_up_on_a_stop_signal);
	tcase_add_test(tc, output_to_a_nonblocking_fd);
	suite_add_tcase(s, tc);
	TCase *exit_tc = tcase_create("at exit, stdout on fd 1");
	tcase_add_checked_fixture(exit_tc, setup_on_stdout, teardown);
	tcase_add_test(exit_tc, drain_under_the_main_filter);
	suite_add_tcase(s, exit_tc);
	TCase *spec_tc = tcase_create("a clone's spec, then -i");
	tcase_add_checked_fixture(spec_tc, setup_spec_first, teardown_spec_first);
	tcase_add_test(spec_tc, spec_then_stdin);
	suite_add_tcase(s, spec_tc);
	return nb_unit_run(s);
}
