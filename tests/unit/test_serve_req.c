/* `nestbox serve`'s request parser (vmm/cli/serve_req.h): what a good
 * request gives, and refusal of hostile ones (wrong types, unknown fields,
 * bounds, NUL bytes, bad base64, deep nesting, garbage, a lone null,
 * oversize). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "unit/unit.h"
#include "vmm/cli/serve_req.h"

static int parse(const char *text, struct nb_serve_req *req, struct nb_err *err)
{
	return nb_serve_req_parse(text, strlen(text), req, err);
}

START_TEST(good_request)
{
	struct nb_serve_req req;
	struct nb_err err = { 0 };

	ck_assert_int_eq(parse("{\"argv\":[\"sh\",\"-c\",\"cat\"],\"env\":[\"A=b=c\"],"
			       "\"stdin\":\"hi\\n\",\"timeout\":5,\"max_output\":10}\n",
			       &req, &err),
			 0);
	ck_assert_uint_eq(req.argc, 3);
	ck_assert_str_eq(req.argv[2], "cat");
	ck_assert_ptr_null(req.argv[3]);
	ck_assert_uint_eq(req.nenv, 1);
	ck_assert_str_eq(req.env[0], "A=b=c");
	ck_assert_uint_eq(req.input_len, 3);
	ck_assert_int_eq(memcmp(req.input, "hi\n", 3), 0);
	ck_assert_uint_eq(req.timeout_sec, 5);
	ck_assert(req.has_max_output);
	ck_assert_uint_eq(req.max_output, 10);
	nb_serve_req_free(&req);

	ck_assert_int_eq(parse("{\"argv\":[\"true\"],\"stdin_base64\":\"AP8=\"}", &req, &err), 0);
	ck_assert_uint_eq(req.input_len, 2);
	ck_assert_uint_eq(req.input[0], 0);
	ck_assert_uint_eq(req.input[1], 0xff);
	ck_assert(!req.has_max_output);
	ck_assert_uint_eq(req.timeout_sec, 0);
	ck_assert_ptr_null(req.env);
	nb_serve_req_free(&req);
}
END_TEST

START_TEST(hostile_requests)
{
	static const char *const bad[] = {
		"",
		"   \n",
		"not json",
		"null",
		"null\t",
		"[\"argv\"]",
		"\"argv\"",
		"{}",
		"{\"argv\":[]}",
		"{\"argv\":null}",
		"{\"argv\":\"sh\"}",
		"{\"argv\":[1]}",
		"{\"argv\":[\"\"]}",
		"{\"argv\":[\"a\\u0000b\"]}",
		"{\"argv\":[\"true\"],\"bogus\":1}",
		"{\"argv\":[\"true\"],\"env\":[\"=x\"]}",
		"{\"argv\":[\"true\"],\"env\":[\"NOEQUALS\"]}",
		"{\"argv\":[\"true\"],\"env\":\"A=b\"}",
		"{\"argv\":[\"true\"],\"stdin\":1}",
		"{\"argv\":[\"true\"],\"stdin\":\"a\",\"stdin_base64\":\"YQ==\"}",
		"{\"argv\":[\"true\"],\"stdin_base64\":\"not base64!\"}",
		"{\"argv\":[\"true\"],\"timeout\":0}",
		"{\"argv\":[\"true\"],\"timeout\":-1}",
		"{\"argv\":[\"true\"],\"timeout\":3601}",
		"{\"argv\":[\"true\"],\"timeout\":\"5\"}",
		"{\"argv\":[\"true\"],\"timeout\":1.5}",
		"{\"argv\":[\"true\"],\"max_output\":-1}",
		"{\"argv\":[\"true\"],\"max_output\":99999999999999999999}",
		"{\"argv\":[\"true\"]} trailing",
		"{\"argv\":[\"true\"]}{\"argv\":[\"true\"]}",
		"{\"argv\":[\"true\"]",
		"{\"argv\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"deep\"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nb_serve_req req;
		struct nb_err err = { 0 };

		ck_assert_msg(parse(bad[i], &req, &err) == -1, "accepted: %s", bad[i]);
		ck_assert_msg(err.msg[0], "no message for: %s", bad[i]);
		ck_assert_ptr_null(req.argv);
		ck_assert_ptr_null(req.input);
	}
}
END_TEST

START_TEST(nul_after_request)
{
	static const char text[] = "{\"argv\":[\"true\"]}\0";
	struct nb_serve_req req;
	struct nb_err err = { 0 };

	/* a NUL byte after the document is not white space */
	ck_assert_int_eq(nb_serve_req_parse(text, sizeof(text) - 1, &req, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "not valid JSON"));
	ck_assert_ptr_null(req.argv);
}
END_TEST

START_TEST(bounds)
{
	struct nb_serve_req req;
	struct nb_err err = { 0 };
	size_t n = NB_SERVE_MAX_ARGS + 1, len = 16 + n * 4;
	char *text = malloc(len + NB_SERVE_MAX_STR + 64), *p = text;

	ck_assert_ptr_nonnull(text);
	/* one argument too many */
	p += sprintf(p, "{\"argv\":[");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s\"a\"", i ? "," : "");
	strcpy(p, "]}");
	ck_assert_int_eq(nb_serve_req_parse(text, strlen(text), &req, &err), -1);
	/* one argument one byte too long */
	p = text + sprintf(text, "{\"argv\":[\"");
	memset(p, 'x', NB_SERVE_MAX_STR + 1);
	strcpy(p + NB_SERVE_MAX_STR + 1, "\"]}");
	ck_assert_int_eq(nb_serve_req_parse(text, strlen(text), &req, &err), -1);
	/* a request over the limit is refused before it is parsed */
	ck_assert_int_eq(nb_serve_req_parse(text, NB_SERVE_REQ_MAX + 1, &req, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "longer"));
	free(text);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("serve_req");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, good_request);
	tcase_add_test(tc, hostile_requests);
	tcase_add_test(tc, nul_after_request);
	tcase_add_test(tc, bounds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return nb_unit_run(suite());
}
