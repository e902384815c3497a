#include "vmm/run/run.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "common/sigmsg.h"
#include "common/spec.h"
#include "vmm/run/container_spec.h"
#include "vmm/run/monitor.h"
#include "vmm/run/records.h"
#include "vmm/confine/jail.h"
#include "vmm/confine/seccomp.h"
#include "vmm/dev/exitdev.h"
#include "vmm/dev/i8042.h"
#include "vmm/dev/serial.h"
#include "vmm/kvm/event.h"
#include "images/initramfs.h"
#include "vmm/kvm/kvm.h"
#include "vmm/kvm/stats.h"
#include "vmm/run/network.h"
#include "vmm/run/sigforward.h"
#include "vmm/run/supervisor.h"
#include "vmm/run/template.h"
#include "vmm/run/tty.h"
#include "vmm/run/volumes.h"
#include "vmm/run/warm.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/run/resources.h"
#include "vmm/virtio/balloon.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/blk_concat.h"
#include "images/digest.h"
#include "images/image.h"
#include "images/runplan.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/fs.h"
#include "vmm/virtio/mmio.h"
#include "vmm/virtio/rng.h"
#include "vmm/kvm/vm.h"
#include "vmm/kvm/x86_64/bootparams.h"
#include "vmm/kvm/x86_64/layout.h"
#include "vmm/kvm/x86_64/loader.h"
#include "vmm/kvm/x86_64/mptable.h"

/* reboot=k: reset through the i8042 (our stop path); panic=-1: reset at
 * once on panic; rcupdate.rcu_expedited: the RCU grace periods the
 * container's set-up waits for (its cgroup: 27-42 ms of a test-host boot,
 * 6-10 expedited) take a few IPIs to a VM's few vCPUs rather than
 * jiffies; ioapic_fresh: KVM's IOAPIC comes out of reset, every pin
 * masked, so the guest skips reading and rewriting all 24 pins, ~576 VM
 * exits (images/kernel/patches/ioapic-fresh.patch; a kernel without the
 * patch hands the word to init, which ignores it); the rest skips probes
 * a microVM has nothing behind. */
const char nb_run_base_cmdline[] = "console=ttyS0 reboot=k panic=-1 rdinit=/init quiet "
				   "rcupdate.rcu_expedited=1 8250.nr_uarts=1 io_delay=none "
				   "no_timer_check tsc=reliable random.trust_cpu=on ioapic_fresh";

/* The virtio_mmio.device= arguments the devices add to the command line
 * (" virtio_mmio.device=4K@0xd0000000:NN" at most 40 bytes each). */
#define NB_RUN_MMIO_ARGS_MAX (NB_VIRTIO_MMIO_MAX * 40u)

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

/* One run's inputs and the state of its devices that outlives a function. */
struct run_ctx {
	struct file_map *kernel;
	struct nb_blk_concat *layers; /* an image's layer disk; NULL: a rootfs directory */
	const struct nb_buf *initrd;
	bool pvm_host;
	struct nb_network net;
	int console_stdin;      /* the stdin port's host side; -1: none */
	int console_stdin_then; /* read after it (a clone's -i: the host's stdin); -1: none */
	struct nb_warm_in warm; /* a restore's snapshot files (memory_fd -1: a fresh boot) */
	/* virtio-balloon, NULL without one (guaranteed RAM); the control
	 * API changes its target (nb_balloon_set_target). */
	struct nb_balloon *balloon;
};

/* The virtio-blk serial of volume i: how nestbox-init finds its disk. */
static void volume_serial(size_t i, char *buf, size_t size)
{
	snprintf(buf, size, "nbvol%u", (unsigned)(i % NB_RUN_MAX_VOLUMES));
}

/* Spec entries "ID:MODE:PATH" for the -v volumes (abi.h): a disk's
 * serial or a share's tag, both nbvolN. */
