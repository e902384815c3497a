/* `nestbox serve` (issue 16): a warm pool answering function invocations
 * on a Unix socket. The server forks one worker per pool slot; a worker
 * restores a clone of the template (vmm/cli/fn.h), waits for it to resume,
 * then accepts one connection on the shared socket, feeds the request's
 * workload to its clone, answers with fn's JSON object and exits: each VM
 * serves one invocation and is destroyed, and the server forks a new
 * worker in its place, as it does for a clone that ends before its
 * request (too many in a row stop the pool). SIGTERM or SIGINT drains:
 * idle workers stop their clones, busy ones finish their invocation, the
 * socket is removed. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/parse.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/cli/cli.h"
#include "vmm/cli/commands.h"
#include "vmm/cli/fn.h"
#include "vmm/cli/print.h"
#include "vmm/cli/serve_req.h"
#include "vmm/run/template.h"

#define MAX_ARGS 512
#define MAX_POOL 64u
#define IO_TIMEOUT_SEC 10 /* a client's request must arrive, its answer be read, in this */
#define IDLE_POLL_MS 200
/* A worker's exit status: its clone ended before a request came. */
#define WORKER_CLONE_GONE 3
/* The pool stops when this many clones in a row (times the pool's size)
 * end before their requests: a template whose clones cannot live. */
#define GONE_IN_A_ROW 2u

static const char serve_usage[] =
	"Usage: nestbox serve --socket PATH --template NAME [--pool N] [--timeout SECS]\n"
	"                     [--max-output BYTES] [run options: -e, -w, -u, ...]\n"
	"\n"
	"Keep N (default 2, at most 64) clones of template NAME restored and answer function\n"
	"invocations on the Unix socket PATH: one JSON request per connection, e.g.\n"
	"  {\"argv\":[\"sh\",\"-c\",\"cat\"],\"env\":[\"A=b\"],\"stdin\":\"text\",\"timeout\":5}\n"
	"answered with one line: nestbox fn's JSON object. Each clone serves one invocation\n"
	"and is destroyed. SIGTERM/SIGINT: finish the invocations under way, stop the rest,\n"
	"remove PATH, exit 0. Exit status 125 when the pool cannot be started.\n"
	"--jail DIR --uid U --gid G and --cgroup PARENT confine every clone's VMM. A template\n"
	"made with --network puts each clone on that network with its own address (or the\n"
	"one --network names; --network none: no network).\n";

struct serve_opts {
	char *argv[MAX_ARGS + 4];
	const char *socket;
	unsigned pool, timeout;
	uint64_t max_output;
	struct nb_run_options run;
};

static int parse_serve(int argc, char **argv, struct serve_opts *so, struct nb_err *err)
{
	cleanup_free char *dir = nb_cli_self_dir();
	int n = 0;

	so->pool = 2;
	so->max_output = NB_FN_DEFAULT_MAX_OUTPUT;
	if (argc > MAX_ARGS)
		return nb_err_set(err, 0, "serve: too many arguments");
	so->argv[n++] = (char *)"run";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return 1;
		if (!strcmp(a, "--socket") && v)
			so->socket = argv[++i];
		else if (!strcmp(a, "--pool") && v) {
			if (nb_parse_uint("--pool", argv[++i], 1, MAX_POOL, &so->pool, err) < 0)
				return -1;
		} else if (!strcmp(a, "--timeout") && v) {
			if (nb_parse_uint("--timeout", argv[++i], 1, NB_SERVE_MAX_TIMEOUT,
					  &so->timeout, err) < 0)
				return -1;
		} else if (!strcmp(a, "--max-output") && v) {
			if (nb_parse_u64("--max-output", argv[++i], 0, NB_FN_MAX_OUTPUT,
					 &so->max_output, err) < 0)
				return -1;
		} else {
			so->argv[n++] = argv[i];
		}
	}
	so->argv[n++] = (char *)"--";
	so->argv[n++] = (char *)"true"; /* each request brings its command */
	so->argv[n] = NULL;
	if (nb_cli_parse_run(n, so->argv, dir ? dir : ".", &so->run, err) != 0)
		return -1;
	if (!so->socket)
		return nb_err_set(err, 0, "serve: --socket PATH is required");
	if (!so->run.warm.name)
		return nb_err_set(err, 0, "serve: --template NAME is required");
	return 0;
}

