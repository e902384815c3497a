/* Spec codec: round trips, and every malformed blob must fail with a message
 * that names the culprit (never crash: this runs under ASan/UBSan). */
#include <check.h>
#include <libfdt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/spec.h"
#include "nestbox/abi.h"

static const char *const good_argv[] = { "/bin/sh", "-c", "echo hello; exit 3" };
static const char *const good_env[] = { "PATH=/bin", "EMPTY=", "A=b=c" };

static struct nb_spec good_spec(void)
{
	return (struct nb_spec){
		.argv = good_argv, .argc = 3, .env = good_env, .envc = 3, .rootfs = "/rootfs"
	};
}

static void *encode_good(size_t *len)
{
	struct nb_spec spec = good_spec();
	struct nb_err err = { 0 };
	void *blob = NULL;

	ck_assert_msg(nb_spec_encode(&spec, &blob, len, &err) == 0, "%s", err.msg);
	return blob;
}

/* A property for a hand-made blob; len < 0 means strlen(data) + 1. */
struct prop {
	const char *name;
	const void *data;
	int len;
};

#define STR(s) ((const void *)(s)), -1
#define BYTES(s) ((const void *)(s)), (int)(sizeof(s) - 1)

static const unsigned char version_be[4] = { 0, 0, 0, 4 }; /* fdt32 NB_SPEC_FORMAT */

/* Build a blob with exactly these root properties. */
static void *make_blob(const struct prop *props, size_t n, size_t *len)
{
	size_t cap = 1024;
	void *buf;

	for (size_t i = 0; i < n; i++)
		cap += props[i].len < 0 ? strlen(props[i].data) + 64 : (size_t)props[i].len + 64;
	buf = malloc(cap);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fdt_create(buf, (int)cap), 0);
	ck_assert_int_eq(fdt_finish_reservemap(buf), 0);
	ck_assert_int_eq(fdt_begin_node(buf, ""), 0);
	for (size_t i = 0; i < n; i++) {
		int plen = props[i].len < 0 ? (int)strlen(props[i].data) + 1 : props[i].len;

		ck_assert_int_eq(fdt_property(buf, props[i].name, props[i].data, plen), 0);
	}
	ck_assert_int_eq(fdt_end_node(buf), 0);
	ck_assert_int_eq(fdt_finish(buf), 0);
	*len = fdt_totalsize(buf);
	return buf;
}

/* Decode must fail and the message must contain want. */
static void expect_decode_error(const void *blob, size_t len, const char *want)
{
	struct nb_spec spec;
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_spec_decode(blob, len, &spec, &err), -1);
	ck_assert_msg(strstr(err.msg, want), "message \"%s\" lacks \"%s\"", err.msg, want);
	ck_assert_ptr_null(spec.argv);
}

static void expect_props_error(const struct prop *props, size_t n, const char *want)
{
	size_t len;
	void *blob = make_blob(props, n, &len);

	expect_decode_error(blob, len, want);
	free(blob);
}

#define VERSION_OK                             \
	{                                      \
		NB_SPEC_VERSION, version_be, 4 \
	}
#define ARGV_OK                                       \
	{                                             \
		NB_SPEC_ARGV, BYTES("sh\0-c\0true\0") \
	}
#define ROOTFS_OK                              \
	{                                      \
		NB_SPEC_ROOTFS, STR("/rootfs") \
	}
#define EXPECT(want, ...)                                                             \
	do {                                                                          \
		const struct prop props_[] = { __VA_ARGS__ };                         \
		expect_props_error(props_, sizeof(props_) / sizeof(props_[0]), want); \
	} while (0)

