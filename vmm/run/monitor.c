#include "vmm/run/monitor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "common/procstat.h"
#include "images/cache.h"
#include "common/sigmsg.h"
#include "images/json.h"
#include "nestbox/cleanup.h"
#include "vmm/confine/cgroup.h"
#include "vmm/run/ctl_proto.h"
#include "vmm/run/records.h"
#include "vmm/run/resources.h"
#include "vmm/run/sigforward.h"
#include "vmm/run/template.h"
#include "vmm/run/vmdir.h"
#include "vmm/run/vmevents.h"
#include "vmm/run/warm.h"

#define MAX_CLIENTS 32
#define PIPE_SIZE (1 << 20)

struct vmlog {
	const char *name; /* "stdout.log" */
	int fd;
	uint64_t size, total;
};

struct client {
	int fd;
	bool events;   /* streams events */
	bool waiting;  /* a stop or wait to answer at the exit */
	bool snapshot; /* a snapshot to answer (m->snap) */
	size_t len;
	char buf[NB_CTL_LINE_MAX + 1];
};

struct nb_monitor {
	const struct nb_run_options *opts;
	struct nb_vm_state state;
	char name[NB_VM_NAME_MAX + 1];
	int ready_fd; /* to the waiting `run -d`, until started */
	int out[2], err[2], notify[2];
	int hold[2]; /* to the VMM: a held snapshot may go on (NB_MONITOR_SNAPSHOT_HELD) */
	int listen_fd, sig_fd;
	struct vmlog logs[2];
	struct client clients[MAX_CLIENTS];
	pid_t pid;
	bool exited;
	double stop_deadline; /* CLOCK_MONOTONIC ms of the SIGKILL; 0 none */
	bool stop_requested;
	struct { /* `nestbox snapshot` under way: the VMM saves, then we copy */
		struct client *client; /* NULL: none */
		char path[NB_CTL_PATH_MAX + 1];
		bool made;           /* path was created for it (removed on failure) */
		struct nb_err disks; /* msg[0]: the -v disks' copy failed so */
	} snap;
	struct {                     /* --cgroup: the VMM's group (nb_monitor_set_cgroup) */
		char path[PATH_MAX]; /* empty: none */
		uint64_t memory_max; /* its memory.max */
	} cg;
};

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- state and events ------------------------------------------------------ */

static void save_state(struct nb_monitor *m)
{
	struct nb_err err;

	if (nb_vm_state_write(m->opts->detach.dir_fd, &m->state, &err) < 0)
		nb_report(&m->opts->report, NB_REPORT_MESSAGE, "%s", err.msg);
}

static void send_line(struct client *c, const char *line);

static void emit(struct nb_monitor *m, const char *action, int exit_code, int signal)
{
	cleanup_free char *line = nb_vm_event_line(action, m->opts->detach.id, m->name, exit_code,
						   signal);

	if (!line)
		return;
	nb_vm_event_journal(line);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (m->clients[i].fd >= 0 && m->clients[i].events)
			send_line(&m->clients[i], line);
}

/* ---- becoming the monitor -------------------------------------------------- */

/* In `run -d`: wait for the monitor's word. */
static int await_start(int fd, const char *id, struct nb_err *err)
{
	char buf[NB_ERR_MSG_MAX];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1 &&
	       ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0 || (n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	close(fd);
	buf[len] = '\0';
	if (len >= 1 && buf[0] == NB_MONITOR_STARTED)
		return 1;
	nb_vmdir_remove(id, &(struct nb_err){ 0 });
	if (len > 1)
		return nb_err_set(err, 0, "%s", buf + 1);
	return nb_err_set(err, 0, "the VM's monitor ended before the VM started");
}

static void null_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	for (int i = 0; fd >= 0 && i < 3; i++)
		dup2(fd, i);
	if (fd > 2)
		close(fd);
}

int nb_monitor_detach(const struct nb_run_options *opts, struct nb_monitor **out,
		      struct nb_err *err)
{
	struct nb_monitor *m = calloc(1, sizeof(*m));
	int ready[2];
	pid_t pid;