static int volume_entries(const struct nb_run_options *opts, char **entries, struct nb_err *err)
{
	for (size_t i = 0; i < opts->nvolumes; i++) {
		const struct nb_run_volume *v = &opts->volumes[i];
		char serial[NB_VOLUME_SERIAL_MAX + 1];

		volume_serial(i, serial, sizeof(serial));
		if (asprintf(&entries[i], "%s:%s%s:%s", serial, v->dir ? NB_VOLUME_MODE_FS : "",
			     v->read_only ? "ro" : "rw", v->guest) < 0) {
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
		/* A template boot never runs its command: the image's own is
		 * the program its clones most likely run (nestbox-init reads it
		 * ahead, container/preload.h); an image without one waits
		 * under `true`. */
		.fallback = opts->warm.snapshot_to ? "true" : NULL,
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

/* Warm start (abi.h): a template boot waits for its workload; a clone's
 * spec brings fresh entropy and the wall clock. */
static int warm_spec(const struct nb_run_options *opts, struct nb_spec *spec,
		     uint8_t seed[NB_SPEC_SEED_LEN], struct nb_err *err)
{
	struct timespec now;

	spec->template = opts->warm.snapshot_to != NULL;
	if (!opts->warm.restore)
		return 0;
	if (getrandom(seed, NB_SPEC_SEED_LEN, 0) != (ssize_t)NB_SPEC_SEED_LEN)
		return nb_err_sys(err, "getrandom");
	clock_gettime(CLOCK_REALTIME, &now);
	spec->seed = seed;
	spec->seed_len = NB_SPEC_SEED_LEN;
	spec->clock_sec = (uint64_t)now.tv_sec;
	spec->clock_nsec = (uint64_t)now.tv_nsec;
	return 0;
}

/* The workload spec: image config, command line, container options, the
 * network's addresses. */
static int build_spec(const struct nb_run_options *opts, const struct nb_image *image,
		      const struct nb_blk_concat *layers, const struct nb_network *net,
		      void **spec_blob, size_t *spec_len, struct nb_err *err)
{
	uint8_t seed[NB_SPEC_SEED_LEN];
	char dns_buf[3][16];
	const char *dns[3];
	struct nb_spec_layer table[NB_MAX_LAYERS];
	struct nb_run_plan plan = { 0 };
	char *volumes[NB_RUN_MAX_VOLUMES] = { 0 };
	struct nb_spec spec = {
		.argv = opts->argv,
		.argc = opts->argc,
		.rootfs = NB_GUEST_ROOTFS,
		.volumes = (const char *const *)volumes,
		.nvolumes = opts->nvolumes,
		.start_gate = opts->oci.start_gate,
	};
	struct nb_container_owned container;
	int rc = nb_container_spec(opts, &spec, &container, err);

	/* Where each layer lies on the layer disk (abi.h). */
	for (size_t i = 0; image && i < layers->n; i++)
		table[i] = (struct nb_spec_layer){ layers->parts[i].start, layers->parts[i].len };
	spec.layers = image ? table : NULL;
	spec.nlayers = image ? layers->n : 0;
	if (rc == 0 && image)
		rc = apply_image_config(opts, image, &spec, &plan, err);
	if (rc == 0)
		rc = volume_entries(opts, volumes, err);
	if (rc == 0)
		nb_network_spec(net, &spec, dns_buf, dns);
	nb_tty_spec(opts->tty, &spec);
	if (rc == 0)
		rc = warm_spec(opts, &spec, seed, err);
	if (rc == 0)
		rc = nb_spec_encode(&spec, spec_blob, spec_len, err); /* the codec names the spec */
	nb_container_owned_free(&container);
	nb_run_plan_free(&plan);
	for (size_t i = 0; i < opts->nvolumes; i++)
		free(volumes[i]);
	return rc;
}

static int build_initramfs(const struct nb_run_options *opts, const struct nb_image *image,
			   const struct nb_blk_concat *layers, const struct nb_network *net,
			   struct nb_buf *initrd, struct nb_err *err)
{
	cleanup_free void *spec_blob = NULL;
	size_t spec_len = 0;

	if (build_spec(opts, image, layers, net, &spec_blob, &spec_len, err) < 0)
		return -1;
	/* An image's root comes from its layer disks, not the initramfs. */
	return nb_initramfs_build(initrd, opts->init_path, image ? NULL : opts->rootfs, spec_blob,
				  spec_len, err);
}

static int write_cmdline(struct nb_vm *vm, const struct nb_virtio_mmio_transport *virtio,
			 const struct nb_run_options *opts, uint32_t *size, struct nb_err *err)
{
	char cmdline[NB_CMDLINE_MAX];
	int len = snprintf(cmdline, sizeof(cmdline), "%s%s%s", nb_run_base_cmdline,
			   opts->kernel_args ? " " : "",
			   opts->kernel_args ? opts->kernel_args : "");

	if (len < 0 || (size_t)len >= sizeof(cmdline) ||
	    nb_virtio_mmio_cmdline(virtio, cmdline, sizeof(cmdline)) < 0)
		return nb_err_set(err, 0, "kernel command line is longer than %u bytes",
				  NB_CMDLINE_MAX - 1);
	*size = (uint32_t)strlen(cmdline) + 1;
	return nb_mem_write(&vm->mem, NB_CMDLINE_GPA, cmdline, *size, err);
}

/* Kernel, initramfs, command line, zero page, MP table, boot vCPU. */
static int load_guest(struct nb_vm *vm, const struct nb_virtio_mmio_transport *virtio,
		      const struct nb_run_options *opts, struct file_map *kernel_file,
		      const struct nb_buf *initrd, struct nb_err *err)
{
	struct nb_kernel kernel;
	struct nb_boot_args args = { .cmdline_gpa = NB_CMDLINE_GPA, .initrd_size = initrd->len };
	struct boot_params bp;

	if (nb_kernel_load(kernel_file->data, kernel_file->len, &vm->mem, &kernel, err) < 0)
		return nb_err_wrap(err, "kernel %s", opts->kernel_path);
	if (nb_initrd_place(&vm->mem, &kernel, initrd->len, &args.initrd_gpa, err) < 0 ||
	    nb_mem_write(&vm->mem, args.initrd_gpa, initrd->data, initrd->len, err) < 0)
		return nb_err_wrap(err, "initramfs");
	if (write_cmdline(vm, virtio, opts, &args.cmdline_size, err) < 0 ||
	    nb_boot_params_build(&bp, &vm->mem, &kernel, &args, err) < 0 ||
	    nb_mem_write(&vm->mem, NB_ZERO_PAGE_GPA, &bp, sizeof(bp), err) < 0 ||
	    nb_mptable_write(&vm->mem, vm->ncpus, err) < 0)
		return nb_err_wrap(err, "boot structures");
	return nb_vm_setup_boot_cpu(vm, kernel.entry, err);
}

/* A fresh boot loads the kernel; a clone takes its template's state,
 * and has the event thread look at every device once. */
static int prepare_guest(struct nb_vm *vm, struct nb_virtio_mmio_transport *virtio,
			 struct nb_serial *serial, const struct nb_run_options *opts,
			 const struct run_ctx *ctx, struct nb_err *err)
{
	char one = 1;

	if (!opts->warm.restore)
		return load_guest(vm, virtio, opts, ctx->kernel, ctx->initrd, err);
	if (nb_warm_load(vm, virtio, serial, &ctx->warm, err) < 0)
		return -1;
	nb_virtio_mmio_kick_all(virtio);
	if (opts->warm.has_ready_fd && write(opts->warm.ready_fd, &one, 1) < 0) {
		/* the caller went away: only a timing is lost */
	}
	return 0;
}

/* An image's layers: one read-only disk NB_LAYER_SERIAL holding them all,
 * which nestbox-init splits with loop devices and stacks with overlayfs
 * (guest-init/layers.c). */
static int add_layers(struct nb_virtio_transport *t, struct nb_event_loop *loop,
		      struct nb_blk_concat *layers, struct nb_err *err)
{
	if (!layers)
		return 0;
	return nb_virtio_blk_add_concat(t, loop, layers, NB_LAYER_SERIAL, err);
}

/* How many -v volumes are shared directories. */
static unsigned count_shares(const struct nb_run_options *opts)
{
	unsigned n = 0;

	for (size_t i = 0; i < opts->nvolumes; i++)
		n += opts->volumes[i].dir;
	return n;
}

/* Descriptors the VMM holds besides the shared directories' tables. */
#define RUN_OWN_FDS 1024u
#define SHARE_MIN_INODES 256u

/* RLIMIT_NOFILE for the shares' bounded tables: raised as far as this
 * process may; each share's tables shrink to what it got (a quarter of it
 * for open handles, at most the device's bounds). */
static int share_fd_budget(unsigned nshares, struct nb_fs_opts *fs, struct nb_err *err)
{
	rlim_t want = RUN_OWN_FDS + (rlim_t)nshares * NB_FS_MAX_FDS, per;
	struct rlimit lim;

	if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
		return nb_err_sys(err, "shared directories: getrlimit");
	if (lim.rlim_cur < want) {
		struct rlimit up = { want, lim.rlim_max > want ? lim.rlim_max : want };

		if (setrlimit(RLIMIT_NOFILE, &up) < 0) { /* not root: up to the hard limit */
			up = (struct rlimit){ lim.rlim_max, lim.rlim_max };
			setrlimit(RLIMIT_NOFILE, &up);
		}
		getrlimit(RLIMIT_NOFILE, &lim);
	}
	per = lim.rlim_cur > RUN_OWN_FDS ? (lim.rlim_cur - RUN_OWN_FDS) / nshares : 0;
	fs->max_handles = per / 4 < NB_FS_MAX_HANDLES ? (unsigned)(per / 4) : NB_FS_MAX_HANDLES;
	per -= per > fs->max_handles + 2u ? fs->max_handles + 2u : per;
	fs->max_inodes = per < NB_FS_MAX_INODES ? (unsigned)per : NB_FS_MAX_INODES;
	if (fs->max_inodes < SHARE_MIN_INODES)
		return nb_err_set(err, 0,
				  "shared directories need more open files than this "
				  "process may have (RLIMIT_NOFILE %llu; raise it with ulimit -n)",
				  (unsigned long long)lim.rlim_cur);
	return 0;
}

/* -v DIR: a virtio-fs device served on fs_loop's thread. */
static int add_share(struct nb_virtio_transport *t, struct nb_event_loop *fs_loop,
		     const struct nb_run_volume *v, const char *tag, struct nb_fs_opts fs,
		     struct nb_err *err)
{
	fs.tag = tag;
	fs.read_only = v->read_only;
	if (nb_virtio_fs_add(t, fs_loop, v->host, &fs, err) < 0)
		return nb_err_wrap(err, "--volume %s", v->host);
	return 0;
}

bool nb_run_has_balloon(const struct nb_run_options *opts)
{
	if (opts->warm.restore)
		return !opts->warm.no_balloon;
	return !opts->res.prealloc && !opts->res.hugetlb;
}

/* Memory that comes back: a balloon with free page reporting (a restore
 * of guaranteed RAM keeps one of its snapshot's: its inflation gives back
 * nothing, nb_mem_discard). */
static int add_balloon(struct nb_virtio_transport *t, struct nb_event_loop *loop,
		       const struct nb_run_options *opts, struct run_ctx *ctx, struct nb_err *err)
{
	if (!nb_run_has_balloon(opts))
		return 0;
	return nb_virtio_balloon_add(t, loop, &ctx->balloon, err);
}

/* virtio: the console first (the workload's stdio), entropy, the balloon,
 * then one device per -v volume (a disk, or a share on fs_loop's thread),
 * serials and tags nbvol0.. in order, a template's empty share slots, the
 * network devices, an image's layer disk. */
static int add_virtio(struct nb_virtio_transport *t, struct nb_event_loop *loop,
		      struct nb_event_loop *fs_loop, const struct nb_run_options *opts,
		      struct run_ctx *ctx, struct nb_console **console, struct nb_err *err)
{
	unsigned nshares = count_shares(opts);
	struct nb_fs_opts bounds = { 0 };
	struct nb_console_opts con = {
		.stdin_fd = ctx->console_stdin,
		.stdout_fd = STDOUT_FILENO,
		.stderr_fd = STDERR_FILENO,
		.stdin_then_fd = ctx->console_stdin_then,
		.has_stdin_then = ctx->console_stdin_then >= 0,
	};

	if (nb_virtio_console_add(t, loop, &con, console, err) < 0 ||
	    nb_virtio_rng_add(t, loop, err) < 0 || add_balloon(t, loop, opts, ctx, err) < 0 ||
	    (nshares && share_fd_budget(nshares, &bounds, err) < 0))
		return -1;
	for (size_t i = 0; i < opts->nvolumes; i++) {
		char serial[NB_VOLUME_SERIAL_MAX + 1];
		struct nb_blk_opts blk = { .read_only = opts->volumes[i].read_only,
					   .direct = opts->volumes[i].direct,
					   .serial = serial };

		volume_serial(i, serial, sizeof(serial));
		if (opts->volumes[i].dir) {
			if (add_share(t, fs_loop, &opts->volumes[i], serial, bounds, err) < 0)
				return -1;
			continue;
		}
		nb_volume_limits(&opts->volumes[i], &blk.read_limit, &blk.write_limit);
		if (nb_virtio_blk_add(t, loop, opts->volumes[i].host, &blk, err) < 0)
			return -1;
	}
	/* A template's share slots its clone's -v directories did not take:
	 * nothing behind them, nothing to do for the shares' thread. */
	for (size_t i = opts->nvolumes; i < opts->warm.share_slots; i++) {
		char tag[NB_VOLUME_SERIAL_MAX + 1];
		struct nb_fs_opts slot = { .tag = tag };

		volume_serial(i, tag, sizeof(tag));
		if (nb_virtio_fs_add(t, loop, NULL, &slot, err) < 0)
			return -1;
	}
	if (nb_network_add(&ctx->net, t, loop, opts, err) < 0)
		return -1;
	return add_layers(t, loop, ctx->layers, err);
}

/* The legacy devices on the port bus. Devices register their bus ranges
 * and, for the event thread, their descriptors with loop. */
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

/* Turn the latched stop reason into nestbox's result. Output that was not
 * delivered decides it, whatever the guest reported. */
static int stop_result(struct nb_stop *stop, const struct nb_report *report, int *status,
		       struct nb_err *err)
{
	if (stop->lost_status) {
		nb_err_set(err, 0, "%s", stop->lost_msg);
		err->status = stop->lost_status;
		return -1;
	}
	switch (stop->reason) {
	case NB_STOP_STATUS:
		*status = stop->status;
		return 0;
	case NB_STOP_HOST:
		*status = stop->status;
		if (stop->err.msg[0]) /* why the host stopped it; the status is the result */
			nb_report(report, NB_REPORT_MESSAGE, "%s", stop->err.msg);
		return 0;
	case NB_STOP_READY:
		return nb_err_set(err, 0,
				  "the guest reported it is ready for a snapshot, but this "
				  "is no template boot");
	case NB_STOP_RESET:
		return nb_err_set(err, 0,
				  "the guest reset before reporting an exit status: %s (a guest "
				  "kernel panic or a reboot inside the guest says why on its "
				  "console)",
				  stop->err.msg[0] ? stop->err.msg : "reset");
	default:
		return nb_err_set(err, 0, "%s",
				  stop->err.msg[0] ? stop->err.msg : "the VM stopped");
	}
}

/* The workload's status to fn's caller (vmm/cli/fn.h), which can answer
 * before the VM is torn down. */
static void tell_status(int fd, int status)
{
	char text[16];
	int n = snprintf(text, sizeof(text), "%d\n", status);

	if (write(fd, text, (size_t)n) < 0) {
		/* the caller went away: it has nobody to answer */
	}
}

/* This process's resident KiB from /proc/self/smaps (opened before the
 * seccomp lists forbid opening anything), split into guest RAM's mapping
 * and the rest: a restored VM's RAM is a private file mapping, whose
 * resident pages mincore() cannot tell from the page cache's. -1 each if
 * unknown (no /proc in a jail). */
static void rss_split_kib(int smaps_fd, const struct nb_guest_mem *mem, long *own, long *guest)
{
	const uintptr_t lo = (uintptr_t)mem->base, hi = lo + mem->size;
	struct nb_err err = { 0 };
	cleanup_free char *buf = NULL;
	bool in_guest = false;
	size_t len;

	*own = *guest = -1;
	if (smaps_fd < 0 || nb_file_read_fd(smaps_fd, 16u << 20, &buf, &len, &err) < 0)
		return;
	*own = *guest = 0;
	for (char *line = buf, *next; line && *line; line = next) {
		unsigned long start, kib;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, "%lx-%*x ", &start) == 1)
			in_guest = start >= lo && start < hi;
		else if (sscanf(line, "Rss: %lu kB", &kib) == 1)
			*(in_guest ? guest : own) += (long)kib;
	}
}

/* One JSON line: exits seen by the VMM and by KVM, start-up cost, memory
 * (what backs guest RAM, what the balloon gave back). */
static void report_stats(const struct nb_vm *vm, const struct nb_serial *serial,
			 const struct nb_run_options *opts, const struct run_ctx *ctx, int smaps_fd,
			 double wall_ms)
{
	const struct nb_balloon_stats *b = ctx->balloon ? &ctx->balloon->stats : NULL;
	uint64_t runs = 0, pio = 0, mmio = 0, kvm_exits = 0, exits;
	uint64_t guest_resident = nb_mem_resident(&vm->mem);
	long own_kib, guest_kib;

	rss_split_kib(smaps_fd, &vm->mem, &own_kib, &guest_kib);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		runs += vm->vcpus[i].stats.runs;
		pio += vm->vcpus[i].stats.pio;
		mmio += vm->vcpus[i].stats.mmio;
		if (nb_kvmstats_read(vm->vcpus[i].fd, "exits", &exits) == 0)
			kvm_exits += exits;
	}
	nb_report(&opts->report, NB_REPORT_STATS,
		  "{\"wall_ms\":%.1f,\"startup_wall_ms\":%.2f,\"startup_cpu_ms\":%.2f,\"vcpus\":%u,"
		  "\"kvm_exits\":%" PRIu64 ",\"vmm_exits\":%" PRIu64 ",\"pio_exits\":%" PRIu64
		  ",\"mmio_exits\":%" PRIu64 ",\"unclaimed_pio\":%" PRIu64
		  ",\"console_bytes\":%" PRIu64 ",\"guest_resident_kib\":%" PRIu64
		  ",\"guest_mapped_kib\":%ld,\"vmm_rss_kib\":%ld,\"guest_ram_kib\":%" PRIu64
		  ",\"memory_backing\":\"%s\",\"memory_locked\":%s,\"balloon\":%s"
		  ",\"balloon_reported_kib\":%" PRIu64 ",\"balloon_inflated_kib\":%" PRIu64
		  ",\"balloon_rejected\":%" PRIu64 "}",
		  wall_ms, vm->ready_mono_ms - opts->start_mono_ms, vm->ready_cpu_ms, vm->ncpus,
		  kvm_exits, runs, pio, mmio, vm->pio.unclaimed, serial->tx_bytes,
		  guest_resident >> 10, guest_kib, own_kib, vm->mem.size >> 10,
		  nb_mem_backing_name(vm->mem.backing), vm->mem.locked ? "true" : "false",
		  b ? "true" : "false", b ? b->reported_bytes >> 10 : 0,
		  b ? b->inflated_bytes >> 10 : 0, b ? b->rejected_ranges : 0);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool wait_writable(void *opaque, int fd)
{
	return nb_event_wait_writable(opaque, fd);
}

/* The guest's last output, still in the console's queues and the UART's
 * batch, goes out before nestbox exits: waiting for a slow reader unless
 * the host stopped the VM (a signal, the timeout, a failed write). */
static void drain_output(struct nb_event_loop *loop, struct nb_console *console,
			 struct nb_serial *serial)
{
	bool wait = loop->stop->reason != NB_STOP_HOST;

	if (console && wait)
		nb_console_drain(console);
	else if (console)
		nb_console_drain_now(console);
	nb_serial_drain(serial, wait ? wait_writable : NULL, loop);
}

/* The run's seccomp sandbox (vmm/confine/seccomp.h), and the stop a thread
 * that cannot enter it latches. */
struct gate {
	struct nb_sandbox sb;
	struct nb_stop *stop;
};

static void event_thread_init(void *opaque)
{
	struct gate *gate = opaque;

	nb_sandbox_enter(&gate->sb, NB_THREAD_EVENT, gate->stop);
}

static void vcpu_thread_init(void *opaque)
{
	struct gate *gate = opaque;

	nb_sandbox_enter(&gate->sb, NB_THREAD_VCPU, gate->stop);
}

/* The first -v volume that is a disk image (not a shared directory), or
 * NULL. */
static const struct nb_run_volume *first_disk(const struct nb_run_options *opts)
{
	for (size_t i = 0; i < opts->nvolumes; i++)
		if (!opts->volumes[i].dir)
			return &opts->volumes[i];
	return NULL;
}

/* What a snapshot of a VM run with opts could not carry, or NULL (a
 * restore's opts are checked the same way). A NIC it can: on a nestbox
 * network a restore gets a tap and lease of its own, on the user's --tap
 * it gives its own (or a network), and eth0 is set anew
 * (NB_SIGMSG_NET_*); -v directories too: a restore shares the same ones,
 * the files the guest holds opened again by path (vmm/virtio/fs_state.c);
 * -v disks: copied into the snapshot while the VM holds (the monitor,
 * NB_MONITOR_SNAPSHOT_HELD), each restore's own copy. Confined or not:
 * the VMM's snapshot files are opened before any jail (nb_monitor_child),
 * and its cgroup's memory.max is raised for the copy of guest RAM while
 * the monitor takes it (vmm/run/monitor.c). */
const char *nb_run_snapshot_refusal(const struct nb_run_options *opts)
{
	if (!opts->rootfs)
		return "its root is an OCI bundle's";
	if (opts->tty || opts->interactive)
		return "it has a terminal or stdin (-t, -i)";
	if (opts->oci.start_gate)
		return "it is an OCI container";
	return NULL;
}

/* A detached VM that `nestbox snapshot` may save while it runs. */
static bool live_snapshots(const struct nb_run_options *opts)
{
	return opts->detach.on && opts->detach.has_snapshot_fds;
}

/* What this run's seccomp lists must allow beyond the basics. */
static struct nb_sandbox_config sandbox_config(const struct nb_run_options *opts,
					       const struct run_ctx *ctx)
{
	const struct nb_run_net *net = &opts->net;
	struct nb_sandbox_config cfg = { .pid = getpid() };

	cfg.needs |= ctx->layers ? NB_NEED_DISK_READ : 0;
	for (size_t i = 0; i < opts->nvolumes; i++) {
		const struct nb_run_volume *v = &opts->volumes[i];

		if (v->dir) { /* virtio-fs, on its own thread */
			cfg.needs |= NB_NEED_FS;
			continue;
		}
		cfg.needs |= NB_NEED_DISK_READ | (v->read_only ? 0 : NB_NEED_DISK_WRITE);
		cfg.needs |= v->read_bps || v->write_bps || v->read_iops || v->write_iops
				     ? NB_NEED_RATE
				     : 0;
	}
	cfg.needs |= net->rx_bps || net->tx_bps || net->rx_ops || net->tx_ops ? NB_NEED_RATE : 0;
	cfg.needs |= net->vsock_path ? NB_NEED_VSOCK : 0;
	cfg.needs |= ctx->net.tap ? NB_NEED_NET : 0;
	cfg.needs |= opts->tty ? NB_NEED_TTY : 0;
	cfg.needs |= opts->stats ? NB_NEED_STATS : 0;
	cfg.needs |= opts->warm.snapshot_to || live_snapshots(opts) ? NB_NEED_SNAPSHOT : 0;
	cfg.needs |= live_snapshots(opts) && count_shares(opts) ? NB_NEED_SNAPSHOT_FS : 0;
	nb_network_fds(&ctx->net, &cfg.vsock_listen_fd, &cfg.vsock_broker_fd);
	return cfg;
}

/* The shared directories' thread: a file system context of its own, then
 * its sandbox. */
static void fs_thread_init(void *opaque)
{
	struct gate *gate = opaque;
	struct nb_err err;

	if (nb_fs_thread_init(&err) < 0)
		nb_stop_request(gate->stop, NB_STOP_ERROR, 0, "%s", err.msg);
	nb_sandbox_enter(&gate->sb, NB_THREAD_FS, gate->stop);
}

/* The event thread, the shares' thread (fs_loop, if any) and the vCPUs,
 * each in its seccomp sandbox; the main thread enters its own last and
 * opens the gate to the first guest instruction. */
static int start_threads(struct nb_vm *vm, struct nb_event_loop *loop,
			 struct nb_event_loop *fs_loop, struct gate *gate,
			 const struct nb_run_options *opts, const struct run_ctx *ctx,
			 struct nb_err *err)
{
	struct nb_sandbox_config cfg = sandbox_config(opts, ctx);

	if (nb_sandbox_init(&gate->sb, opts->confine.seccomp_log, vm->ncpus, &cfg, err) < 0)
		return -1;
	if (fs_loop && nb_sandbox_expect(&gate->sb, NB_THREAD_FS, 1, err) < 0)
		return -1;
	vm->thread_init = vcpu_thread_init;
	vm->thread_init_opaque = gate;
	loop->thread_init = event_thread_init;
	loop->thread_init_opaque = gate;
	if (fs_loop) {
		fs_loop->thread_init = fs_thread_init;
		fs_loop->thread_init_opaque = gate;
	}
	if (nb_event_start(loop, err) < 0 || (fs_loop && nb_event_start(fs_loop, err) < 0) ||
	    nb_vm_start(vm, err) < 0) {
		nb_sandbox_release(&gate->sb);
		nb_vm_stop_vcpus(vm);
		return -1;
	}
	/* `nestbox create` returns now: the VM runs (vmm/run/oci_bundle.h). */
	if (opts->oci.start_gate && opts->oci.ready_fd >= 0) {
		if (write(opts->oci.ready_fd, "r", 1) != 1) {
			/* the creator is gone: its caller sees the failure */
		}
	}
	nb_sandbox_enter(&gate->sb, NB_THREAD_MAIN, gate->stop);
	return 0;
}

/* run -d: tell the monitor (vmm/run/monitor.h). */
static void notify_monitor(const struct nb_run_options *opts, char what)
{
	if (opts->detach.on && opts->detach.notify_fd >= 0 &&
	    write(opts->detach.notify_fd, &what, 1) < 0) {
		/* the monitor is gone, and the VMM goes with it */
	}
}

/* `nestbox snapshot` of a running VM: its files, opened in the VM's
 * directory before any jail (the seccomp lists open nothing later), and
 * eventfds that ask the event thread and the shares' thread (-v DIR: it
 * serves requests the guest queued before the pause) to hold too. */
struct live_snap {
	struct nb_vm *vm;
	struct nb_virtio_mmio_transport *virtio;
	struct nb_serial *serial;
	const struct nb_run_options *opts;
	struct nb_warm_out out;
	int park_fd, fs_park_fd;
};

#define LIVE_PAUSE_MS 10000u

static void park_event(void *opaque, int fd, uint32_t events)
{
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) < 0) {
		/* nothing pending: nb_vm_park returns at once as well */
	}
	nb_vm_park(opaque);
}