START_TEST(round_trip)
{
	struct nb_spec out;
	struct nb_err err = { 0 };
	size_t len;
	void *blob = encode_good(&len);

	ck_assert_uint_le(len, NB_SPEC_MAX_SIZE);
	ck_assert_int_eq(nb_spec_decode(blob, len, &out, &err), 0);
	ck_assert_uint_eq(out.argc, 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_str_eq(out.argv[i], good_argv[i]);
	ck_assert_ptr_null(out.argv[3]);
	ck_assert_uint_eq(out.envc, 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_str_eq(out.env[i], good_env[i]);
	ck_assert_ptr_null(out.env[3]);
	ck_assert_str_eq(out.rootfs, "/rootfs");
	nb_spec_free(&out);
	free(blob);
}
END_TEST

START_TEST(round_trip_no_env)
{
	struct nb_spec in = { .argv = good_argv, .argc = 1, .rootfs = "/" };
	struct nb_spec out;
	struct nb_err err = { 0 };
	void *blob;
	size_t len;

	ck_assert_int_eq(nb_spec_encode(&in, &blob, &len, &err), 0);
	ck_assert_int_eq(nb_spec_decode(blob, len, &out, &err), 0);
	ck_assert_uint_eq(out.argc, 1);
	ck_assert_uint_eq(out.envc, 0);
	ck_assert_ptr_nonnull(out.env);
	ck_assert_ptr_null(out.env[0]);
	ck_assert_str_eq(out.rootfs, "/");
	nb_spec_free(&out);
	free(blob);
}
END_TEST

/* Each prefix is copied into an exact-size heap buffer so ASan catches any
 * read past it. */
START_TEST(every_prefix_fails)
{
	size_t len;
	void *blob = encode_good(&len);

	for (size_t n = 0; n < len; n++) {
		struct nb_spec spec;
		struct nb_err err = { 0 };
		void *copy = malloc(n ? n : 1);

		memcpy(copy, blob, n);
		ck_assert_msg(nb_spec_decode(copy, n, &spec, &err) == -1, "prefix %zu decoded", n);
		ck_assert_msg(strncmp(err.msg, "spec: ", 6) == 0, "prefix %zu: %s", n, err.msg);
		free(copy);
	}
	free(blob);
}
END_TEST

START_TEST(oversize_blob)
{
	size_t len;
	void *blob = encode_good(&len);
	char *big = calloc(1, NB_SPEC_MAX_SIZE + 1);

	memcpy(big, blob, len);
	expect_decode_error(big, NB_SPEC_MAX_SIZE + 1, "more than the limit");
	free(big);
	free(blob);
}
END_TEST

START_TEST(oversize_encode)
{
	static const char *argv[32];
	char *s = malloc(NB_SPEC_MAX_STRING + 1);
	struct nb_spec spec = { .argv = argv, .argc = 32, .rootfs = "/" };
	struct nb_err err = { 0 };
	void *blob = NULL;
	size_t len;

	memset(s, 'x', NB_SPEC_MAX_STRING);
	s[NB_SPEC_MAX_STRING] = '\0';
	for (size_t i = 0; i < 32; i++)
		argv[i] = s;
	ck_assert_int_eq(nb_spec_encode(&spec, &blob, &len, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "exceed"));
	free(s);
}
END_TEST

START_TEST(bad_magic)
{
	size_t len;
	unsigned char *blob = encode_good(&len);

	blob[0] ^= 0xff;
	expect_decode_error(blob, len, "FDT_ERR_BADMAGIC");
	free(blob);
}
END_TEST

START_TEST(totalsize_lies)
{
	size_t len;
	struct fdt_header *blob = encode_good(&len);

	blob->totalsize = cpu_to_fdt32(len + 64);
	expect_decode_error(blob, len, "not a valid device tree");
	free(blob);
}
END_TEST

/* libfdt 1.6.1's fdt_check_full() dereferences NULL on a header older than
 * version 17 (issue 11, finding 7): such a blob must be refused first. */
START_TEST(old_fdt_header_version)
{
	static const uint32_t versions[] = { 2, 3, 16, 1 };

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		size_t len;
		struct fdt_header *blob = encode_good(&len);

		blob->version = cpu_to_fdt32(versions[i]);
		blob->last_comp_version = cpu_to_fdt32(versions[i] < 16 ? versions[i] : 16);
		expect_decode_error(blob, len, "device tree header version");
		free(blob);
	}
}
END_TEST

START_TEST(wrong_version)
{
	const uint32_t v1 = cpu_to_fdt32(1);

	EXPECT("this nestbox-init reads 4", { NB_SPEC_VERSION, &v1, 4 }, ARGV_OK, ROOTFS_OK);
}
END_TEST

START_TEST(version_wrong_length)
{
	const uint64_t v = cpu_to_fdt64(1);

	EXPECT("property nestbox,version is 8 bytes", { NB_SPEC_VERSION, &v, 8 }, ARGV_OK,
	       ROOTFS_OK);
	EXPECT("property nestbox,version is 2 bytes", { NB_SPEC_VERSION, STR("1") }, ARGV_OK,
	       ROOTFS_OK);
	EXPECT("property nestbox,version is 0 bytes", { NB_SPEC_VERSION, "", 0 }, ARGV_OK,
	       ROOTFS_OK);
}
END_TEST

START_TEST(version_missing)
{
	EXPECT("property nestbox,version is missing", ARGV_OK, ROOTFS_OK);
}
END_TEST

START_TEST(argv_missing)
{
	EXPECT("property argv is missing", VERSION_OK, ROOTFS_OK);
}
END_TEST

START_TEST(argv_empty)
{
	EXPECT("property argv is empty", VERSION_OK, { NB_SPEC_ARGV, "", 0 }, ROOTFS_OK);
}
END_TEST

START_TEST(argv_unterminated)
{
	EXPECT("property argv is not NUL-terminated", VERSION_OK, { NB_SPEC_ARGV, BYTES("sh") },
	       ROOTFS_OK);
	EXPECT("property argv is not NUL-terminated", VERSION_OK, { NB_SPEC_ARGV, BYTES("sh\0-c") },
	       ROOTFS_OK);
}
END_TEST

START_TEST(argv_empty_entry)
{
	EXPECT("property argv entry 1 is empty", VERSION_OK, { NB_SPEC_ARGV, BYTES("sh\0\0x\0") },
	       ROOTFS_OK);
	EXPECT("property argv entry 0 is empty", VERSION_OK, { NB_SPEC_ARGV, BYTES("\0") },
	       ROOTFS_OK);
}
END_TEST

START_TEST(argv_too_many)
{
	size_t n = NB_SPEC_MAX_ARGS + 1;
	char *list = malloc(2 * n);

	for (size_t i = 0; i < n; i++)
		memcpy(list + 2 * i, "a", 2);
	EXPECT("property argv has more than 4096 entries", VERSION_OK,
	       { NB_SPEC_ARGV, list, (int)(2 * n) }, ROOTFS_OK);
	/* The limit itself is fine. */
	{
		const struct prop props[] = { VERSION_OK,
					      { NB_SPEC_ARGV, list, (int)(2 * n - 2) },
					      ROOTFS_OK };
		struct nb_spec spec;
		struct nb_err err = { 0 };
		size_t len;
		void *blob = make_blob(props, 3, &len);

		ck_assert_msg(nb_spec_decode(blob, len, &spec, &err) == 0, "%s", err.msg);
		ck_assert_uint_eq(spec.argc, NB_SPEC_MAX_ARGS);
		nb_spec_free(&spec);
		free(blob);
	}
	free(list);
}
END_TEST

START_TEST(argv_entry_too_long)
{
	size_t n = NB_SPEC_MAX_STRING + 1;
	char *s = malloc(n + 1);

	memset(s, 'x', n);
	s[n] = '\0';
	EXPECT("property argv entry 0 is longer than 65536 bytes", VERSION_OK,
	       { NB_SPEC_ARGV, s, (int)n + 1 }, ROOTFS_OK);
	free(s);
}
END_TEST

START_TEST(env_without_equals)
{
	EXPECT("property env entry 1 has no '='", VERSION_OK, ARGV_OK,
	       { NB_SPEC_ENV, BYTES("A=1\0JUSTNAME\0") }, ROOTFS_OK);
	EXPECT("property env entry 0 has an empty name", VERSION_OK, ARGV_OK,
	       { NB_SPEC_ENV, BYTES("=1\0") }, ROOTFS_OK);
	EXPECT("property env is not NUL-terminated", VERSION_OK, ARGV_OK,
	       { NB_SPEC_ENV, BYTES("A=1") }, ROOTFS_OK);
}
END_TEST

START_TEST(rootfs_invalid)
{
	const uint32_t one = cpu_to_fdt32(1);

	EXPECT("property rootfs is missing", VERSION_OK, ARGV_OK);
	EXPECT("property rootfs is not an absolute path", VERSION_OK, ARGV_OK,
	       { NB_SPEC_ROOTFS, STR("rootfs") });
	EXPECT("property rootfs is not an absolute path", VERSION_OK, ARGV_OK,
	       { NB_SPEC_ROOTFS, STR("") });
	EXPECT("property rootfs is not one NUL-terminated string", VERSION_OK, ARGV_OK,
	       { NB_SPEC_ROOTFS, BYTES("/a\0/b\0") });
	EXPECT("property rootfs is not one NUL-terminated string", VERSION_OK, ARGV_OK,
	       { NB_SPEC_ROOTFS, BYTES("/a") });
	EXPECT("property rootfs is not one NUL-terminated string", VERSION_OK, ARGV_OK,
	       { NB_SPEC_ROOTFS, "", 0 });
	/* A u32 where a string belongs. */
	EXPECT("property rootfs is not one NUL-terminated string", VERSION_OK, ARGV_OK,
	       { NB_SPEC_ROOTFS, &one, 4 });
}
END_TEST

START_TEST(wrong_types)
{
	const uint32_t one = cpu_to_fdt32(1);
	const unsigned char big[4] = { '/', 0, 0, 0 };

	/* u32 1 is "\0\0\0\1": unterminated; "/\0\0\0" as a list has an empty entry. */
	EXPECT("property argv is not NUL-terminated", VERSION_OK, { NB_SPEC_ARGV, &one, 4 },
	       ROOTFS_OK);
	EXPECT("property argv entry 1 is empty", VERSION_OK, { NB_SPEC_ARGV, big, 4 }, ROOTFS_OK);
	EXPECT("property env entry 0 is empty", VERSION_OK, ARGV_OK, { NB_SPEC_ENV, &one, 3 },
	       ROOTFS_OK);
}
END_TEST

START_TEST(duplicate_property)
{
	EXPECT("property argv appears twice", VERSION_OK, ARGV_OK, ARGV_OK, ROOTFS_OK);
}
END_TEST

START_TEST(unknown_property_ignored)
{
	const struct prop props[] = { VERSION_OK, ARGV_OK, ROOTFS_OK, { "future", STR("x") } };
	struct nb_spec spec;
	struct nb_err err = { 0 };
	size_t len;
	void *blob = make_blob(props, 4, &len);

	ck_assert_msg(nb_spec_decode(blob, len, &spec, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(spec.argv[2], "true");
	nb_spec_free(&spec);
	free(blob);
}
END_TEST

static void expect_encode_error(const struct nb_spec *spec, const char *want)
{
	struct nb_err err = { 0 };
	void *blob = NULL;
	size_t len;

	ck_assert_int_eq(nb_spec_encode(spec, &blob, &len, &err), -1);
	ck_assert_msg(strstr(err.msg, want), "message \"%s\" lacks \"%s\"", err.msg, want);
	ck_assert_ptr_null(blob);
}

START_TEST(encode_rejects_invalid)
{
	static const char *const bad_env[] = { "NOEQUALS" };
	static const char *const empty_arg[] = { "sh", "" };
	struct nb_spec spec = good_spec();

	spec.argc = 0;
	expect_encode_error(&spec, "property argv is empty");
	spec = good_spec();
	spec.env = bad_env;
	spec.envc = 1;
	expect_encode_error(&spec, "property env entry 0 has no '='");
	spec = good_spec();
	spec.argv = empty_arg;
	spec.argc = 2;
	expect_encode_error(&spec, "property argv entry 1 is empty");
	spec = good_spec();
	spec.rootfs = NULL;
	expect_encode_error(&spec, "property rootfs is missing");
	spec.rootfs = "relative";
	expect_encode_error(&spec, "property rootfs is not an absolute path");
}
END_TEST

/* ---- container properties (format 2) ---------------------------------- */

static const char *const good_tmpfs[] = { "/tmp", "/run/x" };
static const unsigned char good_bpf[16] = { 6, 0, 0, 0, 0, 0, 0xff, 0x7f, /* ret ALLOW */
					    6, 0, 0, 0, 0, 0, 0xff, 0x7f };

static struct nb_spec full_spec(void)
{
	struct nb_spec s = good_spec();

	s.hostname = "box-1.example";
	s.workdir = "/srv/app";
	s.user = "app:staff";
	s.has_caps = true;
	s.caps = 0x1234;
	s.rlimits[0] = (struct nb_spec_rlimit){ 7, 64, 128 };
	s.rlimits[1] = (struct nb_spec_rlimit){ 6, 10, UINT64_MAX };
	s.nrlimits = 2;
	s.memory_max = 64ull << 20;
	s.swap_max = 0;
	s.cpu_quota_us = 50000;
	s.cpu_period_us = 100000;
	s.pids_max = 100;
	s.namespaces = NB_NS_NET | NB_NS_USER;
	s.read_only = true;
	s.init = true;
	s.tmpfs = good_tmpfs;
	s.ntmpfs = 2;
	s.seccomp = good_bpf;
	s.seccomp_len = sizeof(good_bpf);
	return s;
}

START_TEST(round_trip_container)
{
	struct nb_spec in = full_spec(), out;
	struct nb_err err = { 0 };
	void *blob = NULL;
	size_t len;

	ck_assert_msg(nb_spec_encode(&in, &blob, &len, &err) == 0, "%s", err.msg);
	ck_assert_msg(nb_spec_decode(blob, len, &out, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(out.hostname, "box-1.example");
	ck_assert_str_eq(out.workdir, "/srv/app");
	ck_assert_str_eq(out.user, "app:staff");
	ck_assert(out.has_caps);
	ck_assert_uint_eq(out.caps, 0x1234);
	ck_assert_uint_eq(out.nrlimits, 2);
	ck_assert_uint_eq(out.rlimits[0].resource, 7);
	ck_assert_uint_eq(out.rlimits[0].soft, 64);
	ck_assert_uint_eq(out.rlimits[1].hard, UINT64_MAX);
	ck_assert_uint_eq(out.memory_max, 64ull << 20);
	ck_assert_uint_eq(out.cpu_quota_us, 50000);
	ck_assert_uint_eq(out.cpu_period_us, 100000);
	ck_assert_uint_eq(out.pids_max, 100);
	ck_assert_uint_eq(out.namespaces, NB_NS_NET | NB_NS_USER);
	ck_assert(out.read_only);
	ck_assert(out.init);
	ck_assert_uint_eq(out.ntmpfs, 2);
	ck_assert_str_eq(out.tmpfs[1], "/run/x");
	ck_assert_ptr_null(out.tmpfs[2]);
	ck_assert_uint_eq(out.seccomp_len, sizeof(good_bpf));
	ck_assert_mem_eq(out.seccomp, good_bpf, sizeof(good_bpf));
	nb_spec_free(&out);
	free(blob);
}
END_TEST

START_TEST(container_unset_by_default)
{
	struct nb_spec out;
	struct nb_err err = { 0 };
	size_t len;
	void *blob = encode_good(&len);

	ck_assert_int_eq(nb_spec_decode(blob, len, &out, &err), 0);
	ck_assert_ptr_null(out.hostname);
	ck_assert_ptr_null(out.user);
	ck_assert(!out.has_caps);
	ck_assert_uint_eq(out.nrlimits + out.memory_max + out.pids_max + out.cpu_period_us, 0);
	ck_assert(!out.read_only);
	ck_assert(!out.init);
	ck_assert_uint_eq(out.ntmpfs, 0);
	ck_assert_ptr_null(out.seccomp);
	nb_spec_free(&out);
	free(blob);
}
END_TEST

START_TEST(container_encode_rejects_invalid)
{
	static const char *const rel_tmpfs[] = { "tmp" };
	struct nb_spec s;

	s = full_spec();
	s.hostname = "bad host";
	expect_encode_error(&s, "property hostname has a character");
	s = full_spec();
	s.hostname = "";
	expect_encode_error(&s, "property hostname must be 1..64");
	s = full_spec();
	s.workdir = "rel";
	expect_encode_error(&s, "property workdir is not an absolute path");
	s = full_spec();
	s.user = "a:b:c";
	expect_encode_error(&s, "property user is not user[:group]");
	s = full_spec();
	s.user = ":g";
	expect_encode_error(&s, "property user is not user[:group]");
	s = full_spec();
	s.caps = 1ull << 41;
	expect_encode_error(&s, "property capabilities has bits above");
	s = full_spec();
	s.rlimits[1].resource = 7;
	expect_encode_error(&s, "resource 7 twice");
	s = full_spec();
	s.rlimits[0].soft = 129;
	expect_encode_error(&s, "soft above hard");
	s = full_spec();
	s.rlimits[0].resource = 16;
	expect_encode_error(&s, "unknown resource 16");
	s = full_spec();
	s.memory_max = 4096;
	expect_encode_error(&s, "property memory.max is below");
	s = full_spec();
	s.memory_max = 0;
	s.swap_max = 1;
	expect_encode_error(&s, "property memory.swap.max without memory.max");
	s = full_spec();
	s.cpu_period_us = 999;
	expect_encode_error(&s, "property cpu.max needs period");
	s = full_spec();
	s.cpu_quota_us = 10;
	expect_encode_error(&s, "property cpu.max needs period");
	s = full_spec();
	s.namespaces = 4;
	expect_encode_error(&s, "property namespaces has unknown flags");
	s = full_spec();
	s.tmpfs = rel_tmpfs;
	s.ntmpfs = 1;
	expect_encode_error(&s, "property tmpfs entry 0 is not an absolute path");
	s = full_spec();
	s.ntmpfs = NB_SPEC_MAX_TMPFS + 1;
	expect_encode_error(&s, "property tmpfs has more than 64 entries");
	s = full_spec();
	s.seccomp_len = 12;
	expect_encode_error(&s, "property seccomp is not 1..4096 BPF instructions");
	s = full_spec();
	s.seccomp_len = (NB_SPEC_MAX_BPF + 1) * 8;
	expect_encode_error(&s, "property seccomp is not 1..4096 BPF instructions");
}
END_TEST

/* Hand-made blobs: wrong sizes and types for every new property. */
START_TEST(container_decode_rejects_invalid)
{
	const uint32_t one = cpu_to_fdt32(1), two = cpu_to_fdt32(2), four = cpu_to_fdt32(4);
	const uint64_t zero64 = 0, mem = cpu_to_fdt64(64 << 20), caps_hi = cpu_to_fdt64(1ull << 50);
	const uint32_t cpu_bad[2] = { cpu_to_fdt32(50000), 0 };
	const uint32_t cpu_small[2] = { cpu_to_fdt32(5), cpu_to_fdt32(100000) };
	unsigned char rl[NB_SPEC_RLIMIT_RECORD] = { 0 }, rl_big[NB_SPEC_RLIMIT_RECORD * 17] = { 0 };
	static unsigned char bpf_big[(NB_SPEC_MAX_BPF + 1) * 8];
	char host_long[NB_SPEC_MAX_HOSTNAME + 2];

	memset(host_long, 'a', sizeof(host_long) - 1);
	host_long[sizeof(host_long) - 1] = '\0';
	rl[3] = 99; /* resource 99 */
	EXPECT("property hostname is not one NUL-terminated string", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_HOSTNAME, &one, 4 });
	EXPECT("property hostname is longer than 64", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_HOSTNAME, STR(host_long) });
	EXPECT("property hostname has a character", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_HOSTNAME, STR("a/b") });
	EXPECT("property workdir is not an absolute path", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_WORKDIR, STR("x") });
	EXPECT("property workdir is not one NUL-terminated string", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_WORKDIR, BYTES("/a\0/b\0") });
	EXPECT("property user has an invalid character", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_USER, STR("a b") });
	EXPECT("property user is not one NUL-terminated string", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_USER, BYTES("") });
	EXPECT("property capabilities is 4 bytes, expected 8", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_CAPS, &one, 4 });
	EXPECT("property capabilities has bits above", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_CAPS, &caps_hi, 8 });
	EXPECT("property rlimits is 4 bytes", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_RLIMITS, &one, 4 });
	EXPECT("property rlimits is 340 bytes", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_RLIMITS, rl_big, sizeof(rl_big) });
	EXPECT("unknown resource 99", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_RLIMITS, rl, sizeof(rl) });
	EXPECT("property memory.max is 4 bytes, expected 8", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_MEMORY_MAX, &one, 4 });
	EXPECT("property memory.max is 0", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_MEMORY_MAX, &zero64, 8 });
	EXPECT("property memory.swap.max without memory.max", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_SWAP_MAX, &zero64, 8 });
	EXPECT("property memory.swap.max is 4 bytes", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_MEMORY_MAX, &mem, 8 }, { NB_SPEC_SWAP_MAX, &one, 4 });
	EXPECT("property cpu.max is 4 bytes, expected 8", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_CPU_MAX, &one, 4 });
	EXPECT("property cpu.max has period 0", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_CPU_MAX, cpu_bad, 8 });
	EXPECT("property cpu.max needs period", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_CPU_MAX, cpu_small, 8 });
	EXPECT("property pids.max is 0", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_PIDS_MAX, &zero64, 8 });
	EXPECT("property pids.max is 4 bytes", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_PIDS_MAX, &one, 4 });
	EXPECT("property namespaces has unknown flags 0x4", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_NAMESPACES, &four, 4 });
	EXPECT("property namespaces is 8 bytes", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_NAMESPACES, &mem, 8 });
	EXPECT("property readonly is 2, not 0 or 1", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_READONLY, &two, 4 });
	EXPECT("property readonly is 0 bytes", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_READONLY, BYTES("") });
	EXPECT("property init is 2, not 0 or 1", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_INIT, &two, 4 });
	EXPECT("property tmpfs is not NUL-terminated", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_TMPFS, &one, 4 });
	EXPECT("property tmpfs entry 1 is not an absolute path", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_TMPFS, BYTES("/a\0b\0") });
	EXPECT("property tmpfs is empty", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_TMPFS, BYTES("") });
	EXPECT("property seccomp is not 1..4096 BPF instructions", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_SECCOMP, &one, 4 });
	EXPECT("property seccomp is not 1..4096 BPF instructions", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_SECCOMP, bpf_big, sizeof(bpf_big) });
	EXPECT("property hostname appears twice", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_HOSTNAME, STR("a") }, { NB_SPEC_HOSTNAME, STR("b") });
}
END_TEST