	if (!m)
		return nb_err_set(err, ENOMEM, "monitor");
	if (pipe2(ready, O_CLOEXEC) < 0) {
		free(m);
		return nb_err_sys(err, "pipe");
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		free(m);
		close(ready[0]);
		close(ready[1]);
		return nb_err_sys(err, "fork");
	}
	if (pid > 0) {
		free(m);
		close(ready[1]);
		return await_start(ready[0], opts->detach.id, err);
	}
	close(ready[0]);
	setsid();
	null_stdio();
	signal(SIGPIPE, SIG_IGN);
	*m = (struct nb_monitor){ .opts = opts,
				  .ready_fd = ready[1],
				  .out = { -1, -1 },
				  .err = { -1, -1 },
				  .notify = { -1, -1 },
				  .hold = { -1, -1 },
				  .listen_fd = -1,
				  .sig_fd = -1,
				  .logs = { { "stdout.log", -1, 0, 0 },
					    { "stderr.log", -1, 0, 0 } } };
	for (int i = 0; i < MAX_CLIENTS; i++)
		m->clients[i].fd = -1;
	snprintf(m->name, sizeof(m->name), "%s", opts->detach.name ? opts->detach.name : "");
	m->state = (struct nb_vm_state){ .status = NB_VM_CREATED,
					 .monitor_pid = getpid(),
					 .monitor_start = nb_proc_start_time(getpid()),
					 .exit_code = -1,
					 .memory_limit = opts->container.memory_max,
					 .created_ns = nb_vm_now_ns() };
	save_state(m);
	emit(m, "create", -1, -1);
	*out = m;
	return 0;
}

/* ---- set-up ------------------------------------------------------------------- */

static int open_log(struct nb_monitor *m, struct vmlog *log, bool truncate, struct nb_err *err)
{
	log->fd = openat(m->opts->detach.dir_fd, log->name,
			 O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC |
				 (truncate ? O_TRUNC : 0),
			 0600);
	log->size = 0;
	if (log->fd < 0)
		return nb_err_sys(err, "log %s", log->name);
	return 0;
}

static int listen_control(struct nb_monitor *m, struct nb_err *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	/* Through the directory's descriptor: any run directory's length. */
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/" NB_VM_SOCKET,
		 m->opts->detach.dir_fd);
	m->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->listen_fd < 0)
		return nb_err_sys(err, "control socket");
	unlinkat(m->opts->detach.dir_fd, NB_VM_SOCKET, 0);
	if (bind(m->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(m->listen_fd, 16) < 0)
		return nb_err_sys(err, "control socket %s/vm/%s/" NB_VM_SOCKET, nb_run_dir(),
				  m->opts->detach.id);
	return 0;
}

int nb_monitor_prepare(struct nb_monitor *m, struct nb_err *err)
{
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	if (pipe2(m->out, O_CLOEXEC) < 0 || pipe2(m->err, O_CLOEXEC) < 0 ||
	    pipe2(m->notify, O_CLOEXEC) < 0 || pipe2(m->hold, O_CLOEXEC) < 0)
		return nb_err_sys(err, "pipe");
	/* Room for bursts while the monitor writes the logs. */
	fcntl(m->out[0], F_SETPIPE_SZ, PIPE_SIZE);
	fcntl(m->err[0], F_SETPIPE_SZ, PIPE_SIZE);
	for (int i = 0; i < 2; i++)
		if (open_log(m, &m->logs[i], true, err) < 0)
			return -1;
	m->sig_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (m->sig_fd < 0)
		return nb_err_sys(err, "signalfd");
	return listen_control(m, err);
}

/* The VMM's snapshot files (vmm/run/warm.h) in NB_VM_SNAPSHOT_DIR,
 * opened here so that a jailed VMM has them too. */
