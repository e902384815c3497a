#include "common/parse.h"
#include "common/tmpfs.h"
#include "vmm/cli/container_opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

#define ENV_FILE_MAX (1u << 20)

/* ---- env ------------------------------------------------------------------ */

/* "NAME=value" as is; a bare "NAME" takes the host's value, or is dropped
 * when the host has none (Docker's -e NAME). */
static int add_env(struct nb_run_options *opts, const char *entry, const char *what,
		   struct nb_err *err)
{
	struct nb_run_container *c = &opts->container;
	const char **grown;
	char *copy;

	if (entry[0] == '=' || entry[0] == '\0')
		return nb_err_set(err, 0, "%s: invalid environment entry '%.64s': empty name", what,
				  entry);
	if (!strchr(entry, '=')) {
		const char *v = getenv(entry);

		if (!v)
			return 0;
		if (asprintf(&copy, "%s=%s", entry, v) < 0)
			return nb_err_sys(err, "%s", what);
	} else {
		copy = strdup(entry);
		if (!copy)
			return nb_err_sys(err, "%s", what);
	}
	if (c->nenv == NB_RUN_MAX_ENV) {
		free(copy);
		return nb_err_set(err, 0, "%s: more than %u environment entries", what,
				  NB_RUN_MAX_ENV);
	}
	grown = realloc(c->env, (c->nenv + 1) * sizeof(*grown));
	if (!grown) {
		free(copy);
		return nb_err_sys(err, "%s", what);
	}
	c->env = grown;
	c->env[c->nenv++] = copy;
	return 0;
}

/* Docker's --env-file: one entry a line, '#' comments and blank lines
 * skipped, no quoting. */
static int read_env_file(struct nb_run_options *opts, const char *path, struct nb_err *err)
{
	cleanup_fclose FILE *f = fopen(path, "re");
	char line[NB_SPEC_MAX_STRING + 2];
	size_t total = 0;

	if (!f)
		return nb_err_sys(err, "--env-file %s", path);
	for (unsigned no = 1; fgets(line, sizeof(line), f); no++) {
		size_t len = strlen(line);

		total += len;
		if (total > ENV_FILE_MAX)
			return nb_err_set(err, 0, "--env-file %s: larger than %u bytes", path,
					  ENV_FILE_MAX);
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(f))
			return nb_err_set(err, 0, "--env-file %s:%u: line too long", path, no);
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0 || line[strspn(line, " \t")] == '#' ||
		    line[strspn(line, " \t")] == '\0')
			continue;
		if (memchr(line, '\0', len) || add_env(opts, line, "--env-file", err))
			return nb_err_wrap(err, "%s:%u", path, no);
	}
	if (ferror(f))
		return nb_err_sys(err, "--env-file %s", path);
	return 0;
}

/* ---- caps, security-opt, sizes --------------------------------------------------- */

static int parse_caps(const char *opt, const char *arg, uint64_t *mask, struct nb_err *err)
{
	char buf[1024], *save;

	if (strlen(arg) >= sizeof(buf))
		return nb_err_set(err, 0, "%s: list too long", opt);
	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *n = strtok_r(buf, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
		int cap = nb_cap_by_name(n);

		if (cap < 0 || (cap < 64 && (unsigned)cap > NB_SPEC_CAP_LAST))
			return nb_err_set(err, 0, "%s: unknown capability '%.64s'", opt, n);
		*mask |= cap == 64 ? (2ull << NB_SPEC_CAP_LAST) - 1 : 1ull << cap;
	}
	return 0;
}

static int parse_security_opt(struct nb_run_container *c, const char *arg, struct nb_err *err)
{
	if (strncmp(arg, "seccomp=", 8) == 0 || strncmp(arg, "seccomp:", 8) == 0) {
		const char *v = arg + 8;

		if (!*v)
			return nb_err_set(err, 0,
					  "--security-opt seccomp= needs a file or unconfined");
		c->seccomp_unconfined = strcmp(v, "unconfined") == 0;
		c->seccomp_profile = c->seccomp_unconfined ? NULL : v;
		return 0;
	}
	if (strcmp(arg, "no-new-privileges") == 0 || strcmp(arg, "no-new-privileges=true") == 0 ||
	    strcmp(arg, "no-new-privileges:true") == 0)
		return 0; /* always on in nestbox (container/process.c) */
	return nb_err_set(err, 0,
			  "--security-opt '%.64s': supported are seccomp=FILE, "
			  "seccomp=unconfined and no-new-privileges",
			  arg);
}

