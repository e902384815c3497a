/* `nestbox run -v HOST:GUEST[:ro][:direct]`, the volume rate options
 * (--device-{read,write}-{bps,iops}) and `-i` parsing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nestbox/abi.h"
#include "vmm/cli/cli.h"
#include "vmm/cli/volume_opts.h"
#include "vmm/run/volumes.h"
#include "unit/unit.h"

static struct nb_err last_err;

static int parse(struct nb_run_options *opts, int argc, char **argv)
{
	memset(&last_err, 0, sizeof(last_err));
	return nb_cli_parse_run(argc, argv, "/nb", opts, &last_err);
}

START_TEST(volumes_and_interactive)
{
	char *argv[] = {
		"run", "-i",  "-v", "/img/a:/data", "--volume", "/img/b:/ro:ro:direct", "rootfs",
		"--",  "cat", NULL
	};
	struct nb_run_options o;

	ck_assert_int_eq(parse(&o, 9, argv), 0);
	ck_assert(o.interactive);
	ck_assert_uint_eq(o.nvolumes, 2);
	ck_assert_str_eq(o.volumes[0].host, "/img/a");
	ck_assert_str_eq(o.volumes[0].guest, "/data");
	ck_assert(!o.volumes[0].read_only);
	ck_assert_str_eq(o.volumes[1].guest, "/ro");
	ck_assert(o.volumes[1].read_only && o.volumes[1].direct);
	ck_assert_str_eq(o.argv[0], "cat");
}
END_TEST

START_TEST(bad_volumes)
{
	static const char *const bad[] = { "/img",     "/img:data",   "/img:/a/../b",
					   "/img:/..", "/img:/d:rox", ":/d" };
	struct nb_run_options o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = { "run", "-v", (char *)bad[i], "rootfs", "true", NULL };

		ck_assert_msg(parse(&o, 5, argv) < 0, "%s accepted", bad[i]);
	}
}
END_TEST

START_TEST(too_many_volumes)
{
	char *argv[2 * NB_RUN_MAX_VOLUMES + 6];
	struct nb_run_options o;
	int n = 0;

	argv[n++] = "run";
	for (unsigned i = 0; i <= NB_RUN_MAX_VOLUMES; i++) {
		argv[n++] = "-v";
		argv[n++] = "/img:/d";
	}
	argv[n++] = "rootfs";
	argv[n++] = "true";
	argv[n] = NULL;
	ck_assert_int_lt(parse(&o, n, argv), 0);
}
END_TEST

START_TEST(device_rates)
{
	/* A rate may come before its -v; both volumes of one file match. */
	char *argv[] = { "run",
			 "--device-read-bps",
			 "/img/a:10mb",
			 "-v",
			 "/img/a:/data",
			 "--device-write-bps=/img/a:512k",
			 "--device-read-iops",
			 "/img/a:100",
			 "-v",
			 "/img/b:/b",
			 "--device-write-iops",
			 "/img/b:7",
			 "rootfs",
			 "true",
			 NULL };
	struct nb_ratelimit_config rd, wr;
	struct nb_run_options o;

	ck_assert_msg(parse(&o, 14, argv) == 0, "%s", last_err.msg);
	ck_assert_uint_eq(o.volumes[0].read_bps, 10u << 20);
	ck_assert_uint_eq(o.volumes[0].write_bps, 512u << 10);
	ck_assert_uint_eq(o.volumes[0].read_iops, 100);
	ck_assert_uint_eq(o.volumes[0].write_iops, 0);
	ck_assert_uint_eq(o.volumes[1].write_iops, 7);
	ck_assert_uint_eq(o.volumes[1].read_bps, 0);
	nb_volume_limits(&o.volumes[0], &rd, &wr);
	ck_assert_uint_eq(rd.bytes.size, 10u << 20);
	ck_assert_uint_eq(rd.bytes.refill_ms, 1000);
	ck_assert_uint_eq(rd.ops.size, 100);
	ck_assert_uint_eq(wr.bytes.size, 512u << 10);
	ck_assert_uint_eq(wr.ops.size, 0); /* unlimited */
}
END_TEST

START_TEST(device_rate_same_file)
{
	char img[] = "/tmp/nestbox-rate-XXXXXX", other[64];
	int fd = mkstemp(img);

	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(other, sizeof(other), "/tmp/./%s:1m", img + 5);
	char vol[64];
	snprintf(vol, sizeof(vol), "%s:/data", img);
	char *argv[] = { "run", "-v", vol, "--device-read-bps", other, "rootfs", "true", NULL };
	struct nb_run_options o;

	ck_assert_msg(parse(&o, 7, argv) == 0, "%s", last_err.msg);
	ck_assert_uint_eq(o.volumes[0].read_bps, 1u << 20);
	unlink(img);
}
END_TEST