static int snapshot_files(struct nb_run_options *opts, struct nb_err *err)
{
	struct nb_warm_out out = { -1, -1 };
	cleanup_close int dfd = -1;

	if (nb_run_snapshot_refusal(opts))
		return 0;
	if (mkdirat(opts->detach.dir_fd, NB_VM_SNAPSHOT_DIR, 0700) < 0 && errno != EEXIST)
		return nb_err_sys(err, "snapshot files");
	dfd = openat(opts->detach.dir_fd, NB_VM_SNAPSHOT_DIR,
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return nb_err_sys(err, "snapshot files");
	if (nb_warm_out_openat(&out, dfd, NB_VM_SNAPSHOT_DIR, err) < 0)
		return -1;
	opts->detach.has_snapshot_fds = true;
	opts->detach.snapshot_state_fd = out.state_fd;
	opts->detach.snapshot_memory_fd = out.memory_fd;
	return 0;
}

int nb_monitor_child(struct nb_monitor *m, struct nb_run_options *opts, struct nb_err *err)
{
	sigset_t chld;

	dup2(m->out[1], STDOUT_FILENO);
	dup2(m->err[1], STDERR_FILENO);
	close(m->out[0]);
	close(m->err[0]);
	close(m->notify[0]);
	close(m->hold[1]);
	close(m->listen_fd);
	close(m->sig_fd);
	close(m->ready_fd);
	for (int i = 0; i < 2; i++)
		close(m->logs[i].fd);
	opts->detach.notify_fd = m->notify[1];
	opts->detach.hold_fd = m->hold[0];
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	return snapshot_files(opts, err);
}

void nb_monitor_set_cgroup(struct nb_monitor *m, const char *path, uint64_t memory_max)
{
	snprintf(m->cg.path, sizeof(m->cg.path), "%s", path);
	m->cg.memory_max = memory_max;
}

/* ---- logs ---------------------------------------------------------------------- */

/* name.N-1 -> name.N ... name -> name.1, and a fresh name. */
static void rotate(struct nb_monitor *m, struct vmlog *log)
{
	int dir = m->opts->detach.dir_fd;
	unsigned files = m->opts->detach.log_max_files;
	char from[64], to[64];
	struct nb_err err;

	close(log->fd);
	for (unsigned k = files - 1; k >= 1; k--) {
		snprintf(to, sizeof(to), "%s.%u", log->name, k);
		if (k == 1)
			snprintf(from, sizeof(from), "%s", log->name);
		else
			snprintf(from, sizeof(from), "%s.%u", log->name, k - 1);
		renameat(dir, from, dir, to);
	}
	open_log(m, log, true, &err);
}

static void log_write(struct nb_monitor *m, struct vmlog *log, const char *data, size_t len)
{
	uint64_t max = m->opts->detach.log_max_size;

	while (len > 0 && log->fd >= 0) {
		size_t room = max && log->size < max ? (size_t)(max - log->size) : len;
		size_t n = room < len ? room : len;
		ssize_t w;

		if (max && log->size >= max) {
			rotate(m, log);
			continue;
		}
		w = write(log->fd, data, n);
		if (w <= 0)
			return; /* a full disk: the bytes are counted, not kept */
		log->size += (uint64_t)w;
		log->total += (uint64_t)w;
		data += w;
		len -= (size_t)w;
	}
}

/* Read what the pipe holds. Returns false at EOF (the fd is closed). */
static bool pump(struct nb_monitor *m, int *fd, struct vmlog *log)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(*fd, buf, sizeof(buf))) > 0)
		log_write(m, log, buf, (size_t)n);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(*fd);
		*fd = -1;
		return false;
	}
	return true;
}

/* ---- the VMM's word ------------------------------------------------------------ */

static void started(struct nb_monitor *m)
{
	if (m->state.status != NB_VM_CREATED)
		return;
	m->state.status = NB_VM_RUNNING;
	m->state.pid = m->pid;
	m->state.started_ns = nb_vm_now_ns();
	save_state(m);
	emit(m, "start", -1, -1);
	if (m->ready_fd >= 0) {
		char r = NB_MONITOR_STARTED;

		if (write(m->ready_fd, &r, 1) < 0) {
			/* run -d went away: the VM runs on */
		}
		close(NB_STEAL(m->ready_fd, -1));
	}
}

/* ---- snapshots ------------------------------------------------------------------ */

static void reply_obj(struct client *c, json_object *o);
static void reply_error(struct client *c, const char *code, const char *msg);

/* DIR for a snapshot: made now, or an empty directory already there. */
static int snapshot_dir(struct nb_monitor *m, const char *path, char *msg, size_t size)
{
	DIR *d;
	struct dirent *e;
	bool empty = true;

	m->snap.made = mkdir(path, 0700) == 0;
	if (m->snap.made)
		return 0;
	if (errno != EEXIST)
		return snprintf(msg, size, "%.300s: %s", path, strerror(errno)), -1;
	d = opendir(path);
	if (!d)
		return snprintf(msg, size, "%.300s: %s", path, strerror(errno)), -1;
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	if (!empty)
		return snprintf(
			       msg, size,
			       "%.300s is not empty: give a new or empty directory for the snapshot",
			       path),
		       -1;
	return 0;
}

/* The VMM's copy of guest RAM (its memory file, on the run directory's
 * tmpfs as a rule: memory no reclaim frees) is charged to its cgroup while
 * it exists: memory.max is raised by that much from the signal until the
 * copy is truncated, and set back after (on = false). */
static int snapshot_charge(struct nb_monitor *m, bool on, struct nb_err *err)
{
	uint64_t extra = on ? m->opts->mem_size + NB_WARM_MAX_STATE : 0;

	if (!m->cg.path[0])
		return 0;
	if (nb_hostcg_set_memory_max(m->cg.path, m->cg.memory_max + extra, err) < 0)
		return nb_err_wrap(err, "the VMM's cgroup");
	return 0;
}

/* The op: checked here, then the VMM saves (NB_SIGNAL_SNAPSHOT) and
 * answers on the notify pipe (snapshot_done). */
