/* libFuzzer: the vCPU exit decoding (vmm/kvm/vcpu_exit.c) fed kvm_run-shaped
 * exits without KVM, with the VM's real port-I/O devices behind it (the
 * 8250 UART, the i8042, the exit device: vmm/dev/) and a virtio-mmio
 * device (virtio-rng) in the MMIO window, wired as vmm/run/run.c wires them.
 * Each input is a run of exits with any reason and any fields (port,
 * size, count and data offset of port I/O, address, length and direction
 * of MMIO, system event types, error codes), handled as the vCPU thread
 * handles them until one stops the vCPU. Oracles: a vCPU that stops has
 * a stop reason latched, and only I/O and MMIO exits keep it running;
 * port I/O touches no byte of the kvm_run page outside the exit's data;
 * a guest-reported status is 0..255.
 * Covers: vmm/kvm/vcpu_exit.c vmm/dev/serial.c vmm/dev/i8042.c vmm/dev/exitdev.c */
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "nestbox/abi.h"
#include "vmm/dev/exitdev.h"
#include "vmm/dev/i8042.h"
#include "vmm/dev/serial.h"
#include "vmm/kvm/vcpu_exit.h"
#include "vmm/virtio/rng.h"
#include "vmm/kvm/vm.h"
#include "vmm/kvm/x86_64/layout.h"

#define RUN_SIZE 0x3000u /* what KVM_GET_VCPU_MMAP_SIZE says on x86 */

static struct nb_vm vm;
static struct nb_serial serial;
static struct nb_virtio_mmio rng;
static struct nb_rng rng_dev;
static uint8_t *run_page, *ram;
static struct nb_guest_mem mem;

static void set_irq(void *opaque, unsigned irq, bool level)
{
	(void)opaque;
	(void)irq;
	(void)level;
}

static void init_once(void)
{
	struct nb_err err = { 0 };
	int devnull;

	if (run_page)
		return;
	run_page = malloc(RUN_SIZE);
	ram = calloc(1, VD_RAM_SIZE);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (!run_page || !ram || devnull < 0)
		abort();
	nb_mem_layout(&mem, ram, VD_RAM_SIZE);
	vm.run_size = RUN_SIZE;
	vm.ncpus = 1;
	vm.vcpus[0].vm = &vm;
	vm.vcpus[0].run = (struct kvm_run *)run_page;
	nb_serial_init(&serial, devnull, set_irq, NULL, NB_SERIAL_COM1_IRQ);
	nb_rng_init(&rng_dev);
	if (nb_virtio_mmio_init(&rng, &rng_dev.vdev, &mem, &err) < 0)
		abort();
	const struct nb_bus_device pio[] = {
		{ "serial", NB_SERIAL_COM1_PORT, NB_SERIAL_NREGS, nb_serial_io, &serial },
		{ "i8042", NB_I8042_DATA_PORT, NB_I8042_CMD_PORT - NB_I8042_DATA_PORT + 1,
		  nb_i8042_io, &vm.stop },
		{ "exit", NB_EXIT_PORT, NB_EXIT_PORT_LEN, nb_exitdev_io, &vm.stop },
	};
	for (size_t i = 0; i < sizeof(pio) / sizeof(pio[0]); i++)
		if (nb_bus_register(&vm.pio, &pio[i], &err) < 0)
			abort();
	struct nb_bus_device mmio = { "virtio-rng", NB_MMIO_BASE, NB_VIRTIO_MMIO_SLOT_SIZE,
				      nb_virtio_mmio_io, &rng };
	if (nb_bus_register(&vm.mmio, &mmio, &err) < 0)
		abort();
}

static uint16_t pick_port(struct fz *f)
{
	static const uint16_t ports[] = { NB_SERIAL_COM1_PORT,     NB_SERIAL_COM1_PORT + 1,
					  NB_SERIAL_COM1_PORT + 2, NB_SERIAL_COM1_PORT + 3,
					  NB_SERIAL_COM1_PORT + 4, NB_SERIAL_COM1_PORT + 5,
					  NB_SERIAL_COM1_PORT + 7, NB_I8042_DATA_PORT,
					  NB_I8042_CMD_PORT,       NB_EXIT_PORT,
					  NB_EXIT_PORT + 2,        0x80 };
	uint8_t pick = fz_u8(f);

	return pick < 0xf0 ? ports[pick % (sizeof(ports) / sizeof(ports[0]))] : fz_u16(f);
}

