#include "vmm/run/records.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/file.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/confine/cgroup.h"
#include "vmm/hostnet/hostnet.h"

#define RECORD_SUFFIX ".run"

/* NESTBOX_RUN_DIR, else /run/nestbox for root, else the user's runtime
 * directory, else /tmp/nestbox-UID. */
const char *nb_run_dir(void)
{
	static char user_dir[PATH_MAX];
	const char *dir = getenv("NESTBOX_RUN_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");

	if (dir && dir[0])
		return dir;
	if (geteuid() == 0)
		return "/run/nestbox";
	if (xdg && xdg[0] == '/')
		snprintf(user_dir, sizeof(user_dir), "%s/nestbox", xdg);
	else
		snprintf(user_dir, sizeof(user_dir), "/tmp/nestbox-%u", (unsigned)geteuid());
	return user_dir;
}

/* The run directory, opened. In a shared directory such as /tmp another
 * user may have made it first, or planted a symlink: only a real directory
 * (the last component is not followed) of our own that nobody else can
 * enter is used. create: make it (0700) when missing. Returns the fd, -2
 * when it is missing and !create, -1 with err set when it is refused. */
int nb_run_dir_open(bool create, struct nb_err *err)
{
	const char *dir = nb_run_dir();
	struct stat st;
	int fd;

	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return nb_err_sys(err, "run directory %s (set NESTBOX_RUN_DIR)", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !create)
		return -2;
	if (fd < 0)
		return nb_err_sys(err,
				  "run directory %s is not a directory (a symlink?): remove it "
				  "or set NESTBOX_RUN_DIR",
				  dir);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return nb_err_sys(err, "run directory %s", dir);
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(fd);
		return nb_err_set(err, 0,
				  "run directory %s belongs to uid %u with mode %04o; nestbox "
				  "needs it private to uid %u (mode 0700): remove it or set "
				  "NESTBOX_RUN_DIR",
				  dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
				  (unsigned)geteuid());
	}
	return fd;
}

/* Write name's content into dir_fd through NAME.tmp, renamed once
 * complete (gc never reads half a record). The temporary file is created
 * afresh, never through a link; one of ours left by a dead run with this
 * pid is replaced. */
static int write_record(int dir_fd, const char *name, const char *text, struct nb_err *err)
{
	char tmp[NAME_MAX + 1];

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	if (nb_file_write_atomic(dir_fd, name, tmp, text, strlen(text), 0600, err) < 0)
		return nb_err_wrap(err, "run record in %s", nb_run_dir());
	return 0;
}

int nb_gc_record(struct nb_run_record *rec, const char *cgroup, const char *vsock,
		 unsigned vsock_uid, struct nb_err *err)
{
	char name[32], text[2 * PATH_MAX + 64];
	pid_t pid = getpid();
	cleanup_close int dir_fd = -1;

	rec->path[0] = '\0';
	if ((cgroup && strchr(cgroup, '\n')) || (vsock && strchr(vsock, '\n')))
		return nb_err_set(err, 0, "run record: a path holds a newline");
	if ((dir_fd = nb_run_dir_open(true, err)) < 0)
		return -1;
	snprintf(name, sizeof(name), "%d" RECORD_SUFFIX, (int)pid);
	/* the socket's uid before the socket: gc reads the lines in order */
	if (snprintf(text, sizeof(text), "pid %d\nstart %" PRIu64 "\nuid %u\n%s%s%s%s%s%s",
		     (int)pid, nb_proc_start_time(pid), vsock_uid, cgroup ? "cgroup " : "",
		     cgroup ? cgroup : "", cgroup ? "\n" : "", vsock ? "vsock " : "",
		     vsock ? vsock : "", vsock ? "\n" : "") >= (int)sizeof(text))
		return nb_err_set(err, 0, "run record: paths too long");
	if (write_record(dir_fd, name, text, err) < 0)
		return -1;
	snprintf(rec->path, sizeof(rec->path), "%s/%s", nb_run_dir(), name);
	return 0;
}

static bool socket_listened(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof(addr.sun_path))
		return true; /* cannot tell: leave it */
	memcpy(addr.sun_path, path, strlen(path));
	return fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
}

/* Ours: exists, is kind (S_IFSOCK, S_IFDIR) and belongs to our uid or
 * to also (the uid a jailed VMM bound its socket with, from our own
 * record). A record names only what its run created, so anything else
 * stays. */
static bool owned_by_us(const char *path, mode_t kind, uid_t also)
{
	struct stat st;

	return path[0] == '/' && lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == kind &&
	       (st.st_uid == geteuid() || st.st_uid == also);
}

/* 0 when gone (or not ours), 1 when somebody still listens on it (a VMM
 * that is still exiting: the kernel closes a killed process's files only
 * after it unmapped its memory; or a new run on the same path): the record
 * stays for a later gc. -1 when it could not be removed. */
