/* libFuzzer: `nestbox pull ARCHIVE` on an OCI archive or docker-archive
 * the fuzzer writes: the archive is staged (images/archive.c), read as an
 * OCI layout (images/image.c, oci.c) and recorded in a private cache; the
 * layer conversion is replaced by a digest check (layer_check.c). After
 * every input the staging area must be gone and nothing may appear beside
 * the archive and the cache. The sandbox is on /dev/shm when there is one
 * (the cache fsyncs what it stores). NB_FUZZ_DEBUG=1 prints each input's
 * error.
 *
 * Tar-aware: a mutation that changes a header breaks its checksum and
 * libarchive stops there, so after the default mutations the custom
 * mutator walks the headers and writes their checksums again.
 *
 * Covers: images/archive.c images/image.c images/oci.c */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "images/image.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned int seed);

static char sandbox[64], cache[96], input[96], tmp[128];
static bool debug;

static void remove_sandbox(void)
{
	nb_rm_rf(sandbox);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	strcpy(sandbox, access("/dev/shm", W_OK) == 0 ? "/dev/shm/nb-fuzz-archive-XXXXXX"
						      : "/tmp/nb-fuzz-archive-XXXXXX");
	debug = getenv("NB_FUZZ_DEBUG") != NULL;
	if (!mkdtemp(sandbox))
		abort();
	snprintf(cache, sizeof(cache), "%s/cache", sandbox);
	snprintf(input, sizeof(input), "%s/in.tar", sandbox);
	snprintf(tmp, sizeof(tmp), "%s/tmp", cache);
	setenv("NESTBOX_CACHE_DIR", cache, 1);
	atexit(remove_sandbox);
	return 0;
}

/* ---- the tar-aware mutator ------------------------------------------------ */

#define BLOCK 512

/* A header's size field: octal, or base-256 when its top bit is set. */
static uint64_t tar_size(const uint8_t *h)
{
	uint64_t n = 0;

	if (h[124] & 0x80) {
		for (int i = 4; i < 12; i++)
			n = n << 8 | h[124 + i];
		return n;
	}
	for (int i = 0; i < 12 && (h[124 + i] == ' ' || h[124 + i] == '0'); i++)
		;
	for (int i = 0; i < 12 && h[124 + i] >= '0' && h[124 + i] <= '7'; i++)
		n = n * 8 + (uint64_t)(h[124 + i] - '0');
	return n;
}

static bool zero_block(const uint8_t *b)
{
	for (int i = 0; i < BLOCK; i++)
		if (b[i])
			return false;
	return true;
}

static void fix_checksums(uint8_t *d, size_t size)
{
	size_t off = 0;

	while (off + BLOCK <= size) {
		uint8_t *h = d + off;
		unsigned sum = 0;
		char field[8];
		uint64_t n;

		if (zero_block(h)) {
			off += BLOCK;
			continue;
		}
		memset(h + 148, ' ', 8);
		for (int i = 0; i < BLOCK; i++)
			sum += h[i];
		snprintf(field, sizeof(field), "%06o", sum & 0777777);
		memcpy(h + 148, field, 7); /* six digits, NUL, the space stays */
		n = tar_size(h);
		off += BLOCK;
		/* Old GNU sparse: extension blocks (isextended) before the data. */
		for (bool ext = h[156] == 'S' && h[482]; ext && off + BLOCK <= size; off += BLOCK)
			ext = d[off + 504];
		if (n > size - off)
			break;
		off += (n + BLOCK - 1) / BLOCK * BLOCK;
	}
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned int seed)
{
	(void)seed;
	size = LLVMFuzzerMutate(data, size, max);
	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
		return size; /* gzip: nothing to fix */
	fix_checksums(data, size);
	return size;
}

/* ---- one import ------------------------------------------------------------- */

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nb_pull_opts opts = { .quiet = true };
	struct nb_err err = { 0 };
	int fd = open(input, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) < 0)
		abort();
	if (nb_image_pull(input, &opts, NULL, &err) < 0 && debug)
		fprintf(stderr, "fuzz_archive: %s\n", err.msg);
	if (entries(tmp) != 0) {
		fprintf(stderr, "fuzz_archive: the import left %zu entries in %s\n", entries(tmp),
			tmp);
		abort();
	}
	/* in.tar and cache/, nothing else. */
	if (entries(sandbox) != 2) {
		fprintf(stderr, "fuzz_archive: something was written beside the cache in %s\n",
			sandbox);
		abort();
	}
	if (nb_rm_rf(cache) < 0)
		abort();
	return 0;
}