static int park_on(struct nb_event_loop *loop, struct nb_vm *vm, int *fd, struct nb_err *err)
{
	*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (*fd < 0)
		return nb_err_sys(err, "eventfd");
	return nb_event_add(loop, *fd, 0, park_event, vm, err);
}

static int live_open(struct live_snap *ls, struct nb_event_loop *loop,
		     struct nb_event_loop *fs_loop, struct nb_err *err)
{
	if (!live_snapshots(ls->opts))
		return 0;
	ls->out = (struct nb_warm_out){ .memory_fd = ls->opts->detach.snapshot_memory_fd,
					.state_fd = ls->opts->detach.snapshot_state_fd };
	if (park_on(loop, ls->vm, &ls->park_fd, err) < 0)
		return -1;
	return fs_loop ? park_on(fs_loop, ls->vm, &ls->fs_park_fd, err) : 0;
}

static void live_close(struct live_snap *ls)
{
	nb_warm_out_close(&ls->out);
	if (ls->park_fd >= 0)
		close(NB_STEAL(ls->park_fd, -1));
	if (ls->fs_park_fd >= 0)
		close(NB_STEAL(ls->fs_park_fd, -1));
}

static void notify_monitor(const struct nb_run_options *opts, char what);

/* run --restore DIR (abi.h, NB_SIGMSG_ENTROPY): the restored guest's
 * fresh entropy and wall clock, and for a VM with a NIC its eth0 anew
 * (NB_SIGMSG_NET_*), made before the seccomp lists (getrandom) and sent
 * once the VM runs. */
