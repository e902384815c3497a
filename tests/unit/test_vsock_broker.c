/* The vsock broker (vmm/confine/vsock_broker.c): it connects to PATH_<port> and
 * removes PATH for the VMM, and is itself a confined process that holds
 * nothing but its socketpair. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/confine/vsock_broker.h"

static char dir[64], path[96], record[96];
static struct nb_vsock_broker broker;
static struct nb_vsock_host host;

static int listen_at(const char *where)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", where);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

static void setup(void)
{
	struct nb_err err;

	snprintf(dir, sizeof(dir), "/tmp/nestbox-broker.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	snprintf(record, sizeof(record), "%s/123.run", dir);
	ck_assert_int_eq(close(open(record, O_CREAT | O_WRONLY, 0600)), 0);
	ck_assert_msg(nb_vsock_broker_start(&broker, path, record, &err) == 0, "%s", err.msg);
	host = nb_vsock_broker_host(&broker);
}

static void teardown(void)
{
	char cmd[96];

	if (broker.fd >= 0) {
		pid_t pid = broker.pid;

		nb_vsock_broker_stop(&broker);
		waitpid(pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(connects_to_path_port)
{
	char where[128];
	int lfd, fd, peer;

	snprintf(where, sizeof(where), "%s_5000", path);
	lfd = listen_at(where);
	fd = host.connect_port(host.opaque, 5000);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	peer = accept(lfd, NULL, NULL);
	ck_assert_int_ge(peer, 0);
	ck_assert_int_eq(write(fd, "hi", 2), 2);
	char buf[4] = { 0 };
	ck_assert_int_eq(read(peer, buf, sizeof(buf)), 2);
	ck_assert_str_eq(buf, "hi");
	close(peer);
	close(fd);
	close(lfd);
	/* nothing at PATH_5001: refused, and the broker goes on */
	errno = 0;
	ck_assert_int_eq(host.connect_port(host.opaque, 5001), -1);
	ck_assert_int_eq(errno, ENOENT);
	unlink(where);
	lfd = listen_at(where);
	fd = host.connect_port(host.opaque, 5000);
	ck_assert_int_ge(fd, 0);
	close(fd);
	close(lfd);
}
END_TEST

START_TEST(removes_the_listener)
{
	int lfd = listen_at(path);
	struct stat st;

	ck_assert_int_eq(lstat(record, &st), 0);
	host.unlink_listener(host.opaque);
	ck_assert_int_eq(lstat(path, &st), -1);
	ck_assert_int_eq(lstat(record, &st), -1); /* the run's record goes with it */
	close(lfd);
}
END_TEST

/* The broker: seccomp mode 2, no_new_privs, one descriptor (its socketpair:
 * no stdio, nothing of the VMM's). */
START_TEST(broker_is_confined)
{
	char file[64], line[256];
	int seccomp = -1, nnp = -1, fds = 0;
	struct dirent *e;

	/* a round trip: the broker has confined itself by now */
	ck_assert_int_eq(host.connect_port(host.opaque, 1), -1);
	snprintf(file, sizeof(file), "/proc/%d/status", (int)broker.pid);
	FILE *f = fopen(file, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "Seccomp: %d", &seccomp);
		sscanf(line, "NoNewPrivs: %d", &nnp);
	}
	fclose(f);
	ck_assert_int_eq(seccomp, 2);
	ck_assert_int_eq(nnp, 1);
	snprintf(file, sizeof(file), "/proc/%d/fd", (int)broker.pid);
	DIR *d = opendir(file);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		fds += e->d_name[0] != '.';
	closedir(d);
	ck_assert_int_eq(fds, 1);
}
END_TEST

/* A request that is not one: the broker says EINVAL and goes on; the VMM
 * closing its end ends the broker. */
START_TEST(garbage_and_eof)
{
	uint32_t junk[2] = { 77, 0 };
	int32_t reply = 0;
	pid_t pid = broker.pid;
	int status;

	ck_assert_int_eq(write(broker.fd, junk, sizeof(junk)), sizeof(junk));
	ck_assert_int_eq(read(broker.fd, &reply, sizeof(reply)), sizeof(reply));
	ck_assert_int_eq(reply, EINVAL);
	ck_assert_int_eq(write(broker.fd, junk, 3), 3); /* short: the broker leaves */
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "broker status 0x%x", status);
	nb_vsock_broker_stop(&broker);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vsock_broker");
	TCase *tc = tcase_create("broker");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, connects_to_path_port);
	tcase_add_test(tc, removes_the_listener);
	tcase_add_test(tc, broker_is_confined);
	tcase_add_test(tc, garbage_and_eof);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
