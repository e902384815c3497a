/* Docker's container options of a run (struct nb_run_container, parsed by
 * vmm/cli/container_opts.c) translated into the workload spec: the
 * environment, user, capabilities, cgroup limits and the seccomp filter,
 * compiled here. Host only. */
#ifndef NESTBOX_VMM_RUN_CONTAINER_SPEC_H
#define NESTBOX_VMM_RUN_CONTAINER_SPEC_H

#include "common/spec.h"
#include "nestbox/err.h"
#include "vmm/run/container_seccomp.h"
#include "vmm/run/resources.h"
#include "vmm/run/run.h"

/* What nb_container_spec() allocates for the spec it fills. */
struct nb_container_owned {
	struct nb_seccomp_bpf bpf; /* the compiled filter spec->seccomp points into */
	const char **argv;         /* with --entrypoint */
};

/* Fill spec's container fields from opts (spec->argv already set from
 * COMMAND; --entrypoint replaces it). Free own after encoding with
 * nb_container_owned_free(), also on failure. */
int nb_container_spec(const struct nb_run_options *opts, struct nb_spec *spec,
		      struct nb_container_owned *own, struct nb_err *err);
void nb_container_owned_free(struct nb_container_owned *own);

#endif
