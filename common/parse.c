#include "common/parse.h"

#include <inttypes.h>
#include <string.h>

bool nb_parse_digits(const char *text, uint64_t *value, const char **end)
{
	uint64_t v = 0;
	const char *p = text;

	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*value = v;
	*end = p;
	return p != text;
}

bool nb_parse_decimal(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *end;
	uint64_t v = 0;

	if (!nb_parse_digits(text, &v, &end) || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int nb_parse_u64(const char *what, const char *text, uint64_t min, uint64_t max, uint64_t *out,
		 struct nb_err *err)
{
	if (!nb_parse_decimal(text, min, max, out))
		return nb_err_set(err, 0,
				  "invalid %s '%s': use a whole number from %" PRIu64
				  " to %" PRIu64,
				  what, text, min, max);
	return 0;
}

int nb_parse_uint(const char *what, const char *text, unsigned min, unsigned max, unsigned *out,
		  struct nb_err *err)
{
	uint64_t v = 0;

	if (nb_parse_u64(what, text, min, max, &v, err) < 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int nb_parse_size(const char *text, uint64_t *bytes, struct nb_err *err)
{
	const char *end;
	unsigned shift = 0;
	uint64_t v = 0;

	if (!nb_parse_digits(text, &v, &end))
		goto bad;
	switch (*end) {
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'b':
	case 'B':
		end++;
		break;
	default:
		break;
	}
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		goto bad;
	*bytes = v << shift;
	return 0;
bad:
	return nb_err_set(err, 0, "invalid size '%s': use a number with b, k, m or g", text);
}

/* The length of the well-formed UTF-8 sequence at p (1 to 4 of the left
 * bytes), 0 if there is none. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
	unsigned char c = p[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 1, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3, cp = c & 0x07;
	else
		return 0;
	if (left - 1 < n)
		return 0;
	for (size_t k = 1; k <= n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[k] & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n + 1;
}

bool nb_utf8_valid(const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0, n; i < len; i += n)
		if ((n = utf8_seq(p + i, len - i)) == 0)
			return false;
	return true;
}

char *nb_utf8_scrub(char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0, n; i < len; i += n)
		if ((n = utf8_seq((unsigned char *)s + i, len - i)) == 0) {
			s[i] = '?';
			n = 1;
		}
	return s;
}
