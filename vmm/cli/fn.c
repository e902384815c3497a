/* One function invocation on a clone (vmm/cli/fn.h). */
#include "vmm/cli/fn.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/base64.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "common/parse.h"
#include "nestbox/abi.h"
#include "vmm/run/records.h"

#define CONSOLE_MAX 65536u /* the guest console's end kept, for nestbox-init's verdicts */
/* nestbox-init's line when the container's cgroup saw an OOM kill
 * (container/container.c, nb_container_finish). */
#define OOM_LINE "container killed: out of memory"
#define KILLED_WAIT_MS 1000 /* after the kill: the pipes close with the VMM */
#define STATUS_MAX 15u      /* "%d\n" of an exit status */
#define CONSOLE_TAIL 2048u  /* of the guest's console, beside an error */

double nb_fn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The clone, in a child whose stdout and stderr are the capture pipes and
 * whose guest console goes to its own pipe; the VMM's own failure goes to
 * the MSG pipe, a byte on READY when the clone resumes. It dies with its
 * parent. Never returns. */
static _Noreturn void run_child(struct nb_run_options *run, int (*p)[2], int feed)
{
	struct nb_err err = { 0 };
	int status = NB_STATUS_ERROR;
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1 || devnull < 0 ||
	    dup2(devnull, STDIN_FILENO) < 0 || dup2(p[NB_FN_OUT][1], STDOUT_FILENO) < 0 ||
	    dup2(p[NB_FN_ERR][1], STDERR_FILENO) < 0)
		_exit(NB_STATUS_ERROR);
	run->warm.ready_fd = p[NB_FN_READY][1];
	run->warm.has_ready_fd = true;
	run->warm.console_fd = p[NB_FN_CONSOLE][1];
	run->warm.has_console_fd = true;
	run->warm.status_fd = p[NB_FN_STATUS][1];
	run->warm.has_status_fd = true;
	run->warm.error_fd = p[NB_FN_MSG][1]; /* a confined VMM's error */
	run->warm.has_error_fd = true;
	run->warm.stdin_fd = feed;
	run->warm.has_stdin_fd = feed >= 0;
	run->warm.net_fd = p[NB_FN_NET][1];
	run->warm.has_net_fd = feed >= 0;
	/* The VMM's remarks (a timeout, a host stop) are the JSON's fields,
	 * never the function's stderr. */
	run->report = (struct nb_report){ .fn = NULL };
	if (nb_run(run, &status, &err) < 0) {
		/* write(2): the main thread's seccomp list has no fstat, which
		 * stdio (dprintf) would call */
		if (nb_write_all(p[NB_FN_MSG][1], err.msg, strlen(err.msg)) < 0) {
			/* the parent is gone */
		}
		_exit(nb_err_status(&err));
	}
	_exit(status);
}

int nb_fn_start(struct nb_run_options *run, uint64_t max_output, bool feed_later, double t0,
		struct nb_fn_clone *c, struct nb_err *err)
{
	const size_t max[NB_FN_NPIPES] = { max_output,
					   max_output,
					   CONSOLE_MAX,
					   1,
					   NB_ERR_MSG_MAX - 1,
					   STATUS_MAX,
					   sizeof(struct nb_clone_net) };
	int p[NB_FN_NPIPES][2], feed[2] = { -1, -1 };
	int rc = 0;

