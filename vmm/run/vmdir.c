#include "vmm/run/vmdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "images/json.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/run/records.h"

#define VM_DIR "vm"
#define NAMES_DIR "names"
#define MAX_VMS 4096u

static const char *const status_names[] = { "created", "running", "paused", "exited" };

const char *nb_vm_status_name(enum nb_vm_status status)
{
	return status_names[status];
}

bool nb_vm_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len < 2 || len > NB_VM_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || !strchr("_.-", c)))
			return false;
	}
	return true;
}

static bool is_id(const char *s)
{
	size_t len = strspn(s, "0123456789abcdef");

	return len == NB_VM_ID_LEN && s[len] == '\0';
}

int nb_vm_id_match(const char *ref, const char *const *ids, size_t n, struct nb_err *err)
{
	size_t len = strlen(ref);
	int found = -1;

	if (len == 0 || len > NB_VM_ID_LEN || strspn(ref, "0123456789abcdef") != len)
		return nb_err_set(err, 0, "no such VM: %.*s", NB_VM_NAME_MAX, ref);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(ids[i], ref, len) != 0)
			continue;
		if (found >= 0)
			return nb_err_set(err, 0,
					  "%s is ambiguous: more than one VM's id starts so; give "
					  "more digits",
					  ref);
		found = (int)i;
	}
	if (found < 0)
		return nb_err_set(err, 0, "no such VM: %s", ref);
	return found;
}

/* ---- state.json ---------------------------------------------------------- */

char *nb_vm_state_format(const struct nb_vm_state *s)
{
	char *text = NULL;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "Status", json_object_new_string(status_names[s->status]));
	json_object_object_add(o, "Pid", json_object_new_int(s->pid));
	json_object_object_add(o, "MonitorPid", json_object_new_int(s->monitor_pid));
	json_object_object_add(o, "MonitorStart", json_object_new_int64((int64_t)s->monitor_start));
	json_object_object_add(o, "ExitCode", json_object_new_int(s->exit_code));
	json_object_object_add(o, "OOMKilled", json_object_new_boolean(s->oom_killed));
	json_object_object_add(o, "Created", json_object_new_int64(s->created_ns));
	json_object_object_add(o, "Started", json_object_new_int64(s->started_ns));
	json_object_object_add(o, "Finished", json_object_new_int64(s->finished_ns));
	json_object_object_add(o, "Error", json_object_new_string(s->error));
	json_object_object_add(o, "MemoryLimit", json_object_new_int64((int64_t)s->memory_limit));
	const char *js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (js && asprintf(&text, "%s\n", js) < 0)
		text = NULL;
	json_object_put(o);
	return text;
}

static int get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out,
		   struct nb_err *err)
{
	if (nb_json_int(o, key, true, out, err) < 0)
		return -1;
	if (*out < min || *out > max)
		return nb_err_set(err, 0, "%s %" PRId64 " is out of range", key, *out);
	return 0;
}

