/* Bus dispatch, exit device, i8042 reset, stop latch, PVM detection. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nestbox/abi.h"
#include "vmm/kvm/bus.h"
#include "vmm/dev/exitdev.h"
#include "vmm/dev/i8042.h"
#include "vmm/kvm/kvm.h"
#include "vmm/kvm/stop.h"
#include "unit/unit.h"

static unsigned hits;
static uint64_t last_offset;

static void count_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)data;
	(void)len;
	(void)is_write;
	hits++;
	last_offset = offset;
}

START_TEST(bus_dispatch_and_bounds)
{
	static struct nb_bus bus;
	struct nb_err err = { 0 };
	uint8_t data[8];
	struct nb_bus_device dev = { "dev", 0x100, 0x10, count_io, NULL };

	memset(&bus, 0, sizeof(bus));
	hits = 0;
	ck_assert_int_eq(nb_bus_register(&bus, &dev, &err), 0);
	ck_assert(nb_bus_access(&bus, 0x104, data, 4, true));
	ck_assert_uint_eq(last_offset, 4);
	ck_assert(nb_bus_access(&bus, 0x10c, data, 4, false));  /* last 4 bytes */
	ck_assert(!nb_bus_access(&bus, 0x10e, data, 4, false)); /* straddles the end */
	ck_assert_uint_eq(data[0], 0xff);
	ck_assert(!nb_bus_access(&bus, 0xff, data, 2, false)); /* straddles the start */
	ck_assert(!nb_bus_access(&bus, UINT64_MAX - 1, data, 8, false));
	ck_assert_uint_eq(hits, 2);
	ck_assert_uint_eq(bus.unclaimed, 3);
}
END_TEST

START_TEST(bus_rejects_overlap_and_bad_ranges)
{
	static struct nb_bus bus;
	struct nb_err err = { 0 };
	struct nb_bus_device a = { "a", 0x100, 0x10, count_io, NULL };
	struct nb_bus_device b = { "b", 0x10f, 0x10, count_io, NULL };
	struct nb_bus_device empty = { "empty", 0x200, 0, count_io, NULL };
	struct nb_bus_device wrap = { "wrap", UINT64_MAX - 2, 8, count_io, NULL };

	memset(&bus, 0, sizeof(bus));
	ck_assert_int_eq(nb_bus_register(&bus, &a, &err), 0);
	ck_assert_int_eq(nb_bus_register(&bus, &b, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "overlaps a"));
	ck_assert_int_eq(nb_bus_register(&bus, &empty, &err), -1);
	ck_assert_int_eq(nb_bus_register(&bus, &wrap, &err), -1);
	for (unsigned i = 1; i < NB_BUS_MAX_DEVICES; i++) {
		struct nb_bus_device d = { "d", 0x1000 + i * 0x10, 0x10, count_io, NULL };
		ck_assert_int_eq(nb_bus_register(&bus, &d, &err), 0);
	}
	struct nb_bus_device extra = { "extra", 0x9000, 1, count_io, NULL };
	ck_assert_int_eq(nb_bus_register(&bus, &extra, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "full"));
}
END_TEST

static void exit_write(struct nb_stop *stop, uint64_t offset, uint32_t value, uint32_t len)
{
	uint8_t data[4];

	memcpy(data, &value, sizeof(value));
	nb_exitdev_io(stop, offset, data, len, true);
}

START_TEST(exitdev_reports_status)
{
	struct nb_stop stop;
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_stop_init(&stop, &err), 0);
	exit_write(&stop, 0, NB_EXIT_MAGIC | 3, 4);
	ck_assert_int_eq(stop.reason, NB_STOP_STATUS);
	ck_assert_int_eq(stop.status, 3);
	exit_write(&stop, 0, NB_EXIT_MAGIC | 9, 4); /* first stop wins */
	ck_assert_int_eq(stop.status, 3);
	ck_assert(!stop.oom);
	nb_stop_destroy(&stop);
}
END_TEST

/* ABI 2: the OOM flag next to the status (abi.h). */
START_TEST(exitdev_reports_oom)
{
	struct nb_stop stop;
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_stop_init(&stop, &err), 0);
	exit_write(&stop, 0, NB_EXIT_MAGIC | NB_EXIT_FLAG_OOM | 137, 4);
	ck_assert_int_eq(stop.reason, NB_STOP_STATUS);
	ck_assert_int_eq(stop.status, 137);
	ck_assert(stop.oom);
	exit_write(&stop, 0, NB_EXIT_MAGIC | 0, 4); /* after the stop: no change */
	ck_assert(stop.oom);
	nb_stop_destroy(&stop);
}
END_TEST

