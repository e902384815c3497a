/* Templates (issue 16): an image's VM booted once to "nestbox-init ready"
 * and snapshotted (vmm/run/warm.h), kept by name under
 * ${XDG_CACHE_HOME:-$HOME/.cache}/nestbox/templates/NAME/ (meta.json,
 * state, memory), and restored once per workload. A template records what
 * it was made from: the image's manifest digest, the kernel and
 * nestbox-init files (device, inode, size, mtime), vCPUs and RAM, and the
 * ABI, and the network its clones join (--network NAME: the template has
 * a NIC, unplugged until a clone plugs in a tap of its own); it has a
 * vsock device without a host socket, each clone's --vsock PATH its own
 * (the guest is told its old connections are gone), and NB_TEMPLATE_SHARES
 * virtio-fs devices with nothing behind them (the guest probed them, never
 * mounted them), into which a clone puts its -v directories, mounted by
 * nestbox-init from the clone's spec; its key is a hash of all of it. Creating it again with the same inputs keeps it; a
 * restore whose inputs changed is refused. */
#ifndef NESTBOX_VMM_RUN_TEMPLATE_H
#define NESTBOX_VMM_RUN_TEMPLATE_H

#include <stdbool.h>
#include <stdint.h>

#include "nestbox/err.h"
#include "vmm/run/run.h"

#define NB_TEMPLATE_NAME_MAX 64u
#define NB_TEMPLATE_SHARES 4u         /* share slots: a clone's -v directories, at most */
#define NB_TEMPLATE_MAX_NET_ARGS 128u /* 2 x (32 -p, --ip, --mac-address, 3 --dns, --net-rate) */
#define NB_TEMPLATE_META "meta.json"  /* a template's or snapshot's record */
/* A snapshot's copy of the VM's -v disk number N (its volume index). */
#define NB_TEMPLATE_DISK "disk-%zu"

struct nb_template {
	char *name, *dir;
	char *image, *digest, *kernel, *init, *key;
	char *network; /* NULL: no NIC; else its clones join this network */
	/* A running VM's snapshot whose NIC was on the user's --tap: its
	 * restores give a tap of their own (or --network NAME, or none). */
	bool tap;
	/* A running VM's snapshot on a network or --tap: its run's -p, --ip,
	 * --gateway, --mac-address, --dns and --net-rate as OPTION VALUE
	 * pairs (NULL-terminated; NULL: none), for its restores to take. */
	char **net_args;
	/* A running VM's snapshot with -v volumes: three strings each, HOST
	 * (absolute; a disk's: its copy in dir, NB_TEMPLATE_DISK), GUEST and
	 * "ro" or "rw", in the run's order; NULL: none. Its restores share
	 * the same directories, or one moved with -v NEWHOST:GUEST (a
	 * share's open files are carried as paths beneath it,
	 * vmm/virtio/fs_state.c), and have the disks' copies. */
	char **volumes;
	/* A restore's: the snapshot's copy of disk i by path (NULL: not a
	 * disk), set by nb_template_restore_volumes. */
	char *disks[NB_RUN_MAX_VOLUMES];
	/* The restore's disks nb_template_copy_disks made (bits by volume
	 * index), for nb_template_uncopy_disks. */
	unsigned copied;
	bool vsock;      /* a vsock device (every template; a snapshot of a VM with one) */
	unsigned shares; /* virtio-fs slots for clones' -v directories (NB_TEMPLATE_SHARES) */
	/* Its VM had no balloon (guaranteed RAM: --memory-prealloc or
	 * --memory-hugepages); its restores have none either, whatever their
	 * own memory options. */
	bool no_balloon;
	unsigned cpus;
	uint64_t mem_size;
	int64_t created; /* seconds since the epoch */
};

void nb_template_free(struct nb_template *t);

/* Boot opts (rootfs: the IMAGE; cpus, memory, kernel, init as given) to a
 * ready guest and keep its snapshot as NAME. *kept: an up-to-date
 * template of that name was already there (nothing was booted). */
int nb_template_create(const char *name, struct nb_run_options *opts, bool *kept,
		       struct nb_err *err);

/* Template NAME, checked against its inputs, into opts: the image,
 * kernel, init, vCPUs, RAM, the network (the template's unless opts name
 * another, or none) and the restore directory. t must outlive opts'
 * use (its strings are pointed to). */
int nb_template_open(const char *name, struct nb_run_options *opts, struct nb_template *t,
		     struct nb_err *err);

/* A running VM's snapshot (`nestbox snapshot`, vmm/run/monitor.h): its
 * meta.json in dir, as a template's, for the VM of opts; a VM on a
 * network records it and its network options (net_args). */
int nb_template_save_meta(const char *dir, const struct nb_run_options *opts, struct nb_err *err);

/* Such a snapshot into opts as nb_template_open does, its -v directories
 * (nb_template_restore_volumes), and warm.resume: the guest's workload
 * runs on (no spec). */
int nb_template_open_dir(const char *dir, struct nb_run_options *opts, struct nb_template *t,
			 struct nb_err *err);

/* The snapshot's read-write disks copied to the paths the restore gave
 * (sparse; owned by its --uid/--gid if given); once the restore's options
 * are all checked. nb_template_uncopy_disks removes them again, for a
 * restore that did not start. */
int nb_template_copy_disks(struct nb_template *t, const struct nb_run_options *opts,
			   struct nb_err *err);
void nb_template_uncopy_disks(struct nb_template *t, const struct nb_run_options *opts);

/* A snapshot's -v volumes (t->volumes, hostile: an absolute HOST or, for
 * a disk, its copy's name NB_TEMPLATE_DISK of its index; an absolute
 * GUEST; ro or rw; whole triples) into opts->volumes, in their order (the
 * restored guest has them on devices in that order). A -v already in
 * opts (the restore's own) moves the directory at its GUEST to its HOST:
 * it must name one of the snapshot's GUEST paths, once, as a directory,
 * with the mode the guest has it mounted with. A read-only disk is the
 * snapshot's copy, shared by every restore; a read-write one must be
 * given, -v NEWFILE:GUEST, a path that does not exist yet (the copy made
 * there is the restore's own: nb_template_copy_disks). what ("snapshot
 * DIR") begins the messages; opts then points into t and the given -v. */
int nb_template_restore_volumes(const char *what, struct nb_run_options *opts,
				struct nb_template *t, struct nb_err *err);

/* Every template (read errors skip the entry); fn gets each. */
int nb_template_list(void (*fn)(const struct nb_template *t, void *opaque), void *opaque,
		     struct nb_err *err);

int nb_template_remove(const char *name, struct nb_err *err);

#endif
