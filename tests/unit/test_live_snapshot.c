/* `nestbox snapshot` of a running VM (issue 16): the control request's
 * path with hostile values, the options a live snapshot refuses, the
 * monitor's sparse copy of the memory file, the signal that reaches
 * the VMM's snapshot hook, and a restore's -v directories (recorded,
 * hostile, and moved with -v NEWHOST:GUEST). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "unit/unit.h"
#include "vmm/run/ctl_proto.h"
#include "vmm/run/run.h"
#include "vmm/run/sigforward.h"
#include "vmm/run/template.h"

#define PARSE(line) nb_ctl_parse(line, strlen(line), &req, &code, msg, sizeof(msg))

START_TEST(snapshot_request)
{
	struct nb_ctl_request req;
	const char *code;
	char msg[256];

	ck_assert_int_eq(PARSE("{\"op\":\"snapshot\",\"path\":\"/srv/snap\"}"), 0);
	ck_assert_int_eq(req.op, NB_CTL_SNAPSHOT);
	ck_assert_str_eq(req.path, "/srv/snap");
	ck_assert_int_eq(PARSE("{\"path\":\"/a b/\\u00e9t\\u00e9/.x/..y\",\"op\":\"snapshot\"}"),
			 0);
	ck_assert_str_eq(req.path, "/a b/\xc3\xa9t\xc3\xa9/.x/..y");
	ck_assert_str_eq(nb_ctl_op_name(NB_CTL_SNAPSHOT), "snapshot");
	ck_assert_int_eq(NB_CTL_PROTOCOL, 3);
}
END_TEST

START_TEST(snapshot_refuses_hostile_paths)
{
	static const char *const bad[] = {
		"{\"op\":\"snapshot\"}",                          /* no path */
		"{\"op\":\"snapshot\",\"path\":\"\"}",            /* empty */
		"{\"op\":\"snapshot\",\"path\":\"snap\"}",        /* relative */
		"{\"op\":\"snapshot\",\"path\":\"./snap\"}",      /* relative */
		"{\"op\":\"snapshot\",\"path\":\"/srv/../etc\"}", /* .. */
		"{\"op\":\"snapshot\",\"path\":\"/srv/..\"}",
		"{\"op\":\"snapshot\",\"path\":\"/srv/./x\"}",     /* . */
		"{\"op\":\"snapshot\",\"path\":\"/srv/snap\\n\"}", /* control characters */
		"{\"op\":\"snapshot\",\"path\":\"/srv/\\u001bsnap\"}",
		"{\"op\":\"snapshot\",\"path\":\"/srv/\\u007fsnap\"}",
		"{\"op\":\"snapshot\",\"path\":\"/srv/\\u0000snap\"}", /* a NUL inside */
		"{\"op\":\"snapshot\",\"path\":1}",                    /* not a string */
		"{\"op\":\"snapshot\",\"path\":null}",
		"{\"op\":\"snapshot\",\"path\":[\"/srv\"]}",
		"{\"op\":\"snapshot\",\"path\":{}}",
		"{\"op\":\"snapshot\",\"path\":\"/srv\",\"memory\":1}", /* not this op's */
		"{\"op\":\"state\",\"path\":\"/srv\"}",
	};
	static char longer[NB_CTL_PATH_MAX + 64];
	struct nb_ctl_request req;
	const char *code;
	char msg[256];
	int n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(PARSE(bad[i]) == -1, "accepted: %s", bad[i]);
		ck_assert_str_eq(code, NB_CTL_E_BAD_REQUEST);
	}
	/* NB_CTL_PATH_MAX bytes pass, one more does not */
	n = snprintf(longer, sizeof(longer), "{\"op\":\"snapshot\",\"path\":\"/");
	memset(longer + n, 'a', NB_CTL_PATH_MAX - 1);
	strcpy(longer + n + NB_CTL_PATH_MAX - 1, "\"}");
	ck_assert_int_eq(PARSE(longer), 0);
	ck_assert_uint_eq(strlen(req.path), NB_CTL_PATH_MAX);
	memset(longer + n, 'a', NB_CTL_PATH_MAX);
	strcpy(longer + n + NB_CTL_PATH_MAX, "\"}");
	ck_assert_int_eq(PARSE(longer), -1);
}
END_TEST

