/* Digest parsing and verification, registry reference and token-challenge
 * parsing. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "images/digest.h"
#include "images/oci.h"
#include "images/registry.h"
#include "unit/unit.h"

#define ABC_HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

START_TEST(parse_valid)
{
	struct nb_digest d;
	struct nb_err err = { 0 };
	char buf[NB_DIGEST_STR_LEN + 1];

	ck_assert_int_eq(nb_digest_parse("sha256:" ABC_HEX, &d, &err), 0);
	ck_assert_str_eq(d.hex, ABC_HEX);
	nb_digest_format(&d, buf);
	ck_assert_str_eq(buf, "sha256:" ABC_HEX);
}
END_TEST

START_TEST(parse_rejects)
{
	static const char *bad[] = {
		"",
		"sha256:",
		"sha256:" ABC_HEX "0",
		"sha256:" ABC_HEX " ",
		"sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
		"sha512:" ABC_HEX,
		ABC_HEX,
		"SHA256:" ABC_HEX,
		"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
		"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ag",
		"sha256:../../../../etc/passwd",
	};
	struct nb_digest d;
	struct nb_err err = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(nb_digest_parse(bad[i], &d, &err) < 0, "accepted '%s'", bad[i]);
		ck_assert_ptr_nonnull(strstr(err.msg, "digest"));
	}
	ck_assert_int_lt(nb_digest_parse(NULL, &d, &err), 0);
}
END_TEST

START_TEST(hash_and_verify)
{
	struct nb_digest d, want;
	struct nb_err err = { 0 };
	struct nb_sha256 h;
	char path[] = "/tmp/nb-digest-XXXXXX";
	int fd = mkstemp(path);
	uint64_t size;

	ck_assert_int_eq(nb_sha256_buf("abc", 3, &d, &err), 0);
	ck_assert_str_eq(d.hex, ABC_HEX);
	/* Streaming in pieces gives the same digest. */
	ck_assert_int_eq(nb_sha256_init(&h, &err), 0);
	nb_sha256_update(&h, "a", 1, &err);
	nb_sha256_update(&h, "bc", 2, &err);
	ck_assert_int_eq(nb_sha256_final(&h, &d, &err), 0);
	ck_assert_str_eq(d.hex, ABC_HEX);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "abc", 3), 3);
	lseek(fd, 0, SEEK_SET);
	ck_assert_int_eq(nb_sha256_fd(fd, &d, &size, &err), 0);
	ck_assert_str_eq(d.hex, ABC_HEX);
	ck_assert_uint_eq(size, 3);
	close(fd);
	unlink(path);

	nb_digest_parse("sha256:" ABC_HEX, &want, &err);
	ck_assert_int_eq(nb_digest_verify("layer", &want, 3, &d, 3, &err), 0);
	ck_assert_int_lt(nb_digest_verify("layer", &want, 4, &d, 3, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));
	nb_sha256_buf("abd", 3, &d, &err);
	ck_assert_int_lt(nb_digest_verify("layer", &want, 3, &d, 3, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "mismatch"));
}
END_TEST

/* Blob verification in one call: the bytes against a digest, with or
 * without a size, and a descriptor naming what it checked. */
START_TEST(check_blob)
{
	struct nb_digest want;
	struct nb_desc desc = { .media = NB_MEDIA_CONFIG, .size = 3 };
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_digest_parse("sha256:" ABC_HEX, &want, &err), 0);
	ck_assert_int_eq(nb_digest_check("blob", &want, -1, "abc", 3, &err), 0);
	ck_assert_int_eq(nb_digest_check("blob", &want, 3, "abc", 3, &err), 0);
	ck_assert_int_eq(nb_digest_check("blob", &want, 2, "abc", 3, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "blob sha256:ba7816bf8f01: size is 3 bytes"));
	ck_assert_int_eq(nb_digest_check("blob", &want, -1, "abd", 3, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "blob digest mismatch"));
	ck_assert_int_eq(nb_digest_check("blob", &want, -1, "", 0, &err), -1);
	desc.digest = want;
	ck_assert_int_eq(nb_desc_check(&desc, "abc", 3, &err), 0);
	ck_assert_int_eq(nb_desc_check(&desc, "abcd", 4, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "config sha256:"));
	desc.media = NB_MEDIA_MANIFEST;
	desc.size = -1;
	ck_assert_int_eq(nb_desc_check(&desc, "abd", 3, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "manifest digest mismatch"));
}
END_TEST

START_TEST(bearer)
{
	char realm[128], service[64], scope[128];

	ck_assert_int_eq(nb_auth_parse_bearer(" Bearer realm=\"https://auth.example/token\","
					      "service=\"registry.example\",scope=\"repository:"
					      "library/busybox:pull\"",
					      realm, sizeof(realm), service, sizeof(service), scope,
					      sizeof(scope)),
			 0);
	ck_assert_str_eq(realm, "https://auth.example/token");
	ck_assert_str_eq(service, "registry.example");
	ck_assert_str_eq(scope, "repository:library/busybox:pull");
	ck_assert_int_lt(nb_auth_parse_bearer("Basic realm=\"x\"", realm, sizeof(realm), service,
					      sizeof(service), scope, sizeof(scope)),
			 0);
	ck_assert_int_lt(nb_auth_parse_bearer("Bearer service=\"x\"", realm, sizeof(realm), service,
					      sizeof(service), scope, sizeof(scope)),
			 0);
	/* Over-long values are dropped, never overflow. */
	char longv[400];
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	char hdr[512];
	snprintf(hdr, sizeof(hdr), "Bearer realm=\"%s\"", longv);
	ck_assert_int_lt(nb_auth_parse_bearer(hdr, realm, sizeof(realm), service, sizeof(service),
					      scope, sizeof(scope)),
			 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("digest");
	TCase *tc = tcase_create("digest");

	tcase_add_test(tc, parse_valid);
	tcase_add_test(tc, parse_rejects);
	tcase_add_test(tc, hash_and_verify);
	tcase_add_test(tc, check_blob);
	tcase_add_test(tc, bearer);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
