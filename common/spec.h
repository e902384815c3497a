/* Workload spec codec: the struct the launcher fills and nestbox-init runs,
 * encoded as a flattened device tree (see include/nestbox/abi.h for the
 * properties and limits). Built for host (glibc) and guest (musl): libc and
 * libfdt only.
 */
#ifndef NESTBOX_SPEC_H
#define NESTBOX_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nestbox/abi.h"
#include "nestbox/err.h"

struct nb_spec {
	/* argc entries (1..NB_SPEC_MAX_ARGS), each non-empty. A decoded spec
	 * also has argv[argc] == NULL, so it can go straight to execvp(). */
	const char *const *argv;
	size_t argc;
	/* envc "NAME=value" entries (0..NB_SPEC_MAX_ARGS); NULL when envc == 0
	 * on encode; NULL-terminated (never NULL) when decoded. */
	const char *const *env;
	size_t envc;
	/* Absolute path of the workload's root inside the guest. */
	const char *rootfs;

	/* ---- container (format 2); zero/NULL means "not set" ---- */
	const char *hostname; /* NULL: the guest default */
	const char *workdir;  /* NULL: "/" */
	const char *user;     /* NULL: root; "user[:group]" names or ids */
	bool has_caps;        /* false: Docker's default set */
	uint64_t caps;        /* bit n = capability n */
	struct nb_spec_rlimit {
		uint32_t resource;
		uint64_t soft, hard;
	} rlimits[NB_SPEC_MAX_RLIMITS];
	size_t nrlimits;                      /* 0: the guest defaults */
	uint64_t memory_max;                  /* 0: no limit */
	uint64_t swap_max;                    /* with memory_max only; 0: no swap */
	uint32_t cpu_quota_us, cpu_period_us; /* both 0: no limit */
	uint64_t pids_max;                    /* 0: no limit */
	uint64_t memory_low;                  /* memory.low; 0: none */
	uint32_t cpu_weight;                  /* cpu.weight 1..10000; 0: the default */
	uint32_t namespaces;                  /* NB_NS_* extra namespaces */
	bool read_only;
	bool init;                /* NB_SPEC_INIT: --init, a reaper as PID 1 */
	const char *const *tmpfs; /* ntmpfs absolute paths */
	size_t ntmpfs;
	const void *seccomp; /* classic BPF, seccomp_len bytes; NULL: none */
	size_t seccomp_len;

	/* ---- volumes (virtio-blk) ---- */
	const char *const *volumes; /* nvolumes "SERIAL:MODE:PATH" (abi.h) */
	size_t nvolumes;

	/* ---- image layers on the NB_LAYER_SERIAL disk (format 3) ---- */
	const struct nb_spec_layer {
		uint64_t offset, size; /* bytes on the layer disk */
	} * layers;                    /* nlayers, bottom layer first; NULL: no image */
	size_t nlayers;

	/* ---- network (virtio-net eth0); 0 means "not set" ---- */
	uint32_t net_ipv4;          /* host byte order */
	uint32_t net_prefix;        /* 1..32 with net_ipv4 */
	uint32_t net_gateway;       /* with net_ipv4 only */
	const char *const *net_dns; /* net_ndns dotted IPv4 nameservers (with net_ipv4) */
	size_t net_ndns;
	const void *net_mac; /* NB_SPEC_MAC_LEN bytes; NULL: the NIC's own */
	size_t net_mac_len;

	/* ---- warm start (issue 16) ---- */
	bool template;    /* wait for the workload's spec on the stdin port */
	const void *seed; /* NB_SPEC_SEED_LEN bytes; NULL: none */
	size_t seed_len;
	uint64_t clock_sec, clock_nsec; /* wall clock; clock_sec 0: not set */

	/* ---- terminal (-t) ---- */
	bool tty;                    /* a pty for the workload */
	uint32_t tty_rows, tty_cols; /* its size at start; both 0: unknown */

	/* ---- OCI runtime `create` (issue 14) ---- */
	bool start_gate; /* wait for NB_SIGMSG_START before the workload */
};

/* Check spec against the limits the guest enforces, so the host rejects
 * what nestbox-init would reject. */
int nb_spec_validate(const struct nb_spec *spec, struct nb_err *err);

/* Encode spec into a new malloc'd blob of *len bytes (<= NB_SPEC_MAX_SIZE).
 * The caller frees *blob. */
int nb_spec_encode(const struct nb_spec *spec, void **blob, size_t *len, struct nb_err *err);

/* Decode and validate a hostile blob. On success the strings in *out point
 * into blob (keep it alive); release the arrays with nb_spec_free(). On
 * failure *out is zeroed and nothing needs freeing. Unknown properties and
 * subnodes are ignored (the format version covers incompatible changes);
 * a known property that appears twice is an error. */
int nb_spec_decode(const void *blob, size_t len, struct nb_spec *out, struct nb_err *err);

/* Whether a and b make the same container, process aside: the same root,
 * hostname, namespaces, cgroup limits, tmpfs mounts and read-only root, and
 * neither has a terminal or volumes. A container made ahead for a (a template's,
 * container/container.h) can then run b's process. */
bool nb_spec_same_container(const struct nb_spec *a, const struct nb_spec *b);

/* A volume entry's MODE ("ID:MODE:PATH", abi.h): *share for a shared
 * directory (NB_VOLUME_MODE_FS), *read_only for "ro". False when entry
 * has no MODE. */
bool nb_spec_volume_mode(const char *entry, bool *share, bool *read_only);

/* Whether a volume of spec is writable: a disk or a share not "ro". */
bool nb_spec_writable_volume(const struct nb_spec *spec);

/* Free what nb_spec_decode() allocated; safe on a zeroed spec. */
void nb_spec_free(struct nb_spec *spec);

#endif