/* ---- the socket ------------------------------------------------------------ */

static int socket_addr(const char *path, struct sockaddr_un *sa, struct nb_err *err)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa->sun_path))
		return nb_err_set(err, 0, "--socket %s: longer than %zu bytes", path,
				  sizeof(sa->sun_path) - 1);
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Bind path (a stale socket nobody answers on is replaced; a live one or
 * any other file is refused), owner-only, listening. */
static int listen_on(const char *path, struct nb_err *err)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, probe;

	if (socket_addr(path, &sa, err) < 0)
		return -1;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return nb_err_set(err, 0, "--socket %s exists and is no socket", path);
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			return nb_err_set(err, 0, "--socket %s: another server answers there",
					  path);
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	/* Non-blocking: the workers poll it, and one may take a connection
	 * another saw. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return nb_err_sys(err, "serve: socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 128) < 0) {
		nb_err_sys(err, "--socket %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/* ---- a worker: one clone, one invocation ------------------------------------ */

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* The request: up to a newline, EOF, or just over NB_SERVE_REQ_MAX bytes
 * (which the parser then refuses). NULL: out of memory. */
static char *read_request(int fd, size_t *len)
{
	size_t cap = 0, n = 0;
	char *buf = NULL;

	for (;;) {
		ssize_t got;

		if (n == cap) {
			char *more;

			if (cap > NB_SERVE_REQ_MAX)
				break;
			cap = cap ? cap * 2 : 4096;
			more = realloc(buf, cap);
			if (!more) {
				free(buf);
				return NULL;
			}
			buf = more;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
		if (memchr(buf + n - (size_t)got, '\n', (size_t)got))
			break;
	}
	*len = n;
	return buf;
}

static void answer(int fd, struct json_object *o)
{
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the client went away */
		off += (size_t)n;
	}
	if (write(fd, "\n", 1) < 0) {
		/* the same */
	}
}

static void answer_error(int fd, const char *what, const struct nb_err *err)
{
	struct json_object *o = json_object_new_object();
	char msg[NB_ERR_MSG_MAX + 32];

	/* It may quote the caller's bytes (an unknown field), cut. */
	snprintf(msg, sizeof(msg), "%s: %s", what, err->msg);
	json_object_object_add(o, "error", json_object_new_string(nb_utf8_scrub(msg)));
	answer(fd, o);
	json_object_put(o);
}

/* The run options of one request: the server's, with its command and its
 * environment after the server's -e. */
static int request_run(const struct serve_opts *so, const struct nb_serve_req *req,
		       struct nb_run_options *run, const char ***env, struct nb_err *err)
{
	size_t n = so->run.container.nenv;

	*run = so->run;
	run->argv = (const char *const *)req->argv;
	run->argc = req->argc;
	*env = calloc(n + req->nenv + 1, sizeof(**env));
	if (!*env)
		return nb_err_set(err, ENOMEM, "request");
	for (size_t i = 0; i < n; i++)
		(*env)[i] = so->run.container.env[i];
	for (size_t i = 0; i < req->nenv; i++)
		(*env)[n + i] = req->env[i];
	run->container.env = *env;
	run->container.nenv = n + req->nenv;
	return 0;
}

