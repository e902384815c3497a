/* Registry credentials in podman's and docker's auth files: which file,
 * which key forms match, hostile contents, and login's atomic 0600 write. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/auth.h"
#include "images/registry.h"
#include "unit/unit.h"

static char dir[] = "/tmp/nestbox-auth-XXXXXX";
static char path[300];

static void put(const char *file, const char *text)
{
	FILE *f = fopen(file, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/auth.json", dir);
	setenv("REGISTRY_AUTH_FILE", path, 1);
}

static void teardown(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/nestbox-auth-XXXXXX");
	unsetenv("REGISTRY_AUTH_FILE");
}

static void expect_creds(const char *host, const char *user, const char *pass)
{
	struct nb_creds c;
	struct nb_err err = { 0 };
	bool found = false;

	ck_assert_msg(nb_auth_lookup(host, &c, &found, &err) == 0, "%s", err.msg);
	ck_assert_msg(found, "no credentials for %s", host);
	ck_assert_str_eq(c.user, user);
	ck_assert_str_eq(c.pass, pass);
}

static void expect_none(const char *host)
{
	struct nb_creds c;
	struct nb_err err = { 0 };
	bool found = true;

	ck_assert_msg(nb_auth_lookup(host, &c, &found, &err) == 0, "%s", err.msg);
	ck_assert_msg(!found, "unexpected credentials for %s", host);
}

/* "alice:pw:x" = YWxpY2U6cHc6eA==, "bob:b" = Ym9iOmI= */
START_TEST(key_forms)
{
	put(path, "{\"auths\":{\"https://reg.example:5000/v1/\":{\"auth\":\"YWxpY2U6cHc6eA==\"},"
		  "\"https://index.docker.io/v1/\":{\"auth\":\"Ym9iOmI=\"},"
		  "\"helper.example\":{\"auth\":\"\"}},\"credsStore\":\"secret\"}");
	expect_creds("reg.example:5000", "alice", "pw:x");
	expect_creds("registry-1.docker.io", "bob", "b"); /* Docker Hub by any of its names */
	expect_none("reg.example");                       /* the port is part of the name */
	expect_none("helper.example");                    /* a credential helper's empty entry */
	expect_none("other.example");
}
END_TEST

START_TEST(missing_file_is_no_login)
{
	expect_none("reg.example");
	put(path, "{}");
	expect_none("reg.example");
}
END_TEST

START_TEST(hostile_files)
{
	const char *bad[] = {
		"{\"auths\":{\"r\":{\"auth\":\"!!!!\"}}}",         /* not base64 */
		"{\"auths\":{\"r\":{\"auth\":\"bm9jb2xvbg==\"}}}", /* "nocolon" */
		"{\"auths\":{\"r\":{\"auth\":\"OnB3\"}}}",         /* ":pw": no user */
		"{\"auths\":{\"r\":{\"auth\":\"YQBiOmM=\"}}}",     /* "a\0b:c" */
		"{\"auths\":{\"r\":{\"auth\":\"abc\"}}}",          /* not a multiple of 4 */
		"{\"auths\":{\"r\":{\"auth\":7}}}",
		"{\"auths\":[]}",
		"[1]",
		"{\"auths\":",
	};
	struct nb_creds c;
	bool found;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nb_err err = { 0 };

		put(path, bad[i]);
		ck_assert_msg(nb_auth_lookup("r", &c, &found, &err) == -1, "case %zu accepted", i);
		ck_assert_msg(strstr(err.msg, path) || strstr(err.msg, "auth file"),
			      "case %zu: message '%s' does not name the file", i, err.msg);
	}
}
END_TEST

START_TEST(oversize_auth)
{
	char *text = malloc(20000), *p;
	struct nb_creds c;
	struct nb_err err = { 0 };
	bool found;

	p = text + sprintf(text, "{\"auths\":{\"r\":{\"auth\":\"");
	memset(p, 'A', 8000);
	strcpy(p + 8000, "\"}}}");
	put(path, text);
	free(text);
	ck_assert_int_eq(nb_auth_lookup("r", &c, &found, &err), -1);
}
END_TEST

