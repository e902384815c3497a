/* One `nestbox run`: validated options in, the workload's exit status out. */
#ifndef NESTBOX_VMM_RUN_RUN_H
#define NESTBOX_VMM_RUN_RUN_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/report.h"
#include "common/spec.h"
#include "nestbox/err.h"
#include "vmm/hostnet/publish.h"

#define NB_RUN_MAX_VOLUMES 16u /* NB_SPEC_MAX_VOLUMES */

struct nb_run_options {
	const char *kernel_path; /* guest kernel: ELF vmlinux or bzImage */
	const char *init_path;   /* nestbox-init binary */
	const char *rootfs;      /* IMAGE: for now a rootfs directory */
	const char *const *argv; /* command in the guest, argc >= 1 */
	size_t argc;
	unsigned cpus;
	uint64_t mem_size;            /* guest RAM, bytes (--memory plus the guest's overhead) */
	struct nb_run_resources {     /* issue 15, vmm/cli/resource_opts.c */
		bool prealloc;        /* --memory-prealloc: fault in and lock guest RAM */
		bool hugetlb;         /* --memory-hugepages: hugetlb pages or fail */
		uint64_t memory_swap; /* --memory-swap as given; UINT64_MAX: -1; 0: none */
		bool pinned;          /* --cpuset-cpus given: */
		cpu_set_t cpuset;     /* ... the host CPUs of the vCPU threads */
	} res;
	unsigned timeout_sec;    /* 0: none */
	const char *kernel_args; /* appended to the kernel command line, or NULL */
	bool stats;              /* print run statistics as JSON on stderr */
	bool interactive;        /* -i: host stdin feeds the workload's stdin */
	bool tty;                /* -t: a pty in the guest (vmm/run/tty.h) */
	struct nb_run_volume {   /* -v HOST:GUEST[:ro][,direct], --mount type=bind */
		char *host, *guest;
		bool read_only, direct;
		bool dir; /* HOST is a directory: shared over virtio-fs, not a disk */
		/* --device-{read,write}-{bps,iops}, vmm/cli/volume_opts.c; 0: none */
		uint64_t read_bps, write_bps, read_iops, write_iops;
	} volumes[NB_RUN_MAX_VOLUMES];
	size_t nvolumes;
	struct nb_run_device_rate { /* as given, matched to volumes after parsing */
		const char *arg;
		int opt;
	} device_rates[4 * NB_RUN_MAX_VOLUMES];
	size_t ndevice_rates;
	double start_mono_ms;     /* CLOCK_MONOTONIC at process start, for --stats */
	struct nb_report report;  /* the front end's printer: warnings, --stats lines */
	struct nb_run_container { /* container options (issue 3), vmm/cli/container_opts.c */
		const char **env; /* -e / --env-file "NAME=value", nenv entries (malloc'd) */
		size_t nenv;
		const char *workdir, *user, *hostname, *entrypoint;
		uint64_t pids_limit;   /* 0: none */
		uint64_t memory_max;   /* --memory: memory.max, bytes; 0: max */
		uint64_t memory_low;   /* --memory-reservation: memory.low; 0: none */
		uint32_t cpu_weight;   /* --cpu-shares as cpu.weight; 0: the default */
		uint32_t cpu_quota_us; /* from --cpus, with period 100000; 0: none */
		bool read_only;
		bool init;             /* --init: a reaper as the container's PID 1 */
		const char *tmpfs[64]; /* NB_SPEC_MAX_TMPFS */
		size_t ntmpfs;
		uint64_t cap_add, cap_drop;  /* capability bit masks */
		const char *seccomp_profile; /* --security-opt seccomp=FILE, or NULL */
		bool seccomp_unconfined;
		uint32_t namespaces; /* NB_NS_NET (--network none), NB_NS_USER (--userns private) */
		/* OCI bundles (vmm/run/oci_bundle.h): process.rlimits, and
		 * linux.seccomp as JSON text (its format is Docker's profile's) */
		struct nb_spec_rlimit rlimits[NB_SPEC_MAX_RLIMITS];
		size_t nrlimits;
		const char *seccomp_json;
	} container;
	struct nb_run_oci {      /* an OCI runtime `create` (issue 14), vmm/run/oci_bundle.h */
		bool start_gate; /* the guest waits for NB_SIGMSG_START before the workload */
		int ready_fd;    /* with start_gate: "r" once the VM runs; caller closes */
	} oci;
	struct nb_run_net {             /* network options (issue 5), vmm/cli/network_opts.c */
		const char *vsock_path; /* --vsock PATH; NULL: no vsock device */
		uint64_t vsock_cid;     /* --vsock-cid, default 3 */
		const char *tap;        /* --tap NAME; NULL: no network device */
		int tap_fd;             /* the --tap NAME opened by the caller (the OCI runtime,
					 * in the engine's namespace; the run owns it); 0: none */
		const char *network;    /* --network NAME (a nestbox network), or NULL */
		bool network_mode;      /* --network host|none given */
		uint8_t mac[6];         /* --mac-address, else locally administered */
		bool has_mac;
		uint32_t ipv4, gateway; /* --ip, --gateway, host byte order; 0: none */
		uint32_t prefix;        /* --ip ADDR/PREFIX (--tap); 0: ADDR (--network) */
		uint32_t dns[3];        /* --dns (NB_DNS_MAX), host byte order */
		size_t ndns;
		struct nb_publish publish[NB_PUBLISH_MAX]; /* -p */
		size_t npublish;
		uint64_t rx_bps, tx_bps, rx_ops, tx_ops; /* --net-rate; 0: none */
		/* A NIC even with no tap (unplugged, vmm/virtio/net.h): a
		 * template made with --network has one, so its clones do. */
		bool template_nic;
		/* A vsock device even without --vsock (no host socket): a
		 * template has one, so its clones do. */
		bool template_vsock;
	} net;
	struct nb_run_confine {    /* host confinement (issue 6), vmm/cli/confine_opts.c */
		bool seccomp_log;  /* --seccomp-log: log violations, do not kill */
		const char *jail;  /* --jail DIR, or NULL */
		unsigned uid, gid; /* --uid, --gid (with --jail) */
		bool has_uid, has_gid;
		const char *cgroup; /* --cgroup PARENT, or NULL */
	} confine;
	struct nb_run_warm {             /* warm start (issue 16), vmm/run/template.h */
		const char *name;        /* --template NAME (the CLI opens it) */
		const char *snapshot_to; /* a template boot: snapshot into this directory */
		const char *restore;     /* restore this directory's snapshot (a template's) */
		bool resume;             /* ... a running VM's (`run --restore DIR`): no spec */
		const char *digest;      /* with restore: the image manifest it was made from */
		const char *input;       /* with restore: a file whose bytes are the stdin */
		int stdin_fd;            /* with has_stdin_fd: the clone's stdin port reads */
		bool has_stdin_fd;       /* this instead (its caller writes the spec later,
					    as nb_run_clone_spec makes it); input unused */
		int ready_fd;            /* with has_ready_fd: a byte when the clone resumes */
		bool has_ready_fd;
		int console_fd;      /* with has_console_fd: where the guest's UART goes */
		bool has_console_fd; /* (kernel, nestbox-init); else stdout */
		int status_fd;       /* with has_status_fd: the workload's exit status as */
		bool has_status_fd;  /* "%d\n", once its output is out, before the VM is
					torn down (an error has none) */
		int error_fd;        /* with has_error_fd: where a confined VMM writes its */
		bool has_error_fd;   /* own error (the message, no newline) instead of
					reporting it */
		int net_fd;          /* with has_net_fd and has_stdin_fd: a struct
					nb_clone_net once the network is attached */
		bool has_net_fd;
		/* virtio-fs slots after the -v volumes (a template's, so its
		 * clones': vmm/run/template.h): the first -v directories go
		 * in them, the rest have nothing behind them. */
		unsigned share_slots;
		/* with restore: its VM had no balloon (nb_run_has_balloon) */
		bool no_balloon;
		/* with resume: its VM's root was a directory, which lives in the
		 * guest's initramfs, so in the snapshot's memory (no image, no
		 * layers; rootfs names it only) */
		bool root_in_memory;
	} warm;
	struct nb_run_detach {          /* run -d (issue 15), vmm/cli/detach_opts.c */
		bool on;                /* -d: a monitor runs the VM (vmm/run/monitor.h) */
		bool auto_remove;       /* --rm: its directory goes when it exits */
		const char *name;       /* --name, or NULL */
		char id[65];            /* its id (vmm/run/vmdir.h), set by the front end */
		int dir_fd;             /* its directory */
		uint64_t log_max_size;  /* --log-opt max-size: bytes per log file */
		unsigned log_max_files; /* --log-opt max-file: files per stream */
		int notify_fd;          /* in the VMM: to its monitor ('R' started, 'O'
					   OOM, vmm/run/monitor.h); -1 otherwise */
		int hold_fd;            /* in the VMM: from its monitor, a byte when a
					   snapshot held for the -v disks' copy may go
					   on (NB_MONITOR_SNAPSHOT_HELD); -1 otherwise */
		bool has_snapshot_fds;  /* in the VMM: the files of `nestbox snapshot`, */
		int snapshot_state_fd;  /* opened in the VM's directory before any */
		int snapshot_memory_fd; /* jail (nb_monitor_child) */
	} detach;
};