START_TEST(refusal_names_host_state)
{
	struct nb_run_options o = { .rootfs = "docker.io/library/busybox:latest" };

	ck_assert_ptr_null(nb_run_snapshot_refusal(&o));
	o.detach.on = true;
	ck_assert_ptr_null(nb_run_snapshot_refusal(&o));
	o.confine.cgroup = "nestbox.slice"; /* confined: its files opened before */
	o.confine.jail = "/var/jail";
	ck_assert_ptr_null(nb_run_snapshot_refusal(&o));
	o.confine.cgroup = o.confine.jail = NULL;
	o.nvolumes = 1; /* a disk image: copied while the VM holds */
	o.volumes[0] = (struct nb_run_volume){ .host = "/srv/disk.img", .guest = "/d" };
	ck_assert_ptr_null(nb_run_snapshot_refusal(&o));
	o.volumes[0].dir = true; /* a directory: its restores share it again */
	ck_assert_ptr_null(nb_run_snapshot_refusal(&o));
	o.nvolumes = 0;
	o.net.tap = "tap0"; /* the user's tap: its restores give their own */
	ck_assert_ptr_null(nb_run_snapshot_refusal(&o));
	o.net.tap = NULL;
	o.net.network = "tenants"; /* a NIC on a network: its restores join anew */
	o.net.npublish = 1;
	ck_assert_ptr_null(nb_run_snapshot_refusal(&o));
	o.net.network = NULL;
	ck_assert_ptr_null(nb_run_snapshot_refusal(&o)); /* -p: the default network */
	o.net.npublish = 0;
	o.net.vsock_path = "/tmp/v.sock"; /* its restores: a reset, their own socket */
	ck_assert_ptr_null(nb_run_snapshot_refusal(&o));
	o.net.vsock_path = NULL;
	o.res.prealloc = o.res.hugetlb = true; /* its restores read RAM in, or map it */
	ck_assert_ptr_null(nb_run_snapshot_refusal(&o));
	o.res.prealloc = o.res.hugetlb = false;
	o.tty = true;
	ck_assert_ptr_nonnull(nb_run_snapshot_refusal(&o));
	o.tty = false;
	o.rootfs = "/some/rootfs/dir"; /* in the guest's initramfs: its memory */
	ck_assert_ptr_null(nb_run_snapshot_refusal(&o));
	o.rootfs = NULL; /* an OCI bundle's root share */
	ck_assert_ptr_nonnull(strstr(nb_run_snapshot_refusal(&o), "OCI bundle"));
}
END_TEST

/* Guaranteed RAM has no balloon; a restore has its snapshot's devices,
 * whatever its own memory options. */
START_TEST(balloon_follows_the_snapshot)
{
	struct nb_run_options o = { .rootfs = "docker.io/library/busybox:latest" };

	ck_assert(nb_run_has_balloon(&o));
	o.res.prealloc = true;
	ck_assert(!nb_run_has_balloon(&o));
	o.res.prealloc = false;
	o.res.hugetlb = true;
	ck_assert(!nb_run_has_balloon(&o));
	o.warm.restore = "/srv/snap"; /* a snapshot of a VM with one */
	ck_assert(nb_run_has_balloon(&o));
	o.res.hugetlb = false;
	o.warm.no_balloon = true; /* of a VM without */
	ck_assert(!nb_run_has_balloon(&o));
}
END_TEST

