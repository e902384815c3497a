/* Image references by Docker's rules and the local transports
 * (images/reference.h): a table of normalisations, hostile input. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/image.h"
#include "images/reference.h"
#include "unit/unit.h"

#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* text -> canonical name and endpoint, or NULL: refused, with a message
 * containing why. */
static const struct {
	const char *text, *canonical, *host, *why;
} cases[] = {
	/* Docker Hub, official images */
	{ "alpine", "docker.io/library/alpine:latest", "registry-1.docker.io", NULL },
	{ "alpine:3.19", "docker.io/library/alpine:3.19", "registry-1.docker.io", NULL },
	{ "docker.io/alpine", "docker.io/library/alpine:latest", "registry-1.docker.io", NULL },
	{ "docker.io/library/alpine", "docker.io/library/alpine:latest", "registry-1.docker.io",
	  NULL },
	{ "index.docker.io/alpine", "docker.io/library/alpine:latest", "registry-1.docker.io",
	  NULL },
	{ "index.docker.io/library/alpine:edge", "docker.io/library/alpine:edge",
	  "registry-1.docker.io", NULL },
	{ "library/alpine", "docker.io/library/alpine:latest", "registry-1.docker.io", NULL },
	/* Docker Hub, user images */
	{ "user/app", "docker.io/user/app:latest", "registry-1.docker.io", NULL },
	{ "user/app:v1.2.3", "docker.io/user/app:v1.2.3", "registry-1.docker.io", NULL },
	{ "docker.io/user/app", "docker.io/user/app:latest", "registry-1.docker.io", NULL },
	{ "a/b/c/d", "docker.io/a/b/c/d:latest", "registry-1.docker.io", NULL },
	/* other registries: a first component with '.' or ':', or localhost */
	{ "quay.io/x/y:v1.2", "quay.io/x/y:v1.2", "quay.io", NULL },
	{ "ghcr.io/o/i", "ghcr.io/o/i:latest", "ghcr.io", NULL },
	{ "localhost/foo", "localhost/foo:latest", "localhost", NULL },
	{ "localhost:5000/busybox:test", "localhost:5000/busybox:test", "localhost:5000", NULL },
	{ "127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:latest", "127.0.0.1:5000", NULL },
	{ "[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000", NULL },
	{ "[fe80::1]/x:t", "[fe80::1]/x:t", "[fe80::1]", NULL },
	{ "registry:5000/x", "registry:5000/x:latest", "registry:5000", NULL },
	{ "my-registry.example.com/team/app", "my-registry.example.com/team/app:latest",
	  "my-registry.example.com", NULL },
	{ "Example.COM/x", "Example.COM/x:latest", "Example.COM", NULL }, /* uppercase: a host */
	/* path components and separators */
	{ "u/a.b_c__d-e--f", "docker.io/u/a.b_c__d-e--f:latest", "registry-1.docker.io", NULL },
	{ "a.b_c/d", NULL, NULL, "registry" }, /* "." makes a host; "_" is not in one */
	{ "x0/1y", "docker.io/x0/1y:latest", "registry-1.docker.io", NULL },
	/* tags and digests */
	{ "alpine:_under", "docker.io/library/alpine:_under", "registry-1.docker.io", NULL },
	{ "alpine:UPPER.case-1", "docker.io/library/alpine:UPPER.case-1", "registry-1.docker.io",
	  NULL },
	{ "alpine@sha256:" HEX, "docker.io/library/alpine@sha256:" HEX, "registry-1.docker.io",
	  NULL },
	{ "alpine:3@sha256:" HEX, "docker.io/library/alpine:3@sha256:" HEX, "registry-1.docker.io",
	  NULL },
	{ "localhost:5000/a@sha256:" HEX, "localhost:5000/a@sha256:" HEX, "localhost:5000", NULL },
	/* refused: names */
	{ "", NULL, NULL, "empty" },
	{ "Alpine", NULL, NULL, "lowercase" },
	{ "user/App", NULL, NULL, "lowercase" },
	{ "quay.io/Org/x", NULL, NULL, "lowercase" },
	{ "Bad/Name", NULL, NULL, "lowercase" }, /* "Bad" is a host, "Name" uppercase */
	{ "host.io/../x", NULL, NULL, "not a valid image reference" },
	{ "a..b", NULL, NULL, "not a valid image reference" },
	{ "a___b", NULL, NULL, "not a valid image reference" },
	{ "a._b", NULL, NULL, "not a valid image reference" },
	{ "-a", NULL, NULL, "not a valid image reference" },
	{ "a-", NULL, NULL, "not a valid image reference" },
	{ "a/", NULL, NULL, "not a valid image reference" },
	{ "/a", NULL, NULL, "not a valid image reference" },
	{ "a//b", NULL, NULL, "not a valid image reference" },
	{ "a b", NULL, NULL, "not a valid image reference" },
	{ "a\tb", NULL, NULL, "not a valid image reference" },
	{ "a\nb", NULL, NULL, "not a valid image reference" },
	{ "a%2fb", NULL, NULL, "not a valid image reference" },
	{ "caf\xc3\xa9", NULL, NULL, "not a valid image reference" },
	{ "localhost.evil:5000/", NULL, NULL, "not a valid image reference" },
	{ HEX, NULL, NULL, "image id" },
	/* refused: registries */
	{ "-bad.io/x", NULL, NULL, "registry" },
	{ "bad-.io/x", NULL, NULL, "registry" },
	{ "a..io/x", NULL, NULL, "registry" },
	{ "host:port/x", NULL, NULL, "registry" },
	{ "host:/x", NULL, NULL, "registry" },
	{ "host:99999/x", NULL, NULL, "registry" },
	{ "host:1:2/x", NULL, NULL, "registry" },
	{ "[::1/x", NULL, NULL, "registry" },
	{ "[]/x", NULL, NULL, "not a valid image reference" }, /* "[]" is no host */
	{ "[zz::1]/x", NULL, NULL, "registry" },
	{ "ex_ample.com/x", NULL, NULL, "registry" },
	{ ":5000/x", NULL, NULL, "registry" },
	/* refused: tags and digests */
	{ "x:bad/tag", NULL, NULL, "registry" }, /* "x:bad" is a host with a bad port */
	{ "x/y:bad/tag", NULL, NULL, "tag" },
	{ "alpine:", NULL, NULL, "tag" },
	{ "alpine:.dot", NULL, NULL, "tag" },
	{ "alpine:-dash", NULL, NULL, "tag" },
	{ "alpine:a+b", NULL, NULL, "tag" },
	{ "x@sha256:nothex", NULL, NULL, "digest" },
	{ "x@sha256:" HEX "0", NULL, NULL, "digest" },
	{ "x@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", NULL, NULL,
	  "digest" },
	{ "x@sha512:" HEX HEX, NULL, NULL, "digest" },
	{ "x@", NULL, NULL, "digest" },
	{ "x@sha256:" HEX "@sha256:" HEX, NULL, NULL, "digest" },
	{ "x@sha256:" HEX ":tag", NULL, NULL, "digest" },
};

