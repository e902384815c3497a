/* vCPU exit decoding (vmm/kvm/vcpu_exit.c) on a kvm_run written by hand, no
 * KVM: port I/O and MMIO reach the buses with their data, malformed exits
 * are refused before anything is followed, every other exit becomes the
 * right stop reason. */
#include <check.h>
#include <string.h>

#include "vmm/kvm/vcpu_exit.h"
#include "vmm/kvm/vm.h"
#include "unit/unit.h"

#define RUN_SIZE 0x3000u

static struct nb_vm vm;
static struct nb_vcpu *vcpu;
static uint8_t *page;
static unsigned calls;
static uint8_t seen[16];
static uint32_t seen_len;

static void record_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)offset;
	if (is_write && calls < sizeof(seen))
		seen[calls] = data[0];
	else if (!is_write)
		memset(data, 0x40 + (int)calls, len);
	seen_len = len;
	calls++;
}

static void setup(void)
{
	struct nb_err err = { 0 };
	struct nb_bus_device pio = { "test", 0x3f8, 8, record_io, NULL };
	struct nb_bus_device mmio = { "test", 0xd0000000, 0x1000, record_io, NULL };

	memset(&vm, 0, sizeof(vm));
	page = aligned_alloc(4096, RUN_SIZE);
	memset(page, 0, RUN_SIZE);
	vm.run_size = RUN_SIZE;
	vcpu = &vm.vcpus[0];
	vcpu->vm = &vm;
	vcpu->run = (struct kvm_run *)page;
	ck_assert_int_eq(nb_stop_init(&vm.stop, &err), 0);
	ck_assert_int_eq(nb_bus_register(&vm.pio, &pio, &err), 0);
	ck_assert_int_eq(nb_bus_register(&vm.mmio, &mmio, &err), 0);
	calls = 0;
}

static void teardown(void)
{
	nb_stop_destroy(&vm.stop);
	free(page);
}

static void pio_exit(uint8_t dir, uint8_t size, uint16_t port, uint32_t count, uint64_t offset)
{
	struct kvm_run *run = vcpu->run;

	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = dir;
	run->io.size = size;
	run->io.port = port;
	run->io.count = count;
	run->io.data_offset = offset;
}

START_TEST(string_out_and_in)
{
	memcpy(page + 0x1000, "abc", 3);
	pio_exit(KVM_EXIT_IO_OUT, 1, 0x3f8, 3, 0x1000);
	ck_assert(nb_vcpu_handle_exit(vcpu));
	ck_assert_uint_eq(calls, 3);
	ck_assert_mem_eq(seen, "abc", 3);
	pio_exit(KVM_EXIT_IO_IN, 2, 0x3fa, 2, 0x2ffc); /* the page's last 4 bytes */
	ck_assert(nb_vcpu_handle_exit(vcpu));
	ck_assert_uint_eq(seen_len, 2);
	ck_assert_mem_eq(page + 0x2ffc, "\x43\x43\x44\x44", 4);
	ck_assert_uint_eq(vcpu->stats.pio, 2);
	ck_assert(!nb_stop_requested(&vm.stop));
}
END_TEST

START_TEST(malformed_port_io_is_refused)
{
	const struct {
		uint8_t size;
		uint32_t count;
		uint64_t offset;
	} bad[] = {
		{ 1, 2, RUN_SIZE - 1 },    /* one byte past the page */
		{ 4, 1, RUN_SIZE },        /* starts at its end */
		{ 1, 1, UINT64_MAX },      /* wraps */
		{ 4, 0x40000001, 0x1000 }, /* size * count wraps 32 bits */
		{ 3, 1, 0x1000 },          /* no such width */
		{ 1, 0, 0x1000 },          /* nothing */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nb_err err = { 0 };

		nb_stop_destroy(&vm.stop);
		ck_assert_int_eq(nb_stop_init(&vm.stop, &err), 0);
		pio_exit(KVM_EXIT_IO_IN, bad[i].size, 0x3f8, bad[i].count, bad[i].offset);
		ck_assert_msg(!nb_vcpu_handle_exit(vcpu), "case %zu accepted", i);
		ck_assert_int_eq(vm.stop.reason, NB_STOP_ERROR);
		ck_assert_ptr_nonnull(strstr(vm.stop.err.msg, "malformed port I/O"));
	}
	ck_assert_uint_eq(calls, 0);
}
END_TEST

