/* common/parse.c: the one number parser of the command line, the
 * environment and the option files, strict on every edge. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "common/parse.h"
#include "unit/unit.h"

START_TEST(decimal_accepts_plain_digits)
{
	uint64_t v = 0;

	ck_assert(nb_parse_decimal("0", 0, 10, &v));
	ck_assert_uint_eq(v, 0);
	ck_assert(nb_parse_decimal("007", 0, 10, &v));
	ck_assert_uint_eq(v, 7);
	ck_assert(nb_parse_decimal("18446744073709551615", 0, UINT64_MAX, &v));
	ck_assert_uint_eq(v, UINT64_MAX);
}
END_TEST

/* Signs, white space, empty, trailing bytes, hex, overflow: refused, and
 * the output untouched. */
START_TEST(decimal_refuses_the_rest)
{
	static const char *const bad[] = { "",
					   "-1",
					   "+1",
					   " 1",
					   "1 ",
					   "\t1",
					   "1\n",
					   "1x",
					   "0x10",
					   "1.0",
					   "1e3",
					   "--1",
					   "18446744073709551616",
					   "99999999999999999999999",
					   "٣" };
	uint64_t v = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(!nb_parse_decimal(bad[i], 0, UINT64_MAX, &v), "'%s' accepted",
			      bad[i]);
		ck_assert_uint_eq(v, 42);
	}
}
END_TEST

START_TEST(decimal_range_is_inclusive)
{
	uint64_t v;

	ck_assert(nb_parse_decimal("1", 1, 32, &v));
	ck_assert(nb_parse_decimal("32", 1, 32, &v));
	ck_assert(!nb_parse_decimal("0", 1, 32, &v));
	ck_assert(!nb_parse_decimal("33", 1, 32, &v));
	ck_assert(nb_parse_decimal("4294967294", 0, UINT32_MAX - 1, &v));
	ck_assert(!nb_parse_decimal("4294967295", 0, UINT32_MAX - 1, &v));
}
END_TEST

/* The digits and where they end, for a unit the caller reads. */
START_TEST(digits_and_rest)
{
	const char *end;
	uint64_t v;

	ck_assert(nb_parse_digits("10mb", &v, &end));
	ck_assert_uint_eq(v, 10);
	ck_assert_str_eq(end, "mb");
	ck_assert(nb_parse_digits("18446744073709551615", &v, &end));
	ck_assert_str_eq(end, "");
	ck_assert(!nb_parse_digits("18446744073709551616k", &v, &end));
	ck_assert(!nb_parse_digits("k", &v, &end));
	ck_assert(!nb_parse_digits("-1", &v, &end));
	ck_assert(!nb_parse_digits("+1", &v, &end));
	ck_assert(!nb_parse_digits(" 1", &v, &end));
}
END_TEST

START_TEST(u64_and_uint_messages)
{
	struct nb_err err;
	uint64_t v;
	unsigned u = 5;

	ck_assert_int_eq(nb_parse_u64("--vsock-cid", "2", 3, 10, &v, &err), -1);
	ck_assert_str_eq(err.msg, "invalid --vsock-cid '2': use a whole number from 3 to 10");
	ck_assert_int_eq(nb_parse_uint("--timeout", "+5", 1, 100, &u, &err), -1);
	ck_assert_str_eq(err.msg, "invalid --timeout '+5': use a whole number from 1 to 100");
	ck_assert_uint_eq(u, 5);
	ck_assert_int_eq(nb_parse_uint("--timeout", "100", 1, 100, &u, &err), 0);
	ck_assert_uint_eq(u, 100);
	ck_assert_int_eq(nb_parse_uint("--timeout", "4294967296", 1, UINT32_MAX, &u, &err), -1);
}
END_TEST

START_TEST(size_suffixes)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} good[] = { { "0", 0 },
		     { "1", 1 },
		     { "1b", 1 },
		     { "1B", 1 },
		     { "1k", 1024 },
		     { "1K", 1024 },
		     { "512m", 512ull << 20 },
		     { "2G", 2ull << 30 },
		     { "17179869183g", 17179869183ull << 30 },
		     { "18446744073709551615", UINT64_MAX } };
	struct nb_err err;
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(nb_parse_size(good[i].text, &v, &err) == 0, "%s: %s", good[i].text,
			      err.msg);
		ck_assert_uint_eq(v, good[i].bytes);
	}
}
END_TEST

/* A suffix alone, two suffixes, an unknown one, a sign, white space, and
 * a value that overflows only once shifted. */
START_TEST(size_refuses)
{
	static const char *const bad[] = { "",
					   "k",
					   "1kb",
					   "1kk",
					   "1t",
					   "1 m",
					   " 1m",
					   "1m ",
					   "-1m",
					   "+1m",
					   "1.5g",
					   "17179869184g",
					   "18014398509481984k",
					   "18446744073709551616" };
	struct nb_err err;
	uint64_t v = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(nb_parse_size(bad[i], &v, &err) == -1, "'%s' accepted", bad[i]);
		ck_assert_uint_eq(v, 42);
		ck_assert_ptr_nonnull(strstr(err.msg, "invalid size '"));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("parse");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, decimal_accepts_plain_digits);
	tcase_add_test(tc, decimal_refuses_the_rest);
	tcase_add_test(tc, decimal_range_is_inclusive);
	tcase_add_test(tc, digits_and_rest);
	tcase_add_test(tc, u64_and_uint_messages);
	tcase_add_test(tc, size_suffixes);
	tcase_add_test(tc, size_refuses);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
