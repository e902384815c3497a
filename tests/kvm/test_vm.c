/* host-kvm tier: VMM objects on this host's real /dev/kvm, driven by tiny
 * 64-bit payloads (a handful of CPL0 instructions, which even a PVM host's
 * emulator runs; see shared/TESTHOST.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "harness.h"
#include "nestbox/abi.h"
#include "vmm/dev/exitdev.h"
#include "vmm/dev/i8042.h"
#include "vmm/dev/serial.h"
#include "vmm/kvm/kvm.h"
#include "vmm/kvm/vm.h"
#include "vmm/kvm/x86_64/layout.h"

#define PAYLOAD_GPA 0x100000ull
#define TEST_MMIO_GPA 0xd0000000ull

static void require_kvm(void)
{
	NB_REQUIRE(access(NB_KVM_DEV, R_OK | W_OK) == 0, "no usable /dev/kvm on this host");
}

static void create_vm(struct nb_vm *vm, unsigned ncpus, uint64_t mem)
{
	struct nb_err err = { 0 };
	struct nb_vm_config cfg = { .ncpus = ncpus, .mem_size = mem };

	NB_ASSERT(nb_vm_create(vm, &cfg, &err) == 0, "%s", err.msg);
}

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static void test_create_vm(void)
{
	struct nb_vm vm;

	require_kvm();
	create_vm(&vm, 2, 64ull << 20);
	NB_ASSERT(vm.vm_fd >= 0 && vm.vcpus[0].fd >= 0 && vm.vcpus[1].fd >= 0);
	NB_ASSERT(vm.vcpus[2].fd == -1, "only the requested vCPUs exist");
	NB_ASSERT(vm.run_size >= sizeof(struct kvm_run));
	nb_vm_destroy(&vm);
	NB_ASSERT(vm.vm_fd == -1);
}

/* Guest RAM is MAP_NORESERVE and untouched: a 4 GiB guest costs no RSS. */
static void test_memory_not_preallocated(void)
{
	struct nb_vm vm;
	long before, after;

	require_kvm();
	before = rss_kib();
	create_vm(&vm, 1, 4ull << 30);
	after = rss_kib();
	NB_ASSERT(after - before < 32 * 1024, "RSS grew by %ld KiB", after - before);
	NB_ASSERT(vm.mem.nregions == 2, "4 GiB is split around the MMIO hole");
	NB_ASSERT(vm.mem.regions[1].gpa == NB_MEM_HIGH_START);
	NB_ASSERT(vm.mem.regions[0].size + vm.mem.regions[1].size == 4ull << 30);
	uint8_t *p = nb_gpa_ptr(&vm.mem, NB_MEM_HIGH_START + 4096, 8);
	NB_ASSERT(p != NULL);
	p[0] = 0x5a;
	NB_ASSERT(nb_gpa_ptr(&vm.mem, NB_MEM_HOLE_START, 1) == NULL, "the hole is not RAM");
	nb_vm_destroy(&vm);
}

static void test_bad_cpu_count(void)
{
	struct nb_vm vm;
	struct nb_err err = { 0 };
	struct nb_vm_config cfg = { .ncpus = NB_MAX_VCPUS + 1, .mem_size = 64ull << 20 };

	require_kvm();
	NB_ASSERT(nb_vm_create(&vm, &cfg, &err) < 0);
	NB_ASSERT(strstr(err.msg, "--cpus") != NULL, "%s", err.msg);
}

/* A device on the MMIO bus that remembers the last write and reads back a
 * constant, to see an MMIO exit round trip. */
struct probe {
	uint32_t last_write;
	unsigned writes, reads;
};

static void probe_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct probe *probe = opaque;
	uint32_t value = 0xcafe0000u | (uint32_t)offset;

	if (is_write) {
		memcpy(&probe->last_write, data, len < 4 ? len : 4);
		probe->writes++;
	} else {
		memcpy(data, &value, len < 4 ? len : 4);
		probe->reads++;
	}
}