START_TEST(bad_device_rates)
{
	static const struct {
		const char *opt, *arg, *says;
	} bad[] = {
		{ "--device-read-bps", "/img/b:1m", "not a volume" },
		{ "--device-read-bps", "/img/a", "HOST_IMG:RATE" },
		{ "--device-read-bps", ":1m", "HOST_IMG:RATE" },
		{ "--device-write-bps", "/img/a:", "invalid rate" },
		{ "--device-write-bps", "/img/a:0", "invalid rate" },
		{ "--device-write-bps", "/img/a:-1m", "invalid rate" },
		{ "--device-read-bps", "/img/a:10x", "invalid rate" },
		{ "--device-read-iops", "/img/a:1.5", "invalid count" },
		{ "--device-read-iops", "/img/a:0", "invalid count" },
		{ "--device-write-iops", "/img/a", "HOST_IMG:N" },
		{ "--device-write-iops", "/img/c:5", "not a volume" },
	};
	struct nb_run_options o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = { "run",
				 "-v",
				 "/img/a:/data",
				 (char *)bad[i].opt,
				 (char *)bad[i].arg,
				 "rootfs",
				 "true",
				 NULL };

		ck_assert_msg(parse(&o, 7, argv) < 0, "%s %s accepted", bad[i].opt, bad[i].arg);
		/* The message names the option and says what to do; exit 125. */
		ck_assert_msg(strstr(last_err.msg, bad[i].opt) && strstr(last_err.msg, bad[i].says),
			      "%s %s: %s", bad[i].opt, bad[i].arg, last_err.msg);
		ck_assert_int_eq(nb_err_status(&last_err), NB_STATUS_ERROR);
	}
	/* Without any -v every rate is refused. */
	char *none[] = { "run", "--device-read-bps", "/img/a:1m", "rootfs", "true", NULL };
	ck_assert_int_lt(parse(&o, 5, none), 0);
	ck_assert_ptr_nonnull(strstr(last_err.msg, "-v /img/a:/GUEST_PATH"));
}
END_TEST

START_TEST(directories_are_shared)
{
	char dir[] = "/tmp/nestbox-share-XXXXXX", vol[64], ro[64], direct[64], rate[64];
	struct nb_run_options o;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(vol, sizeof(vol), "%s:/src", dir);
	snprintf(ro, sizeof(ro), "%s:/site:ro", dir);
	char *argv[] = { "run", "-v", vol, "-v", ro, "-v", "/img/a:/data", "rootfs", "true", NULL };
	ck_assert_msg(parse(&o, 9, argv) == 0, "%s", last_err.msg);
	ck_assert(o.volumes[0].dir && !o.volumes[0].read_only);
	ck_assert(o.volumes[1].dir && o.volumes[1].read_only);
	ck_assert(!o.volumes[2].dir); /* a file (or nothing): a disk, as before */
	/* direct and rates are for disks */
	snprintf(direct, sizeof(direct), "%s:/src:direct", dir);
	char *d[] = { "run", "-v", direct, "rootfs", "true", NULL };
	ck_assert_int_lt(parse(&o, 5, d), 0);
	ck_assert_ptr_nonnull(strstr(last_err.msg, "is a directory"));
	snprintf(rate, sizeof(rate), "%s:1m", dir);
	char *r[] = { "run", "-v", vol, "--device-read-bps", rate, "rootfs", "true", NULL };
	ck_assert_int_lt(parse(&o, 7, r), 0);
	ck_assert_ptr_nonnull(strstr(last_err.msg, "shared directory"));
	/* NESTBOX_BLK_DIRECT=1 leaves shares alone */
	setenv("NESTBOX_BLK_DIRECT", "1", 1);
	ck_assert_int_eq(parse(&o, 9, argv), 0);
	ck_assert(!o.volumes[0].direct && o.volumes[2].direct);
	unsetenv("NESTBOX_BLK_DIRECT");
	rmdir(dir);
}
END_TEST

START_TEST(mount_option)
{
	char dir[] = "/tmp/nestbox-mount-XXXXXX", m1[128], m2[128];
	struct nb_run_options o;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(m1, sizeof(m1), "type=bind,source=%s,target=/a,readonly", dir);
	snprintf(m2, sizeof(m2), "dst=/b,src=%s,type=bind,ro=false", dir);
	char *argv[] = { "run", "--mount", m1, "--mount", m2, "rootfs", "true", NULL };
	ck_assert_msg(parse(&o, 7, argv) == 0, "%s", last_err.msg);
	ck_assert_uint_eq(o.nvolumes, 2);
	ck_assert_str_eq(o.volumes[0].host, dir);
	ck_assert_str_eq(o.volumes[0].guest, "/a");
	ck_assert(o.volumes[0].dir && o.volumes[0].read_only);
	ck_assert_str_eq(o.volumes[1].guest, "/b");
	ck_assert(o.volumes[1].dir && !o.volumes[1].read_only);
	static const char *const bad[] = {
		"type=volume,source=/tmp,target=/a", /* only bind */
		"source=/tmp,target=/a",             /* no type */
		"type=bind,target=/a",               /* no source */
		"type=bind,source=/tmp",             /* no target */
		"type=bind,source=tmp,target=/a",    /* relative source */
		"type=bind,source=/tmp,target=a",    /* relative target */
		"type=bind,source=/tmp,target=/a/../b",
		"type=bind,source=/nonexistent-nestbox,target=/a", /* must exist */
		"type=bind,source=/tmp,target=/a,bind-propagation=rshared",
		"type=bind,source=/tmp,target=/a,readonly=maybe",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *b[] = { "run", "--mount", (char *)bad[i], "rootfs", "true", NULL };
		ck_assert_msg(parse(&o, 5, b) < 0, "%s accepted", bad[i]);
		ck_assert_ptr_nonnull(strstr(last_err.msg, "--mount"));
	}
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli_volume");
	TCase *tc = tcase_create("cli_volume");

	tcase_add_test(tc, volumes_and_interactive);
	tcase_add_test(tc, bad_volumes);
	tcase_add_test(tc, too_many_volumes);
	tcase_add_test(tc, device_rates);
	tcase_add_test(tc, device_rate_same_file);
	tcase_add_test(tc, bad_device_rates);
	tcase_add_test(tc, directories_are_shared);
	tcase_add_test(tc, mount_option);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
