/* An OCI runtime bundle (runtime-spec 1.0: config.json and the root
 * directory) turned into the options of one nestbox run: the container from
 * process, root, mounts, hostname and linux.*, the VM sized from
 * linux.resources and the io.nestbox.* annotations. The root directory is
 * shared with the guest over virtio-fs (volume 0, mounted at "/") and
 * becomes the container's root; bind mounts of directories are further
 * shares. The bundle is hostile input: bounded, typed, every path checked.
 * What has no meaning inside a VM is ignored or refused as README.md's
 * "OCI runtime" section lists, never applied half-way. Host only. */
#ifndef NESTBOX_VMM_RUN_OCI_BUNDLE_H
#define NESTBOX_VMM_RUN_OCI_BUNDLE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nestbox/err.h"
#include "vmm/run/run.h"

#define NB_OCI_CONFIG_MAX (4u << 20) /* bytes of config.json */
#define NB_OCI_MAX_MOUNTS 256u       /* entries in "mounts" */
#define NB_OCI_MAX_LIST 4096u        /* any other array */
#define NB_OCI_DEFAULT_MEM (512ull << 20)

/* Annotations nestbox reads (the VM's size and kernel). */
#define NB_OCI_ANN_VCPUS "io.nestbox.vcpus"
#define NB_OCI_ANN_MEMORY "io.nestbox.memory"
#define NB_OCI_ANN_KERNEL "io.nestbox.kernel"

struct nb_oci_bundle {
	struct nb_run_options opts;  /* kernel_path/init_path left NULL for the caller */
	bool terminal;               /* process.terminal */
	uint16_t tty_rows, tty_cols; /* process.consoleSize; 0: unknown */
	const char *cgroups_path;    /* linux.cgroupsPath, or NULL */
	const char *netns;           /* the network namespace's path, or NULL */
	const char *resolv_conf;     /* the engine's /etc/resolv.conf (a host path), or NULL */
	const char *rootfs;          /* root.path on the host (absolute), for `state` */
	json_object *annotations;    /* for `state` (owned by root), or NULL */
	/* owned */
	json_object *root;
	char **owned;
	size_t nowned;
};

/* Parse len bytes of config.json for the bundle directory dir (absolute).
 * On failure b needs no freeing. */
int nb_oci_bundle_parse(const char *json, size_t len, const char *dir, struct nb_oci_bundle *b,
			struct nb_err *err);

/* Read dir/config.json (at most NB_OCI_CONFIG_MAX bytes) and parse it. */
int nb_oci_bundle_load(const char *dir, struct nb_oci_bundle *b, struct nb_err *err);

/* An OCI process object alone (`nestbox exec --process FILE`): args, env,
 * cwd, user, terminal and consoleSize into b->opts and b->terminal, checked
 * as config.json's "process" is. Free b with nb_oci_bundle_free. */
int nb_oci_process_parse(const char *json, size_t len, struct nb_oci_bundle *b, struct nb_err *err);

void nb_oci_bundle_free(struct nb_oci_bundle *b);

#endif
