/* The spec's volume list (NB_SPEC_VOLUMES): round trip and refusals. */
#include <check.h>
#include <stdlib.h>

#include "common/spec.h"
#include "unit/unit.h"

static const char *const argv1[] = { "true" };

static int encode(const char *const *volumes, size_t n, void **blob, size_t *len)
{
	struct nb_spec spec = {
		.argv = argv1, .argc = 1, .rootfs = "/rootfs", .volumes = volumes, .nvolumes = n
	};
	struct nb_err err = { 0 };

	return nb_spec_encode(&spec, blob, len, &err);
}

START_TEST(round_trip)
{
	static const char *const vols[] = { "nbvol0:rw:/data", "layer-1:ro:/a b/c",
					    "nbvol2:fs-rw:/src", "nbvol3:fs-ro:/srv/site" };
	struct nb_spec out;
	struct nb_err err = { 0 };
	void *blob;
	size_t len;

	ck_assert_int_eq(encode(vols, 4, &blob, &len), 0);
	ck_assert_int_eq(nb_spec_decode(blob, len, &out, &err), 0);
	ck_assert_uint_eq(out.nvolumes, 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_str_eq(out.volumes[i], vols[i]);
	nb_spec_free(&out);
	free(blob);
	ck_assert_int_eq(encode(NULL, 0, &blob, &len), 0);
	ck_assert_int_eq(nb_spec_decode(blob, len, &out, &err), 0);
	ck_assert_uint_eq(out.nvolumes, 0);
	nb_spec_free(&out);
	free(blob);
}
END_TEST

START_TEST(bad_entries_refused)
{
	static const char *const bad[] = {
		"nbvol0:rw",                      /* no path */
		":rw:/data",                      /* empty serial */
		"a/b:rw:/data",                   /* serial charset */
		"abcdefghijklmnopqrstu:rw:/data", /* serial > 20 bytes */
		"nbvol0:rx:/data",                /* mode */
		"nbvol0:rwx:/data",
		"nbvol0:fs-rx:/data", /* share modes: fs-ro, fs-rw */
		"nbvol0:fs:/data",
		"nbvol0:fsrw:/data",
		"nbvol0:fs-rwx:/data",
		"nbvol0:xx-rw:/data",
		"nbvol0:rw:data",         /* relative */
		"nbvol0:rw:/data/../etc", /* .. */
		"nbvol0:rw:/..",
	};
	void *blob = NULL;
	size_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(encode(&bad[i], 1, &blob, &len) < 0, "%s accepted", bad[i]);
	ck_assert_int_eq(encode((const char *const[]){ "ok:ro:/x..y" }, 1, &blob, &len), 0);
	free(blob);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spec_volumes");
	TCase *tc = tcase_create("spec_volumes");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, bad_entries_refused);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
