#include "common/sigmsg.h"

#include <signal.h>
#include <string.h>

#include "common/le.h"

static const int allowed_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH
};

bool nb_sigmsg_signal_ok(int signo)
{
	for (size_t i = 0; i < sizeof(allowed_signals) / sizeof(allowed_signals[0]); i++)
		if (allowed_signals[i] == signo)
			return true;
	return false;
}

bool nb_sigmsg_memory_ok(uint64_t bytes)
{
	return bytes >= NB_SPEC_MIN_MEMORY && bytes <= NB_SIGMSG_MEMORY_MAX && bytes % 4096 == 0;
}

/* Payload bytes of each type. */
static size_t payload_len(uint8_t type)
{
	return type == NB_SIGMSG_MEMORY || type == NB_SIGMSG_ENTROPY || type == NB_SIGMSG_CLOCK ||
			       type == NB_SIGMSG_NET_MAC || type == NB_SIGMSG_NET_ADDR
		       ? 8
		       : 4;
}

static bool known_type(uint8_t type)
{
	return type == NB_SIGMSG_SIGNAL || type == NB_SIGMSG_WINSIZE || type == NB_SIGMSG_START ||
	       type == NB_SIGMSG_MEMORY || type == NB_SIGMSG_ENTROPY || type == NB_SIGMSG_CLOCK ||
	       (type >= NB_SIGMSG_NET_MAC && type <= NB_SIGMSG_NET_APPLY);
}

/* A NET_* message's value (abi.h): NULL if it is one, else why not. */
static const char *net_value_bad(uint8_t type, uint64_t v)
{
	switch (type) {
	case NB_SIGMSG_NET_MAC:
		if (v >> 48)
			return "a MAC with non-zero padding";
		if (!v || (v & 1)) /* byte 0, the first on the wire, is the low one */
			return "a zero or multicast MAC";
		return NULL;
	case NB_SIGMSG_NET_ADDR:
		if (!(uint32_t)v)
			return "address 0.0.0.0";
		if ((v >> 32) < 1 || (v >> 32) > 32)
			return "a prefix length not 1..32";
		return NULL;
	case NB_SIGMSG_NET_GATEWAY:
	case NB_SIGMSG_NET_DNS:
		return v && v <= UINT32_MAX ? NULL : "address 0.0.0.0";
	default: /* NET_APPLY */
		return v ? "an apply message with a payload" : NULL;
	}
}

static bool winsize_ok(unsigned rows, unsigned cols)
{
	return rows >= 1 && rows <= NB_WINSIZE_MAX && cols >= 1 && cols <= NB_WINSIZE_MAX;
}

size_t nb_sigmsg_encode(const struct nb_sigmsg *m, uint8_t *buf)
{
	uint8_t *payload = buf + NB_SIGMSG_HEADER;

	memset(buf, 0, NB_SIGMSG_MAX);
	buf[0] = NB_SIGMSG_MAGIC;
	buf[1] = m->type;
	buf[2] = (uint8_t)payload_len(m->type);
	switch (m->type) {
	case NB_SIGMSG_SIGNAL:
		if (!nb_sigmsg_signal_ok(m->signo))
			return 0;
		nb_put_le32(payload, (uint32_t)m->signo);
		break;
	case NB_SIGMSG_START:
		break;
	case NB_SIGMSG_WINSIZE:
		if (!winsize_ok(m->rows, m->cols))
			return 0;
		nb_put_le16(payload, m->rows);
		nb_put_le16(payload + 2, m->cols);
		break;
	case NB_SIGMSG_MEMORY:
		if (!nb_sigmsg_memory_ok(m->memory))
			return 0;
		nb_put_le64(payload, m->memory);
		break;
	case NB_SIGMSG_CLOCK:
		if (m->value == 0 || m->value > INT64_MAX)
			return 0;
		nb_put_le64(payload, m->value);
		break;
	case NB_SIGMSG_ENTROPY:
		nb_put_le64(payload, m->value);
		break;
	case NB_SIGMSG_NET_MAC:
	case NB_SIGMSG_NET_ADDR:
		if (net_value_bad(m->type, m->value))
			return 0;
		nb_put_le64(payload, m->value);
		break;
	case NB_SIGMSG_NET_GATEWAY:
	case NB_SIGMSG_NET_DNS:
	case NB_SIGMSG_NET_APPLY:
		if (net_value_bad(m->type, m->value))
			return 0;
		nb_put_le32(payload, (uint32_t)m->value);
		break;
	default:
		return 0;
	}
	return NB_SIGMSG_HEADER + payload_len(m->type);
}

