/* Pull from an OCI distribution registry over HTTP(S) with libcurl:
 * GET /v2/NAME/manifests/REF with Accept for OCI and Docker indexes and
 * manifests, then blobs by digest, each verified against its descriptor.
 * A 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...` is
 * answered by fetching a token from the realm (with the user's credentials
 * when images/auth.h finds some, else anonymously) and retrying; a `Basic`
 * challenge by sending the credentials themselves.
 * Plain HTTP is used for loopback registries and with --insecure; every
 * other registry is HTTPS with certificate checks, and no transfer or
 * redirect may use another protocol (a libcurl that cannot say so is
 * refused). A layer is downloaded only when it is within NESTBOX_MAX_BLOB
 * and fits on the cache's file system. */
#include "images/registry.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/parse.h"
#include "images/auth.h"
#include "images/curl_dl.h"
#include "images/import.h"
#include "images/json.h"
#include "nestbox/cleanup.h"

#define ACCEPT_MANIFESTS                                              \
	"Accept: application/vnd.oci.image.index.v1+json, "           \
	"application/vnd.oci.image.manifest.v1+json, "                \
	"application/vnd.docker.distribution.manifest.list.v2+json, " \
	"application/vnd.docker.distribution.manifest.v2+json"
#define TOKEN_MAX 16384
#define HEADER_MAX 4096
#define CONNECT_TIMEOUT 30L
#define LOW_SPEED_TIME 60L             /* abort a transfer stuck below 1 KiB/s this long */
#define MAX_BLOB_DEFAULT (16ull << 30) /* NESTBOX_MAX_BLOB unset */
#define ERROR_BODY_MAX (64u << 10)     /* an error response's body, read and dropped */

/* The loaded libcurl (nb_registry_pull loads it first). */
static const struct nb_curl *C;

/* Copy the value of key="value" (or key=value) from a challenge. */
static void challenge_value(const char *h, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);

	out[0] = '\0';
	for (const char *p = h; (p = strstr(p, key)); p += klen) {
		if ((p != h && !strchr(" ,", p[-1])) || p[klen] != '=')
			continue;
		const char *v = p + klen + 1;
		bool quoted = *v == '"';
		size_t n = 0;
		v += quoted;
		while (v[n] && (quoted ? v[n] != '"' : v[n] != ',' && v[n] != ' '))
			n++;
		if (n < size) {
			memcpy(out, v, n);
			out[n] = '\0';
		}
		return;
	}
}

int nb_auth_parse_bearer(const char *header, char *realm, size_t realm_size, char *service,
			 size_t service_size, char *scope, size_t scope_size)
{
	while (*header == ' ')
		header++;
	if (strncasecmp(header, "Bearer ", 7) != 0)
		return -1;
	challenge_value(header + 7, "realm", realm, realm_size);
	challenge_value(header + 7, "service", service, service_size);
	challenge_value(header + 7, "scope", scope, scope_size);
	return realm[0] ? 0 : -1;
}

/* ---- HTTP ----------------------------------------------------------------- */

struct reg;
static const char *login_hint(struct reg *r);

struct sink {
	/* memory (max bytes) or file (fd, hashed, at most limit bytes) */
	char *data;
	size_t len, max;
	int fd;
	struct nb_sha256 h;
	uint64_t limit, got;
	bool too_big;
	int write_errno;
	/* The response is no 2xx (a 401 before its retry): its body is not
	 * the download, and is dropped (up to ERROR_BODY_MAX bytes). */
	bool dropping;
	size_t dropped;
};

