#include "vmm/cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/parse.h"
#include "images/cache.h"
#include "images/image.h"
#include "nestbox/abi.h"
#include "vmm/cli/commands.h"
#include "vmm/cli/confine_opts.h"
#include "vmm/cli/container_opts.h"
#include "vmm/cli/detach_opts.h"
#include "vmm/cli/lifecycle.h"
#include "vmm/cli/images.h"
#include "vmm/cli/network_opts.h"
#include "vmm/cli/oci.h"
#include "vmm/cli/print.h"
#include "vmm/cli/resource_opts.h"
#include "vmm/cli/volume_opts.h"
#include "vmm/confine/seccomp.h"
#include "vmm/kvm/x86_64/mptable.h"
#include "vmm/run/records.h"
#include "vmm/run/template.h"
#include "vmm/run/vmdir.h"
#include "vmm/run/vmevents.h"

#define DEFAULT_MEM (512ull << 20)
#define MAX_TIMEOUT (7u * 24 * 3600)

static const char usage_text[] =
	"Usage: nestbox run [OPTIONS] IMAGE [COMMAND] [ARG...]\n"
	"\n"
	"Boot a microVM and run COMMAND (default: the image's Entrypoint and Cmd) in a new\n"
	"container from IMAGE inside it. IMAGE is a registry reference by Docker's rules\n"
	"(`alpine` is docker.io/library/alpine:latest), oci:DIR[:TAG], oci-archive:FILE[:TAG],\n"
	"docker-archive:FILE[:NAME:TAG], a layout directory or archive, or a plain root file\n"
	"system directory (which needs a COMMAND). A `--` before COMMAND is allowed.\n"
	"\n"
	"Options:\n"
	"      --kernel PATH      guest kernel, ELF vmlinux or bzImage (default: vmlinux beside nestbox)\n"
	"      --guest-init PATH  nestbox-init binary (default: nestbox-init beside nestbox)\n"
	"      --timeout SECS     kill the VM after SECS seconds and exit 124\n"
	"      --kernel-args STR  append STR to the guest kernel command line\n"
	"      --stats[=json]     print run statistics as JSON lines on stderr (with --cgroup, a\n"
	"                         second line: the group's peak memory and CPU time)\n"
	"  -v, --volume HOST:GUEST_PATH[:ro][:direct]\n"
	"                         a directory HOST is shared at GUEST_PATH (virtio-fs; writes land\n"
	"                         on the host); a file HOST is a raw disk image (ext4 or erofs)\n"
	"                         mounted there. ro: read-only, enforced by nestbox; direct: disks\n"
	"                         only, O_DIRECT (also NESTBOX_BLK_DIRECT=1)\n" NB_VOLUME_USAGE
	"  -i, --interactive      stream nestbox's stdin to COMMAND's stdin\n"
	"      --restore DIR      restore the running VM saved in DIR (nestbox snapshot): no\n"
	"                         IMAGE or COMMAND; its workload goes on (-d, --name as usual);\n"
	"                         on its network again with a new lease and its -p ports\n"
	"                         (one on --tap: give --tap TAP, its --ip kept);\n"
	"                         -v NEWHOST:GUEST moves one of its directories, and\n"
	"                         -v NEWFILE:GUEST gets a copy of a read-write disk\n"
	"      --template NAME    restore template NAME (nestbox template create) instead of\n"
	"                         booting: no ROOTFS; COMMAND runs in the template's image\n"
	"  -t, --tty              give COMMAND a terminal (stderr joins stdout); with -i,\n"
	"                         stdin must be a terminal, put in raw mode for the run\n"
	"  -e, --env NAME[=VALUE] set an environment variable (NAME alone: the host's value)\n"
	"      --env-file FILE    read NAME=VALUE lines from FILE\n"
	"  -w, --workdir DIR      working directory in the container (created if missing)\n"
	"  -u, --user U[:G]       user and group, names (from the image) or ids\n"
	"  -h, --hostname NAME    the container's hostname\n"
	"      --entrypoint CMD   run CMD with COMMAND's words as its arguments\n"
	"      --pids-limit N     at most N processes (cgroup pids.max)\n"
	"      --read-only        mount the root file system read-only\n"
	"      --init             run an init as the container's PID 1 that forwards signals\n"
	"                         to COMMAND and reaps orphaned processes (Docker's --init)\n"
	"      --tmpfs PATH[:OPTS] mount a fresh tmpfs at PATH; OPTS as Docker's: rw ro exec\n"
	"                         noexec suid nosuid dev nodev size=N[k|m|g] mode=OCTAL\n"
	"                         (default noexec,nosuid,nodev,mode=1777)\n"
	"      --cap-add CAP,...  add capabilities to Docker's default set (ALL: every one)\n"
	"      --cap-drop CAP,... drop capabilities (ALL: every one)\n"
	"      --userns host|private  private: a user namespace (ids 0-65535 mapped as they are)\n"
	"      --security-opt seccomp=PROFILE.json|unconfined\n"
	"                         seccomp profile (default: Docker's default profile)\n" NB_RESOURCE_USAGE
		NB_NETWORK_USAGE NB_CONFINE_USAGE NB_DETACH_USAGE
	"      --help             show this help\n"
	"\n"
	"Exit status: COMMAND's own; 125 nestbox failed; 126 COMMAND cannot be run;\n"
	"127 COMMAND not found; 128+N COMMAND killed by signal N; 124 --timeout expired.\n"
	"Signals INT TERM HUP QUIT USR1 USR2 WINCH sent to nestbox go to COMMAND; a second\n"
	"INT or TERM within 3 seconds stops the VM (128+N).\n";

