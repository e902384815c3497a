/* Libraries opened on first use (common/dl.h): a table filled and called,
 * the library opened once, and a missing library or function refused,
 * naming it and the package to install. libc stands in for libcurl and
 * libnftables, which the unit tier need not have. */
#include <check.h>
#include <string.h>
#include <unistd.h>

#include "common/dl.h"
#include "unit/unit.h"

struct libc_api {
	size_t (*strlen)(const char *s);
	pid_t (*getpid)(void);
};

static const struct nb_dl_sym libc_symbols[] = {
	NB_DL_SYM(struct libc_api, strlen, "strlen"),
	NB_DL_SYM(struct libc_api, getpid, "getpid"),
};

START_TEST(loads_and_calls)
{
	struct nb_dl lib = { .soname = "libc.so.6", .package = "libc6" };
	struct libc_api api = { 0 }, again = { 0 };
	struct nb_err err = { 0 };

	ck_assert_int_eq(NB_DL_LOAD(&lib, libc_symbols, &api, &err), 0);
	ck_assert_ptr_nonnull(lib.handle);
	ck_assert_uint_eq(api.strlen("nestbox"), 7);
	ck_assert_int_eq(api.getpid(), getpid());
	/* once: a second call neither opens nor fills anything */
	void *handle = lib.handle;
	ck_assert_int_eq(NB_DL_LOAD(&lib, libc_symbols, &again, &err), 0);
	ck_assert_ptr_eq(lib.handle, handle);
	ck_assert_ptr_null(again.strlen);
}
END_TEST

START_TEST(missing_library)
{
	struct nb_dl lib = { .soname = "libnestbox-absent.so.9", .package = "nestbox-absent9" };
	struct libc_api api = { 0 };
	struct nb_err err = { 0 };

	ck_assert_int_eq(NB_DL_LOAD(&lib, libc_symbols, &api, &err), -1);
	ck_assert_ptr_null(lib.handle);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot load libnestbox-absent.so.9"));
	ck_assert_ptr_nonnull(strstr(err.msg, "install nestbox-absent9"));
}
END_TEST

START_TEST(missing_function)
{
	static const struct nb_dl_sym table[] = {
		NB_DL_SYM(struct libc_api, strlen, "strlen"),
		NB_DL_SYM(struct libc_api, getpid, "nb_no_such_function"),
	};
	struct nb_dl lib = { .soname = "libc.so.6", .package = "libc6" };
	struct libc_api api = { 0 };
	struct nb_err err = { 0 };

	ck_assert_int_eq(NB_DL_LOAD(&lib, table, &api, &err), -1);
	ck_assert_ptr_null(lib.handle); /* not kept: the next call tries again */
	ck_assert_str_eq(err.msg, "libc.so.6 lacks nb_no_such_function: install a newer libc6");
	ck_assert_int_eq(NB_DL_LOAD(&lib, libc_symbols, &api, &err), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dl");
	TCase *tc = tcase_create("dl");

	tcase_add_test(tc, loads_and_calls);
	tcase_add_test(tc, missing_library);
	tcase_add_test(tc, missing_function);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