struct reg {
	struct nb_ref ref;
	struct nb_cache *cache;
	const struct nb_pull_opts *opts;
	/* A transfer's own handle, made for it and cleaned up after it: libcurl
	 * 7.88 (Debian 12) keeps a pointer to the previous transfer's last
	 * header in the handle after freeing it, and a response whose first
	 * header is folded (a line starting with a blank) makes it read and
	 * realloc that freed memory (curl PR #11103, fixed in 8.1). The
	 * transfers share connections, DNS and TLS sessions through `share`. */
	CURL *curl;
	CURLSH *share;
	char scheme[8];
	char token[TOKEN_MAX];
	char basic[4 * NB_AUTH_FIELD_MAX]; /* base64 user:password, "" without credentials */
	bool use_basic;                    /* the registry asked for Basic auth */
	char hint[NB_REF_HOST_MAX + 128];  /* login_hint's text */
	char auth_header[HEADER_MAX];
	struct sink *sink; /* the transfer's */
	char content_type[NB_OCI_MT_MAX];
	uint64_t max_blob; /* NESTBOX_MAX_BLOB */
	/* the top-level manifest or index, already fetched */
	struct nb_digest top_digest;
	char *top;
	size_t top_len;
	const char *progress_what;
	int progress_last; /* percent last drawn */
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	struct nb_err ignored;

	if (s->dropping) {
		if (n > ERROR_BODY_MAX - s->dropped) {
			s->too_big = true;
			return 0;
		}
		s->dropped += n;
		return n;
	}
	if (s->fd < 0) {
		if (n > s->max - s->len) {
			s->too_big = true;
			return 0;
		}
		memcpy(s->data + s->len, ptr, n);
		s->len += n;
		return n;
	}
	if (n > s->limit - s->got) {
		s->too_big = true;
		return 0;
	}
	if (write(s->fd, ptr, n) != (ssize_t)n) {
		s->write_errno = errno;
		return 0;
	}
	s->got += n;
	nb_sha256_update(&s->h, ptr, n, &ignored);
	return n;
}

static size_t on_header(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct reg *r = ud;
	size_t n = size * nmemb, len = n;

	while (len && (buf[len - 1] == '\r' || buf[len - 1] == '\n'))
		len--;
	if (len > 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A status line: every response has one, redirects' too. */
		const char *sp = memchr(buf, ' ', len);
		size_t i = sp ? (size_t)(sp - buf) + 1 : len;
		long code = 0;

		for (; i < len && isdigit((unsigned char)buf[i]) && code < 1000; i++)
			code = code * 10 + (buf[i] - '0');
		r->sink->dropping = code < 200 || code > 299;
	} else if (len > 17 && strncasecmp(buf, "WWW-Authenticate:", 17) == 0 &&
		   len - 17 < HEADER_MAX) {
		memcpy(r->auth_header, buf + 17, len - 17);
		r->auth_header[len - 17] = '\0';
	} else if (len > 13 && strncasecmp(buf, "Content-Type:", 13) == 0) {
		size_t i = 13, j = 0;
		while (i < len && buf[i] == ' ')
			i++;
		while (i < len && buf[i] != ';' && buf[i] != ' ' && j + 1 < sizeof(r->content_type))
			r->content_type[j++] = buf[i++];
		r->content_type[j] = '\0';
	}
	return n;
}

static int on_progress(void *ud, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
	struct reg *r = ud;
	int width = 30, filled;

	(void)ut, (void)un;
	if (total <= 0 || (int)(now * 100 / total) == r->progress_last)
		return 0;
	r->progress_last = (int)(now * 100 / total);
	filled = (int)(now * width / total);
	nb_report(&r->opts->report, NB_REPORT_PROGRESS, "\r\033[K%s [%.*s%*s] %3d%% %.1f/%.1f MB",
		  r->progress_what, filled, "==============================", width - filled, "",
		  (int)(now * 100 / total), now / 1e6, total / 1e6);
	return 0;
}

/* Forget what a sink took from a response (the body of a 401 before the
 * retry): only the retried body is the download. */
static int sink_reset(struct sink *s, struct nb_err *err)
{
	s->len = 0;
	if (s->fd < 0)
		return 0;
	s->got = 0;
	if (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0)
		return nb_err_sys(err, "cannot restart the download");
	nb_sha256_free(&s->h);
	return nb_sha256_init(&s->h, err);
}

