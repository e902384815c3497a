#include "vmm/cli/confine_opts.h"

#include <stdint.h>

#include "common/parse.h"

static int parse_id(const char *opt, const char *arg, unsigned *id, bool *has, struct nb_err *err)
{
	uint64_t v;

	if (!nb_parse_decimal(arg, 0, UINT32_MAX - 1, &v))
		return nb_err_set(err, 0, "%s %s: give a numeric id", opt, arg);
	*id = (unsigned)v;
	*has = true;
	return 0;
}

int nb_confine_cli_option(int opt, const char *arg, struct nb_run_options *opts, struct nb_err *err)
{
	struct nb_run_confine *c = &opts->confine;

	switch (opt) {
	case NB_OPT_SECCOMP_LOG:
		c->seccomp_log = true;
		return 0;
	case NB_OPT_JAIL:
		c->jail = arg;
		return 0;
	case NB_OPT_UID:
		return parse_id("--uid", arg, &c->uid, &c->has_uid, err);
	case NB_OPT_GID:
		return parse_id("--gid", arg, &c->gid, &c->has_gid, err);
	case NB_OPT_CGROUP:
		c->cgroup = arg;
		return 0;
	default:
		return 1;
	}
}
