/* Warm start commands (issue 16): `nestbox template create|ls|rm` and
 * `nestbox fn`, over vmm/run/template.h. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/parse.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/cli/cli.h"
#include "vmm/cli/commands.h"
#include "vmm/cli/print.h"
#include "vmm/run/template.h"

#define MAX_ARGS 512
#define DEFAULT_MAX_OUTPUT (1u << 20)
#define MAX_OUTPUT (64u << 20)
#define KILL_GRACE_MS 2000 /* past --timeout: the VM's own timer should have fired */
#define CONSOLE_MAX 65536u /* the guest's console kept, to find nestbox-init's verdicts */
/* nestbox-init's line when the container's cgroup saw an OOM kill
 * (container/container.c, nb_container_finish). */
#define OOM_LINE "container killed: out of memory"

static const char template_usage[] =
	"Usage: nestbox template create NAME IMAGE [--cpus N] [-m SIZE] [--kernel PATH] [--init "
	"PATH]\n"
	"       nestbox template ls\n"
	"       nestbox template rm NAME\n"
	"\n"
	"create boots IMAGE's VM until nestbox-init is ready for a workload (kernel up, layers\n"
	"mounted, root assembled), snapshots it and keeps it as NAME under\n"
	"${XDG_CACHE_HOME:-$HOME/.cache}/nestbox/templates. Made again with the same image,\n"
	"kernel, nestbox-init, vCPUs and memory, it is kept; when any of them changes, runs\n"
	"from it are refused until it is made again. Use it with nestbox run --template NAME\n"
	"or nestbox fn --template NAME.\n";

static const char fn_usage[] =
	"Usage: nestbox fn --template NAME [--input FILE] [--timeout SECS] [--max-output BYTES]\n"
	"                  [run options: -e, -w, -u, ...] [--] COMMAND [ARG...]\n"
	"\n"
	"Restore a clone of template NAME, run COMMAND once with FILE as its stdin, and print one\n"
	"JSON object: exit_code, signal, timed_out, oom, duration_ms {start, run}, stdout, stderr\n"
	"(each at most BYTES, default 1 MiB; base64 when not UTF-8, said by *_encoding), and\n"
	"*_truncated. No network. --timeout kills the VM. Nothing is left behind.\n"
	"Exit status: 0 when COMMAND ran (its status is in the JSON), 125 when nestbox failed.\n";

/* ---- template -------------------------------------------------------------- */

