/* libFuzzer: the tar-to-image path. Each input is a layer blob (tar, maybe
 * gzip/zstd) extracted with nb_layer_extract into a fresh directory inside
 * a private sandbox; anything appearing in the sandbox outside that
 * directory is an escape and aborts. Needs root (as nestbox does); without
 * it the target returns at once.
 *
 * Covers: images/layers.c */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/cache.h"
#include "images/layers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char sandbox[64], root[96];

static void remove_sandbox(void)
{
	nb_rm_rf(sandbox);
}

static size_t entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct nb_layer_limits lim = {
		.max_entries = 256,
		.max_bytes = 8u << 20,
		.max_path = 1024,
	};
	struct nb_err err = { 0 };
	struct nb_digest d;
	uint64_t got;
	int fd;

	if (geteuid() != 0)
		return 0;
	if (!sandbox[0]) {
		strcpy(sandbox, "/tmp/nb-fuzz-layer-XXXXXX");
		if (!mkdtemp(sandbox))
			abort();
		snprintf(root, sizeof(root), "%s/root", sandbox);
		atexit(remove_sandbox);
	}
	fd = memfd_create("layer", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	if (mkdir(root, 0755) < 0)
		abort();
	nb_layer_extract(fd, 0, root, &lim, &d, &got, &err);
	close(fd);
	/* The sandbox holds ".", ".." and root/ only. */
	if (entries(sandbox) != 3) {
		fprintf(stderr, "escape: something was written beside the layer root in %s\n",
			sandbox);
		abort();
	}
	if (nb_rm_rf(root) < 0)
		abort();
	return 0;
}