struct resume_msgs {
	uint8_t buf[(NB_SIGMSG_RESUME_ENTROPY + 1 + 5 + NB_SPEC_MAX_DNS) * NB_SIGMSG_MAX];
	size_t len;
};

static void resume_add(struct resume_msgs *r, uint8_t type, uint64_t value)
{
	struct nb_sigmsg m = { .type = type, .value = value };

	r->len += nb_sigmsg_encode(&m, r->buf + r->len);
}

/* eth0 as this restore has it (nb_network_attach): no address (--network
 * none, --tap without --ip) takes it down. */
static void resume_net(struct resume_msgs *r, const struct nb_clone_net *eth0)
{
	if (eth0->has_mac)
		resume_add(r, NB_SIGMSG_NET_MAC, nb_sigmsg_mac_value(eth0->mac));
	if (eth0->ipv4) {
		resume_add(r, NB_SIGMSG_NET_ADDR, eth0->ipv4 | (uint64_t)eth0->prefix << 32);
		if (eth0->gateway)
			resume_add(r, NB_SIGMSG_NET_GATEWAY, eth0->gateway);
		for (uint32_t i = 0; i < eth0->ndns && i < NB_SPEC_MAX_DNS; i++)
			resume_add(r, NB_SIGMSG_NET_DNS, eth0->dns[i]);
	}
	resume_add(r, NB_SIGMSG_NET_APPLY, 0);
}