static int template_create(int argc, char **argv)
{
	char *run_argv[MAX_ARGS + 4];
	int n = 0;
	struct nb_run_options opts;
	struct nb_err err = { 0 };
	cleanup_free char *dir = nb_cli_self_dir();
	bool kept = false;

	if (argc < 3 || argc > MAX_ARGS)
		return nb_cli_usage_error("template", "create needs NAME and IMAGE");
	/* `run [OPTIONS] IMAGE true`: run's parser and checks; the command is
	 * never run (the template waits for each workload's own). */
	run_argv[n++] = (char *)"run";
	for (int i = 3; i < argc; i++)
		run_argv[n++] = argv[i];
	run_argv[n++] = argv[2];
	run_argv[n++] = (char *)"true";
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

static void print_template(const struct nb_template *t, void *opaque)
{
	char when[32] = "-";
	time_t created = (time_t)t->created;
	struct tm tm;

	(void)opaque;
	if (created && gmtime_r(&created, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-20s %-40s %4u %6llu  %s\n", t->name, t->image, t->cpus,
	       (unsigned long long)(t->mem_size >> 20), when);
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
	if (argc == 2 && !strcmp(argv[1], "ls")) {
		printf("%-20s %-40s %4s %6s  %s\n", "NAME", "IMAGE", "CPUS", "MiB", "CREATED");
		if (nb_template_list(print_template, NULL, &err) < 0)
			return nb_cli_error("nestbox template ls", &err);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "rm")) {
		if (nb_template_remove(argv[2], &err) < 0)
			return nb_cli_error("nestbox template rm", &err);
		return 0;
	}
	return nb_cli_usage_error("template", "use create, ls or rm");
}

/* ---- fn ---------------------------------------------------------------------- */

struct capture {
	int fd;
	char *buf;
	size_t len, max;
	uint64_t total;
};

struct fn_opts {
	char *argv[MAX_ARGS + 2]; /* run's argv: run.argv points into it */
	const char *input;
	uint64_t max_output;
	struct nb_run_options run;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* fn's own options out of argv (up to "--"); the rest goes to run's
 * parser as `run --template NAME ... -- COMMAND`. */
static int parse_fn(int argc, char **argv, struct fn_opts *fo, struct nb_err *err)
{
	char **run_argv = fo->argv;
	cleanup_free char *dir = nb_cli_self_dir();
	int n = 0, i = 1, rc;

	fo->max_output = DEFAULT_MAX_OUTPUT;
	if (argc > MAX_ARGS)
		return nb_err_set(err, 0, "fn: too many arguments");
	run_argv[n++] = (char *)"run";
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--input") && i + 1 < argc) {
			fo->input = argv[++i];
		} else if (!strcmp(argv[i], "--max-output") && i + 1 < argc) {
			if (nb_parse_u64("--max-output", argv[++i], 0, MAX_OUTPUT, &fo->max_output,
					 err) < 0)
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
	if (!fo->run.warm.name)
		return nb_err_set(err, 0,
				  "fn: --template NAME is required (see nestbox fn --help)");
	if (fo->run.argc == 0)
		return nb_err_set(err, 0, "fn: missing COMMAND (see nestbox fn --help)");
	return 0;
}

/* The clone, in a child whose stdout and stderr are the capture pipes:
 * the VMM's own failure goes to msg_fd. Never returns. */
/* The child's descriptors: what it writes, the parent reads. */
enum { OUT, ERR, CONSOLE, READY, MSG, NPIPES };

/* The clone, in a child whose stdout and stderr are the capture pipes and
 * whose guest console goes to its own pipe; the VMM's own failure goes to
 * the MSG pipe, a byte on READY when the clone resumes. Never returns. */
static _Noreturn void run_child(struct fn_opts *fo, int (*p)[2])
{
	struct nb_err err = { 0 };
	int status = NB_STATUS_ERROR;
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(p[OUT][1], STDOUT_FILENO) < 0 ||
	    dup2(p[ERR][1], STDERR_FILENO) < 0)
		_exit(NB_STATUS_ERROR);
	fo->run.warm.input = fo->input;
	fo->run.warm.ready_fd = p[READY][1];
	fo->run.warm.has_ready_fd = true;
	fo->run.warm.console_fd = p[CONSOLE][1];
	fo->run.warm.has_console_fd = true;
	/* The VMM's remarks (a timeout, a host stop) are the JSON's fields,
	 * never the function's stderr. */
	fo->run.report = (struct nb_report){ .fn = NULL };
	if (nb_run(&fo->run, &status, &err) < 0) {
		dprintf(p[MSG][1], "%s", err.msg);
		_exit(nb_err_status(&err));
	}
	_exit(status);
}

/* Read what fd has; at EOF or on an error close it (-1). */
static void capture_read(struct capture *c)
{
	char buf[65536];
	ssize_t n = read(c->fd, buf, sizeof(buf));

	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			close(c->fd);
			c->fd = -1;
		}
		return;
	}
	c->total += (uint64_t)n;
	if (c->len < c->max) {
		size_t take = (size_t)n < c->max - c->len ? (size_t)n : c->max - c->len;

		memcpy(c->buf + c->len, buf, take);
		c->len += take;
	}
}

struct fn_result {
	double t0, t_ready, t_end;
	bool killed;
	int wstatus;
	char msg[NB_ERR_MSG_MAX];
};

/* Collect every pipe until the child is done with them, killing it at the
 * hard deadline; then reap it. cap: OUT, ERR, CONSOLE, READY, MSG. */
static void collect(pid_t pid, struct capture *cap, double deadline, struct fn_result *r)
{
	for (;;) {
		struct pollfd p[NPIPES];
		int open = 0, wait = deadline > 0 ? (int)(deadline - now_ms()) : -1;

		for (int i = 0; i < NPIPES; i++) {
			p[i] = (struct pollfd){ .fd = cap[i].fd, .events = POLLIN };
			open += cap[i].fd >= 0;
		}
		if (!open)
			break;
		if (deadline > 0 && wait <= 0 && !r->killed) {
			kill(pid, SIGKILL); /* the hard timeout: the VM goes with its VMM */
			r->killed = true;
		}
		if (r->killed)
			wait = 1000;
		if (poll(p, NPIPES, wait) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < NPIPES; i++)
			if (p[i].revents)
				capture_read(&cap[i]);
		if (cap[READY].len && !r->t_ready)
			r->t_ready = now_ms();
	}
	waitpid(pid, &r->wstatus, 0);
	r->t_end = now_ms();
	memcpy(r->msg, cap[MSG].buf, cap[MSG].len);
	r->msg[cap[MSG].len] = '\0';
	if (WIFSIGNALED(r->wstatus) && !r->killed && !r->msg[0])
		snprintf(r->msg, sizeof(r->msg), "nestbox's VMM was killed by signal %d",
			 WTERMSIG(r->wstatus));
}