/* Feed req to the clone, wait for it, answer on fd. */
static void invoke(const struct serve_opts *so, struct nb_fn_clone *c,
		   const struct nb_serve_req *req, int fd, double t0)
{
	struct nb_run_options run;
	struct nb_err err = { 0 };
	cleanup_free const char **env = NULL;
	cleanup_free void *spec = NULL;
	cleanup_free uint8_t *feed = NULL;
	size_t len = 0;
	unsigned timeout = req->timeout_sec ? req->timeout_sec : so->timeout;
	struct json_object *o;
	bool failed;

	const struct nb_fn_capture *told = &c->cap[NB_FN_NET];
	struct nb_clone_net net;
	bool has_net = told->len == sizeof(net);

	if (has_net)
		memcpy(&net, told->buf, sizeof(net));
	if ((so->run.net.network || so->run.net.tap) && !has_net) {
		nb_err_set(&err, 0, "the clone did not tell its network address");
		answer_error(fd, "request", &err);
		return;
	}
	if (request_run(so, req, &run, &env, &err) < 0 ||
	    nb_run_clone_spec(&run, has_net ? &net : NULL, &spec, &len, &err) < 0) {
		answer_error(fd, "request", &err);
		return;
	}
	feed = malloc(len + req->input_len);
	if (!feed) {
		nb_err_set(&err, ENOMEM, "request");
		answer_error(fd, "request", &err);
		return;
	}
	memcpy(feed, spec, len);
	if (req->input_len)
		memcpy(feed + len, req->input, req->input_len);
	c->t0 = t0;
	c->timeout_given = timeout != 0;
	/* the output cap the request asked for, within the server's */
	for (int i = NB_FN_OUT; req->has_max_output && i <= NB_FN_ERR; i++)
		if (req->max_output < c->cap[i].max)
			c->cap[i].max = (size_t)req->max_output;
	nb_fn_feed(c, feed, len + req->input_len);
	nb_fn_collect(c, timeout ? t0 + timeout * 1e3 : 0);
	o = nb_fn_result(c, &failed);
	answer(fd, o);
	json_object_put(o);
}

/* Serve connections until one brought a workload (or the server stops):
 * 0. WORKER_CLONE_GONE when the clone ended first: no request is handed a
 * dead clone (the server starts another in its place). */
static int serve_one(const struct serve_opts *so, struct nb_fn_clone *c, int listen_fd)
{
	for (;;) {
		struct pollfd p[1 + NB_FN_NPIPES] = { { .fd = listen_fd, .events = POLLIN } };
		struct timeval tv = { .tv_sec = IO_TIMEOUT_SEC };
		struct nb_serve_req req;
		struct nb_err err = { 0 };
		cleanup_free char *text = NULL;
		size_t len = 0;
		double t0;
		int fd;

		if (stopping)
			return 0;
		for (int i = 0; i < NB_FN_NPIPES; i++)
			p[1 + i] = (struct pollfd){ .fd = c->cap[i].fd, .events = POLLIN };
		if (poll(p, 1 + NB_FN_NPIPES, IDLE_POLL_MS) <= 0)
			continue;
		if (!nb_fn_idle(c)) {
			fprintf(stderr,
				"nestbox serve: a clone of template %s ended before its request "
				"(%s); another takes its place\n",
				so->run.warm.name, c->msg);
			return WORKER_CLONE_GONE;
		}
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue; /* another worker took it */
		t0 = nb_fn_now_ms();
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		text = read_request(fd, &len);
		if (!text || nb_serve_req_parse(text, len, &req, &err) < 0) {
			if (!text)
				nb_err_set(&err, ENOMEM, "request");
			answer_error(fd, "bad request", &err); /* the clone is untouched: keep it */
			close(fd);
			continue;
		}
		invoke(so, c, &req, fd, t0);
		nb_serve_req_free(&req);
		close(fd);
		return 0;
	}
}

static _Noreturn void worker(struct serve_opts *so, int listen_fd)
{
	struct sigaction sa = { .sa_handler = on_stop };
	struct nb_fn_clone c;
	struct nb_err err = { 0 };
	sigset_t none;
	uint64_t max = so->max_output;
	int rc;

	/* Dies with the server; a SIGTERM before the clone resumed just ends it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(0);
	sigemptyset(&none);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_IGN); /* the terminal's ^C goes to the server, which drains */
	sigprocmask(SIG_SETMASK, &none, NULL);
	so->run.timeout_sec = 0; /* the worker keeps each request's deadline */
	if (nb_fn_start(&so->run, max, true, nb_fn_now_ms(), &c, &err) < 0) {
		nb_fn_free(&c);
		nb_cli_error("nestbox serve", &err);
		_exit(NB_STATUS_ERROR); /* the server stops the pool */
	}
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a client or clone gone is an error return, not our end */
	if (!nb_fn_wait_ready(&c)) {
		nb_err_set(&err, 0, "a clone of template %s did not start: %s", so->run.warm.name,
			   c.msg);
		nb_fn_free(&c);
		nb_cli_error("nestbox serve", &err);
		_exit(NB_STATUS_ERROR); /* the server stops the pool */
	}
	rc = serve_one(so, &c, listen_fd);
	nb_fn_free(&c);
	_exit(rc);
}

