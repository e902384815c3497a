/* Sizes as users write them, Docker's units: "512m", "2G", "1048576".
 * Shared by the command line and the environment variables that take one. */
#ifndef NESTBOX_COMMON_SIZE_H
#define NESTBOX_COMMON_SIZE_H

#include <stdint.h>

#include "nestbox/err.h"

/* Parse a decimal number with an optional b, k, m or g (either case; no
 * suffix = bytes) into bytes; overflow and anything else is an error. */
int nb_parse_size(const char *text, uint64_t *bytes, struct nb_err *err);

#endif