static int resume_prepare(struct resume_msgs *r, const struct nb_clone_net *eth0,
			  struct nb_err *err)
{
	uint64_t seed[NB_SIGMSG_RESUME_ENTROPY];
	struct timespec now;
	struct nb_sigmsg m = { .type = NB_SIGMSG_ENTROPY };

	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		return nb_err_sys(err, "getrandom");
	r->len = 0;
	for (unsigned i = 0; i < NB_SIGMSG_RESUME_ENTROPY; i++) {
		m.value = seed[i];
		r->len += nb_sigmsg_encode(&m, r->buf + r->len);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	m = (struct nb_sigmsg){ .type = NB_SIGMSG_CLOCK,
				.value = (uint64_t)now.tv_sec * 1000000000u +
					 (uint64_t)now.tv_nsec };
	r->len += nb_sigmsg_encode(&m, r->buf + r->len);
	if (eth0)
		resume_net(r, eth0);
	return 0;
}

static void resume_send(const struct resume_msgs *r, struct nb_console *con,
			const struct nb_report *report)
{
	if (!con || !nb_console_send_signal_msg(con, r->buf, r->len))
		nb_report(report, NB_REPORT_WARNING,
			  "the restored guest did not take its fresh state (entropy, "
			  "clock, network)");
}

/* A saved VM with -v disks stays held while its monitor copies them
 * (the guest's block cache is in the memory file, the blocks in the
 * files): until its byte, or its end (EOF). */
static void hold_for_disks(const struct nb_run_options *opts)
{
	char go;

	if (opts->detach.hold_fd < 0)
		return;
	notify_monitor(opts, NB_MONITOR_SNAPSHOT_HELD);
	while (read(opts->detach.hold_fd, &go, 1) < 0 && errno == EINTR)
		;
}

/* NB_SIGNAL_SNAPSHOT, on the main thread: hold the vCPUs, the event
 * thread and the shares' thread, save (and with -v disks wait for their
 * copy), let them go, tell the monitor. */
static void live_snapshot(void *opaque)
{
	struct live_snap *ls = opaque;
	const uint64_t one = 1;
	struct nb_err err = { 0 };
	unsigned others = 1 + (ls->fs_park_fd >= 0);
	int rc = 0;

	nb_vm_pause(ls->vm);
	if (write(ls->park_fd, &one, sizeof(one)) != (ssize_t)sizeof(one) ||
	    (ls->fs_park_fd >= 0 &&
	     write(ls->fs_park_fd, &one, sizeof(one)) != (ssize_t)sizeof(one)))
		rc = nb_err_sys(&err, "snapshot: waking the device threads");
	if (rc == 0)
		rc = nb_vm_pause_wait(ls->vm, others, LIVE_PAUSE_MS, &err);
	if (rc == 0)
		rc = nb_warm_save(ls->vm, ls->virtio, ls->serial, &ls->out, &err);
	if (rc == 0 && first_disk(ls->opts))
		hold_for_disks(ls->opts);
	nb_vm_resume(ls->vm);
	if (rc < 0)
		nb_report(&ls->opts->report, NB_REPORT_MESSAGE, "snapshot: %s", err.msg);
	notify_monitor(ls->opts, rc < 0 ? NB_MONITOR_SNAPSHOT_FAILED : NB_MONITOR_SNAPSHOT);
}

static int boot_and_wait(struct nb_vm *vm, const struct nb_run_options *opts, struct run_ctx *ctx,
			 int *status, struct nb_err *err)
{
	struct nb_serial serial;
	struct nb_event_loop loop,
		fs_loop = { .epoll_fd = -1, .wait_fd = -1, .signal_fd = -1, .timer_fd = -1 };
	struct nb_event_loop *shares = count_shares(opts) ? &fs_loop : NULL;
	struct nb_console *console = NULL;
	struct nb_virtio_mmio_transport virtio;
	struct gate gate = { .stop = &vm->stop };
	struct nb_sigforward forward = { .tty = opts->tty, .start_gate = opts->oci.start_gate };
	struct nb_warm_out snap = { -1, -1 };
	struct live_snap live = { vm, &virtio, &serial, opts, { -1, -1 }, -1, -1 };
	struct resume_msgs resume;
	cleanup_close int smaps_fd = opts->stats ? open("/proc/self/smaps", O_RDONLY | O_CLOEXEC)
						 : -1;
	double start = now_ms();
	bool told = false;
	int rc = -1;

	/* The loop first: it blocks the signals it handles, and every thread
	 * started later inherits that mask. */
	nb_virtio_mmio_transport_init(&virtio, vm);
	nb_serial_init(&serial, opts->warm.has_console_fd ? opts->warm.console_fd : STDOUT_FILENO,
		       nb_vm_set_irq, vm, NB_SERIAL_COM1_IRQ);
	serial.stop = &vm->stop;
	if (nb_event_init(&loop, &vm->stop, opts->timeout_sec, err) < 0 ||
	    (shares && nb_event_init_worker(shares, &vm->stop, "nb-fs", err) < 0) ||
	    (opts->oci.start_gate && nb_event_handle_signal(&loop, NB_SIGNAL_START, err) < 0) ||
	    (opts->detach.on && nb_event_handle_signal(&loop, NB_SIGNAL_MEMORY, err) < 0) ||
	    /* one still pending when teardown unblocks the signals is dropped,
	     * not fatal (blocked, it reaches the signalfd all the same) */
	    (opts->detach.on && signal(NB_SIGNAL_MEMORY, SIG_IGN) == SIG_ERR &&
	     nb_err_sys(err, "signal") < 0) ||
	    (live_snapshots(opts) &&
	     (nb_event_handle_signal(&loop, NB_SIGNAL_SNAPSHOT, err) < 0 ||
	      (signal(NB_SIGNAL_SNAPSHOT, SIG_IGN) == SIG_ERR && nb_err_sys(err, "signal") < 0))) ||
	    add_devices(vm, &loop, &serial, err) < 0 ||
	    add_virtio(&virtio.transport, &loop, shares, opts, ctx, &console, err) < 0 ||
	    prepare_guest(vm, &virtio, &serial, opts, ctx, err) < 0 ||
	    (opts->warm.snapshot_to && nb_warm_out_open(&snap, opts->warm.snapshot_to, err) < 0) ||
	    live_open(&live, &loop, shares, err) < 0 ||
	    (opts->warm.resume &&
	     resume_prepare(&resume, opts->net.template_nic ? &ctx->net.eth0 : NULL, err) < 0) ||
	    (opts->tty && opts->interactive && nb_tty_raw(err) < 0))
		goto out;
	notify_monitor(opts, NB_MONITOR_STARTED);
	if (start_threads(vm, &loop, shares, &gate, opts, ctx, err) < 0)
		goto out;
	forward.con = console;
	if (opts->warm.resume)
		resume_send(&resume, console, &opts->report);
	if (opts->detach.on) { /* `nestbox update --memory` */
		forward.memory.ram = opts->mem_size;
		forward.memory.boot_limit = opts->container.memory_max;
		forward.memory.reservation = opts->container.memory_low;
		forward.memory.balloon = ctx->balloon;
		forward.memory.report = &opts->report;
	}
	if (live.park_fd >= 0) { /* `nestbox snapshot` */
		forward.snapshot.fn = live_snapshot;
		forward.snapshot.opaque = &live;
	}
	loop.forward_signal = nb_sigforward;
	loop.forward_opaque = &forward;
	rc = nb_event_wait(&loop, err);
	/* No guest code, then no device work, before anything is torn down. */
	nb_vm_stop_vcpus(vm);
	nb_event_join(&loop);
	if (shares)
		nb_event_join(shares);
	drain_output(&loop, console, &serial);
	nb_tty_restore(); /* before any message of ours */
	if (rc == 0 && opts->warm.snapshot_to && vm->stop.reason == NB_STOP_READY) {
		rc = nb_warm_save(vm, &virtio, &serial, &snap, err);
		*status = 0;
	} else if (rc == 0) {
		rc = stop_result(&vm->stop, &opts->report, status, err);
		if (vm->stop.oom)
			notify_monitor(opts, NB_MONITOR_OOM);
		told = rc == 0 && opts->warm.has_status_fd;
	}
	if (opts->stats)
		report_stats(vm, &serial, opts, ctx, smaps_fd, now_ms() - start);
	if (told)
		tell_status(opts->warm.status_fd, *status);
out:
	nb_tty_restore();
	nb_warm_out_close(&snap);
	live_close(&live);
	nb_network_cleanup(&ctx->net);
	nb_virtio_mmio_transport_destroy(&virtio);
	nb_event_destroy(&loop);
	if (shares)
		nb_event_destroy(shares);
	nb_serial_destroy(&serial);
	nb_sandbox_destroy(&gate.sb);
	vm->thread_init = NULL;
	return rc;
}

static int read_kernel(const char *path, struct file_map *map, struct nb_err *err)
{
	char cause[NB_ERR_MSG_MAX];

	if (map_file("kernel", path, map, err) == 0)
		return 0;
	memcpy(cause, err->msg, sizeof(cause));
	return nb_err_set(err, 0, "%.400s (build it with make, or pass --kernel PATH)", cause);
}

_Static_assert(NB_MAX_LAYERS + 8 <= NB_JAIL_MAX_PATHS,
	       "the jail keeps every layer fd, the tap, a pipe and a clone's descriptors");

/* The VMM proper: create the VM, boot it, wait for the workload. */
static int run_vm(void *arg, const struct nb_run_options *opts, int *status, struct nb_err *err)
{
	struct run_ctx *ctx = arg;
	struct nb_vm vm;
	struct nb_vm_config cfg = { .ncpus = opts->cpus,
				    .mem_size = opts->mem_size,
				    .mem_opts = { .prealloc = opts->res.prealloc,
						  .hugetlb = opts->res.hugetlb },
				    .cpuset = opts->res.pinned ? &opts->res.cpuset : NULL,
				    .pvm_host = ctx->pvm_host };
	int rc;

	if (opts->warm.restore) {
		cfg.mem_from_file = true;
		cfg.mem_fd = ctx->warm.memory_fd;
	}
	if (nb_vm_create(&vm, &cfg, err) < 0)
		return -1;
	rc = boot_and_wait(&vm, opts, ctx, status, err);
	nb_vm_destroy(&vm);
	return rc;
}

/* An absolute, symlink-free copy of path whose directory exists. */
static char *absolute(const char *path, struct nb_err *err)
{
	cleanup_free char *copy = strdup(path), *dir = NULL;
	char *slash = copy ? strrchr(copy, '/') : NULL, *out = NULL;

	if (!copy)
		return nb_err_sys(err, "%s", path), NULL;
	dir = realpath(slash == copy ? "/" : slash ? (*slash = '\0', copy) : ".", NULL);
	if (!dir ||
	    asprintf(&out, "%s/%s", strcmp(dir, "/") ? dir : "", slash ? slash + 1 : path) < 0)
		return nb_err_sys(err, "%s", path), NULL;
	return out;
}

/* What the jailed VMM opens after the jail closed the host's file system
 * (the layers are open already): volumes (disk images and shared
 * directories) at absolute paths, the vsock socket's directory. The
 * strings replace those in jailed (owned). */
static int jail_paths(struct nb_run_options *jailed, struct nb_jail_paths *paths, char **owned,
		      struct nb_err *err)
{
	size_t n = 0;

