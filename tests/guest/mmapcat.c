/* Guest-side test helper (static musl; busybox reads files with read(2)):
 *   mmapcat FILE   map FILE shared and read-only, write its bytes to stdout
 * so a test sees what a page fault on the file returns.
 * Exit status 0 on success, 1 with a message on stderr otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int die(const char *what)
{
	fprintf(stderr, "mmapcat: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	struct stat st;
	const char *p;
	size_t done = 0;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: mmapcat FILE\n");
		return 1;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0)
		return die(argv[1]);
	if (st.st_size == 0)
		return 0;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return die("mmap");
	while (done < (size_t)st.st_size) {
		ssize_t n = write(STDOUT_FILENO, p + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return die("write");
		done += (size_t)n;
	}
	return 0;
}
