#include "images/runplan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "images/json.h"

struct vec {
	char **v;
	size_t n;
};

static int push(struct vec *v, const char *s, struct nb_err *err)
{
	char **p = realloc(v->v, (v->n + 2) * sizeof(*p));

	if (!p)
		return nb_err_set(err, ENOMEM, "run plan");
	v->v = p;
	if (!(v->v[v->n] = strdup(s)))
		return nb_err_set(err, ENOMEM, "run plan");
	v->v[++v->n] = NULL;
	return 0;
}

static int push_all(struct vec *v, char *const *src, struct nb_err *err)
{
	for (size_t i = 0; src && src[i]; i++)
		if (push(v, src[i], err) < 0)
			return -1;
	return 0;
}

static int build_argv(const struct nb_image_config *cfg, const struct nb_run_overrides *o,
		      struct vec *argv, struct nb_err *err)
{
	if (o->entrypoint) {
		if (*o->entrypoint && push(argv, o->entrypoint, err) < 0)
			return -1;
	} else if (push_all(argv, cfg->entrypoint, err) < 0) {
		return -1;
	}
	if (o->argc) {
		for (size_t i = 0; i < o->argc; i++)
			if (push(argv, o->argv[i], err) < 0)
				return -1;
	} else if (!o->entrypoint && push_all(argv, cfg->cmd, err) < 0) {
		return -1;
	}
	if (argv->n == 0 && o->fallback && push(argv, o->fallback, err) < 0)
		return -1;
	if (argv->n == 0)
		return nb_err_set(err, 0, "the image has no Entrypoint or Cmd: give a COMMAND");
	if (!argv->v[0][0])
		return nb_err_set(err, 0, "the command to run is an empty string");
	return 0;
}

/* Set NAME=value in env, replacing an entry with the same NAME. */
static int set_env(struct vec *env, const char *entry, struct nb_err *err)
{
	const char *eq = strchr(entry, '=');
	size_t name_len = eq ? (size_t)(eq - entry) : 0;

	if (!eq || name_len == 0)
		return nb_err_set(err, 0, "environment entry '%.100s' is not NAME=value", entry);
	for (size_t i = 0; i < env->n; i++)
		if (strncmp(env->v[i], entry, name_len + 1) == 0) {
			char *copy = strdup(entry);
			if (!copy)
				return nb_err_set(err, ENOMEM, "run plan");
			free(env->v[i]);
			env->v[i] = copy;
			return 0;
		}
	return push(env, entry, err);
}

static int build_env(const struct nb_image_config *cfg, const struct nb_run_overrides *o,
		     struct vec *env, struct nb_err *err)
{
	bool has_path = false;

	for (size_t i = 0; cfg->env && cfg->env[i]; i++)
		if (set_env(env, cfg->env[i], err) < 0)
			return nb_err_wrap(err, "image Env");
	for (size_t i = 0; i < o->nenv; i++)
		if (set_env(env, o->env[i], err) < 0)
			return -1;
	for (size_t i = 0; i < env->n; i++)
		has_path |= strncmp(env->v[i], "PATH=", 5) == 0;
	return has_path ? 0 : push(env, NB_DEFAULT_PATH, err);
}

static int pick(const char *cli, const char *image, char **out, struct nb_err *err)
{
	const char *s = cli ? cli : image;

	*out = NULL;
	if (s && *s && !(*out = strdup(s)))
		return nb_err_set(err, ENOMEM, "run plan");
	return 0;
}

int nb_run_plan_build(const struct nb_image_config *cfg, const struct nb_run_overrides *o,
		      struct nb_run_plan *out, struct nb_err *err)
{
	struct vec argv = { 0 }, env = { 0 };

	*out = (struct nb_run_plan){ 0 };
	if (build_argv(cfg, o, &argv, err) < 0 || build_env(cfg, o, &env, err) < 0 ||
	    pick(o->workdir, cfg->workdir, &out->workdir, err) < 0 ||
	    pick(o->user, cfg->user, &out->user, err) < 0) {
		nb_strv_free(argv.v);
		nb_strv_free(env.v);
		nb_run_plan_free(out);
		return -1;
	}
	if (out->workdir && out->workdir[0] != '/') {
		nb_strv_free(argv.v);
		nb_strv_free(env.v);
		nb_err_set(err, 0, "working directory '%.200s' is not absolute", out->workdir);
		nb_run_plan_free(out);
		return -1;
	}
	out->argv = argv.v;
	out->env = env.v;
	return 0;
}

void nb_run_plan_free(struct nb_run_plan *p)
{
	nb_strv_free(p->argv);
	nb_strv_free(p->env);
	free(p->workdir);
	free(p->user);
	*p = (struct nb_run_plan){ 0 };
}
