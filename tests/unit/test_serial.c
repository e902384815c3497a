/* UART register behaviour: what the Linux 8250 driver probes and relies on. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/dev/serial.h"
#include "unit/unit.h"

enum { THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

static struct nb_serial uart;
static int out[2];
static int irq_changes;
static bool irq_level;

static void record_irq(void *opaque, unsigned irq, bool level)
{
	(void)opaque;
	ck_assert_uint_eq(irq, 4);
	irq_level = level;
	irq_changes++;
}

static void setup(void)
{
	ck_assert_int_eq(pipe2(out, O_NONBLOCK), 0);
	irq_changes = 0;
	irq_level = false;
	nb_serial_init(&uart, out[1], record_irq, NULL, 4);
}

static void teardown(void)
{
	nb_serial_destroy(&uart);
	close(out[0]);
	close(out[1]);
}

static uint8_t rd(unsigned reg)
{
	uint8_t v = 0;

	nb_serial_io(&uart, reg, &v, 1, false);
	return v;
}

static void wr(unsigned reg, uint8_t v)
{
	nb_serial_io(&uart, reg, &v, 1, true);
}

static size_t drain(char *buf, size_t cap)
{
	ssize_t n = read(out[0], buf, cap - 1);

	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

START_TEST(ier_holds_low_nibble)
{
	wr(IER, 0x00);
	ck_assert_uint_eq(rd(IER), 0x00);
	wr(IER, 0xff);
	ck_assert_uint_eq(rd(IER), 0x0f); /* the 8250 probe writes 0x0f and expects it back */
}
END_TEST

START_TEST(loopback_reflects_modem_lines)
{
	wr(MCR, 0x10 | 0x0a); /* LOOP | RTS | OUT2, as serial8250's autoconfig does */
	ck_assert_uint_eq(rd(MSR) & 0xf0, 0x90);
	wr(MCR, 0x10 | 0x05); /* LOOP | DTR | OUT1 */
	ck_assert_uint_eq(rd(MSR) & 0xf0, 0x60);
}
END_TEST

START_TEST(fifo_reported_in_iir)
{
	ck_assert_uint_eq(rd(IIR) & 0xc0, 0x00);
	wr(FCR, 0x01);
	ck_assert_uint_eq(rd(IIR) & 0xc0, 0xc0); /* 16550A */
}
END_TEST

START_TEST(scratch_and_divisor_latch)
{
	wr(SCR, 0xa5);
	ck_assert_uint_eq(rd(SCR), 0xa5);
	wr(LCR, 0x80); /* DLAB */
	wr(0, 0x01);
	wr(1, 0x02);
	ck_assert_uint_eq(rd(0), 0x01);
	ck_assert_uint_eq(rd(1), 0x02);
	wr(LCR, 0x03);
	ck_assert_uint_eq(rd(IER), 0x00); /* divisor writes did not touch IER */
}
END_TEST

START_TEST(transmit_batches_until_newline)
{
	char buf[64];

	wr(THR, 'h');
	wr(THR, 'i');
	ck_assert_uint_eq(drain(buf, sizeof(buf)), 0); /* still batched */
	wr(THR, '\n');
	ck_assert_uint_eq(drain(buf, sizeof(buf)), 3);
	ck_assert_str_eq(buf, "hi\n");
	ck_assert_uint_eq(rd(LSR) & 0x60, 0x60); /* THRE | TEMT */
}
END_TEST

START_TEST(end_of_burst_flushes)
{
	char buf[64];

	wr(IER, 0x02);
	wr(THR, '$');
	wr(THR, ' ');
	wr(IER, 0x00); /* driver stops transmitting: the prompt must show */
	ck_assert_uint_eq(drain(buf, sizeof(buf)), 2);
	ck_assert_str_eq(buf, "$ ");
}
END_TEST

