#include "serial.h"

#include <errno.h>
#include <poll.h>
#include <time.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* Register offsets and bits (names after Linux's <linux/serial_reg.h>). */
enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };
#define IER_RDI 0x01
#define IER_THRI 0x02
#define IER_MASK 0x0f
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO_ENABLED 0xc0
#define FCR_ENABLE_FIFO 0x01
#define FCR_CLEAR_RCVR 0x02
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

void nb_serial_init(struct nb_serial *s, int out_fd, nb_irq_set *set_irq, void *irq_opaque,
		    unsigned irq)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->set_irq = set_irq;
	s->irq_opaque = irq_opaque;
	s->irq = irq;
	s->mcr = 0x08; /* OUT2 */
	s->dll = 0x0c; /* 9600 baud until the guest says otherwise */
}

void nb_serial_destroy(struct nb_serial *s)
{
	nb_serial_drain(s, NULL, NULL); /* what fits now; the rest is dropped */
	pthread_mutex_destroy(&s->lock);
}

static bool stopping(struct nb_serial *s)
{
	return s->stop && nb_stop_requested(s->stop);
}

/* One write of the batch's head. Returns 0 when something was written (or
 * the output is gone for good: the batch is dropped and the VM stopped),
 * else EINTR or EAGAIN: nothing was written, try again. */
static int write_once_locked(struct nb_serial *s)
{
	ssize_t n = write(s->out_fd, s->tx, s->tx_len);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return errno;
	if (n <= 0) {
		s->out_dead = true;
		if (s->stop)
			nb_stop_write_failed(s->stop, "stdout", n < 0 ? errno : EIO);
		n = (ssize_t)s->tx_len;
	}
	memmove(s->tx, s->tx + n, s->tx_len - (size_t)n);
	s->tx_len -= (size_t)n;
	return 0;
}

/* The batch's bytes go nowhere: no output fd, or it failed. */
static bool discarding(struct nb_serial *s)
{
	if (s->out_fd >= 0 && !s->out_dead)
		return false;
	s->tx_len = 0;
	return true;
}

/* On the writing vCPU, the fd was non-blocking and full (EAGAIN): wait
 * until it takes output, unless a stop is latched. Signals stay blocked
 * until ppoll sleeps, so a kick cannot slip in between the check and the
 * wait. False: stopping (the batch waits for nb_serial_drain). */
static bool wait_on_vcpu(struct nb_serial *s)
{
	struct pollfd p = { .fd = s->out_fd, .events = POLLOUT };
	sigset_t all, old;
	bool stop;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	stop = stopping(s);
	if (!stop)
		ppoll(&p, 1, NULL, &old);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return !stop;
}

/* Write the batch out on the vCPU that filled it: a slow reader holds the
 * guest's UART back (blocking write), and a kick once a stop is latched
 * (EINTR) leaves what is left for nb_serial_drain. */
static void flush_locked(struct nb_serial *s)
{
	while (!discarding(s) && s->tx_len) {
		int again = write_once_locked(s);

		if ((again == EINTR && stopping(s)) || (again == EAGAIN && !wait_on_vcpu(s)))
			break;
	}
}

void nb_serial_flush(struct nb_serial *s)
{
	pthread_mutex_lock(&s->lock);
	flush_locked(s);
	pthread_mutex_unlock(&s->lock);
}