	*c = (struct nb_fn_clone){
		.pid = -1, .feed_fd = -1, .t0 = t0, .timeout_given = run->timeout_sec != 0
	};
	for (int i = 0; i < NB_FN_NPIPES; i++) {
		p[i][0] = p[i][1] = -1;
		c->cap[i] = (struct nb_fn_capture){ .fd = -1,
						    .max = max[i],
						    .buf = malloc(max[i] + 1),
						    .keep_end = i == NB_FN_CONSOLE };
		if (rc == 0 && (!c->cap[i].buf || pipe2(p[i], O_CLOEXEC) < 0))
			rc = nb_err_sys(err, "fn");
	}
	if (rc == 0 && feed_later && pipe2(feed, O_CLOEXEC) < 0)
		rc = nb_err_sys(err, "fn");
	fflush(NULL);
	if (rc == 0 && (c->pid = fork()) < 0)
		rc = nb_err_sys(err, "fn: fork");
	if (c->pid == 0) {
		if (feed[1] >= 0)
			close(feed[1]);
		run_child(run, p, feed[0]);
	}
	for (int i = 0; i < NB_FN_NPIPES; i++) {
		if (p[i][1] >= 0)
			close(p[i][1]);
		c->cap[i].fd = p[i][0];
	}
	if (feed[0] >= 0)
		close(feed[0]);
	c->feed_fd = feed[1];
	if (c->feed_fd >= 0)
		fcntl(c->feed_fd, F_SETFL, O_NONBLOCK);
	return rc;
}

/* Read what fd has; at EOF or on an error close it (-1). */
static void capture_read(struct nb_fn_capture *c)
{
	char buf[65536];
	ssize_t n = read(c->fd, buf, sizeof(buf));

	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			close(c->fd);
			c->fd = -1;
		}
		return;
	}
	c->total += (uint64_t)n;
	if (c->keep_end && c->len + (size_t)n > c->max) {
		size_t take = (size_t)n < c->max ? (size_t)n : c->max;
		size_t keep = c->max - take;

		memmove(c->buf, c->buf + c->len - keep, keep);
		memcpy(c->buf + keep, buf + n - (ssize_t)take, take);
		c->len = c->max;
	} else if (c->len < c->max) {
		size_t take = (size_t)n < c->max - c->len ? (size_t)n : c->max - c->len;

		memcpy(c->buf + c->len, buf, take);
		c->len += take;
	}
}

/* Write what the pipe takes of the feed; at its end (or when the clone
 * stopped reading) close it: the workload sees EOF. */
static void feed_write(struct nb_fn_clone *c)
{
	ssize_t n = c->feed_off < c->feed_len
			    ? write(c->feed_fd, c->feed + c->feed_off, c->feed_len - c->feed_off)
			    : 0;

	if (n > 0)
		c->feed_off += (size_t)n;
	if (c->feed_off == c->feed_len || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(c->feed_fd);
		c->feed_fd = -1;
	}
}

void nb_fn_feed(struct nb_fn_clone *c, const void *data, size_t len)
{
	c->feed = data;
	c->feed_len = len;
	c->feed_off = 0;
}

/* One round: wait up to wait_ms for the pipes (and the feed when
 * feeding); how many of them had something, -1 when every pipe is
 * closed. */
static int pump(struct nb_fn_clone *c, int wait_ms, bool feeding)
{
	struct pollfd p[NB_FN_NPIPES + 1];
	int open = 0, ready = 0;

	for (int i = 0; i < NB_FN_NPIPES; i++) {
		p[i] = (struct pollfd){ .fd = c->cap[i].fd, .events = POLLIN };
		open += c->cap[i].fd >= 0;
	}
	p[NB_FN_NPIPES] = (struct pollfd){ .fd = feeding ? c->feed_fd : -1, .events = POLLOUT };
	if (!open)
		return -1;
	if (poll(p, NB_FN_NPIPES + 1, wait_ms) < 0 && errno != EINTR)
		return -1;
	for (int i = 0; i < NB_FN_NPIPES; i++)
		if (p[i].revents) {
			capture_read(&c->cap[i]);
			ready++;
		}
	if (p[NB_FN_NPIPES].revents)
		feed_write(c);
	if (c->cap[NB_FN_READY].len && !c->t_ready)
		c->t_ready = nb_fn_now_ms();
	return ready;
}