static int usage_error(struct nb_err *err, const char *option)
{
	nb_err_set(err, 0, "bad or incomplete option '%s' (see nestbox run --help)", option);
	return nb_err_wrap(err, "run");
}

/* HOST:GUEST[:ro|:rw][:direct]; GUEST absolute, without "..". Host paths
 * with ':' are not supported (as with docker -v). A directory HOST is
 * shared (virtio-fs), anything else is a disk image. */
static int parse_volume(const char *arg, struct nb_run_options *opts, struct nb_err *err)
{
	/* The split copies live until the next parse, like the defaults. */
	static char *copies[NB_RUN_MAX_VOLUMES];
	struct nb_run_volume *v = &opts->volumes[opts->nvolumes];
	const char *env = getenv("NESTBOX_BLK_DIRECT");
	char *copy, *save, *guest, *flag;
	bool asked_direct = false;

	if (opts->nvolumes == NB_RUN_MAX_VOLUMES)
		return nb_err_set(err, 0, "--volume: at most %u volumes", NB_RUN_MAX_VOLUMES);
	free(copies[opts->nvolumes]);
	copy = copies[opts->nvolumes] = strdup(arg);
	if (!copy)
		return nb_err_sys(err, "--volume");
	*v = (struct nb_run_volume){ .host = strtok_r(copy, ":", &save),
				     .direct = env && strcmp(env, "1") == 0 };
	guest = strtok_r(NULL, ":", &save);
	if (!v->host || !guest || !nb_volume_guest_ok(guest))
		return nb_err_set(err, 0, "--volume %s: use HOST_IMG:/GUEST_PATH[:ro]", arg);
	while ((flag = strtok_r(NULL, ":", &save))) {
		if (strcmp(flag, "ro") == 0) {
			v->read_only = true;
		} else if (strcmp(flag, "direct") == 0) {
			v->direct = asked_direct = true;
		} else if (strcmp(flag, "rw") != 0) {
			return nb_err_set(err, 0, "--volume %s: unknown flag '%s' (ro, rw, direct)",
					  arg, flag);
		}
	}
	v->guest = guest;
	v->dir = nb_volume_is_dir(v->host);
	if (v->dir && asked_direct)
		return nb_err_set(err, 0,
				  "--volume %s: direct is for disk images; %s is a directory", arg,
				  v->host);
	v->direct = v->direct && !v->dir; /* NESTBOX_BLK_DIRECT is for disks */
	opts->nvolumes++;
	return 0;
}

