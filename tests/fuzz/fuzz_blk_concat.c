/* libFuzzer: reads of the layer disk (vmm/virtio/blk_concat.c) at
 * fuzzer-chosen offsets and segment lengths, checked against a model of
 * the layout: a read inside the disk returns exactly the files' bytes and
 * zeros in the gaps; anything reaching past the end (or wrapping) fails
 * and writes nothing past its buffers.
 *
 * Covers: vmm/virtio/blk_concat.c */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/virtio/blk_concat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t sizes[] = { 5000, 1, 8209, 4096 };
#define NFILES (sizeof(sizes) / sizeof(sizes[0]))
#define MAX_SEGS 80 /* past one batch of reads (64 segments) */
#define SEG_MAX 20000u

static struct nb_blk_concat cc;
static uint64_t starts[NFILES];

static uint8_t byte_of(size_t file, uint64_t i)
{
	return (uint8_t)(file * 61 + i * 7 + 1);
}

static uint8_t model(uint64_t off)
{
	for (size_t i = 0; i < NFILES; i++)
		if (off >= starts[i] && off - starts[i] < sizes[i])
			return byte_of(i, off - starts[i]);
	return 0;
}

static void setup(void)
{
	static char names[NFILES][64];
	char *paths[NFILES];
	struct nb_err err = { 0 };
	uint64_t next = 0;

	for (size_t i = 0; i < NFILES; i++) {
		int fd = memfd_create("layer", 0);
		uint8_t *buf = malloc(sizes[i]);

		if (fd < 0 || !buf)
			abort();
		for (size_t j = 0; j < sizes[i]; j++)
			buf[j] = byte_of(i, j);
		if (write(fd, buf, sizes[i]) != (ssize_t)sizes[i])
			abort();
		free(buf);
		snprintf(names[i], sizeof(names[i]), "/proc/self/fd/%d", fd);
		paths[i] = names[i];
		starts[i] = next;
		next = (next + sizes[i] + 4095) / 4096 * 4096;
	}
	if (nb_blk_concat_open(&cc, paths, NFILES, &err) < 0 || cc.size != next)
		abort();
}

/* Input: u64 offset, u8 segment count, then u16 length per segment. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t bufs[MAX_SEGS][SEG_MAX + 16];
	struct iovec iov[MAX_SEGS];
	uint64_t off, total = 0;
	unsigned n;
	bool inside;
	int rc;

	if (!cc.n)
		setup();
	if (size < 9)
		return 0;
	memcpy(&off, data, 8);
	/* Half the inputs near the disk, so the in-range paths get explored. */
	if (off & 1)
		off = (off >> 1) % (cc.size + 8192);
	n = data[8] % (MAX_SEGS + 1);
	for (unsigned i = 0; i < n; i++) {
		uint16_t len = 0;

		if (size >= 11 + 2 * i)
			memcpy(&len, data + 9 + 2 * i, 2);
		iov[i] = (struct iovec){ bufs[i], len % (SEG_MAX + 1) };
		memset(bufs[i], 0xa5, sizeof(bufs[i]));
		total += iov[i].iov_len;
	}
	inside = off <= cc.size && total <= cc.size - off;
	rc = nb_blk_concat_read(&cc, iov, n, off);
	if ((rc == 0) != inside)
		abort();
	for (unsigned i = 0; i < n; i++) {
		for (size_t j = iov[i].iov_len; j < sizeof(bufs[i]); j++)
			if (bufs[i][j] != 0xa5) /* nothing past the segment */
				abort();
		if (rc == 0)
			for (size_t j = 0; j < iov[i].iov_len; j++, off++)
				if (bufs[i][j] != model(off))
					abort();
	}
	return 0;
}
