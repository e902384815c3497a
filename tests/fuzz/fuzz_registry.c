/* libFuzzer: the registry client's HTTP flows (images/registry.c: 401
 * challenges, tokens, Basic credentials, redirects, oversize and truncated
 * bodies) through the real libcurl, against a scripted registry on a
 * loopback thread. `nestbox pull 127.0.0.1:PORT/fuzz/img:latest` runs as
 * the command does, into a private cache, the layer conversion replaced by
 * a digest check (layer_check.c); or `nestbox login`.
 *
 * The input is the script, text:
 *   a first line of words: "login" (login instead of pull), "creds"
 *   (credentials stored for the registry), "digest=N" (pull by the digest
 *   of response N's body), "max=SIZE" (NESTBOX_MAX_BLOB);
 *   then the responses, one per request in the order they come, separated
 *   by lines "%%": a head (status line and headers, one per line, sent
 *   with CRLF) and, after an empty line, a body. In both, $PORT is the
 *   server's port, $SHAn and $LENn the sha256 (hex) and length of response
 *   n's body (n a digit), $CLEN this response's body length, $BIG 70000
 *   bytes. A request past the script gets a 404.
 * The target runs in a network namespace of its own (as root, else in a
 * user namespace; without either it exits, a skip), so a redirect or token
 * realm the fuzzer writes reaches nothing but loopback, and unsets the
 * proxy variables. The cache's tmp/ must be empty after every input.
 *
 * Covers: images/registry.c images/curl_dl.c */
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <dirent.h>

#include "images/auth.h"
#include "images/image.h"
#include "images/registry.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RESPONSES 32
#define MAX_RESPONSE (8u << 20)
#define MAX_REQUEST 65536
#define BIG 70000
#define EXPAND_DEPTH 3

static struct {
	pthread_mutex_t lock;
	char *text; /* this input's responses, NUL-terminated */
	const char *resp[MAX_RESPONSES];
	size_t len[MAX_RESPONSES], n, next;
} script = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int port;
static bool debug;
static char big[BIG];
static char sandbox[64], cache[96], tmp[128], creds_file[128], no_creds[128];

/* ---- responses ---------------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *s, size_t n)
{
	if (n > MAX_RESPONSE - b->len)
		n = MAX_RESPONSE - b->len;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void put_str(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void body_of(size_t k, int depth, struct buf *out);

/* Copy s[0..n) with its $ tokens replaced; in a head, lines end in CRLF. */
static void expand(const char *s, size_t n, int depth, bool head, size_t clen, struct buf *out)
{
	char num[32];

	for (size_t i = 0; i < n; i++) {
		const char *t = s + i;
		size_t left = n - i;

		if (head && *t == '\n') {
			put_str(out, "\r\n");
		} else if (*t == '$' && left >= 5 && !memcmp(t, "$PORT", 5)) {
			snprintf(num, sizeof(num), "%d", port);
			put_str(out, num);
			i += 4;
		} else if (*t == '$' && left >= 5 && !memcmp(t, "$CLEN", 5)) {
			snprintf(num, sizeof(num), "%zu", clen);
			put_str(out, num);
			i += 4;
		} else if (*t == '$' && left >= 4 && !memcmp(t, "$BIG", 4) && !head) {
			put(out, big, sizeof(big));
			i += 3;
		} else if (*t == '$' && left >= 5 && depth < EXPAND_DEPTH &&
			   (!memcmp(t, "$SHA", 4) || !memcmp(t, "$LEN", 4)) && t[4] >= '0' &&
			   t[4] <= '9') {
			struct buf ref = { 0 };
			struct nb_digest d;
			struct nb_err err;

			body_of((size_t)(t[4] - '0'), depth + 1, &ref);
			if (t[1] == 'L') {
				snprintf(num, sizeof(num), "%zu", ref.len);
				put_str(out, num);
			} else if (nb_sha256_buf(ref.p ? ref.p : "", ref.len, &d, &err) == 0) {
				put_str(out, d.hex);
			}
			free(ref.p);
			i += 4;
		} else {
			put(out, t, 1);
		}
	}
}