static char *default_path(const char *self_dir, const char *name)
{
	char *path;

	if (asprintf(&path, "%s/%s", self_dir, name) < 0)
		return NULL;
	return path;
}

enum {
	OPT_KERNEL = 256,
	OPT_GUEST_INIT,
	OPT_CPUS,
	OPT_TIMEOUT,
	OPT_KERNEL_ARGS,
	OPT_STATS,
	OPT_TEMPLATE,
	OPT_RESTORE
};

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "guest-init", required_argument, NULL, OPT_GUEST_INIT },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "kernel-args", required_argument, NULL, OPT_KERNEL_ARGS },
	{ "stats", optional_argument, NULL, OPT_STATS },
	{ "volume", required_argument, NULL, 'v' },
	{ "interactive", no_argument, NULL, 'i' },
	{ "tty", no_argument, NULL, 't' },
	{ "template", required_argument, NULL, OPT_TEMPLATE },
	{ "restore", required_argument, NULL, OPT_RESTORE },
	{ "help", no_argument, NULL, NB_OPT_HELP },
	NB_CONTAINER_LONG_OPTIONS,
	NB_RESOURCE_LONG_OPTIONS,
	NB_NETWORK_LONG_OPTIONS,
	NB_VOLUME_LONG_OPTIONS,
	NB_CONFINE_LONG_OPTIONS,
	NB_DETACH_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static int apply_option(int opt, const char *arg, struct nb_run_options *opts, struct nb_err *err)
{
	switch (opt) {
	case OPT_KERNEL:
		opts->kernel_path = arg;
		return 0;
	case OPT_GUEST_INIT:
		opts->init_path = arg;
		return 0;
	case OPT_CPUS:
		return nb_container_cli_cpus(arg, NB_MAX_VCPUS, opts, err);
	case OPT_TIMEOUT:
		return nb_parse_uint("--timeout", arg, 1, MAX_TIMEOUT, &opts->timeout_sec, err);
	case OPT_KERNEL_ARGS:
		opts->kernel_args = arg;
		return 0;
	case OPT_STATS:
		if (arg && strcmp(arg, "json") != 0)
			return nb_err_set(err, 0, "--stats=%s: the only format is json", arg);
		opts->stats = true;
		return 0;
	case 'i':
		opts->interactive = true;
		return 0;
	case OPT_TEMPLATE:
		opts->warm.name = arg;
		return 0;
	case OPT_RESTORE:
		opts->warm.restore = arg;
		opts->warm.resume = true;
		return 0;
	case 't':
		opts->tty = true;
		return 0;
	case 'v':
		return parse_volume(arg, opts, err);
	default: {
		int rc = nb_container_cli_option(opt, arg, opts, err);

		if (rc > 0)
			rc = nb_network_cli_option(opt, arg, opts, err);
		if (rc > 0)
			rc = nb_confine_cli_option(opt, arg, opts, err);
		if (rc > 0)
			rc = nb_volume_cli_option(opt, arg, opts, err);
		if (rc > 0)
			rc = nb_resource_cli_option(opt, arg, opts, err);
		if (rc > 0)
			rc = nb_detach_cli_option(opt, arg, opts, err);
		if (rc <= 0)
			return rc;
		return nb_err_set(err, 0, "unknown option (see nestbox run --help)");
	}
	}
}

int nb_cli_parse_run(int argc, char **argv, const char *self_dir, struct nb_run_options *opts,
		     struct nb_err *err)
{
	static char *kernel_default, *init_default;
	int opt;