static int parse_status(json_object *o, struct nb_vm_state *s, struct nb_err *err)
{
	const char *status;

	if (nb_json_str(o, "Status", true, 16, &status, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (!strcmp(status, status_names[i])) {
			s->status = (enum nb_vm_status)i;
			return 0;
		}
	return nb_err_set(err, 0, "unknown Status '%s'", status);
}

int nb_vm_state_parse(const char *text, size_t len, struct nb_vm_state *s, struct nb_err *err)
{
	int64_t pid, mon, start, code, created, started, finished, limit = 0;
	const char *error;
	json_object *oom;
	json_object *o = nb_json_parse(text, len, "state.json", err);
	int rc = -1;

	if (!o)
		return -1;
	*s = (struct nb_vm_state){ 0 };
	if (!json_object_is_type(o, json_type_object)) {
		nb_err_set(err, 0, "state.json is not an object");
		goto out;
	}
	if (parse_status(o, s, err) < 0 || get_int(o, "Pid", 0, INT32_MAX, &pid, err) < 0 ||
	    get_int(o, "MonitorPid", 1, INT32_MAX, &mon, err) < 0 ||
	    get_int(o, "MonitorStart", 0, INT64_MAX, &start, err) < 0 ||
	    get_int(o, "ExitCode", -1, 255, &code, err) < 0 ||
	    get_int(o, "Created", 0, INT64_MAX, &created, err) < 0 ||
	    get_int(o, "Started", 0, INT64_MAX, &started, err) < 0 ||
	    get_int(o, "Finished", 0, INT64_MAX, &finished, err) < 0 ||
	    (json_object_object_get_ex(o, "MemoryLimit", NULL) &&
	     get_int(o, "MemoryLimit", 0, (int64_t)NB_SIGMSG_MEMORY_MAX, &limit, err) < 0) ||
	    nb_json_str(o, "Error", true, sizeof(s->error) - 1, &error, err) < 0)
		goto out;
	if (!json_object_object_get_ex(o, "OOMKilled", &oom) ||
	    !json_object_is_type(oom, json_type_boolean)) {
		nb_err_set(err, 0, "OOMKilled: not a boolean");
		goto out;
	}
	s->pid = (int)pid;
	s->monitor_pid = (int)mon;
	s->monitor_start = (uint64_t)start;
	s->exit_code = (int)code;
	s->oom_killed = json_object_get_boolean(oom);
	s->memory_limit = (uint64_t)limit;
	s->created_ns = created;
	s->started_ns = started;
	s->finished_ns = finished;
	snprintf(s->error, sizeof(s->error), "%s", error);
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

/* ---- directories ----------------------------------------------------------- */

static int open_sub(const char *sub, bool create, struct nb_err *err)
{
	cleanup_close int run = nb_run_dir_open(create, err);
	int fd;

	if (run < 0)
		return run;
	if (create && mkdirat(run, sub, 0700) < 0 && errno != EEXIST)
		return nb_err_sys(err, "%s/%s", nb_run_dir(), sub);
	fd = openat(run, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !create)
		return -2;
	if (fd < 0)
		return nb_err_sys(err, "%s/%s", nb_run_dir(), sub);
	return fd;
}

int nb_vmdir_root(bool create, struct nb_err *err)
{
	return open_sub(VM_DIR, create, err);
}

static void random_id(char id[NB_VM_ID_LEN + 1])
{
	uint8_t raw[NB_VM_ID_LEN / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n > 0)
			got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
}

/* Remove directory name in parent with its entries, then the directory
 * itself. A VM directory holds files and the VMM's snapshot directory
 * (NB_VM_SNAPSHOT_DIR) of files; depth bounds the descent, and links are
 * removed, never followed. */
static int remove_tree_at(int parent, const char *name, int depth)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return errno == ENOENT ? 0 : -1;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    unlinkat(fd, e->d_name, 0) < 0 && errno == EISDIR && depth > 0)
			remove_tree_at(fd, e->d_name, depth - 1);
	closedir(d);
	return unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -1 : 0;
}

static int remove_tree(int parent, const char *name)
{
	return remove_tree_at(parent, name, 1);
}

static int claim_name(const char *name, const char *id, struct nb_err *err)
{
	char owner[NB_VM_ID_LEN + 2];
	cleanup_close int names = open_sub(NAMES_DIR, true, err);
	ssize_t n;

	if (names < 0)
		return -1;
	if (symlinkat(id, names, name) == 0)
		return 0;
	if (errno != EEXIST)
		return nb_err_sys(err, "claiming the name %s", name);
	n = readlinkat(names, name, owner, sizeof(owner) - 1);
	owner[n > 0 ? n : 0] = '\0';
	return nb_err_set(err, 0,
			  "the name \"%s\" is already in use by VM %.12s: remove that VM "
			  "(nestbox rm %s) or choose another name",
			  name, owner, name);
}

int nb_vmdir_create(const char *name, const char *config_json, char id[NB_VM_ID_LEN + 1],
		    int *dir_fd, struct nb_err *err)
{
	cleanup_close int root = nb_vmdir_root(true, err);
	int fd;

	if (root < 0)
		return -1;
	if (name && !nb_vm_name_valid(name))
		return nb_err_set(err, 0,
				  "invalid name \"%.*s\": use 2 to %d characters from "
				  "[a-zA-Z0-9_.-], starting with a letter or digit",
				  NB_VM_NAME_MAX, name, NB_VM_NAME_MAX);
	random_id(id);
	/* The directory before the name: a name always points at a directory
	 * that exists, or at one gc may remove (nb_vmdir_prune). */
	if (mkdirat(root, id, 0700) < 0)
		return nb_err_sys(err, "%s/" VM_DIR "/%s", nb_run_dir(), id);
	fd = openat(root, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 ||
	    nb_file_write_atomic(fd, NB_VM_CONFIG, NULL, config_json, strlen(config_json), 0600,
				 err) < 0 ||
	    (name && claim_name(name, id, err) < 0)) {
		if (fd < 0)
			nb_err_sys(err, "%s/" VM_DIR "/%s", nb_run_dir(), id);
		else
			close(fd);
		remove_tree(root, id);
		return -1;
	}
	*dir_fd = fd;
	return 0;
}

int nb_vmdir_list(char (**ids)[NB_VM_ID_LEN + 1], size_t *n, struct nb_err *err)
{
	int fd = nb_vmdir_root(false, err);
	DIR *d;
	struct dirent *e;

	*ids = NULL;
	*n = 0;
	if (fd == -2)
		return 0;
	if (fd < 0)
		return -1;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return nb_err_sys(err, "%s/" VM_DIR, nb_run_dir());
	}
	while ((e = readdir(d)) && *n < MAX_VMS) {
		if (!is_id(e->d_name))
			continue;
		void *grown = realloc(*ids, (*n + 1) * sizeof(**ids));
		if (!grown) {
			closedir(d);
			return nb_err_set(err, ENOMEM, "listing VMs");
		}
		*ids = grown;
		memcpy((*ids)[(*n)++], e->d_name, NB_VM_ID_LEN + 1);
	}
	closedir(d);
	return 0;
}