static void add_output(struct json_object *o, const char *name, const struct capture *c)
{
	char key[32];
	bool text = nb_utf8_valid(c->buf, c->len);

	if (text) {
		json_object_object_add(o, name, json_object_new_string_len(c->buf, (int)c->len));
	} else {
		char *b64 = malloc(4 * ((c->len + 2) / 3) + 1);
		if (b64)
			EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)c->buf,
					(int)c->len);
		json_object_object_add(o, name, json_object_new_string(b64 ? b64 : ""));
		free(b64);
	}
	snprintf(key, sizeof(key), "%s_encoding", name);
	json_object_object_add(o, key, json_object_new_string(text ? "utf-8" : "base64"));
	snprintf(key, sizeof(key), "%s_truncated", name);
	json_object_object_add(o, key, json_object_new_boolean(c->total > c->len));
}

static int print_result(const struct fn_opts *fo, const struct capture *cap,
			const struct fn_result *r)
{
	struct json_object *o = json_object_new_object(), *d = json_object_new_object();
	int code = WIFEXITED(r->wstatus) ? WEXITSTATUS(r->wstatus) : -1;
	bool failed = r->msg[0] && !r->killed;
	bool timed_out = r->killed || (fo->run.timeout_sec && code == NB_STATUS_TIMEOUT);
	bool signalled = code > NB_STATUS_SIGNAL_BASE && code <= NB_STATUS_SIGNAL_BASE + 64;
	bool oom = memmem(cap[CONSOLE].buf, cap[CONSOLE].len, OOM_LINE, strlen(OOM_LINE));
	double ready = r->t_ready ? r->t_ready : r->t_end;

	json_object_object_add(o, "exit_code",
			       timed_out || failed || code < 0 ? NULL : json_object_new_int(code));
	json_object_object_add(o, "signal",
			       signalled && !timed_out
				       ? json_object_new_int(code - NB_STATUS_SIGNAL_BASE)
				       : NULL);
	json_object_object_add(o, "timed_out", json_object_new_boolean(timed_out));
	json_object_object_add(o, "oom", json_object_new_boolean(oom));
	json_object_object_add(d, "start", json_object_new_double(ready - r->t0));
	json_object_object_add(d, "run", json_object_new_double(r->t_end - ready));
	json_object_object_add(o, "duration_ms", d);
	add_output(o, "stdout", &cap[OUT]);
	add_output(o, "stderr", &cap[ERR]);
	json_object_object_add(o, "truncated",
			       json_object_new_boolean(cap[OUT].total > cap[OUT].len ||
						       cap[ERR].total > cap[ERR].len));
	if (failed)
		json_object_object_add(o, "error", json_object_new_string(r->msg));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(o);
	return failed ? NB_STATUS_ERROR : 0;
}

static int invoke(struct fn_opts *fo, struct nb_err *err)
{
	const size_t max[NPIPES] = { fo->max_output, fo->max_output, CONSOLE_MAX, 1,
				     NB_ERR_MSG_MAX - 1 };
	int p[NPIPES][2];
	struct capture cap[NPIPES];
	struct fn_result r = { .t0 = nb_cli_start_ms() };
	double deadline = fo->run.timeout_sec ? now_ms() + fo->run.timeout_sec * 1e3 + KILL_GRACE_MS
					      : 0;
	pid_t pid = -1;
	int rc = 0;

	for (int i = 0; i < NPIPES; i++) {
		p[i][0] = p[i][1] = -1;
		cap[i] = (struct capture){ .fd = -1, .max = max[i], .buf = malloc(max[i] + 1) };
		if (!cap[i].buf || pipe2(p[i], O_CLOEXEC) < 0)
			rc = nb_err_sys(err, "fn");
	}
	fflush(stdout);
	if (rc == 0 && (pid = fork()) < 0)
		rc = nb_err_sys(err, "fn: fork");
	if (pid == 0)
		run_child(fo, p);
	for (int i = 0; i < NPIPES; i++) {
		if (p[i][1] >= 0)
			close(p[i][1]);
		cap[i].fd = p[i][0];
	}
	if (rc == 0) {
		collect(pid, cap, deadline, &r);
		rc = print_result(fo, cap, &r);
	}
	for (int i = 0; i < NPIPES; i++) {
		if (cap[i].fd >= 0)
			close(cap[i].fd);
		free(cap[i].buf);
	}
	return rc;
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
