/* virtio-blk request parsing and execution on a temporary image. */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "lib/vring.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/mmio.h"
#include "unit/unit.h"

#define DISK_SECTORS 128u

static char path[] = "/tmp/nestbox-blk-XXXXXX";
static struct nb_blk blk;
static struct nb_virtq_chain c;
static uint8_t hdr[16], data[4 * 512], status;

static void make_disk(void)
{
	int fd = mkstemp(path);
	uint8_t sector[512];

	ck_assert_int_ge(fd, 0);
	for (unsigned i = 0; i < DISK_SECTORS; i++) {
		memset(sector, (int)i, sizeof(sector));
		ck_assert_int_eq(write(fd, sector, sizeof(sector)), sizeof(sector));
	}
	close(fd);
}

static void open_disk(bool ro)
{
	struct nb_err err = { 0 };
	struct nb_blk_opts opts = { .read_only = ro, .serial = "nbvol0" };

	ck_assert_msg(nb_blk_open(&blk, path, &opts, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(blk.capacity, DISK_SECTORS);
}

static void setup(void)
{
	make_disk();
	open_disk(false);
	status = 0xff;
}

static void teardown(void)
{
	nb_blk_close(&blk);
	unlink(path);
	strcpy(path, "/tmp/nestbox-blk-XXXXXX");
}

static void header(uint32_t type, uint64_t sector)
{
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
}

/* header (readable), data (readable for OUT, else writable), status. */
static void request(uint32_t type, uint64_t sector, uint32_t data_len, bool out)
{
	header(type, sector);
	memset(&c, 0, sizeof(c));
	c.segs[0] = (struct nb_virtq_seg){ hdr, sizeof(hdr) };
	c.nread = 1;
	c.read_len = sizeof(hdr);
	unsigned i = 1;
	if (data_len) {
		c.segs[i++] = (struct nb_virtq_seg){ data, data_len };
		if (out) {
			c.nread++;
			c.read_len += data_len;
		} else {
			c.nwrite++;
			c.write_len += data_len;
		}
	}
	c.segs[i] = (struct nb_virtq_seg){ &status, 1 };
	c.nwrite++;
	c.write_len += 1;
}

START_TEST(read_sectors)
{
	request(VIRTIO_BLK_T_IN, 3, 1024, false);
	ck_assert_uint_eq(nb_blk_handle(&blk, &c), 1025);
	ck_assert_uint_eq(status, VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(data[0], 3);
	ck_assert_uint_eq(data[1023], 4);
}
END_TEST

START_TEST(write_then_read)
{
	memset(data, 0xab, 512);
	request(VIRTIO_BLK_T_OUT, 7, 512, true);
	ck_assert_uint_eq(nb_blk_handle(&blk, &c), 1);
	ck_assert_uint_eq(status, VIRTIO_BLK_S_OK);
	memset(data, 0, 512);
	request(VIRTIO_BLK_T_IN, 7, 512, false);
	nb_blk_handle(&blk, &c);
	ck_assert_uint_eq(data[100], 0xab);
}
END_TEST

START_TEST(header_too_short)
{
	request(VIRTIO_BLK_T_IN, 0, 512, false);
	c.segs[0].len = 8;
	c.read_len = 8;
	nb_blk_handle(&blk, &c);
	ck_assert_uint_eq(status, VIRTIO_BLK_S_IOERR);
}
END_TEST

START_TEST(status_byte_missing)
{
	request(VIRTIO_BLK_T_OUT, 0, 512, true);
	c.nwrite = 0;
	c.write_len = 0;
	ck_assert_uint_eq(nb_blk_handle(&blk, &c), 0);
	ck_assert_uint_eq(status, 0xff); /* untouched */
}
END_TEST

START_TEST(past_capacity)
{
	static const uint64_t sectors[] = { DISK_SECTORS, DISK_SECTORS - 1, UINT64_MAX,
					    UINT64_MAX / 512 + 1 };

	for (size_t i = 0; i < sizeof(sectors) / sizeof(sectors[0]); i++) {
		request(VIRTIO_BLK_T_IN, sectors[i], 1024, false);
		status = 0xff;
		nb_blk_handle(&blk, &c);
		ck_assert_msg(status == VIRTIO_BLK_S_IOERR, "sector %llu accepted",
			      (unsigned long long)sectors[i]);
	}
	request(VIRTIO_BLK_T_IN, DISK_SECTORS - 2, 1024, false); /* the last two: fine */
	nb_blk_handle(&blk, &c);
	ck_assert_uint_eq(status, VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(partial_sector_refused)
{
	request(VIRTIO_BLK_T_IN, 0, 100, false);
	nb_blk_handle(&blk, &c);
	ck_assert_uint_eq(status, VIRTIO_BLK_S_IOERR);
}
END_TEST

START_TEST(write_to_read_only)
{
	nb_blk_close(&blk);
	open_disk(true);
	ck_assert(blk.read_only);
	memset(data, 0xcd, 512);
	request(VIRTIO_BLK_T_OUT, 0, 512, true);
	nb_blk_handle(&blk, &c);
	ck_assert_uint_eq(status, VIRTIO_BLK_S_IOERR);
	request(VIRTIO_BLK_T_DISCARD, 0, 0, false);
	nb_blk_handle(&blk, &c);
	ck_assert_uint_eq(status, VIRTIO_BLK_S_IOERR);
	request(VIRTIO_BLK_T_IN, 0, 512, false);
	nb_blk_handle(&blk, &c);
	ck_assert_uint_eq(data[0], 0); /* unchanged */
}
END_TEST

START_TEST(get_id_and_unsupported)
{
	request(VIRTIO_BLK_T_GET_ID, 0, 20, false);
	ck_assert_uint_eq(nb_blk_handle(&blk, &c), 21);
	ck_assert_uint_eq(status, VIRTIO_BLK_S_OK);
	ck_assert_str_eq((char *)data, "nbvol0");
	request(99, 0, 0, false);
	nb_blk_handle(&blk, &c);
	ck_assert_uint_eq(status, VIRTIO_BLK_S_UNSUPP);
	request(VIRTIO_BLK_T_FLUSH, 0, 0, false);
	nb_blk_handle(&blk, &c);
	ck_assert_uint_eq(status, VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(too_many_segments)
{
	request(VIRTIO_BLK_T_IN, 0, 0, false);
	/* header, NB_BLK_SEG_MAX + 1 one-sector segments, status */
	for (unsigned i = 0; i <= NB_BLK_SEG_MAX; i++)
		c.segs[1 + i] = (struct nb_virtq_seg){ data, 512 };
	c.segs[2 + NB_BLK_SEG_MAX] = (struct nb_virtq_seg){ &status, 1 };
	c.nwrite = NB_BLK_SEG_MAX + 2;
	c.write_len = (NB_BLK_SEG_MAX + 1) * 512ull + 1;
	nb_blk_handle(&blk, &c);
	ck_assert_uint_eq(status, VIRTIO_BLK_S_IOERR);
}
END_TEST

START_TEST(discard_range)
{
	struct virtio_blk_discard_write_zeroes range = { .sector = 4, .num_sectors = 8 };

	ck_assert(blk.discard);
	request(VIRTIO_BLK_T_DISCARD, 0, sizeof(range), true);
	memcpy(data, &range, sizeof(range));
	nb_blk_handle(&blk, &c);
	ck_assert(status == VIRTIO_BLK_S_OK || status == VIRTIO_BLK_S_UNSUPP);
	range.num_sectors = UINT32_MAX; /* past the end */
	memcpy(data, &range, sizeof(range));
	nb_blk_handle(&blk, &c);
	ck_assert(status != VIRTIO_BLK_S_OK);
}
END_TEST

static uint64_t fake_ns;

static uint64_t fake_clock(void)
{
	return fake_ns;
}

/* Queue read i of 1 KiB from sector i: header, data, status at VR_DATA + i pages. */
static void queue_read(struct vr *v, unsigned i)
{
	uint64_t at = VR_DATA + i * 0x1000u;
	uint32_t type = VIRTIO_BLK_T_IN;
	uint64_t sector = i;

	memcpy(v->ram + at, &type, 4);
	memcpy(v->ram + at + 8, &sector, 8);
	vr_desc(v, 3 * i, at, 16, VRING_DESC_F_NEXT, (uint16_t)(3 * i + 1));
	vr_desc(v, 3 * i + 1, at + 16, 1024, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
		(uint16_t)(3 * i + 2));
	vr_desc(v, 3 * i + 2, at + 16 + 1024, 1, VRING_DESC_F_WRITE, 0);
	vr_avail(v, (uint16_t)(3 * i));
}

/* Through the queue with 2 KiB/s of reads: two 1 KiB reads pass, the
 * third stays in the avail ring (not failed, not dropped) until the
 * bucket holds 1 KiB again. */
START_TEST(read_limit_leaves_requests_in_the_ring)
{
	const uint64_t ram_size = 64u << 10;
	uint8_t *ram = calloc(1, ram_size);
	struct nb_ratelimit_config cfg = { .bytes = { 2048, 0, 1000 } };
	struct nb_err err = { 0 };
	struct nb_virtio_mmio m;
	struct nb_virtq *q;
	struct vr v = { .ram = ram, .ram_size = ram_size };

	ck_assert_ptr_nonnull(ram);
	nb_mem_layout(&v.mem, ram, ram_size);
	ck_assert_int_eq(nb_virtio_mmio_init(&m, &blk.vdev, &v.mem, &err), 0);
	m.dev->driver_features = NB_VIRTIO_F_VERSION_1;
	m.dev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	q = &m.dev->queues[0];
	q->size = v.q.size = 16;
	q->desc_gpa = VR_DESC;
	q->avail_gpa = VR_AVAIL;
	q->used_gpa = VR_USED;
	ck_assert_int_eq(nb_virtq_enable(q), 0);
	fake_ns = 0;
	nb_ratelimit_init(&blk.read_rl, &cfg, fake_clock);
	for (unsigned i = 0; i < 3; i++)
		queue_read(&v, i);

	nb_virtio_process(m.dev);
	ck_assert_uint_eq(vr_used_idx(&v), 2);
	ck_assert_uint_eq(q->last_avail, 2);
	fake_ns = 400000000; /* 819 bytes back: not yet */
	nb_virtio_process(m.dev);
	ck_assert_uint_eq(vr_used_idx(&v), 2);
	fake_ns = 600000000; /* 1228 bytes */
	nb_virtio_process(m.dev);
	ck_assert_uint_eq(vr_used_idx(&v), 3);
	ck_assert_uint_eq(ram[VR_DATA + 2 * 0x1000u + 16], 2); /* sector 2's bytes */
	ck_assert_uint_eq(ram[VR_DATA + 2 * 0x1000u + 16 + 1024], VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(blk.read_rl.throttled, 2);
	nb_virtio_mmio_destroy(&m);
	free(ram);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("virtio_blk");
	TCase *tc = tcase_create("virtio_blk");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, read_sectors);
	tcase_add_test(tc, write_then_read);
	tcase_add_test(tc, header_too_short);
	tcase_add_test(tc, status_byte_missing);
	tcase_add_test(tc, past_capacity);
	tcase_add_test(tc, partial_sector_refused);
	tcase_add_test(tc, write_to_read_only);
	tcase_add_test(tc, get_id_and_unsupported);
	tcase_add_test(tc, too_many_segments);
	tcase_add_test(tc, discard_range);
	tcase_add_test(tc, read_limit_leaves_requests_in_the_ring);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