int nb_vmdir_resolve(const char *ref, char id[NB_VM_ID_LEN + 1], struct nb_err *err)
{
	char(*ids)[NB_VM_ID_LEN + 1] = NULL;
	const char **refs = NULL;
	size_t n = 0;
	int idx = -1;

	if (nb_vm_name_valid(ref)) {
		cleanup_close int names = open_sub(NAMES_DIR, false, err);
		ssize_t len = names >= 0 ? readlinkat(names, ref, id, NB_VM_ID_LEN + 1) : -1;

		if (len == NB_VM_ID_LEN) {
			id[NB_VM_ID_LEN] = '\0';
			if (is_id(id))
				return 0;
		}
	}
	if (nb_vmdir_list(&ids, &n, err) < 0)
		return -1;
	refs = calloc(n ? n : 1, sizeof(*refs));
	if (!refs) {
		free(ids);
		return nb_err_set(err, ENOMEM, "resolving %s", ref);
	}
	for (size_t i = 0; i < n; i++)
		refs[i] = ids[i];
	idx = nb_vm_id_match(ref, refs, n, err);
	if (idx >= 0)
		memcpy(id, ids[idx], NB_VM_ID_LEN + 1);
	free(refs);
	free(ids);
	return idx < 0 ? -1 : 0;
}