/* curl_easy_setopt, its refusal an error naming the option. */
#define SETOPT(r, opt, value, err) setopt_result(C->easy_setopt((r)->curl, opt, value), #opt, err)

static int setopt_result(CURLcode rc, const char *name, struct nb_err *err)
{
	if (rc == CURLE_OK)
		return 0;
	return nb_err_set(err, 0, "libcurl refused %s: %s", name, C->easy_strerror(rc));
}

/* The protocols a transfer and its redirects may use: HTTPS, and HTTP for
 * a loopback registry or with --insecure. libcurl before 7.85 has only the
 * bitmask options; one that takes neither cannot be trusted with a pull
 * (an HTTPS registry could redirect to http:// or file://). */
static int limit_protocols(struct reg *r, struct nb_err *err)
{
	static const struct {
		CURLoption by_name, by_mask;
		const char *what;
	} opts[] = {
		{ CURLOPT_PROTOCOLS_STR, CURLOPT_PROTOCOLS, "protocols" },
		{ CURLOPT_REDIR_PROTOCOLS_STR, CURLOPT_REDIR_PROTOCOLS, "redirect protocols" },
	};
	bool plain = r->opts->insecure || r->ref.loopback;
	long mask = plain ? CURLPROTO_HTTP | CURLPROTO_HTTPS : CURLPROTO_HTTPS;

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		CURLcode rc = C->easy_setopt(r->curl, opts[i].by_name,
					     plain ? "http,https" : "https");

		if (rc == CURLE_UNKNOWN_OPTION)
			rc = C->easy_setopt(r->curl, opts[i].by_mask, mask);
		if (rc != CURLE_OK)
			return nb_err_set(err, 0,
					  "this libcurl cannot limit the %s of a transfer "
					  "(%s): nestbox does not pull without that limit",
					  opts[i].what, C->easy_strerror(rc));
	}
	return 0;
}

static int http_setup(struct reg *r, const char *url, struct curl_slist *headers, struct sink *s,
		      struct nb_err *err)
{
	if (limit_protocols(r, err) < 0 || SETOPT(r, CURLOPT_URL, url, err) < 0 ||
	    SETOPT(r, CURLOPT_SHARE, r->share, err) < 0 ||
	    SETOPT(r, CURLOPT_HTTPHEADER, headers, err) < 0 ||
	    SETOPT(r, CURLOPT_FOLLOWLOCATION, 1L, err) < 0 ||
	    SETOPT(r, CURLOPT_MAXREDIRS, 5L, err) < 0 ||
	    SETOPT(r, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT, err) < 0 ||
	    SETOPT(r, CURLOPT_LOW_SPEED_LIMIT, 1024L, err) < 0 ||
	    SETOPT(r, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_TIME, err) < 0 ||
	    SETOPT(r, CURLOPT_USERAGENT, "nestbox", err) < 0 ||
	    SETOPT(r, CURLOPT_WRITEFUNCTION, on_body, err) < 0 ||
	    SETOPT(r, CURLOPT_WRITEDATA, s, err) < 0 ||
	    SETOPT(r, CURLOPT_HEADERFUNCTION, on_header, err) < 0 ||
	    SETOPT(r, CURLOPT_HEADERDATA, r, err) < 0)
		return -1;
	if (!r->opts->progress || !r->progress_what)
		return 0;
	if (SETOPT(r, CURLOPT_NOPROGRESS, 0L, err) < 0 ||
	    SETOPT(r, CURLOPT_XFERINFOFUNCTION, on_progress, err) < 0 ||
	    SETOPT(r, CURLOPT_XFERINFODATA, r, err) < 0)
		return -1;
	return 0;
}

static void end_transfer(struct reg *r)
{
	C->easy_cleanup(r->curl);
	r->curl = NULL;
}

/* One GET of url into s; *status gets the HTTP status. */
/* auth: Bearer token or Basic credentials for the registry itself; basic:
 * the credentials alone (the token service). */