struct rig {
	struct nb_vm vm;
	struct nb_serial serial;
	struct probe probe;
	int console[2];
};

static void rig_boot(struct rig *rig, const uint8_t *code, size_t len)
{
	struct nb_err err = { 0 };

	memset(&rig->probe, 0, sizeof(rig->probe));
	create_vm(&rig->vm, 1, 64ull << 20);
	NB_ASSERT(pipe2(rig->console, O_NONBLOCK) == 0);
	nb_serial_init(&rig->serial, rig->console[1], nb_vm_set_irq, &rig->vm, NB_SERIAL_COM1_IRQ);
	const struct nb_bus_device pio[] = {
		{ "serial", NB_SERIAL_COM1_PORT, NB_SERIAL_NREGS, nb_serial_io, &rig->serial },
		{ "i8042", NB_I8042_DATA_PORT, 5, nb_i8042_io, &rig->vm.stop },
		{ "exit", NB_EXIT_PORT, NB_EXIT_PORT_LEN, nb_exitdev_io, &rig->vm.stop },
	};
	for (size_t i = 0; i < 3; i++)
		NB_ASSERT(nb_bus_register(&rig->vm.pio, &pio[i], &err) == 0, "%s", err.msg);
	struct nb_bus_device mmio = { "probe", TEST_MMIO_GPA, 0x1000, probe_io, &rig->probe };
	NB_ASSERT(nb_bus_register(&rig->vm.mmio, &mmio, &err) == 0, "%s", err.msg);
	NB_ASSERT(nb_mem_write(&rig->vm.mem, PAYLOAD_GPA, code, len, &err) == 0, "%s", err.msg);
	NB_ASSERT(nb_vm_setup_boot_cpu(&rig->vm, PAYLOAD_GPA, &err) == 0, "%s", err.msg);
}

/* Run until the VM latches a stop (a device or an exit) or 20 s pass. */
static void rig_run(struct rig *rig)
{
	struct nb_err err = { 0 };
	struct timespec nap = { 0, 1000000 };

	NB_ASSERT(nb_vm_start(&rig->vm, &err) == 0, "%s", err.msg);
	for (int i = 0; i < 20000 && !nb_stop_requested(&rig->vm.stop); i++)
		nanosleep(&nap, NULL);
	nb_vm_stop_vcpus(&rig->vm);
	nb_serial_flush(&rig->serial);
}

static void rig_destroy(struct rig *rig)
{
	nb_serial_destroy(&rig->serial);
	close(rig->console[0]);
	close(rig->console[1]);
	nb_vm_destroy(&rig->vm);
}

/* 64-bit payload: print "K\n" on the UART, write 0x1234 to the probe and
 * read it back, then report status 7 through the exit device. */
static const uint8_t payload_exit7[] = {
	0x66, 0xba, 0xf8, 0x03,                         /* mov dx, 0x3f8 */
	0xb0, 'K',  0xee,                               /* mov al, 'K'; out dx, al */
	0xb0, '\n', 0xee,                               /* mov al, '\n'; out dx, al */
	0x48, 0xbb, 0x00, 0x00, 0x00, 0xd0, 0, 0, 0, 0, /* mov rbx, 0xd0000000 */
	0xc7, 0x03, 0x34, 0x12, 0x00, 0x00,             /* mov dword [rbx], 0x1234 */
	0x8b, 0x4b, 0x04,                               /* mov ecx, [rbx+4] */
	0x66, 0xba, 0x10, 0x05,                         /* mov dx, 0x510 */
	0xb8, 0x07, 0x00, 0x42, 0x4e,                   /* mov eax, 0x4e420007 */
	0xef,                                           /* out dx, eax */
	0xf4,                                           /* hlt */
};

