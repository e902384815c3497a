/* Image references and transports: see images/reference.h. */
#include "images/reference.h"

#include <stdio.h>
#include <string.h>

#include "images/digest.h"

#define DOCKER_DOMAIN "docker.io"
#define DOCKER_LEGACY_DOMAIN "index.docker.io"
#define DOCKER_ENDPOINT "registry-1.docker.io"
#define OFFICIAL_PREFIX "library/"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c)
{
	return is_alnum(c) || c == '_';
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*, over
 * s[0..n). */
static bool valid_component(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t run = 0;

		while (i < n && is_lower_alnum(s[i]))
			i++, run++;
		if (run == 0)
			return false; /* empty, or a separator at the start or twice */
		if (i == n)
			return true;
		if (s[i] == '.' || (s[i] == '_' && (i + 1 >= n || s[i + 1] != '_')))
			i++;
		else if (s[i] == '_')
			i += 2;
		else if (s[i] == '-')
			while (i < n && s[i] == '-')
				i++;
		else
			return false;
		if (i == n)
			return false; /* a separator at the end */
	}
	return false;
}

static bool valid_path(const char *s)
{
	for (;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);

		if (!valid_component(s, n))
			return false;
		if (!slash)
			return true;
		s = slash + 1;
	}
}

/* domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool valid_domain_name(const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (i == start || s[start] == '-' || s[i - 1] == '-')
			return false;
		for (size_t j = start; j < i; j++)
			if (!is_alnum(s[j]) && s[j] != '-')
				return false;
		start = i + 1;
	}
	return true;
}

bool nb_ref_valid_domain(const char *s)
{
	size_t n = strlen(s), host_len = n;
	const char *port = NULL;

	if (n == 0 || n >= NB_REF_HOST_MAX)
		return false;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close == s + 1)
			return false;
		for (const char *p = s + 1; p < close; p++)
			if (!is_hex(*p) && *p != ':')
				return false;
		host_len = (size_t)(close - s) + 1;
		if (s[host_len] && s[host_len] != ':')
			return false;
		port = s[host_len] ? s + host_len + 1 : NULL;
	} else {
		const char *colon = strchr(s, ':');

		if (colon) {
			host_len = (size_t)(colon - s);
			port = colon + 1;
		}
		if (!valid_domain_name(s, host_len))
			return false;
	}
	if (port) {
		/* The grammar takes any digits; a TCP port is at most 65535. */
		size_t digits = strspn(port, "0123456789");
		unsigned long v = 0;

		if (digits == 0 || digits != strlen(port) || digits > 5)
			return false;
		for (size_t i = 0; i < digits; i++)
			v = v * 10 + (unsigned long)(port[i] - '0');
		if (v > 65535)
			return false;
	}
	return true;
}