static int http_get(struct reg *r, const char *url, const char *accept, bool auth, bool basic,
		    struct sink *s, long *status, struct nb_err *err)
{
	struct curl_slist *headers = NULL;
	char authz[TOKEN_MAX + 32];
	bool got_status;
	CURLcode rc;

	if (accept)
		headers = C->slist_append(headers, accept);
	authz[0] = '\0';
	if (auth && r->token[0])
		snprintf(authz, sizeof(authz), "Authorization: Bearer %s", r->token);
	else if (((auth && r->use_basic) || basic) && r->basic[0])
		snprintf(authz, sizeof(authz), "Authorization: Basic %s", r->basic);
	if (authz[0])
		headers = C->slist_append(headers, authz);
	r->auth_header[0] = r->content_type[0] = '\0';
	*status = 0;
	r->sink = s;
	s->dropping = false;
	s->dropped = 0;
	r->curl = C->easy_init();
	if (!r->curl) {
		C->slist_free_all(headers);
		return nb_err_set(err, 0, "%s: cannot start a libcurl transfer", url);
	}
	if (http_setup(r, url, headers, s, err) < 0) {
		C->slist_free_all(headers);
		end_transfer(r);
		return nb_err_wrap(err, "%s", url);
	}
	rc = C->easy_perform(r->curl);
	C->slist_free_all(headers);
	got_status = C->easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, status) == CURLE_OK;
	end_transfer(r);
	if (s->too_big && s->dropping)
		return nb_err_set(err, 0, "%s: an error response of more than %u bytes", url,
				  ERROR_BODY_MAX);
	if (s->too_big)
		return nb_err_set(err, 0, "%s: response is larger than its descriptor allows", url);
	if (s->write_errno)
		return nb_err_set(err, s->write_errno, "%s: cannot store the download", url);
	if (rc != CURLE_OK)
		return nb_err_set(err, 0, "%s: %s%s", url, C->easy_strerror(rc),
				  rc == CURLE_SSL_CONNECT_ERROR ||
						  rc == CURLE_PEER_FAILED_VERIFICATION
					  ? " (a plain-HTTP registry needs --insecure)"
					  : "");
	if (!got_status)
		return nb_err_set(err, 0, "%s: libcurl has no HTTP status", url);
	return 0;
}

/* Fetch a bearer token as the registry's challenge asks: with the user's
 * credentials when there are some (Docker's token flow), else anonymous. */
static int get_token(struct reg *r, struct nb_err *err)
{
	char realm[1024], service[256], scope[512], url[2048];
	char *esc_service, *esc_scope;
	struct sink s = { .fd = -1, .max = TOKEN_MAX * 2 };
	struct json_object *o;
	const char *token;
	long status = 0;
	int rc;

	if (nb_auth_parse_bearer(r->auth_header, realm, sizeof(realm), service, sizeof(service),
				 scope, sizeof(scope)) < 0)
		return nb_err_set(err, 0,
				  "registry %s wants authentication nestbox cannot give "
				  "(%.100s); it speaks Bearer tokens and Basic credentials",
				  r->ref.host, r->auth_header[0] ? r->auth_header : "no challenge");
	if (strncmp(realm, "https://", 8) != 0 && !(r->opts->insecure || r->ref.loopback))
		return nb_err_set(err, 0, "token realm %.200s is not HTTPS", realm);
	/* curl_easy_escape ignores its handle (libcurl's manual: "since 7.82.0"
	 * and before it on every system but TPF). */
	esc_service = C->easy_escape(NULL, service, 0);
	esc_scope = C->easy_escape(NULL, scope, 0);
	snprintf(url, sizeof(url), "%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?",
		 esc_service ? esc_service : "", esc_scope ? esc_scope : "");
	C->free(esc_service);
	C->free(esc_scope);
	s.data = malloc(s.max);
	if (!s.data)
		return nb_err_set(err, ENOMEM, "token");
	rc = http_get(r, url, NULL, false, true, &s, &status, err);
	if (rc == 0 && (status == 401 || status == 403))
		rc = nb_err_set(err, 0, "token service %.200s refused %s (HTTP %ld)%s", realm,
				r->basic[0] ? "the stored credentials" : "an anonymous token",
				status, login_hint(r));
	else if (rc == 0 && status != 200)
		rc = nb_err_set(err, 0, "token service %.200s answered HTTP %ld", realm, status);
	o = rc == 0 ? nb_json_parse(s.data, s.len, "token response", err) : NULL;
	free(s.data);
	if (!o)
		return -1;
	if (nb_json_str(o, "token", false, TOKEN_MAX - 1, &token, err) == 0 && !token)
		nb_json_str(o, "access_token", false, TOKEN_MAX - 1, &token, err);
	rc = token && *token ? 0 : nb_err_set(err, 0, "token response holds no token");
	if (rc == 0)
		snprintf(r->token, sizeof(r->token), "%s", token);
	json_object_put(o);
	return rc;
}