void nb_serial_drain(struct nb_serial *s, nb_serial_wait *wait, void *opaque)
{
	pthread_mutex_lock(&s->lock);
	while (!discarding(s) && s->tx_len) {
		struct pollfd p = { .fd = s->out_fd, .events = POLLOUT };

		if (wait ? !wait(opaque, s->out_fd)
			 : ppoll(&p, 1, &(struct timespec){ 0 }, NULL) != 1)
			break;
		write_once_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
}

static uint8_t iir_locked(const struct nb_serial *s)
{
	uint8_t fifo = (s->fcr & FCR_ENABLE_FIFO) ? IIR_FIFO_ENABLED : 0;

	/* Priority: received data above transmitter empty. */
	if ((s->ier & IER_RDI) && s->rx_count)
		return fifo | IIR_RDI;
	if ((s->ier & IER_THRI) && s->thr_irq_pending)
		return fifo | IIR_THRI;
	return fifo | IIR_NO_INT;
}

static void update_irq_locked(struct nb_serial *s)
{
	bool level = !(iir_locked(s) & IIR_NO_INT);

	if (level != s->irq_level && s->set_irq)
		s->set_irq(s->irq_opaque, s->irq, level);
	s->irq_level = level;
}

static void transmit_locked(struct nb_serial *s, uint8_t byte)
{
	if (s->mcr & MCR_LOOP) {
		if (s->rx_count < NB_SERIAL_RX_FIFO)
			s->rx[(s->rx_head + s->rx_count++) % NB_SERIAL_RX_FIFO] = byte;
	} else if (s->tx_len < NB_SERIAL_TX_BATCH) { /* full only once stopping */
		s->tx[s->tx_len++] = byte;
		s->tx_bytes++;
		if (byte == '\n' || s->tx_len == NB_SERIAL_TX_BATCH)
			flush_locked(s);
	}
	/* The transmitter drains instantly, so THR is empty again at once. */
	s->thr_irq_pending = true;
}

static uint8_t rx_pop_locked(struct nb_serial *s)
{
	uint8_t byte;

	if (!s->rx_count)
		return 0;
	byte = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % NB_SERIAL_RX_FIFO;
	s->rx_count--;
	return byte;
}

static uint8_t msr_locked(const struct nb_serial *s)
{
	if (!(s->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	/* Loopback: modem outputs feed the modem inputs (DTR->DSR, RTS->CTS,
	 * OUT1->RI, OUT2->DCD); the kernel's probe checks exactly this. */
	return (uint8_t)(((s->mcr & 0x01) << 5) | ((s->mcr & 0x02) << 3) | ((s->mcr & 0x04) << 4) |
			 ((s->mcr & 0x08) << 4));
}

static void write_ier_locked(struct nb_serial *s, uint8_t value)
{
	bool thri_was_on = s->ier & IER_THRI;

	s->ier = value & IER_MASK;
	/* Enabling THRI while THR is empty raises the interrupt at once. */
	if (!thri_was_on && (s->ier & IER_THRI))
		s->thr_irq_pending = true;
	/* Clearing THRI ends a transmit burst: a good moment to flush. */
	if (thri_was_on && !(s->ier & IER_THRI))
		flush_locked(s);
}

static void reg_write_locked(struct nb_serial *s, uint64_t reg, uint8_t value)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case RBR_THR:
		if (dlab)
			s->dll = value;
		else
			transmit_locked(s, value);
		break;
	case IER:
		if (dlab)
			s->dlm = value;
		else
			write_ier_locked(s, value);
		break;
	case IIR_FCR:
		s->fcr = value & (FCR_ENABLE_FIFO | 0xc0);
		if (value & FCR_CLEAR_RCVR)
			s->rx_count = 0;
		break;
	case LCR:
		s->lcr = value;
		break;
	case MCR:
		s->mcr = value & MCR_MASK;
		break;
	case SCR:
		s->scr = value;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
}

static uint8_t reg_read_locked(struct nb_serial *s, uint64_t reg)
{
	bool dlab = s->lcr & LCR_DLAB;
	uint8_t value;

	switch (reg) {
	case RBR_THR:
		return dlab ? s->dll : rx_pop_locked(s);
	case IER:
		return dlab ? s->dlm : s->ier;
	case IIR_FCR:
		value = iir_locked(s);
		/* Reading IIR acknowledges a THRE interrupt it reports. */
		if ((value & 0x0f) == IIR_THRI)
			s->thr_irq_pending = false;
		return value;
	case LCR:
		return s->lcr;
	case MCR:
		return s->mcr;
	case LSR:
		return LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
	case MSR:
		return msr_locked(s);
	default:
		return s->scr;
	}
}

void nb_serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct nb_serial *s = opaque;

	if (len != 1 || offset >= NB_SERIAL_NREGS) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (is_write) {
		if (offset == RBR_THR && !(s->lcr & LCR_DLAB))
			s->thr_irq_pending = false;   /* writing THR clears it... */
		reg_write_locked(s, offset, data[0]); /* ...and transmit sets it again */
	} else {
		data[0] = reg_read_locked(s, offset);
	}
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
}

size_t nb_serial_rx(struct nb_serial *s, const uint8_t *buf, size_t len)
{
	size_t queued = 0;

	pthread_mutex_lock(&s->lock);
	while (queued < len && s->rx_count < NB_SERIAL_RX_FIFO) {
		s->rx[(s->rx_head + s->rx_count) % NB_SERIAL_RX_FIFO] = buf[queued++];
		s->rx_count++;
	}
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
	return queued;
}

void nb_serial_save(struct nb_serial *s, struct nb_serial_state *st)
{
	pthread_mutex_lock(&s->lock);
	*st = (struct nb_serial_state){ .ier = s->ier,
					.lcr = s->lcr,
					.mcr = s->mcr,
					.scr = s->scr,
					.dll = s->dll,
					.dlm = s->dlm,
					.fcr = s->fcr,
					.thr_irq_pending = s->thr_irq_pending,
					.irq_level = s->irq_level,
					.rx_head = s->rx_head,
					.rx_count = s->rx_count };
	memcpy(st->rx, s->rx, sizeof(st->rx));
	pthread_mutex_unlock(&s->lock);
}

int nb_serial_load(struct nb_serial *s, const struct nb_serial_state *st, struct nb_err *err)
{
	if (st->rx_head >= NB_SERIAL_RX_FIFO || st->rx_count > NB_SERIAL_RX_FIFO ||
	    st->thr_irq_pending > 1 || st->irq_level > 1 || (st->ier & ~IER_MASK) ||
	    (st->mcr & ~MCR_MASK))
		return nb_err_set(err, 0, "snapshot: the UART's state is malformed");
	pthread_mutex_lock(&s->lock);
	s->ier = st->ier;
	s->lcr = st->lcr;
	s->mcr = st->mcr;
	s->scr = st->scr;
	s->dll = st->dll;
	s->dlm = st->dlm;
	s->fcr = st->fcr;
	s->thr_irq_pending = st->thr_irq_pending;
	s->irq_level = st->irq_level; /* the IOAPIC's pin state came with the irqchip */
	s->rx_head = st->rx_head;
	s->rx_count = st->rx_count;
	memcpy(s->rx, st->rx, sizeof(s->rx));
	pthread_mutex_unlock(&s->lock);
	return 0;
}
