/* libFuzzer: the 8250 UART (vmm/dev/serial.c) as the guest drives it:
 * register reads and writes at any offset and width, host input, flushes,
 * checked step by step against a reference model of the registers the
 * kernel's 8250 driver relies on: the transmitted byte stream, the
 * receive FIFO (loopback included), LSR, IIR priorities and the
 * interrupt line.
 * Covers: vmm/dev/serial.c */
#include <fcntl.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "vmm/dev/serial.h"

#define TX_MAX (64u << 10)

static struct nb_serial s;
static int line_level = -1; /* last level driven; -1 none yet */

/* The model. */
static struct {
	uint8_t ier, lcr, mcr;
	bool fifo_on, thr_pending;
	uint8_t rx[NB_SERIAL_RX_FIFO];
	unsigned rx_head, rx_count;
	uint8_t tx[TX_MAX];
	size_t tx_len, tx_seen;
	bool tx_off;
} m;

static void set_irq(void *opaque, unsigned irq, bool level)
{
	(void)opaque;
	FZ_CHECK(irq == NB_SERIAL_COM1_IRQ, "irq %u", irq);
	FZ_CHECK(line_level != (int)level, "line driven to %d twice", level);
	line_level = level;
}

static uint8_t model_iir(void)
{
	uint8_t fifo = m.fifo_on ? 0xc0 : 0;

	if ((m.ier & 1) && m.rx_count)
		return fifo | 0x04;
	if ((m.ier & 2) && m.thr_pending)
		return fifo | 0x02;
	return fifo | 0x01;
}

static void model_rx_push(uint8_t byte)
{
	if (m.rx_count < NB_SERIAL_RX_FIFO)
		m.rx[(m.rx_head + m.rx_count++) % NB_SERIAL_RX_FIFO] = byte;
}

static void model_write(unsigned reg, uint8_t v)
{
	bool dlab = m.lcr & 0x80;

	switch (reg) {
	case 0:
		if (dlab)
			break;
		if (m.mcr & 0x10) {
			model_rx_push(v);
		} else if (m.tx_len < TX_MAX) {
			m.tx[m.tx_len++] = v;
		} else {
			m.tx_off = true;
		}
		m.thr_pending = true;
		break;
	case 1:
		if (dlab)
			break;
		if (!(m.ier & 2) && (v & 2))
			m.thr_pending = true;
		m.ier = v & 0x0f;
		break;
	case 2:
		m.fifo_on = v & 1;
		if (v & 2)
			m.rx_count = 0;
		break;
	case 3:
		m.lcr = v;
		break;
	case 4:
		m.mcr = v & 0x1f;
		break;
	}
}

/* Check a read against the model (and advance it). */
static void model_read(unsigned reg, uint8_t got)
{
	bool dlab = m.lcr & 0x80;
	uint8_t want;

	switch (reg) {
	case 0:
		if (dlab)
			return; /* the divisor latch: any value the guest set */
		want = 0;
		if (m.rx_count) {
			want = m.rx[m.rx_head];
			m.rx_head = (m.rx_head + 1) % NB_SERIAL_RX_FIFO;
			m.rx_count--;
		}
		FZ_CHECK(got == want, "RBR %#x, model %#x", got, want);
		break;
	case 1:
		if (!dlab)
			FZ_CHECK(got == m.ier, "IER %#x, model %#x", got, m.ier);
		break;
	case 2:
		want = model_iir();
		FZ_CHECK(got == want, "IIR %#x, model %#x", got, want);
		if ((want & 0x0f) == 0x02)
			m.thr_pending = false;
		break;
	case 3:
		FZ_CHECK(got == m.lcr, "LCR %#x, model %#x", got, m.lcr);
		break;
	case 4:
		FZ_CHECK(got == m.mcr, "MCR %#x, model %#x", got, m.mcr);
		break;
	case 5:
		want = 0x60 | (m.rx_count ? 1 : 0);
		FZ_CHECK(got == want, "LSR %#x, model %#x", got, want);
		break;
	}
}

/* Transmitted bytes so far must be the model's, in order. */
static void check_output(int fd, bool all)
{
	static uint8_t buf[TX_MAX];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (m.tx_off)
			continue;
		FZ_CHECK(m.tx_seen + (size_t)n <= m.tx_len &&
				 !memcmp(buf, m.tx + m.tx_seen, (size_t)n),
			 "%zd output bytes at %zu differ from the %zu sent", n, m.tx_seen,
			 m.tx_len);
		m.tx_seen += (size_t)n;
	}
	if (all && !m.tx_off)
		FZ_CHECK(m.tx_seen == m.tx_len, "flushed %zu of %zu bytes", m.tx_seen, m.tx_len);
}

static void reg_access(struct fz *f, bool write)
{
	uint8_t pick = fz_u8(f);
	uint64_t off = pick & 0x80 ? fz_u64(f) : pick & 7u;
	uint32_t len = pick & 0x40 ? 1u << (pick >> 3 & 3) : 1;
	uint8_t data[8];

	memset(data, 0x77, sizeof(data));
	data[0] = fz_u8(f);
	uint8_t value = data[0];
	nb_serial_io(&s, off, data, len, write);
	if (len != 1 || off >= NB_SERIAL_NREGS) {
		if (!write)
			for (unsigned i = 0; i < len; i++)
				FZ_CHECK(data[i] == 0xff, "a bad access read %#x", data[i]);
		return;
	}
	if (write)
		model_write((unsigned)off, value);
	else
		model_read((unsigned)off, data[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	int p[2];

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		abort();
	memset(&m, 0, sizeof(m));
	m.mcr = 0x08;
	line_level = -1;
	nb_serial_init(&s, p[1], set_irq, NULL, NB_SERIAL_COM1_IRQ);
	for (unsigned steps = 0; fz_more(&f) && steps < 1024; steps++) {
		uint8_t op = fz_u8(&f);

		switch (op % 5) {
		case 0:
			reg_access(&f, true);
			break;
		case 1:
			reg_access(&f, false);
			break;
		case 2: {
			size_t len = fz_u8(&f) % (2 * NB_SERIAL_RX_FIFO), fit;
			const uint8_t *bytes = fz_bytes(&f, &len);

			fit = NB_SERIAL_RX_FIFO - m.rx_count < len ? NB_SERIAL_RX_FIFO - m.rx_count
								   : len;
			FZ_CHECK(nb_serial_rx(&s, bytes, len) == fit, "rx took other than %zu",
				 fit);
			for (size_t i = 0; i < fit; i++)
				model_rx_push(bytes[i]);
			break;
		}
		case 3:
			nb_serial_flush(&s);
			check_output(p[0], true);
			break;
		case 4: { /* a burst of THR writes, as a string OUT (rep outsb) makes */
			unsigned n = fz_u16(&f) % (2 * NB_SERIAL_TX_BATCH);
			uint8_t byte = fz_u8(&f);

			for (unsigned i = 0; i < n; i++) {
				nb_serial_io(&s, 0, &byte, 1, true);
				model_write(0, byte);
			}
			break;
		}
		}
		/* The line follows IIR; LSR and the output hold at every step. */
		bool level = !(model_iir() & 1);
		FZ_CHECK(level == s.irq_level &&
				 (line_level == (int)level || (line_level < 0 && !level)),
			 "line %d, model %d", line_level, level);
		check_output(p[0], false);
	}
	nb_serial_destroy(&s);
	check_output(p[0], true);
	close(p[0]);
	close(p[1]);
	return 0;
}
