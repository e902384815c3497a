/* OCI/Docker index, manifest and config parsers and the index walk: valid
 * documents, malformed JSON, wrong types, huge arrays, nesting too deep,
 * wrong platform. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "images/digest.h"
#include "images/oci.h"
#include "unit/unit.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define IDX_MT "application/vnd.oci.image.index.v1+json"
#define MAN_MT "application/vnd.oci.image.manifest.v1+json"
#define DL_MT "application/vnd.docker.distribution.manifest.list.v2+json"
#define DM_MT "application/vnd.docker.distribution.manifest.v2+json"

static const char manifest_json[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" MAN_MT "\","
	"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	"\"digest\":\"sha256:" H1 "\",\"size\":10},"
	"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
	"\"digest\":\"sha256:" H2 "\",\"size\":20},"
	"{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\","
	"\"digest\":\"sha256:" H1 "\",\"size\":30},"
	"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\","
	"\"digest\":\"sha256:" H2 "\",\"size\":40}]}";

static int parse_manifest(const char *s, struct nb_manifest *m, struct nb_err *err)
{
	return nb_oci_parse_manifest(s, strlen(s), m, err);
}

START_TEST(manifest_ok)
{
	struct nb_manifest m;
	struct nb_err err = { 0 };

	ck_assert_int_eq(parse_manifest(manifest_json, &m, &err), 0);
	ck_assert_uint_eq(m.n_layers, 3);
	ck_assert_str_eq(m.config.digest.hex, H1);
	ck_assert_int_eq(m.layers[0].media, NB_MEDIA_LAYER_GZIP);
	ck_assert_int_eq(m.layers[1].media, NB_MEDIA_LAYER_GZIP);
	ck_assert_int_eq(m.layers[2].media, NB_MEDIA_LAYER_ZSTD);
	ck_assert_int_eq(m.layers[1].size, 30);
	nb_manifest_free(&m);
}
END_TEST

START_TEST(manifest_bad)
{
	static const char *bad[] = {
		"",
		"{",
		"[]",
		"null",
		"{\"schemaVersion\":2}",
		manifest_json + 1,
		"{\"schemaVersion\":1,\"config\":{},\"layers\":[]}",
		"{\"schemaVersion\":\"2\",\"config\":{},\"layers\":[]}",
		/* wrong types */
		"{\"schemaVersion\":2,\"config\":[],\"layers\":[]}",
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config."
		"v1+json\",\"digest\":\"sha256:" H1 "\",\"size\":\"10\"},\"layers\":[]}",
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config."
		"v1+json\",\"digest\":\"sha256:" H1 "\",\"size\":-1},\"layers\":[]}",
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config."
		"v1+json\",\"digest\":\"md5:abc\",\"size\":1},\"layers\":[]}",
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config."
		"v1+json\",\"digest\":\"sha256:" H1 "\",\"size\":1},\"layers\":{}}",
		/* a layer of a type nestbox cannot unpack */
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config."
		"v1+json\",\"digest\":\"sha256:" H1 "\",\"size\":1},\"layers\":[{\"mediaType\":"
		"\"application/vnd.oci.image.layer.v1.tar+bzip2\",\"digest\":\"sha256:" H1 "\","
		"\"size\":1}]}",
		/* trailing garbage */
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config."
		"v1+json\",\"digest\":\"sha256:" H1 "\",\"size\":1},\"layers\":[]} x",
	};
	struct nb_manifest m;
	struct nb_err err = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse_manifest(bad[i], &m, &err) < 0, "accepted #%zu", i);
		ck_assert_ptr_null(m.layers);
	}
}
END_TEST

