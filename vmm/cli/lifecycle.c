#include "vmm/cli/lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "common/parse.h"
#include "images/json.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/cli/print.h"
#include "vmm/run/ctl_client.h"
#include "vmm/run/ctl_proto.h"
#include "vmm/run/records.h"
#include "vmm/run/vmdir.h"
#include "vmm/run/vmevents.h"

#define FAILED 1 /* these commands' failure status, as Docker's */
#define JSON_PLAIN (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static int fail(const char *cmd, struct nb_err *err)
{
	char who[32];

	snprintf(who, sizeof(who), "nestbox %s", cmd);
	err->status = FAILED;
	return nb_cli_error(who, err);
}

/* Each command's options: getopt_long with "+" and --help. Returns the
 * option, -1 at the end, -2 for --help (usage printed), -3 bad option. */
struct cmd {
	const char *name, *usage, *shorts;
	const struct option *longs;
};

static int next_opt(const struct cmd *c, int argc, char **argv)
{
	int opt = getopt_long(argc, argv, c->shorts, c->longs, NULL);

	if (opt == 'H') {
		fputs(c->usage, stdout);
		return -2;
	}
	if (opt == '?' || opt == ':') {
		char msg[128];

		snprintf(msg, sizeof(msg), "%s: bad or incomplete option '%s'", c->name,
			 argv[optind - 1]);
		nb_cli_usage_error(c->name, msg);
		return -3;
	}
	return opt;
}

static void start_opts(void)
{
	optind = 1;
	opterr = 0;
}

static int need_refs(const struct cmd *c, int argc)
{
	char msg[96];

	if (optind < argc)
		return 0;
	snprintf(msg, sizeof(msg), "%s: name at least one VM", c->name);
	nb_cli_usage_error(c->name, msg);
	return -1;
}

/* ---- reading a VM --------------------------------------------------------------- */

struct vm {
	char id[NB_VM_ID_LEN + 1];
	char name[NB_VM_NAME_MAX + 1];
	struct nb_vm_state state;
	json_object *config; /* NULL if unreadable */
};

static void vm_free(struct vm *v)
{
	json_object_put(v->config);
	v->config = NULL;
}

static int vm_load(const char *id, struct vm *v, struct nb_err *err)
{
	cleanup_close int dir = nb_vmdir_open(id, err);
	cleanup_free char *text = NULL;
	size_t len;
	struct nb_err e2;

	*v = (struct vm){ 0 };
	memcpy(v->id, id, sizeof(v->id));
	if (dir < 0 || nb_vm_state_read(dir, &v->state, err) < 0)
		return nb_err_wrap(err, "VM %.12s", id);
	nb_vm_name_of(dir, v->name);
	if (nb_file_read_nofollow(dir, NB_VM_CONFIG, 1u << 20, &text, &len, &e2) == 0)
		v->config = nb_json_parse(text, len, "config.json", &e2);
	if (v->config && !json_object_is_type(v->config, json_type_object))
		vm_free(v);
	return 0;
}

static int vm_find(const char *ref, struct vm *v, struct nb_err *err)
{
	char id[NB_VM_ID_LEN + 1];

	if (nb_vmdir_resolve(ref, id, err) < 0)
		return -1;
	return vm_load(id, v, err);
}

static const char *config_str(const struct vm *v, const char *key)
{
	json_object *s;

	if (v->config && json_object_object_get_ex(v->config, key, &s) &&
	    json_object_is_type(s, json_type_string))
		return json_object_get_string(s);
	return "";
}