static int check_abs(const char *opt, const char *arg, struct nb_err *err)
{
	if (arg[0] != '/' || strlen(arg) > NB_SPEC_MAX_PATH)
		return nb_err_set(err, 0, "%s '%.64s': use an absolute path", opt, arg);
	return 0;
}

int nb_container_cli_cpus(const char *arg, unsigned max_vcpus, struct nb_run_options *opts,
			  struct nb_err *err)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (end == arg || *end || errno || !(v >= 0.01) || v > max_vcpus)
		return nb_err_set(err, 0, "invalid --cpus '%s': use a number from 0.01 to %u", arg,
				  max_vcpus);
	opts->cpus = (unsigned)v;
	if (opts->cpus < v)
		opts->cpus++;
	opts->container.cpu_quota_us = (uint32_t)(v * NB_CPU_PERIOD_US + 0.5);
	return 0;
}

/* --userns host|private: "host" shares the guest VM's namespace (the
 * default; the VM is the isolation boundary), the other mode gives the
 * container its own (--network none likewise, vmm/cli/network_opts.c). */
static int parse_ns_mode(const char *opt, const char *arg, const char *own_mode, uint32_t ns,
			 struct nb_run_container *c, struct nb_err *err)
{
	if (strcmp(arg, "host") == 0)
		c->namespaces &= ~ns;
	else if (strcmp(arg, own_mode) == 0)
		c->namespaces |= ns;
	else
		return nb_err_set(err, 0, "%s %s: use host or %s", opt, arg, own_mode);
	return 0;
}

int nb_container_cli_option(int opt, const char *arg, struct nb_run_options *opts,
			    struct nb_err *err)
{
	struct nb_run_container *c = &opts->container;

	switch (opt) {
	case 'e':
		return add_env(opts, arg, "--env", err);
	case NB_OPT_ENV_FILE:
		return read_env_file(opts, arg, err);
	case 'w':
		c->workdir = arg;
		return check_abs("--workdir", arg, err);
	case 'u':
		c->user = arg;
		if (!*arg || strlen(arg) > NB_SPEC_MAX_USER)
			return nb_err_set(err, 0, "--user: use user[:group] (names or ids)");
		return 0;
	case 'h':
		c->hostname = arg;
		return 0;
	case NB_OPT_ENTRYPOINT:
		if (!*arg)
			return nb_err_set(err, 0, "--entrypoint: empty");
		c->entrypoint = arg;
		return 0;
	case NB_OPT_PIDS_LIMIT:
		return nb_parse_u64("--pids-limit", arg, 1, 1u << 22, &c->pids_limit, err);
	case NB_OPT_READ_ONLY:
		c->read_only = true;
		return 0;
	case NB_OPT_DOCKER_INIT:
		c->init = true;
		return 0;
	case NB_OPT_TMPFS:
		if (c->ntmpfs == sizeof(c->tmpfs) / sizeof(c->tmpfs[0]))
			return nb_err_set(err, 0, "--tmpfs: at most %zu", c->ntmpfs);
		c->tmpfs[c->ntmpfs++] = arg; /* Docker's PATH[:OPTIONS], checked now */
		return nb_tmpfs_parse(arg, &(struct nb_tmpfs_mount){ 0 }, err);
	case NB_OPT_CAP_ADD:
		return parse_caps("--cap-add", arg, &c->cap_add, err);
	case NB_OPT_CAP_DROP:
		return parse_caps("--cap-drop", arg, &c->cap_drop, err);
	case NB_OPT_SECURITY_OPT:
		return parse_security_opt(c, arg, err);
	case NB_OPT_USERNS:
		return parse_ns_mode("--userns", arg, "private", NB_NS_USER, c, err);
	default:
		return 1;
	}
}

void nb_container_cli_free(struct nb_run_options *opts)
{
	for (size_t i = 0; i < opts->container.nenv; i++)
		free((void *)opts->container.env[i]);
	free(opts->container.env);
	opts->container.env = NULL;
	opts->container.nenv = 0;
}