/* A port-I/O exit; returns the data range [*lo, *hi) it may touch. */
static void io_exit(struct fz *f, struct kvm_run *run, uint64_t *lo, uint64_t *hi)
{
	static const uint8_t sizes[] = { 1, 2, 4, 1, 1, 0, 3, 8 };
	uint8_t shape = fz_u8(f);
	uint8_t direction = shape & 0x80 ? fz_u8(f)
					 : (shape & 1 ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN);
	uint8_t size = shape & 0x40 ? fz_u8(f) : sizes[(shape >> 1) & 7];
	uint16_t port = pick_port(f);
	uint32_t count = shape & 0x20 ? fz_u32(f) : 1 + (fz_u8(f) & 7);
	uint64_t offset = shape & 0x10 ? fz_u64(f) : 0x1000 + (fz_u8(f) & 0x3f);
	size_t len = fz_u8(f) % 65; /* bytes of data KVM put there for an OUT */
	const uint8_t *bytes = fz_bytes(f, &len);

	/* Data past the kvm_run header, where KVM puts it (an offset inside
	 * the header is still given to the decoder, without data). */
	if (offset >= sizeof(*run) && offset < RUN_SIZE)
		memcpy(run_page + offset, bytes, len < RUN_SIZE - offset ? len : RUN_SIZE - offset);
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = direction;
	run->io.size = size;
	run->io.port = port;
	run->io.count = count;
	run->io.data_offset = offset;
	/* What the decoder may touch: KVM's promise, which it must check,
	 * not trust; plus the bytes we wrote. */
	*lo = offset;
	*hi = offset < RUN_SIZE && (uint64_t)size * count <= RUN_SIZE - offset
		      ? offset + (uint64_t)size * count
		      : offset;
	if (*hi < *lo + 64 && *lo < RUN_SIZE)
		*hi = *lo + 64 < RUN_SIZE ? *lo + 64 : RUN_SIZE;
}

static void mmio_exit(struct fz *f, struct kvm_run *run)
{
	uint8_t shape = fz_u8(f);

	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = shape & 0x80 ? fz_u64(f) : NB_MMIO_BASE + (fz_u16(f) & 0xfff);
	run->mmio.len = shape & 0x40 ? fz_u32(f) : 1u << (shape & 3);
	run->mmio.is_write = shape & 0x20 ? fz_u8(f) : shape & 0x10;
	for (unsigned i = 0; i < sizeof(run->mmio.data); i++)
		run->mmio.data[i] = fz_u8(f);
}

/* Bytes [from, to) of the run page still hold the 0xcc filler. */
static void check_untouched(uint64_t from, uint64_t to)
{
	static uint8_t filler[RUN_SIZE];

	if (!filler[0])
		memset(filler, 0xcc, sizeof(filler));
	if (from < to)
		FZ_CHECK(!memcmp(run_page + from, filler, to - from),
			 "the run page changed between %#llx and %#llx", (unsigned long long)from,
			 (unsigned long long)to);
}

static bool keeps_running(uint32_t reason)
{
	return reason == KVM_EXIT_IO || reason == KVM_EXIT_MMIO || reason == KVM_EXIT_INTR;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t reasons[] = { KVM_EXIT_IO,
					    KVM_EXIT_MMIO,
					    KVM_EXIT_INTR,
					    KVM_EXIT_HLT,
					    KVM_EXIT_SHUTDOWN,
					    KVM_EXIT_SYSTEM_EVENT,
					    KVM_EXIT_INTERNAL_ERROR,
					    KVM_EXIT_FAIL_ENTRY };
	struct nb_err err = { 0 };
	struct fz f = { data, size };
	struct nb_vcpu *vcpu = &vm.vcpus[0];
	struct kvm_run *run = vcpu->run;

	init_once();
	if (nb_stop_init(&vm.stop, &err) < 0)
		abort();
	vm.pvm_host = fz_u8(&f) & 1;
	for (unsigned steps = 0; fz_more(&f) && steps < 256; steps++) {
		uint8_t pick = fz_u8(&f);
		uint64_t lo = 0, hi = 0;

		memset(run_page, 0xcc, RUN_SIZE);
		memset(run, 0, sizeof(*run));
		if (pick % 16 < 8)
			run->exit_reason = reasons[pick % 8];
		else
			run->exit_reason = pick % 16 == 8 ? fz_u32(&f) : pick % 16;
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			io_exit(&f, run, &lo, &hi);
			break;
		case KVM_EXIT_MMIO:
			mmio_exit(&f, run);
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			run->system_event.type = fz_u8(&f) < 0xc0 ? 1 + fz_u8(&f) % 4 : fz_u32(&f);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			run->internal.suberror = fz_u32(&f);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			run->fail_entry.hardware_entry_failure_reason = fz_u64(&f);
			break;
		}
		uint32_t reason = run->exit_reason;
		bool go_on = nb_vcpu_handle_exit(vcpu);

		FZ_CHECK(go_on || nb_stop_requested(&vm.stop), "stopped with no reason latched");
		FZ_CHECK(!go_on || keeps_running(reason), "exit %u kept the vCPU running", reason);
		check_untouched(sizeof(*run), lo < RUN_SIZE ? lo : RUN_SIZE);
		check_untouched(hi > sizeof(*run) ? hi : sizeof(*run), RUN_SIZE);
		/* The event thread's turn for the virtio device. */
		uint64_t count;
		if (read(rng.notify_fd, &count, sizeof(count)) == sizeof(count))
			nb_virtio_process(rng.dev);
		if (!go_on || nb_stop_requested(&vm.stop))
			break;
	}
	if (vm.stop.reason == NB_STOP_STATUS)
		FZ_CHECK(vm.stop.status >= 0 && vm.stop.status <= 255, "status %d", vm.stop.status);
	nb_stop_destroy(&vm.stop);
	/* Each input starts from a reset machine. */
	uint32_t zero = 0;
	nb_virtio_mmio_io(&rng, VIRTIO_MMIO_STATUS, (uint8_t *)&zero, 4, true);
	nb_virtio_process(rng.dev);
	nb_serial_destroy(&serial);
	nb_serial_init(&serial, serial.out_fd, set_irq, NULL, NB_SERIAL_COM1_IRQ);
	return 0;
}