START_TEST(normalise)
{
	const char *text = cases[_i].text;
	struct nb_err err = { 0 };
	struct nb_ref r;
	char name[NB_REF_TEXT_MAX];
	int rc = nb_ref_parse(text, &r, &err);

	if (!cases[_i].canonical) {
		ck_assert_msg(rc < 0, "'%s' was accepted", text);
		ck_assert_msg(strstr(err.msg, cases[_i].why), "'%s': message '%s' lacks '%s'", text,
			      err.msg, cases[_i].why);
		return;
	}
	ck_assert_msg(rc == 0, "'%s' refused: %s", text, err.msg);
	ck_assert_int_eq(nb_ref_format(&r, name, sizeof(name)), 0);
	ck_assert_str_eq(name, cases[_i].canonical);
	ck_assert_str_eq(r.host, cases[_i].host);
	/* Canonical names are fixed points. */
	ck_assert_int_eq(nb_ref_parse(name, &r, &err), 0);
	ck_assert_int_eq(nb_ref_format(&r, name, sizeof(name)), 0);
	ck_assert_str_eq(name, cases[_i].canonical);
}
END_TEST

START_TEST(fields_and_loopback)
{
	struct nb_err err = { 0 };
	struct nb_ref r;

	ck_assert_int_eq(nb_ref_parse("localhost:5000/busybox:test", &r, &err), 0);
	ck_assert_str_eq(r.repo, "busybox");
	ck_assert_str_eq(r.tag, "test");
	ck_assert(r.loopback);
	ck_assert_int_eq(nb_ref_parse("debian", &r, &err), 0);
	ck_assert_str_eq(r.domain, "docker.io");
	ck_assert_str_eq(r.repo, "library/debian");
	ck_assert(!r.loopback);
	/* A digest alone: no default tag, the digest is what is fetched. */
	ck_assert_int_eq(nb_ref_parse("127.0.0.1:5000/a/b@sha256:" HEX, &r, &err), 0);
	ck_assert_str_eq(r.tag, "");
	ck_assert_str_eq(r.digest, "sha256:" HEX);
	ck_assert(r.loopback);
	ck_assert_int_eq(nb_ref_parse("[::1]/x", &r, &err), 0);
	ck_assert(r.loopback);
	ck_assert_int_eq(nb_ref_parse("localhost.example.com/x", &r, &err), 0);
	ck_assert(!r.loopback);
}
END_TEST

