#include "vmm/run/oci_state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/procstat.h"
#include "nestbox/cleanup.h"

#define STATE_FILE "state.json"
#define STATE_MAX (256u << 10)

bool nb_oci_id_ok(const char *id)
{
	size_t len = strnlen(id, NB_OCI_ID_MAX + 1);

	return len >= 1 && len <= NB_OCI_ID_MAX && strcmp(id, ".") && strcmp(id, "..") &&
	       strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
		       len;
}

static int dir_path(const char *root, const char *id, char *buf, size_t size, struct nb_err *err)
{
	int n;

	if (!nb_oci_id_ok(id))
		return nb_err_set(err, 0, "container id \"%.64s\" is not 1..%u of [A-Za-z0-9_.-]",
				  id, NB_OCI_ID_MAX);
	n = snprintf(buf, size, "%s/%s", root, id);
	if (n < 0 || (size_t)n >= size)
		return nb_err_set(err, 0, "--root %s is too long", root);
	return 0;
}

int nb_oci_state_create_dir(const char *root, const char *id, struct nb_err *err)
{
	char path[4096];

	if (dir_path(root, id, path, sizeof(path), err) < 0)
		return -1;
	if (nb_mkdir_p(AT_FDCWD, root, 0700, 0, err) < 0)
		return nb_err_wrap(err, "--root");
	if (mkdir(path, 0700) < 0)
		return errno == EEXIST ? nb_err_set(err, 0, "container %s already exists", id)
				       : nb_err_sys(err, "%s", path);
	return 0;
}

static void put_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

int nb_oci_state_write(const char *root, const struct nb_oci_state *st, struct nb_err *err)
{
	char path[4096];
	cleanup_close int dfd = -1;
	json_object *o;
	int rc;

	if (dir_path(root, st->id, path, sizeof(path), err) < 0)
		return -1;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return nb_err_sys(err, "%s", path);
	o = json_object_new_object();
	if (!o)
		return nb_err_sys(err, "state");
	put_str(o, "id", st->id);
	put_str(o, "status", st->status);
	json_object_object_add(o, "pid", json_object_new_int64(st->pid));
	json_object_object_add(o, "start", json_object_new_uint64(st->start));
	put_str(o, "bundle", st->bundle);
	put_str(o, "rootfs", st->rootfs);
	put_str(o, "cgroup", st->cgroup);
	put_str(o, "created", st->created);
	if (st->annotations)
		json_object_object_add(o, "annotations", json_object_get(st->annotations));
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	rc = nb_file_write_atomic(dfd, STATE_FILE, STATE_FILE ".tmp", text, strlen(text), 0600,
				  err);
	json_object_put(o);
	return rc;
}

static void copy_str(json_object *o, const char *key, char *out, size_t size)
{
	json_object *v;

	out[0] = '\0';
	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(out, size, "%s", json_object_get_string(v));
}

int nb_oci_state_read(const char *root, const char *id, struct nb_oci_state *st, struct nb_err *err)
{
	char path[4096];
	cleanup_free char *text = NULL;
	size_t len;
	json_object *o, *v;

	memset(st, 0, sizeof(*st));
	if (dir_path(root, id, path, sizeof(path), err) < 0)
		return -1;
	if (access(path, F_OK) < 0)
		return nb_err_set(err, 0, "container %s does not exist", id);
	if (strlen(path) + sizeof(STATE_FILE) + 1 > sizeof(path))
		return nb_err_set(err, 0, "--root is too long");
	strcat(path, "/" STATE_FILE);
	if (nb_file_read_nofollow(AT_FDCWD, path, STATE_MAX, &text, &len, err) < 0) {
		/* create died before its first write: nothing runs */
		snprintf(st->id, sizeof(st->id), "%s", id);
		snprintf(st->status, sizeof(st->status), "creating");
		return 0;
	}
	o = json_tokener_parse(text);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return nb_err_set(err, 0, "%s is not a state file", path);
	}
	snprintf(st->id, sizeof(st->id), "%s", id);
	copy_str(o, "status", st->status, sizeof(st->status));
	copy_str(o, "bundle", st->bundle, sizeof(st->bundle));
	copy_str(o, "rootfs", st->rootfs, sizeof(st->rootfs));
	copy_str(o, "cgroup", st->cgroup, sizeof(st->cgroup));
	copy_str(o, "created", st->created, sizeof(st->created));
	if (json_object_object_get_ex(o, "pid", &v) && json_object_is_type(v, json_type_int))
		st->pid = (pid_t)json_object_get_int(v);
	if (json_object_object_get_ex(o, "start", &v) && json_object_is_type(v, json_type_int))
		st->start = json_object_get_uint64(v);
	if (json_object_object_get_ex(o, "annotations", &v) &&
	    json_object_is_type(v, json_type_object))
		st->annotations = json_object_get(v);
	json_object_put(o);
	if (st->pid < 0)
		st->pid = 0;
	return 0;
}

void nb_oci_state_free(struct nb_oci_state *st)
{
	if (st->annotations)
		json_object_put(st->annotations);
	st->annotations = NULL;
}

const char *nb_oci_state_status(const struct nb_oci_state *st)
{
	struct nb_procstat p;

	if (st->pid <= 0)
		return strcmp(st->status, "creating") == 0 ? "creating" : "stopped";
	if (!nb_procstat_read(st->pid, &p) || p.start != st->start || p.state == 'Z' ||
	    p.state == 'X')
		return "stopped";
	return st->status;
}

int nb_oci_state_remove(const char *root, const char *id, struct nb_err *err)
{
	char path[4096];
	cleanup_close int dfd = -1;
	DIR *d;
	struct dirent *e;

	if (dir_path(root, id, path, sizeof(path), err) < 0)
		return -1;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return errno == ENOENT ? 0 : nb_err_sys(err, "%s", path);
	d = fdopendir(dup(dfd));
	if (!d)
		return nb_err_sys(err, "%s", path);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dfd, e->d_name, 0);
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		return nb_err_sys(err, "cannot remove %s", path);
	return 0;
}
