/* Run records and nestbox gc (vmm/run/records.c): what a crashed run left is
 * removed, what a live run holds is not, and a record can only make gc
 * remove what nestbox itself creates. The two-user cases (issue 11,
 * finding 2) act as an attacker and a victim uid in forked children. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/run/records.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/nestbox-gc.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char run[96];
	snprintf(run, sizeof(run), "%s/run", dir);
	setenv("NESTBOX_RUN_DIR", run, 1);
	setenv("XDG_CACHE_HOME", dir, 1); /* gc also tidies the image cache */
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A Unix socket file nobody listens on, as a killed VMM leaves it. */
static void stale_socket(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd);
}

static void write_record(const char *name, const char *text)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/run", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/run/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static bool exists(const char *name)
{
	char path[200];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

START_TEST(test_dead_run_is_collected)
{
	struct nb_err err;
	char sock[128], text[256];

	snprintf(sock, sizeof(sock), "%s/v.sock", dir);
	stale_socket(sock);
	/* pid 0x7ffffff0 does not exist (pid_max is at most 2^22) */
	snprintf(text, sizeof(text), "pid 2147483632\nstart 1\nvsock %s\n", sock);
	write_record("2147483632.run", text);
	ck_assert_int_eq(nb_gc_collect(NULL, &err), 0);
	ck_assert(!exists("v.sock"));
	ck_assert(!exists("run/2147483632.run"));
}
END_TEST

/* A dead run's socket that is still listened on (its VMM still exiting, or
 * a new run on the same path) stays, and so does the record, so that a
 * later gc removes the socket once nobody listens: gc never forgets it. */
START_TEST(test_listened_socket_keeps_record)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct nb_err err;
	char sock[128], text[256];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sock, sizeof(sock), "%s/v.sock", dir);
	ck_assert_uint_lt(strlen(sock), sizeof(addr.sun_path));
	memcpy(addr.sun_path, sock, strlen(sock));
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	snprintf(text, sizeof(text), "pid 2147483632\nstart 1\nvsock %s\n", sock);
	write_record("2147483632.run", text);
	ck_assert_int_eq(nb_gc_collect(NULL, &err), 0); /* in use: not a failure */
	ck_assert(exists("v.sock"));
	ck_assert(exists("run/2147483632.run"));
	close(fd);
	ck_assert_int_eq(nb_gc_collect(NULL, &err), 0);
	ck_assert(!exists("v.sock"));
	ck_assert(!exists("run/2147483632.run"));
}
END_TEST

START_TEST(test_live_run_is_left_alone)
{
	struct nb_run_record rec;
	struct nb_err err;
	char sock[128];

	snprintf(sock, sizeof(sock), "%s/v.sock", dir);
	stale_socket(sock);
	ck_assert_msg(nb_gc_record(&rec, NULL, sock, (unsigned)geteuid(), &err) == 0, "%s",
		      err.msg);
	ck_assert_int_eq(nb_gc_collect(NULL, &err), 0);
	ck_assert(exists("v.sock")); /* ours: we are alive */
	ck_assert_int_eq(access(rec.path, F_OK), 0);
	ck_assert_int_eq(nb_gc_release(&rec), 0); /* our own end removes both */
	ck_assert(!exists("v.sock"));
	ck_assert_int_eq(rec.path[0], '\0');
}
END_TEST

START_TEST(test_record_cannot_aim_elsewhere)
{
	struct nb_err err;
	char victim[128], text[512];

	/* A directory named like a nestbox group, but not under the cgroup
	 * root, and a regular file named as the socket: both stay. */
	snprintf(victim, sizeof(victim), "%s/nestbox-1", dir);
	ck_assert_int_eq(mkdir(victim, 0755), 0);
	snprintf(text, sizeof(text),
		 "pid 2147483632\nstart 1\ncgroup %s\ncgroup /sys/fs/cgroup/../../%s\n"
		 "vsock %s/run\n",
		 victim, victim, dir);
	write_record("2147483632.run", text);
	nb_gc_collect(NULL, &err);
	ck_assert(exists("nestbox-1"));
	ck_assert(exists("run"));
}
END_TEST

START_TEST(test_stale_temporary_record)
{
	struct nb_err err;
	write_record("2147483632.run.tmp", "pid 2147483632\n");
	ck_assert_int_eq(nb_gc_collect(NULL, &err), 0);
	ck_assert(!exists("run/2147483632.run.tmp"));
}
END_TEST

/* ---- two users: an attacker (ATTACKER) and a victim (victim_uid) ---- */

#define ATTACKER 4243u
static unsigned victim_uid; /* a uid nobody uses, so /tmp/nestbox-UID is ours to make */
static char victim_dir[64]; /* /tmp/nestbox-UID: the victim's default run directory */

