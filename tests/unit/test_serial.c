/* UART register behaviour: what the Linux 8250 driver probes and relies on. */
#include <check.h>
#include <fcntl.h>
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
	wr(IER, 0x02);                     /* enabling THRI with THR empty raises it */
	ck_assert(irq_level);
	ck_assert_uint_eq(rd(IIR) & 0x0f, 0x02);
	ck_assert(!irq_level);             /* reading IIR acknowledged it */
	ck_assert_uint_eq(rd(IIR) & 0x0f, 0x01);
	wr(THR, 'x');                      /* transmitted at once: THRE again */
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
	wr(LSR, 0x00);                          /* read-only */
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
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
