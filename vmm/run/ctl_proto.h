/* The control protocol of a detached VM (issue 15), version
 * NB_CTL_PROTOCOL: JSON lines on the Unix socket RUN_DIR/vm/ID/control.sock
 * (vmm/run/vmdir.h). A client writes one request per line,
 *   {"op": "state"}  {"op": "kill", "signal": "HUP"}  {"op": "stop", "timeout": 10}
 * and reads one reply line per request, in order:
 *   {"ok": true, ...}  or  {"ok": false, "error": {"code": "...", "message": "..."}}
 * "events" replies {"ok":true} and then streams one event object per line
 * until the client closes. "stop" and "wait" reply once the VM exited.
 * Ops: hello state config stop kill pause resume stats events wait, and
 * from protocol 2 update ({"op":"update","memory":BYTES}: the container's
 * memory limit on the running VM, vmm/run/resources.h), and from protocol
 * 3 snapshot ({"op":"snapshot","path":DIR}: the running VM saved into DIR,
 * an absolute path that does not exist or is an empty directory; it goes
 * on running; the reply comes once DIR holds the snapshot).
 * A request is hostile: at most NB_CTL_LINE_MAX bytes (longer: an error
 * "too_long" and the connection closes), a JSON object whose fields are
 * known and of the right type; anything else gets an error reply. The
 * full reference is README.md's "Control API". Host only. */
#ifndef NESTBOX_VMM_RUN_CTL_PROTO_H
#define NESTBOX_VMM_RUN_CTL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NB_CTL_PROTOCOL 3
#define NB_CTL_LINE_MAX 4096u
#define NB_CTL_MAX_TIMEOUT 86400
#define NB_CTL_PATH_MAX 1024u

enum nb_ctl_op {
	NB_CTL_HELLO,
	NB_CTL_STATE,
	NB_CTL_CONFIG,
	NB_CTL_STOP,
	NB_CTL_KILL,
	NB_CTL_PAUSE,
	NB_CTL_RESUME,
	NB_CTL_STATS,
	NB_CTL_EVENTS,
	NB_CTL_WAIT,
	NB_CTL_UPDATE,
	NB_CTL_SNAPSHOT,
};

struct nb_ctl_request {
	enum nb_ctl_op op;
	int timeout; /* stop: seconds before SIGKILL (default 10) */
	int signal;  /* kill: the signal (default SIGKILL) */
	/* update: the container's memory limit in bytes, rounded down to
	 * 4 KiB, from NB_MEMORY_MIN to NB_SIGMSG_MEMORY_MAX (required) */
	uint64_t memory;
	/* snapshot: the directory, absolute, at most NB_CTL_PATH_MAX bytes,
	 * no control characters, no "." or ".." component (required) */
	char path[NB_CTL_PATH_MAX + 1];
};

/* Error codes of replies. */
#define NB_CTL_E_BAD_REQUEST "bad_request" /* not a JSON object, bad field */
#define NB_CTL_E_TOO_LONG "too_long"       /* line longer than NB_CTL_LINE_MAX */
#define NB_CTL_E_UNKNOWN_OP "unknown_op"   /* no such op */
#define NB_CTL_E_NOT_RUNNING "not_running" /* the op needs a running VM */
#define NB_CTL_E_FAILED "failed"           /* the op failed on the host */

/* Parse one request line (len bytes, no newline). On failure returns -1,
 * *code one of the codes above and msg (size bytes) why. */
int nb_ctl_parse(const char *line, size_t len, struct nb_ctl_request *req, const char **code,
		 char *msg, size_t size);

/* A signal as users give it: "HUP", "SIGHUP", "hup" or "1". 0: none. */
int nb_ctl_signal(const char *text);

/* The op's name. */
const char *nb_ctl_op_name(enum nb_ctl_op op);

/* An error reply line (with its newline), malloc'd; msg goes in as
 * well-formed UTF-8 (nb_utf8_scrub). */
char *nb_ctl_error_reply(const char *code, const char *msg);

#endif