static void reap(struct nb_fn_clone *c)
{
	struct nb_err err;

	if (c->pid <= 0)
		return;
	waitpid(c->pid, &c->wstatus, 0);
	/* A child killed (fn's hard timeout, a pool drained) could not remove
	 * what its run recorded for gc (vmm/run/records.h: its cgroup, a vsock
	 * socket; a network lease): collected now, as a confined run does at
	 * its start, so that nothing is left behind. */
	if (WIFSIGNALED(c->wstatus))
		nb_gc_collect(NULL, &err);
	c->pid = -1;
	c->t_end = nb_fn_now_ms();
	memcpy(c->msg, c->cap[NB_FN_MSG].buf, c->cap[NB_FN_MSG].len);
	c->msg[c->cap[NB_FN_MSG].len] = '\0';
	if (WIFSIGNALED(c->wstatus) && !c->killed && !c->msg[0])
		snprintf(c->msg, sizeof(c->msg), "nestbox's VMM was killed by signal %d",
			 WTERMSIG(c->wstatus));
}

bool nb_fn_wait_ready(struct nb_fn_clone *c)
{
	while (!c->t_ready)
		if (pump(c, -1, false) < 0) {
			reap(c);
			if (!c->msg[0])
				snprintf(c->msg, sizeof(c->msg),
					 "the clone stopped before it resumed (status %d)",
					 WIFEXITED(c->wstatus) ? WEXITSTATUS(c->wstatus) : -1);
			return false;
		}
	return true;
}

bool nb_fn_idle(struct nb_fn_clone *c)
{
	while (pump(c, 0, false) > 0) {
	}
	/* Only the VMM holds the status pipe: at its end, the VMM is gone. */
	if (c->cap[NB_FN_STATUS].fd >= 0)
		return true;
	reap(c);
	if (!c->msg[0])
		snprintf(c->msg, sizeof(c->msg), "its VMM ended with status %d",
			 WIFEXITED(c->wstatus) ? WEXITSTATUS(c->wstatus) : -1);
	return false;
}

/* The status the VMM told, once its line is whole: every byte of output
 * was written before it, so what the pipes hold now is all of it. */
static bool told_status(struct nb_fn_clone *c)
{
	const struct nb_fn_capture *st = &c->cap[NB_FN_STATUS];
	char line[STATUS_MAX + 1];
	uint64_t code;

	if (c->killed || !st->len || st->buf[st->len - 1] != '\n')
		return false;
	memcpy(line, st->buf, st->len - 1);
	line[st->len - 1] = '\0';
	if (!nb_parse_decimal(line, 0, 255, &code))
		return false;
	while (pump(c, 0, false) > 0) {
	}
	c->wstatus = W_EXITCODE((int)code, 0);
	c->t_end = nb_fn_now_ms();
	c->early = true;
	return true;
}

void nb_fn_collect(struct nb_fn_clone *c, double deadline)
{
	for (;;) {
		int wait = deadline > 0 ? (int)(deadline - nb_fn_now_ms()) : -1;

		if (deadline > 0 && wait <= 0 && !c->killed) {
			kill(c->pid, SIGKILL); /* the hard timeout: the VM goes with its VMM */
			c->killed = true;
		}
		if (c->killed)
			wait = KILLED_WAIT_MS;
		if (pump(c, wait, c->feed_fd >= 0) < 0)
			break;
		if (told_status(c))
			return;
	}
	reap(c);
}

static void add_output(struct json_object *o, const char *name, const struct nb_fn_capture *c)
{
	char key[32];
	bool text = nb_utf8_valid(c->buf, c->len);

	if (text) {
		json_object_object_add(o, name, json_object_new_string_len(c->buf, (int)c->len));
	} else {
		char *b64 = malloc(BASE64_ENCODE_RAW_LENGTH(c->len) + 1);
		if (b64) {
			base64_encode_raw(b64, c->len, (const uint8_t *)c->buf);
			b64[BASE64_ENCODE_RAW_LENGTH(c->len)] = '\0';
		}
		json_object_object_add(o, name, json_object_new_string(b64 ? b64 : ""));
		free(b64);
	}
	snprintf(key, sizeof(key), "%s_encoding", name);
	json_object_object_add(o, key, json_object_new_string(text ? "utf-8" : "base64"));
	snprintf(key, sizeof(key), "%s_truncated", name);
	json_object_object_add(o, key, json_object_new_boolean(c->total > c->len));
}

