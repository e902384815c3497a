/* The commands for detached VMs (issue 15): ps, inspect, logs, stop, kill,
 * wait, rm, pause, unpause, events, stats, update, snapshot (issue 16). Clients of the VMs' directories
 * (vmm/run/vmdir.h) and control sockets (vmm/run/ctl_client.h). Each takes
 * argv[0] = its name and returns the exit status: 0, or 1 when a VM
 * named was not found or the operation failed (as Docker's). */
#ifndef NESTBOX_VMM_CLI_LIFECYCLE_H
#define NESTBOX_VMM_CLI_LIFECYCLE_H

int nb_cmd_ps(int argc, char **argv);
int nb_cmd_inspect(int argc, char **argv);
int nb_cmd_logs(int argc, char **argv);
int nb_cmd_stop(int argc, char **argv);
int nb_cmd_kill(int argc, char **argv);
int nb_cmd_wait(int argc, char **argv);
int nb_cmd_rm(int argc, char **argv);
int nb_cmd_pause(int argc, char **argv);
int nb_cmd_unpause(int argc, char **argv);
int nb_cmd_events(int argc, char **argv);
int nb_cmd_stats(int argc, char **argv);
int nb_cmd_update(int argc, char **argv);
int nb_cmd_snapshot(int argc, char **argv);

#endif
