/* virtio-mmio register state machine: identification, feature
 * negotiation (FEATURES_OK refused without VERSION_1), queue setup,
 * notification hand-off, broken queues and reset. */
#include <check.h>
#include <stdlib.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "lib/vring.h"
#include "vmm/virtio/mmio.h"
#include "unit/unit.h"

#define RAM_SIZE (1u << 20)

static uint8_t *ram;
static struct nb_guest_mem mem;
static struct nb_virtio_mmio m;
static struct nb_virtio_dev dev;
static unsigned notified, resets;
static uint8_t config[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static void fake_notify(struct nb_virtio_dev *d)
{
	struct nb_virtq_chain chain;

	notified++;
	if (nb_virtq_pop(&d->queues[0], &chain) < 0)
		nb_virtio_queue_broken(d, &d->queues[0]);
}

static void fake_reset(struct nb_virtio_dev *d)
{
	(void)d;
	resets++;
}

static const struct nb_virtio_ops fake_ops = {
	.name = "fake",
	.device_id = 42,
	.features = 1ull << 3,
	.nqueues = 2,
	.queue_max = 16,
	.config_size = sizeof(config),
	.notify = fake_notify,
	.reset = fake_reset,
};

static uint32_t rd(uint64_t off)
{
	uint32_t v;

	nb_virtio_mmio_io(&m, off, (uint8_t *)&v, 4, false);
	return v;
}

static void wr(uint64_t off, uint32_t v)
{
	nb_virtio_mmio_io(&m, off, (uint8_t *)&v, 4, true);
}

static void setup(void)
{
	struct nb_err err = { 0 };

	ram = aligned_alloc(4096, RAM_SIZE);
	memset(ram, 0, RAM_SIZE);
	nb_mem_layout(&mem, ram, RAM_SIZE);
	notified = resets = 0;
	nb_virtio_dev_init(&dev, &fake_ops, NULL, config);
	ck_assert_int_eq(nb_virtio_mmio_init(&m, &dev, &mem, &err), 0);
}

static void teardown(void)
{
	nb_virtio_mmio_destroy(&m);
	free(ram);
}

static void negotiate(uint64_t features)
{
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_FEATURES_OK);
}

static void setup_queue(unsigned sel, uint32_t num, uint64_t desc)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, sel);
	wr(VIRTIO_MMIO_QUEUE_NUM, num);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, VR_AVAIL);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, VR_USED);
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
}

START_TEST(identification)
{
	ck_assert_uint_eq(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_VERSION), 2);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_DEVICE_ID), 42);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES) & (1u << 3), 1u << 3);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES) & 1, 1); /* VERSION_1 = bit 32 */
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 7);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
}
END_TEST

START_TEST(features_ok_needs_version_1)
{
	negotiate(1ull << 3); /* legacy driver: no VERSION_1 */
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	wr(VIRTIO_MMIO_STATUS, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), 0);
	negotiate(NB_VIRTIO_F_VERSION_1 | 1ull << 40); /* bit 40 never offered */
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	wr(VIRTIO_MMIO_STATUS, 0);
	negotiate(NB_VIRTIO_F_VERSION_1 | 1ull << 3);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK,
			  VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert_uint_eq(m.dev->driver_features, NB_VIRTIO_F_VERSION_1 | 1ull << 3);
	/* features are frozen once FEATURES_OK is set */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	ck_assert_uint_eq(m.dev->driver_features, NB_VIRTIO_F_VERSION_1 | 1ull << 3);
}
END_TEST

START_TEST(driver_ok_without_features_ok_is_ignored)
{
	wr(VIRTIO_MMIO_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK, 0);
	ck_assert(!nb_virtio_live(m.dev));
}
END_TEST

