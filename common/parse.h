/* Numbers as users write them: strict decimal integers with a range, and
 * sizes in Docker's units ("512m", "2G", "1048576"). One parser for the
 * command line, the environment and the host's own files, host and guest.
 * Strict: ASCII digits only, no sign (neither '-' nor '+'), no white
 * space, no empty string, nothing after the number (but a size's one
 * suffix); overflow is an error. */
#ifndef NESTBOX_COMMON_PARSE_H
#define NESTBOX_COMMON_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nestbox/err.h"

/* The leading ASCII digits of text into *value, *end just after them (a
 * unit, say, for the caller to read). false: no digit first, or more than
 * UINT64_MAX. The building block of the parsers below. */
bool nb_parse_digits(const char *text, uint64_t *value, const char **end);

/* text as a decimal in [min, max]: true and *out set, or false and *out
 * untouched. For callers with messages of their own. */
bool nb_parse_decimal(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/* The same with the error "invalid WHAT 'TEXT': use a whole number from
 * MIN to MAX" (what: e.g. "--timeout"). */
int nb_parse_u64(const char *what, const char *text, uint64_t min, uint64_t max, uint64_t *out,
		 struct nb_err *err);
/* For an unsigned int (max is at most UINT_MAX). */
int nb_parse_uint(const char *what, const char *text, unsigned min, unsigned max, unsigned *out,
		  struct nb_err *err);

/* A decimal number with an optional b, k, m or g (either case; no suffix
 * = bytes) into bytes. Error: "invalid size 'TEXT': use a number with b,
 * k, m or g". */
int nb_parse_size(const char *text, uint64_t *bytes, struct nb_err *err);

/* Whether len bytes are well-formed UTF-8 (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF). */
bool nb_utf8_valid(const void *data, size_t len);

/* s made well-formed UTF-8 in place: each byte that starts no
 * well-formed sequence becomes '?' (text for a strict JSON reader, such
 * as a caller's bytes echoed in an error, or a name cut in the middle of
 * a character). Returns s. */
char *nb_utf8_scrub(char *s);

#endif