	for (size_t i = 0; i < jailed->nvolumes; i++) {
		struct nb_run_volume *v = &jailed->volumes[i];
		if (!(owned[n++] = v->host = absolute(v->host, err)) ||
		    nb_jail_paths_add(paths, v->host, !v->read_only, v->dir, err) < 0)
			return -1;
	}
	/* Shared directories: their tables' descriptors, and /proc/self/fd. */
	paths->extra_fds = count_shares(jailed) * NB_FS_MAX_FDS;
	paths->proc = paths->extra_fds > 0;
	if (jailed->net.vsock_path) {
		char *abs = absolute(jailed->net.vsock_path, err);
		if (!(owned[n++] = abs))
			return -1;
		jailed->net.vsock_path = abs;
		owned[n] = strndup(abs, (size_t)(strrchr(abs, '/') - abs));
		if (!owned[n] ||
		    nb_jail_paths_add(paths, owned[n][0] ? owned[n] : "/", true, true, err) < 0)
			return owned[n] ? -1 : nb_err_sys(err, "--vsock");
	}
	return 0;
}

/* A clone's descriptors, opened before the jail closes the rest: its
 * snapshot's memory file, its stdin port's host side (the spec's memfd,
 * or fn's feed: prepare_input made it console_stdin) and fn's pipes. */
static void keep_clone_fds(const struct nb_run_options *opts, const struct run_ctx *ctx,
			   struct nb_jail_paths *paths)
{
	const struct nb_run_warm *w = &opts->warm;
	const int fds[] = { ctx->warm.memory_fd,
			    ctx->console_stdin,
			    w->has_ready_fd ? w->ready_fd : -1,
			    w->has_console_fd ? w->console_fd : -1,
			    w->has_status_fd ? w->status_fd : -1,
			    w->has_error_fd ? w->error_fd : -1 };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] > STDERR_FILENO)
			paths->keep_fds[paths->nkeep++] = fds[i];
}