static char printable(unsigned char c)
{
	return c == '\n' || (c >= 0x20 && c < 0x7f) ? (char)c : '?';
}

/* The end of the guest's console, for the guest's own account of a
 * failure (a kernel panic): printable ASCII and newlines, any other byte
 * a '?', carriage returns dropped. */
static void add_console(struct json_object *o, const struct nb_fn_capture *c)
{
	size_t n = c->len < CONSOLE_TAIL ? c->len : CONSOLE_TAIL, len = 0;
	const unsigned char *s = (const unsigned char *)c->buf + c->len - n;
	char text[CONSOLE_TAIL];

	for (size_t i = 0; i < n; i++)
		if (s[i] != '\r')
			text[len++] = printable(s[i]);
	json_object_object_add(o, "console", json_object_new_string_len(text, (int)len));
}

struct json_object *nb_fn_result(const struct nb_fn_clone *c, bool *failed)
{
	struct json_object *o = json_object_new_object(), *d = json_object_new_object();
	const struct nb_fn_capture *cap = c->cap;
	int code = WIFEXITED(c->wstatus) ? WEXITSTATUS(c->wstatus) : -1;
	bool timed_out = c->killed || (c->timeout_given && code == NB_STATUS_TIMEOUT);
	bool signalled = code > NB_STATUS_SIGNAL_BASE && code <= NB_STATUS_SIGNAL_BASE + 64;
	bool oom = memmem(cap[NB_FN_CONSOLE].buf, cap[NB_FN_CONSOLE].len, OOM_LINE,
			  strlen(OOM_LINE));
	/* A pool's clone resumed before its request came: no start time. */
	double ready = !c->t_ready ? c->t_end : c->t_ready < c->t0 ? c->t0 : c->t_ready;

	*failed = c->msg[0] && !c->killed;
	json_object_object_add(o, "exit_code",
			       timed_out || *failed || code < 0 ? NULL : json_object_new_int(code));
	json_object_object_add(o, "signal",
			       signalled && !timed_out
				       ? json_object_new_int(code - NB_STATUS_SIGNAL_BASE)
				       : NULL);
	json_object_object_add(o, "timed_out", json_object_new_boolean(timed_out));
	json_object_object_add(o, "oom", json_object_new_boolean(oom));
	json_object_object_add(d, "start", json_object_new_double(ready - c->t0));
	json_object_object_add(d, "run", json_object_new_double(c->t_end - ready));
	json_object_object_add(o, "duration_ms", d);
	add_output(o, "stdout", &cap[NB_FN_OUT]);
	add_output(o, "stderr", &cap[NB_FN_ERR]);
	json_object_object_add(o, "truncated",
			       json_object_new_boolean(cap[NB_FN_OUT].total > cap[NB_FN_OUT].len ||
						       cap[NB_FN_ERR].total > cap[NB_FN_ERR].len));
	if (*failed)
		json_object_object_add(o, "error", json_object_new_string(c->msg));
	/* A guest that failed or never answered may have said why. */
	if ((*failed || timed_out) && cap[NB_FN_CONSOLE].len)
		add_console(o, &cap[NB_FN_CONSOLE]);
	return o;
}

void nb_fn_free(struct nb_fn_clone *c)
{
	if (c->pid > 0 && !c->early)
		kill(c->pid, SIGKILL);
	reap(c);
	for (int i = 0; i < NB_FN_NPIPES; i++) {
		if (c->cap[i].fd >= 0)
			close(c->cap[i].fd);
		c->cap[i].fd = -1;
		free(c->cap[i].buf);
		c->cap[i].buf = NULL;
	}
	if (c->feed_fd >= 0)
		close(c->feed_fd);
	c->feed_fd = -1;
}