/* A JSON array of n copies of item, wrapped in prefix/suffix. */
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
	char *s = repeat("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci."
			 "image.config.v1+json\",\"digest\":\"sha256:" H1 "\",\"size\":1},"
			 "\"layers\":[",
			 "{\"mediaType\":\"application/vnd.oci.image.layer.v1."
			 "tar\",\"digest\":\"sha256:" H1 "\",\"size\":1}",
			 NB_OCI_MAX_LAYERS + 1, "]}");
	struct nb_manifest m;
	struct nb_index idx;
	struct nb_err err = { 0 };

	ck_assert_int_lt(parse_manifest(s, &m, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "more than"));
	free(s);
	s = repeat("{\"schemaVersion\":2,\"manifests\":[",
		   "{\"mediaType\":\"" MAN_MT "\","
		   "\"digest\":\"sha256:" H1 "\",\"size\":1}",
		   NB_OCI_MAX_MANIFESTS + 1, "]}");
	ck_assert_int_lt(nb_oci_parse_index(s, strlen(s), &idx, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "more than"));
	free(s);
	/* Deep nesting is refused by the tokenizer's depth limit. */
	s = repeat("", "[", 100, "");
	ck_assert_int_lt(nb_oci_parse_index(s, strlen(s), &idx, &err), 0);
	free(s);
}
END_TEST

static const char index_json[] =
	"{\"schemaVersion\":2,\"manifests\":["
	"{\"mediaType\":\"" DM_MT "\",\"digest\":\"sha256:" H1 "\",\"size\":5,"
	"\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
	"{\"mediaType\":\"" DM_MT "\",\"digest\":\"sha256:" H2 "\",\"size\":6,"
	"\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}";

START_TEST(platform_select)
{
	struct nb_index idx;
	struct nb_err err = { 0 };
	char *arm_only;

	ck_assert_int_eq(nb_oci_parse_index(index_json, strlen(index_json), &idx, &err), 0);
	ck_assert_uint_eq(idx.n, 2);
	ck_assert_str_eq(idx.manifests[0].variant, "v8");
	ck_assert_int_eq(nb_oci_select(&idx, NULL, &err), 1);
	nb_index_free(&idx);

	arm_only = strdup(index_json);
	char *amd = strstr(arm_only, "amd64");
	memcpy(amd, "s390x", 5);
	ck_assert_int_eq(nb_oci_parse_index(arm_only, strlen(arm_only), &idx, &err), 0);
	ck_assert_int_lt(nb_oci_select(&idx, NULL, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "linux/amd64"));
	nb_index_free(&idx);
	free(arm_only);
}
END_TEST

/* A fetcher that answers every digest with an index pointing one level
 * deeper: the walk must stop at the depth limit, not recurse forever. */
static int fetch_deeper(void *ctx, const struct nb_desc *d, char **data, size_t *len,
			struct nb_err *err)
{
	int *calls = ctx;

	(void)d, (void)err;
	(*calls)++;
	*data = strdup("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" IDX_MT "\","
		       "\"digest\":\"sha256:" H1 "\",\"size\":100}]}");
	*len = strlen(*data);
	return 0;
}

static int fetch_manifest(void *ctx, const struct nb_desc *d, char **data, size_t *len,
			  struct nb_err *err)
{
	(void)ctx, (void)err;
	ck_assert_str_eq(d->digest.hex, H2);
	*data = strdup(manifest_json);
	*len = strlen(*data);
	return 0;
}

START_TEST(index_walk)
{
	struct nb_desc md;
	struct nb_manifest m;
	struct nb_err err = { 0 };
	int calls = 0;
	const char *top = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" IDX_MT "\","
			  "\"digest\":\"sha256:" H1 "\",\"size\":100}]}";

	ck_assert_int_lt(nb_oci_resolve_index(fetch_deeper, &calls, top, strlen(top), NULL, &md, &m,
					      &err),
			 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "nested"));
	ck_assert_int_le(calls, NB_OCI_MAX_INDEX_DEPTH + 1);

	ck_assert_int_eq(nb_oci_resolve_index(fetch_manifest, NULL, index_json, strlen(index_json),
					      NULL, &md, &m, &err),
			 0);
	ck_assert_str_eq(md.digest.hex, H2);
	ck_assert_uint_eq(m.n_layers, 3);
	nb_manifest_free(&m);
}
END_TEST