/* A response's head and body, split at its first empty line. */
static void split(size_t k, const char **head, size_t *head_len, const char **body,
		  size_t *body_len)
{
	const char *r = script.resp[k];
	const char *gap = memmem(r, script.len[k], "\n\n", 2);

	*head = r;
	*head_len = gap ? (size_t)(gap - r) + 1 : script.len[k];
	*body = gap ? gap + 2 : r + script.len[k];
	*body_len = script.len[k] - (size_t)(*body - r);
}

static void body_of(size_t k, int depth, struct buf *out)
{
	const char *head, *body;
	size_t head_len, body_len;

	if (k >= script.n)
		return;
	split(k, &head, &head_len, &body, &body_len);
	expand(body, body_len, depth, false, 0, out);
}

/* The next response, whole; with the lock held. */
static void next_response(struct buf *out)
{
	const char *head, *body;
	size_t head_len, body_len;
	struct buf b = { 0 };

	if (script.next >= script.n) {
		put_str(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
		return;
	}
	split(script.next, &head, &head_len, &body, &body_len);
	body_of(script.next, 0, &b);
	expand(head, head_len, 0, true, b.len, out);
	put_str(out, "\r\n");
	put(out, b.p ? b.p : "", b.len);
	free(b.p);
	script.next++;
}

/* ---- the server thread ---------------------------------------------------------- */

static bool read_request(int c)
{
	char req[MAX_REQUEST + 1];
	size_t got = 0;

	while (got < MAX_REQUEST) {
		ssize_t n = read(c, req + got, MAX_REQUEST - got);

		if (n <= 0)
			return false;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n")) {
			if (debug)
				fprintf(stderr, "fuzz_registry: %.*s\n", (int)strcspn(req, "\r"),
					req);
			return true;
		}
	}
	return false;
}

static void *serve(void *arg)
{
	int ls = (int)(intptr_t)arg;
	struct timeval tv = { .tv_sec = 2 };

	for (;;) {
		int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		struct buf out = { 0 };

		if (c < 0)
			continue;
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (read_request(c)) {
			pthread_mutex_lock(&script.lock);
			next_response(&out);
			pthread_mutex_unlock(&script.lock);
			for (size_t off = 0; off < out.len;) {
				ssize_t n = send(c, out.p + off, out.len - off, MSG_NOSIGNAL);
				if (n <= 0)
					break;
				off += (size_t)n;
			}
			shutdown(c, SHUT_WR);
		}
		free(out.p);
		close(c);
	}
	return NULL;
}

/* ---- set-up ------------------------------------------------------------------------ */

static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok;
}

/* A network namespace with only loopback, up. */
static bool isolate(void)
{
	struct ifreq ifr = { 0 };
	char map[64];
	int s;

	if (unshare(CLONE_NEWNET) < 0) {
		unsigned uid = getuid(), gid = getgid();

		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
			return false;
		snprintf(map, sizeof(map), "0 %u 1", uid);
		if (!write_file("/proc/self/uid_map", map) ||
		    !write_file("/proc/self/setgroups", "deny"))
			return false;
		snprintf(map, sizeof(map), "0 %u 1", gid);
		if (!write_file("/proc/self/gid_map", map))
			return false;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return false;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return false;
	close(s);
	return true;
}

static void remove_sandbox(void)
{
	nb_rm_rf(sandbox);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const proxies[] = { "http_proxy",  "HTTP_PROXY", "https_proxy",
					       "HTTPS_PROXY", "all_proxy",  "ALL_PROXY" };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	pthread_t t;
	char auth[256];
	int ls;

	(void)argc, (void)argv;
	debug = getenv("NB_FUZZ_DEBUG") != NULL;
	memset(big, 'A', sizeof(big));
	if (!isolate()) {
		/* tests/fuzz/run.sh reports the line as a skip. */
		fprintf(stderr, "fuzz-skip: no network namespace of its own (needs root or user "
				"namespaces)\n");
		exit(0);
	}
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);
	strcpy(sandbox, access("/dev/shm", W_OK) == 0 ? "/dev/shm/nb-fuzz-registry-XXXXXX"
						      : "/tmp/nb-fuzz-registry-XXXXXX");
	if (!mkdtemp(sandbox))
		abort();
	atexit(remove_sandbox);
	snprintf(cache, sizeof(cache), "%s/cache", sandbox);
	snprintf(tmp, sizeof(tmp), "%s/tmp", cache);
	snprintf(creds_file, sizeof(creds_file), "%s/auth.json", sandbox);
	snprintf(no_creds, sizeof(no_creds), "%s/none.json", sandbox);
	setenv("NESTBOX_CACHE_DIR", cache, 1);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 16) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0)
		abort();
	port = ntohs(a.sin_port);
	/* fuzz:pw */
	snprintf(auth, sizeof(auth), "{\"auths\":{\"127.0.0.1:%d\":{\"auth\":\"ZnV6ejpwdw==\"}}}",
		 port);
	if (!write_file(creds_file, auth) ||
	    pthread_create(&t, NULL, serve, (void *)(intptr_t)ls) != 0)
		abort();
	return 0;
}