static void test_payload_exit_status(void)
{
	struct rig rig;
	char out[16] = "";

	require_kvm();
	rig_boot(&rig, payload_exit7, sizeof(payload_exit7));
	rig_run(&rig);
	NB_ASSERT(rig.vm.stop.reason == NB_STOP_STATUS, "reason %d: %s", rig.vm.stop.reason,
		  rig.vm.stop.err.msg);
	NB_ASSERT(rig.vm.stop.status == 7, "status %d", rig.vm.stop.status);
	NB_ASSERT(read(rig.console[0], out, sizeof(out) - 1) == 2 && strcmp(out, "K\n") == 0,
		  "console saw '%s'", out);
	NB_ASSERT(rig.probe.writes == 1 && rig.probe.last_write == 0x1234, "MMIO write %u 0x%x",
		  rig.probe.writes, rig.probe.last_write);
	NB_ASSERT(rig.probe.reads == 1, "MMIO reads %u", rig.probe.reads);
	NB_ASSERT(rig.vm.vcpus[0].stats.pio >= 3 && rig.vm.vcpus[0].stats.mmio == 2);
	rig_destroy(&rig);
}

/* A value without the magic is a protocol violation, not a status. */
static const uint8_t payload_bad_exit[] = {
	0x66, 0xba, 0x10, 0x05,       /* mov dx, 0x510 */
	0xb8, 0x03, 0x00, 0x00, 0x00, /* mov eax, 3 */
	0xef, 0xf4,                   /* out dx, eax; hlt */
};

static void test_payload_bad_exit_value(void)
{
	struct rig rig;

	require_kvm();
	rig_boot(&rig, payload_bad_exit, sizeof(payload_bad_exit));
	rig_run(&rig);
	NB_ASSERT(rig.vm.stop.reason == NB_STOP_ERROR, "reason %d", rig.vm.stop.reason);
	NB_ASSERT(strstr(rig.vm.stop.err.msg, "invalid value 0x00000003"), "%s",
		  rig.vm.stop.err.msg);
	rig_destroy(&rig);
}

/* reboot=k: the kernel pulses the reset line through the i8042. */
static const uint8_t payload_reset[] = {
	0xb0, 0xfe, 0xe6, 0x64, /* mov al, 0xfe; out 0x64, al */
	0xf4,                   /* hlt */
};

static void test_payload_i8042_reset(void)
{
	struct rig rig;

	require_kvm();
	rig_boot(&rig, payload_reset, sizeof(payload_reset));
	rig_run(&rig);
	NB_ASSERT(rig.vm.stop.reason == NB_STOP_RESET, "reason %d: %s", rig.vm.stop.reason,
		  rig.vm.stop.err.msg);
	rig_destroy(&rig);
}

/* Reading the exit register identifies the device and the ABI. */
static const uint8_t payload_probe_exitdev[] = {
	0x66, 0xba, 0x10, 0x05,       /* mov dx, 0x510 */
	0xed,                         /* in eax, dx */
	0x0f, 0xb7, 0xc0,             /* movzx eax, ax: the version */
	0x0d, 0x00, 0x00, 0x42, 0x4e, /* or eax, 0x4e420000 */
	0xef, 0xf4,                   /* out dx, eax; hlt */
};

static void test_payload_exitdev_read(void)
{
	struct rig rig;

	require_kvm();
	rig_boot(&rig, payload_probe_exitdev, sizeof(payload_probe_exitdev));
	rig_run(&rig);
	NB_ASSERT(rig.vm.stop.reason == NB_STOP_STATUS, "reason %d: %s", rig.vm.stop.reason,
		  rig.vm.stop.err.msg);
	NB_ASSERT(rig.vm.stop.status == NB_ABI_VERSION, "status %d", rig.vm.stop.status);
	rig_destroy(&rig);
}

NB_TEST_MAIN(60, { "kvm_create_vm", test_create_vm },
	     { "kvm_memory_not_preallocated", test_memory_not_preallocated },
	     { "kvm_bad_cpu_count", test_bad_cpu_count },
	     { "kvm_payload_exit_status", test_payload_exit_status },
	     { "kvm_payload_bad_exit_value", test_payload_bad_exit_value },
	     { "kvm_payload_i8042_reset", test_payload_i8042_reset },
	     { "kvm_payload_exitdev_read", test_payload_exitdev_read }, )
