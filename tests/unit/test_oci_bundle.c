/* OCI runtime (issue 14): config.json to run options with valid, malformed
 * and hostile bundles (wrong types, missing fields, huge arrays, bad
 * paths, unknown fields); the state directory and its liveness rule; the
 * start message of the signal port and nestbox-init's start gate. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/procstat.h"
#include "common/sigmsg.h"
#include "vmm/cli/oci.h"
#include "vmm/run/oci_bundle.h"
#include "vmm/run/resources.h"
#include "vmm/run/oci_state.h"
#include "unit/unit.h"

/* nestbox-init's side, which the host build does not otherwise compile
 * (signals.c sets memory limits through cgroup.c). */
#include "container/cgroup.c"
#include "guest-init/net.c" /* a restore's network, signals.c applies */
#include "guest-init/signals.c"
#include "guest-init/warm.c" /* the entropy signals.c adds */

static char dir[] = "/tmp/nb-oci-unit-XXXXXX";

static void setup(void)
{
	char path[256];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rootfs", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/data", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/hosts", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
}

static void teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/nb-oci-unit-XXXXXX");
}

#define MINIMAL                                                    \
	"\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"}," \
	"\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"}"

static int parse(const char *json, struct nb_oci_bundle *b, struct nb_err *err)
{
	return nb_oci_bundle_parse(json, strlen(json), dir, b, err);
}

/* json must be refused with a message containing what. */
static void refused(const char *json, const char *what)
{
	struct nb_oci_bundle b;
	struct nb_err err = { 0 };

	ck_assert_msg(parse(json, &b, &err) < 0, "accepted: %s", json);
	ck_assert_msg(strstr(err.msg, what), "\"%s\" lacks \"%s\"", err.msg, what);
}

