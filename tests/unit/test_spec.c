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
	return (struct nb_spec){ .argv = good_argv, .argc = 3, .env = good_env, .envc = 3,
				 .rootfs = "/rootfs" };
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

static const unsigned char version_be[4] = { 0, 0, 0, 1 }; /* fdt32 1 */

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

#define VERSION_OK { NB_SPEC_VERSION, version_be, 4 }
#define ARGV_OK { NB_SPEC_ARGV, BYTES("sh\0-c\0true\0") }
#define ROOTFS_OK { NB_SPEC_ROOTFS, STR("/rootfs") }
#define EXPECT(want, ...)                                                                    \
	do {                                                                                 \
		const struct prop props_[] = { __VA_ARGS__ };                                \
		expect_props_error(props_, sizeof(props_) / sizeof(props_[0]), want);       \
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

START_TEST(wrong_version)
{
	const uint32_t v2 = cpu_to_fdt32(2);

	EXPECT("this nestbox-init reads 1", { NB_SPEC_VERSION, &v2, 4 }, ARGV_OK, ROOTFS_OK);
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
	EXPECT("property argv is not NUL-terminated", VERSION_OK,
	       { NB_SPEC_ARGV, BYTES("sh\0-c") }, ROOTFS_OK);
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
		const struct prop props[] = { VERSION_OK, { NB_SPEC_ARGV, list, (int)(2 * n - 2) },
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
	EXPECT("property argv entry 1 is empty", VERSION_OK, { NB_SPEC_ARGV, big, 4 },
	       ROOTFS_OK);
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