START_TEST(sparse_copy_keeps_holes_and_bytes)
{
	char dir[] = "/tmp/nb-unit-snap.XXXXXX";
	int dfd, fd;
	struct stat a, b;
	struct nb_err err;
	char buf[8];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	fd = openat(dfd, "memory", O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 64 << 20), 0);
	ck_assert_int_eq(pwrite(fd, "head", 4, 0), 4);
	ck_assert_int_eq(pwrite(fd, "tail", 4, (64 << 20) - 4), 4);
	close(fd);
	ck_assert_int_eq(nb_copy_sparse(dfd, "memory", dfd, "copy", &err), 0);
	ck_assert_int_eq(fstatat(dfd, "memory", &a, 0), 0);
	ck_assert_int_eq(fstatat(dfd, "copy", &b, 0), 0);
	ck_assert_int_eq(b.st_size, 64 << 20);
	ck_assert_int_le(b.st_blocks, a.st_blocks + 64); /* no zeros written out */
	fd = openat(dfd, "copy", O_RDONLY);
	ck_assert_int_eq(pread(fd, buf, 4, 0), 4);
	ck_assert_int_eq(memcmp(buf, "head", 4), 0);
	ck_assert_int_eq(pread(fd, buf, 4, (64 << 20) - 4), 4);
	ck_assert_int_eq(memcmp(buf, "tail", 4), 0);
	close(fd);
	/* never over an existing file, never through a link */
	ck_assert_int_eq(nb_copy_sparse(dfd, "memory", dfd, "copy", &err), -1);
	ck_assert_int_eq(symlinkat("memory", dfd, "link"), 0);
	ck_assert_int_eq(nb_copy_sparse(dfd, "link", dfd, "copy2", &err), -1);
	ck_assert_int_eq(faccessat(dfd, "copy2", F_OK, 0), -1);
	unlinkat(dfd, "memory", 0);
	unlinkat(dfd, "copy", 0);
	unlinkat(dfd, "link", 0);
	close(dfd);
	rmdir(dir);
}
END_TEST

static int snapshots;
static void count_snapshot(void *opaque)
{
	(void)opaque;
	snapshots++;
}

START_TEST(signal_reaches_the_hook)
{
	struct nb_sigforward f = { 0 };

	/* a VMM that cannot be snapshotted: the signal stops it, as any
	 * signal it does not forward */
	ck_assert(!nb_sigforward(&f, NB_SIGNAL_SNAPSHOT, 0));
	f.snapshot.fn = count_snapshot;
	ck_assert(nb_sigforward(&f, NB_SIGNAL_SNAPSHOT, 0));
	ck_assert(nb_sigforward(&f, NB_SIGNAL_SNAPSHOT, 12345));
	ck_assert_int_eq(snapshots, 2);
}
END_TEST

/* One restore's volumes: recorded triples (NULL-terminated) of snapshot
 * /snap and the restore's own -v; the result and the message. t stays
 * (opts points into it) until the next call. */
static int restore_with(char **recorded, const struct nb_run_volume *given, size_t ngiven,
			struct nb_run_options *opts, struct nb_err *err)
{
	static struct nb_template t;

	for (size_t i = 0; i < NB_RUN_MAX_VOLUMES; i++)
		free(t.disks[i]);
	t = (struct nb_template){ .volumes = recorded, .dir = "/snap" };
	memset(opts, 0, sizeof(*opts));
	if (ngiven)
		memcpy(opts->volumes, given, ngiven * sizeof(*given));
	opts->nvolumes = ngiven;
	memset(err, 0, sizeof(*err));
	return nb_template_restore_volumes("snapshot S", opts, &t, err);
}

#define DIRV(h, g, r) \
	((struct nb_run_volume){ .host = (h), .guest = (g), .read_only = (r), .dir = true })