START_TEST(full_bundle)
{
	static const char json[] =
		"{\"ociVersion\":\"1.0.2\",\"unknownField\":{\"x\":[1,2]},"
		"\"process\":{\"terminal\":true,\"consoleSize\":{\"height\":30,\"width\":100},"
		"\"user\":{\"uid\":1000,\"gid\":100,\"additionalGids\":[10]},"
		"\"args\":[\"/bin/sh\",\"-c\",\"echo hi\"],\"env\":[\"PATH=/bin\",\"A=b\"],"
		"\"cwd\":\"/work\",\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\","
		"\"CAP_NEW_ONE\"],\"effective\":[\"CAP_KILL\",\"CAP_CHOWN\"],\"permitted\":"
		"[\"CAP_KILL\",\"CAP_CHOWN\",\"CAP_SYS_ADMIN\"]},"
		"\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":512}],"
		"\"noNewPrivileges\":true},"
		"\"root\":{\"path\":\"rootfs\",\"readonly\":true},\"hostname\":\"box\","
		"\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
		"{\"destination\":\"/dev/shm\",\"type\":\"bind\",\"source\":\"/nonexistent\"},"
		"{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
		"\"options\":[\"nosuid\",\"strictatime\",\"mode=1777\",\"size=65536k\"]},"
		"{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"data\","
		"\"options\":[\"rbind\",\"ro\"]},"
		"{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"hosts\"},"
		"{\"destination\":\"/etc/resolv.conf\",\"type\":\"bind\",\"source\":\"hosts\"}],"
		"\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\","
		"\"path\":\"/run/netns/x\"},{\"type\":\"mount\"}],"
		"\"resources\":{\"memory\":{\"limit\":268435456},\"cpu\":{\"quota\":150000,"
		"\"period\":100000,\"shares\":1024},\"pids\":{\"limit\":64}},"
		"\"maskedPaths\":[\"/proc/kcore\"],\"cgroupsPath\":\"/libpod_parent/x\","
		"\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
		"[\"mount\"],\"action\":\"SCMP_ACT_ERRNO\"}]}},"
		"\"annotations\":{\"io.nestbox.vcpus\":\"4\",\"other\":\"x\"}}";
	struct nb_oci_bundle b;
	struct nb_err err = { 0 };
	const struct nb_run_options *o = &b.opts;
	const struct nb_run_container *c = &o->container;

	ck_assert_msg(parse(json, &b, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(o->argc, 3);
	ck_assert_str_eq(o->argv[2], "echo hi");
	ck_assert_uint_eq(c->nenv, 2);
	ck_assert_str_eq(c->env[1], "A=b");
	ck_assert_str_eq(c->workdir, "/work");
	ck_assert_str_eq(c->user, "1000:100");
	ck_assert_str_eq(c->hostname, "box");
	ck_assert(b.terminal && o->tty && o->interactive);
	ck_assert_uint_eq(b.tty_rows, 30);
	ck_assert_uint_eq(b.tty_cols, 100);
	/* the intersection of the sets; unknown names ignored */
	ck_assert_uint_eq(c->cap_add & ~c->cap_drop, (1ull << 0) | (1ull << 5));
	ck_assert_uint_eq(c->nrlimits, 1);
	ck_assert_uint_eq(c->rlimits[0].soft, 512);
	ck_assert(c->read_only);
	/* root share first, read-only; /data a read-only share; the API
	 * mounts and the engine's /etc/hosts left to the guest */
	ck_assert_uint_eq(o->nvolumes, 2);
	ck_assert_str_eq(o->volumes[0].guest, "/");
	ck_assert(!o->volumes[0].read_only && o->volumes[0].dir);
	ck_assert(strstr(o->volumes[0].host, "/rootfs"));
	ck_assert_str_eq(o->volumes[1].guest, "/data");
	ck_assert(o->volumes[1].read_only);
	ck_assert_uint_eq(c->ntmpfs, 1);
	ck_assert_str_eq(c->tmpfs[0], "/tmp:nosuid,mode=1777,size=65536k");
	ck_assert_uint_eq(c->namespaces, NB_NS_NET);
	ck_assert_str_eq(b.netns, "/run/netns/x");
	/* the engine's resolv.conf: its nameservers go to a connected eth0 */
	ck_assert_ptr_nonnull(b.resolv_conf);
	ck_assert_str_eq(b.resolv_conf + strlen(b.resolv_conf) - 6, "/hosts");
	/* the container's limit 256 MiB, the VM that plus the guest's
	 * overhead; 1.5 CPUs -> 2 vCPUs, raised to 4 */
	ck_assert_uint_eq(c->memory_max, 256ull << 20);
	ck_assert_uint_eq(o->mem_size, nb_guest_ram_for(256ull << 20));
	ck_assert_uint_eq(c->cpu_quota_us, 150000);
	ck_assert_uint_eq(o->cpus, 4);
	ck_assert_uint_eq(c->pids_limit, 64);
	ck_assert_str_eq(b.cgroups_path, "/libpod_parent/x");
	ck_assert_ptr_nonnull(c->seccomp_json);
	ck_assert(!c->seccomp_unconfined);
	ck_assert(strstr(c->seccomp_json, "SCMP_ACT_ERRNO"));
	ck_assert_ptr_nonnull(b.annotations);
	nb_oci_bundle_free(&b);
}
END_TEST

START_TEST(minimal_bundle)
{
	struct nb_oci_bundle b;
	struct nb_err err = { 0 };

	ck_assert_msg(parse("{" MINIMAL "}", &b, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(b.opts.cpus, 1);
	ck_assert_uint_eq(b.opts.mem_size, NB_OCI_DEFAULT_MEM);
	ck_assert_uint_eq(b.opts.container.memory_max, 0);
	ck_assert(b.opts.container.seccomp_unconfined); /* no linux.seccomp: no filter */
	ck_assert_ptr_null(b.opts.container.workdir);
	ck_assert_uint_eq(b.opts.container.cap_add & ~b.opts.container.cap_drop, 0);
	ck_assert(!b.terminal && !b.opts.tty);
	ck_assert_ptr_null(b.opts.rootfs);
	ck_assert_ptr_nonnull(b.rootfs); /* root.path on the host, for `state` */
	ck_assert_str_eq(b.rootfs + strlen(b.rootfs) - strlen("/rootfs"), "/rootfs");
	ck_assert_ptr_eq(b.rootfs, strstr(b.rootfs, dir));
	nb_oci_bundle_free(&b);
}
END_TEST

START_TEST(malformed)
{
	refused("", "invalid JSON");
	refused("{" MINIMAL, "invalid JSON");
	refused("{" MINIMAL "} x", "trailing");
	refused("[1]", "not a JSON object");
	refused("{\"root\":{\"path\":\"rootfs\"},\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"}}",
		"ociVersion");
	refused("{\"ociVersion\":\"2.0\",\"root\":{\"path\":\"rootfs\"}}", "ociVersion");
	refused("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"}}", "process");
	refused("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"}}",
		"root.path");
	/* wrong types */
	refused("{\"ociVersion\":1}", "ociVersion is not a string");
	refused("{\"ociVersion\":\"1.0\",\"root\":{\"path\":\"rootfs\"},"
		"\"process\":{\"args\":\"sh\",\"cwd\":\"/\"}}",
		"args is not an array");
	refused("{\"ociVersion\":\"1.0\",\"root\":{\"path\":\"rootfs\"},"
		"\"process\":{\"args\":[\"sh\",7],\"cwd\":\"/\"}}",
		"args[1] is not a string");
	refused("{" MINIMAL ",\"hostname\":[]}", "hostname is not a string");
	refused("{" MINIMAL ",\"mounts\":{}}", "mounts is not an array");
	refused("{" MINIMAL ",\"mounts\":[7]}", "not an object");
	refused("{\"ociVersion\":\"1.0\",\"root\":{\"path\":\"rootfs\",\"readonly\":\"yes\"},"
		"\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"}}",
		"readonly is not a boolean");
	refused("{\"ociVersion\":\"1.0\",\"root\":{\"path\":\"rootfs\"},\"process\":{\"args\":"
		"[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":-1}}}",
		"uid is out of range");
	refused("{\"ociVersion\":\"1.0\",\"root\":{\"path\":\"rootfs\"},\"process\":{\"args\":"
		"[\"sh\"],\"cwd\":\"/\",\"env\":[\"NOEQUALS\"]}}",
		"process.env[0]");
	refused("{\"ociVersion\":\"1.0\",\"root\":{\"path\":\"rootfs\"},\"process\":{\"args\":"
		"[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"soft\":1,"
		"\"hard\":1}]}}",
		"unknown type");
	refused("{\"ociVersion\":\"1.0\",\"root\":{\"path\":\"rootfs\"},\"process\":{\"args\":"
		"[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":2,"
		"\"hard\":1}]}}",
		"soft must be <= hard");
	refused("{" MINIMAL ",\"linux\":{\"seccomp\":\"no\"}}", "seccomp is not an object");
	refused("{" MINIMAL ",\"annotations\":{\"io.nestbox.vcpus\":\"99\"}}", "io.nestbox.vcpus");
	refused("{" MINIMAL ",\"annotations\":{\"io.nestbox.memory\":\"3m\"}}",
		"io.nestbox.memory");
}
END_TEST