static void two_users_setup(void)
{
	setup();
	victim_uid = 4100000u + (unsigned)getpid() % 100000u;
	snprintf(victim_dir, sizeof(victim_dir), "/tmp/nestbox-%u", victim_uid);
	unsetenv("NESTBOX_RUN_DIR");
	unsetenv("XDG_RUNTIME_DIR");
	ck_assert_int_eq(chmod(dir, 0755), 0); /* the victim may look inside */
}

static void two_users_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", victim_dir);
	ck_assert_int_eq(system(cmd), 0);
	teardown();
}

/* A file of uid's, mode 0644, holding text. */
static void file_of(const char *path, unsigned uid, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chown(path, uid, uid), 0);
	ck_assert_int_eq(chmod(path, 0644), 0);
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

/* In a child running as the victim: wait for the go byte on fd go, then
 * nb_gc_record (no cgroup, vsock sock). Exits 0 if it wrote a record, 1 if
 * it refused with a message naming the run directory, 2 otherwise. */
static pid_t victim_records(int go, const char *sock)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct nb_run_record rec;
		struct nb_err err = { 0 };
		char c;

		if (setgroups(0, NULL) < 0 || setresgid(victim_uid, victim_uid, victim_uid) < 0 ||
		    setresuid(victim_uid, victim_uid, victim_uid) < 0 || read(go, &c, 1) != 1)
			_exit(3);
		if (nb_gc_record(&rec, NULL, sock, (unsigned)geteuid(), &err) == 0)
			_exit(0);
		fprintf(stderr, "victim: %s\n", err.msg);
		_exit(strstr(err.msg, victim_dir) ? 1 : 2);
	}
	return pid;
}

