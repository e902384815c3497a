/* Seccomp filters compiled at build time. libseccomp's compile was most
 * of a run's start-up CPU; scripts/seccomp_prebuild.c runs the same code
 * a run would (nb_sandbox_compile, nb_seccomp_default_compile) for every
 * filter the VMM's threads can need and for Docker's default profile with
 * the default capabilities, and writes the results into
 * build/gen/seccomp_tables.c. A run copies its filter from there and
 * patches in its run-time values (placeholders below); any other filter
 * (--seccomp-log, other capabilities, a profile file) is compiled at run
 * time as before. tests/unit/test_sandbox.c checks that both paths give
 * the same bytes. Host only. */
#ifndef NESTBOX_VMM_CONFINE_SECCOMP_PREBUILT_H
#define NESTBOX_VMM_CONFINE_SECCOMP_PREBUILT_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/confine/seccomp_bpf.h"

/* Stand-ins for the run's values in the built filters: as 32-bit
 * comparison constants they cannot be a syscall number, an ioctl request
 * or a flag the lists test. */
#define NB_PREBUILT_PID 0x5eed0001u
#define NB_PREBUILT_VSOCK_LISTEN 0x5eed0002u
#define NB_PREBUILT_VSOCK_BROKER 0x5eed0003u

struct nb_prebuilt_bpf {
	uint32_t kind, key; /* the VMM's: thread kind and nb_sandbox_key() */
	const struct sock_filter *insns;
	size_t len; /* instructions */
	unsigned skipped;
	const char *first_skipped;
};

/* Weak: the generator itself links without them (then nothing is prebuilt). */
extern const struct nb_prebuilt_bpf nb_prebuilt_vmm[] __attribute__((weak));
extern const size_t nb_prebuilt_vmm_count __attribute__((weak));
extern const struct nb_prebuilt_bpf nb_prebuilt_docker_default __attribute__((weak));

/* A heap copy of p in out; false on ENOMEM. */
bool nb_prebuilt_copy(const struct nb_prebuilt_bpf *p, struct nb_seccomp_bpf *out);

#endif
