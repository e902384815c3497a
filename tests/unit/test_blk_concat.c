/* The layer disk: several files back to back at 4 KiB-aligned offsets,
 * read through nb_blk_concat_read and through virtio-blk requests. Ranges
 * that straddle files and gaps, run past the end or wrap are the cases a
 * hostile guest would try. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmm/virtio/blk.h"
#include "vmm/virtio/blk_concat.h"
#include "unit/unit.h"

/* Three layers: 5000 bytes (then a gap to 8192), 4096 bytes, 1 byte. */
static const size_t sizes[] = { 5000, 4096, 1 };
static const uint64_t starts[] = { 0, 8192, 12288 };
#define DISK_SIZE 16384u
#define NFILES (sizeof(sizes) / sizeof(sizes[0]))

static char paths[NFILES][32];
static struct nb_blk_concat cc;

/* Byte at disk offset off as the layout above makes it. */
static uint8_t expected(uint64_t off)
{
	for (size_t i = 0; i < NFILES; i++)
		if (off >= starts[i] && off < starts[i] + sizes[i])
			return (uint8_t)(0x10 * (i + 1) + (off - starts[i]) % 13);
	return 0;
}

static void setup(void)
{
	struct nb_err err = { 0 };
	char *list[NFILES];

	for (size_t i = 0; i < NFILES; i++) {
		uint8_t *buf = malloc(sizes[i]);
		int fd;

		snprintf(paths[i], sizeof(paths[i]), "/tmp/nestbox-cc-XXXXXX");
		fd = mkstemp(paths[i]);
		ck_assert_int_ge(fd, 0);
		for (size_t j = 0; j < sizes[i]; j++)
			buf[j] = expected(starts[i] + j);
		ck_assert_int_eq(write(fd, buf, sizes[i]), (ssize_t)sizes[i]);
		close(fd);
		free(buf);
		list[i] = paths[i];
	}
	ck_assert_msg(nb_blk_concat_open(&cc, list, NFILES, &err) == 0, "%s", err.msg);
}

static void teardown(void)
{
	nb_blk_concat_close(&cc);
	for (size_t i = 0; i < NFILES; i++)
		unlink(paths[i]);
}

static int read_at(uint64_t off, uint8_t *buf, size_t len)
{
	struct iovec iov = { buf, len };

	return nb_blk_concat_read(&cc, &iov, 1, off);
}

START_TEST(layout)
{
	ck_assert_uint_eq(cc.n, NFILES);
	ck_assert_uint_eq(cc.size, DISK_SIZE);
	for (size_t i = 0; i < NFILES; i++) {
		ck_assert_uint_eq(cc.parts[i].start, starts[i]);
		ck_assert_uint_eq(cc.parts[i].len, sizes[i]);
	}
}
END_TEST

/* Every byte of the disk, read in pieces that cross every boundary. */
START_TEST(whole_disk_any_split)
{
	static uint8_t buf[DISK_SIZE];
	const size_t steps[] = { 1, 7, 512, 4095, 5001, DISK_SIZE };

	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		memset(buf, 0xee, sizeof(buf));
		for (uint64_t off = 0; off < DISK_SIZE; off += steps[s]) {
			size_t len = DISK_SIZE - off < steps[s] ? DISK_SIZE - off : steps[s];
			ck_assert_int_eq(read_at(off, buf + off, len), 0);
		}
		for (uint64_t off = 0; off < DISK_SIZE; off++)
			ck_assert_msg(buf[off] == expected(off),
				      "step %zu: byte %llu is %u, want %u", steps[s],
				      (unsigned long long)off, buf[off], expected(off));
	}
}
END_TEST

/* One request whose segments straddle layer 0's end, the gap and layer 1. */
START_TEST(straddle_segments)
{
	uint8_t a[3000], b[2500];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };

	ck_assert_int_eq(nb_blk_concat_read(&cc, iov, 2, 4000), 0);
	for (size_t i = 0; i < sizeof(a); i++)
		ck_assert_uint_eq(a[i], expected(4000 + i));
	for (size_t i = 0; i < sizeof(b); i++)
		ck_assert_uint_eq(b[i], expected(7000 + i));
}
END_TEST

/* The whole disk as one request of many segments (a guest's request has
 * one per page): more than one batch of reads, empty segments among them,
 * spans that end inside a segment. */
START_TEST(many_segments)
{
	static uint8_t buf[DISK_SIZE];
	struct iovec iov[300];
	size_t off = 0;
	unsigned n;

	memset(buf, 0xee, sizeof(buf));
	for (n = 0; n < 300 && off < DISK_SIZE; n++) {
		size_t len = n % 5 == 4 ? 0 : 1 + (n * 37) % 97;

		if (len > DISK_SIZE - off || n == 299) /* the last takes the rest */
			len = DISK_SIZE - off;
		iov[n] = (struct iovec){ buf + off, len };
		off += len;
	}
	ck_assert_uint_gt(n, 128);
	ck_assert_int_eq(nb_blk_concat_read(&cc, iov, n, 0), 0);
	for (off = 0; off < DISK_SIZE; off++)
		ck_assert_msg(buf[off] == expected(off), "byte %zu is %u, want %u", off, buf[off],
			      expected(off));
}
END_TEST