/* Every prefix of a spec with every container property fails cleanly. */
START_TEST(container_every_prefix_fails)
{
	struct nb_spec in = full_spec();
	struct nb_err err = { 0 };
	void *blob = NULL;
	size_t len;

	ck_assert_msg(nb_spec_encode(&in, &blob, &len, &err) == 0, "%s", err.msg);
	for (size_t n = 0; n < len; n++) {
		void *copy = malloc(n ? n : 1);
		struct nb_spec spec;

		memcpy(copy, blob, n);
		ck_assert_msg(nb_spec_decode(copy, n, &spec, &err) == -1, "prefix %zu decoded", n);
		free(copy);
	}
	free(blob);
}
END_TEST

/* ---- the same container, process aside (a template's prepared one) -------------- */

/* A volume's MODE as nestbox-init reads it: disk or share, ro or rw; a
 * spec is writable when one volume is rw, of either kind. */
START_TEST(volume_modes)
{
	const char *const vols[] = { "nbvol0:ro:/ro", "nbvol1:fs-ro:/share-ro",
				     "nbvol2:fs-rw:/share", "nbvol3:rw:/data" };
	struct nb_spec spec = { .volumes = vols };
	bool share = true, ro = true;

	ck_assert(nb_spec_volume_mode(vols[0], &share, &ro) && !share && ro);
	ck_assert(nb_spec_volume_mode(vols[1], &share, &ro) && share && ro);
	ck_assert(nb_spec_volume_mode(vols[2], &share, &ro) && share && !ro);
	ck_assert(nb_spec_volume_mode(vols[3], &share, &ro) && !share && !ro);
	ck_assert(!nb_spec_volume_mode("no-mode", &share, &ro));
	ck_assert(!nb_spec_writable_volume(&spec)); /* none */
	spec.nvolumes = 2;
	ck_assert(!nb_spec_writable_volume(&spec));
	spec.nvolumes = 3; /* a read-write share */
	ck_assert(nb_spec_writable_volume(&spec));
	spec.volumes = vols + 3; /* a read-write disk alone */
	spec.nvolumes = 1;
	ck_assert(nb_spec_writable_volume(&spec));
}
END_TEST