static int victim_result(pid_t pid, int go)
{
	int status;

	ck_assert_int_eq(write(go, "g", 1), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* The attacker made /tmp/nestbox-VICTIM first, world-writable, and planted
 * the victim's next temporary record as a symlink to the victim's file:
 * nestbox refuses the directory and the file is untouched. */
START_TEST(test_foreign_run_dir_is_refused)
{
	char victim_file[128], link[160];
	int go[2];

	snprintf(victim_file, sizeof(victim_file), "%s/precious", dir);
	file_of(victim_file, victim_uid, "the victim's data\n");
	ck_assert_int_eq(mkdir(victim_dir, 0777), 0);
	ck_assert_int_eq(chmod(victim_dir, 0777), 0);
	ck_assert_int_eq(chown(victim_dir, ATTACKER, ATTACKER), 0);
	ck_assert_int_eq(pipe(go), 0);
	pid_t pid = victim_records(go[0], NULL);
	snprintf(link, sizeof(link), "%s/%d.run.tmp", victim_dir, (int)pid);
	ck_assert_int_eq(symlink(victim_file, link), 0);
	ck_assert_int_eq(lchown(link, ATTACKER, ATTACKER), 0);
	ck_assert_int_eq(victim_result(pid, go[1]), 1);
	ck_assert_str_eq(slurp(victim_file), "the victim's data\n");
}
END_TEST

/* The victim's own directory, but left open to others (0777 or 0755), or
 * a symlink to a directory of the victim's: refused, nothing written. */
START_TEST(test_open_or_linked_run_dir_is_refused)
{
	static const unsigned modes[] = { 0777, 0755, 0770 };
	char target[128];
	int go[2];

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		ck_assert_int_eq(mkdir(victim_dir, 0700), 0);
		ck_assert_int_eq(chmod(victim_dir, modes[i]), 0);
		ck_assert_int_eq(chown(victim_dir, victim_uid, victim_uid), 0);
		ck_assert_int_eq(pipe(go), 0);
		ck_assert_int_eq(victim_result(victim_records(go[0], NULL), go[1]), 1);
		ck_assert_int_eq(rmdir(victim_dir), 0); /* still empty */
		close(go[0]);
		close(go[1]);
	}
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	ck_assert_int_eq(mkdir(target, 0700), 0);
	ck_assert_int_eq(chown(target, victim_uid, victim_uid), 0);
	ck_assert_int_eq(symlink(target, victim_dir), 0);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(victim_result(victim_records(go[0], NULL), go[1]), 1);
	ck_assert_int_eq(rmdir(target), 0); /* nothing was written through the link */
}
END_TEST

/* No directory yet: the victim's nestbox makes it 0700 and writes its
 * record there as a file of its own. */
START_TEST(test_run_dir_is_made_private)
{
	struct stat st;
	int go[2];

	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(victim_result(victim_records(go[0], NULL), go[1]), 0);
	ck_assert_int_eq(lstat(victim_dir, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_uid, victim_uid);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
}
END_TEST

/* A record the victim did not write (another uid's file, or a symlink)
 * does not steer the victim's gc: the socket it names stays. So does a
 * socket of another uid named by a record of the victim's. */
START_TEST(test_planted_records_are_ignored)
{
	char home[96], sock[128], other_sock[128], text[256], path[160], link_target[160];

	ck_assert_int_eq(mkdir(victim_dir, 0700), 0);
	ck_assert_int_eq(chown(victim_dir, victim_uid, victim_uid), 0);
	/* The sockets lie in a directory of the victim's: it could unlink them. */
	snprintf(home, sizeof(home), "%s/home", dir);
	ck_assert_int_eq(mkdir(home, 0755), 0);
	ck_assert_int_eq(chown(home, victim_uid, victim_uid), 0);
	snprintf(sock, sizeof(sock), "%s/victim.sock", home);
	stale_socket(sock);
	ck_assert_int_eq(chown(sock, victim_uid, victim_uid), 0);
	snprintf(other_sock, sizeof(other_sock), "%s/other.sock", home);
	stale_socket(other_sock);
	ck_assert_int_eq(chown(other_sock, ATTACKER, ATTACKER), 0);

	/* a record of the attacker's naming the victim's socket */
	snprintf(text, sizeof(text), "pid 2147483632\nstart 1\nvsock %s\n", sock);
	snprintf(path, sizeof(path), "%s/2147483632.run", victim_dir);
	file_of(path, ATTACKER, text);
	/* a symlinked record pointing at a record-shaped file elsewhere */
	snprintf(link_target, sizeof(link_target), "%s/fake.run", home);
	file_of(link_target, victim_uid, text);
	snprintf(path, sizeof(path), "%s/2147483633.run", victim_dir);
	ck_assert_int_eq(symlink(link_target, path), 0);
	/* a record of the victim's naming the attacker's socket */
	snprintf(text, sizeof(text), "pid 2147483634\nstart 1\nvsock %s\n", other_sock);
	snprintf(path, sizeof(path), "%s/2147483634.run", victim_dir);
	file_of(path, victim_uid, text);

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(victim_uid, victim_uid, victim_uid) < 0 ||
		    setresuid(victim_uid, victim_uid, victim_uid) < 0)
			_exit(3);
		struct nb_err err;

		_exit(nb_gc_collect(NULL, &err) < 0 ? 4 : 0);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(access(sock, F_OK), 0);
	ck_assert_int_eq(access(other_sock, F_OK), 0);
	ck_assert_int_eq(access(link_target, F_OK), 0);
}
END_TEST

/* A jailed VMM binds its socket as the jail's uid: gc removes a socket of
 * the uid its record names (or its own), and no other uid's. Root only
 * (chown). */
START_TEST(test_jailed_socket_is_collected)
{
	struct nb_err err;
	char sock[128], other[128], text[512];

	snprintf(sock, sizeof(sock), "%s/v.sock", dir);
	snprintf(other, sizeof(other), "%s/w.sock", dir);
	stale_socket(sock);
	stale_socket(other);
	ck_assert_int_eq(chown(sock, 4242, 4242), 0);
	ck_assert_int_eq(chown(other, 4243, 4243), 0);
	snprintf(text, sizeof(text), "pid 2147483632\nstart 1\nuid 4242\nvsock %s\n", sock);
	write_record("2147483632.run", text);
	snprintf(text, sizeof(text), "pid 2147483633\nstart 1\nuid 4242\nvsock %s\n", other);
	write_record("2147483633.run", text);
	ck_assert_int_eq(nb_gc_collect(NULL, &err), 0);
	ck_assert(!exists("v.sock"));
	ck_assert(exists("w.sock")); /* 4243's: not the run's */
	ck_assert(!exists("run/2147483632.run"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gc");
	TCase *tc = tcase_create("records");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dead_run_is_collected);
	tcase_add_test(tc, test_listened_socket_keeps_record);
	tcase_add_test(tc, test_live_run_is_left_alone);
	tcase_add_test(tc, test_record_cannot_aim_elsewhere);
	tcase_add_test(tc, test_stale_temporary_record);
	if (geteuid() == 0)
		tcase_add_test(tc, test_jailed_socket_is_collected);
	suite_add_tcase(s, tc);
	/* Acting as two users takes root (chown, setresuid). */
	if (geteuid() == 0) {
		TCase *users = tcase_create("two users");

		tcase_add_checked_fixture(users, two_users_setup, two_users_teardown);
		tcase_add_test(users, test_foreign_run_dir_is_refused);
		tcase_add_test(users, test_open_or_linked_run_dir_is_refused);
		tcase_add_test(users, test_run_dir_is_made_private);
		tcase_add_test(users, test_planted_records_are_ignored);
		suite_add_tcase(s, users);
	} else {
		printf("skip gc_two_users: needs root to act as two users\n");
	}
	return nb_unit_run(s);
}