START_TEST(index_names)
{
	const char *two = "{\"schemaVersion\":2,\"manifests\":["
			  "{\"mediaType\":\"" MAN_MT "\",\"digest\":\"sha256:" H1 "\",\"size\":1,"
			  "\"annotations\":{\"org.opencontainers.image.ref.name\":\"a\"}},"
			  "{\"mediaType\":\"" MAN_MT "\",\"digest\":\"sha256:" H2 "\",\"size\":1,"
			  "\"annotations\":{\"org.opencontainers.image.ref.name\":\"b\"}}]}";
	struct nb_index idx;
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_oci_parse_index(two, strlen(two), &idx, &err), 0);
	ck_assert_int_eq(nb_oci_select(&idx, "b", &err), 1);
	ck_assert_int_lt(nb_oci_select(&idx, "c", &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "no manifest named c"));
	/* Two unnamed-platform candidates: ambiguous, refused, with a name to pick. */
	ck_assert_int_lt(nb_oci_select(&idx, NULL, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "named 'a'"));
	ck_assert_ptr_nonnull(strstr(err.msg, "oci:PATH:TAG"));
	nb_index_free(&idx);
	ck_assert_int_eq(nb_media_classify(DL_MT), NB_MEDIA_INDEX);
}
END_TEST

START_TEST(config_ok)
{
	const char *s = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
			"\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[\"echo hi\"],"
			"\"Env\":[\"PATH=/bin\",\"A=b\"],\"WorkingDir\":\"/w\",\"User\":\"1:2\"},"
			"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:" H1 "\"]}}";
	struct nb_image_config c;
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_oci_parse_config(s, strlen(s), &c, &err), 0);
	ck_assert_str_eq(c.entrypoint[0], "/bin/sh");
	ck_assert_str_eq(c.entrypoint[1], "-c");
	ck_assert_ptr_null(c.entrypoint[2]);
	ck_assert_str_eq(c.cmd[0], "echo hi");
	ck_assert_str_eq(c.env[1], "A=b");
	ck_assert_str_eq(c.workdir, "/w");
	ck_assert_str_eq(c.user, "1:2");
	ck_assert_uint_eq(c.n_diff_ids, 1);
	nb_image_config_free(&c);
	/* Null and absent fields are unset, not errors. */
	s = "{\"config\":{\"Entrypoint\":null}}";
	ck_assert_int_eq(nb_oci_parse_config(s, strlen(s), &c, &err), 0);
	ck_assert_ptr_null(c.entrypoint);
	ck_assert_ptr_null(c.cmd);
	nb_image_config_free(&c);
}
END_TEST

START_TEST(config_bad)
{
	static const char *bad[] = {
		"{\"os\":\"windows\"}",
		"{\"architecture\":\"arm64\"}",
		"[1]",
		"{\"config\":{\"Cmd\":\"sh\"}}",
		"{\"config\":{\"Cmd\":[1]}}",
		"{\"config\":{\"Env\":[\"a\",null]}}",
		"{\"config\":{\"WorkingDir\":5}}",
		"{\"config\":{\"User\":[]}}",
		"{\"rootfs\":{\"diff_ids\":[\"sha256:zz\"]}}",
		"{\"config\":{\"Cmd\":[\"a\\u0000b\"]}}",
		"{\"config\":[]}",
	};
	struct nb_image_config c;
	struct nb_err err = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(nb_oci_parse_config(bad[i], strlen(bad[i]), &c, &err) < 0,
			      "accepted %s", bad[i]);
		ck_assert_ptr_null(c.cmd);
	}
	char *big = repeat("{\"config\":{\"Env\":[", "\"A=1\"", NB_OCI_MAX_STRV + 1, "]}}");
	ck_assert_int_lt(nb_oci_parse_config(big, strlen(big), &c, &err), 0);
	free(big);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("oci");
	TCase *tc = tcase_create("oci");

	tcase_add_test(tc, manifest_ok);
	tcase_add_test(tc, manifest_bad);
	tcase_add_test(tc, huge_arrays);
	tcase_add_test(tc, platform_select);
	tcase_add_test(tc, index_walk);
	tcase_add_test(tc, index_names);
	tcase_add_test(tc, config_ok);
	tcase_add_test(tc, config_bad);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