START_TEST(same_container_process_aside)
{
	const char *tmpfs_a[] = { "/run", "/tmp:rw" }, *tmpfs_b[] = { "/run", "/tmp:rw" };
	const char *argv_b[] = { "other", "arg" }, *env_b[] = { "X=1" };
	struct nb_spec a = good_spec(), b = good_spec();

	a.tmpfs = tmpfs_a;
	b.tmpfs = tmpfs_b; /* equal strings, other pointers */
	a.ntmpfs = b.ntmpfs = 2;
	a.memory_max = b.memory_max = 64 << 20;
	/* what the process alone uses may differ */
	b.argv = argv_b;
	b.argc = 2;
	b.env = env_b;
	b.envc = 1;
	b.user = "1000:1000";
	b.workdir = "/srv";
	b.has_caps = true;
	b.caps = 1;
	b.init = true;
	ck_assert(nb_spec_same_container(&a, &b));
	ck_assert(nb_spec_same_container(&b, &a));
}
END_TEST

START_TEST(same_container_each_field_counts)
{
	const char *tmpfs_a[] = { "/run" }, *tmpfs_other[] = { "/var" };
	const char *vols[] = { "nbvol0:fs-rw:/data" };
	struct nb_spec a = good_spec();

	a.tmpfs = tmpfs_a;
	a.ntmpfs = 1;
	for (int field = 0; field < 16; field++) {
		struct nb_spec b = a;

		switch (field) {
		case 0:
			b.rootfs = "/other";
			break;
		case 1:
			b.hostname = "h";
			break;
		case 2:
			b.namespaces ^= NB_NS_USER;
			break;
		case 3:
			b.read_only = !a.read_only;
			break;
		case 4:
			b.memory_max = 1 << 20;
			break;
		case 5:
			b.swap_max = 1;
			break;
		case 6:
			b.cpu_quota_us = 5000;
			break;
		case 7:
			b.cpu_period_us = 10000;
			break;
		case 8:
			b.pids_max = 10;
			break;
		case 9:
			b.memory_low = 1;
			break;
		case 10:
			b.cpu_weight = 7;
			break;
		case 11:
			b.ntmpfs = 0;
			break;
		case 12:
			b.tmpfs = tmpfs_other;
			break;
		case 13:
			b.tty = true;
			break;
		case 14: /* terminals on both sides, all else equal */
			b.tty = true;
			ck_assert(!nb_spec_same_container(&b, &b));
			continue;
		case 15: /* a clone's -v: mounted before its container is made */
			b.volumes = vols;
			b.nvolumes = 1;
			ck_assert(!nb_spec_same_container(&b, &b));
			break;
		}
		ck_assert_msg(!nb_spec_same_container(&a, &b), "field %d", field);
		ck_assert_msg(!nb_spec_same_container(&b, &a), "field %d (reversed)", field);
	}
}
END_TEST

