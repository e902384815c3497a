#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/spec.h"
#include "vmm/container_cli.h"
#include "dev/exitdev.h"
#include "dev/i8042.h"
#include "dev/serial.h"
#include "event.h"
#include "images/initramfs.h"
#include "kvm.h"
#include "kvmstats.h"
#include "network.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "virtio/blk.h"
#include "images/image.h"
#include "images/runplan.h"
#include "virtio/console.h"
#include "virtio/mmio.h"
#include "virtio/rng.h"
#include "vm.h"
#include "x86_64/bootparams.h"
#include "x86_64/layout.h"
#include "x86_64/loader.h"
#include "x86_64/mptable.h"

/* reboot=k: reset through the i8042 (our stop path); panic=-1: reset at
 * once on panic; the rest skips probes a microVM has nothing behind. */
const char nb_run_base_cmdline[] = "console=ttyS0 reboot=k panic=-1 rdinit=/init quiet "
				   "8250.nr_uarts=1 io_delay=none no_timer_check tsc=reliable "
				   "random.trust_cpu=on";

struct file_map {
	const uint8_t *data;
	size_t len;
};

static int map_file(const char *what, const char *path, struct file_map *map, struct nb_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return nb_err_sys(err, "%s %s", what, path);
	if (fstat(fd, &st) < 0)
		return nb_err_sys(err, "%s %s", what, path);
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return nb_err_set(err, 0, "%s %s is not a regular, non-empty file", what, path);
	void *data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (data == MAP_FAILED)
		return nb_err_sys(err, "mapping %s %s", what, path);
	map->data = data;
	map->len = (size_t)st.st_size;
	return 0;
}

static void unmap_file(struct file_map *map)
{
	if (map->data)
		munmap((void *)map->data, map->len);
	map->data = NULL;
}

/* The virtio-blk serial of volume i: how nestbox-init finds its disk. */
static void volume_serial(size_t i, char *buf, size_t size)
{
	snprintf(buf, size, "nbvol%u", (unsigned)(i % NB_RUN_MAX_VOLUMES));
}

/* Spec entries "SERIAL:MODE:PATH" for the -v volumes (abi.h). */
static int volume_entries(const struct nb_run_options *opts, char **entries, struct nb_err *err)
{
	for (size_t i = 0; i < opts->nvolumes; i++) {
		char serial[NB_VOLUME_SERIAL_MAX + 1];

		volume_serial(i, serial, sizeof(serial));
		if (asprintf(&entries[i], "%s:%s:%s", serial, opts->volumes[i].read_only ? "ro" : "rw",
			     opts->volumes[i].guest) < 0) {
			entries[i] = NULL;
			return nb_err_sys(err, "--volume");
		}
	}
	return 0;
}

