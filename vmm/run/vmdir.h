/* Detached VMs' state directories (issue 15). Each detached VM has one
 * directory RUN_DIR/vm/ID (RUN_DIR: vmm/run/records.h) holding
 *   config.json   what it was started with (written once, by `run -d`)
 *   state.json    its state, replaced atomically by its monitor
 *   stdout.log[.N], stderr.log[.N]   its output, bounded and rotated
 *   control.sock  the monitor's control socket (vmm/run/ctl_proto.h)
 * and a name is a symlink RUN_DIR/names/NAME -> ID: symlink(2) is atomic,
 * so of two runs claiming one name exactly one wins. ID is 64 lowercase hex
 * digits (as Docker's); commands take a name, or any unique ID prefix.
 * Everything read back from these files is treated as hostile (bounded,
 * typed). Host only. */
#ifndef NESTBOX_VMM_RUN_VMDIR_H
#define NESTBOX_VMM_RUN_VMDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nestbox/err.h"

#define NB_VM_ID_LEN 64
#define NB_VM_NAME_MAX 128
#define NB_VM_CONFIG "config.json"
#define NB_VM_STATE "state.json"
#define NB_VM_SOCKET "control.sock"
#define NB_VM_STATE_MAX 4096u /* bytes of state.json read back */

enum nb_vm_status { NB_VM_CREATED, NB_VM_RUNNING, NB_VM_PAUSED, NB_VM_EXITED };

struct nb_vm_state {
	enum nb_vm_status status;
	int pid;                /* the VMM, 0 before it started */
	int monitor_pid;        /* the monitor owning this directory */
	uint64_t monitor_start; /* its /proc start time (nb_proc_start_time) */
	int exit_code;          /* -1 until exited */
	bool oom_killed;
	int64_t created_ns, started_ns, finished_ns; /* CLOCK_REALTIME, 0 unset */
	char error[256];                             /* why it ended abnormally, or "" */
};

const char *nb_vm_status_name(enum nb_vm_status status);

/* Docker's name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most NB_VM_NAME_MAX. */
bool nb_vm_name_valid(const char *name);

/* Which of ids[0..n) ref (at least one hex digit) is a prefix of: its
 * index, or -1 with err "no such VM" / "ambiguous". Pure, for tests. */
int nb_vm_id_match(const char *ref, const char *const *ids, size_t n, struct nb_err *err);

/* state.json's text <-> *state. The parser refuses what this code never
 * writes: not an object, a wrong type, an unknown status, values out of
 * range (err says which). */
char *nb_vm_state_format(const struct nb_vm_state *state);
int nb_vm_state_parse(const char *text, size_t len, struct nb_vm_state *state, struct nb_err *err);

/* RUN_DIR/vm opened (created when create). -2 when missing and !create. */
int nb_vmdir_root(bool create, struct nb_err *err);

/* A new VM: a fresh random id, its directory (dir_fd returned, the
 * config.json text written into it), then the name claimed (name may be
 * NULL). A name in use is "the name NAME is already in use by VM ID...":
 * nothing is left behind. */
int nb_vmdir_create(const char *name, const char *config_json, char id[NB_VM_ID_LEN + 1],
		    int *dir_fd, struct nb_err *err);

/* A name or an id prefix -> the full id. */
int nb_vmdir_resolve(const char *ref, char id[NB_VM_ID_LEN + 1], struct nb_err *err);

/* The directory of id, opened. */
int nb_vmdir_open(const char *id, struct nb_err *err);

/* Every VM's id, in directory order (free() the array). */
int nb_vmdir_list(char (**ids)[NB_VM_ID_LEN + 1], size_t *n, struct nb_err *err);

/* Read dir_fd's state.json; a VM whose monitor is gone while the state
 * says it runs is reported as it really is: exited, 137 (its VMM died with
 * the monitor, PR_SET_PDEATHSIG), error saying so. */
int nb_vm_state_read(int dir_fd, struct nb_vm_state *state, struct nb_err *err);
int nb_vm_state_write(int dir_fd, const struct nb_vm_state *state, struct nb_err *err);

/* Is state's monitor still alive (pid with the recorded start time)? */
bool nb_vm_monitor_alive(const struct nb_vm_state *state);

/* Remove id's directory and its name (the name only if it still names
 * id). */
int nb_vmdir_remove(const char *id, struct nb_err *err);

/* The name of id ("" when it has none) from its config. */
void nb_vm_name_of(int dir_fd, char name[NB_VM_NAME_MAX + 1]);

/* gc: remove directories of VMs that no longer run, and names whose VM is
 * gone. Returns how many it removed. */
int nb_vmdir_prune(void (*removed)(void *opaque, const char *id, const char *name), void *opaque,
		   struct nb_err *err);

/* Docker's State object for s: Status Running Paused OOMKilled Dead
 * ExitCode Pid Error StartedAt FinishedAt (a new json-c object). */
struct json_object *nb_vm_state_docker(const struct nb_vm_state *s);

/* CLOCK_REALTIME in ns, and as RFC 3339 with nanoseconds (UTC; "" for 0). */
int64_t nb_vm_now_ns(void);
void nb_vm_time_format(int64_t ns, char *buf, size_t size);

#endif