static int remove_vsock(const char *path, uid_t uid, const struct nb_report *out)
{
	if (!owned_by_us(path, S_IFSOCK, uid))
		return 0;
	if (socket_listened(path))
		return 1;
	if (unlink(path) < 0)
		return -1;
	nb_report(out, NB_REPORT_OUTPUT, "removed vsock socket %s", path);
	return 0;
}

static int remove_cgroup(const char *path, const struct nb_report *out)
{
	/* Only what nestbox creates: a nestbox-PID group below the root. */
	const char *base = strrchr(path, '/');

	if (strncmp(path, NB_CGROUP_ROOT "/", sizeof(NB_CGROUP_ROOT)) != 0 || strstr(path, "..") ||
	    !base || strncmp(base, "/nestbox-", 9) != 0)
		return 0;
	if (!owned_by_us(path, S_IFDIR, geteuid()))
		return 0;
	if (nb_hostcg_remove(path) < 0)
		return -1;
	nb_report(out, NB_REPORT_OUTPUT, "removed cgroup %s", path);
	return 0;
}

/* Open record name in dir_fd for reading if it is one nestbox wrote: a
 * regular file (not a link) of our uid that nobody else may write. NULL
 * otherwise: a record that is not ours is left alone, never followed. */
static FILE *open_record(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	FILE *f;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022) || !(f = fdopen(fd, "r"))) {
		close(fd);
		return NULL;
	}
	return f;
}

/* One record (of a dead run, unless owned): -1 if a leftover could not
 * be removed (the record stays). Its "pid" line must match its name. */
static int collect_record(int dir_fd, const char *name, const struct nb_report *out, bool owned)
{
	char line[PATH_MAX + 16];
	int pid = 0, named = 0, failed = 0, busy = 0, r;
	unsigned uid = (unsigned)geteuid();
	uint64_t start = 0;
	cleanup_fclose FILE *f = open_record(dir_fd, name);

	if (!f || sscanf(name, "%d" RECORD_SUFFIX, &named) != 1)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "pid %d", &pid) == 1 ||
		    sscanf(line, "start %" SCNu64, &start) == 1 ||
		    sscanf(line, "uid %u", &uid) == 1)
			continue;
		if (pid != named)
			return 0; /* not a record nestbox wrote */
		if (!owned && (pid <= 0 || (start && nb_proc_start_time(pid) == start)))
			return 0; /* its run is alive */
		if (!strncmp(line, "cgroup ", 7))
			failed |= remove_cgroup(line + 7, out);
		else if (!strncmp(line, "vsock ", 6) &&
			 (r = remove_vsock(line + 6, (uid_t)uid, out)) != 0)
			*(r < 0 ? &failed : &busy) = 1;
	}
	if (pid != named || (!owned && (pid <= 0 || (start && nb_proc_start_time(pid) == start))))
		return 0;
	if (failed)
		return -1;
	if (busy)
		return 0; /* in use: kept, and not a failure */
	unlinkat(dir_fd, name, 0);
	return 0;
}

int nb_gc_release(struct nb_run_record *rec)
{
	struct nb_err err;
	const char *name = strrchr(rec->path, '/');
	cleanup_close int dir_fd = rec->path[0] ? nb_run_dir_open(false, &err) : -1;
	int rc = dir_fd >= 0 && name ? collect_record(dir_fd, name + 1, NULL, true) : 0;

	rec->path[0] = '\0';
	return rc;
}

static bool is_record(const char *name)
{
	size_t len = strlen(name), slen = strlen(RECORD_SUFFIX);

	return len > slen && !strcmp(name + len - slen, RECORD_SUFFIX);
}

/* A record's temporary file whose writer is gone. */
static void remove_stale_tmp(int dir_fd, const char *name)
{
	char tail;
	int pid;

	if (sscanf(name, "%d" RECORD_SUFFIX ".tm%c", &pid, &tail) != 2 || tail != 'p' || pid <= 0 ||
	    kill(pid, 0) == 0 || errno != ESRCH)
		return;
	unlinkat(dir_fd, name, 0);
}

int nb_gc_collect(const struct nb_report *out, struct nb_err *err)
{
	int fd = nb_run_dir_open(false, err);
	DIR *dir;
	struct dirent *e;
	int left = 0;
	struct nb_err net_err;

	/* Networks: dead VMs' leases and their rules. */
	if (nb_hostnet_gc(out, &net_err) < 0) {
		nb_report(out, NB_REPORT_MESSAGE, "networks: %s", net_err.msg);
		left++;
	}
	if (fd == -2)
		return left; /* no run ever recorded anything */
	if (fd < 0)
		return -1;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return nb_err_sys(err, "run directory %s", nb_run_dir());
	}
	while ((e = readdir(dir))) {
		if (is_record(e->d_name))
			left += collect_record(fd, e->d_name, out, false) < 0;
		else if (strstr(e->d_name, ".tmp"))
			remove_stale_tmp(fd, e->d_name);
	}
	closedir(dir);
	return left;
}