static void command_line(const struct vm *v, char *buf, size_t size)
{
	json_object *cmd;
	size_t used = 0;

	buf[0] = '\0';
	if (!v->config || !json_object_object_get_ex(v->config, "Cmd", &cmd) ||
	    !json_object_is_type(cmd, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(cmd) && used < size; i++) {
		json_object *a = json_object_array_get_idx(cmd, i);
		int n = snprintf(buf + used, size - used, "%s%s", i ? " " : "",
				 json_object_is_type(a, json_type_string)
					 ? json_object_get_string(a)
					 : "");
		used += n > 0 ? (size_t)n : 0;
	}
}

/* ---- ps ------------------------------------------------------------------------- */

static void ago(int64_t ns, char *buf, size_t size)
{
	int64_t s = (nb_vm_now_ns() - ns) / 1000000000;

	if (s < 1)
		snprintf(buf, size, "Less than a second");
	else if (s < 60)
		snprintf(buf, size, "%" PRId64 " second%s", s, s == 1 ? "" : "s");
	else if (s < 3600)
		snprintf(buf, size, "%" PRId64 " minute%s", s / 60, s / 60 == 1 ? "" : "s");
	else if (s < 86400)
		snprintf(buf, size, "%" PRId64 " hour%s", s / 3600, s / 3600 == 1 ? "" : "s");
	else
		snprintf(buf, size, "%" PRId64 " days", s / 86400);
}

static void status_text(const struct nb_vm_state *s, char *buf, size_t size)
{
	char t[48];

	switch (s->status) {
	case NB_VM_CREATED:
		snprintf(buf, size, "Created");
		return;
	case NB_VM_RUNNING:
	case NB_VM_PAUSED:
		ago(s->started_ns, t, sizeof(t));
		snprintf(buf, size, "Up %s%s", t, s->status == NB_VM_PAUSED ? " (Paused)" : "");
		return;
	case NB_VM_EXITED:
		ago(s->finished_ns ? s->finished_ns : s->created_ns, t, sizeof(t));
		snprintf(buf, size, "Exited (%d) %s ago", s->exit_code, t);
		return;
	}
}

static int by_created(const void *a, const void *b)
{
	const struct vm *x = a, *y = b;

	return x->state.created_ns < y->state.created_ns   ? 1
	       : x->state.created_ns > y->state.created_ns ? -1
							   : 0;
}

/* Every VM (loaded), newest first. */
static int load_all(struct vm **vms, size_t *n, struct nb_err *err)
{
	char(*ids)[NB_VM_ID_LEN + 1] = NULL;
	size_t nids = 0;

	*n = 0;
	if (nb_vmdir_list(&ids, &nids, err) < 0)
		return -1;
	*vms = calloc(nids ? nids : 1, sizeof(**vms));
	if (!*vms) {
		free(ids);
		return nb_err_set(err, ENOMEM, "ps");
	}
	for (size_t i = 0; i < nids; i++) {
		struct nb_err e2;

		if (vm_load(ids[i], &(*vms)[*n], &e2) == 0)
			(*n)++; /* one being created or removed right now */
	}
	free(ids);
	qsort(*vms, *n, sizeof(**vms), by_created);
	return 0;
}

static void ps_json(const struct vm *v)
{
	json_object *o = json_object_new_object();
	char cmd[1024], created[48], status[96];

	command_line(v, cmd, sizeof(cmd));
	nb_vm_time_format(v->state.created_ns, created, sizeof(created));
	status_text(&v->state, status, sizeof(status));
	json_object_object_add(o, "ID", json_object_new_string(v->id));
	json_object_object_add(o, "Names", json_object_new_string(v->name));
	json_object_object_add(o, "Image", json_object_new_string(config_str(v, "Image")));
	json_object_object_add(o, "Command", json_object_new_string(cmd));
	json_object_object_add(o, "CreatedAt", json_object_new_string(created));
	json_object_object_add(o, "State",
			       json_object_new_string(nb_vm_status_name(v->state.status)));
	json_object_object_add(o, "Status", json_object_new_string(status));
	json_object_object_add(o, "Pid",
			       json_object_new_int(v->state.status == NB_VM_EXITED ? 0
										   : v->state.pid));
	json_object_object_add(o, "ExitCode", json_object_new_int(v->state.exit_code));
	json_object_object_add(o, "OOMKilled", json_object_new_boolean(v->state.oom_killed));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_PLAIN));
	json_object_put(o);
}

static const char ps_usage[] =
	"Usage: nestbox ps [-a] [-q] [--no-trunc] [--format json]\n\n"
	"List detached VMs: running ones, -a all (exited too). -q: ids only.\n"
	"--format json: one JSON object per line (ID Names Image Command CreatedAt\n"
	"State Status Pid ExitCode OOMKilled).\n";

int nb_cmd_ps(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "all", no_argument, NULL, 'a' },      { "quiet", no_argument, NULL, 'q' },
		{ "no-trunc", no_argument, NULL, 'T' }, { "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'H' },     { NULL, 0, NULL, 0 }
	};
	const struct cmd c = { "ps", ps_usage, "+aq", longs };
	bool all = false, quiet = false, json = false, full = false;
	struct vm *vms = NULL;
	struct nb_err err;
	size_t n = 0;
	int opt;

	start_opts();
	while ((opt = next_opt(&c, argc, argv)) >= 0) {
		all |= opt == 'a';
		quiet |= opt == 'q';
		full |= opt == 'T';
		if (opt == 'f' && strcmp(optarg, "json") && strcmp(optarg, "table"))
			return nb_cli_usage_error("ps", "ps: --format json or table");
		json |= opt == 'f' && !strcmp(optarg, "json");
	}
	if (opt != -1)
		return opt == -2 ? 0 : NB_STATUS_ERROR;
	if (load_all(&vms, &n, &err) < 0)
		return fail("ps", &err);
	if (!quiet && !json)
		printf("%-14s %-22s %-24s %-20s %-28s %s\n", "VM ID", "IMAGE", "COMMAND", "CREATED",
		       "STATUS", "NAMES");
	for (size_t i = 0; i < n; i++) {
		const struct vm *v = &vms[i];
		char cmd[1024], created[48], status[96];

		if (!all && v->state.status == NB_VM_EXITED)
			continue;
		if (quiet) {
			printf("%.*s\n", full ? NB_VM_ID_LEN : 12, v->id);
			continue;
		}
		if (json) {
			ps_json(v);
			continue;
		}
		command_line(v, cmd, sizeof(cmd));
		ago(v->state.created_ns, created, sizeof(created));
		status_text(&v->state, status, sizeof(status));
		printf("%-14.*s %-22.22s \"%-.20s\"%*s %-20s %-28s %s\n", full ? NB_VM_ID_LEN : 12,
		       v->id, config_str(v, "Image"), cmd,
		       (int)(22 - (strlen(cmd) < 20 ? strlen(cmd) : 20)), "",
		       strcat(created, " ago"), status, v->name);
	}
	for (size_t i = 0; i < n; i++)
		vm_free(&vms[i]);
	free(vms);
	return 0;
}

