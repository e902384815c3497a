/* The state of OCI runtime containers (issue 14): one directory per
 * container under the runtime's --root, holding state.json (written
 * atomically). A container's process is its monitor (the VMM, the pid in
 * --pid-file); the monitor's pid and start time say whether it still runs,
 * so `state` stays truthful whatever crashed: a dead or reused pid means
 * stopped. Host only; nothing here prints. */
#ifndef NESTBOX_VMM_RUN_OCI_STATE_H
#define NESTBOX_VMM_RUN_OCI_STATE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "nestbox/err.h"

#define NB_OCI_DEFAULT_ROOT "/run/nestbox-oci"
#define NB_OCI_ID_MAX 128u
#define NB_OCI_VERSION "1.0.2"

struct nb_oci_state {
	char id[NB_OCI_ID_MAX + 1];
	char status[16];          /* as recorded: creating, created, running */
	pid_t pid;                /* the monitor; 0 before it exists */
	uint64_t start;           /* its start time (/proc/PID/stat field 22) */
	char bundle[4096];        /* absolute */
	char rootfs[4096];        /* root.path on the host, absolute; "" in old files */
	char cgroup[4096];        /* the monitor's cgroup nestbox made, or "" */
	char created[40];         /* RFC 3339 */
	json_object *annotations; /* owned, or NULL */
};

/* An id runc would take: 1..NB_OCI_ID_MAX of [A-Za-z0-9_.-], not "." or "..". */
bool nb_oci_id_ok(const char *id);

/* Make root (0700, parents too) and root/id, which must not exist. */
int nb_oci_state_create_dir(const char *root, const char *id, struct nb_err *err);

/* Write st as root/id/state.json, atomically. */
int nb_oci_state_write(const char *root, const struct nb_oci_state *st, struct nb_err *err);

/* Read root/id/state.json (hostile: bounded, typed). "does not exist" when
 * there is no such container. Release with nb_oci_state_free. */
int nb_oci_state_read(const char *root, const char *id, struct nb_oci_state *st,
		      struct nb_err *err);
void nb_oci_state_free(struct nb_oci_state *st);

/* The status now: "stopped" when the monitor is gone (or a zombie, or its
 * pid was reused), else the recorded one. */
const char *nb_oci_state_status(const struct nb_oci_state *st);

/* Remove root/id and what is in it. */
int nb_oci_state_remove(const char *root, const char *id, struct nb_err *err);

#endif
