/* libFuzzer: what a template's preload reads from an image's program
 * (container/preload.h): the fuzzer's bytes are the file (a memfd).
 * Whatever they are, the interpreter is an absolute, NUL-terminated path
 * that fits the buffer, or none; each library needed is a non-empty,
 * NUL-terminated name that fits; no read goes past the file.
 *
 * Covers: container/preload.c (nb_preload_interp, nb_preload_needed) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Guest code: a single file outside the fuzz tier's library. */
#include "container/preload.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char names[NEEDED_MAX][NB_PRELOAD_NAME_MAX];
	char buf[64];
	size_t room;
	unsigned n;

	if (fd < 0 && (fd = memfd_create("fuzz-preload", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	/* the buffer's size from the input too: every bound gets tried */
	room = size ? 1 + data[size - 1] % sizeof(buf) : sizeof(buf);
	memset(buf, 'x', sizeof(buf));
	if (nb_preload_interp(fd, buf, room)) {
		size_t len = strnlen(buf, room);

		if (len == room || len == 0 || buf[0] != '/')
			abort();
	}
	memset(names, 'x', sizeof(names));
	n = nb_preload_needed(fd, names, NEEDED_MAX);
	if (n > NEEDED_MAX)
		abort();
	for (unsigned i = 0; i < n; i++)
		if (!names[i][0] || strnlen(names[i], NB_PRELOAD_NAME_MAX) == NB_PRELOAD_NAME_MAX)
			abort();
	return 0;
}