START_TEST(past_the_end)
{
	uint8_t buf[4096];
	struct iovec wrap[2] = { { buf, 1 }, { buf, SIZE_MAX } };

	ck_assert_int_eq(read_at(DISK_SIZE - 1, buf, 1), 0);
	ck_assert_uint_eq(buf[0], 0);
	ck_assert_int_eq(read_at(DISK_SIZE, buf, 0), 0);
	ck_assert_int_eq(read_at(DISK_SIZE, buf, 1), -1);
	ck_assert_int_eq(read_at(DISK_SIZE - 100, buf, 101), -1);
	ck_assert_int_eq(read_at(UINT64_MAX, buf, 1), -1);
	ck_assert_int_eq(read_at(UINT64_MAX - 10, buf, 4096), -1);
	/* The second segment would wrap the offset past 2^64. */
	ck_assert_int_eq(nb_blk_concat_read(&cc, wrap, 2, 0), -1);
}
END_TEST

/* A file that shrank under us reads short: an error, not stale bytes. */
START_TEST(shrunk_file)
{
	uint8_t buf[100];

	ck_assert_int_eq(truncate(paths[1], 10), 0);
	ck_assert_int_eq(read_at(8192, buf, 10), 0);
	ck_assert_int_eq(read_at(8192, buf, 100), -1);
}
END_TEST

START_TEST(open_rejects)
{
	struct nb_blk_concat c2;
	struct nb_err err = { 0 };
	char *bad[] = { paths[0], "/nonexistent/layer" };
	char *dir[] = { "/tmp" };
	char *many[NB_MAX_LAYERS + 1];

	ck_assert_int_eq(nb_blk_concat_open(&c2, bad, 2, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/layer"));
	ck_assert_uint_eq(c2.n, 0);
	ck_assert_int_eq(nb_blk_concat_open(&c2, dir, 1, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a regular"));
	for (size_t i = 0; i < NB_MAX_LAYERS + 1; i++)
		many[i] = paths[0];
	ck_assert_int_eq(nb_blk_concat_open(&c2, many, NB_MAX_LAYERS + 1, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "128 layers"));
	ck_assert_int_eq(nb_blk_concat_open(&c2, many, 0, &err), -1);
	/* The most layers allowed open and lay out one after another. */
	ck_assert_int_eq(nb_blk_concat_open(&c2, many, NB_MAX_LAYERS, &err), 0);
	ck_assert_uint_eq(c2.size, NB_MAX_LAYERS * 8192ull);
	nb_blk_concat_close(&c2);
}
END_TEST

/* ---- through virtio-blk requests ------------------------------------------- */

static struct nb_virtq_chain chain;
static uint8_t hdr[16], data[8192], status;

static void request(struct nb_blk *b, uint32_t type, uint64_t sector, uint32_t len)
{
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	memset(&chain, 0, sizeof(chain));
	chain.segs[0] = (struct nb_virtq_seg){ hdr, sizeof(hdr) };
	chain.nread = 1;
	chain.read_len = sizeof(hdr);
	chain.segs[1] = (struct nb_virtq_seg){ data, len };
	if (type == VIRTIO_BLK_T_OUT) {
		chain.nread++;
		chain.read_len += len;
	} else {
		chain.nwrite++;
		chain.write_len += len;
	}
	chain.segs[2] = (struct nb_virtq_seg){ &status, 1 };
	chain.nwrite++;
	chain.write_len += 1;
	status = 0xff;
	nb_blk_handle(b, &chain);
}

START_TEST(virtio_requests)
{
	struct nb_blk_opts opts = { .read_only = true, .serial = NB_LAYER_SERIAL };
	struct nb_blk b = { .fd = -1, .concat = &cc };

	nb_blk_init(&b, cc.size, &opts, false);
	ck_assert_uint_eq(b.capacity, DISK_SIZE / 512);
	request(&b, VIRTIO_BLK_T_IN, 9, 8192); /* 4608..12800: layer 0, gap, layer 1, layer 2 */
	ck_assert_uint_eq(status, VIRTIO_BLK_S_OK);
	for (size_t i = 0; i < 8192; i++)
		ck_assert_uint_eq(data[i], expected(4608 + i));
	request(&b, VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, 1024); /* one sector too far */
	ck_assert_uint_eq(status, VIRTIO_BLK_S_IOERR);
	request(&b, VIRTIO_BLK_T_IN, UINT64_MAX, 512);
	ck_assert_uint_eq(status, VIRTIO_BLK_S_IOERR);
	request(&b, VIRTIO_BLK_T_OUT, 0, 512); /* the layer disk is read-only */
	ck_assert_uint_eq(status, VIRTIO_BLK_S_IOERR);
	request(&b, VIRTIO_BLK_T_FLUSH, 0, 0);
	ck_assert_uint_eq(status, VIRTIO_BLK_S_OK);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("blk_concat");
	TCase *tc = tcase_create("layer disk");

	tcase_set_timeout(tc, 60); /* every split of a disk: seconds under ASan on a busy host */

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, layout);
	tcase_add_test(tc, whole_disk_any_split);
	tcase_add_test(tc, straddle_segments);
	tcase_add_test(tc, many_segments);
	tcase_add_test(tc, past_the_end);
	tcase_add_test(tc, shrunk_file);
	tcase_add_test(tc, open_rejects);
	tcase_add_test(tc, virtio_requests);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