bool nb_ref_valid_tag(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NB_REF_TAG_MAX - 1 || !is_word(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_word(s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

bool nb_ref_is_loopback(const char *host)
{
	return (strncmp(host, "localhost", 9) == 0 && (host[9] == '\0' || host[9] == ':')) ||
	       strncmp(host, "127.", 4) == 0 || strncmp(host, "[::1]", 5) == 0;
}

static bool is_identifier(const char *s)
{
	if (strlen(s) != NB_DIGEST_HEX_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

#define REF_FORM "[HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST]"

/* Docker's split of the registry off the front: the first component is a
 * registry only if it has '.' or ':', is localhost, or is not lowercase. */
static void split_domain(const char *text, const char **rest, char *domain)
{
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : 0;
	bool upper = false;

	for (size_t i = 0; i < n; i++)
		upper |= text[i] >= 'A' && text[i] <= 'Z';
	if (!slash || (!memchr(text, '.', n) && !memchr(text, ':', n) &&
		       !(n == 9 && strncmp(text, "localhost", 9) == 0) && !upper)) {
		strcpy(domain, DOCKER_DOMAIN);
		*rest = text;
		return;
	}
	memcpy(domain, text, n);
	domain[n] = '\0';
	if (strcmp(domain, DOCKER_LEGACY_DOMAIN) == 0)
		strcpy(domain, DOCKER_DOMAIN);
	*rest = slash + 1;
}

/* rest = PATH[:TAG][@DIGEST] after the domain. */
static int parse_rest(const char *text, const char *rest, struct nb_ref *out, struct nb_err *err)
{
	char path[NB_REF_TEXT_MAX];
	const char *at = strchr(rest, '@'), *colon;
	size_t n = at ? (size_t)(at - rest) : strlen(rest);

	memcpy(path, rest, n);
	path[n] = '\0';
	if (at) {
		struct nb_digest d;

		if (strchr(at + 1, '@') || nb_digest_parse(at + 1, &d, err) < 0)
			return nb_err_set(err, 0,
					  "digest in '%.200s' is not valid (want @sha256: and 64 "
					  "lowercase hex digits)",
					  text);
		snprintf(out->digest, sizeof(out->digest), "%s", at + 1);
	}
	colon = strrchr(path, ':');
	if (colon) {
		if (!nb_ref_valid_tag(colon + 1))
			return nb_err_set(err, 0,
					  "tag '%.130s' in '%.200s' is not valid (1 to 128 of "
					  "A-Z a-z 0-9 _ . -, not starting with . or -)",
					  colon + 1, text);
		strcpy(out->tag, colon + 1);
		path[colon - path] = '\0';
	} else if (!at) {
		strcpy(out->tag, "latest");
	}
	for (const char *p = path; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			return nb_err_set(err, 0,
					  "repository name '%.200s' must be lowercase (in "
					  "'%.200s')",
					  path, text);
	if (!valid_path(path))
		return nb_err_set(err, 0,
				  "'%.200s' is not a valid image reference: the name's "
				  "components are lowercase letters and digits joined by . _ __ "
				  "or -, separated by / (" REF_FORM ")",
				  text);
	if (strcmp(out->domain, DOCKER_DOMAIN) == 0 && !strchr(path, '/')) {
		if (strlen(path) + strlen(OFFICIAL_PREFIX) >= sizeof(out->repo))
			return nb_err_set(err, 0, "repository name in '%.200s' is too long", text);
		memcpy(out->repo, OFFICIAL_PREFIX, strlen(OFFICIAL_PREFIX));
		strcpy(out->repo + strlen(OFFICIAL_PREFIX), path);
	} else {
		if (strlen(path) >= sizeof(out->repo))
			return nb_err_set(err, 0, "repository name in '%.200s' is too long", text);
		strcpy(out->repo, path);
	}
	if (strlen(out->domain) + 1 + strlen(out->repo) > NB_REF_NAME_MAX)
		return nb_err_set(err, 0,
				  "repository name in '%.200s' is longer than %d bytes with its "
				  "registry",
				  text, NB_REF_NAME_MAX);
	return 0;
}

int nb_ref_parse(const char *text, struct nb_ref *out, struct nb_err *err)
{
	const char *rest;

	*out = (struct nb_ref){ 0 };
	if (!*text)
		return nb_err_set(err, 0, "empty image reference (want " REF_FORM ")");
	if (strlen(text) >= NB_REF_TEXT_MAX)
		return nb_err_set(err, 0, "image reference is too long (%zu bytes)", strlen(text));
	if (is_identifier(text))
		return nb_err_set(err, 0,
				  "'%.64s' is an image id, not a name: a repository name cannot "
				  "be 64 hex digits",
				  text);
	{
		const char *slash = strchr(text, '/');
		size_t n = slash ? (size_t)(slash - text) : 0;

		if (n >= sizeof(out->domain))
			return nb_err_set(err, 0, "registry in '%.200s' is too long", text);
	}
	split_domain(text, &rest, out->domain);
	if (!nb_ref_valid_domain(out->domain))
		return nb_err_set(err, 0,
				  "registry '%.200s' is not valid (want HOST[:PORT], HOST a "
				  "name of letters, digits, '-' and '.', or [IPv6])",
				  out->domain);
	if (parse_rest(text, rest, out, err) < 0)
		return -1;
	snprintf(out->host, sizeof(out->host), "%s",
		 strcmp(out->domain, DOCKER_DOMAIN) == 0 ? DOCKER_ENDPOINT : out->domain);
	out->loopback = nb_ref_is_loopback(out->host);
	return 0;
}

int nb_ref_format(const struct nb_ref *ref, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s%s%s%s%s", ref->domain, ref->repo, ref->tag[0] ? ":" : "",
			 ref->tag, ref->digest[0] ? "@" : "", ref->digest);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* ---- transports ------------------------------------------------------------ */

static const struct {
	const char *prefix;
	enum nb_source_kind kind;
} transports[] = {
	{ "oci:", NB_SOURCE_OCI },
	{ "oci-archive:", NB_SOURCE_OCI_ARCHIVE },
	{ "docker-archive:", NB_SOURCE_DOCKER_ARCHIVE },
	{ "docker://", NB_SOURCE_REGISTRY },
};

int nb_source_parse(const char *text, bool exists, struct nb_source_name *out, struct nb_err *err)
{
	const char *body = text, *colon;
	size_t n;

	*out = (struct nb_source_name){ .kind = NB_SOURCE_REGISTRY };
	if (strlen(text) >= NB_REF_TEXT_MAX)
		return nb_err_set(err, 0, "image name is too long (%zu bytes)", strlen(text));
	for (size_t i = 0; i < sizeof(transports) / sizeof(transports[0]); i++)
		if (strncmp(text, transports[i].prefix, strlen(transports[i].prefix)) == 0) {
			out->kind = transports[i].kind;
			body = text + strlen(transports[i].prefix);
			break;
		}
	if (body == text) {
		/* No transport: a path on disk or that looks like one, else a
		 * registry reference. */
		out->kind = exists || text[0] == '/' || text[0] == '.' ? NB_SOURCE_PATH
								       : NB_SOURCE_REGISTRY;
		strcpy(out->path, text);
		return 0;
	}
	if (out->kind == NB_SOURCE_REGISTRY) {
		struct nb_ref ref;

		strcpy(out->path, body);
		return nb_ref_parse(body, &ref, err);
	}
	/* PATH ends at the first ':', as skopeo splits it. */
	colon = strchr(body, ':');
	n = colon ? (size_t)(colon - body) : strlen(body);
	memcpy(out->path, body, n);
	out->path[n] = '\0';
	if (colon)
		strcpy(out->tag, colon + 1);
	if (!out->path[0])
		return nb_err_set(err, 0, "'%.200s': missing PATH after the transport (%.*s)", text,
				  (int)(body - text), text);
	if (colon && !out->tag[0])
		return nb_err_set(err, 0, "'%.200s': empty %s after PATH", text,
				  out->kind == NB_SOURCE_DOCKER_ARCHIVE ? "REF" : "TAG");
	if (out->kind == NB_SOURCE_DOCKER_ARCHIVE && colon) {
		struct nb_ref ref;

		if (nb_ref_parse(out->tag, &ref, err) < 0)
			return nb_err_wrap(err, "docker-archive:PATH:REF");
		if (ref.digest[0])
			return nb_err_set(err, 0,
					  "docker-archive:PATH:REF: REF '%.200s' names a digest; "
					  "an archive's images are named NAME:TAG",
					  out->tag);
		return 0;
	}
	/* An OCI layout's ref.name is a tag, or any annotation text; take the
	 * tag grammar for it, as skopeo's oci: transport does. */
	if (colon && !nb_ref_valid_tag(out->tag))
		return nb_err_set(err, 0,
				  "'%.200s': TAG '%.130s' is not valid (1 to 128 of A-Z a-z 0-9 "
				  "_ . -, not starting with . or -)",
				  text, out->tag);
	return 0;
}