/* --jail / --cgroup: the VMM in a supervised child (vmm/run/supervisor.h). */
static int run_confined(const struct nb_run_options *opts, struct run_ctx *ctx, int *status,
			struct nb_err *err)
{
	struct nb_run_options jailed = *opts;
	static struct nb_jail_paths paths; /* large: not on the stack */
	char *owned[NB_RUN_MAX_VOLUMES + 2] = { 0 };
	int rc = 0;

	paths.n = paths.nkeep = paths.extra_fds = 0;
	paths.proc = false;
	for (size_t i = 0; ctx->layers && i < ctx->layers->n; i++)
		paths.keep_fds[paths.nkeep++] = ctx->layers->parts[i].fd;
	keep_clone_fds(opts, ctx, &paths);
	if (opts->confine.jail)
		rc = jail_paths(&jailed, &paths, owned, err);
	if (rc == 0)
		rc = nb_confine_run(&jailed, &paths, ctx->initrd->len, &ctx->net, run_vm, ctx,
				    status, err);
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		free(owned[i]);
	return rc;
}

/* A vsock socket is host state a crash would leave: record it for gc. */
static int run_recorded(const struct nb_run_options *opts, struct run_ctx *ctx, int *status,
			struct nb_err *err)
{
	struct nb_run_record rec = { 0 };
	int rc;

	if (opts->net.vsock_path &&
	    nb_gc_record(&rec, NULL, opts->net.vsock_path, (unsigned)geteuid(), err) < 0)
		return -1;
	/* Once the VMM is confined it cannot remove files: the vsock broker
	 * removes the record with the socket. */
	ctx->net.record = rec.path[0] ? rec.path : NULL;
	rc = run_vm(ctx, opts, status, err);
	if (!ctx->net.record_taken)
		nb_gc_release(&rec);
	return rc;
}

/* The guest's boot layout as a plan (no memory yet): the kernel must fit
 * the guest's RAM and the initramfs must fit beside it. */
static int check_layout(const struct nb_run_options *opts, const struct file_map *kernel_file,
			size_t initrd_len, struct nb_err *err)
{
	struct nb_guest_mem plan;
	struct nb_kernel kernel;
	uint64_t initrd_gpa;
	size_t args = opts->kernel_args ? strlen(opts->kernel_args) + 1 : 0;

	nb_mem_layout(&plan, NULL, opts->mem_size);
	if (nb_kernel_check(kernel_file->data, kernel_file->len, &plan, &kernel, err) < 0)
		return nb_err_wrap(err, "kernel %s", opts->kernel_path);
	if (nb_initrd_place(&plan, &kernel, initrd_len, &initrd_gpa, err) < 0)
		return nb_err_wrap(err, "initramfs");
	if (sizeof(nb_run_base_cmdline) + args + NB_RUN_MMIO_ARGS_MAX > NB_CMDLINE_MAX)
		return nb_err_set(err, 0,
				  "--kernel-args is %zu bytes long; the kernel command line "
				  "leaves room for %zu",
				  args ? args - 1 : 0,
				  (size_t)(NB_CMDLINE_MAX - sizeof(nb_run_base_cmdline) -
					   NB_RUN_MMIO_ARGS_MAX - 1));
	return 0;
}

/* Last of the checks: can this host's KVM run this guest? A PVM KVM runs
 * test payloads but not a Linux kernel's user space. */
static int check_host(const struct file_map *kernel_file, bool *pvm_host, struct nb_err *err)
{
	struct nb_kvm_host host;

	nb_kvm_probe(NB_KVM_DEV, "/sys", &host); /* before a jail hides /sys */
	*pvm_host = host.kind == NB_KVM_PVM;
	return nb_kvm_host_check(&host, nb_kernel_is_linux(kernel_file->data, kernel_file->len),
				 err);
}

/* What warm start does not carry (yet): host state a clone would share
 * with its template or that the snapshot does not hold. A network does:
 * a template's NIC is unplugged, each clone plugs in a tap of its own. */
static int warm_check(const struct nb_run_options *opts, bool is_image, struct nb_err *err)
{
	const char *what = opts->warm.snapshot_to ? "a template" : "a restore";
	const struct nb_run_volume *disk;

	if (!opts->warm.snapshot_to && !opts->warm.restore)
		return 0;
	if (!is_image && !opts->warm.root_in_memory)
		return nb_err_set(err, 0, "%s needs an image, not a rootfs directory", what);
	if (opts->warm.resume) { /* run --restore DIR: -d, --jail, --cgroup are fine */
		const char *why = nb_run_snapshot_refusal(opts);

		if (why)
			return nb_err_set(err, 0, "a restore cannot be made: %s", why);
		return 0;
	}
	/* A clone's -v directories go into its template's share slots. */
	if (opts->nvolumes && opts->warm.snapshot_to)
		return nb_err_set(err, 0,
				  "a template takes no -v: give -v DIR:PATH to each clone (run "
				  "--template, fn; up to %u directories)",
				  NB_TEMPLATE_SHARES);
	if ((disk = first_disk(opts)))
		return nb_err_set(err, 0,
				  "-v %s: a clone shares directories only (its template "
				  "has share slots, not disks)",
				  disk->host);
	if (opts->nvolumes > opts->warm.share_slots)
		return nb_err_set(err, 0,
				  "%s has %u share slots, and %zu -v directories were given%s",
				  what, opts->warm.share_slots, opts->nvolumes,
				  opts->warm.share_slots ? ""
							 : " (made before templates had them: "
							   "make it again)");
	/* A clone's stdin is its spec, then -i's (the console's stdin_then). */
	if (opts->warm.snapshot_to && (opts->tty || opts->interactive))
		return nb_err_set(err, 0,
				  "a template never runs its command: give -t and -i to each "
				  "clone (run --template NAME -it)");
	if (opts->interactive && (opts->warm.has_stdin_fd || opts->warm.input))
		return nb_err_set(err, 0, "-i and --input both give the clone's stdin: use one");
	/* A clone's tap goes into its template's NIC (vmm/run/template.h). */
	if ((opts->net.tap || nb_network_joins(opts)) &&
	    (opts->warm.snapshot_to || !opts->net.template_nic))
		return nb_err_set(err, 0,
				  "%s has no network device: make the template with "
				  "nestbox template create --network NAME",
				  what);
	/* A template boot writes its snapshot files from the VMM and ends;
	 * its clones open theirs before the VMM is confined or detached. */
	if (opts->warm.snapshot_to && (nb_confine_supervised(opts) || opts->detach.on))
		return nb_err_set(err, 0,
				  "a template is made in the foreground and unconfined: -d, "
				  "--jail and --cgroup are for its clones (run --template, fn, "
				  "serve)");
	return 0;
}