START_TEST(thre_interrupt_cycle)
{
	ck_assert(!irq_level);
	wr(IER, 0x02); /* enabling THRI with THR empty raises it */
	ck_assert(irq_level);
	ck_assert_uint_eq(rd(IIR) & 0x0f, 0x02);
	ck_assert(!irq_level); /* reading IIR acknowledged it */
	ck_assert_uint_eq(rd(IIR) & 0x0f, 0x01);
	wr(THR, 'x'); /* transmitted at once: THRE again */
	ck_assert(irq_level);
	wr(IER, 0x00);
	ck_assert(!irq_level);
}
END_TEST

START_TEST(receive_raises_rdi_and_drains)
{
	const uint8_t input[] = "ab";

	wr(IER, 0x01);
	ck_assert_uint_eq(nb_serial_rx(&uart, input, 2), 2);
	ck_assert(irq_level);
	ck_assert_uint_eq(rd(LSR) & 0x01, 0x01);
	ck_assert_uint_eq(rd(IIR) & 0x0f, 0x04);
	ck_assert_uint_eq(rd(THR), 'a');
	ck_assert_uint_eq(rd(THR), 'b');
	ck_assert_uint_eq(rd(LSR) & 0x01, 0x00);
	ck_assert(!irq_level);
	ck_assert_uint_eq(rd(THR), 0); /* empty FIFO reads 0 */
}
END_TEST

START_TEST(receive_fifo_is_bounded)
{
	uint8_t flood[NB_SERIAL_RX_FIFO * 2];

	memset(flood, 'z', sizeof(flood));
	ck_assert_uint_eq(nb_serial_rx(&uart, flood, sizeof(flood)), NB_SERIAL_RX_FIFO);
	ck_assert_uint_eq(nb_serial_rx(&uart, flood, 1), 0);
	wr(FCR, 0x03); /* clear receive FIFO */
	ck_assert_uint_eq(rd(LSR) & 0x01, 0);
}
END_TEST

START_TEST(loopback_does_not_transmit)
{
	char buf[16];

	wr(MCR, 0x10);
	wr(THR, 'q');
	wr(THR, '\n');
	ck_assert_uint_eq(drain(buf, sizeof(buf)), 0);
	ck_assert_uint_eq(rd(THR), 'q'); /* came back on the receive side */
}
END_TEST

START_TEST(bad_accesses_are_harmless)
{
	uint8_t wide[4] = { 1, 2, 3, 4 };

	nb_serial_io(&uart, 0, wide, 4, false); /* 4-byte read: all ones */
	ck_assert_uint_eq(wide[0], 0xff);
	ck_assert_uint_eq(wide[3], 0xff);
	nb_serial_io(&uart, 9, wide, 1, true); /* outside the 8 registers */
	wr(LSR, 0x00);                         /* read-only */
	ck_assert_uint_eq(rd(LSR) & 0x60, 0x60);
}
END_TEST

START_TEST(full_batch_flushes)
{
	char buf[NB_SERIAL_TX_BATCH + 1];

	for (unsigned i = 0; i < NB_SERIAL_TX_BATCH; i++)
		wr(THR, 'a');
	ck_assert_uint_eq(drain(buf, sizeof(buf)), NB_SERIAL_TX_BATCH);
	ck_assert_uint_eq(uart.tx_bytes, NB_SERIAL_TX_BATCH);
}
END_TEST

/* Fill the (non-blocking) output pipe to the brim; returns the bytes in it. */
static size_t fill_pipe(void)
{
	static char junk[4096];
	size_t filled = 0;
	ssize_t n;

	while ((n = write(out[1], junk, sizeof(junk))) > 0)
		filled += (size_t)n;
	while ((n = write(out[1], junk, 1)) > 0)
		filled += (size_t)n;
	return filled;
}

struct slow_reader {
	size_t skip, got;
	char buf[64];
};

