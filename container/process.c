/* The process attributes set in the child after the rootfs switch:
 * rlimits, user and groups (names resolved in the image's /etc/passwd and
 * /etc/group, which are hostile input), hostname, working directory,
 * environment, and the seccomp filter installed just before execve. */
#include <errno.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "container/container.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

#define DB_LINE_MAX 4096
#define DB_LINES_MAX 100000 /* a hostile /etc/passwd cannot keep us reading */

/* ---- rlimits ------------------------------------------------------------- */

/* Guest defaults when the spec has none: Docker (through containerd's
 * LimitNOFILE=infinity) gives 1048576 open files, the kernel's nr_open;
 * the rest are the kernel's defaults, as inherited from init. */
int nb_process_set_rlimits(const struct nb_spec *spec, struct nb_err *err)
{
	struct rlimit nofile = { 1048576, 1048576 }, cur;

	if (spec->nrlimits == 0) {
		/* In a user namespace the hard limit cannot go up: keep it. */
		if (getrlimit(RLIMIT_NOFILE, &cur) == 0 && (spec->namespaces & NB_NS_USER) &&
		    cur.rlim_max < nofile.rlim_max)
			nofile.rlim_cur = nofile.rlim_max = cur.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &nofile) < 0)
			return nb_err_sys(err, "setrlimit nofile");
		return 0;
	}
	for (size_t i = 0; i < spec->nrlimits; i++) {
		struct rlimit rl = { spec->rlimits[i].soft, spec->rlimits[i].hard };

		if (setrlimit((int)spec->rlimits[i].resource, &rl) < 0)
			return nb_err_sys(err, "setrlimit %u", spec->rlimits[i].resource);
	}
	return 0;
}

/* ---- user ------------------------------------------------------------------ */

static bool parse_id(const char *s, unsigned int *out)
{
	unsigned long long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned)(*s - '0');
		if (v >= 0xffffffffull)
			return false;
	}
	*out = (unsigned int)v;
	return true;
}

/* Split a ':'-separated line into at most n fields in place. */
static size_t split_fields(char *line, char **fields, size_t n)
{
	size_t count = 0;

	line[strcspn(line, "\n")] = '\0';
	while (count < n) {
		fields[count++] = line;
		line = strchr(line, ':');
		if (!line)
			break;
		*line++ = '\0';
	}
	return count;
}

/* Calls match(fields, nfields, ctx) on every well-formed line; stops when it
 * returns true. Overlong lines are skipped whole. */
static void scan_db(const char *path, size_t want_fields, bool (*match)(char **fields, void *ctx),
		    void *ctx)
{
	cleanup_fclose FILE *f = fopen(path, "re");
	char line[DB_LINE_MAX];
	bool skipping = false;

	if (!f)
		return;
	for (int lines = 0; lines < DB_LINES_MAX && fgets(line, sizeof(line), f); lines++) {
		char *fields[8];
		bool whole = strchr(line, '\n') != NULL || feof(f);

		if (skipping || !whole) {
			skipping = !whole;
			continue;
		}
		if (split_fields(line, fields, want_fields) == want_fields && match(fields, ctx))
			return;
	}
}

struct passwd_query {
	const char *name; /* or NULL: by uid */
	unsigned int uid;
	bool found;
	char name_buf[64];
	unsigned int pw_uid, pw_gid;
	struct nb_ids *ids;
};

static bool match_passwd(char **f, void *ctx)
{
	struct passwd_query *q = ctx;
	unsigned int uid, gid;

	if (!parse_id(f[2], &uid) || !parse_id(f[3], &gid))
		return false;
	if (q->name ? strcmp(f[0], q->name) != 0 : uid != q->uid)
		return false;
	q->found = true;
	q->pw_uid = uid;
	q->pw_gid = gid;
	snprintf(q->name_buf, sizeof(q->name_buf), "%s", f[0]);
	snprintf(q->ids->home_buf, sizeof(q->ids->home_buf), "%s", f[5]);
	q->ids->home = q->ids->home_buf[0] == '/' ? q->ids->home_buf : NULL;
	return true;
}

struct group_query {
	const char *name; /* group name wanted, or NULL */
	bool found;
	unsigned int gid;
	const char *member; /* user whose supplementary groups to collect */
	struct nb_ids *ids;
};

static bool has_member(char *list, const char *user)
{
	for (char *save, *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save))
		if (strcmp(m, user) == 0)
			return true;
	return false;
}

static bool match_group(char **f, void *ctx)
{
	struct group_query *q = ctx;
	unsigned int gid;

	if (!parse_id(f[2], &gid))
		return false;
	if (q->name) {
		if (strcmp(f[0], q->name) != 0)
			return false;
		q->found = true;
		q->gid = gid;
		return true;
	}
	if (q->member[0] && has_member(f[3], q->member) &&
	    q->ids->ngroups < sizeof(q->ids->groups) / sizeof(q->ids->groups[0]))
		q->ids->groups[q->ids->ngroups++] = gid;
	return false;
}

/* "user[:group]" with names or ids, as Docker's -u. A numeric uid need not
 * exist in /etc/passwd (its gid is then 0); a name must. */