/* ---- inspect -------------------------------------------------------------------- */

static json_object *inspect_one(const struct vm *v)
{
	json_object *o = json_object_new_object(), *cmd = NULL, *hc;
	char created[48], path[PATH_MAX];

	nb_vm_time_format(v->state.created_ns, created, sizeof(created));
	json_object_object_add(o, "Id", json_object_new_string(v->id));
	json_object_object_add(o, "Name", json_object_new_string(v->name));
	json_object_object_add(o, "Created", json_object_new_string(created));
	json_object_object_add(o, "Image", json_object_new_string(config_str(v, "Image")));
	if (v->config && json_object_object_get_ex(v->config, "Cmd", &cmd))
		json_object_object_add(o, "Args", json_object_get(cmd));
	json_object_object_add(o, "State", nb_vm_state_docker(&v->state));
	json_object_object_add(o, "MonitorPid", json_object_new_int(v->state.monitor_pid));
	snprintf(path, sizeof(path), "%s/vm/%s", nb_run_dir(), v->id);
	json_object_object_add(o, "StateDir", json_object_new_string(path));
	snprintf(path, sizeof(path), "%s/vm/%s/" NB_VM_SOCKET, nb_run_dir(), v->id);
	json_object_object_add(o, "ControlSocket", json_object_new_string(path));
	snprintf(path, sizeof(path), "%s/vm/%s/stdout.log", nb_run_dir(), v->id);
	json_object_object_add(o, "LogPath", json_object_new_string(path));
	json_object_object_add(o, "Config", v->config ? json_object_get(v->config) : NULL);
	hc = json_object_new_object();
	json_object_object_add(hc, "Memory", json_object_new_int64((int64_t)v->state.memory_limit));
	json_object_object_add(o, "HostConfig", hc);
	return o;
}

static const char inspect_usage[] =
	"Usage: nestbox inspect VM...\n\n"
	"Print a JSON array, one object per VM (a name or an id prefix): Id, Name, Created,\n"
	"Image, Args, State {Status Running Paused OOMKilled Dead Pid ExitCode Error\n"
	"StartedAt FinishedAt}, MonitorPid, StateDir, ControlSocket, LogPath, Config,\n"
	"HostConfig {Memory: the container's memory limit now, bytes; 0 none}.\n";