START_TEST(mmio_widths)
{
	struct kvm_run *run = vcpu->run;

	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = 0xd0000ff8;
	run->mmio.len = 8;
	run->mmio.is_write = 0;
	ck_assert(nb_vcpu_handle_exit(vcpu));
	ck_assert_uint_eq(seen_len, 8);
	ck_assert_uint_eq(run->mmio.data[7], 0x40);
	run->mmio.phys_addr = 0xc0000000; /* nobody's: reads all-ones */
	run->mmio.len = 4;
	ck_assert(nb_vcpu_handle_exit(vcpu));
	ck_assert_uint_eq(run->mmio.data[3], 0xff);
	ck_assert_uint_eq(vm.mmio.unclaimed, 1);
	run->mmio.len = 9;
	ck_assert(!nb_vcpu_handle_exit(vcpu));
	ck_assert_ptr_nonnull(strstr(vm.stop.err.msg, "malformed MMIO"));
	ck_assert_uint_eq(calls, 1);
}
END_TEST

static enum nb_stop_reason stop_of(uint32_t reason, uint32_t detail, bool *go_on)
{
	struct nb_err err = { 0 };

	nb_stop_destroy(&vm.stop);
	ck_assert_int_eq(nb_stop_init(&vm.stop, &err), 0);
	memset(page, 0, RUN_SIZE);
	vcpu->run->exit_reason = reason;
	vcpu->run->system_event.type = detail;
	vcpu->run->internal.suberror = detail;
	*go_on = nb_vcpu_handle_exit(vcpu);
	return vm.stop.reason;
}

START_TEST(other_exits_stop_the_vcpu)
{
	bool go_on;

	ck_assert_int_eq(stop_of(KVM_EXIT_INTR, 0, &go_on), NB_STOP_NONE);
	ck_assert(go_on);
	ck_assert_int_eq(stop_of(KVM_EXIT_SHUTDOWN, 0, &go_on), NB_STOP_RESET);
	ck_assert(!go_on);
	ck_assert_ptr_nonnull(strstr(vm.stop.err.msg, "triple-faulted"));
	ck_assert_int_eq(stop_of(KVM_EXIT_SYSTEM_EVENT, KVM_SYSTEM_EVENT_RESET, &go_on),
			 NB_STOP_RESET);
	ck_assert_ptr_nonnull(strstr(vm.stop.err.msg, "asked for a reset"));
	ck_assert_int_eq(stop_of(KVM_EXIT_SYSTEM_EVENT, KVM_SYSTEM_EVENT_CRASH, &go_on),
			 NB_STOP_ERROR);
	ck_assert_int_eq(stop_of(KVM_EXIT_HLT, 0, &go_on), NB_STOP_ERROR);
	ck_assert(!go_on);
	vm.pvm_host = true;
	ck_assert_int_eq(stop_of(KVM_EXIT_INTERNAL_ERROR, 1, &go_on), NB_STOP_ERROR);
	ck_assert_ptr_nonnull(strstr(vm.stop.err.msg, "PVM"));
	ck_assert_int_eq(stop_of(12345, 0, &go_on), NB_STOP_ERROR);
	ck_assert_ptr_nonnull(strstr(vm.stop.err.msg, "12345"));
	ck_assert_uint_eq(vcpu->stats.other, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vcpu_exit");
	TCase *tc = tcase_create("vcpu_exit");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, string_out_and_in);
	tcase_add_test(tc, malformed_port_io_is_refused);
	tcase_add_test(tc, mmio_widths);
	tcase_add_test(tc, other_exits_stop_the_vcpu);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
