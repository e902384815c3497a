#include "images/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/json.h"
#include "common/file.h"
#include "nestbox/cleanup.h"

#define AUTH_FILES_MAX 4

/* Candidate files, most specific first; the first is where login writes.
 * Returns how many; each is malloc'd. */
static size_t auth_files(char *files[AUTH_FILES_MAX])
{
	const char *env = getenv("REGISTRY_AUTH_FILE"), *xdg = getenv("XDG_RUNTIME_DIR");
	const char *home = getenv("HOME");
	size_t n = 0;

	if (env && *env)
		return asprintf(&files[0], "%s", env) < 0 ? 0 : 1;
	if (xdg && *xdg
		    ? asprintf(&files[n], "%s/containers/auth.json", xdg) >= 0
		    : asprintf(&files[n], "/run/containers/%u/auth.json", (unsigned)getuid()) >= 0)
		n++;
	if (home && *home && asprintf(&files[n], "%s/.config/containers/auth.json", home) >= 0)
		n++;
	if (home && *home && asprintf(&files[n], "%s/.docker/config.json", home) >= 0)
		n++;
	return n;
}

static void free_files(char **files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(files[i]);
}

/* "https://index.docker.io/v1/" -> "index.docker.io"; into out. */
static void key_host(const char *key, char *out, size_t size)
{
	const char *p = strstr(key, "://");
	size_t n;

	p = p ? p + 3 : key;
	n = strcspn(p, "/");
	snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), p);
}

static bool is_docker_hub(const char *h)
{
	return !strcmp(h, "docker.io") || !strcmp(h, "index.docker.io") ||
	       !strcmp(h, "registry-1.docker.io");
}

static bool host_matches(const char *key, const char *host)
{
	char h[300];

	key_host(key, h, sizeof(h));
	return !strcmp(h, host) || (is_docker_hub(h) && is_docker_hub(host));
}

static int decode_auth(const char *b64, const char *file, struct nb_creds *out, struct nb_err *err)
{
	size_t len = strlen(b64);
	unsigned char buf[2 * NB_AUTH_FIELD_MAX + 8];
	struct base64_decode_ctx b64ctx;
	size_t dlen = sizeof(buf) - 1;
	int n;
	char *colon;

	if (len == 0 || len % 4 || len / 4 * 3 >= sizeof(buf))
		return nb_err_set(err, 0, "%s: an \"auth\" value is not base64 of user:password",
				  file);
	base64_decode_init(&b64ctx);
	if (strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") !=
		    len ||
	    !base64_decode_update(&b64ctx, &dlen, buf, len, b64) || !base64_decode_final(&b64ctx))
		return nb_err_set(err, 0, "%s: an \"auth\" value is not base64", file);
	n = (int)dlen;
	buf[n] = '\0';
	colon = memchr(buf, ':', (size_t)n);
	if (!colon || memchr(buf, '\0', (size_t)n) || colon == (char *)buf ||
	    colon - (char *)buf >= NB_AUTH_FIELD_MAX ||
	    (char *)buf + n - colon - 1 >= NB_AUTH_FIELD_MAX)
		return nb_err_set(err, 0, "%s: an \"auth\" value is not user:password", file);
	*colon = '\0'; /* both parts are shorter than NB_AUTH_FIELD_MAX: checked above */
	memcpy(out->user, buf, (size_t)(colon - (char *)buf) + 1);
	memcpy(out->pass, colon + 1, strlen(colon + 1) + 1);
	return 0;
}

/* Look host up in one parsed file. */
static int lookup_in(struct json_object *o, const char *file, const char *host,
		     struct nb_creds *out, bool *found, struct nb_err *err)
{
	struct json_object *auths = NULL;

	if (!json_object_is_type(o, json_type_object))
		return nb_err_set(err, 0, "%s is not a JSON object", file);
	if (nb_json_obj(o, "auths", false, &auths, err) < 0)
		return nb_err_wrap(err, "%s", file);
	if (!auths)
		return 0;
	json_object_object_foreach(auths, key, entry) {
		const char *b64 = NULL;

		if (!host_matches(key, host) || !json_object_is_type(entry, json_type_object))
			continue;
		if (nb_json_str(entry, "auth", false, 4 * NB_AUTH_FIELD_MAX, &b64, err) < 0)
			return nb_err_wrap(err, "%s", file);
		if (!b64 || !*b64) /* e.g. a credential helper's placeholder */
			continue;
		if (decode_auth(b64, file, out, err) < 0)
			return -1;
		*found = true;
		return 0;
	}
	return 0;
}