int nb_process_resolve_user(const char *user, struct nb_ids *ids, struct nb_err *err)
{
	char buf[NB_SPEC_MAX_USER + 1];
	char *group;
	struct passwd_query pq = { .ids = ids };
	struct group_query gq = { .ids = ids };

	memset(ids, 0, sizeof(*ids));
	ids->home = NULL;
	if (!user)
		user = "0";
	snprintf(buf, sizeof(buf), "%s", user);
	group = strchr(buf, ':');
	if (group)
		*group++ = '\0';
	if (!parse_id(buf, &pq.uid))
		pq.name = buf;
	scan_db("/etc/passwd", 7, match_passwd, &pq);
	if (pq.name && !pq.found)
		return nb_err_set(err, 0,
				  "unable to find user %.64s: no matching entries in passwd "
				  "file",
				  buf);
	ids->uid = pq.found ? pq.pw_uid : pq.uid;
	ids->gid = pq.found ? pq.pw_gid : 0;
	if (group && !parse_id(group, &ids->gid)) {
		gq.name = group;
		scan_db("/etc/group", 4, match_group, &gq);
		if (!gq.found)
			return nb_err_set(err, 0,
					  "unable to find group %.64s: no matching entries "
					  "in group file",
					  group);
		ids->gid = gq.gid;
	}
	/* Supplementary groups of a named user (Docker: only without an
	 * explicit group). */
	if (pq.found && !group) {
		struct group_query members = { .member = pq.name_buf, .ids = ids };

		scan_db("/etc/group", 4, match_group, &members);
	}
	return 0;
}

int nb_process_set_ids(const struct nb_ids *ids, struct nb_err *err)
{
	if (setgroups(ids->ngroups, ids->groups) < 0)
		return nb_err_sys(err, "setgroups");
	if (setresgid(ids->gid, ids->gid, ids->gid) < 0)
		return nb_err_sys(err, "setresgid %u", ids->gid);
	if (setresuid(ids->uid, ids->uid, ids->uid) < 0)
		return nb_err_sys(err, "setresuid %u", ids->uid);
	return 0;
}

/* ---- hostname, workdir, env --------------------------------------------------- */

int nb_process_set_hostname(const struct nb_spec *spec, struct nb_err *err)
{
	const char *name = spec->hostname ? spec->hostname : "nestbox";

	if (sethostname(name, strlen(name)) < 0)
		return nb_err_sys(err, "sethostname");
	return 0;
}

/* Created as root before the user switch, as Docker does (mode 0755). A
 * symlink in the image is followed within the new root only: we are
 * already chrooted. */
int nb_process_make_workdir(const struct nb_spec *spec, struct nb_err *err)
{
	if (spec->workdir && nb_mkdir_p(AT_FDCWD, spec->workdir, 0755, 0, err) < 0)
		return nb_err_wrap(err, "working directory");
	return 0;
}

int nb_process_enter_workdir(const struct nb_spec *spec, struct nb_err *err)
{
	const char *dir = spec->workdir ? spec->workdir : "/";

	if (chdir(dir) < 0)
		return nb_err_sys(err, "cannot enter working directory %s", dir);
	return 0;
}

static const char *const default_env[] = {
	NB_DEFAULT_PATH,
	"HOME=/",
	"TERM=linux",
	"HOSTNAME=",
};
#define N_DEFAULT_ENV (sizeof(default_env) / sizeof(default_env[0]))

const char *nb_env_value(const struct nb_spec *spec, const char *entry)
{
	size_t name_len = (size_t)(strchr(entry, '=') - entry) + 1; /* including '=' */

	for (size_t i = 0; i < spec->envc; i++)
		if (strncmp(spec->env[i], entry, name_len) == 0)
			return spec->env[i] + name_len;
	return NULL;
}

/* spec->env plus the defaults it does not override (HOME from the user's
 * passwd entry, HOSTNAME the container's), NULL-terminated. */
char **nb_process_build_env(const struct nb_spec *spec, const struct nb_ids *ids,
			    struct nb_err *err)
{
	static char home[8 + sizeof(ids->home_buf)], host[16 + NB_SPEC_MAX_HOSTNAME];
	char **env = calloc(spec->envc + N_DEFAULT_ENV + 1, sizeof(*env));
	size_t n = 0;

	if (!env) {
		nb_err_sys(err, "cannot allocate the environment");
		return NULL;
	}
	snprintf(home, sizeof(home), "HOME=%s", ids->home ? ids->home : "/");
	snprintf(host, sizeof(host), "HOSTNAME=%s", spec->hostname ? spec->hostname : "nestbox");
	for (size_t i = 0; i < spec->envc; i++)
		env[n++] = (char *)spec->env[i];
	for (size_t i = 0; i < N_DEFAULT_ENV; i++) {
		const char *e = default_env[i];

		if (nb_env_value(spec, e))
			continue;
		if (strncmp(e, "HOME=", 5) == 0)
			e = home;
		else if (strncmp(e, "HOSTNAME=", 9) == 0)
			e = host;
		env[n++] = (char *)e;
	}
	return env;
}

/* ---- seccomp ------------------------------------------------------------------ */

/* no_new_privs always (stricter than Docker's default: setuid binaries in
 * the image do not gain privileges); it also lets an unprivileged user
 * install the filter. */
int nb_process_install_seccomp(const struct nb_spec *spec, struct nb_err *err)
{
	struct sock_fprog prog;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return nb_err_sys(err, "cannot set no_new_privs");
	if (!spec->seccomp)
		return 0;
	prog.len = (unsigned short)(spec->seccomp_len / sizeof(struct sock_filter));
	prog.filter = (struct sock_filter *)spec->seccomp;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return nb_err_sys(err, "cannot install the seccomp filter");
	return 0;
}
