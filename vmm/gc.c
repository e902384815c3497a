#include "gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hostcgroup.h"
#include "images/cache.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

#define RECORD_SUFFIX ".run"

/* NESTBOX_RUN_DIR, else /run/nestbox for root, else the user's runtime
 * directory. */
static const char *run_dir(void)
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

/* Field 22 of /proc/PID/stat: tells a live owner from a reused pid. */
static uint64_t start_time(pid_t pid)
{
	char path[64], buf[1024];
	uint64_t start = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%" SCNu64, &start);
	return start;
}

int nb_gc_record(struct nb_run_record *rec, const char *cgroup, const char *vsock,
		 struct nb_err *err)
{
	char tmp[PATH_MAX + 8];
	pid_t pid = getpid();

	rec->path[0] = '\0';
	if (mkdir(run_dir(), 0700) < 0 && errno != EEXIST)
		return nb_err_sys(err, "run directory %s (set NESTBOX_RUN_DIR)", run_dir());
	snprintf(rec->path, sizeof(rec->path), "%s/%d" RECORD_SUFFIX, run_dir(), (int)pid);
	snprintf(tmp, sizeof(tmp), "%s.tmp", rec->path);
	cleanup_fclose FILE *f = fopen(tmp, "we");
	if (!f) {
		rec->path[0] = '\0';
		return nb_err_sys(err, "cannot write %s", tmp);
	}
	fprintf(f, "pid %d\nstart %" PRIu64 "\n", (int)pid, start_time(pid));
	if (cgroup)
		fprintf(f, "cgroup %s\n", cgroup);
	if (vsock)
		fprintf(f, "vsock %s\n", vsock);
	/* Complete before its name says so: gc never reads half a record. */
	if (fflush(f) != 0 || rename(tmp, rec->path) < 0) {
		unlink(tmp);
		rec->path[0] = '\0';
		return nb_err_sys(err, "cannot write %s", tmp);
	}
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

static int remove_vsock(const char *path, FILE *out)
{
	struct stat st;

	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || socket_listened(path))
		return 0;
	if (unlink(path) < 0)
		return -1;
	if (out)
		fprintf(out, "removed vsock socket %s\n", path);
	return 0;
}

static int remove_cgroup(const char *path, FILE *out)
{
	/* Only what nestbox creates: a nestbox-PID group below the root. */
	const char *base = strrchr(path, '/');

	if (strncmp(path, NB_CGROUP_ROOT "/", sizeof(NB_CGROUP_ROOT)) != 0 || strstr(path, "..") ||
	    !base || strncmp(base, "/nestbox-", 9) != 0)
		return 0;
	if (access(path, F_OK) < 0)
		return 0;
	if (nb_hostcg_remove(path) < 0)
		return -1;
	if (out)
		fprintf(out, "removed cgroup %s\n", path);
	return 0;
}

/* One record (of a dead run, unless owned): -1 if a leftover could not
 * be removed (the record stays). */
static int collect_record(const char *path, FILE *out, bool owned)
{
	char line[PATH_MAX + 16];
	int pid = 0, failed = 0;
	uint64_t start = 0;
	cleanup_fclose FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "pid %d", &pid) == 1 || sscanf(line, "start %" SCNu64, &start) == 1)
			continue;
		if (!owned && (pid <= 0 || (start && start_time(pid) == start)))
			return 0; /* its run is alive */
		if (!strncmp(line, "cgroup ", 7))
			failed |= remove_cgroup(line + 7, out);
		else if (!strncmp(line, "vsock ", 6))
			failed |= remove_vsock(line + 6, out);
	}
	if (!owned && (pid <= 0 || (start && start_time(pid) == start)))
		return 0;
	if (failed)
		return -1;
	unlink(path);
	return 0;
}

int nb_gc_release(struct nb_run_record *rec)
{
	int rc = rec->path[0] ? collect_record(rec->path, NULL, true) : 0;

	rec->path[0] = '\0';
	return rc;
}

static bool is_record(const char *name)
{
	size_t len = strlen(name), slen = strlen(RECORD_SUFFIX);

	return len > slen && !strcmp(name + len - slen, RECORD_SUFFIX);
}

/* A record's temporary file whose writer is gone. */
static void remove_stale_tmp(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int pid;

	if (sscanf(name, "%d" RECORD_SUFFIX ".tmp", &pid) != 1 || kill(pid, 0) == 0 ||
	    errno != ESRCH)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

int nb_gc_collect(FILE *out)
{
	DIR *dir = opendir(run_dir());
	struct dirent *e;
	int left = 0;

	while (dir && (e = readdir(dir))) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", run_dir(), e->d_name);
		if (is_record(e->d_name))
			left += collect_record(path, out, false) < 0;
		else if (strstr(e->d_name, ".tmp"))
			remove_stale_tmp(run_dir(), e->d_name);
	}
	if (dir)
		closedir(dir);
	return left;
}

static void clean_image_cache(void)
{
	struct nb_cache cache;
	struct nb_err err;

	/* Opening it exclusively removes what interrupted conversions left. */
	if (nb_cache_open(&cache, true, &err) == 0)
		nb_cache_close(&cache);
}

int nb_gc_main(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fputs("Usage: nestbox gc\n\nRemove what crashed runs left behind: their cgroups, "
		      "vsock sockets and\nrun records, and the image cache's temporary files.\n",
		      argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? stdout
											   : stderr);
		return argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
			       ? 0 : NB_STATUS_ERROR;
	}
	int left = nb_gc_collect(stdout);
	clean_image_cache();
	if (left) {
		fprintf(stderr, "nestbox gc: %d leftovers could not be removed (see above; run as "
			"root?)\n", left);
		return NB_STATUS_ERROR;
	}
	return 0;
}
