#include "vmm/run/container_spec.h"

#include <stdlib.h>
#include <string.h>

#include "nestbox/abi.h"

/* --entrypoint X: the command is X followed by COMMAND's words. */
static int entrypoint_argv(const struct nb_run_options *opts, struct nb_spec *spec,
			   struct nb_container_owned *own, struct nb_err *err)
{
	own->argv = calloc(opts->argc + 2, sizeof(*own->argv));
	if (!own->argv)
		return nb_err_sys(err, "--entrypoint");
	own->argv[0] = opts->container.entrypoint;
	for (size_t i = 0; i < opts->argc; i++)
		own->argv[i + 1] = opts->argv[i];
	spec->argv = own->argv;
	spec->argc = opts->argc + 1;
	return 0;
}

void nb_container_owned_free(struct nb_container_owned *own)
{
	nb_seccomp_bpf_free(&own->bpf);
	free(own->argv);
	own->argv = NULL;
}

int nb_container_spec(const struct nb_run_options *opts, struct nb_spec *spec,
		      struct nb_container_owned *own, struct nb_err *err)
{
	const struct nb_run_container *c = &opts->container;
	/* Docker's order: the default set minus --cap-drop plus --cap-add;
	 * --cap-add ALL is every capability minus --cap-drop. */
	uint64_t all = (2ull << NB_SPEC_CAP_LAST) - 1;
	uint64_t caps = c->cap_add == all ? all & ~c->cap_drop
					  : (NB_CAPS_DEFAULT & ~c->cap_drop) | c->cap_add;
	struct nb_seccomp_bpf *bpf = &own->bpf;
	int rc = 0;

	memset(own, 0, sizeof(*own));
	if (c->entrypoint && entrypoint_argv(opts, spec, own, err))
		return -1;
	spec->env = c->env;
	spec->envc = c->nenv;
	spec->hostname = c->hostname;
	spec->workdir = c->workdir;
	spec->user = c->user;
	spec->has_caps = true;
	spec->caps = caps;
	spec->pids_max = c->pids_limit;
	spec->read_only = c->read_only;
	spec->init = c->init;
	spec->namespaces = c->namespaces;
	spec->tmpfs = c->tmpfs;
	spec->ntmpfs = c->ntmpfs;
	spec->memory_max = c->memory_max;
	spec->swap_max = 0; /* the guest has no swap (--memory-swap, resource_opts.c) */
	spec->memory_low = c->memory_low;
	spec->cpu_weight = c->cpu_weight;
	memcpy(spec->rlimits, c->rlimits, sizeof(spec->rlimits));
	spec->nrlimits = c->nrlimits;
	if (c->cpu_quota_us) {
		spec->cpu_quota_us = c->cpu_quota_us;
		spec->cpu_period_us = NB_CPU_PERIOD_US;
	}
	if (c->seccomp_json)
		rc = nb_seccomp_profile_parse(c->seccomp_json, strlen(c->seccomp_json), caps, bpf,
					      err);
	else if (c->seccomp_profile)
		rc = nb_seccomp_profile_load(c->seccomp_profile, caps, bpf, err);
	else if (!c->seccomp_unconfined)
		rc = nb_seccomp_default(caps, bpf, err);
	if (rc < 0)
		return nb_err_wrap(err, "--security-opt seccomp");
	if (bpf->skipped && (c->seccomp_profile || c->seccomp_json))
		nb_report(&opts->report, NB_REPORT_WARNING,
			  "seccomp profile: %u syscall names "
			  "unknown to libseccomp were ignored (first: %s)",
			  bpf->skipped, bpf->first_skipped);
	spec->seccomp = bpf->data;
	spec->seccomp_len = bpf->len;
	return 0;
}
