/* libFuzzer: nestbox-init's reader of the signal port (common/sigmsg.h) on
 * a byte stream the fuzzer writes, fed in pieces whose sizes it picks too.
 * Whatever the bytes, every message it yields must be one the guest may act
 * on (an allowed signal, a bounded window size, a memory limit in range, a
 * clone's entropy, a clock in range, a restore's unicast MAC, address
 * with a prefix 1..32, non-zero gateway or nameserver), it must never hold more than its
 * buffer, and it must always make progress.
 *
 * Covers: common/sigmsg.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The codec is a single file outside the fuzz tier's library. */
#include "common/sigmsg.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A restore's network message (abi.h) as nestbox-init may apply it. */
static bool net_ok(const struct nb_sigmsg *m)
{
	switch (m->type) {
	case NB_SIGMSG_NET_MAC:
		return m->value && !(m->value >> 48) && !(m->value & 1);
	case NB_SIGMSG_NET_ADDR:
		return (uint32_t)m->value && (m->value >> 32) >= 1 && (m->value >> 32) <= 32;
	case NB_SIGMSG_NET_GATEWAY:
	case NB_SIGMSG_NET_DNS:
		return m->value && m->value <= UINT32_MAX;
	case NB_SIGMSG_NET_APPLY:
		return m->value == 0;
	default:
		return true;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nb_sigmsg_reader r = { .len = 0 };
	size_t off = 1;

	if (size < 1)
		return 0;
	while (off < size) {
		size_t room, chunk = 1 + (data[off - 1] % 13);
		uint8_t *space = nb_sigmsg_reader_space(&r, &room);
		struct nb_sigmsg m;
		struct nb_err err;
		int rc;

		if (chunk > size - off)
			chunk = size - off;
		if (chunk > room)
			abort(); /* a whole message always fits once the rest is consumed */
		memcpy(space, data + off, chunk);
		nb_sigmsg_reader_add(&r, chunk);
		off += chunk;
		while ((rc = nb_sigmsg_reader_next(&r, &m, &err)) != 0) {
			if (rc > 0 && m.type == NB_SIGMSG_SIGNAL && !nb_sigmsg_signal_ok(m.signo))
				abort();
			if (rc > 0 && m.type == NB_SIGMSG_WINSIZE &&
			    (m.rows < 1 || m.rows > NB_WINSIZE_MAX || m.cols < 1 ||
			     m.cols > NB_WINSIZE_MAX))
				abort();
			if (rc > 0 && m.type == NB_SIGMSG_MEMORY && !nb_sigmsg_memory_ok(m.memory))
				abort();
			if (rc > 0 && m.type == NB_SIGMSG_CLOCK &&
			    (m.value == 0 || m.value > (uint64_t)INT64_MAX))
				abort();
			if (rc > 0 && !net_ok(&m))
				abort();
			if (rc > 0 && m.type != NB_SIGMSG_SIGNAL && m.type != NB_SIGMSG_WINSIZE &&
			    m.type != NB_SIGMSG_START && m.type != NB_SIGMSG_MEMORY &&
			    m.type != NB_SIGMSG_ENTROPY && m.type != NB_SIGMSG_CLOCK &&
			    (m.type < NB_SIGMSG_NET_MAC || m.type > NB_SIGMSG_NET_APPLY))
				abort();
		}
		if (r.len >= NB_SIGMSG_MAX) /* a complete frame left unconsumed */
			abort();
	}
	return 0;
}