/* A restore's image must still be the one its template was made from. */
static int check_template_image(const struct nb_run_options *opts, const struct nb_image *image,
				struct nb_err *err)
{
	char got[NB_DIGEST_STR_LEN + 1];

	if (!image) /* a restore of a VM whose root was a directory */
		return 0;
	nb_digest_format(&image->manifest, got);
	if (opts->warm.digest && strcmp(got, opts->warm.digest) != 0)
		return nb_err_set(err, 0,
				  "image %s changed since the template was made (%s, now %s): "
				  "create the template again",
				  opts->rootfs, opts->warm.digest, got);
	return 0;
}

/* The boot's input: a fresh boot's initramfs (with the spec); a clone's
 * spec on its stdin port (a memfd, with --input after it); a template
 * boot's stdin port held open, never written, so the guest blocks there. */
static int prepare_input(const struct nb_run_options *opts, const struct nb_image *image,
			 const struct nb_blk_concat *layers, struct run_ctx *ctx,
			 struct nb_buf *initrd, int hold[2], struct nb_err *err)
{
	cleanup_free void *spec = NULL;
	size_t len = 0;

	if (opts->warm.resume) /* its workload runs on: no spec */
		return check_template_image(opts, image, err);
	if (opts->warm.restore && opts->warm.has_stdin_fd) {
		ctx->console_stdin = opts->warm.stdin_fd;
		return check_template_image(opts, image, err);
	}
	if (opts->warm.restore) {
		if (check_template_image(opts, image, err) < 0 ||
		    build_spec(opts, image, layers, &ctx->net, &spec, &len, err) < 0)
			return -1;
		hold[0] = ctx->console_stdin = nb_warm_stdin(spec, len, opts->warm.input, err);
		/* -i: the host's stdin follows the spec */
		ctx->console_stdin_then = opts->interactive ? STDIN_FILENO : -1;
		return hold[0] < 0 ? -1 : 0;
	}
	if (opts->warm.snapshot_to) {
		if (pipe2(hold, O_CLOEXEC) < 0)
			return nb_err_sys(err, "pipe");
		ctx->console_stdin = hold[0];
	}
	if (build_initramfs(opts, image, layers, &ctx->net, initrd, err) < 0 ||
	    check_layout(opts, ctx->kernel, initrd->len, err) < 0)
		return -1;
	return 0;
}

int nb_run_clone_spec(const struct nb_run_options *opts, const struct nb_clone_net *cn, void **out,
		      size_t *len, struct nb_err *err)
{
	struct nb_image image = { 0 };
	struct nb_blk_concat layers = { 0 };
	struct nb_network net;
	cleanup_free void *spec = NULL;
	size_t spec_len = 0;
	uint8_t *buf;
	int rc = -1;

	nb_network_init(&net);
	if (cn)
		net.eth0 = *cn;
	if (nb_image_resolve(opts->rootfs, &opts->report, &image, err) < 0 ||
	    nb_blk_concat_open(&layers, image.layers, image.n_layers, err) < 0)
		nb_err_wrap(err, "image %s", opts->rootfs);
	else if (check_template_image(opts, &image, err) == 0 &&
		 build_spec(opts, &image, &layers, &net, &spec, &spec_len, err) == 0)
		rc = 0;
	nb_blk_concat_close(&layers);
	nb_image_free(&image);
	if (rc < 0)
		return -1;
	if (spec_len > UINT32_MAX || !(buf = malloc(spec_len + 4)))
		return nb_err_set(err, ENOMEM, "workload spec");
	for (int i = 0; i < 4; i++)
		buf[i] = (uint8_t)(spec_len >> (8 * i));
	memcpy(buf + 4, spec, spec_len);
	*out = buf;
	*len = spec_len + 4;
	return 0;
}

/* A pool clone's caller writes its spec: it is told eth0's configuration.
 * Never fails (a caller gone finds out from the clone's other pipes). */
static bool tell_network(const struct nb_run_options *opts, const struct nb_network *net)
{
	if (opts->warm.has_stdin_fd && opts->warm.has_net_fd) {
		if (write(opts->warm.net_fd, &net->eth0, sizeof(net->eth0)) !=
		    (ssize_t)sizeof(net->eth0)) {
			/* the caller is gone */
		}
	}
	return false;
}

/* Two phases, as Firecracker keeps resources.rs apart from builder.rs:
 * first everything nestbox can check without KVM (options, the kernel file
 * against the guest's RAM, the image or rootfs, the spec and initramfs, and
 * last what this host's KVM can run), then the VM is built and run. So a
 * bad input gets its own diagnosis on every host, KVM or not. */
int nb_run(const struct nb_run_options *opts, int *status, struct nb_err *err)
{
	struct file_map kernel_file = { 0 };
	struct nb_buf initrd = { 0 };
	struct nb_image image = { 0 };
	struct nb_blk_concat layers = { 0 };
	/* An OCI bundle's root is a share (volume 0), not an image or a
	 * directory in the initramfs. */
	bool is_image = opts->rootfs && !opts->warm.root_in_memory &&
			nb_image_is_reference(opts->rootfs);
	struct run_ctx ctx = { .kernel = &kernel_file,
			       .layers = is_image ? &layers : NULL,
			       .initrd = &initrd,
			       .console_stdin = opts->interactive ? STDIN_FILENO : -1,
			       .console_stdin_then = -1,
			       .warm = { .memory_fd = -1 } };
	int hold[2] = { -1, -1 }; /* the stdin port's host side in a clone or template boot */
	int rc = -1;

	nb_network_init(&ctx.net);
	if (warm_check(opts, is_image, err) < 0 || nb_network_check(opts, err) < 0 ||
	    nb_confine_check(opts, err) < 0 ||
	    (opts->tty && nb_tty_check(opts->interactive, err) < 0) ||
	    nb_confine_check_memory(opts, err) < 0 ||
	    (opts->res.pinned && nb_cpuset_check_host(&opts->res.cpuset, err) < 0) ||
	    read_kernel(opts->kernel_path, &kernel_file, err) < 0)
		return -1;
	if (check_layout(opts, &kernel_file, 1, err) < 0)
		goto out;
	if (is_image && (nb_image_resolve(opts->rootfs, &opts->report, &image, err) < 0 ||
			 nb_blk_concat_open(&layers, image.layers, image.n_layers, err) < 0)) {
		nb_err_wrap(err, "image %s", opts->rootfs);
		goto out;
	}
	/* The network's address goes into the spec: the host side (lease,
	 * bridge, tap, rules) is set up here, before the VMM is confined. */
	if (nb_network_attach(&ctx.net, opts, err) < 0) {
		if (opts->warm.resume) /* the options it took from the snapshot */
			nb_err_wrap(err, "run --restore (the snapshot's -p and --ip apply unless "
					 "the restore gives its own)");
		goto out;
	}
	if (tell_network(opts, &ctx.net) ||
	    prepare_input(opts, is_image ? &image : NULL, &layers, &ctx, &initrd, hold, err) < 0 ||
	    (opts->warm.restore && nb_warm_in_open(&ctx.warm, opts->warm.restore, err) < 0) ||
	    check_host(&kernel_file, &ctx.pvm_host, err) < 0)
		goto out;
	if (nb_confine_supervised(opts))
		rc = run_confined(opts, &ctx, status, err);
	else
		rc = run_recorded(opts, &ctx, status, err);
out:
	for (int i = 0; i < 2; i++)
		if (hold[i] >= 0)
			close(hold[i]);
	nb_warm_in_close(&ctx.warm);
	nb_network_cleanup(&ctx.net);
	nb_network_detach(&ctx.net, &opts->report);
	nb_blk_concat_close(&layers);
	nb_image_free(&image);
	nb_buf_free(&initrd);
	unmap_file(&kernel_file);
	return rc;
}
