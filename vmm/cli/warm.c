/* Warm start commands (issue 16): `nestbox template create|ls|rm` and
 * `nestbox fn`, over vmm/run/template.h. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/parse.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/cli/cli.h"
#include "vmm/cli/commands.h"
#include "vmm/cli/fn.h"
#include "vmm/cli/print.h"
#include "vmm/run/template.h"

#define MAX_ARGS 512
#define KILL_GRACE_MS 2000 /* past --timeout: the VM's own timer should have fired */

static const char template_usage[] =
	"Usage: nestbox template create NAME IMAGE [--cpus N] [-m SIZE] [--kernel PATH]\n"
	"                                [--guest-init PATH] [--network NAME]\n"
	"       nestbox template ls [--format json] [-q]\n"
	"       nestbox template rm NAME\n"
	"\n"
	"create boots IMAGE's VM until nestbox-init is ready for a workload (kernel up, layers\n"
	"mounted, root assembled), snapshots it and keeps it as NAME under\n"
	"${XDG_CACHE_HOME:-$HOME/.cache}/nestbox/templates. Made again with the same image,\n"
	"kernel, nestbox-init, vCPUs and memory, it is kept; when any of them changes, runs\n"
	"from it are refused until it is made again. Use it with nestbox run --template NAME\n"
	"or nestbox fn --template NAME (whose clones may be confined: --jail, --cgroup).\n"
	"ls prints a table, one JSON object per template (--format json: name, image, digest,\n"
	"cpus, memory in bytes, network or null, created) or the names alone (-q).\n"
	"--network NAME gives the template a NIC; each clone plugs in a tap of its own and\n"
	"joins NAME (or the network it names: --network OTHER, --tap; --network none leaves\n"
	"it unplugged) with its own MAC and address (-p, --ip, --mac-address, --dns too).\n"
	"Every template has a vsock device (a clone's --vsock PATH is its own socket) and four\n"
	"share slots (a clone's -v DIR:PATH[:ro] directories). -t, -i, --vsock and -v are each\n"
	"clone's (run --template NAME -it -v /srv:/srv -- sh), not the template's.\n";

static const char fn_usage[] =
	"Usage: nestbox fn --template NAME [--input FILE] [--timeout SECS] [--max-output BYTES]\n"
	"                  [run options: -e, -w, -u, ...] [--] COMMAND [ARG...]\n"
	"\n"
	"Restore a clone of template NAME, run COMMAND once with FILE as its stdin, and print one\n"
	"JSON object: exit_code, signal, timed_out, oom, duration_ms {start, run}, stdout, stderr\n"
	"(each at most BYTES, default 1 MiB; base64 when not UTF-8, said by *_encoding), and\n"
	"*_truncated. No network unless the template has one (template create --network NAME:\n"
	"the clone joins it, --network none here leaves it out). --timeout kills the VM.\n"
	"Nothing is left behind.\n"
	"--jail DIR --uid U --gid G and --cgroup PARENT confine the clone's VMM as they do\n"
	"nestbox run's (the template itself is made unconfined).\n"
	"Exit status: 0 when COMMAND ran (its status is in the JSON), 125 when nestbox failed.\n";

/* ---- template -------------------------------------------------------------- */

static int template_create(int argc, char **argv)
{
	char *run_argv[MAX_ARGS + 3];
	int n = 0;
	struct nb_run_options opts;
	struct nb_err err = { 0 };
	cleanup_free char *dir = nb_cli_self_dir();
	bool kept = false;

	if (argc < 3 || argc > MAX_ARGS)
		return nb_cli_usage_error("template", "create needs NAME and IMAGE");
	/* `run [OPTIONS] IMAGE`: run's parser and checks; the image's command
	 * is never run (the template waits for each workload's own). */
	run_argv[n++] = (char *)"run";
	for (int i = 3; i < argc; i++)
		run_argv[n++] = argv[i];
	run_argv[n++] = argv[2];
	run_argv[n] = NULL;
	if (nb_cli_parse_run(n, run_argv, dir ? dir : ".", &opts, &err) != 0)
		return nb_cli_error("nestbox template create", &err);
	opts.report = nb_cli_reporter();
	opts.start_mono_ms = nb_cli_start_ms();
	if (nb_template_create(argv[1], &opts, &kept, &err) < 0)
		return nb_cli_error("nestbox template create", &err);
	printf("%s %s\n", argv[1], kept ? "is up to date" : "created");
	return 0;
}

enum ls_format { LS_TABLE, LS_JSON, LS_QUIET };