/* Lengths: a tag of 128, a name of 255 with its registry, a text of any
 * size, all bounded. */
START_TEST(lengths)
{
	struct nb_err err = { 0 };
	struct nb_ref r;
	char text[NB_REF_TEXT_MAX + 64];

	memset(text, 0, sizeof(text));
	strcpy(text, "x:");
	memset(text + 2, 't', 128);
	ck_assert_int_eq(nb_ref_parse(text, &r, &err), 0);
	ck_assert_uint_eq(strlen(r.tag), 128);
	text[2 + 128] = 't';
	ck_assert_int_eq(nb_ref_parse(text, &r, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "tag"));

	/* docker.io/library/ + 237 = 255 */
	memset(text, 0, sizeof(text));
	memset(text, 'a', 237);
	ck_assert_int_eq(nb_ref_parse(text, &r, &err), 0);
	text[237] = 'a';
	ck_assert_int_eq(nb_ref_parse(text, &r, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "255"));

	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	ck_assert_int_eq(nb_ref_parse(text, &r, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "too long"));
	/* A registry longer than the buffer for it. */
	memset(text, 'h', 300);
	strcpy(text + 300, ".io/x");
	ck_assert_int_eq(nb_ref_parse(text, &r, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "registry"));
}
END_TEST

/* transport text -> kind, PATH, TAG; or refused with why. */
static const struct {
	const char *text;
	bool exists;
	enum nb_source_kind kind;
	const char *path, *tag, *why;
} sources[] = {
	{ "oci:build/oci/busybox", false, NB_SOURCE_OCI, "build/oci/busybox", "", NULL },
	{ "oci:build/oci/busybox:test", false, NB_SOURCE_OCI, "build/oci/busybox", "test", NULL },
	{ "oci:/abs/dir:v1.0", true, NB_SOURCE_OCI, "/abs/dir", "v1.0", NULL },
	{ "oci-archive:img.tar", false, NB_SOURCE_OCI_ARCHIVE, "img.tar", "", NULL },
	{ "oci-archive:img.tar:tag", false, NB_SOURCE_OCI_ARCHIVE, "img.tar", "tag", NULL },
	{ "docker-archive:img.tar", false, NB_SOURCE_DOCKER_ARCHIVE, "img.tar", "", NULL },
	{ "docker-archive:img.tar:busybox:test", false, NB_SOURCE_DOCKER_ARCHIVE, "img.tar",
	  "busybox:test", NULL },
	{ "docker-archive:img.tar:quay.io/a/b", false, NB_SOURCE_DOCKER_ARCHIVE, "img.tar",
	  "quay.io/a/b", NULL },
	{ "docker://alpine", false, NB_SOURCE_REGISTRY, "alpine", "", NULL },
	{ "docker://localhost:5000/a:b", false, NB_SOURCE_REGISTRY, "localhost:5000/a:b", "",
	  NULL },
	/* no transport: what is on disk or looks like a path, else a reference */
	{ "./rootfs", false, NB_SOURCE_PATH, "./rootfs", "", NULL },
	{ "/srv/rootfs:tag", false, NB_SOURCE_PATH, "/srv/rootfs:tag", "", NULL },
	{ "rootfs", true, NB_SOURCE_PATH, "rootfs", "", NULL },
	{ "rootfs", false, NB_SOURCE_REGISTRY, "rootfs", "", NULL },
	{ "dir:tag", true, NB_SOURCE_PATH, "dir:tag", "", NULL },
	{ "ocix:foo", false, NB_SOURCE_REGISTRY, "ocix:foo", "", NULL },
	/* refused */
	{ "oci:", false, NB_SOURCE_OCI, NULL, NULL, "missing PATH" },
	{ "oci::tag", false, NB_SOURCE_OCI, NULL, NULL, "missing PATH" },
	{ "oci:dir:", false, NB_SOURCE_OCI, NULL, NULL, "empty TAG" },
	{ "oci:dir:bad tag", false, NB_SOURCE_OCI, NULL, NULL, "TAG 'bad tag' is not valid" },
	{ "oci:dir:-x", false, NB_SOURCE_OCI, NULL, NULL, "is not valid" },
	{ "oci-archive:a.tar:x/y", false, NB_SOURCE_OCI_ARCHIVE, NULL, NULL, "is not valid" },
	{ "docker-archive:a.tar:", false, NB_SOURCE_DOCKER_ARCHIVE, NULL, NULL, "empty REF" },
	{ "docker-archive:a.tar:Bad", false, NB_SOURCE_DOCKER_ARCHIVE, NULL, NULL, "lowercase" },
	{ "docker-archive:a.tar:x@sha256:" HEX, false, NB_SOURCE_DOCKER_ARCHIVE, NULL, NULL,
	  "names a digest" },
	{ "docker://", false, NB_SOURCE_REGISTRY, NULL, NULL, "empty" },
	{ "docker://UPPER", false, NB_SOURCE_REGISTRY, NULL, NULL, "lowercase" },
};