	*opts = (struct nb_run_options){ .cpus = 1, .mem_size = DEFAULT_MEM };
	optind = 1;
	opterr = 0;
	/* '+': stop at IMAGE, so COMMAND's own options are left alone. */
	while ((opt = getopt_long(argc, argv,
				  "+v:it" NB_CONTAINER_SHORT_OPTIONS NB_RESOURCE_SHORT_OPTIONS
					  NB_NETWORK_SHORT_OPTIONS NB_DETACH_SHORT_OPTIONS,
				  run_options, NULL)) != -1) {
		if (opt == NB_OPT_HELP)
			return 1;
		if (opt == '?' || opt == ':')
			return usage_error(err, argv[optind - 1]);
		if (apply_option(opt, optarg, opts, err) < 0)
			return nb_err_wrap(err, "run");
	}
	if (nb_volume_cli_check(opts, err) < 0 || nb_resource_cli_check(opts, err) < 0 ||
	    nb_detach_cli_check(opts, err) < 0)
		return nb_err_wrap(err, "run");
	if (opts->warm.name && opts->warm.resume)
		return nb_err_set(err, 0, "run: --template and --restore do not go together");
	if (opts->warm.resume && optind < argc)
		return nb_err_set(
			err, 0,
			"run --restore: no IMAGE or COMMAND (the snapshot's workload runs "
			"on)");
	if (optind >= argc && !opts->warm.name && !opts->warm.resume)
		return nb_err_set(err, 0, "run: missing IMAGE (see nestbox run --help)");
	/* A template or snapshot names its image (vmm/run/template.h). */
	opts->rootfs = opts->warm.name || opts->warm.resume ? NULL : argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	/* An image brings its own Entrypoint/Cmd; a plain rootfs does not. */
	if (optind >= argc && !opts->container.entrypoint && opts->rootfs &&
	    !nb_image_is_reference(opts->rootfs))
		return nb_err_set(err, 0,
				  "run: missing COMMAND after %s (a rootfs directory has "
				  "no default command; give one)",
				  opts->rootfs);
	opts->argv = (const char *const *)&argv[optind];
	opts->argc = (size_t)(argc - optind);
	if (!opts->kernel_path) {
		free(kernel_default);
		opts->kernel_path = kernel_default = default_path(self_dir, "vmlinux");
	}
	if (!opts->init_path) {
		free(init_default);
		opts->init_path = init_default = default_path(self_dir, "nestbox-init");
	}
	if (!opts->kernel_path || !opts->init_path)
		return nb_err_set(err, ENOMEM, "run");
	return 0;
}