/* ---- the server ------------------------------------------------------------ */

struct pool {
	pid_t pids[MAX_POOL];
	unsigned alive;
	unsigned gone_in_a_row; /* WORKER_CLONE_GONE since a worker last served */
	bool draining, failed;
};

static void spawn(struct serve_opts *so, struct pool *pool, int listen_fd)
{
	for (unsigned i = 0; i < so->pool && !pool->draining; i++) {
		pid_t pid;

		if (pool->pids[i] > 0)
			continue;
		fflush(NULL);
		pid = fork();
		if (pid == 0)
			worker(so, listen_fd);
		if (pid < 0) {
			perror("nestbox serve: fork");
			pool->draining = pool->failed = true;
			return;
		}
		pool->pids[i] = pid;
		pool->alive++;
	}
}

static void drain(struct pool *pool)
{
	if (pool->draining)
		return;
	pool->draining = true;
	for (unsigned i = 0; i < MAX_POOL; i++)
		if (pool->pids[i] > 0)
			kill(pool->pids[i], SIGTERM);
}

static void reap(struct pool *pool, unsigned size)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (unsigned i = 0; i < MAX_POOL; i++) {
			if (pool->pids[i] != pid)
				continue;
			pool->pids[i] = 0;
			pool->alive--;
			/* A worker that could not start its clone said why: a
			 * pool that cannot start stops rather than loop. One
			 * killed by a signal, or whose clone ended before its
			 * request, is replaced; too many of the latter in a
			 * row, and the clones cannot live: the pool stops. */
			if (WIFEXITED(status) && WEXITSTATUS(status) == NB_STATUS_ERROR) {
				pool->failed = true;
				drain(pool);
			}
			if (!WIFEXITED(status) || WEXITSTATUS(status) != WORKER_CLONE_GONE)
				pool->gone_in_a_row = 0;
			else if (++pool->gone_in_a_row >= GONE_IN_A_ROW * size && !pool->draining) {
				fprintf(stderr,
					"nestbox serve: %u clones in a row ended before their "
					"requests: stopping the pool\n",
					pool->gone_in_a_row);
				pool->failed = true;
				drain(pool);
			}
		}
}

static int serve(struct serve_opts *so, struct nb_err *err)
{
	struct pool pool = { 0 };
	sigset_t set;
	int listen_fd, sfd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
		return nb_err_sys(err, "serve: signals");
	listen_fd = listen_on(so->socket, err);
	if (listen_fd < 0) {
		close(sfd);
		return -1;
	}
	fprintf(stderr, "nestbox serve: %u clones of template %s on %s\n", so->pool,
		so->run.warm.name, so->socket);
	spawn(so, &pool, listen_fd);
	while (pool.alive) {
		struct signalfd_siginfo si;

		if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si) && errno != EINTR)
			break;
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			drain(&pool);
		reap(&pool, so->pool);
		spawn(so, &pool, listen_fd);
	}
	close(listen_fd);
	unlink(so->socket);
	close(sfd);
	if (pool.failed)
		return nb_err_set(err, 0, "serve: the pool stopped (a worker's error is above)");
	return 0;
}

int nb_cmd_serve(int argc, char **argv)
{
	static struct serve_opts so; /* large: not on the stack */
	struct nb_template tmpl = { 0 };
	struct nb_err err = { 0 };
	int rc = parse_serve(argc, argv, &so, &err);

	if (rc == 1) {
		fputs(serve_usage, stdout);
		return 0;
	}
	if (rc == 0)
		rc = nb_template_open(so.run.warm.name, &so.run, &tmpl, &err);
	if (rc == 0) {
		so.run.report = nb_cli_reporter();
		rc = serve(&so, &err);
	}
	nb_template_free(&tmpl);
	if (rc < 0)
		return nb_cli_error("nestbox serve", &err);
	return 0;
}