START_TEST(bad_paths)
{
	refused("{\"ociVersion\":\"1.0\",\"root\":{\"path\":\"nothere\"},"
		"\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"}}",
		"nothere");
	refused("{\"ociVersion\":\"1.0\",\"root\":{\"path\":\"hosts\"},"
		"\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"}}",
		"not a directory");
	refused("{\"ociVersion\":\"1.0\",\"root\":{\"path\":\"rootfs\"},"
		"\"process\":{\"args\":[\"sh\"],\"cwd\":\"rel\"}}",
		"process.cwd");
	refused("{\"ociVersion\":\"1.0\",\"root\":{\"path\":\"rootfs\"},"
		"\"process\":{\"args\":[\"sh\"],\"cwd\":\"/a/../..\"}}",
		"process.cwd");
	refused("{" MINIMAL ",\"mounts\":[{\"destination\":\"/x/../../etc\",\"type\":\"tmpfs\"}]}",
		"destination");
	refused("{" MINIMAL ",\"mounts\":[{\"destination\":\"x\",\"type\":\"tmpfs\"}]}",
		"destination");
	refused("{" MINIMAL ",\"mounts\":[{\"destination\":\"/\",\"type\":\"tmpfs\"}]}",
		"destination");
	refused("{" MINIMAL ",\"mounts\":[{\"destination\":\"/a\",\"type\":\"bind\","
		"\"source\":\"hosts\"}]}",
		"not a directory");
	refused("{" MINIMAL ",\"mounts\":[{\"destination\":\"/a\",\"type\":\"bind\","
		"\"source\":\"/dev/null\"}]}",
		"not a directory");
	refused("{" MINIMAL ",\"mounts\":[{\"destination\":\"/a\",\"type\":\"overlay\"}]}",
		"not supported");
	refused("{" MINIMAL ",\"mounts\":[{\"destination\":\"/a\",\"type\":\"tmpfs\","
		"\"options\":[\"size=lots\"]}]}",
		"mounts[0]");
	/* not a tmpfs at /mnt with exec,suid,dev (found by fuzz_oci_bundle) */
	refused("{" MINIMAL ",\"mounts\":[{\"destination\":\"/mnt:exec,suid,dev\","
		"\"type\":\"tmpfs\",\"options\":[\"rprivate\"]}]}",
		"with ':'");
}
END_TEST