/* Without REGISTRY_AUTH_FILE: podman's runtime file first, docker's last. */
START_TEST(search_order)
{
	char xdg[320], home[320], f[400];

	unsetenv("REGISTRY_AUTH_FILE");
	snprintf(xdg, sizeof(xdg), "%s/run", dir);
	snprintf(home, sizeof(home), "%s/home", dir);
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	setenv("HOME", home, 1);
	snprintf(f, sizeof(f), "%s/.docker", home);
	ck_assert_int_eq(mkdir(home, 0700), 0);
	ck_assert_int_eq(mkdir(f, 0700), 0);
	snprintf(f, sizeof(f), "%s/.docker/config.json", home);
	put(f,
	    "{\"auths\":{\"a.example\":{\"auth\":\"Ym9iOmI=\"},\"b.example\":{\"auth\":\"Ym9iOmI=\"}}}");
	expect_creds("a.example", "bob", "b");
	ck_assert_int_eq(mkdir(xdg, 0700), 0);
	snprintf(f, sizeof(f), "%s/containers", xdg);
	ck_assert_int_eq(mkdir(f, 0700), 0);
	snprintf(f, sizeof(f), "%s/containers/auth.json", xdg);
	put(f, "{\"auths\":{\"a.example\":{\"auth\":\"YWxpY2U6cHc6eA==\"}}}");
	expect_creds("a.example", "alice", "pw:x"); /* podman's file wins */
	expect_creds("b.example", "bob", "b");      /* the rest still from docker's */
	unsetenv("XDG_RUNTIME_DIR");
}
END_TEST

START_TEST(store_and_remove)
{
	struct nb_creds c = { "carol", "p w\"\\" };
	struct nb_err err = { 0 };
	struct stat st;
	char *written = NULL;
	bool found;

	snprintf(path, sizeof(path), "%s/new/dir/auth.json", dir);
	setenv("REGISTRY_AUTH_FILE", path, 1);
	ck_assert_msg(nb_auth_store("reg.example:5000", &c, &written, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(written, path);
	free(written);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	expect_creds("reg.example:5000", "carol", "p w\"\\");
	/* A second login replaces docker's key form of the same host, keeps others. */
	put(path, "{\"auths\":{\"https://reg.example:5000/v1/\":{\"auth\":\"Ym9iOmI=\"},"
		  "\"keep.example\":{\"auth\":\"Ym9iOmI=\"}},\"credHelpers\":{\"x\":\"y\"}}");
	ck_assert_msg(nb_auth_store("reg.example:5000", &c, NULL, &err) == 0, "%s", err.msg);
	expect_creds("reg.example:5000", "carol", "p w\"\\");
	expect_creds("keep.example", "bob", "b");
	ck_assert_int_eq(nb_auth_remove("reg.example:5000", &found, &err), 0);
	ck_assert(found);
	expect_none("reg.example:5000");
	expect_creds("keep.example", "bob", "b");
	ck_assert_int_eq(nb_auth_remove("reg.example:5000", &found, &err), 0);
	ck_assert(!found);
}
END_TEST

START_TEST(server_names)
{
	char key[256];
	struct nb_err err = { 0 };

	ck_assert_int_eq(nb_registry_server("localhost:5000", key, sizeof(key), &err), 0);
	ck_assert_str_eq(key, "localhost:5000");
	ck_assert_int_eq(nb_registry_server("https://index.docker.io/v1/", key, sizeof(key), &err),
			 0);
	ck_assert_str_eq(key, "docker.io");
	ck_assert_int_eq(nb_registry_server("http://127.0.0.1:5000/", key, sizeof(key), &err), 0);
	ck_assert_str_eq(key, "127.0.0.1:5000");
	ck_assert_int_eq(nb_registry_server("bad host", key, sizeof(key), &err), -1);
	ck_assert_int_eq(nb_registry_server("https:///x", key, sizeof(key), &err), -1);
	ck_assert_int_eq(nb_registry_server("h:99999999", key, sizeof(key), &err), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth files");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, key_forms);
	tcase_add_test(tc, missing_file_is_no_login);
	tcase_add_test(tc, hostile_files);
	tcase_add_test(tc, oversize_auth);
	tcase_add_test(tc, search_order);
	tcase_add_test(tc, store_and_remove);
	tcase_add_test(tc, server_names);
	suite_add_tcase(s, tc);
	return nb_unit_run(s);
}
