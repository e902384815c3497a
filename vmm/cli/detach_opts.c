#include "vmm/cli/detach_opts.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/parse.h"
#include "vmm/run/vmdir.h"

#define DEFAULT_LOG_SIZE (10ull << 20)
#define DEFAULT_LOG_FILES 3u
#define MIN_LOG_SIZE (4ull << 10)

static int log_opt(const char *arg, struct nb_run_detach *d, struct nb_err *err)
{
	if (!strncmp(arg, "max-size=", 9)) {
		if (nb_parse_size(arg + 9, &d->log_max_size, err) < 0)
			return nb_err_wrap(err, "--log-opt");
		if (d->log_max_size < MIN_LOG_SIZE)
			return nb_err_set(err, 0, "--log-opt %s: at least 4k", arg);
		return 0;
	}
	if (!strncmp(arg, "max-file=", 9))
		return nb_parse_uint("--log-opt max-file", arg + 9, 1, 100, &d->log_max_files, err);
	return nb_err_set(err, 0, "--log-opt %s: use max-size=SIZE or max-file=N", arg);
}

int nb_detach_cli_option(int opt, const char *arg, struct nb_run_options *opts, struct nb_err *err)
{
	struct nb_run_detach *d = &opts->detach;

	switch (opt) {
	case 'd':
		d->on = true;
		return 0;
	case NB_OPT_NAME:
		if (!nb_vm_name_valid(arg))
			return nb_err_set(err, 0,
					  "--name \"%.128s\": use 2 to %d characters from "
					  "[a-zA-Z0-9_.-], starting with a letter or digit",
					  arg, NB_VM_NAME_MAX);
		d->name = arg;
		return 0;
	case NB_OPT_RM:
		d->auto_remove = true;
		return 0;
	case NB_OPT_LOG_OPT:
		return log_opt(arg, d, err);
	default:
		return 1;
	}
}

int nb_detach_cli_check(struct nb_run_options *opts, struct nb_err *err)
{
	struct nb_run_detach *d = &opts->detach;

	d->notify_fd = d->hold_fd = -1;
	d->dir_fd = -1;
	if (!d->log_max_size)
		d->log_max_size = DEFAULT_LOG_SIZE;
	if (!d->log_max_files)
		d->log_max_files = DEFAULT_LOG_FILES;
	if (d->on && (opts->interactive || opts->tty))
		return nb_err_set(err, 0,
				  "-d cannot go with -i or -t: a detached VM has no terminal "
				  "(its output is in nestbox logs)");
	return 0;
}

static json_object *strings(const char *const *v, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

/* What the VM was started with: inspect's Config and ps's columns. */
static char *config_json(const struct nb_run_options *opts, int argc, char **argv)
{
	json_object *o = json_object_new_object();
	char *text = NULL;

	json_object_object_add(o, "Name",
			       json_object_new_string(opts->detach.name ? opts->detach.name : ""));
	json_object_object_add(o, "Image", json_object_new_string(opts->rootfs));
	json_object_object_add(o, "Cmd", strings(opts->argv, opts->argc));
	json_object_object_add(o, "Args", strings((const char *const *)argv + 1, (size_t)argc - 1));
	json_object_object_add(o, "Memory", json_object_new_int64((int64_t)opts->mem_size));
	json_object_object_add(o, "Cpus", json_object_new_int((int)opts->cpus));
	json_object_object_add(o, "AutoRemove", json_object_new_boolean(opts->detach.auto_remove));
	json_object_object_add(o, "LogMaxSize",
			       json_object_new_int64((int64_t)opts->detach.log_max_size));
	json_object_object_add(o, "LogMaxFiles",
			       json_object_new_int((int)opts->detach.log_max_files));
	json_object_object_add(o, "Created", json_object_new_int64(nb_vm_now_ns()));
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return text;
}

int nb_detach_run(struct nb_run_options *opts, int argc, char **argv, int *status,
		  struct nb_err *err)
{
	char *config = config_json(opts, argc, argv);
	int rc;

	if (!config)
		return nb_err_set(err, 0, "run -d: out of memory");
	rc = nb_vmdir_create(opts->detach.name, config, opts->detach.id, &opts->detach.dir_fd, err);
	free(config);
	if (rc < 0)
		return nb_err_wrap(err, "run");
	rc = nb_run(opts, status, err);
	close(opts->detach.dir_fd);
	if (rc < 0) {
		nb_vmdir_remove(opts->detach.id, &(struct nb_err){ 0 });
		return -1;
	}
	printf("%s\n", opts->detach.id);
	return 0;
}