START_TEST(restore_moves_a_directory)
{
	char *rec[] = { "/srv/a", "/data", "rw", "/srv/b", "/logs", "ro", NULL };
	struct nb_run_options opts;
	struct nb_err err;

	/* none given: the recorded ones, in order */
	ck_assert_int_eq(restore_with(rec, NULL, 0, &opts, &err), 0);
	ck_assert_uint_eq(opts.nvolumes, 2);
	ck_assert_str_eq(opts.volumes[0].host, "/srv/a");
	ck_assert_str_eq(opts.volumes[1].guest, "/logs");
	ck_assert(!opts.volumes[0].read_only && opts.volumes[1].read_only);
	ck_assert(opts.volumes[0].dir && opts.volumes[1].dir);

	/* /data moved (a trailing slash is the same path); /logs stays; the
	 * order is the snapshot's, not the -v's */
	const struct nb_run_volume moved[] = { DIRV("/srv/b2", "/logs", true),
					       DIRV("/new/a", "/data/", false) };
	ck_assert_int_eq(restore_with(rec, moved, 2, &opts, &err), 0);
	ck_assert_uint_eq(opts.nvolumes, 2);
	ck_assert_str_eq(opts.volumes[0].host, "/new/a");
	ck_assert_str_eq(opts.volumes[0].guest, "/data");
	ck_assert_str_eq(opts.volumes[1].host, "/srv/b2");
	ck_assert(!opts.volumes[0].read_only && opts.volumes[1].read_only);

	const struct nb_run_volume one[] = { DIRV("/new/a", "/data", false) };
	ck_assert_int_eq(restore_with(rec, one, 1, &opts, &err), 0);
	ck_assert_str_eq(opts.volumes[0].host, "/new/a");
	ck_assert_str_eq(opts.volumes[1].host, "/srv/b");
}
END_TEST

START_TEST(restore_refuses_bad_moves)
{
	char *rec[] = { "/srv/a", "/data", "rw", "/srv/b", "/logs", "ro", NULL };
	static const struct {
		struct nb_run_volume v[2];
		size_t n;
		const char *says;
	} bad[] = {
		{ { DIRV("/x", "/other", false) }, 1, "no volume at /other" },
		{ { DIRV("/x", "/dat", false) }, 1, "no volume at /dat" },
		{ { DIRV("/x", "/data/sub", false) }, 1, "no volume at /data/sub" },
		{ { { .host = "/x.img", .guest = "/data" } }, 1, "not a directory" },
		{ { DIRV("/x", "/data", true) }, 1, "mounted read-write; give it without :ro" },
		{ { DIRV("/x", "/logs", false) }, 1, "mounted read-only; give it with :ro" },
		{ { DIRV("/x", "/data", false), DIRV("/y", "/data/", false) }, 2, "given twice" },
	};
	struct nb_run_options opts;
	struct nb_err err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(restore_with(rec, bad[i].v, bad[i].n, &opts, &err), -1);
		ck_assert_msg(strstr(err.msg, bad[i].says) && strstr(err.msg, "snapshot S"),
			      "case %zu: %s", i, err.msg);
	}
	/* a snapshot without directories takes no -v */
	ck_assert_int_eq(restore_with(NULL, bad[0].v, 1, &opts, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "has no -v volumes"));
	ck_assert_int_eq(restore_with(NULL, NULL, 0, &opts, &err), 0);
	ck_assert_uint_eq(opts.nvolumes, 0);
}
END_TEST

/* -v disks: copied into the snapshot as disk-INDEX. A read-only one is
 * that copy, for every restore; a read-write one is copied to a new path
 * each restore gives. */