static void print_template(const struct nb_template *t, void *opaque)
{
	enum ls_format format = *(const enum ls_format *)opaque;
	char when[32] = "-";
	time_t created = (time_t)t->created;
	struct tm tm;

	if (created && gmtime_r(&created, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (format == LS_QUIET) {
		printf("%s\n", t->name);
	} else if (format == LS_JSON) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(t->name));
		json_object_object_add(o, "image", json_object_new_string(t->image));
		json_object_object_add(o, "digest", json_object_new_string(t->digest));
		json_object_object_add(o, "cpus", json_object_new_int((int)t->cpus));
		json_object_object_add(o, "memory", json_object_new_int64((int64_t)t->mem_size));
		json_object_object_add(o, "network",
				       t->network ? json_object_new_string(t->network) : NULL);
		/* what its clones may have: made before these, it has none (stale) */
		json_object_object_add(o, "vsock", json_object_new_boolean(t->vsock));
		json_object_object_add(o, "max_volumes", json_object_new_int((int)t->shares));
		json_object_object_add(o, "created", json_object_new_string(when));
		printf("%s\n",
		       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		printf("%-20s %-40s %4u %6llu  %-12s %s\n", t->name, t->image, t->cpus,
		       (unsigned long long)(t->mem_size >> 20), t->network ? t->network : "-",
		       when);
	}
}

static int template_ls(int argc, char **argv)
{
	enum ls_format format = LS_TABLE;
	struct nb_err err = { 0 };

	for (int i = 1; i < argc; i++) {
		bool json_next = !strcmp(argv[i], "--format") && i + 1 < argc &&
				 !strcmp(argv[i + 1], "json");

		if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			format = LS_QUIET;
		else if (json_next || !strcmp(argv[i], "--format=json"))
			format = LS_JSON;
		else
			return nb_cli_usage_error("template", "ls takes --format json or -q");
		i += json_next;
	}
	if (format == LS_TABLE)
		printf("%-20s %-40s %4s %6s  %-12s %s\n", "NAME", "IMAGE", "CPUS", "MiB", "NETWORK",
		       "CREATED");
	if (nb_template_list(print_template, &format, &err) < 0)
		return nb_cli_error("nestbox template ls", &err);
	return 0;
}

int nb_cmd_template(int argc, char **argv)
{
	struct nb_err err = { 0 };

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(template_usage, stdout);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "create"))
		return template_create(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "ls") || !strcmp(argv[1], "list")))
		return template_ls(argc - 1, argv + 1);
	if (argc == 3 && !strcmp(argv[1], "rm")) {
		if (nb_template_remove(argv[2], &err) < 0)
			return nb_cli_error("nestbox template rm", &err);
		return 0;
	}
	return nb_cli_usage_error("template", "use create, ls or rm");
}

/* ---- fn ---------------------------------------------------------------------- */

struct fn_opts {
	char *argv[MAX_ARGS + 2]; /* run's argv: run.argv points into it */
	uint64_t max_output;
	struct nb_run_options run;
};

/* fn's own options out of argv (up to "--"); the rest goes to run's
 * parser as `run --template NAME ... -- COMMAND`. */
static int parse_fn(int argc, char **argv, struct fn_opts *fo, struct nb_err *err)
{
	char **run_argv = fo->argv;
	cleanup_free char *dir = nb_cli_self_dir();
	const char *input = NULL;
	int n = 0, i = 1, rc;

	fo->max_output = NB_FN_DEFAULT_MAX_OUTPUT;
	if (argc > MAX_ARGS)
		return nb_err_set(err, 0, "fn: too many arguments");
	run_argv[n++] = (char *)"run";
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--input") && i + 1 < argc) {
			input = argv[++i];
		} else if (!strcmp(argv[i], "--max-output") && i + 1 < argc) {
			if (nb_parse_u64("--max-output", argv[++i], 0, NB_FN_MAX_OUTPUT,
					 &fo->max_output, err) < 0)
				return -1;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			return 1;
		} else {
			run_argv[n++] = argv[i];
		}
	}
	for (; i < argc; i++)
		run_argv[n++] = argv[i];
	run_argv[n] = NULL;
	rc = nb_cli_parse_run(n, run_argv, dir ? dir : ".", &fo->run, err);
	if (rc != 0)
		return rc;
	fo->run.warm.input = input;
	if (!fo->run.warm.name)
		return nb_err_set(err, 0,
				  "fn: --template NAME is required (see nestbox fn --help)");
	if (fo->run.argc == 0)
		return nb_err_set(err, 0, "fn: missing COMMAND (see nestbox fn --help)");
	return 0;
}

static int invoke(struct fn_opts *fo, struct nb_err *err)
{
	struct nb_fn_clone c;
	double deadline = fo->run.timeout_sec
				  ? nb_fn_now_ms() + fo->run.timeout_sec * 1e3 + KILL_GRACE_MS
				  : 0;
	bool failed = false;
	int rc = nb_fn_start(&fo->run, fo->max_output, false, nb_cli_start_ms(), &c, err);

	if (rc == 0) {
		struct json_object *o;

		nb_fn_collect(&c, deadline);
		o = nb_fn_result(&c, &failed);
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		fflush(stdout);
		json_object_put(o);
	}
	nb_fn_free(&c);
	return rc < 0 ? -1 : failed ? NB_STATUS_ERROR : 0;
}

int nb_cmd_fn(int argc, char **argv)
{
	struct fn_opts fo = { 0 };
	struct nb_template tmpl = { 0 };
	struct nb_err err = { 0 };
	int rc = parse_fn(argc, argv, &fo, &err);

	if (rc == 1) {
		fputs(fn_usage, stdout);
		return 0;
	}
	if (rc == 0)
		rc = nb_template_open(fo.run.warm.name, &fo.run, &tmpl, &err);
	if (rc == 0) {
		fo.run.report = nb_cli_reporter();
		fo.run.start_mono_ms = nb_cli_start_ms();
		rc = invoke(&fo, &err);
	}
	nb_template_free(&tmpl);
	if (rc < 0)
		return nb_cli_error("nestbox fn", &err);
	return rc;
}
