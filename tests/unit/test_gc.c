/* Run records and nestbox gc (vmm/gc.c): what a crashed run left is
 * removed, what a live run holds is not, and a record can only make gc
 * remove what nestbox itself creates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/gc.h"

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

static bool exists(const char *fmt, const char *arg)
{
	char path[200];

	snprintf(path, sizeof(path), fmt, dir, arg);
	return access(path, F_OK) == 0;
}

START_TEST(test_dead_run_is_collected)
{
	char sock[128], text[256];

	snprintf(sock, sizeof(sock), "%s/v.sock", dir);
	stale_socket(sock);
	/* pid 0x7ffffff0 does not exist (pid_max is at most 2^22) */
	snprintf(text, sizeof(text), "pid 2147483632\nstart 1\nvsock %s\n", sock);
	write_record("2147483632.run", text);
	ck_assert_int_eq(nb_gc_collect(NULL), 0);
	ck_assert(!exists("%s/v.sock%s", ""));
	ck_assert(!exists("%s/run/%s", "2147483632.run"));
}
END_TEST

START_TEST(test_live_run_is_left_alone)
{
	struct nb_run_record rec;
	struct nb_err err;
	char sock[128];

	snprintf(sock, sizeof(sock), "%s/v.sock", dir);
	stale_socket(sock);
	ck_assert_msg(nb_gc_record(&rec, NULL, sock, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(nb_gc_collect(NULL), 0);
	ck_assert(exists("%s/v.sock%s", "")); /* ours: we are alive */
	ck_assert_int_eq(access(rec.path, F_OK), 0);
	ck_assert_int_eq(nb_gc_release(&rec), 0); /* our own end removes both */
	ck_assert(!exists("%s/v.sock%s", ""));
	ck_assert_int_eq(rec.path[0], '\0');
}
END_TEST

START_TEST(test_record_cannot_aim_elsewhere)
{
	char victim[128], text[512];

	/* A directory named like a nestbox group, but not under the cgroup
	 * root, and a regular file named as the socket: both stay. */
	snprintf(victim, sizeof(victim), "%s/nestbox-1", dir);
	ck_assert_int_eq(mkdir(victim, 0755), 0);
	snprintf(text, sizeof(text), "pid 2147483632\nstart 1\ncgroup %s\ncgroup /sys/fs/cgroup/../../%s\n"
		 "vsock %s/run\n", victim, victim, dir);
	write_record("2147483632.run", text);
	nb_gc_collect(NULL);
	ck_assert(exists("%s/nestbox-1%s", ""));
	ck_assert(exists("%s/run%s", ""));
}
END_TEST

START_TEST(test_stale_temporary_record)
{
	write_record("2147483632.run.tmp", "pid 2147483632\n");
	ck_assert_int_eq(nb_gc_collect(NULL), 0);
	ck_assert(!exists("%s/run/%s", "2147483632.run.tmp"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gc");
	TCase *tc = tcase_create("records");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dead_run_is_collected);
	tcase_add_test(tc, test_live_run_is_left_alone);
	tcase_add_test(tc, test_record_cannot_aim_elsewhere);
	tcase_add_test(tc, test_stale_temporary_record);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
