/* One function invocation on a clone of a template (issue 16): the VMM in
 * a child process whose stdout, stderr and guest console are captured
 * (each up to a cap), a byte when the clone resumes, a hard deadline, and
 * the result as fn's JSON object. `nestbox fn` starts a clone with its
 * workload; `nestbox serve` starts it first and feeds the workload (spec
 * and stdin, nb_run_clone_spec) once a request comes. */
#ifndef NESTBOX_VMM_CLI_FN_H
#define NESTBOX_VMM_CLI_FN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nestbox/err.h"
#include "vmm/run/run.h"

#define NB_FN_DEFAULT_MAX_OUTPUT (1u << 20)
#define NB_FN_MAX_OUTPUT (64u << 20)

/* What the child writes, the parent reads. */
enum {
	NB_FN_OUT,
	NB_FN_ERR,
	NB_FN_CONSOLE,
	NB_FN_READY,
	NB_FN_MSG,
	NB_FN_STATUS,
	NB_FN_NET, /* a struct nb_clone_net (feed_later only) */
	NB_FN_NPIPES
};

struct nb_fn_capture {
	int fd;
	char *buf;
	size_t len, max;
	uint64_t total;
	bool keep_end; /* over max: keep the last bytes (a console), not the first */
};

struct nb_fn_clone {
	pid_t pid;
	struct nb_fn_capture cap[NB_FN_NPIPES];
	int feed_fd;         /* the clone's stdin (nb_fn_start with feed_later); -1 */
	const uint8_t *feed; /* what goes there, from nb_fn_feed */
	size_t feed_len, feed_off;
	bool timeout_given; /* a timeout applied (timed_out also from status 124) */
	double t0, t_ready, t_end;
	bool killed;
	bool early; /* the VMM told the status (its output all in) before it exited */
	int wstatus;
	char msg[NB_ERR_MSG_MAX];
};

/* Fork the clone of run (a template opened: warm.restore set), capturing
 * up to max_output bytes of each output stream. feed_later: its stdin
 * port reads a pipe nb_fn_feed fills; else the spec and warm.input go in
 * at once. t0 is when the invocation started (its "start" duration). */
int nb_fn_start(struct nb_run_options *run, uint64_t max_output, bool feed_later, double t0,
		struct nb_fn_clone *c, struct nb_err *err);

/* Until the clone resumed (true) or its VMM is done with its pipes
 * (false: c->msg says why, when it knows). */
bool nb_fn_wait_ready(struct nb_fn_clone *c);

/* While the clone waits for its workload: take what its pipes have (a
 * guest's console lines) without waiting. False when its VMM is gone
 * (reaped; c->msg says why). */
bool nb_fn_idle(struct nb_fn_clone *c);

/* What to write on the clone's stdin (data stays the caller's until
 * nb_fn_collect returns). */
void nb_fn_feed(struct nb_fn_clone *c, const void *data, size_t len);

/* Feed, collect every pipe until the child is done with them (killing it
 * at deadline, CLOCK_MONOTONIC ms; 0: none), reap it; or until it told
 * the workload's status, its output all read: then the VMM is still
 * tearing the VM down (nb_fn_free waits for it). */
void nb_fn_collect(struct nb_fn_clone *c, double deadline);

/* fn's JSON object (README); *failed: nestbox itself failed ("error"). */
struct json_object *nb_fn_result(const struct nb_fn_clone *c, bool *failed);

/* Reap the child, killed first unless it told its status; close and
 * free. */
void nb_fn_free(struct nb_fn_clone *c);

/* CLOCK_MONOTONIC in ms. */
double nb_fn_now_ms(void);

#endif