START_TEST(exitdev_rejects_hostile_values)
{
	const struct {
		uint64_t offset;
		uint32_t value, len;
	} bad[] = {
		{ 0, 3, 4 },                                 /* no magic */
		{ 0, NB_EXIT_MAGIC | 0x400, 4 },             /* a flag that does not exist */
		{ 0, NB_EXIT_MAGIC | 0x8000, 4 },            /* nor this one */
		{ 0, NB_EXIT_MAGIC | NB_EXIT_READY | 1, 4 }, /* ready with a status */
		{ 0, NB_EXIT_MAGIC | NB_EXIT_READY | NB_EXIT_FLAG_OOM, 4 }, /* ready with a flag */
		{ 0, NB_EXIT_MAGIC | 1, 1 },                                /* narrow write */
		{ 2, NB_EXIT_MAGIC | 1, 2 }, /* offset inside the register */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nb_stop stop;
		struct nb_err err = { 0 };
		ck_assert_int_eq(nb_stop_init(&stop, &err), 0);
		exit_write(&stop, bad[i].offset, bad[i].value, bad[i].len);
		ck_assert_int_eq(stop.reason, NB_STOP_ERROR);
		ck_assert_ptr_nonnull(strstr(stop.err.msg, "exit device"));
		nb_stop_destroy(&stop);
	}
}
END_TEST

/* A template's guest is ready for its snapshot (abi.h, NB_EXIT_READY). */
START_TEST(exitdev_ready)
{
	struct nb_stop stop;
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_stop_init(&stop, &err), 0);
	exit_write(&stop, 0, NB_EXIT_MAGIC | NB_EXIT_READY, 4);
	ck_assert_int_eq(stop.reason, NB_STOP_READY);
	nb_stop_destroy(&stop);
}
END_TEST

START_TEST(exitdev_read_identifies)
{
	struct nb_stop stop;
	struct nb_err err = { 0 };
	uint32_t value = 0;

	ck_assert_int_eq(nb_stop_init(&stop, &err), 0);
	nb_exitdev_io(&stop, 0, (uint8_t *)&value, 4, false);
	ck_assert_uint_eq(value, NB_EXIT_MAGIC | NB_ABI_VERSION);
	ck_assert_int_eq(stop.reason, NB_STOP_NONE);
	nb_stop_destroy(&stop);
}
END_TEST

START_TEST(i8042_reset_only_on_fe)
{
	struct nb_stop stop;
	struct nb_err err = { 0 };
	uint8_t v = 0xaa;

	ck_assert_int_eq(nb_stop_init(&stop, &err), 0);
	nb_i8042_io(&stop, 4, &v, 1, false);
	ck_assert_uint_eq(v, 0); /* idle status: kb_wait() returns at once */
	v = 0xfe;
	nb_i8042_io(&stop, 0, &v, 1, true); /* 0xfe to the data port is not a reset */
	v = 0xd1;
	nb_i8042_io(&stop, 4, &v, 1, true);
	ck_assert_int_eq(stop.reason, NB_STOP_NONE);
	v = 0xfe;
	nb_i8042_io(&stop, 4, &v, 1, true);
	ck_assert_int_eq(stop.reason, NB_STOP_RESET);
	nb_stop_destroy(&stop);
}
END_TEST

START_TEST(pvm_detection)
{
	char root[] = "/tmp/nb-sysfs-XXXXXX";
	char path[128];

	ck_assert_ptr_nonnull(mkdtemp(root));
	ck_assert(!nb_kvm_is_pvm(root));
	snprintf(path, sizeof(path), "%s/module", root);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/module/kvm_pvm", root);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert(nb_kvm_is_pvm(root));
	rmdir(path);
	snprintf(path, sizeof(path), "%s/module", root);
	rmdir(path);
	rmdir(root);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("devices");
	TCase *tc = tcase_create("devices");

	tcase_add_test(tc, bus_dispatch_and_bounds);
	tcase_add_test(tc, bus_rejects_overlap_and_bad_ranges);
	tcase_add_test(tc, exitdev_reports_status);
	tcase_add_test(tc, exitdev_reports_oom);
	tcase_add_test(tc, exitdev_rejects_hostile_values);
	tcase_add_test(tc, exitdev_ready);
	tcase_add_test(tc, exitdev_read_identifies);
	tcase_add_test(tc, i8042_reset_only_on_fe);
	tcase_add_test(tc, pvm_detection);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
