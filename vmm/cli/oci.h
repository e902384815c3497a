/* The OCI runtime interface (issue 14): nestbox called as runc is, by
 * podman's conmon and containerd's runc shim. */
#ifndef NESTBOX_VMM_CLI_OCI_H
#define NESTBOX_VMM_CLI_OCI_H

#include <stdbool.h>

/* runc's global options before the command (--root DIR, --log FILE,
 * --log-format text|json, --systemd-cgroup, --debug): taken out of argv,
 * which then starts with the program name and the command (`--version` is
 * the front end's, vmm/cli/info.c). Returns 0, or -1 on a bad value. */
int nb_oci_global_options(int *argc, char ***argv);

/* One line of --log as runc writes it (time an RFC 3339 time): with json
 * {"level":"error","msg":MSG,"time":TIME}, else time="TIME" level=error
 * msg="MSG", the message quoted as a JSON string in both and its bytes that
 * are not UTF-8 made '?', so the line is one line a reader can parse
 * whatever a caller's ID or bundle held. Malloc'd, ends in '\n'; NULL
 * when out of memory. */
char *nb_oci_log_line(bool json, const char *time, const char *msg);

/* Whether `kill` (argv[0]) is the OCI runtime's: an engine gave runc's
 * global options, or the ID names a container under the default --root.
 * (`nestbox kill` of detached VMs is another command of the same name.) */
bool nb_oci_kill_applies(int argc, char **argv);

/* create, start, state, kill, delete, features (argv[0] the command). */
int nb_oci_main(int argc, char **argv);

#endif