char *nb_cli_self_dir(void)
{
	char path[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (len <= 0)
		return strdup(".");
	path[len] = '\0';
	char *slash = strrchr(path, '/');
	if (slash)
		*slash = '\0';
	return strdup(path);
}

static double start_ms;

double nb_cli_start_ms(void)
{
	return start_ms;
}

int nb_cmd_run(int argc, char **argv)
{
	struct nb_run_options opts;
	struct nb_template tmpl = { 0 };
	struct nb_err err = { 0 };
	char *dir = nb_cli_self_dir();
	int status = NB_STATUS_ERROR;
	int rc = nb_cli_parse_run(argc, argv, dir ? dir : ".", &opts, &err);

	free(dir);
	opts.start_mono_ms = start_ms;
	opts.report = nb_cli_reporter();
	if (rc == 1) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (rc == 0 && opts.warm.name)
		rc = nb_template_open(opts.warm.name, &opts, &tmpl, &err);
	else if (rc == 0 && opts.warm.resume &&
		 (rc = nb_template_open_dir(opts.warm.restore, &opts, &tmpl, &err)) == 0 &&
		 nb_network_cli_restore(&opts, tmpl.network, tmpl.tap, tmpl.net_args, &err) < 0)
		rc = nb_err_wrap(&err, "snapshot %s", opts.warm.restore);
	if (rc == 0 && opts.warm.resume)
		rc = nb_template_copy_disks(&tmpl, &opts, &err);
	if (rc == 0)
		rc = opts.detach.on ? nb_detach_run(&opts, argc, argv, &status, &err)
				    : nb_run(&opts, &status, &err);
	if (rc < 0) /* a restore that did not start leaves no disk behind */
		nb_template_uncopy_disks(&tmpl, &opts);
	nb_template_free(&tmpl);
	if (rc < 0)
		return nb_cli_error(NULL, &err);
	return status;
}

/* The image cache's temporary files: opening it exclusively removes what
 * interrupted conversions left. */
static void clean_image_cache(void)
{
	struct nb_cache cache;
	struct nb_err err;

	if (nb_cache_open(&cache, true, &err) == 0)
		nb_cache_close(&cache);
}

static void report_pruned(void *opaque, const char *id, const char *name)
{
	nb_report(opaque, NB_REPORT_OUTPUT, "removed VM %.12s%s%s", id, name[0] ? " " : "", name);
	nb_vm_event_emit("destroy", id, name, -1, -1);
}

int nb_cmd_gc(int argc, char **argv)
{
	struct nb_report out = nb_cli_reporter();
	struct nb_err err;
	bool help = argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));

	if (help) {
		fputs("Usage: nestbox gc\n\nRemove what crashed runs left behind: their cgroups, "
		      "vsock sockets and\nrun records, their network leases (and their published "
		      "ports' nftables\nrules), the image cache's temporary files, and the "
		      "directories\nof detached VMs that no longer run (as docker container "
		      "prune).\n",
		      stdout);
		return 0;
	}
	if (argc > 1)
		return nb_cli_usage_error("gc", "gc takes no arguments");
	int left = nb_gc_collect(&out, &err);

	if (left >= 0 && nb_vmdir_prune(report_pruned, &out, &err) < 0)
		left = -1;
	clean_image_cache();
	if (left < 0)
		return nb_cli_error("nestbox gc", &err);
	if (left) {
		nb_err_set(&err, 0, "%d leftovers could not be removed (see above; run as root?)",
			   left);
		return nb_cli_error("nestbox gc", &err);
	}
	return 0;
}

int nb_cmd_seccomp_dump(int argc, char **argv)
{
	bool help = argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));

	if (help) {
		fputs("Usage: nestbox seccomp-dump\n\nPrint the VMM's seccomp allowlist of each "
		      "thread kind, with the reason for\nevery entry, and their union.\n",
		      stdout);
		return 0;
	}
	if (argc > 1)
		return nb_cli_usage_error("seccomp-dump", "seccomp-dump takes no arguments");
	nb_sandbox_dump(stdout);
	return 0;
}

/* `kill` is two commands: Docker's for detached VMs, and the OCI
 * runtime's when an engine calls it (vmm/cli/oci.h). */
static int cmd_kill(int argc, char **argv)
{
	return nb_oci_kill_applies(argc, argv) ? nb_oci_main(argc, argv) : nb_cmd_kill(argc, argv);
}

/* Every command, in the order `nestbox --help` lists them. Each group is
 * kept apart by its comment line, so that commands added to different
 * groups do not touch the same lines. */