/* GET with one retry after a Bearer or Basic challenge. A 401 to a token
 * already held (Docker Hub's expire after five minutes, mid-pull) gets a
 * new one; refused Basic credentials are final. */
static int get_authed(struct reg *r, const char *url, const char *accept, struct sink *s,
		      long *status, struct nb_err *err)
{
	const char *h = r->auth_header;

	if (http_get(r, url, accept, true, false, s, status, err) < 0)
		return -1;
	if (*status != 401 || r->use_basic)
		return 0;
	while (*h == ' ')
		h++;
	if (r->token[0] && strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	if (!r->token[0] && strncasecmp(h, "Basic", 5) == 0) {
		if (!r->basic[0])
			return nb_err_set(err, 0,
					  "registry %s wants a user name and password: "
					  "nestbox login %s first",
					  r->ref.host, r->ref.host);
		r->use_basic = true;
	} else {
		r->token[0] = '\0';
		if (get_token(r, err) < 0)
			return -1;
	}
	if (sink_reset(s, err) < 0)
		return -1;
	return http_get(r, url, accept, true, false, s, status, err);
}

/* What to do about a refusal, for the end of its message. */
static const char *login_hint(struct reg *r)
{
	snprintf(r->hint, sizeof(r->hint),
		 r->basic[0]
			 ? "; the stored credentials are wrong or lack access (nestbox login %s)"
			 : "; if it needs a login: nestbox login %s",
		 r->ref.host);
	return r->hint;
}

static void repo_url(struct reg *r, char *url, size_t size, const char *kind, const char *ref)
{
	snprintf(url, size, "%s://%s/v2/%s/%s/%s", r->scheme, r->ref.host, r->ref.repo, kind, ref);
}

static int check_status(struct reg *r, long status, const char *what, struct nb_err *err)
{
	if (status == 200)
		return 0;
	if (status == 404)
		return nb_err_set(err, 0, "%s not found in %s/%s (HTTP 404)", what, r->ref.host,
				  r->ref.repo);
	if (status == 401 || status == 403)
		return nb_err_set(err, 0, "registry %s refused access to %s (HTTP %ld)%s",
				  r->ref.host, r->ref.repo, status, login_hint(r));
	return nb_err_set(err, 0, "registry %s answered HTTP %ld for %s", r->ref.host, status,
			  what);
}

/* ---- blobs as an nb_source ----------------------------------------------- */

static int fetch_manifest(struct reg *r, const char *ref, char **data, size_t *len,
			  struct nb_err *err)
{
	char url[1024];
	struct sink s = { .fd = -1, .max = NB_JSON_MAX_BYTES };
	long status = 0;

	repo_url(r, url, sizeof(url), "manifests", ref);
	s.data = malloc(s.max);
	if (!s.data)
		return nb_err_set(err, ENOMEM, "manifest");
	if (get_authed(r, url, ACCEPT_MANIFESTS, &s, &status, err) < 0 ||
	    check_status(r, status, ref, err) < 0) {
		free(s.data);
		return -1;
	}
	*data = s.data;
	*len = s.len;
	return 0;
}

static int reg_fetch(void *ctx, const struct nb_desc *d, char **data, size_t *len,
		     struct nb_err *err)
{
	struct reg *r = ctx;
	char ds[NB_DIGEST_STR_LEN + 1];

	if (r->top && nb_digest_equal(&d->digest, &r->top_digest)) {
		*data = malloc(r->top_len + 1);
		if (!*data)
			return nb_err_set(err, ENOMEM, "manifest");
		memcpy(*data, r->top, r->top_len);
		*len = r->top_len;
		return 0;
	}
	nb_digest_format(&d->digest, ds);
	if (d->media == NB_MEDIA_CONFIG) {
		char url[1024];
		struct sink s = { .fd = -1, .max = NB_JSON_MAX_BYTES };
		long status = 0;
		repo_url(r, url, sizeof(url), "blobs", ds);
		if (!(s.data = malloc(s.max)))
			return nb_err_set(err, ENOMEM, "config");
		if (get_authed(r, url, NULL, &s, &status, err) < 0 ||
		    check_status(r, status, ds, err) < 0) {
			free(s.data);
			return -1;
		}
		*data = s.data;
		*len = s.len;
	} else if (fetch_manifest(r, ds, data, len, err) < 0) {
		return -1;
	}
	if (nb_desc_check(d, *data, *len, err) < 0) {
		free(*data);
		*data = NULL;
		return -1;
	}
	return 0;
}

/* A layer must be within NESTBOX_MAX_BLOB and fit on the cache's file
 * system before a byte of it is downloaded. */
static int check_blob_room(struct reg *r, const struct nb_desc *d, int fd, struct nb_err *err)
{
	struct statvfs st;
	uint64_t free_bytes;

	if (d->size < 0 || (uint64_t)d->size > r->max_blob)
		return nb_err_set(err, 0,
				  "layer sha256:%.12s claims %lld bytes, more than the %llu "
				  "a pull takes (NESTBOX_MAX_BLOB raises the limit)",
				  d->digest.hex, (long long)d->size,
				  (unsigned long long)r->max_blob);
	if (fstatvfs(fd, &st) < 0)
		return nb_err_sys(err, "cannot tell the free space in %s", r->cache->tmp);
	if (__builtin_mul_overflow((uint64_t)st.f_bavail, (uint64_t)st.f_frsize, &free_bytes))
		free_bytes = UINT64_MAX;
	if ((uint64_t)d->size > free_bytes)
		return nb_err_set(err, 0,
				  "layer sha256:%.12s needs %lld bytes, the image cache's "
				  "file system (%s) has %llu free",
				  d->digest.hex, (long long)d->size, r->cache->tmp,
				  (unsigned long long)free_bytes);
	return 0;
}

/* Download a layer into an already-unlinked temp file: a crash leaves
 * nothing behind. The digest is checked here and again while converting. */
static int reg_open_blob(void *ctx, const struct nb_desc *d, struct nb_err *err)
{
	struct reg *r = ctx;
	char url[1024], ds[NB_DIGEST_STR_LEN + 1], what[64];
	struct sink s = { .limit = (uint64_t)d->size };
	struct nb_digest got;
	long status = 0;
	int fd = open(r->cache->tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0)
		return nb_err_sys(err, "cannot create a temp file in %s", r->cache->tmp);
	s.fd = fd;
	if (check_blob_room(r, d, fd, err) < 0)
		goto fail;
	nb_digest_format(&d->digest, ds);
	snprintf(what, sizeof(what), "sha256:%.12s", d->digest.hex);
	r->progress_what = what;
	r->progress_last = -1;
	repo_url(r, url, sizeof(url), "blobs", ds);
	if (nb_sha256_init(&s.h, err) < 0)
		goto fail;
	if (get_authed(r, url, NULL, &s, &status, err) < 0 ||
	    check_status(r, status, ds, err) < 0) {
		nb_sha256_free(&s.h);
		goto fail;
	}
	if (nb_sha256_final(&s.h, &got, err) < 0 ||
	    nb_digest_verify("layer", &d->digest, d->size, &got, s.got, err) < 0)
		goto fail;
	r->progress_what = NULL;
	if (lseek(fd, 0, SEEK_SET) < 0)
		goto fail;
	return fd;
fail:
	r->progress_what = NULL;
	close(fd);
	return -1;
}

/* ---- the pull --------------------------------------------------------------- */

static int top_desc(struct reg *r, struct nb_desc *d, struct nb_err *err)
{
	struct json_object *o;
	const char *mt = NULL;

	*d = (struct nb_desc){ .size = (int64_t)r->top_len };
	if (nb_sha256_buf(r->top, r->top_len, &d->digest, err) < 0)
		return -1;
	if (r->ref.digest[0]) {
		struct nb_digest want;
		nb_digest_parse(r->ref.digest, &want, err);
		if (nb_digest_verify("manifest", &want, -1, &d->digest, r->top_len, err) < 0)
			return -1;
	}
	d->media = nb_media_classify(r->content_type);
	snprintf(d->media_type, sizeof(d->media_type), "%s", r->content_type);
	if (d->media != NB_MEDIA_INDEX && d->media != NB_MEDIA_MANIFEST) {
		/* Some registries send a generic type: trust the body's own field. */
		o = nb_json_parse(r->top, r->top_len, "manifest", err);
		if (!o)
			return -1;
		nb_json_str(o, "mediaType", false, NB_OCI_MT_MAX - 1, &mt, err);
		d->media = nb_media_classify(mt);
		snprintf(d->media_type, sizeof(d->media_type), "%s", mt ? mt : "");
		json_object_put(o);
	}
	r->top_digest = d->digest;
	return 0;
}

/* The user's credentials for the registry, if stored (images/auth.h). */
static int load_creds(struct reg *r, struct nb_err *err)
{
	struct nb_creds creds;
	bool found = false;
	int rc = nb_auth_lookup(r->ref.host, &creds, &found, err);

	if (rc == 0 && found)
		rc = nb_auth_basic(&creds, r->basic, sizeof(r->basic), err);
	explicit_bzero(&creds, sizeof(creds));
	return rc;
}

/* NESTBOX_MAX_BLOB: the largest layer a pull downloads. */
static int max_blob(uint64_t *max, struct nb_err *err)
{
	const char *env = getenv("NESTBOX_MAX_BLOB");

	*max = MAX_BLOB_DEFAULT;
	if (!env || !*env)
		return 0;
	if (nb_parse_size(env, max, err) < 0 || *max == 0)
		return nb_err_set(err, 0,
				  "NESTBOX_MAX_BLOB=%.40s: want the largest layer a pull "
				  "takes, e.g. 16g (the default)",
				  env);
	return 0;
}

static int reg_start(struct reg *r, const struct nb_pull_opts *opts, struct nb_err *err)
{
	static const curl_lock_data shared[] = { CURL_LOCK_DATA_CONNECT, CURL_LOCK_DATA_DNS,
						 CURL_LOCK_DATA_SSL_SESSION };
	CURLcode rc;

	r->opts = opts;
	snprintf(r->scheme, sizeof(r->scheme), "%s",
		 opts->insecure || r->ref.loopback ? "http" : "https");
	C = nb_curl_load(err);
	if (!C)
		return -1;
	rc = C->global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		return nb_err_set(err, 0, "cannot start libcurl: %s", C->easy_strerror(rc));
	r->share = C->share_init();
	if (!r->share)
		return nb_err_set(err, 0, "cannot start libcurl");
	/* Best effort: a libcurl that shares less opens more connections. */
	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
		C->share_setopt(r->share, CURLSHOPT_SHARE, shared[i]);
	return 0;
}

static void reg_end(struct reg *r)
{
	if (r->share)
		C->share_cleanup(r->share);
	explicit_bzero(r->basic, sizeof(r->basic));
}

int nb_registry_server(const char *arg, char *key, size_t size, struct nb_err *err)
{
	const char *p = strstr(arg, "://");
	size_t n;

	p = p ? p + 3 : arg;
	n = strcspn(p, "/");
	if (n == 0 || n >= size || n >= NB_REF_HOST_MAX)
		return nb_err_set(err, 0, "'%.200s' is not a registry (HOST[:PORT])", arg);
	memcpy(key, p, n);
	key[n] = '\0';
	if (!nb_ref_valid_domain(key))
		return nb_err_set(err, 0, "registry host '%.200s' is not valid", key);
	if (!strcmp(key, "index.docker.io") || !strcmp(key, "registry-1.docker.io"))
		snprintf(key, size, "docker.io"); /* what podman and skopeo store */
	return 0;
}

int nb_registry_login(const char *key, const struct nb_creds *creds, bool insecure,
		      struct nb_err *err)
{
	struct nb_pull_opts opts = { .insecure = insecure };
	struct reg *r = calloc(1, sizeof(*r));
	struct sink s = { .fd = -1, .max = 64 * 1024 };
	char url[NB_REF_HOST_MAX + 32];
	long status = 0;
	int rc = -1;

	if (!r || !(s.data = malloc(s.max))) {
		free(r);
		return nb_err_set(err, ENOMEM, "login");
	}
	snprintf(r->ref.host, sizeof(r->ref.host), "%s",
		 strcmp(key, "docker.io") ? key : "registry-1.docker.io");
	r->ref.loopback = nb_ref_is_loopback(r->ref.host);
	if (reg_start(r, &opts, err) < 0 ||
	    nb_auth_basic(creds, r->basic, sizeof(r->basic), err) < 0)
		goto out;
	snprintf(url, sizeof(url), "%s://%s/v2/", r->scheme, r->ref.host);
	if (get_authed(r, url, NULL, &s, &status, err) < 0)
		goto out;
	if (status == 401 || status == 403)
		nb_err_set(err, 0, "registry %s refused the user name or password (HTTP %ld)", key,
			   status);
	else if (status != 200)
		nb_err_set(err, 0, "registry %s answered HTTP %ld for /v2/", key, status);
	else
		rc = 0;
out:
	reg_end(r);
	free(s.data);
	free(r);
	return rc < 0 ? nb_err_wrap(err, "login %s", key) : 0;
}

int nb_registry_pull(struct nb_cache *c, const char *text, const struct nb_pull_opts *opts,
		     struct nb_image *out, struct nb_err *err)
{
	struct reg *r = calloc(1, sizeof(*r));
	struct nb_source src = { reg_fetch, reg_open_blob, r };
	struct nb_desc start, mdesc;
	struct nb_manifest m = { 0 };
	char name[NB_REF_TEXT_MAX];
	int rc = -1;

	if (!r)
		return nb_err_set(err, ENOMEM, "registry");
	r->cache = c;
	if (max_blob(&r->max_blob, err) < 0 || nb_ref_parse(text, &r->ref, err) < 0 ||
	    reg_start(r, opts, err) < 0 || load_creds(r, err) < 0)
		goto out;
	if (nb_ref_format(&r->ref, name, sizeof(name)) < 0) {
		nb_err_set(err, 0, "image reference is too long");
		goto out;
	}
	if (fetch_manifest(r, r->ref.digest[0] ? r->ref.digest : r->ref.tag, &r->top, &r->top_len,
			   err) < 0 ||
	    top_desc(r, &start, err) < 0 ||
	    nb_oci_resolve(reg_fetch, r, &start, NULL, &mdesc, &m, err) < 0)
		goto out;
	rc = nb_import_manifest(c, &src, name, &mdesc, &m, opts, out, err);
out:
	if (rc < 0)
		nb_err_wrap(err, "pull %s", text);
	nb_manifest_free(&m);
	reg_end(r);
	free(r->top);
	free(r);
	return rc;
}