/* Read the pipe slowly: skip bytes of filler, then keep up to 64 of text. */
static void *read_slowly(void *arg)
{
	struct slow_reader *r = arg;
	char chunk[512];

	while (r->got < sizeof(r->buf) - 1) {
		usleep(2000);
		ssize_t n = read(out[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (r->skip)
				r->skip--;
			else if (r->got < sizeof(r->buf) - 1)
				r->buf[r->got++] = chunk[i];
		}
		if (r->got && r->buf[r->got - 1] == '\n')
			break;
	}
	return NULL;
}

/* stdout is non-blocking (someone else's doing) and full: the UART waits
 * for the reader, nothing is dropped (issue 11). */
START_TEST(full_nonblocking_output_waits)
{
	struct slow_reader r = { .skip = fill_pipe() };
	pthread_t reader;
	const char *line = "every byte\n";

	ck_assert_int_eq(pthread_create(&reader, NULL, read_slowly, &r), 0);
	for (const char *c = line; *c; c++)
		wr(THR, (uint8_t)*c);
	pthread_join(reader, NULL);
	r.buf[r.got] = '\0';
	ck_assert_str_eq(r.buf, line);
}
END_TEST

/* The reader went away: the VM is stopped, 141 with a message, and the
 * UART goes on without writing. */
START_TEST(reader_gone_stops_the_vm)
{
	struct nb_stop stop;
	struct nb_err err;

	ck_assert_int_eq(nb_stop_init(&stop, &err), 0);
	uart.stop = &stop;
	signal(SIGPIPE, SIG_IGN);
	close(out[0]);
	out[0] = open("/dev/null", O_RDONLY); /* for teardown */
	wr(THR, 'x');
	wr(THR, '\n');
	ck_assert(nb_stop_requested(&stop));
	ck_assert_int_eq(stop.lost_status, 141);
	ck_assert_ptr_nonnull(strstr(stop.lost_msg, "EPIPE"));
	wr(THR, 'y');
	wr(THR, '\n');
	ck_assert_uint_eq(uart.tx_len, 0);
	nb_stop_destroy(&stop);
}
END_TEST

/* At exit the main thread writes what a stopped vCPU left, waiting with the
 * given function; without one, only what fits now. */
static int waits;
static bool count_wait(void *opaque, int fd)
{
	(void)opaque;
	(void)fd;
	return ++waits < 3;
}

START_TEST(drain_writes_the_rest)
{
	char buf[64];

	uart.tx_len = 5;
	memcpy(uart.tx, "rest\n", 5);
	nb_serial_drain(&uart, count_wait, NULL);
	ck_assert_uint_eq(drain(buf, sizeof(buf)), 5);
	ck_assert_str_eq(buf, "rest\n");
	ck_assert_int_eq(waits, 1);
	fill_pipe();
	uart.tx_len = 5;
	nb_serial_drain(&uart, NULL, NULL); /* full: nothing fits now */
	ck_assert_uint_eq(uart.tx_len, 5);
	nb_serial_drain(&uart, count_wait, NULL); /* writes fail (EAGAIN) until the wait gives up */
	ck_assert_uint_eq(uart.tx_len, 5);
	ck_assert_int_eq(waits, 3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("serial");
	TCase *tc = tcase_create("8250");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ier_holds_low_nibble);
	tcase_add_test(tc, loopback_reflects_modem_lines);
	tcase_add_test(tc, fifo_reported_in_iir);
	tcase_add_test(tc, scratch_and_divisor_latch);
	tcase_add_test(tc, transmit_batches_until_newline);
	tcase_add_test(tc, end_of_burst_flushes);
	tcase_add_test(tc, thre_interrupt_cycle);
	tcase_add_test(tc, receive_raises_rdi_and_drains);
	tcase_add_test(tc, receive_fifo_is_bounded);
	tcase_add_test(tc, loopback_does_not_transmit);
	tcase_add_test(tc, bad_accesses_are_harmless);
	tcase_add_test(tc, full_batch_flushes);
	tcase_add_test(tc, full_nonblocking_output_waits);
	tcase_add_test(tc, reader_gone_stops_the_vm);
	tcase_add_test(tc, drain_writes_the_rest);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