int nb_cmd_inspect(int argc, char **argv)
{
	static const struct option longs[] = { { "help", no_argument, NULL, 'H' },
					       { NULL, 0, NULL, 0 } };
	const struct cmd c = { "inspect", inspect_usage, "+", longs };
	json_object *all = json_object_new_array();
	int opt, rc = 0;

	start_opts();
	while ((opt = next_opt(&c, argc, argv)) >= 0)
		;
	if (opt != -1 || need_refs(&c, argc) < 0) {
		json_object_put(all);
		return opt == -2 ? 0 : NB_STATUS_ERROR;
	}
	for (int i = optind; i < argc; i++) {
		struct nb_err err;
		struct vm v;

		if (vm_find(argv[i], &v, &err) < 0) {
			rc = fail("inspect", &err);
			continue;
		}
		json_object_array_add(all, inspect_one(&v));
		vm_free(&v);
	}
	printf("%s\n", json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(all);
	return rc;
}

/* ---- the control operations ----------------------------------------------------- */

/* One request to ref's monitor; reply in *reply (NULL: not wanted). */
static int control(const char *ref, const char *request, json_object **reply, struct nb_err *err)
{
	char id[NB_VM_ID_LEN + 1];
	json_object *r = NULL;
	int fd, rc;

	if (nb_vmdir_resolve(ref, id, err) < 0)
		return -1;
	if ((fd = nb_ctl_connect(id, err)) < 0)
		return fd;
	rc = nb_ctl_call(fd, request, &r, err);
	close(fd);
	if (reply)
		*reply = r;
	else
		json_object_put(r);
	return rc;
}

/* Apply request to every VM named; print each name as Docker does. */
static int each(const char *cmd, int argc, char **argv, const char *request)
{
	int rc = 0;

	for (int i = optind; i < argc; i++) {
		struct nb_err err;

		if (control(argv[i], request, NULL, &err) < 0)
			rc = fail(cmd, &err);
		else
			printf("%s\n", argv[i]);
	}
	return rc;
}

static int simple(const char *name, const char *usage, const char *request, int argc, char **argv)
{
	static const struct option longs[] = { { "help", no_argument, NULL, 'H' },
					       { NULL, 0, NULL, 0 } };
	const struct cmd c = { name, usage, "+", longs };
	int opt;

	start_opts();
	while ((opt = next_opt(&c, argc, argv)) >= 0)
		;
	if (opt != -1 || need_refs(&c, argc) < 0)
		return opt == -2 ? 0 : NB_STATUS_ERROR;
	return each(name, argc, argv, request);
}

int nb_cmd_pause(int argc, char **argv)
{
	return simple(
		"pause",
		"Usage: nestbox pause VM...\n\nStop every thread of the VMs' VMMs (SIGSTOP): no "
		"guest instruction runs\nuntil nestbox unpause.\n",
		"{\"op\":\"pause\"}", argc, argv);
}

int nb_cmd_unpause(int argc, char **argv)
{
	return simple("unpause", "Usage: nestbox unpause VM...\n\nResume paused VMs.\n",
		      "{\"op\":\"resume\"}", argc, argv);
}

static const char stop_usage[] =
	"Usage: nestbox stop [-t SECONDS] VM...\n\n"
	"Send SIGTERM to each VM's workload, SIGKILL after SECONDS (default 10), and\n"
	"wait until it exited (then 143 or its own status, or 137).\n";

int nb_cmd_stop(int argc, char **argv)
{
	static const struct option longs[] = { { "time", required_argument, NULL, 't' },
					       { "timeout", required_argument, NULL, 't' },
					       { "help", no_argument, NULL, 'H' },
					       { NULL, 0, NULL, 0 } };
	const struct cmd c = { "stop", stop_usage, "+t:", longs };
	unsigned timeout = 10;
	struct nb_err err;
	char request[64];
	int opt, rc = 0;

	start_opts();
	while ((opt = next_opt(&c, argc, argv)) >= 0)
		if (opt == 't' &&
		    nb_parse_uint("-t", optarg, 0, NB_CTL_MAX_TIMEOUT, &timeout, &err) < 0)
			return nb_cli_error("nestbox stop", &err);
	if (opt != -1 || need_refs(&c, argc) < 0)
		return opt == -2 ? 0 : NB_STATUS_ERROR;
	snprintf(request, sizeof(request), "{\"op\":\"stop\",\"timeout\":%u}", timeout);
	for (int i = optind; i < argc; i++) {
		int r = control(argv[i], request, NULL, &err);

		if (r == -1)
			rc = fail("stop", &err);
		else
			printf("%s\n", argv[i]); /* -2: not running, stopped already */
	}
	return rc;
}

static const char kill_usage[] =
	"Usage: nestbox kill [-s SIGNAL] VM...\n\n"
	"Send SIGNAL (default KILL) to each VM's workload: HUP INT QUIT TERM USR1 USR2\n"
	"WINCH go to the workload; KILL ends the VM (exit code 137).\n";

int nb_cmd_kill(int argc, char **argv)
{
	static const struct option longs[] = { { "signal", required_argument, NULL, 's' },
					       { "help", no_argument, NULL, 'H' },
					       { NULL, 0, NULL, 0 } };
	const struct cmd c = { "kill", kill_usage, "+s:", longs };
	int opt, sig = SIGKILL;
	char request[64];

	start_opts();
	while ((opt = next_opt(&c, argc, argv)) >= 0)
		if (opt == 's' && !(sig = nb_ctl_signal(optarg)))
			return nb_cli_usage_error("kill", "kill: -s: unknown signal");
	if (opt != -1 || need_refs(&c, argc) < 0)
		return opt == -2 ? 0 : NB_STATUS_ERROR;
	snprintf(request, sizeof(request), "{\"op\":\"kill\",\"signal\":%d}", sig);
	return each("kill", argc, argv, request);
}

/* Wait for id's exit: the monitor answers when it comes; a VM that is
 * not running has its code in its state. */
static int wait_exit(const char *ref, int *code, struct nb_err *err)
{
	json_object *reply = NULL, *ec;
	struct vm v;
	int rc = control(ref, "{\"op\":\"wait\"}", &reply, err);

	if (rc == 0 && json_object_object_get_ex(reply, "exitCode", &ec)) {
		*code = json_object_get_int(ec);
		json_object_put(reply);
		return 0;
	}
	json_object_put(reply);
	if (vm_find(ref, &v, err) < 0)
		return -1;
	/* The monitor closed without answering: it is ending; its state is
	 * final once written. */
	for (int i = 0; i < 100 && v.state.status != NB_VM_EXITED; i++) {
		vm_free(&v);
		usleep(20000);
		if (vm_find(ref, &v, err) < 0)
			return -1;
	}
	*code = v.state.exit_code;
	vm_free(&v);
	if (v.state.status != NB_VM_EXITED)
		return nb_err_set(err, 0, "VM %s: no exit code", ref);
	return 0;
}

int nb_cmd_wait(int argc, char **argv)
{
	static const struct option longs[] = { { "help", no_argument, NULL, 'H' },
					       { NULL, 0, NULL, 0 } };
	const struct cmd c = { "wait",
			       "Usage: nestbox wait VM...\n\nWait until each VM exited; "
			       "print its exit code.\n",
			       "+", longs };
	int opt, rc = 0;

	start_opts();
	while ((opt = next_opt(&c, argc, argv)) >= 0)
		;
	if (opt != -1 || need_refs(&c, argc) < 0)
		return opt == -2 ? 0 : NB_STATUS_ERROR;
	for (int i = optind; i < argc; i++) {
		struct nb_err err;
		int code;

		if (wait_exit(argv[i], &code, &err) < 0)
			rc = fail("wait", &err);
		else
			printf("%d\n", code);
		fflush(stdout);
	}
	return rc;
}

static const char rm_usage[] =
	"Usage: nestbox rm [-f] VM...\n\n"
	"Remove VMs that exited: their directory, logs and name. -f: kill running\n"
	"ones first.\n";

static int rm_one(const char *ref, bool force, struct nb_err *err)
{
	struct vm v;
	int code;

	if (vm_find(ref, &v, err) < 0)
		return -1;
	vm_free(&v);
	if (v.state.status != NB_VM_EXITED) {
		if (!force)
			return nb_err_set(err, 0,
					  "VM %s is %s: stop it first, or use nestbox rm -f", ref,
					  nb_vm_status_name(v.state.status));
		if (control(ref, "{\"op\":\"kill\",\"signal\":9}", NULL, err) == -1 ||
		    wait_exit(ref, &code, err) < 0)
			return -1;
	}
	if (nb_vmdir_remove(v.id, err) < 0)
		return -1;
	nb_vm_event_emit("destroy", v.id, v.name, -1, -1);
	return 0;
}

int nb_cmd_rm(int argc, char **argv)
{
	static const struct option longs[] = { { "force", no_argument, NULL, 'f' },
					       { "help", no_argument, NULL, 'H' },
					       { NULL, 0, NULL, 0 } };
	const struct cmd c = { "rm", rm_usage, "+f", longs };
	bool force = false;
	int opt, rc = 0;

	start_opts();
	while ((opt = next_opt(&c, argc, argv)) >= 0)
		force |= opt == 'f';
	if (opt != -1 || need_refs(&c, argc) < 0)
		return opt == -2 ? 0 : NB_STATUS_ERROR;
	for (int i = optind; i < argc; i++) {
		struct nb_err err;

		if (rm_one(argv[i], force, &err) < 0)
			rc = fail("rm", &err);
		else
			printf("%s\n", argv[i]);
	}
	return rc;
}

/* ---- logs ----------------------------------------------------------------------- */

/* One stream's files, oldest first, concatenated (bounded by the rotation
 * limits the VM was started with). */
static int read_stream(int dir, const char *base, unsigned files, char **out, size_t *len)
{
	char *all = NULL;
	size_t total = 0;

	for (unsigned k = files; k-- > 0;) {
		char name[64];
		cleanup_free char *part = NULL;
		size_t n = 0;
		struct nb_err err;

		if (k)
			snprintf(name, sizeof(name), "%s.%u", base, k);
		else
			snprintf(name, sizeof(name), "%s", base);
		if (nb_file_read_nofollow(dir, name, 1u << 30, &part, &n, &err) < 0)
			continue;
		char *grown = realloc(all, total + n + 1);
		if (!grown) {
			free(all);
			return -1;
		}
		all = grown;
		memcpy(all + total, part, n);
		total += n;
	}
	*out = all;
	*len = all ? total : 0;
	return 0;
}

static void write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

/* Print the last tail lines (all when tail < 0). */
static void print_tail(int fd, const char *data, size_t len, long tail)
{
	size_t from = len;

	if (tail < 0) {
		write_all(fd, data, len);
		return;
	}
	if (from > 0 && data[from - 1] == '\n')
		from--;
	for (long lines = 0; from > 0; from--)
		if (data[from - 1] == '\n' && ++lines == tail)
			break;
	if (tail == 0)
		from = len;
	write_all(fd, data + from, len - from);
}

/* -f: what the current files get; a rotation is seen as a new inode. */
struct follow {
	const char *base;
	int fd, out;
	ino_t ino;
};

static void follow_open(int dir, struct follow *f, bool at_end)
{
	struct stat st;

	f->fd = openat(dir, f->base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (f->fd >= 0 && fstat(f->fd, &st) == 0) {
		f->ino = st.st_ino;
		if (at_end)
			lseek(f->fd, 0, SEEK_END);
	}
}

static bool follow_step(int dir, struct follow *f)
{
	char buf[65536];
	ssize_t n;
	bool got = false;
	struct stat st;

	if (f->fd < 0)
		follow_open(dir, f, false);
	while (f->fd >= 0 && (n = read(f->fd, buf, sizeof(buf))) > 0) {
		write_all(f->out, buf, (size_t)n);
		got = true;
	}
	if (!got && f->fd >= 0 && fstatat(dir, f->base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_ino != f->ino) {
		close(f->fd);
		follow_open(dir, f, false);
		return true;
	}
	return got;
}

static int follow(int dir, const char *ref)
{
	struct follow f[2] = { { "stdout.log", -1, STDOUT_FILENO, 0 },
			       { "stderr.log", -1, STDERR_FILENO, 0 } };
	struct nb_vm_state s;
	struct nb_err err;

	for (int i = 0; i < 2; i++)
		follow_open(dir, &f[i], true);
	for (;;) {
		bool got = follow_step(dir, &f[0]) | follow_step(dir, &f[1]);

		if (got)
			continue;
		if (nb_vm_state_read(dir, &s, &err) < 0 || s.status == NB_VM_EXITED) {
			follow_step(dir, &f[0]);
			follow_step(dir, &f[1]);
			break;
		}
		poll(NULL, 0, 100);
	}
	(void)ref;
	for (int i = 0; i < 2; i++)
		if (f[i].fd >= 0)
			close(f[i].fd);
	return 0;
}

static const char logs_usage[] =
	"Usage: nestbox logs [-f] [--tail N] VM\n\n"
	"Print a detached VM's output: its stdout to stdout, its stderr to stderr.\n"
	"-f: go on printing what comes until the VM exits. --tail N: only the last N\n"
	"lines of each stream (all: every line).\n";

int nb_cmd_logs(int argc, char **argv)
{
	static const struct option longs[] = { { "follow", no_argument, NULL, 'f' },
					       { "tail", required_argument, NULL, 'n' },
					       { "help", no_argument, NULL, 'H' },
					       { NULL, 0, NULL, 0 } };
	const struct cmd c = { "logs", logs_usage, "+fn:", longs };
	bool fol = false;
	long tail = -1;
	struct nb_err err;
	struct vm v;
	int opt;

	start_opts();
	while ((opt = next_opt(&c, argc, argv)) >= 0) {
		uint64_t n;

		fol |= opt == 'f';
		if (opt == 'n' && strcmp(optarg, "all") != 0) {
			if (nb_parse_u64("--tail", optarg, 0, 1u << 30, &n, &err) < 0)
				return nb_cli_error("nestbox logs", &err);
			tail = (long)n;
		}
	}
	if (opt != -1 || need_refs(&c, argc) < 0)
		return opt == -2 ? 0 : NB_STATUS_ERROR;
	if (optind + 1 != argc)
		return nb_cli_usage_error("logs", "logs: name one VM");
	if (vm_find(argv[optind], &v, &err) < 0)
		return fail("logs", &err);
	json_object *files = NULL;
	unsigned nfiles = 3;
	if (v.config && json_object_object_get_ex(v.config, "LogMaxFiles", &files) &&
	    json_object_is_type(files, json_type_int) && json_object_get_int(files) >= 1 &&
	    json_object_get_int(files) <= 100)
		nfiles = (unsigned)json_object_get_int(files);
	vm_free(&v);
	cleanup_close int dir = nb_vmdir_open(v.id, &err);
	if (dir < 0)
		return fail("logs", &err);
	for (int i = 0; i < 2; i++) {
		cleanup_free char *data = NULL;
		size_t len = 0;

		if (read_stream(dir, i ? "stderr.log" : "stdout.log", nfiles, &data, &len) == 0 &&
		    data)
			print_tail(i ? STDERR_FILENO : STDOUT_FILENO, data, len, tail);
	}
	return fol ? follow(dir, argv[optind]) : 0;
}

/* ---- events --------------------------------------------------------------------- */

static void print_event(const char *line, bool json)
{
	struct nb_err err;
	json_object *o, *f;
	char when[48];

	if (json) {
		fputs(line, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		return;
	}
	o = nb_json_parse(line, strlen(line), "event", &err);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return;
	}
	int64_t ns = json_object_object_get_ex(o, "timeNano", &f) ? json_object_get_int64(f) : 0;
	nb_vm_time_format(ns, when, sizeof(when));
	printf("%s vm %s %s (name=%s", when,
	       json_object_object_get_ex(o, "Action", &f) ? json_object_get_string(f) : "?",
	       json_object_object_get_ex(o, "id", &f) ? json_object_get_string(f) : "?",
	       json_object_object_get_ex(o, "name", &f) ? json_object_get_string(f) : "");
	if (json_object_object_get_ex(o, "exitCode", &f))
		printf(", exitCode=%d", json_object_get_int(f));
	if (json_object_object_get_ex(o, "signal", &f))
		printf(", signal=%d", json_object_get_int(f));
	printf(")\n");
	fflush(stdout);
	json_object_put(o);
}

static const char events_usage[] =
	"Usage: nestbox events [--format json]\n\n"
	"Print VM lifecycle events as they happen (create start die oom stop kill pause\n"
	"unpause destroy), until interrupted. --format json: one JSON object per line\n"
	"{Type Action id name time timeNano [exitCode] [signal]}.\n";

int nb_cmd_events(int argc, char **argv)
{
	static const struct option longs[] = { { "format", required_argument, NULL, 'f' },
					       { "help", no_argument, NULL, 'H' },
					       { NULL, 0, NULL, 0 } };
	const struct cmd c = { "events", events_usage, "+", longs };
	bool json = false;
	struct nb_err err;
	char buf[8192];
	size_t len = 0;
	int opt, fd;

	start_opts();
	while ((opt = next_opt(&c, argc, argv)) >= 0) {
		if (opt == 'f' && strcmp(optarg, "json") && strcmp(optarg, "table"))
			return nb_cli_usage_error("events", "events: --format json or table");
		json |= opt == 'f' && !strcmp(optarg, "json");
	}
	if (opt != -1)
		return opt == -2 ? 0 : NB_STATUS_ERROR;
	if ((fd = nb_vm_events_open(true, &err)) < 0)
		return fail("events", &err);
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		char *nl;

		if (n > 0) {
			len += (size_t)n;
			buf[len] = '\0';
			while ((nl = memchr(buf, '\n', len))) {
				*nl = '\0';
				print_event(buf, json);
				len -= (size_t)(nl + 1 - buf);
				memmove(buf, nl + 1, len);
			}
			if (len == sizeof(buf) - 1)
				len = 0; /* no line is that long: drop it */
			continue;
		}
		if (nb_vm_events_rotated(fd)) {
			close(fd);
			if ((fd = nb_vm_events_open(false, &err)) < 0)
				return fail("events", &err);
			continue;
		}
		poll(NULL, 0, 100);
	}
}

/* ---- stats ---------------------------------------------------------------------- */

static int64_t field(json_object *o, const char *key)
{
	json_object *f;

	return json_object_object_get_ex(o, key, &f) ? json_object_get_int64(f) : -1;
}

static void stats_row(const struct vm *v, bool json)
{
	json_object *reply = NULL, *st = NULL;
	struct nb_err err;

	if (control(v->id, "{\"op\":\"stats\"}", &reply, &err) < 0 ||
	    !json_object_object_get_ex(reply, "stats", &st)) {
		json_object_put(reply);
		return;
	}
	if (json) {
		json_object_object_add(st, "ID", json_object_new_string(v->id));
		json_object_object_add(st, "Name", json_object_new_string(v->name));
		printf("%s\n", json_object_to_json_string_ext(st, JSON_PLAIN));
	} else {
		printf("%-14.12s %-20.20s %10.1f MiB %10.1f MiB %10.1f MiB %12.2f s %12" PRId64
		       " %12" PRId64 "\n",
		       v->id, v->name, field(st, "vmm_rss_kib") / 1024.0,
		       field(st, "vmm_pss_kib") / 1024.0,
		       field(st, "memory_limit_bytes") / 1048576.0, field(st, "cpu_usec") / 1e6,
		       field(st, "stdout_bytes"), field(st, "stderr_bytes"));
	}
	json_object_put(reply);
}

static const char stats_usage[] =
	"Usage: nestbox stats [--no-stream] [--format json] [VM...]\n\n"
	"Resource use of running VMs (all, or those named): the VMM's RSS and PSS, the\n"
	"container's memory limit (0: none; see nestbox update), the VMM's CPU time (all\n"
	"threads, vCPUs included), bytes of output. Every second until interrupted;\n"
	"--no-stream: once. --format json: one object per VM and line.\n";

int nb_cmd_stats(int argc, char **argv)
{
	static const struct option longs[] = { { "no-stream", no_argument, NULL, 'n' },
					       { "format", required_argument, NULL, 'f' },
					       { "help", no_argument, NULL, 'H' },
					       { NULL, 0, NULL, 0 } };
	const struct cmd c = { "stats", stats_usage, "+", longs };
	bool json = false, once = false;
	int opt;

	start_opts();
	while ((opt = next_opt(&c, argc, argv)) >= 0) {
		once |= opt == 'n';
		if (opt == 'f' && strcmp(optarg, "json") && strcmp(optarg, "table"))
			return nb_cli_usage_error("stats", "stats: --format json or table");
		json |= opt == 'f' && !strcmp(optarg, "json");
	}
	if (opt != -1)
		return opt == -2 ? 0 : NB_STATUS_ERROR;
	for (;;) {
		struct vm *vms = NULL;
		struct nb_err err;
		size_t n = 0;

		if (load_all(&vms, &n, &err) < 0)
			return fail("stats", &err);
		if (!json)
			printf("%-14s %-20s %14s %14s %14s %14s %12s %12s\n", "VM ID", "NAME",
			       "VMM RSS", "VMM PSS", "MEM LIMIT", "CPU", "STDOUT B", "STDERR B");
		for (size_t i = 0; i < n; i++) {
			bool named = optind >= argc;

			for (int k = optind; k < argc && !named; k++)
				named = !strcmp(argv[k], vms[i].name) ||
					!strncmp(argv[k], vms[i].id, strlen(argv[k]));
			if (named && vms[i].state.status != NB_VM_EXITED)
				stats_row(&vms[i], json);
			vm_free(&vms[i]);
		}
		free(vms);
		fflush(stdout);
		if (once)
			return 0;
		sleep(1);
	}
}

/* ---- update --------------------------------------------------------------------- */

static const struct option update_options[] = { { "memory", required_argument, NULL, 'm' },
						{ "help", no_argument, NULL, 'H' },
						{ NULL, 0, NULL, 0 } };

static const char update_usage[] =
	"Usage: nestbox update --memory SIZE VM...\n\n"
	"Change running VMs' container memory limit (as docker update -m): lower, the guest\n"
	"gives the pages back to the host (balloon) and the container's memory.max drops\n"
	"(its processes may be OOM-killed); higher, up to the --memory the VM started\n"
	"with, the memory comes back. More than that is refused: no memory hotplug.\n"
	"SIZE: bytes, or a number with b, k, m or g; at least 6m.\n";

int nb_cmd_update(int argc, char **argv)
{
	const struct cmd c = { "update", update_usage, "+m:", update_options };
	uint64_t memory = 0;
	struct nb_err err;
	char request[96], msg[NB_ERR_MSG_MAX + 32];
	int opt;

	start_opts();
	while ((opt = next_opt(&c, argc, argv)) >= 0)
		if (opt == 'm' && nb_parse_size(optarg, &memory, &err) < 0) {
			snprintf(msg, sizeof(msg), "update: --memory: %s", err.msg);
			return nb_cli_usage_error("update", msg);
		}
	if (opt != -1)
		return opt == -2 ? 0 : NB_STATUS_ERROR;
	if (!memory)
		return nb_cli_usage_error("update", "update: give --memory SIZE");
	if (need_refs(&c, argc) < 0)
		return NB_STATUS_ERROR;
	snprintf(request, sizeof(request), "{\"op\":\"update\",\"memory\":%" PRIu64 "}", memory);
	return each("update", argc, argv, request);
}

static const char snapshot_usage[] =
	"Usage: nestbox snapshot VM DIR\n\n"
	"Save a running detached VM into DIR (a new or empty directory): its vCPUs, devices\n"
	"and memory, taken at a safe point while the VM holds for a moment; it runs on.\n"
	"Restore it, as many times as wanted, with nestbox run --restore DIR [-d]. A VM on a\n"
	"network is restored onto it with a lease of its own and the same -p ports (the\n"
	"restore's -p, --ip, --network replace them); one on --tap onto the restore's own\n"
	"--tap (its --ip and --gateway kept); a VM with --vsock has a vsock device (each\n"
	"restore's own --vsock PATH; the guest's connections are reset). A VM with -v\n"
	"directories is restored sharing the same ones (the files its workload holds open\n"
	"are opened again by path; the restore's -v NEWHOST:GUEST moves one). A confined VM\n"
	"(--jail, --cgroup) can be too; a restore is confined by its own options, and its\n"
	"RAM guaranteed by its own --memory-prealloc or --memory-hugepages (the memory file\n"
	"read in; without them it is mapped on demand). A VM's -v disk images are copied into\n"
	"DIR while it holds (disk-N): a restore reads a read-only one there, and gets a copy\n"
	"of a read-write one at a new path it gives (-v NEWFILE:GUEST). A VM on a root\n"
	"directory can be too (its root is in the guest's memory). A VM with host state a\n"
	"snapshot cannot carry (-t, -i, an OCI bundle) is refused.\n";

/* DIR as the monitor needs it: absolute (it runs elsewhere). */
static char *absolute_dir(const char *dir, struct nb_err *err)
{
	cleanup_free char *copy = strdup(dir), *parent = NULL;
	char *slash, *out = NULL;

	if (!copy)
		return nb_err_sys(err, "%s", dir), NULL;
	while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
		copy[strlen(copy) - 1] = '\0';
	slash = strrchr(copy, '/');
	if (slash)
		*slash = '\0';
	parent = realpath(!slash ? "." : slash == copy ? "/" : copy, NULL);
	if (!parent)
		return nb_err_sys(err, "%s", dir), NULL;
	if (asprintf(&out, "%s/%s", strcmp(parent, "/") ? parent : "", slash ? slash + 1 : copy) <
	    0)
		return nb_err_sys(err, "%s", dir), NULL;
	return out;
}

int nb_cmd_snapshot(int argc, char **argv)
{
	static const struct option longs[] = { { "help", no_argument, NULL, 'H' },
					       { NULL, 0, NULL, 0 } };
	const struct cmd c = { "snapshot", snapshot_usage, "+", longs };
	cleanup_free char *dir = NULL;
	json_object *req;
	struct nb_err err;
	int opt, rc;

	start_opts();
	while ((opt = next_opt(&c, argc, argv)) >= 0)
		;
	if (opt != -1)
		return opt == -2 ? 0 : NB_STATUS_ERROR;
	if (argc - optind != 2)
		return nb_cli_usage_error("snapshot", "snapshot: give VM and DIR");
	if (!(dir = absolute_dir(argv[optind + 1], &err)))
		return fail("snapshot", &err);
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("snapshot"));
	json_object_object_add(req, "path", json_object_new_string(dir));
	rc = control(argv[optind], json_object_to_json_string_ext(req, JSON_PLAIN), NULL, &err);
	json_object_put(req);
	if (rc < 0)
		return fail("snapshot", &err);
	printf("%s\n", dir);
	return 0;
}