/* A whole frame of the right shape: check its type and values. */
static int decode_frame(const uint8_t *buf, size_t plen, struct nb_sigmsg *m, struct nb_err *err)
{
	const uint8_t *payload = buf + NB_SIGMSG_HEADER;

	memset(m, 0, sizeof(*m));
	m->type = buf[1];
	if (!known_type(m->type))
		return nb_err_set(err, 0, "signal port: unknown message type %u", m->type);
	if (plen != payload_len(m->type))
		return nb_err_set(err, 0,
				  "signal port: message type %u with %zu payload bytes, "
				  "expected %zu",
				  m->type, plen, payload_len(m->type));
	if (m->type == NB_SIGMSG_MEMORY) {
		m->memory = nb_get_le64(payload);
		if (!nb_sigmsg_memory_ok(m->memory))
			return nb_err_set(
				err, 0,
				"signal port: memory limit %llu is not a multiple of 4096 "
				"from %u to %llu",
				(unsigned long long)m->memory, NB_SPEC_MIN_MEMORY,
				(unsigned long long)NB_SIGMSG_MEMORY_MAX);
		return 0;
	}
	if (m->type == NB_SIGMSG_ENTROPY || m->type == NB_SIGMSG_CLOCK) {
		m->value = nb_get_le64(payload);
		if (m->type == NB_SIGMSG_CLOCK && (m->value == 0 || m->value > INT64_MAX))
			return nb_err_set(err, 0, "signal port: clock %llu ns is not 1..2^63-1",
					  (unsigned long long)m->value);
		return 0;
	}
	if (m->type >= NB_SIGMSG_NET_MAC && m->type <= NB_SIGMSG_NET_APPLY) {
		const char *bad;

		m->value = plen == 8 ? nb_get_le64(payload) : nb_get_le32(payload);
		if ((bad = net_value_bad(m->type, m->value)))
			return nb_err_set(err, 0, "signal port: network message type %u: %s",
					  m->type, bad);
		return 0;
	}
	if (m->type == NB_SIGMSG_SIGNAL) {
		uint32_t signo = nb_get_le32(payload);

		if (signo > 64 || !nb_sigmsg_signal_ok((int)signo))
			return nb_err_set(err, 0,
					  "signal port: signal %u is not one nestbox forwards",
					  signo);
		m->signo = (int)signo;
		return 0;
	}
	if (m->type == NB_SIGMSG_START)
		return nb_get_le32(payload) == 0
			       ? 0
			       : nb_err_set(err, 0, "signal port: start message with a payload");
	m->rows = nb_get_le16(payload);
	m->cols = nb_get_le16(payload + 2);
	if (!winsize_ok(m->rows, m->cols))
		return nb_err_set(err, 0, "signal port: window size %ux%u is not 1..%u each",
				  m->rows, m->cols, NB_WINSIZE_MAX);
	return 0;
}

int nb_sigmsg_decode(const uint8_t *buf, size_t len, struct nb_sigmsg *m, size_t *used,
		     struct nb_err *err)
{
	size_t plen;

	*used = 0;
	if (len == 0)
		return 0;
	if (buf[0] != NB_SIGMSG_MAGIC) {
		*used = 1;
		return nb_err_set(err, 0, "signal port: byte %#x where a message should start",
				  buf[0]);
	}
	if (len < NB_SIGMSG_HEADER)
		return 0;
	plen = buf[2];
	/* An impossible header costs one byte, not its claimed length: the
	 * real next message may start inside it. */
	if (plen > NB_SIGMSG_MAX_PAYLOAD || buf[3] != 0) {
		*used = 1;
		return nb_err_set(err, 0,
				  "signal port: bad header (payload %zu bytes, reserved %u)", plen,
				  buf[3]);
	}
	if (len < NB_SIGMSG_HEADER + plen)
		return 0;
	*used = NB_SIGMSG_HEADER + plen;
	return decode_frame(buf, plen, m, err) < 0 ? -1 : 1;
}

void nb_sigmsg_reader_add(struct nb_sigmsg_reader *r, size_t n)
{
	size_t room = sizeof(r->buf) - r->len;

	r->len += n < room ? n : room;
}

int nb_sigmsg_reader_next(struct nb_sigmsg_reader *r, struct nb_sigmsg *m, struct nb_err *err)
{
	size_t used = 0;
	int rc = nb_sigmsg_decode(r->buf, r->len, m, &used, err);

	if (used > r->len)
		used = r->len;
	memmove(r->buf, r->buf + used, r->len - used);
	r->len -= used;
	return rc;
}

uint64_t nb_sigmsg_mac_value(const uint8_t mac[6])
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 6; i++)
		v |= (uint64_t)mac[i] << (8 * i);
	return v;
}

void nb_sigmsg_mac_bytes(uint64_t value, uint8_t mac[6])
{
	for (unsigned i = 0; i < 6; i++)
		mac[i] = (uint8_t)(value >> (8 * i));
}
