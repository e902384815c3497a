/* Content digests: "sha256:<64 lowercase hex>" parsing with strict
 * validation, and streaming sha256 with nettle (no start-up
 * cost: OpenSSL 3's EVP fetch took a third of a run's host CPU). Only
 * sha256 is accepted: it is what OCI and Docker registries use, and a
 * digest we cannot verify is a digest we must refuse. */
#ifndef NESTBOX_IMAGES_DIGEST_H
#define NESTBOX_IMAGES_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <nettle/sha2.h>
#include <stdint.h>

#include "nestbox/err.h"

#define NB_DIGEST_HEX_LEN 64
#define NB_DIGEST_STR_LEN (7 + NB_DIGEST_HEX_LEN) /* "sha256:" + hex */

struct nb_digest {
	char hex[NB_DIGEST_HEX_LEN + 1]; /* lowercase, NUL-terminated */
};

/* Parse "sha256:<64 lowercase hex>" exactly (no other algorithm, no
 * uppercase, no trailing bytes). */
int nb_digest_parse(const char *text, struct nb_digest *out, struct nb_err *err);
/* Accept a bare 64-hex string (docker-archive names files by it). */
bool nb_digest_is_hex(const char *text, size_t len);
/* "sha256:<hex>" into buf (NB_DIGEST_STR_LEN + 1 bytes). */
void nb_digest_format(const struct nb_digest *d, char *buf);
bool nb_digest_equal(const struct nb_digest *a, const struct nb_digest *b);

/* Streaming sha256. */
struct nb_sha256 {
	struct sha256_ctx ctx;
	uint64_t bytes;
};

int nb_sha256_init(struct nb_sha256 *h, struct nb_err *err);
int nb_sha256_update(struct nb_sha256 *h, const void *data, size_t len, struct nb_err *err);
/* Finish into out and free the context. */
int nb_sha256_final(struct nb_sha256 *h, struct nb_digest *out, struct nb_err *err);
void nb_sha256_free(struct nb_sha256 *h);

int nb_sha256_buf(const void *data, size_t len, struct nb_digest *out, struct nb_err *err);
/* Hash the whole file at fd from its current offset; *size gets its length. */
int nb_sha256_fd(int fd, struct nb_digest *out, uint64_t *size, struct nb_err *err);

/* Check that data of actual size/digest matches what a descriptor claimed;
 * the error names both. what is e.g. "layer" or "config". */
int nb_digest_verify(const char *what, const struct nb_digest *want, int64_t want_size,
		     const struct nb_digest *got, uint64_t got_size, struct nb_err *err);

/* Blob verification: hash len bytes of data and check them against want
 * (and want_size unless negative), with nb_digest_verify's errors. */
int nb_digest_check(const char *what, const struct nb_digest *want, int64_t want_size,
		    const void *data, size_t len, struct nb_err *err);

#endif