/* ---- one input ----------------------------------------------------------------------- */

static void load_script(const uint8_t *data, size_t size)
{
	char *p;

	pthread_mutex_lock(&script.lock);
	free(script.text);
	script.text = malloc(size + 1);
	if (!script.text)
		abort();
	memcpy(script.text, data, size);
	script.text[size] = '\0';
	script.n = script.next = 0;
	p = memchr(script.text, '\n', size);
	for (p = p ? p + 1 : script.text + size; script.n < MAX_RESPONSES;) {
		size_t left = size - (size_t)(p - script.text);
		char *end = memmem(p, left, "%%\n", 3);

		script.resp[script.n] = p;
		script.len[script.n++] = end ? (size_t)(end - p) : left;
		if (!end)
			break;
		p = end + 3;
	}
	pthread_mutex_unlock(&script.lock);
}

static size_t entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

/* The pure parsers, on the first line too. */
static void parse_line(const char *line)
{
	char a[512], b[256], c[256];
	struct nb_source_name src;
	struct nb_ref ref;
	struct nb_err err;

	nb_ref_parse(line, &ref, &err);
	nb_source_parse(line, false, &src, &err);
	nb_registry_server(line, a, sizeof(a), &err);
	nb_auth_parse_bearer(line, a, sizeof(a), b, sizeof(b), c, sizeof(c));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nb_pull_opts opts = { .quiet = true };
	struct nb_err err = { 0 };
	const uint8_t *nl = memchr(data, '\n', size);
	size_t first_len = nl ? (size_t)(nl - data) : size;
	char first[1024], ref[200];
	const char *digest;
	int rc;

	snprintf(first, sizeof(first), "%.*s", (int)(first_len < 1023 ? first_len : 1023), data);
	parse_line(first);
	load_script(data, size);
	setenv("REGISTRY_AUTH_FILE", strstr(first, "creds") ? creds_file : no_creds, 1);
	if (strstr(first, "max="))
		setenv("NESTBOX_MAX_BLOB",
		       strndupa(strstr(first, "max=") + 4, strcspn(strstr(first, "max=") + 4, " ")),
		       1);
	else
		unsetenv("NESTBOX_MAX_BLOB");
	if (strstr(first, "login")) {
		struct nb_creds creds = { .user = "fuzz", .pass = "pw" };
		char key[64];

		snprintf(key, sizeof(key), "127.0.0.1:%d", port);
		rc = nb_registry_login(key, &creds, false, &err);
	} else {
		snprintf(ref, sizeof(ref), "127.0.0.1:%d/fuzz/img:latest", port);
		digest = strstr(first, "digest=");
		if (digest && digest[7] >= '0' && digest[7] <= '9') {
			struct buf b = { 0 };
			struct nb_digest d;

			pthread_mutex_lock(&script.lock);
			body_of((size_t)(digest[7] - '0'), 0, &b);
			pthread_mutex_unlock(&script.lock);
			if (nb_sha256_buf(b.p ? b.p : "", b.len, &d, &err) == 0)
				snprintf(ref, sizeof(ref), "127.0.0.1:%d/fuzz/img@sha256:%s", port,
					 d.hex);
			free(b.p);
		}
		rc = nb_image_pull(ref, &opts, NULL, &err);
	}
	if (debug)
		fprintf(stderr, "fuzz_registry: %s\n", rc == 0 ? "ok" : err.msg);
	if (entries(tmp) != 0) {
		fprintf(stderr, "fuzz_registry: the pull left %zu entries in %s\n", entries(tmp),
			tmp);
		abort();
	}
	if (nb_rm_rf(cache) < 0)
		abort();
	return 0;
}
