/* The oracles every libFuzzer target shares, the device ones (fuzz.h) and
 * the parsers of hostile text alike: a failed check that crashes so
 * libFuzzer keeps the input, and a descriptor count to catch a parse that
 * leaves one open. Needs nothing but libc. */
#ifndef NESTBOX_TESTS_FUZZ_CHECK_H
#define NESTBOX_TESTS_FUZZ_CHECK_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed oracle: say which and crash, so libFuzzer keeps the input. */
#define FZ_CHECK(cond, ...)                                                                      \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                            \
			fputc('\n', stderr);                                                     \
			abort();                                                                 \
		}                                                                                \
	} while (0)

/* The lowest free descriptor (the one the next open() gets). Taken before
 * and after a call, it differs if the call left a descriptor open. */
static inline int fz_lowest_fd(void)
{
	int fd = open("/", O_PATH | O_CLOEXEC);

	FZ_CHECK(fd >= 0, "open /: %s", strerror(errno));
	close(fd);
	return fd;
}

/* The input in a heap buffer of exactly its size (as the file or socket
 * buffer the parser is given), so a read past its end shows under ASan. */
static inline char *fz_copy(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);

	FZ_CHECK(buf, "out of memory");
	memcpy(buf, data, size);
	return buf;
}

#endif