/* ---- image layers (format 3) ---------------------------------------------- */

START_TEST(round_trip_layers)
{
	struct nb_spec_layer table[NB_MAX_LAYERS];
	struct nb_spec spec = good_spec(), out;
	struct nb_err err = { 0 };
	void *blob = NULL;
	size_t len;

	for (size_t i = 0; i < NB_MAX_LAYERS; i++) /* the most, the largest offsets allowed */
		table[i] = (struct nb_spec_layer){
			i * 8192 + (i == NB_MAX_LAYERS - 1
					    ? NB_LAYER_MAX_DISK - 8192 * NB_MAX_LAYERS
					    : 0),
			i + 1
		};
	table[NB_MAX_LAYERS - 1].size = NB_LAYER_MAX_DISK - table[NB_MAX_LAYERS - 1].offset;
	spec.layers = table;
	spec.nlayers = NB_MAX_LAYERS;
	ck_assert_msg(nb_spec_encode(&spec, &blob, &len, &err) == 0, "%s", err.msg);
	ck_assert_msg(nb_spec_decode(blob, len, &out, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(out.nlayers, NB_MAX_LAYERS);
	for (size_t i = 0; i < NB_MAX_LAYERS; i++) {
		ck_assert_uint_eq(out.layers[i].offset, table[i].offset);
		ck_assert_uint_eq(out.layers[i].size, table[i].size);
	}
	nb_spec_free(&out);
	free(blob);
	/* No image: no property, and decode says so. */
	blob = encode_good(&len);
	ck_assert_int_eq(nb_spec_decode(blob, len, &out, &err), 0);
	ck_assert_uint_eq(out.nlayers, 0);
	ck_assert_ptr_null(out.layers);
	nb_spec_free(&out);
	free(blob);
}
END_TEST

/* The encoder refuses what the guest would refuse. */
START_TEST(layers_encode_rejects_invalid)
{
	static struct nb_spec_layer many[NB_MAX_LAYERS + 1];
	const struct {
		struct nb_spec_layer l[2];
		size_t n;
		const char *want;
	} cases[] = {
		{ { { 100, 1 } }, 1, "not a multiple of 4096" },
		{ { { 0, 0 } }, 1, "is empty" },
		{ { { 0, 8192 }, { 4096, 1 } }, 2, "at or after 8192" }, /* overlap */
		{ { { 8192, 1 }, { 0, 1 } }, 2, "at or after 8193" },    /* out of order */
		{ { { 0, NB_LAYER_MAX_DISK + 1 } }, 1, "ends past" },
		{ { { NB_LAYER_MAX_DISK, 1 } }, 1, "ends past" },
		{ { { 4096, UINT64_MAX } }, 1, "ends past" }, /* offset + size wraps */
		{ { { UINT64_MAX - 4095, 4096 } }, 1, "ends past" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nb_spec spec = good_spec();
		struct nb_err err = { 0 };
		void *blob = NULL;
		size_t len;

		spec.layers = cases[i].l;
		spec.nlayers = cases[i].n;
		ck_assert_int_eq(nb_spec_encode(&spec, &blob, &len, &err), -1);
		ck_assert_msg(strstr(err.msg, cases[i].want), "case %zu: \"%s\" lacks \"%s\"", i,
			      err.msg, cases[i].want);
	}
	for (size_t i = 0; i < NB_MAX_LAYERS + 1; i++)
		many[i] = (struct nb_spec_layer){ i * 4096, 1 };
	struct nb_spec spec = good_spec();
	struct nb_err err = { 0 };
	void *blob = NULL;
	size_t len;
	spec.layers = many;
	spec.nlayers = NB_MAX_LAYERS + 1;
	ck_assert_int_eq(nb_spec_encode(&spec, &blob, &len, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "more than 127"));
}
END_TEST

/* A hostile table straight in the blob. */
START_TEST(layers_decode_rejects_invalid)
{
	uint64_t rec[2], two[4], wrap[2];
	static uint64_t many[(NB_MAX_LAYERS + 1) * 2];

	rec[0] = cpu_to_fdt64(4097);
	rec[1] = cpu_to_fdt64(1);
	EXPECT("layer 0 starts at 4097", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_LAYERS, rec, sizeof(rec) });
	EXPECT("property layers is 15 bytes", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_LAYERS, rec, 15 });
	EXPECT("property layers is 0 bytes", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_LAYERS, rec, 0 });
	two[0] = cpu_to_fdt64(0);
	two[1] = cpu_to_fdt64(8192);
	two[2] = cpu_to_fdt64(4096);
	two[3] = cpu_to_fdt64(4096);
	EXPECT("layer 1 starts at 4096", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_LAYERS, two, sizeof(two) });
	wrap[0] = cpu_to_fdt64(1ull << 62);
	wrap[1] = cpu_to_fdt64(UINT64_MAX - (1ull << 62) + 4096);
	EXPECT("ends past", VERSION_OK, ARGV_OK, ROOTFS_OK, { NB_SPEC_LAYERS, wrap, sizeof(wrap) });
	wrap[0] = 0;
	wrap[1] = cpu_to_fdt64(UINT64_MAX);
	EXPECT("ends past", VERSION_OK, ARGV_OK, ROOTFS_OK, { NB_SPEC_LAYERS, wrap, sizeof(wrap) });
	wrap[1] = 0;
	EXPECT("is empty", VERSION_OK, ARGV_OK, ROOTFS_OK, { NB_SPEC_LAYERS, wrap, sizeof(wrap) });
	for (size_t i = 0; i < NB_MAX_LAYERS + 1; i++) {
		many[2 * i] = cpu_to_fdt64(i * 4096);
		many[2 * i + 1] = cpu_to_fdt64(1);
	}
	EXPECT("not 1..127 records", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_LAYERS, many, sizeof(many) });
	EXPECT("property layers appears twice", VERSION_OK, ARGV_OK, ROOTFS_OK,
	       { NB_SPEC_LAYERS, many, 16 }, { NB_SPEC_LAYERS, many, 16 });
}
END_TEST