static int do_snapshot(struct nb_monitor *m, struct client *c, const char *path, char *msg,
		       size_t size)
{
	const char *why = nb_run_snapshot_refusal(m->opts);
	struct nb_err err = { 0 };

	if (why)
		return snprintf(msg, size, "this VM cannot be snapshotted: %s", why), -1;
	if (m->state.status == NB_VM_PAUSED)
		return snprintf(msg, size, "the VM is paused: unpause it first"), -1;
	if (m->stop_deadline)
		return snprintf(msg, size, "the VM is stopping"), -1;
	if (m->snap.client)
		return snprintf(msg, size, "a snapshot of this VM is being taken"), -1;
	if (snapshot_dir(m, path, msg, size) < 0)
		return -1;
	if (snapshot_charge(m, true, &err) < 0 ||
	    (kill(m->pid, NB_SIGNAL_SNAPSHOT) < 0 && nb_err_sys(&err, "the VMM") < 0)) {
		snprintf(msg, size, "%s", err.msg);
		snapshot_charge(m, false, &err);
		if (m->snap.made)
			rmdir(path);
		return -1;
	}
	m->snap.client = c;
	c->snapshot = true;
	snprintf(m->snap.path, sizeof(m->snap.path), "%s", path);
	return 0;
}

/* The VM's -v disks copied into DIR (NB_TEMPLATE_DISK) while the VMM
 * holds it, the guest's block cache and the files in step. */