START_TEST(transports)
{
	struct nb_err err = { 0 };
	struct nb_source_name s;
	int rc = nb_source_parse(sources[_i].text, sources[_i].exists, &s, &err);

	if (sources[_i].why) {
		ck_assert_msg(rc < 0, "'%s' was accepted", sources[_i].text);
		ck_assert_msg(strstr(err.msg, sources[_i].why), "'%s': message '%s' lacks '%s'",
			      sources[_i].text, err.msg, sources[_i].why);
		return;
	}
	ck_assert_msg(rc == 0, "'%s' refused: %s", sources[_i].text, err.msg);
	ck_assert_int_eq(s.kind, sources[_i].kind);
	ck_assert_str_eq(s.path, sources[_i].path);
	ck_assert_str_eq(s.tag, sources[_i].tag);
}
END_TEST

START_TEST(domains_and_tags)
{
	ck_assert(nb_ref_valid_domain("a"));
	ck_assert(nb_ref_valid_domain("a-b.c:65535"));
	ck_assert(nb_ref_valid_domain("[::ffff:1.2.3.4]") == false); /* '.' is no IPv6 hex */
	ck_assert(!nb_ref_valid_domain("a:65536"));
	ck_assert(!nb_ref_valid_domain("a:0x10"));
	ck_assert(!nb_ref_valid_domain(""));
	ck_assert(!nb_ref_valid_domain("[::1]x"));
	ck_assert(nb_ref_valid_tag("a"));
	ck_assert(nb_ref_valid_tag("_"));
	ck_assert(!nb_ref_valid_tag(""));
	ck_assert(!nb_ref_valid_tag("a:b"));
}
END_TEST

/* A template records its image so that any working directory finds it. */
START_TEST(absolute_paths)
{
	static const struct {
		const char *given, *want; /* want: "@" stands for the real tmp dir; NULL: refused */
	} paths[] = {
		{ "lay", "@/lay" },
		{ "./lay", "@/lay" },
		{ "link", "@/lay" },
		{ "oci:lay:v1", "oci:@/lay:v1" },
		{ "oci:./link", "oci:@/lay" },
		{ "oci-archive:a.tar", "oci-archive:@/a.tar" },
		{ "docker-archive:a.tar:img:v1", "docker-archive:@/a.tar:img:v1" },
		{ "busybox:1.36", "busybox:1.36" },
		{ "docker://busybox", "docker://busybox" },
		{ "./missing", NULL },
		{ "oci:missing", NULL },
	};
	char tmpl[] = "/tmp/nb-abs-XXXXXX", cwd[4096], want[8192];
	char *dir = mkdtemp(tmpl), *real;
	FILE *f;

	ck_assert_ptr_nonnull(dir);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	real = realpath(dir, NULL);
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_int_eq(mkdir("lay", 0700), 0);
	ck_assert_int_eq(symlink("lay", "link"), 0);
	ck_assert_ptr_nonnull(f = fopen("a.tar", "w"));
	fclose(f);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct nb_err err = { 0 };
		char *got = nb_image_absolute(paths[i].given, &err);
		const char *at = paths[i].want ? strchr(paths[i].want, '@') : NULL;

		if (!paths[i].want) {
			ck_assert_msg(!got, "'%s' gave '%s'", paths[i].given, got);
			ck_assert_msg(strstr(err.msg, "missing"), "'%s': message '%s'",
				      paths[i].given, err.msg);
			continue;
		}
		if (at)
			snprintf(want, sizeof(want), "%.*s%s%s", (int)(at - paths[i].want),
				 paths[i].want, real, at + 1);
		else
			snprintf(want, sizeof(want), "%s", paths[i].want);
		ck_assert_msg(got && !strcmp(got, want), "'%s' gave '%s', not '%s' (%s)",
			      paths[i].given, got ? got : "(null)", want, err.msg);
		free(got);
	}
	unlink("a.tar");
	unlink("link");
	rmdir("lay");
	ck_assert_int_eq(chdir(cwd), 0);
	rmdir(dir);
	free(real);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reference");
	TCase *tc = tcase_create("reference");

	tcase_add_loop_test(tc, normalise, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, fields_and_loopback);
	tcase_add_test(tc, lengths);
	tcase_add_loop_test(tc, transports, 0, sizeof(sources) / sizeof(sources[0]));
	tcase_add_test(tc, domains_and_tags);
	tcase_add_test(tc, absolute_paths);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