static Suite *spec_suite(void)
{
	Suite *s = suite_create("spec");
	TCase *tc = tcase_create("codec");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, round_trip_no_env);
	tcase_add_test(tc, every_prefix_fails);
	tcase_add_test(tc, oversize_blob);
	tcase_add_test(tc, oversize_encode);
	tcase_add_test(tc, bad_magic);
	tcase_add_test(tc, totalsize_lies);
	tcase_add_test(tc, old_fdt_header_version);
	tcase_add_test(tc, wrong_version);
	tcase_add_test(tc, version_wrong_length);
	tcase_add_test(tc, version_missing);
	tcase_add_test(tc, argv_missing);
	tcase_add_test(tc, argv_empty);
	tcase_add_test(tc, argv_unterminated);
	tcase_add_test(tc, argv_empty_entry);
	tcase_add_test(tc, argv_too_many);
	tcase_add_test(tc, argv_entry_too_long);
	tcase_add_test(tc, env_without_equals);
	tcase_add_test(tc, rootfs_invalid);
	tcase_add_test(tc, wrong_types);
	tcase_add_test(tc, duplicate_property);
	tcase_add_test(tc, unknown_property_ignored);
	tcase_add_test(tc, encode_rejects_invalid);
	tcase_add_test(tc, round_trip_container);
	tcase_add_test(tc, container_unset_by_default);
	tcase_add_test(tc, container_encode_rejects_invalid);
	tcase_add_test(tc, container_decode_rejects_invalid);
	tcase_add_test(tc, container_every_prefix_fails);
	tcase_add_test(tc, round_trip_layers);
	tcase_add_test(tc, layers_encode_rejects_invalid);
	tcase_add_test(tc, layers_decode_rejects_invalid);
	tcase_add_test(tc, volume_modes);
	tcase_add_test(tc, same_container_process_aside);
	tcase_add_test(tc, same_container_each_field_counts);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(spec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
