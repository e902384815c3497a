/* Guest-side block benchmark helper (static musl; busybox has no fio).
 *   blkread rand FILE COUNT   COUNT reads of 4 KiB at random 4 KiB-aligned
 *                             offsets of FILE with O_DIRECT (no page cache,
 *                             no readahead: one virtio request each); prints
 *                             "rand OPS SECS IOPS"
 * The offsets come from a fixed seed, so every VMM sees the same pattern.
 * Exit status 0 on success, 1 with a message on stderr otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096u

static int die(const char *what)
{
	fprintf(stderr, "blkread: %s: %s\n", what, strerror(errno));
	return 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int main(int argc, char **argv)
{
	uint64_t seed = 0x6e657374626f78ull, blocks;
	struct stat st;
	void *buf;
	long count;
	double t0, secs;
	int fd;

	if (argc != 4 || strcmp(argv[1], "rand") != 0 || (count = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: blkread rand FILE COUNT\n");
		return 1;
	}
	fd = open(argv[2], O_RDONLY | O_DIRECT);
	if (fd < 0)
		return die(argv[2]);
	if (fstat(fd, &st) < 0 || (blocks = (uint64_t)st.st_size / BLOCK) == 0)
		return die("fstat (or a file smaller than 4 KiB)");
	if (posix_memalign(&buf, BLOCK, BLOCK) != 0)
		return die("posix_memalign");
	t0 = now();
	for (long i = 0; i < count; i++) {
		off_t off = (off_t)(xorshift(&seed) % blocks * BLOCK);

		if (pread(fd, buf, BLOCK, off) != (ssize_t)BLOCK)
			return die("pread");
	}
	secs = now() - t0;
	printf("rand %ld %.3f %.0f\n", count, secs, secs > 0 ? count / secs : 0);
	return 0;
}
