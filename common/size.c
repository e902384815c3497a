#include "common/size.h"

#include <errno.h>
#include <stdlib.h>

int nb_parse_size(const char *text, uint64_t *bytes, struct nb_err *err)
{
	char *end;
	unsigned shift = 0;

	errno = 0;
	unsigned long long value = strtoull(text, &end, 10);
	if (end == text || errno || text[0] == '-')
		return nb_err_set(err, 0, "invalid size '%s': use a number with b, k, m or g", text);
	switch (*end) {
	case 'g': case 'G': shift = 30; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'b': case 'B': end++; break;
	default: break;
	}
	if (*end != '\0' || (shift && value > (UINT64_MAX >> shift)))
		return nb_err_set(err, 0, "invalid size '%s': use a number with b, k, m or g", text);
	*bytes = (uint64_t)value << shift;
	return 0;
}