/* Boot the VM, run the workload, return its exit status in *status
 * (Docker's convention, include/nestbox/abi.h). Returns -1 with err set
 * when nestbox itself failed (the caller exits with nb_err_status). */
int nb_run(const struct nb_run_options *opts, int *status, struct nb_err *err);

/* eth0's configuration as a run's spec carries it (struct nb_network's);
 * a pool clone's run tells it on warm.net_fd to the caller that writes
 * the spec (vmm/cli/serve.c). */
struct nb_clone_net {
	uint32_t ipv4, prefix, gateway; /* host byte order; ipv4 0: no address */
	uint32_t dns[3];
	uint32_t ndns;
	uint8_t mac[6];
	bool has_mac; /* false: no NIC, or no tap in it */
};

/* A clone's stdin stream start (opts as for a restore: a template's
 * image): le32 length and the workload spec of opts' command, with fresh
 * entropy and the wall clock (abi.h), and net (NULL: none) for its eth0;
 * malloc'd into *out. For callers that restore first and feed the
 * workload later (warm.has_stdin_fd). */
int nb_run_clone_spec(const struct nb_run_options *opts, const struct nb_clone_net *net, void **out,
		      size_t *len, struct nb_err *err);

/* Why a running VM of these options cannot be snapshotted (`nestbox
 * snapshot`): host state a snapshot would not carry (a terminal, an OCI
 * container); NULL: it can. */
const char *nb_run_snapshot_refusal(const struct nb_run_options *opts);

/* Whether a VM of these options has a virtio-balloon: not when its RAM is
 * guaranteed (--memory-prealloc, --memory-hugepages: locked or hugetlb
 * pages stay); a restore has its snapshot's devices (warm.no_balloon). */
bool nb_run_has_balloon(const struct nb_run_options *opts);

/* The kernel command line nestbox boots with (before kernel_args). */
extern const char nb_run_base_cmdline[];

#endif
