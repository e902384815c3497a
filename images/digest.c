#include "images/digest.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define HASH_CHUNK (256u << 10)

bool nb_digest_is_hex(const char *text, size_t len)
{
	if (len != NB_DIGEST_HEX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

int nb_digest_parse(const char *text, struct nb_digest *out, struct nb_err *err)
{
	if (!text)
		return nb_err_set(err, 0, "missing digest");
	if (strncmp(text, "sha256:", 7) != 0)
		return nb_err_set(err, 0,
				  "digest '%.80s' is not sha256:<64 hex> (only sha256 is "
				  "supported)",
				  text);
	if (!nb_digest_is_hex(text + 7, strlen(text + 7)))
		return nb_err_set(err, 0,
				  "digest '%.80s' is malformed: want sha256: and 64 "
				  "lowercase hex digits",
				  text);
	memcpy(out->hex, text + 7, NB_DIGEST_HEX_LEN);
	out->hex[NB_DIGEST_HEX_LEN] = '\0';
	return 0;
}

void nb_digest_format(const struct nb_digest *d, char *buf)
{
	memcpy(buf, "sha256:", 7);
	memcpy(buf + 7, d->hex, NB_DIGEST_HEX_LEN + 1);
}

bool nb_digest_equal(const struct nb_digest *a, const struct nb_digest *b)
{
	return memcmp(a->hex, b->hex, NB_DIGEST_HEX_LEN) == 0;
}

int nb_sha256_init(struct nb_sha256 *h, struct nb_err *err)
{
	(void)err;
	sha256_init(&h->ctx);
	h->bytes = 0;
	return 0;
}

int nb_sha256_update(struct nb_sha256 *h, const void *data, size_t len, struct nb_err *err)
{
	(void)err;
	sha256_update(&h->ctx, len, data);
	h->bytes += len;
	return 0;
}

int nb_sha256_final(struct nb_sha256 *h, struct nb_digest *out, struct nb_err *err)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t md[SHA256_DIGEST_SIZE];

	(void)err;
	sha256_digest(&h->ctx, sizeof(md), md);
	for (unsigned i = 0; i < SHA256_DIGEST_SIZE; i++) {
		out->hex[2 * i] = hex[md[i] >> 4];
		out->hex[2 * i + 1] = hex[md[i] & 15];
	}
	out->hex[NB_DIGEST_HEX_LEN] = '\0';
	return 0;
}

void nb_sha256_free(struct nb_sha256 *h)
{
	(void)h; /* nettle's context holds no resources */
}

int nb_sha256_buf(const void *data, size_t len, struct nb_digest *out, struct nb_err *err)
{
	struct nb_sha256 h;

	if (nb_sha256_init(&h, err) < 0)
		return -1;
	if (nb_sha256_update(&h, data, len, err) < 0) {
		nb_sha256_free(&h);
		return -1;
	}
	return nb_sha256_final(&h, out, err);
}

int nb_sha256_fd(int fd, struct nb_digest *out, uint64_t *size, struct nb_err *err)
{
	static unsigned char buf[HASH_CHUNK];
	struct nb_sha256 h;
	ssize_t n;

	if (nb_sha256_init(&h, err) < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			nb_sha256_free(&h);
			return nb_err_sys(err, "read while hashing");
		}
		nb_sha256_update(&h, buf, (size_t)n, err);
	}
	if (size)
		*size = h.bytes;
	return nb_sha256_final(&h, out, err);
}

int nb_digest_verify(const char *what, const struct nb_digest *want, int64_t want_size,
		     const struct nb_digest *got, uint64_t got_size, struct nb_err *err)
{
	if (want_size >= 0 && (uint64_t)want_size != got_size)
		return nb_err_set(err, 0,
				  "%s sha256:%.12s: size is %" PRIu64 " bytes but its "
				  "descriptor says %" PRId64 " (truncated or corrupt blob)",
				  what, want->hex, got_size, want_size);
	if (!nb_digest_equal(want, got))
		return nb_err_set(err, 0,
				  "%s digest mismatch: expected sha256:%s, content is "
				  "sha256:%s (corrupt or tampered blob)",
				  what, want->hex, got->hex);
	return 0;
}

int nb_digest_check(const char *what, const struct nb_digest *want, int64_t want_size,
		    const void *data, size_t len, struct nb_err *err)
{
	struct nb_digest got;

	if (nb_sha256_buf(data, len, &got, err) < 0)
		return -1;
	return nb_digest_verify(what, want, want_size, &got, len, err);
}