START_TEST(not_in_a_vm)
{
	refused("{" MINIMAL ",\"linux\":{\"namespaces\":[{\"type\":\"user\"}]}}",
		"user namespaces");
	refused("{" MINIMAL ",\"linux\":{\"namespaces\":[{\"type\":\"ipc\",\"path\":\"/proc/1/"
		"ns/ipc\"}]}}",
		"joining");
	refused("{" MINIMAL ",\"linux\":{\"namespaces\":[{\"type\":\"bogus\"}]}}", "unknown type");
	refused("{" MINIMAL ",\"linux\":{\"sysctl\":{\"net.ipv4.ping_group_range\":\"0 0\","
		"\"net.ipv4.ip_forward\":\"1\"}}}",
		"sysctl net.ipv4.ip_forward");
	refused("{" MINIMAL ",\"hooks\":{\"prestart\":[{\"path\":\"/bin/true\"}]}}", "hooks");
}
END_TEST

/* n copies of item, comma-separated, inside prefix ... suffix. */
static char *repeat(const char *prefix, const char *item, size_t n, const char *suffix)
{
	size_t len = strlen(prefix) + n * (strlen(item) + 1) + strlen(suffix) + 1;
	char *s = malloc(len), *p = s;

	p += sprintf(p, "%s", prefix);
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", item);
	sprintf(p, "%s", suffix);
	return s;
}

START_TEST(huge_arrays)
{
	char *j;

	j = repeat("{\"ociVersion\":\"1.0\",\"root\":{\"path\":\"rootfs\"},\"process\":{\"cwd\":"
		   "\"/\",\"args\":[",
		   "\"a\"", NB_SPEC_MAX_ARGS + 1, "]}}");
	refused(j, "more than");
	free(j);
	j = repeat("{" MINIMAL ",\"mounts\":[", "{\"destination\":\"/t\",\"type\":\"tmpfs\"}",
		   NB_OCI_MAX_MOUNTS + 1, "]}");
	refused(j, "more than");
	free(j);
	j = repeat("{" MINIMAL ",\"mounts\":[", "{\"destination\":\"/t\",\"type\":\"tmpfs\"}", 65,
		   "]}");
	refused(j, "tmpfs");
	free(j);
	j = repeat("{" MINIMAL ",\"mounts\":[",
		   "{\"destination\":\"/d\",\"type\":\"bind\",\"source\":\"data\"}", 16, "]}");
	refused(j, "shared directories");
	free(j);
	j = repeat("{" MINIMAL ",\"linux\":{\"maskedPaths\":[", "\"/x\"", NB_OCI_MAX_LIST + 1,
		   "]}}");
	refused(j, "more than");
	free(j);
	/* nesting deeper than the tokenizer allows */
	j = repeat("{" MINIMAL ",\"x\":", "[", 200, "");
	refused(j, "invalid JSON");
	free(j);
}
END_TEST