START_TEST(restore_places_disks)
{
	char *rec[] = {
		"/srv/a", "/data", "rw", "disk-1", "/ro", "ro", "disk-2", "/db", "rw", NULL
	};
	const struct nb_run_volume db[] = { { .host = "/nonexistent/t2/db.img", .guest = "/db" } };
	struct nb_run_options opts;
	struct nb_err err;

	ck_assert_int_eq(restore_with(rec, db, 1, &opts, &err), 0);
	ck_assert_uint_eq(opts.nvolumes, 3);
	ck_assert(opts.volumes[0].dir && !opts.volumes[1].dir && !opts.volumes[2].dir);
	ck_assert_str_eq(opts.volumes[0].host, "/srv/a");
	ck_assert_str_eq(opts.volumes[1].host, "/snap/disk-1");
	ck_assert(opts.volumes[1].read_only && !opts.volumes[2].read_only);
	ck_assert_str_eq(opts.volumes[2].host, "/nonexistent/t2/db.img");
	ck_assert_str_eq(opts.volumes[2].guest, "/db");

	static const struct {
		struct nb_run_volume v;
		const char *says;
	} bad[] = {
		{ { .host = "/tmp", .guest = "/db" }, "-v /tmp:/db: /tmp exists" },
		{ DIRV("/srv/db", "/db", false), "a directory (the guest has a disk at /db)" },
		{ { .host = "/new.img", .guest = "/ro", .read_only = true }, "give no -v for it" },
		{ { .host = "/new.img", .guest = "/db", .read_only = true }, "without :ro" },
		{ { .host = "/new.img", .guest = "/data" }, "not a directory" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(restore_with(rec, &bad[i].v, 1, &opts, &err), -1);
		ck_assert_msg(strstr(err.msg, bad[i].says), "case %zu: %s", i, err.msg);
	}
	/* the read-write disk needs its new path */
	ck_assert_int_eq(restore_with(rec, NULL, 0, &opts, &err), -1);
	ck_assert_msg(strstr(err.msg, "read-write disk at /db: give the restore -v NEWFILE:/db"),
		      "%s", err.msg);
	/* a disk's copy is named by its own index, nothing else */
	char *moved[] = { "disk-1", "/d", "ro", NULL };
	char *escape[] = { "../disk-0", "/d", "ro", NULL };
	ck_assert_int_eq(restore_with(moved, NULL, 0, &opts, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "not an absolute HOST"));
	ck_assert_int_eq(restore_with(escape, NULL, 0, &opts, &err), -1);
	ck_assert_int_eq(restore_with(NULL, NULL, 0, &opts, &err), 0);
}
END_TEST

/* meta.json is hostile: its triples are checked before any -v is matched
 * against them. */
START_TEST(restore_refuses_hostile_records)
{
	char *relative[] = { "srv/a", "/data", "rw", NULL };
	char *guest_rel[] = { "/srv/a", "data", "rw", NULL };
	char *mode[] = { "/srv/a", "/data", "rx", NULL };
	char *pair[] = { "/srv/a", "/data", NULL };
	char *many[3 * (NB_RUN_MAX_VOLUMES + 1) + 1];
	const struct nb_run_volume mv[] = { DIRV("/x", "data", false) };
	struct nb_run_options opts;
	struct nb_err err;

	for (size_t i = 0; i < 3 * (NB_RUN_MAX_VOLUMES + 1); i++)
		many[i] = i % 3 == 2 ? "rw" : "/p";
	many[3 * (NB_RUN_MAX_VOLUMES + 1)] = NULL;
	ck_assert_int_eq(restore_with(relative, NULL, 0, &opts, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "not an absolute HOST"));
	ck_assert_int_eq(restore_with(guest_rel, mv, 1, &opts, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "not an absolute HOST"));
	ck_assert_int_eq(restore_with(mode, NULL, 0, &opts, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "ro or rw"));
	ck_assert_int_eq(restore_with(pair, NULL, 0, &opts, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "triples"));
	ck_assert_int_eq(restore_with(many, NULL, 0, &opts, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "triples"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("live_snapshot");
	TCase *tc = tcase_create("live_snapshot");

	tcase_add_test(tc, snapshot_request);
	tcase_add_test(tc, snapshot_refuses_hostile_paths);
	tcase_add_test(tc, refusal_names_host_state);
	tcase_add_test(tc, balloon_follows_the_snapshot);
	tcase_add_test(tc, sparse_copy_keeps_holes_and_bytes);
	tcase_add_test(tc, signal_reaches_the_hook);
	tcase_add_test(tc, restore_moves_a_directory);
	tcase_add_test(tc, restore_refuses_bad_moves);
	tcase_add_test(tc, restore_refuses_hostile_records);
	tcase_add_test(tc, restore_places_disks);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
