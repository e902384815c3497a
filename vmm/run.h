/* One `nestbox run`: validated options in, the workload's exit status out. */
#ifndef NESTBOX_VMM_RUN_H
#define NESTBOX_VMM_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nestbox/err.h"

struct nb_run_options {
	const char *kernel_path;   /* guest kernel: ELF vmlinux or bzImage */
	const char *init_path;     /* nestbox-init binary */
	const char *rootfs;        /* IMAGE: for now a rootfs directory */
	const char *const *argv;   /* command in the guest, argc >= 1 */
	size_t argc;
	unsigned cpus;
	uint64_t mem_size;         /* bytes */
	unsigned timeout_sec;      /* 0: none */
	const char *kernel_args;   /* appended to the kernel command line, or NULL */
	bool stats;                /* print run statistics as JSON on stderr */
	double start_mono_ms;      /* CLOCK_MONOTONIC at process start, for --stats */
};

/* Boot the VM, run the workload, return its exit status in *status
 * (Docker's convention, include/nestbox/abi.h). Returns -1 with err set
 * when nestbox itself failed (the caller exits with nb_err_status). */
int nb_run(const struct nb_run_options *opts, int *status, struct nb_err *err);

/* The kernel command line nestbox boots with (before kernel_args). */
extern const char nb_run_base_cmdline[];

#endif
