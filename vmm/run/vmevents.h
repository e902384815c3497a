/* Events of detached VMs (issue 15): JSON lines
 *   {"Type":"vm","Action":"die","id":ID,"name":NAME,"time":S,"timeNano":NS,"exitCode":N}
 * (Action: create start die oom stop kill pause unpause destroy; exitCode
 * with die, signal with kill). Monitors send them to their control
 * clients that asked for events, and everything appends them to the
 * journal RUN_DIR/events.log (one write(2) of a line < PIPE_BUF with
 * O_APPEND: whole lines, never interleaved), which `nestbox events`
 * follows. The journal is kept below NB_VM_EVENTS_MAX bytes by renaming it
 * to events.log.1. Host only. */
#ifndef NESTBOX_VMM_RUN_VMEVENTS_H
#define NESTBOX_VMM_RUN_VMEVENTS_H

#include <stdbool.h>

#include "nestbox/err.h"

#define NB_VM_EVENTS_FILE "events.log"
#define NB_VM_EVENTS_MAX (1u << 20)

/* The event's line (with its newline), malloc'd; exit_code/signal < 0:
 * absent. NULL only without memory. */
char *nb_vm_event_line(const char *action, const char *id, const char *name, int exit_code,
		       int signal);

/* Append line to the journal (best effort: an event is never a reason for
 * a lifecycle step to fail). */
void nb_vm_event_journal(const char *line);

/* nb_vm_event_line + nb_vm_event_journal. */
void nb_vm_event_emit(const char *action, const char *id, const char *name, int exit_code,
		      int signal);

/* The journal opened for reading (at its end when at_end); -1 and err. */
int nb_vm_events_open(bool at_end, struct nb_err *err);

/* Has the journal been renamed away from under fd (a new one begun)? */
bool nb_vm_events_rotated(int fd);

#endif
