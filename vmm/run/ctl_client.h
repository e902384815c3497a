/* The client side of a detached VM's control socket (vmm/run/ctl_proto.h),
 * for the CLI's commands. Replies are hostile too: bounded lines, parsed
 * with json-c, checked. Host only. */
#ifndef NESTBOX_VMM_RUN_CTL_CLIENT_H
#define NESTBOX_VMM_RUN_CTL_CLIENT_H

#include <json-c/json.h>

#include "nestbox/err.h"

#define NB_CTL_REPLY_MAX (1u << 20)

/* Connect to VM id's socket. -2: nobody listens (the VM is not running). */
int nb_ctl_connect(const char *id, struct nb_err *err);

/* Send request (one JSON object, no newline) and read the reply. A reply
 * {"ok":false,...} is an error (err: its message); otherwise *reply (put
 * it). */
int nb_ctl_call(int fd, const char *request, json_object **reply, struct nb_err *err);

/* The next line from fd as JSON (events). 0 at EOF (*line NULL). */
int nb_ctl_read(int fd, json_object **line, struct nb_err *err);

#endif