START_TEST(state_dir)
{
	char root[300];
	struct nb_oci_state st = { 0 }, back;
	struct nb_err err = { 0 };
	struct nb_procstat ps;
	pid_t child;

	snprintf(root, sizeof(root), "%s/state", dir);
	ck_assert(!nb_oci_id_ok("") && !nb_oci_id_ok("..") && !nb_oci_id_ok("a/b") &&
		  nb_oci_id_ok("abc-1.2_3"));
	ck_assert_int_lt(nb_oci_state_create_dir(root, "../x", &err), 0);
	ck_assert_int_eq(nb_oci_state_create_dir(root, "c1", &err), 0);
	ck_assert_int_lt(nb_oci_state_create_dir(root, "c1", &err), 0);
	ck_assert(strstr(err.msg, "already exists"));
	/* no state.json yet: create died early */
	ck_assert_int_eq(nb_oci_state_read(root, "c1", &back, &err), 0);
	ck_assert_str_eq(nb_oci_state_status(&back), "creating");
	ck_assert_int_lt(nb_oci_state_read(root, "c2", &back, &err), 0);
	ck_assert(strstr(err.msg, "does not exist"));
	/* a live process: its recorded status; once dead (a zombie): stopped */
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	strcpy(st.id, "c1");
	strcpy(st.status, "running");
	strcpy(st.bundle, "/b");
	strcpy(st.rootfs, "/b/rootfs");
	st.pid = child;
	st.start = nb_proc_start_time(child);
	ck_assert_uint_ne(st.start, 0);
	ck_assert_int_eq(nb_oci_state_write(root, &st, &err), 0);
	ck_assert_int_eq(nb_oci_state_read(root, "c1", &back, &err), 0);
	ck_assert_str_eq(nb_oci_state_status(&back), "running");
	ck_assert_str_eq(back.bundle, "/b");
	ck_assert_str_eq(back.rootfs, "/b/rootfs");
	back.start++; /* a reused pid */
	ck_assert_str_eq(nb_oci_state_status(&back), "stopped");
	back.start--;
	kill(child, SIGKILL);
	for (int i = 0; i < 100 && nb_procstat_read(child, &ps) && ps.state != 'Z'; i++)
		usleep(10000);
	ck_assert_str_eq(nb_oci_state_status(&back), "stopped");
	waitpid(child, NULL, 0);
	ck_assert_str_eq(nb_oci_state_status(&back), "stopped");
	ck_assert_int_eq(nb_oci_state_remove(root, "c1", &err), 0);
	ck_assert_int_lt(nb_oci_state_read(root, "c1", &back, &err), 0);
}
END_TEST

START_TEST(start_gate)
{
	uint8_t buf[3 * NB_SIGMSG_MAX];
	struct nb_sigmsg start = { .type = NB_SIGMSG_START }, m;
	struct nb_signal_port port = { .log_fd = -1 };
	struct nb_err err;
	size_t len, used;
	int p[2];

	len = nb_sigmsg_encode(&start, buf);
	ck_assert_uint_eq(len, NB_SIGMSG_HEADER + 4);
	ck_assert_int_eq(nb_sigmsg_decode(buf, len, &m, &used, &err), 1);
	ck_assert_uint_eq(m.type, NB_SIGMSG_START);
	buf[NB_SIGMSG_HEADER] = 1; /* a payload that is not 0 */
	ck_assert_int_eq(nb_sigmsg_decode(buf, len, &m, &used, &err), -1);
	/* window sizes are skipped; START releases */
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	struct nb_sigmsg ws = { .type = NB_SIGMSG_WINSIZE, .rows = 2, .cols = 3 };
	len = nb_sigmsg_encode(&ws, buf);
	len += nb_sigmsg_encode(&start, buf + len);
	ck_assert_int_eq(write(p[1], buf, len), (ssize_t)len);
	port.fd = p[0];
	uint32_t rows = 0, cols = 0;
	ck_assert_int_eq(nb_signal_port_wait_start(&port, &rows, &cols), 0);
	ck_assert(rows == 2 && cols == 3);
	/* a signal first: its number; the workload is not to run */
	struct nb_sigmsg term = { .type = NB_SIGMSG_SIGNAL, .signo = SIGTERM };
	len = nb_sigmsg_encode(&term, buf);
	ck_assert_int_eq(write(p[1], buf, len), (ssize_t)len);
	ck_assert_int_eq(nb_signal_port_wait_start(&port, &rows, &cols), SIGTERM);
	/* the host closed the port */
	close(p[1]);
	ck_assert_int_eq(nb_signal_port_wait_start(&port, &rows, &cols), -1);
	close(p[0]);
}
END_TEST

START_TEST(global_options)
{
	char *a1[] = { "nestbox", "--root",           "/r",      "--log=/l", "--log-format",
		       "json",    "--systemd-cgroup", "--debug", "state",    "id",
		       NULL };
	char *a2[] = { "nestbox", "--log-format", "xml", "state", "id", NULL };
	char *a3[] = { "nestbox", "run", "--root", NULL };
	char **argv = a1;
	int argc = 10;

	ck_assert_int_eq(nb_oci_global_options(&argc, &argv), 0);
	ck_assert_int_eq(argc, 3);
	ck_assert_str_eq(argv[0], "nestbox");
	ck_assert_str_eq(argv[1], "state");
	ck_assert_str_eq(argv[2], "id");
	argv = a2;
	argc = 5;
	ck_assert_int_eq(nb_oci_global_options(&argc, &argv), -1);
	argv = a3; /* options after the command are the command's */
	argc = 3;
	ck_assert_int_eq(nb_oci_global_options(&argc, &argv), 0);
	ck_assert_int_eq(argc, 3);
	ck_assert_str_eq(argv[1], "run");
}
END_TEST