static const struct nb_cli_command commands[] = {
	/* running a workload */
	{ "run", "Boot a microVM and run a command in a new container inside it", nb_cmd_run },
	/* lifecycle of detached VMs (issue 15) */
	{ "ps", "List VMs (running; -a: all)", nb_cmd_ps },
	{ "inspect", "Show a VM's configuration and state as JSON", nb_cmd_inspect },
	{ "logs", "Show a detached VM's output", nb_cmd_logs },
	{ "stop", "Stop VMs: SIGTERM to the workload, SIGKILL after a timeout", nb_cmd_stop },
	{ "kill", "Send a signal to VMs' workloads (default KILL)", cmd_kill },
	{ "wait", "Wait for VMs to exit and print their exit codes", nb_cmd_wait },
	{ "rm", "Remove VMs that exited (-f: stop them first)", nb_cmd_rm },
	{ "pause", "Pause VMs: no guest instruction runs until unpause", nb_cmd_pause },
	{ "unpause", "Resume paused VMs", nb_cmd_unpause },
	{ "events", "Stream VM lifecycle events", nb_cmd_events },
	{ "stats", "Show VMs' resource usage", nb_cmd_stats },
	{ "update", "Change running VMs' memory limit (no more than they started with)",
	  nb_cmd_update },
	/* networks (issue 15) */
	{ "network", "Manage networks: create, ls, inspect, rm", nb_cmd_network },
	/* images */
	{ "pull", "Fetch an image from a registry into the local store", nb_images_main },
	{ "images", "List the images in the local store", nb_images_main },
	{ "rmi", "Remove images from the local store", nb_images_main },
	{ "prune", "Remove unused layers from the layer cache", nb_images_main },
	{ "login", "Store credentials for a registry", nb_images_main },
	{ "logout", "Remove stored credentials for a registry", nb_images_main },
	/* warm start and functions (issue 16) */
	{ "template", "Boot an image once to a ready guest and keep its snapshot",
	  nb_cmd_template },
	{ "fn", "Run one function invocation from a template; print a JSON result", nb_cmd_fn },
	{ "serve", "Answer function invocations on a Unix socket from a warm pool", nb_cmd_serve },
	{ "snapshot", "Save a running detached VM into a directory (run --restore DIR)",
	  nb_cmd_snapshot },
	/* OCI runtime interface, for podman and containerd (issue 14) */
	{ "create", "OCI runtime: boot the VM of a bundle, its process held", nb_oci_main },
	{ "start", "OCI runtime: run a created container's process", nb_oci_main },
	{ "state", "OCI runtime: print a container's state as JSON", nb_oci_main },
	{ "delete", "OCI runtime: remove a container and its VM", nb_oci_main },
	{ "exec", "OCI runtime: run a further process in a running container", nb_oci_main },
	{ "features", "OCI runtime: print what this runtime supports as JSON", nb_oci_main },
	/* housekeeping */
	{ "gc", "Remove what crashed runs left behind", nb_cmd_gc },
	/* version and host (issue 15, the CLI) */
	{ "version", "Show nestbox's version, guest ABI, kernel and libraries", nb_cmd_version },
	{ "info", "Show what nestbox finds on this host: KVM, cgroups, image store", nb_cmd_info },
	{ "seccomp-dump", NULL, nb_cmd_seccomp_dump },
};

static void print_commands(FILE *out)
{
	fputs("Usage: nestbox COMMAND [OPTIONS] [ARG...]\n\nCommands:\n", out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].summary)
			fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fputs("\nRun 'nestbox COMMAND --help' for a command's options.\n", out);
}

int nb_cli_main(int argc, char **argv)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	start_ms = start.tv_sec * 1e3 + start.tv_nsec / 1e6;
	/* runc's global options, as engines pass them, before the command */
	if (nb_oci_global_options(&argc, &argv) < 0)
		return NB_STATUS_ERROR;
	if (argc >= 2)
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (strcmp(argv[1], commands[i].name) == 0)
				return commands[i].main(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
			  strcmp(argv[1], "help") == 0)) {
		print_commands(stdout);
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0)) {
		nb_cli_print_version();
		return 0;
	}
	struct nb_err err = { 0 };

	if (argc < 2) {
		print_commands(stdout); /* as docker: the help, and success */
		return 0;
	}
	nb_err_set(&err, 0, "'%s' is not a nestbox command (see nestbox --help)", argv[1]);
	return nb_cli_error(NULL, &err);
}