static size_t count_strings(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* The image's Entrypoint, Cmd, Env, WorkingDir and User, overridden by the
 * command line as Docker does (images/runplan.h). */
static int apply_image_config(const struct nb_run_options *opts, const struct nb_image *image,
			      struct nb_spec *spec, struct nb_run_plan *plan, struct nb_err *err)
{
	const struct nb_run_container *c = &opts->container;
	const struct nb_run_overrides overrides = {
		.entrypoint = c->entrypoint,
		.argv = opts->argv,
		.argc = opts->argc,
		.env = c->env,
		.nenv = c->nenv,
		.workdir = c->workdir,
		.user = c->user,
	};

	if (nb_run_plan_build(&image->config, &overrides, plan, err) < 0)
		return nb_err_wrap(err, "image %s", opts->rootfs);
	spec->argv = (const char *const *)plan->argv;
	spec->argc = count_strings(plan->argv);
	spec->env = (const char *const *)plan->env;
	spec->envc = count_strings(plan->env);
	spec->workdir = plan->workdir;
	spec->user = plan->user;
	return 0;
}

static int build_initramfs(const struct nb_run_options *opts, const struct nb_image *image,
			   struct nb_buf *initrd, struct nb_err *err)
{
	struct nb_run_plan plan = { 0 };
	cleanup_free void *spec_blob = NULL;
	size_t spec_len = 0;
	char *volumes[NB_RUN_MAX_VOLUMES] = { 0 };
	struct nb_spec spec = {
		.argv = opts->argv,
		.argc = opts->argc,
		.rootfs = NB_GUEST_ROOTFS,
		.volumes = (const char *const *)volumes,
		.nvolumes = opts->nvolumes,
	};
	struct nb_container_owned container;
	int rc = nb_container_spec(opts, &spec, &container, err);

	if (rc == 0 && image)
		rc = apply_image_config(opts, image, &spec, &plan, err);
	if (rc == 0)
		rc = volume_entries(opts, volumes, err);
	if (rc == 0 && (rc = nb_network_check(opts, err)) == 0)
		nb_network_spec(opts, &spec);
	if (rc == 0)
		rc = nb_spec_encode(&spec, &spec_blob, &spec_len, err); /* the codec names the spec */
	nb_container_owned_free(&container);
	nb_run_plan_free(&plan);
	for (size_t i = 0; i < opts->nvolumes; i++)
		free(volumes[i]);
	if (rc < 0)
		return -1;
	/* An image's root comes from its layer disks, not the initramfs. */
	return nb_initramfs_build(initrd, opts->init_path, image ? NULL : opts->rootfs, spec_blob,
				  spec_len, err);
}

static int write_cmdline(struct nb_vm *vm, const struct nb_run_options *opts, uint32_t *size,
			 struct nb_err *err)
{
	char cmdline[NB_CMDLINE_MAX];
	int len = snprintf(cmdline, sizeof(cmdline), "%s%s%s", nb_run_base_cmdline,
			   opts->kernel_args ? " " : "", opts->kernel_args ? opts->kernel_args : "");

	if (len < 0 || (size_t)len >= sizeof(cmdline) ||
	    nb_virtio_mmio_cmdline(cmdline, sizeof(cmdline)) < 0)
		return nb_err_set(err, 0, "kernel command line is longer than %u bytes",
				  NB_CMDLINE_MAX - 1);
	*size = (uint32_t)strlen(cmdline) + 1;
	return nb_mem_write(&vm->mem, NB_CMDLINE_GPA, cmdline, *size, err);
}

/* Kernel, initramfs, command line, zero page, MP table, boot vCPU. */
static int load_guest(struct nb_vm *vm, const struct nb_run_options *opts,
		      const struct file_map *kernel_file, const struct nb_buf *initrd,
		      struct nb_err *err)
{
	struct nb_kernel kernel;
	struct nb_boot_args args = { .cmdline_gpa = NB_CMDLINE_GPA, .initrd_size = initrd->len };
	struct boot_params bp;

	if (nb_kernel_load(kernel_file->data, kernel_file->len, &vm->mem, &kernel, err) < 0)
		return nb_err_wrap(err, "kernel %s", opts->kernel_path);
	if (nb_initrd_place(&vm->mem, &kernel, initrd->len, &args.initrd_gpa, err) < 0 ||
	    nb_mem_write(&vm->mem, args.initrd_gpa, initrd->data, initrd->len, err) < 0)
		return nb_err_wrap(err, "initramfs");
	if (write_cmdline(vm, opts, &args.cmdline_size, err) < 0 ||
	    nb_boot_params_build(&bp, &vm->mem, &kernel, &args, err) < 0 ||
	    nb_mem_write(&vm->mem, NB_ZERO_PAGE_GPA, &bp, sizeof(bp), err) < 0 ||
	    nb_mptable_write(&vm->mem, vm->ncpus, err) < 0)
		return nb_err_wrap(err, "boot structures");
	return nb_vm_setup_boot_cpu(vm, kernel.entry, err);
}

/* Devices register their bus ranges and, for the event thread, their
 * descriptors with loop. */
/* virtio: the console first (the workload's stdio), entropy, then one
 * disk per -v volume, serials nbvol0.. in order. */
/* An image's layers: read-only disks NB_LAYER_SERIAL0.. bottom first, which
 * nestbox-init stacks with overlayfs (guest-init/layers.c). */
static int add_layers(struct nb_vm *vm, struct nb_event_loop *loop, const struct nb_image *image,
		      struct nb_err *err)
{
	for (size_t i = 0; image && i < image->n_layers; i++) {
		char serial[32];
		struct nb_blk_opts blk = { .read_only = true, .serial = serial };

		snprintf(serial, sizeof(serial), NB_LAYER_SERIAL "%zu", i);
		if (nb_virtio_blk_add(vm, loop, image->layers[i], &blk, err) < 0)
			return nb_err_wrap(err, "image layer %zu of %zu", i + 1, image->n_layers);
	}
	return 0;
}

static int add_virtio(struct nb_vm *vm, struct nb_event_loop *loop,
		      const struct nb_run_options *opts, const struct nb_image *image,
		      struct nb_console **console, struct nb_err *err)
{
	struct nb_console_opts con = {
		.stdin_fd = opts->interactive ? STDIN_FILENO : -1,
		.stdout_fd = STDOUT_FILENO,
		.stderr_fd = STDERR_FILENO,
	};

	if (nb_virtio_console_add(vm, loop, &con, console, err) < 0 ||
	    nb_virtio_rng_add(vm, loop, err) < 0)
		return -1;
	for (size_t i = 0; i < opts->nvolumes; i++) {
		char serial[NB_VOLUME_SERIAL_MAX + 1];
		struct nb_blk_opts blk = { .read_only = opts->volumes[i].read_only,
					   .direct = opts->volumes[i].direct,
					   .serial = serial };

		volume_serial(i, serial, sizeof(serial));
		if (nb_virtio_blk_add(vm, loop, opts->volumes[i].host, &blk, err) < 0)
			return -1;
	}
	if (nb_network_add(vm, loop, opts, err) < 0)
		return -1;
	return add_layers(vm, loop, image, err);
}

static int add_devices(struct nb_vm *vm, struct nb_event_loop *loop, struct nb_serial *serial,
		       struct nb_err *err)
{
	const struct nb_bus_device devices[] = {
		{ "serial", NB_SERIAL_COM1_PORT, NB_SERIAL_NREGS, nb_serial_io, serial },
		{ "i8042", NB_I8042_DATA_PORT, NB_I8042_CMD_PORT - NB_I8042_DATA_PORT + 1,
		  nb_i8042_io, &vm->stop },
		{ "exit", NB_EXIT_PORT, NB_EXIT_PORT_LEN, nb_exitdev_io, &vm->stop },
	};

	(void)loop; /* no device needs the event thread yet */
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
		if (nb_bus_register(&vm->pio, &devices[i], err) < 0)
			return -1;
	return 0;
}

/* Turn the latched stop reason into nestbox's result. */
static int stop_result(struct nb_stop *stop, int *status, struct nb_err *err)
{
	switch (stop->reason) {
	case NB_STOP_STATUS:
		*status = stop->status;
		return 0;
	case NB_STOP_HOST:
		*status = stop->status;
		if (stop->err.msg[0])
			fprintf(stderr, "nestbox: %s\n", stop->err.msg);
		return 0;
	case NB_STOP_RESET:
		return nb_err_set(err, 0, "the guest reset before reporting an exit status "
				  "(a guest kernel panic, or a reboot inside the guest; its "
				  "console output is above)");
	default:
		return nb_err_set(err, 0, "%s", stop->err.msg[0] ? stop->err.msg : "the VM stopped");
	}
}

static long rss_kib(void)
{
	cleanup_fclose FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	return kib;
}

/* One JSON line: exits seen by the VMM and by KVM, start-up cost, memory. */
static void print_stats(const struct nb_vm *vm, const struct nb_serial *serial,
			const struct nb_run_options *opts, double wall_ms)
{
	uint64_t runs = 0, pio = 0, mmio = 0, kvm_exits = 0, exits;
	uint64_t guest_resident = nb_mem_resident(&vm->mem);

	for (unsigned i = 0; i < vm->ncpus; i++) {
		runs += vm->vcpus[i].stats.runs;
		pio += vm->vcpus[i].stats.pio;
		mmio += vm->vcpus[i].stats.mmio;
		if (nb_kvmstats_read(vm->vcpus[i].fd, "exits", &exits) == 0)
			kvm_exits += exits;
	}
	fprintf(stderr,
		"{\"wall_ms\":%.1f,\"startup_wall_ms\":%.2f,\"startup_cpu_ms\":%.2f,\"vcpus\":%u,"
		"\"kvm_exits\":%" PRIu64 ",\"vmm_exits\":%" PRIu64 ",\"pio_exits\":%" PRIu64
		",\"mmio_exits\":%" PRIu64 ",\"unclaimed_pio\":%" PRIu64 ",\"console_bytes\":%" PRIu64
		",\"guest_resident_kib\":%" PRIu64 ",\"vmm_rss_kib\":%ld}\n",
		wall_ms, vm->ready_mono_ms - opts->start_mono_ms, vm->ready_cpu_ms, vm->ncpus,
		kvm_exits, runs, pio, mmio, vm->pio.unclaimed, serial->tx_bytes, guest_resident >> 10,
		rss_kib() - (long)(guest_resident >> 10));
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int check_host(const struct file_map *kernel_file, const char *kernel_path,
		      struct nb_err *err);

static int boot_and_wait(struct nb_vm *vm, const struct nb_run_options *opts,
			 const struct nb_image *image, const struct file_map *kernel_file,
			 const struct nb_buf *initrd, int *status, struct nb_err *err)
{
	struct nb_serial serial;
	struct nb_event_loop loop;
	struct nb_console *console = NULL;
	double start = now_ms();
	int rc = -1;

	/* The loop first: it blocks the signals it handles, and every thread
	 * started later inherits that mask. */
	nb_serial_init(&serial, STDOUT_FILENO, nb_vm_set_irq, vm, NB_SERIAL_COM1_IRQ);
	if (nb_event_init(&loop, &vm->stop, opts->timeout_sec, err) < 0 ||
	    add_devices(vm, &loop, &serial, err) < 0 ||
	    add_virtio(vm, &loop, opts, image, &console, err) < 0 ||
	    load_guest(vm, opts, kernel_file, initrd, err) < 0 ||
	    check_host(kernel_file, opts->kernel_path, err) < 0 || nb_vm_start(vm, err) < 0)
		goto out;
	rc = nb_event_run(&loop, err);
	nb_vm_stop_vcpus(vm);
	if (console)
		nb_console_drain(console);
	nb_serial_flush(&serial);
	if (rc == 0)
		rc = stop_result(&vm->stop, status, err);
	if (opts->stats)
		print_stats(vm, &serial, opts, now_ms() - start);
out:
	nb_network_cleanup();
	nb_virtio_mmio_destroy_all();
	nb_event_destroy(&loop);
	nb_serial_destroy(&serial);
	return rc;
}

/* On a PVM host a Linux guest would die at its first system call; refuse
 * with the reason, after every other check has had its say. */
static int check_host(const struct file_map *kernel_file, const char *kernel_path,
		      struct nb_err *err)
{
	if (nb_kvm_is_pvm("/sys") && nb_kernel_is_linux(kernel_file->data, kernel_file->len))
		return nb_err_set(err, 0, "cannot boot %s here: %s", kernel_path, nb_kvm_pvm_hint);
	return 0;
}

static int read_kernel(const char *path, struct file_map *map, struct nb_err *err)
{
	char cause[NB_ERR_MSG_MAX];

	if (map_file("kernel", path, map, err) == 0)
		return 0;
	memcpy(cause, err->msg, sizeof(cause));
	return nb_err_set(err, 0, "%.400s (build it with make, or pass --kernel PATH)", cause);
}

int nb_run(const struct nb_run_options *opts, int *status, struct nb_err *err)
{
	struct file_map kernel_file = { 0 };
	struct nb_buf initrd = { 0 };
	struct nb_vm vm;
	struct nb_vm_config cfg = { .ncpus = opts->cpus, .mem_size = opts->mem_size };
	struct nb_image image = { 0 };
	bool is_image = nb_image_is_reference(opts->rootfs);
	int rc = -1;

	if (read_kernel(opts->kernel_path, &kernel_file, err) < 0)
		return -1;
	if ((is_image && nb_image_resolve(opts->rootfs, &image, err) < 0) ||
	    build_initramfs(opts, is_image ? &image : NULL, &initrd, err) < 0 ||
	    nb_vm_create(&vm, &cfg, err) < 0)
		goto out;
	rc = boot_and_wait(&vm, opts, is_image ? &image : NULL, &kernel_file, &initrd, status, err);
	nb_vm_destroy(&vm);
out:
	nb_image_free(&image);
	nb_buf_free(&initrd);
	unmap_file(&kernel_file);
	return rc;
}
