/* virtio-balloon: free page reports discard exactly the ranges reported,
 * inflated page numbers are discarded and bounds-checked, the host's
 * target reaches the driver with a config-change interrupt, and hostile
 * ranges (outside RAM, unaligned) are refused. The driver is played
 * through the virtio-mmio registers (tests/lib/vdrv.h for the set-up);
 * descriptors are written by hand so buffers sit at page-aligned guest
 * addresses. */
#include <check.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_mmio.h>

#include "lib/vdrv.h"
#include "vmm/virtio/balloon.h"
#include "unit/unit.h"

#define PAGE 4096u
#define DATA 0x40000u /* first data page, past vdrv's rings */
#define PATTERN 0xa5

static uint8_t *ram;
static struct vd d;
static struct nb_virtio_mmio m;
static struct nb_balloon b;
static uint16_t avail[NB_BALLOON_NQUEUES];

static void setup(void)
{
	struct nb_err err;

	ram = aligned_alloc(PAGE, VD_RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	vd_init(&d, ram);
	nb_balloon_init(&b);
	ck_assert_int_eq(nb_virtio_mmio_init(&m, &b.vdev, &d.mem, &err), 0);
	vd_attach(&d, &m);
	ck_assert(vd_probe(&d,
			   NB_VIRTIO_F_VERSION_1 | NB_BALLOON_F_REPORTING |
				   NB_BALLOON_F_DEFLATE_ON_OOM,
			   64));
	ck_assert_uint_eq(d.nqueues, NB_BALLOON_NQUEUES);
	memset(avail, 0, sizeof(avail));
	memset(ram + DATA, PATTERN, VD_RAM_SIZE - DATA);
}

static void teardown(void)
{
	nb_virtio_mmio_destroy(&m);
	free(ram);
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/* One chain of n segments at exact guest addresses on queue q, kicked. */
static void post(unsigned q, const struct seg *s, unsigned n)
{
	uint8_t *desc = ram + VD_RING(q), *av = ram + VD_RING(q) + 0x1000;
	uint16_t head = (uint16_t)((avail[q] * 8u) % 64u);

	for (unsigned i = 0; i < n; i++) {
		uint16_t flags = (uint16_t)((s[i].writable ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0));
		uint16_t next = (uint16_t)(head + i + 1);

		vd_write_desc(desc + 16u * (head + i), s[i].gpa, s[i].len, flags, next);
	}
	memcpy(av + 4 + 2u * (avail[q] % 64u), &head, 2);
	avail[q]++;
	__atomic_store_n((uint16_t *)(av + 2), avail[q], __ATOMIC_RELEASE);
	vd_kick(&d, q);
}

static uint16_t used_idx(unsigned q)
{
	return __atomic_load_n((uint16_t *)(ram + VD_RING(q) + 0x2000 + 2), __ATOMIC_ACQUIRE);
}

/* Whether every byte of [gpa, gpa+len) is v. */
static bool all(uint64_t gpa, uint64_t len, uint8_t v)
{
	for (uint64_t i = 0; i < len; i++)
		if (ram[gpa + i] != v)
			return false;
	return true;
}

START_TEST(report_discards_exactly_the_ranges)
{
	const struct seg s[] = {
		{ DATA + 2 * PAGE, 2 * PAGE, true },
		{ DATA + 8 * PAGE, PAGE, true },
	};

	post(NB_BALLOON_Q_REPORTING, s, 2);
	ck_assert_uint_eq(used_idx(NB_BALLOON_Q_REPORTING), 1);
	ck_assert(all(DATA, 2 * PAGE, PATTERN));
	ck_assert(all(DATA + 2 * PAGE, 2 * PAGE, 0)); /* discarded: reads zeros */
	ck_assert(all(DATA + 4 * PAGE, 4 * PAGE, PATTERN));
	ck_assert(all(DATA + 8 * PAGE, PAGE, 0));
	ck_assert(all(DATA + 9 * PAGE, PAGE, PATTERN));
	ck_assert_uint_eq(b.stats.reported_bytes, 3 * PAGE);
	ck_assert_uint_eq(b.stats.rejected_ranges, 0);
}
END_TEST

START_TEST(report_unaligned_is_rejected)
{
	const struct seg s[] = { { DATA + 100, PAGE, true }, { DATA + 4 * PAGE, 100, true } };

	post(NB_BALLOON_Q_REPORTING, s, 2);
	ck_assert_uint_eq(used_idx(NB_BALLOON_Q_REPORTING), 1);
	ck_assert(all(DATA, 8 * PAGE, PATTERN));
	ck_assert_uint_eq(b.stats.reported_bytes, 0);
	ck_assert_uint_eq(b.stats.rejected_ranges, 2);
}
END_TEST

START_TEST(report_outside_ram_breaks_the_queue)
{
	const struct seg s[] = { { VD_RAM_SIZE - PAGE, 2 * PAGE, true } };

	post(NB_BALLOON_Q_REPORTING, s, 1);
	ck_assert_uint_eq(used_idx(NB_BALLOON_Q_REPORTING), 0);
	ck_assert(vd_rd(&d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ck_assert(all(VD_RAM_SIZE - PAGE, PAGE, PATTERN));
	ck_assert_uint_eq(b.stats.reported_bytes, 0);
}
END_TEST

/* An inflate buffer of le32 page numbers at DATA (the list's own page). */
static void pfns(unsigned q, const uint32_t *list, unsigned n)
{
	const struct seg s = { DATA, n * 4u, false };

	for (unsigned i = 0; i < n; i++) {
		uint32_t le = htole32(list[i]);
		memcpy(ram + DATA + 4u * i, &le, 4);
	}
	post(q, &s, 1);
}

START_TEST(inflate_discards_pages_and_rejects_outside_ram)
{
	const uint32_t p = DATA / PAGE;
	const uint32_t list[] = { p + 3, p + 4, p + 5, p + 10, VD_RAM_SIZE / PAGE, 0xffffffffu };

	pfns(NB_BALLOON_Q_INFLATE, list, 6);
	ck_assert_uint_eq(used_idx(NB_BALLOON_Q_INFLATE), 1);
	ck_assert(all(DATA + PAGE, 2 * PAGE, PATTERN));
	ck_assert(all(DATA + 3 * PAGE, 3 * PAGE, 0));
	ck_assert(all(DATA + 6 * PAGE, 4 * PAGE, PATTERN));
	ck_assert(all(DATA + 10 * PAGE, PAGE, 0));
	ck_assert_uint_eq(b.stats.inflated_bytes, 4 * PAGE);
	ck_assert_uint_eq(b.stats.rejected_ranges, 2);
}
END_TEST

START_TEST(deflate_touches_nothing)
{
	const uint32_t p = DATA / PAGE;
	const uint32_t list[] = { p + 3, p + 4 };

	pfns(NB_BALLOON_Q_DEFLATE, list, 2);
	ck_assert_uint_eq(used_idx(NB_BALLOON_Q_DEFLATE), 1);
	ck_assert(all(DATA + PAGE, 8 * PAGE, PATTERN));
	ck_assert_uint_eq(b.stats.deflated_bytes, 2 * PAGE);
}
END_TEST

START_TEST(target_reaches_the_driver)
{
	struct nb_err err;

	vd_wr(&d, VIRTIO_MMIO_INTERRUPT_ACK, vd_rd(&d, VIRTIO_MMIO_INTERRUPT_STATUS));
	ck_assert_int_eq(nb_balloon_set_target(&b, 64 * PAGE + 100, &err), 0);
	ck_assert_uint_eq(vd_rd(&d, VIRTIO_MMIO_CONFIG), 64);   /* num_pages */
	ck_assert(vd_rd(&d, VIRTIO_MMIO_INTERRUPT_STATUS) & 2); /* config changed */
	/* the driver may write actual, never num_pages */
	vd_wr(&d, VIRTIO_MMIO_CONFIG, 7);
	vd_wr(&d, VIRTIO_MMIO_CONFIG + 4, 64);
	ck_assert_uint_eq(vd_rd(&d, VIRTIO_MMIO_CONFIG), 64);
	ck_assert_uint_eq(nb_balloon_actual(&b), 64 * PAGE);
	/* more than guest RAM is refused */
	ck_assert_int_eq(nb_balloon_set_target(&b, VD_RAM_SIZE + PAGE, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "more than the guest's RAM"));
	ck_assert_uint_eq(vd_rd(&d, VIRTIO_MMIO_CONFIG), 64);
}
END_TEST

/* Snapshot: the config space round-trips; a hostile one (a count over
 * guest RAM, a wrong length) is refused and changes nothing. */
START_TEST(snapshot_state_checked)
{
	const struct nb_virtio_ops *ops = b.vdev.ops;
	struct nb_err err;
	uint8_t buf[64];
	uint32_t bad[2] = { htole32(VD_RAM_SIZE / PAGE + 1), 0 };
	int n;

	ck_assert_int_eq(nb_balloon_set_target(&b, 8 * PAGE, &err), 0);
	vd_wr(&d, VIRTIO_MMIO_CONFIG + 4, 3);
	n = ops->save(&b.vdev, buf, sizeof(buf), &err);
	ck_assert_int_eq(n, 8);
	ck_assert_int_eq(nb_balloon_set_target(&b, 0, &err), 0);
	ck_assert_int_eq(ops->load(&b.vdev, buf, (size_t)n, &err), 0);
	ck_assert_uint_eq(vd_rd(&d, VIRTIO_MMIO_CONFIG), 8);
	ck_assert_uint_eq(nb_balloon_actual(&b), 3 * PAGE);
	ck_assert_int_eq(ops->load(&b.vdev, bad, sizeof(bad), &err), -1);
	bad[0] = 0;
	bad[1] = htole32(VD_RAM_SIZE / PAGE + 1);
	ck_assert_int_eq(ops->load(&b.vdev, bad, sizeof(bad), &err), -1);
	ck_assert_int_eq(ops->load(&b.vdev, buf, (size_t)n - 1, &err), -1);
	ck_assert_int_eq(ops->save(&b.vdev, buf, 4, &err), -1);
	ck_assert_uint_eq(vd_rd(&d, VIRTIO_MMIO_CONFIG), 8);
}
END_TEST

START_TEST(features_offered)
{
	uint64_t f = vd_offered(&d);

	ck_assert(f & NB_BALLOON_F_REPORTING);
	ck_assert(f & NB_BALLOON_F_DEFLATE_ON_OOM);
	ck_assert_uint_eq(vd_rd(&d, VIRTIO_MMIO_DEVICE_ID), 5);
}
END_TEST

START_TEST(locked_memory_is_never_discarded)
{
	const struct seg s[] = { { DATA + 2 * PAGE, PAGE, true } };

	d.mem.locked = true; /* --memory-prealloc */
	post(NB_BALLOON_Q_REPORTING, s, 1);
	ck_assert(all(DATA + 2 * PAGE, PAGE, PATTERN));
	ck_assert_uint_eq(b.stats.discard_failures, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("virtio_balloon");
	TCase *tc = tcase_create("virtio_balloon");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, report_discards_exactly_the_ranges);
	tcase_add_test(tc, report_unaligned_is_rejected);
	tcase_add_test(tc, report_outside_ram_breaks_the_queue);
	tcase_add_test(tc, inflate_discards_pages_and_rejects_outside_ram);
	tcase_add_test(tc, deflate_touches_nothing);
	tcase_add_test(tc, target_reaches_the_driver);
	tcase_add_test(tc, snapshot_state_checked);
	tcase_add_test(tc, features_offered);
	tcase_add_test(tc, locked_memory_is_never_discarded);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