START_TEST(queue_setup)
{
	negotiate(NB_VIRTIO_F_VERSION_1);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 16);
	wr(VIRTIO_MMIO_QUEUE_SEL, 2); /* no such queue */
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(0, 32, VR_DESC); /* larger than QueueNumMax */
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(0, 16, RAM_SIZE - 64); /* descriptor table past RAM */
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(0, 16, 1ull << 40);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(0, 16, VR_DESC);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	ck_assert_uint_eq(m.dev->queues[0].size, 16);
	wr(VIRTIO_MMIO_QUEUE_NUM, 4); /* a live queue does not change */
	ck_assert_uint_eq(m.dev->queues[0].size, 16);
}
END_TEST

START_TEST(odd_widths_and_config)
{
	uint8_t b[8];
	uint16_t h = 0xffff;

	nb_virtio_mmio_io(&m, VIRTIO_MMIO_MAGIC_VALUE, (uint8_t *)&h, 2, false);
	ck_assert_uint_eq(h, 0); /* registers are 32-bit only */
	nb_virtio_mmio_io(&m, VIRTIO_MMIO_CONFIG + 2, b, 2, false);
	ck_assert_uint_eq(b[0], 3);
	ck_assert_uint_eq(b[1], 4);
	memset(b, 0xff, sizeof(b));
	nb_virtio_mmio_io(&m, VIRTIO_MMIO_CONFIG + 6, b, 4, false); /* past the end */
	ck_assert_uint_eq(b[0], 0);
	nb_virtio_mmio_io(&m, 0xfff, b, 1, false);
}
END_TEST

START_TEST(notify_goes_to_the_event_thread)
{
	uint64_t count = 0;

	negotiate(NB_VIRTIO_F_VERSION_1);
	setup_queue(0, 16, VR_DESC);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_uint_eq(notified, 0); /* nothing on the vCPU thread */
	ck_assert_int_eq(read(m.notify_fd, &count, sizeof(count)), sizeof(count));
	ck_assert_uint_eq(count, 1);
	nb_virtio_process(m.dev);
	ck_assert_uint_eq(notified, 0); /* not DRIVER_OK yet */
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	nb_virtio_process(m.dev);
	ck_assert_uint_eq(notified, 1);
}
END_TEST

START_TEST(broken_queue_needs_reset)
{
	uint16_t idx = 100; /* avail idx jump */
	uint32_t gen;
	uint64_t count;

	negotiate(NB_VIRTIO_F_VERSION_1);
	setup_queue(0, 16, VR_DESC);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	gen = rd(VIRTIO_MMIO_CONFIG_GENERATION);
	memcpy(ram + VR_AVAIL + 2, &idx, 2);
	nb_virtio_process(m.dev);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET,
			  VIRTIO_CONFIG_S_NEEDS_RESET);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG,
			  VIRTIO_MMIO_INT_CONFIG);
	ck_assert_uint_ne(rd(VIRTIO_MMIO_CONFIG_GENERATION), gen);
	ck_assert_int_eq(read(m.irq_fd, &count, sizeof(count)), sizeof(count));
	nb_virtio_process(m.dev);
	ck_assert_uint_eq(notified, 1); /* stopped processing */
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) & ~VIRTIO_CONFIG_S_NEEDS_RESET);
	ck_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET); /* device-owned */
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	wr(VIRTIO_MMIO_STATUS, 0);
	/* a live device resets on the event thread; until then Status is not 0
	 * and the driver's writes are ignored */
	ck_assert_uint_eq(resets, 0);
	ck_assert_uint_ne(rd(VIRTIO_MMIO_STATUS), 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	nb_virtio_process(m.dev);
	ck_assert_uint_eq(resets, 1);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), 0);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	ck_assert(!m.dev->queues[0].broken);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("virtio_mmio");
	TCase *tc = tcase_create("virtio_mmio");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, identification);
	tcase_add_test(tc, features_ok_needs_version_1);
	tcase_add_test(tc, driver_ok_without_features_ok_is_ignored);
	tcase_add_test(tc, queue_setup);
	tcase_add_test(tc, odd_widths_and_config);
	tcase_add_test(tc, notify_goes_to_the_event_thread);
	tcase_add_test(tc, broken_queue_needs_reset);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
