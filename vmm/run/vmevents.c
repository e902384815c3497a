#include "vmm/run/vmevents.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nestbox/cleanup.h"
#include "vmm/run/records.h"
#include "vmm/run/vmdir.h"

char *nb_vm_event_line(const char *action, const char *id, const char *name, int exit_code,
		       int signal)
{
	int64_t ns = nb_vm_now_ns();
	json_object *o = json_object_new_object();
	char *line = NULL;

	json_object_object_add(o, "Type", json_object_new_string("vm"));
	json_object_object_add(o, "Action", json_object_new_string(action));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "name", json_object_new_string(name ? name : ""));
	json_object_object_add(o, "time", json_object_new_int64(ns / 1000000000));
	json_object_object_add(o, "timeNano", json_object_new_int64(ns));
	if (exit_code >= 0)
		json_object_object_add(o, "exitCode", json_object_new_int(exit_code));
	if (signal >= 0)
		json_object_object_add(o, "signal", json_object_new_int(signal));
	if (asprintf(&line, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) < 0)
		line = NULL;
	json_object_put(o);
	return line;
}

void nb_vm_event_journal(const char *line)
{
	struct nb_err err;
	struct stat st;
	cleanup_close int dir = nb_run_dir_open(true, &err);
	cleanup_close int fd = dir < 0 ? -1
				       : openat(dir, NB_VM_EVENTS_FILE,
						O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
							O_CLOEXEC,
						0600);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size > NB_VM_EVENTS_MAX)
		renameat(dir, NB_VM_EVENTS_FILE, dir, NB_VM_EVENTS_FILE ".1");
	if (write(fd, line, strlen(line)) < 0) {
		/* best effort */
	}
}

void nb_vm_event_emit(const char *action, const char *id, const char *name, int exit_code,
		      int signal)
{
	cleanup_free char *line = nb_vm_event_line(action, id, name, exit_code, signal);

	if (line)
		nb_vm_event_journal(line);
}

int nb_vm_events_open(bool at_end, struct nb_err *err)
{
	cleanup_close int dir = nb_run_dir_open(true, err);
	int fd;

	if (dir < 0)
		return -1;
	fd = openat(dir, NB_VM_EVENTS_FILE, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return nb_err_sys(err, "%s/" NB_VM_EVENTS_FILE, nb_run_dir());
	if (at_end)
		lseek(fd, 0, SEEK_END);
	return fd;
}

bool nb_vm_events_rotated(int fd)
{
	struct nb_err err;
	struct stat now, ours;
	cleanup_close int dir = nb_run_dir_open(false, &err);

	return dir >= 0 && fstat(fd, &ours) == 0 &&
	       fstatat(dir, NB_VM_EVENTS_FILE, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	       now.st_ino != ours.st_ino;
}