int nb_auth_lookup(const char *host, struct nb_creds *out, bool *found, struct nb_err *err)
{
	char *files[AUTH_FILES_MAX];
	size_t n = auth_files(files);
	int rc = 0;

	*found = false;
	for (size_t i = 0; i < n && rc == 0 && !*found; i++) {
		struct json_object *o;

		if (access(files[i], F_OK) < 0)
			continue;
		o = nb_json_load(files[i], "auth file", err);
		rc = o ? lookup_in(o, files[i], host, out, found, err) : -1;
		json_object_put(o);
	}
	free_files(files, n);
	return rc;
}

int nb_auth_basic(const struct nb_creds *creds, char *out, size_t size, struct nb_err *err)
{
	cleanup_free char *plain = NULL;
	int n = asprintf(&plain, "%s:%s", creds->user, creds->pass);

	if (n < 0)
		return nb_err_set(err, ENOMEM, "credentials");
	if ((size_t)(n + 2) / 3 * 4 + 1 > size)
		return nb_err_set(err, 0, "credentials are too long");
	base64_encode_raw(out, (size_t)n, (const uint8_t *)plain);
	out[BASE64_ENCODE_RAW_LENGTH((size_t)n)] = '\0';
	return 0;
}

/* Credentials: never world-readable, not even for an instant (the temp
 * file is created 0600, O_EXCL); the directory private (0700) as podman
 * makes it. */
static int write_private(const char *path, struct json_object *o, struct nb_err *err)
{
	if (nb_mkdir_p(AT_FDCWD, path, 0700, NB_MKDIR_PARENTS, err) < 0)
		return -1;
	return nb_json_write_atomic(path, o, 0600, err);
}

/* The login file parsed (a fresh object when absent), its "auths" inside. */
static int load_for_update(const char *path, struct json_object **o, struct json_object **auths,
			   struct nb_err *err)
{
	*o = access(path, F_OK) == 0 ? nb_json_load(path, "auth file", err)
				     : json_object_new_object();
	if (!*o)
		return -1;
	if (!json_object_is_type(*o, json_type_object) ||
	    nb_json_obj(*o, "auths", false, auths, err) < 0) {
		json_object_put(*o);
		*o = NULL;
		return nb_err_set(err, 0, "%s is not an auth file ({\"auths\": {...}})", path);
	}
	if (!*auths) {
		*auths = json_object_new_object();
		json_object_object_add(*o, "auths", *auths);
	}
	return 0;
}

/* Drop every key that names host (docker writes "https://host/v1/"). */
static bool remove_host(struct json_object *auths, const char *host)
{
	bool removed = false;

	for (bool again = true; again;) {
		again = false;
		json_object_object_foreach(auths, key, entry) {
			(void)entry;
			if (host_matches(key, host)) {
				json_object_object_del(auths, key);
				removed = again = true;
				break;
			}
		}
	}
	return removed;
}

int nb_auth_store(const char *host, const struct nb_creds *creds, char **path_out,
		  struct nb_err *err)
{
	char *files[AUTH_FILES_MAX], b64[4 * NB_AUTH_FIELD_MAX];
	size_t n = auth_files(files);
	struct json_object *o = NULL, *auths, *entry;
	int rc = -1;

	if (n == 0)
		return nb_err_set(err, ENOMEM, "auth file name");
	if (nb_auth_basic(creds, b64, sizeof(b64), err) < 0 ||
	    load_for_update(files[0], &o, &auths, err) < 0)
		goto out;
	remove_host(auths, host);
	entry = json_object_new_object();
	json_object_object_add(entry, "auth", json_object_new_string(b64));
	json_object_object_add(auths, host, entry);
	rc = write_private(files[0], o, err);
	if (rc == 0 && path_out)
		*path_out = NB_STEAL(files[0], NULL);
out:
	json_object_put(o);
	free_files(files, n);
	return rc;
}

int nb_auth_remove(const char *host, bool *found, struct nb_err *err)
{
	char *files[AUTH_FILES_MAX];
	size_t n = auth_files(files);
	struct json_object *o = NULL, *auths;
	int rc = 0;

	*found = false;
	if (n && access(files[0], F_OK) == 0) {
		rc = load_for_update(files[0], &o, &auths, err);
		if (rc == 0 && (*found = remove_host(auths, host)))
			rc = write_private(files[0], o, err);
		json_object_put(o);
	}
	free_files(files, n);
	return rc;
}