static int snapshot_disks(struct nb_monitor *m, struct nb_err *err)
{
	cleanup_close int to = open(m->snap.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (to < 0)
		return nb_err_sys(err, "%s", m->snap.path);
	for (size_t i = 0; i < m->opts->nvolumes; i++) {
		const struct nb_run_volume *v = &m->opts->volumes[i];
		cleanup_free char *host = v->dir ? NULL : realpath(v->host, NULL);
		char name[32];
		struct stat st;

		if (v->dir)
			continue;
		if (!host || stat(host, &st) < 0)
			return nb_err_sys(err, "-v %s", v->host);
		if (!S_ISREG(st.st_mode))
			return nb_err_set(err, 0,
					  "-v %s is not a regular file (a snapshot copies disk "
					  "image files, not block devices)",
					  v->host);
		snprintf(name, sizeof(name), NB_TEMPLATE_DISK, i);
		if (nb_copy_sparse(AT_FDCWD, host, to, name, err) < 0)
			return nb_err_wrap(err, "copying -v %s", v->host);
	}
	return 0;
}

/* NB_MONITOR_SNAPSHOT_HELD: the VMM has saved and holds the VM; its disks
 * are copied, then it goes on (and says 'S'). */
static void snapshot_held(struct nb_monitor *m)
{
	m->snap.disks.msg[0] = '\0';
	if (m->snap.client)
		snapshot_disks(m, &m->snap.disks);
	if (write(m->hold[1], "g", 1) < 0) {
		/* the VMM is gone: its end answers the snapshot */
	}
}

/* The files the VMM saves into, in the VM's NB_VM_SNAPSHOT_DIR. */
static const char *const vmm_files[] = { NB_WARM_STATE_FILE, NB_WARM_MEMORY_FILE };

/* The VMM's files (in from) copied out of the VM's directory, and
 * meta.json for `run --restore`. */
static int snapshot_copy(struct nb_monitor *m, int from, struct nb_err *err)
{
	cleanup_close int to = open(m->snap.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (from < 0 || to < 0)
		return nb_err_sys(err, "%s", from < 0 ? "the VMM's snapshot" : m->snap.path);
	for (size_t i = 0; i < 2; i++)
		if (nb_copy_sparse(from, vmm_files[i], to, vmm_files[i], err) < 0)
			return -1;
	return nb_template_save_meta(m->snap.path, m->opts, err);
}

/* The VMM writes its files (in dir) anew at the next snapshot: no copy of
 * guest RAM stays beside the VM meanwhile, whether or not it was copied
 * out. */
static void snapshot_release(struct nb_monitor *m, int dir)
{
	struct nb_err err;

	for (size_t i = 0; dir >= 0 && i < 2; i++) {
		int fd = openat(dir, vmm_files[i], O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);

		if (fd >= 0)
			close(fd);
	}
	if (snapshot_charge(m, false, &err) < 0)
		nb_report(&m->opts->report, NB_REPORT_MESSAGE, "snapshot: %s", err.msg);
}

/* A failed snapshot into a DIR that was there: what it wrote goes. */
static void snapshot_unlink(struct nb_monitor *m)
{
	cleanup_close int dir = open(m->snap.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char name[32];

	if (dir < 0)
		return;
	for (size_t i = 0; i < 2; i++)
		unlinkat(dir, vmm_files[i], 0);
	unlinkat(dir, NB_TEMPLATE_META, 0);
	for (size_t i = 0; i < m->opts->nvolumes; i++) {
		snprintf(name, sizeof(name), NB_TEMPLATE_DISK, i);
		unlinkat(dir, name, 0);
	}
}

static void snapshot_done(struct nb_monitor *m, bool saved)
{
	struct client *c = m->snap.client;
	struct nb_err err = { 0 };
	cleanup_close int dir = openat(m->opts->detach.dir_fd, NB_VM_SNAPSHOT_DIR,
				       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc = !saved ? nb_err_set(&err, 0, "the VMM could not save the VM (see nestbox logs)")
		 : m->snap.disks.msg[0] ? nb_err_set(&err, 0, "%s", m->snap.disks.msg)
					: snapshot_copy(m, dir, &err);

	snapshot_release(m, dir);
	m->snap.client = NULL;
	m->snap.disks.msg[0] = '\0';
	if (!c || !c->snapshot) { /* the client went away: so does the snapshot */
		rc = -1;
		c = NULL;
	} else {
		c->snapshot = false;
	}
	if (rc < 0) {
		if (m->snap.made)
			nb_rm_rf(m->snap.path);
		else
			snapshot_unlink(m);
		if (c)
			reply_error(c, NB_CTL_E_FAILED, err.msg);
		return;
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "path", json_object_new_string(m->snap.path));
	reply_obj(c, o);
	emit(m, "snapshot", -1, -1);
}

static void read_notify(struct nb_monitor *m)
{
	char buf[64];
	ssize_t n;

	while ((n = read(m->notify[0], buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == NB_MONITOR_STARTED)
				started(m);
			else if (buf[i] == NB_MONITOR_OOM)
				m->state.oom_killed = true;
			else if (buf[i] == NB_MONITOR_SNAPSHOT_HELD)
				snapshot_held(m);
			else if (buf[i] == NB_MONITOR_SNAPSHOT ||
				 buf[i] == NB_MONITOR_SNAPSHOT_FAILED)
				snapshot_done(m, buf[i] == NB_MONITOR_SNAPSHOT);
		}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		close(NB_STEAL(m->notify[0], -1));
}

/* ---- control clients ----------------------------------------------------------- */

static void drop(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->events = c->waiting = c->snapshot = false;
	c->len = 0;
}

/* A client that does not take its replies is dropped, never waited on. */
static void send_line(struct client *c, const char *line)
{
	size_t len = strlen(line);

	if (c->fd >= 0 && send(c->fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len)
		drop(c);
}

static void reply_obj(struct client *c, json_object *o)
{
	cleanup_free char *line = NULL;

	json_object_object_add(o, "ok", json_object_new_boolean(true));
	if (asprintf(&line, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) >= 0)
		send_line(c, line);
	else
		line = NULL;
	json_object_put(o);
}

static void reply_error(struct client *c, const char *code, const char *msg)
{
	cleanup_free char *line = nb_ctl_error_reply(code, msg);

	if (line)
		send_line(c, line);
}

static long proc_kib(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	long kib = -1;
	size_t klen = strlen(key);

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	cleanup_fclose FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && sscanf(line + klen, " %ld", &kib) == 1)
			break;
	return kib;
}

/* utime + stime of pid, all threads, in microseconds. */
static uint64_t cpu_usec(pid_t pid)
{
	struct nb_procstat st;
	long hz = sysconf(_SC_CLK_TCK);

	if (!nb_procstat_read(pid, &st) || hz <= 0)
		return 0;
	return (st.utime + st.stime) * 1000000 / (uint64_t)hz;
}

static json_object *stats(struct nb_monitor *m)
{
	json_object *o = json_object_new_object();
	int64_t now = nb_vm_now_ns();

	json_object_object_add(o, "pid", json_object_new_int(m->pid));
	json_object_object_add(o, "vmm_rss_kib",
			       json_object_new_int64(proc_kib(m->pid, "status", "VmRSS:")));
	json_object_object_add(o, "vmm_pss_kib",
			       json_object_new_int64(proc_kib(m->pid, "smaps_rollup", "Pss:")));
	json_object_object_add(o, "vmm_hwm_kib",
			       json_object_new_int64(proc_kib(m->pid, "status", "VmHWM:")));
	json_object_object_add(o, "cpu_usec", json_object_new_int64((int64_t)cpu_usec(m->pid)));
	json_object_object_add(o, "stdout_bytes", json_object_new_int64((int64_t)m->logs[0].total));
	json_object_object_add(o, "stderr_bytes", json_object_new_int64((int64_t)m->logs[1].total));
	json_object_object_add(o, "uptime_ms",
			       json_object_new_int64(m->state.started_ns
							     ? (now - m->state.started_ns) / 1000000
							     : 0));
	json_object_object_add(o, "memory_bytes",
			       json_object_new_int64((int64_t)m->opts->mem_size));
	json_object_object_add(o, "memory_limit_bytes",
			       json_object_new_int64((int64_t)m->state.memory_limit));
	json_object_object_add(o, "cpus", json_object_new_int((int)m->opts->cpus));
	return o;
}

/* Are all of pid's threads stopped (state T)? */
static bool all_stopped(pid_t pid)
{
	char path[64], buf[512];
	bool all = true;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return false;
	while (all && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/stat", (int)pid, e->d_name);
		cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		char *p = strrchr(buf, ')');
		all = p && (p[2] == 'T' || p[2] == 't');
	}
	closedir(d);
	return all;
}

/* Pause: SIGSTOP stops every thread of the VMM, vCPUs included (a vCPU in
 * KVM_RUN is kicked out by the signal): no guest instruction runs until
 * SIGCONT. Returns once every thread is stopped. */
static int do_pause(struct nb_monitor *m, const char **msg)
{
	if (m->state.status == NB_VM_PAUSED)
		return *msg = "the VM is already paused", -1;
	if (m->stop_deadline)
		return *msg = "the VM is stopping", -1;
	kill(m->pid, SIGSTOP);
	for (int i = 0; i < 500 && !all_stopped(m->pid); i++)
		usleep(2000);
	m->state.status = NB_VM_PAUSED;
	save_state(m);
	emit(m, "pause", -1, -1);
	return 0;
}

static void resume(struct nb_monitor *m)
{
	kill(m->pid, SIGCONT);
	m->state.status = NB_VM_RUNNING;
	save_state(m);
	emit(m, "unpause", -1, -1);
}

static int do_kill(struct nb_monitor *m, int sig, const char **msg)
{
	if (sig != SIGKILL && !nb_sigmsg_signal_ok(sig))
		return *msg = "this signal cannot reach the workload: nestbox forwards HUP INT "
			      "QUIT TERM USR1 USR2 WINCH, and KILL stops the VM",
		       -1;
	if (sig != SIGKILL && m->state.status == NB_VM_PAUSED)
		return *msg = "the VM is paused: unpause it first (or kill it with KILL)", -1;
	kill(m->pid, sig);
	emit(m, "kill", -1, sig);
	return 0;
}

static void do_stop(struct nb_monitor *m, int timeout)
{
	if (m->state.status == NB_VM_PAUSED)
		resume(m);
	m->stop_requested = true;
	emit(m, "kill", -1, SIGTERM);
	kill(m->pid, SIGTERM);
	m->stop_deadline = mono_ms() + timeout * 1000.0;
	if (timeout == 0) {
		kill(m->pid, SIGKILL);
		emit(m, "kill", -1, SIGKILL);
	}
}

/* `nestbox update --memory`: checked here (the reply says why not), then
 * queued to the VMM with the limit in pages (vmm/run/sigforward.h), which
 * sets the balloon and tells nestbox-init. A paused VMM takes it at
 * unpause. */
static int do_update(struct nb_monitor *m, uint64_t memory, char *msg, size_t size)
{
	const struct nb_run_options *o = m->opts;
	union sigval value = { .sival_int = (int)(uint32_t)(memory / 4096) };
	struct nb_err err;

	if (m->stop_deadline)
		return snprintf(msg, size, "the VM is stopping"), -1;
	if (nb_memory_update_check(o->mem_size, o->container.memory_max, o->container.memory_low,
				   memory, &err) < 0)
		return snprintf(msg, size, "%s", err.msg), -1;
	if (sigqueue(m->pid, NB_SIGNAL_MEMORY, value) < 0)
		return snprintf(msg, size, "the VMM: %s", strerror(errno)), -1;
	m->state.memory_limit = memory;
	save_state(m);
	emit(m, "update", -1, -1);
	return 0;
}

static json_object *config(struct nb_monitor *m)
{
	cleanup_free char *text = NULL;
	struct nb_err err;
	size_t len;

	if (nb_file_read_nofollow(m->opts->detach.dir_fd, NB_VM_CONFIG, 1u << 20, &text, &len,
				  &err) < 0)
		return NULL;
	return nb_json_parse(text, len, "config.json", &err);
}

static void handle(struct nb_monitor *m, struct client *c, const struct nb_ctl_request *req)
{
	json_object *o = json_object_new_object();
	const char *msg = NULL;
	bool running = m->state.status == NB_VM_RUNNING || m->state.status == NB_VM_PAUSED;

	if (!running && req->op != NB_CTL_HELLO && req->op != NB_CTL_STATE &&
	    req->op != NB_CTL_CONFIG && req->op != NB_CTL_EVENTS && req->op != NB_CTL_WAIT) {
		json_object_put(o);
		return reply_error(c, NB_CTL_E_NOT_RUNNING, "the VM is not running");
	}
	switch (req->op) {
	case NB_CTL_HELLO:
		json_object_object_add(o, "protocol", json_object_new_int(NB_CTL_PROTOCOL));
		json_object_object_add(o, "server", json_object_new_string("nestbox"));
		json_object_object_add(o, "id", json_object_new_string(m->opts->detach.id));
		break;
	case NB_CTL_STATE:
		json_object_object_add(o, "state", nb_vm_state_docker(&m->state));
		break;
	case NB_CTL_CONFIG: {
		json_object *cfg = config(m);
		if (!cfg) {
			json_object_put(o);
			return reply_error(c, NB_CTL_E_FAILED, "config.json cannot be read");
		}
		json_object_object_add(o, "config", cfg);
		break;
	}
	case NB_CTL_STOP:
		do_stop(m, req->timeout);
		c->waiting = true;
		json_object_put(o);
		return;
	case NB_CTL_WAIT:
		c->waiting = true;
		json_object_put(o);
		return;
	case NB_CTL_KILL:
		if (do_kill(m, req->signal, &msg) < 0) {
			json_object_put(o);
			return reply_error(c, NB_CTL_E_FAILED, msg);
		}
		break;
	case NB_CTL_PAUSE:
		if (do_pause(m, &msg) < 0) {
			json_object_put(o);
			return reply_error(c, NB_CTL_E_FAILED, msg);
		}
		break;
	case NB_CTL_RESUME:
		if (m->state.status != NB_VM_PAUSED) {
			json_object_put(o);
			return reply_error(c, NB_CTL_E_FAILED, "the VM is not paused");
		}
		resume(m);
		break;
	case NB_CTL_STATS:
		json_object_object_add(o, "stats", stats(m));
		break;
	case NB_CTL_EVENTS:
		c->events = true;
		break;
	case NB_CTL_SNAPSHOT: {
		char why[NB_ERR_MSG_MAX];

		json_object_put(o);
		if (do_snapshot(m, c, req->path, why, sizeof(why)) < 0)
			return reply_error(c, NB_CTL_E_FAILED, why);
		return; /* the reply comes with the VMM's word */
	}
	case NB_CTL_UPDATE: {
		char why[NB_ERR_MSG_MAX];

		if (do_update(m, req->memory, why, sizeof(why)) < 0) {
			json_object_put(o);
			return reply_error(c, NB_CTL_E_FAILED, why);
		}
		json_object_object_add(o, "memory",
				       json_object_new_int64((int64_t)m->state.memory_limit));
		break;
	}
	}
	reply_obj(c, o);
}

static void client_read(struct nb_monitor *m, struct client *c)
{
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, MSG_DONTWAIT);
	char *nl, msg[NB_ERR_MSG_MAX];
	const char *code;
	struct nb_ctl_request req;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return drop(c);
	if (n < 0)
		return;
	c->len += (size_t)n;
	while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->len))) {
		size_t line = (size_t)(nl - c->buf);

		if (nb_ctl_parse(c->buf, line, &req, &code, msg, sizeof(msg)) < 0)
			reply_error(c, code, msg);
		else
			handle(m, c, &req);
		memmove(c->buf, nl + 1, c->len - line - 1);
		c->len -= line + 1;
	}
	if (c->fd >= 0 && c->len >= NB_CTL_LINE_MAX) {
		reply_error(c, NB_CTL_E_TOO_LONG, "a request line is at most 4096 bytes");
		drop(c);
	}
}

static void accept_client(struct nb_monitor *m)
{
	int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (m->clients[i].fd < 0) {
			m->clients[i].fd = fd;
			m->clients[i].len = 0;
			return;
		}
	struct client busy = { .fd = fd };
	reply_error(&busy, NB_CTL_E_FAILED, "too many control connections");
	drop(&busy);
}

/* ---- the loop -------------------------------------------------------------------- */

static bool reap(struct nb_monitor *m, int *wstatus)
{
	struct signalfd_siginfo info;

	while (read(m->sig_fd, &info, sizeof(info)) == sizeof(info))
		;
	return waitpid(m->pid, wstatus, WNOHANG) == m->pid;
}

enum { P_SIG, P_OUT, P_ERR, P_NOTIFY, P_LISTEN, P_CLIENTS };

int nb_monitor_run(struct nb_monitor *m, pid_t pid, int *wstatus, struct nb_err *err)
{
	struct pollfd p[P_CLIENTS + MAX_CLIENTS];

	(void)err;
	m->pid = pid;
	close(NB_STEAL(m->out[1], -1));
	close(NB_STEAL(m->err[1], -1));
	close(NB_STEAL(m->notify[1], -1));
	close(NB_STEAL(m->hold[0], -1));
	fcntl(m->out[0], F_SETFL, O_NONBLOCK);
	fcntl(m->err[0], F_SETFL, O_NONBLOCK);
	fcntl(m->notify[0], F_SETFL, O_NONBLOCK);
	while (!m->exited) {
		int timeout = -1;

		p[P_SIG] = (struct pollfd){ .fd = m->sig_fd, .events = POLLIN };
		p[P_OUT] = (struct pollfd){ .fd = m->out[0], .events = POLLIN };
		p[P_ERR] = (struct pollfd){ .fd = m->err[0], .events = POLLIN };
		p[P_NOTIFY] = (struct pollfd){ .fd = m->notify[0], .events = POLLIN };
		p[P_LISTEN] = (struct pollfd){ .fd = m->listen_fd, .events = POLLIN };
		for (int i = 0; i < MAX_CLIENTS; i++)
			p[P_CLIENTS + i] = (struct pollfd){ .fd = m->clients[i].fd,
							    .events = POLLIN };
		if (m->stop_deadline) {
			double left = m->stop_deadline - mono_ms();
			timeout = left > 0 ? (int)left + 1 : 0;
		}
		if (poll(p, P_CLIENTS + MAX_CLIENTS, timeout) < 0 && errno != EINTR)
			return nb_err_sys(err, "monitor: poll");
		if (m->stop_deadline && mono_ms() >= m->stop_deadline) {
			kill(m->pid, SIGKILL);
			emit(m, "kill", -1, SIGKILL);
			m->stop_deadline = 0;
		}
		if (p[P_NOTIFY].revents)
			read_notify(m);
		if (p[P_OUT].revents)
			pump(m, &m->out[0], &m->logs[0]);
		if (p[P_ERR].revents)
			pump(m, &m->err[0], &m->logs[1]);
		if (p[P_LISTEN].revents)
			accept_client(m);
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (p[P_CLIENTS + i].revents && m->clients[i].fd >= 0)
				client_read(m, &m->clients[i]);
		if (p[P_SIG].revents)
			m->exited = reap(m, wstatus);
	}
	/* What the VMM wrote before it ended (a child of its holding the
	 * pipes open does not keep the monitor). */
	if (m->notify[0] >= 0)
		read_notify(m);
	for (int i = 0; i < 2; i++)
		if (*(i ? &m->err[0] : &m->out[0]) >= 0)
			pump(m, i ? &m->err[0] : &m->out[0], &m->logs[i]);
	return 0;
}

/* ---- the end ------------------------------------------------------------------- */

/* Why `run -d` failed: err's message, else the tail of the VM's stderr. */
static void tell_failure(struct nb_monitor *m, int rc, int status, const struct nb_err *err)
{
	char buf[NB_ERR_MSG_MAX] = "E";
	size_t len = 1;

	if (rc < 0) {
		len += (size_t)snprintf(buf + 1, sizeof(buf) - 1, "%s", err->msg);
	} else {
		cleanup_free char *log = NULL;
		struct nb_err e2;
		size_t n = 0;

		nb_file_read(m->opts->detach.dir_fd, "stderr.log", 1u << 20, &log, &n, &e2);
		while (n > 0 && log[n - 1] == '\n')
			n--;
		size_t from = n > 300 ? n - 300 : 0;
		len += (size_t)snprintf(buf + 1, sizeof(buf) - 1,
					"the VM ended (status %d) before it started%s%.*s", status,
					n ? ": " : "", (int)(n - from), log ? log + from : "");
	}
	if (write(m->ready_fd, buf, len < sizeof(buf) ? len : sizeof(buf) - 1) < 0) {
		/* run -d went away */
	}
	close(NB_STEAL(m->ready_fd, -1));
}

_Noreturn void nb_monitor_finish(struct nb_monitor *m, int rc, int status, const struct nb_err *err)
{
	int code = rc < 0 ? nb_err_status(err) : status;
	char reply[64];

	m->state.status = NB_VM_EXITED;
	m->state.exit_code = code & 0xff;
	m->state.finished_ns = nb_vm_now_ns();
	if (rc < 0)
		snprintf(m->state.error, sizeof(m->state.error), "%.*s",
			 (int)sizeof(m->state.error) - 1, err->msg);
	save_state(m);
	if (m->state.oom_killed)
		emit(m, "oom", -1, -1);
	emit(m, "die", m->state.exit_code, -1);
	if (m->stop_requested)
		emit(m, "stop", -1, -1);
	if (m->snap.client) /* the VMM ended before it saved: no half snapshot */
		snapshot_done(m, false);
	snprintf(reply, sizeof(reply), "{\"ok\":true,\"exitCode\":%d}\n", m->state.exit_code);
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (m->clients[i].fd >= 0 && m->clients[i].waiting)
			send_line(&m->clients[i], reply);
		drop(&m->clients[i]);
	}
	if (m->listen_fd >= 0) {
		close(m->listen_fd);
		unlinkat(m->opts->detach.dir_fd, NB_VM_SOCKET, 0);
	}
	if (m->ready_fd >= 0) /* never started: run -d removes the directory */
		tell_failure(m, rc, status, err);
	else if (m->opts->detach.auto_remove &&
		 nb_vmdir_remove(m->opts->detach.id, &(struct nb_err){ 0 }) == 0)
		emit(m, "destroy", -1, -1);
	exit(0);
}