/* --log lines stay one parseable line whatever bytes the error quotes. */
START_TEST(log_line)
{
	const char *t = "2026-12-07T01:02:03.000000000Z";
	char *j = nb_oci_log_line(true, t, "create \"a\nb\": \xff\xc3 bad");
	char *x = nb_oci_log_line(false, t, "a\tb \\ \"c\"");
	json_object *o;

	ck_assert_ptr_nonnull(j);
	ck_assert_ptr_nonnull(x);
	ck_assert(strchr(j, '\n') == j + strlen(j) - 1); /* one line */
	o = json_tokener_parse(j);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "msg")),
			 "create \"a\nb\": ?? bad");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "level")), "error");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "time")), t);
	json_object_put(o);
	ck_assert_str_eq(x, "time=\"2026-12-07T01:02:03.000000000Z\" level=error "
			    "msg=\"a\\tb \\\\ \\\"c\\\"\"\n");
	free(j);
	free(x);
}
END_TEST

/* `exec --process FILE`: the process object alone, checked as config.json's. */
START_TEST(exec_process)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"args\":[\"sh\"],\"cwd\":\"/\"} trailing",
		"{\"cwd\":\"/\"}",
		"{\"args\":[],\"cwd\":\"/\"}",
		"{\"args\":[\"sh\"],\"cwd\":\"relative\"}",
		"{\"args\":[\"sh\"],\"cwd\":\"/../x\"}",
		"{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"NOEQUALS\"]}",
		"{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":-1}}",
		"{\"args\":[\"sh\"],\"cwd\":\"/\",\"consoleSize\":{\"height\":99999}}",
		"{\"args\":\"sh\",\"cwd\":\"/\"}",
	};
	const char *good = "{\"args\":[\"sh\",\"-c\",\"x\"],\"cwd\":\"/etc\",\"env\":[\"A=b\"],"
			   "\"user\":{\"uid\":7,\"gid\":8},\"terminal\":true,"
			   "\"consoleSize\":{\"height\":24,\"width\":80},\"unknown\":1}";
	struct nb_oci_bundle b;
	struct nb_err err;

	ck_assert_int_eq(nb_oci_process_parse(good, strlen(good), &b, &err), 0);
	ck_assert_uint_eq(b.opts.argc, 3);
	ck_assert_str_eq(b.opts.argv[2], "x");
	ck_assert_str_eq(b.opts.container.workdir, "/etc");
	ck_assert_str_eq(b.opts.container.user, "7:8");
	ck_assert_str_eq(b.opts.container.env[0], "A=b");
	ck_assert(b.terminal);
	ck_assert_uint_eq(b.tty_rows, 24);
	nb_oci_bundle_free(&b);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(nb_oci_process_parse(bad[i], strlen(bad[i]), &b, &err) < 0,
			      "accepted: %s", bad[i]);
		ck_assert_ptr_null(b.root);
	}
	/* a huge args array */
	size_t n = 200000;
	char *huge = malloc(n * 4 + 64);
	size_t off = (size_t)sprintf(huge, "{\"cwd\":\"/\",\"args\":[");
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(huge + off, "%s\"a\"", i ? "," : "");
	strcpy(huge + off, "]}");
	ck_assert_int_lt(nb_oci_process_parse(huge, strlen(huge), &b, &err), 0);
	free(huge);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("oci_bundle");
	TCase *tc = tcase_create("oci_bundle");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, full_bundle);
	tcase_add_test(tc, minimal_bundle);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, bad_paths);
	tcase_add_test(tc, not_in_a_vm);
	tcase_add_test(tc, huge_arrays);
	tcase_add_test(tc, state_dir);
	tcase_add_test(tc, start_gate);
	tcase_add_test(tc, global_options);
	tcase_add_test(tc, exec_process);
	tcase_add_test(tc, log_line);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