int nb_vmdir_open(const char *id, struct nb_err *err)
{
	cleanup_close int root = nb_vmdir_root(false, err);
	int fd;

	if (root == -2)
		return nb_err_set(err, 0, "no such VM: %s", id);
	if (root < 0)
		return -1;
	fd = openat(root, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return nb_err_sys(err, "VM %.12s", id);
	return fd;
}

bool nb_vm_monitor_alive(const struct nb_vm_state *s)
{
	return s->monitor_pid > 0 && s->monitor_start &&
	       nb_proc_start_time(s->monitor_pid) == s->monitor_start;
}

int nb_vm_state_read(int dir_fd, struct nb_vm_state *s, struct nb_err *err)
{
	cleanup_free char *text = NULL;
	size_t len;

	if (nb_file_read_nofollow(dir_fd, NB_VM_STATE, NB_VM_STATE_MAX, &text, &len, err) < 0 ||
	    nb_vm_state_parse(text, len, s, err) < 0)
		return -1;
	if (s->status != NB_VM_EXITED && !nb_vm_monitor_alive(s)) {
		s->status = NB_VM_EXITED;
		s->exit_code = 137;
		snprintf(s->error, sizeof(s->error),
			 "its monitor process %d died, and the VMM with it (SIGKILL)",
			 s->monitor_pid);
	}
	return 0;
}

int nb_vm_state_write(int dir_fd, const struct nb_vm_state *s, struct nb_err *err)
{
	cleanup_free char *text = nb_vm_state_format(s);

	if (!text)
		return nb_err_set(err, ENOMEM, "state.json");
	return nb_file_write_atomic(dir_fd, NB_VM_STATE, NULL, text, strlen(text), 0600, err);
}

void nb_vm_name_of(int dir_fd, char name[NB_VM_NAME_MAX + 1])
{
	cleanup_free char *text = NULL;
	const char *value = NULL;
	struct nb_err err;
	size_t len;
	json_object *o = nb_file_read_nofollow(dir_fd, NB_VM_CONFIG, 1u << 20, &text, &len, &err) ==
					 0
				 ? nb_json_parse(text, len, "config.json", &err)
				 : NULL;

	name[0] = '\0';
	if (o && json_object_is_type(o, json_type_object) &&
	    nb_json_str(o, "Name", false, NB_VM_NAME_MAX, &value, &err) == 0 && value &&
	    (!value[0] || nb_vm_name_valid(value)))
		snprintf(name, NB_VM_NAME_MAX + 1, "%s", value);
	json_object_put(o);
}

static void unname(const char *name, const char *id)
{
	struct nb_err err;
	char owner[NB_VM_ID_LEN + 2];
	cleanup_close int names = name[0] ? open_sub(NAMES_DIR, false, &err) : -1;
	ssize_t n = names >= 0 ? readlinkat(names, name, owner, sizeof(owner) - 1) : -1;

	if (n == NB_VM_ID_LEN && !memcmp(owner, id, NB_VM_ID_LEN))
		unlinkat(names, name, 0);
}

int nb_vmdir_remove(const char *id, struct nb_err *err)
{
	char name[NB_VM_NAME_MAX + 1];
	cleanup_close int root = nb_vmdir_root(false, err);
	cleanup_close int dir = root >= 0 ? openat(root, id,
						   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
					  : -1;

	if (root < 0 || !is_id(id))
		return root == -2 ? 0 : -1;
	name[0] = '\0';
	if (dir >= 0)
		nb_vm_name_of(dir, name);
	unname(name, id);
	if (remove_tree(root, id) < 0)
		return nb_err_sys(err, "removing %s/" VM_DIR "/%s", nb_run_dir(), id);
	return 0;
}

/* Names whose VM directory is gone. */
static void prune_names(int root)
{
	struct nb_err err;
	int fd = open_sub(NAMES_DIR, false, &err);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	char owner[NB_VM_ID_LEN + 2];
	struct stat st;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		ssize_t n = readlinkat(fd, e->d_name, owner, sizeof(owner) - 1);

		if (n < 0)
			continue;
		owner[n] = '\0';
		if (!is_id(owner) || fstatat(root, owner, &st, AT_SYMLINK_NOFOLLOW) < 0)
			unlinkat(fd, e->d_name, 0);
	}
	closedir(d);
}

/* A directory without a state whose config is less than a minute old:
 * its `run -d` is still on its way to starting the monitor. */
static bool starting(int dir)
{
	struct stat st;

	return dir >= 0 && fstatat(dir, NB_VM_CONFIG, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       time(NULL) - st.st_mtime < 60;
}

int nb_vmdir_prune(void (*removed)(void *opaque, const char *id, const char *name), void *opaque,
		   struct nb_err *err)
{
	char(*ids)[NB_VM_ID_LEN + 1] = NULL;
	size_t n = 0;
	int count = 0;
	cleanup_close int root = nb_vmdir_root(false, err);

	if (root == -2)
		return 0;
	if (root < 0 || nb_vmdir_list(&ids, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct nb_vm_state s;
		struct nb_err e2;
		char name[NB_VM_NAME_MAX + 1];
		cleanup_close int dir = openat(root, ids[i],
					       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int got = dir >= 0 ? nb_vm_state_read(dir, &s, &e2) : -1;

		/* Running, or no state yet and young: a run -d still starting. */
		if (got == 0 ? s.status != NB_VM_EXITED : starting(dir))
			continue;
		nb_vm_name_of(dir, name);
		if (nb_vmdir_remove(ids[i], &e2) == 0) {
			count++;
			if (removed)
				removed(opaque, ids[i], name);
		}
	}
	free(ids);
	prune_names(root);
	return count;
}

int64_t nb_vm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void nb_vm_time_format(int64_t ns, char *buf, size_t size)
{
	time_t sec = (time_t)(ns / 1000000000);
	struct tm tm;
	char day[32];

	if (ns <= 0 || !gmtime_r(&sec, &tm)) {
		snprintf(buf, size, "0001-01-01T00:00:00Z");
		return;
	}
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%09dZ", day, (int)(ns % 1000000000));
}

struct json_object *nb_vm_state_docker(const struct nb_vm_state *s)
{
	json_object *o = json_object_new_object();
	char started[48], finished[48];

	nb_vm_time_format(s->started_ns, started, sizeof(started));
	nb_vm_time_format(s->finished_ns, finished, sizeof(finished));
	json_object_object_add(o, "Status", json_object_new_string(status_names[s->status]));
	json_object_object_add(o, "Running",
			       json_object_new_boolean(s->status == NB_VM_RUNNING ||
						       s->status == NB_VM_PAUSED));
	json_object_object_add(o, "Paused", json_object_new_boolean(s->status == NB_VM_PAUSED));
	json_object_object_add(o, "OOMKilled", json_object_new_boolean(s->oom_killed));
	json_object_object_add(o, "Dead", json_object_new_boolean(false));
	json_object_object_add(o, "Pid",
			       json_object_new_int(s->status == NB_VM_EXITED ? 0 : s->pid));
	json_object_object_add(o, "ExitCode",
			       json_object_new_int(s->exit_code < 0 ? 0 : s->exit_code));
	json_object_object_add(o, "Error", json_object_new_string(s->error));
	json_object_object_add(o, "StartedAt", json_object_new_string(started));
	json_object_object_add(o, "FinishedAt", json_object_new_string(finished));
	return o;
}
