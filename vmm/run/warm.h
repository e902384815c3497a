/* Warm start on the run path: a template boot's snapshot written to a
 * directory (state file + sparse memory file), a restore from one, and the
 * stdin stream that carries a clone's workload spec (abi.h,
 * NB_SPEC_TEMPLATE). The template store (names, cache, staleness) is
 * vmm/run/template.h. */
#ifndef NESTBOX_VMM_RUN_WARM_H
#define NESTBOX_VMM_RUN_WARM_H

#include <stddef.h>

#include "nestbox/err.h"
#include "vmm/dev/serial.h"
#include "vmm/kvm/vm.h"
#include "vmm/virtio/mmio.h"

#define NB_WARM_STATE_FILE "state"
#define NB_WARM_MEMORY_FILE "memory"
#define NB_WARM_MAX_STATE (NB_STATE_MAX_BODY + 4096u)

/* A snapshot's files, created in its directory before the main thread
 * enters its seccomp filter (which opens nothing). The directory is a
 * temporary one its caller renames into place: the files need not be
 * replaced atomically. */
struct nb_warm_out {
	int memory_fd, state_fd; /* -1: not open */
};

/* Create dir's NB_WARM_MEMORY_FILE and NB_WARM_STATE_FILE (truncated). */
int nb_warm_out_open(struct nb_warm_out *out, const char *dir, struct nb_err *err);
/* The same in the directory dfd (dir: its name in messages). */
int nb_warm_out_openat(struct nb_warm_out *out, int dfd, const char *dir, struct nb_err *err);
void nb_warm_out_close(struct nb_warm_out *out);

/* Save the stopped VM (vCPUs and event threads joined, output drained;
 * or, live, all of them held by nb_vm_pause) into out's files: the
 * memory, then the state; both synced. Again later: written anew. */
int nb_warm_save(struct nb_vm *vm, struct nb_virtio_mmio_transport *virtio,
		 struct nb_serial *serial, const struct nb_warm_out *out, struct nb_err *err);

/* A snapshot's files as a restore takes them: opened (the memory file,
 * for nb_vm_config.mem_fd) and read (the state file) before the VMM is
 * confined, so a jailed VMM needs no path to them. */
struct nb_warm_in {
	const char *dir; /* for messages */
	int memory_fd;   /* -1: not open */
	char *state;
	size_t state_len;
};

/* Open dir's memory file and read its state file (at most NB_WARM_MAX_STATE). */
int nb_warm_in_open(struct nb_warm_in *in, const char *dir, struct nb_err *err);
void nb_warm_in_close(struct nb_warm_in *in);

/* Load in's state into vm (created from in's memory file) and the devices
 * (built as at the template boot, in the same order). The state is hostile:
 * nb_state_parse checks it against this host and VM. */
int nb_warm_load(struct nb_vm *vm, struct nb_virtio_mmio_transport *virtio,
		 struct nb_serial *serial, const struct nb_warm_in *in, struct nb_err *err);

/* A clone's stdin stream as a sealed memfd: le32 length, the spec, then
 * the bytes of input_path (NULL: none). Returns the fd, at offset 0. */
int nb_warm_stdin(const void *spec, size_t len, const char *input_path, struct nb_err *err);

#endif
