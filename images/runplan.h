/* From an image config and the `run` command line to what the workload
 * gets, with Docker's rules:
 *   argv    = Entrypoint + (COMMAND if given, else Cmd); --entrypoint
 *             replaces Entrypoint and drops the image's Cmd;
 *   env     = image Env, then -e entries (same NAME: the later wins), and
 *             a default PATH when neither sets one;
 *   workdir, user = the command line's, else the image's, else unset.
 * vmm/run/run.c builds one for every image it runs. */
#ifndef NESTBOX_IMAGES_RUNPLAN_H
#define NESTBOX_IMAGES_RUNPLAN_H

#include <stddef.h>

#include "images/oci.h"
#include "nestbox/abi.h" /* NB_DEFAULT_PATH */
#include "nestbox/err.h"

struct nb_run_overrides {
	const char *entrypoint;  /* NULL: the image's; "": none */
	const char *const *argv; /* COMMAND [ARG...], argc 0: the image's Cmd */
	size_t argc;
	const char *const *env; /* NAME=value */
	size_t nenv;
	const char *workdir, *user; /* NULL: the image's */
	const char *fallback;       /* no COMMAND, Entrypoint nor Cmd: this; NULL: an error */
};

struct nb_run_plan {
	char **argv, **env;   /* NULL-terminated, malloc'd */
	char *workdir, *user; /* NULL when unset */
};

/* The plan for image config cfg and the command line's overrides o, freed
 * with nb_run_plan_free() (a failed build leaves nothing to free). */
int nb_run_plan_build(const struct nb_image_config *cfg, const struct nb_run_overrides *o,
		      struct nb_run_plan *out, struct nb_err *err);
void nb_run_plan_free(struct nb_run_plan *p);

#endif
