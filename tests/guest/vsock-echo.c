/* Guest-side vsock test helper (static musl; busybox has no vsock tool).
 *   vsock-echo listen PORT [COUNT]   accept COUNT (default 1) connections one
 *                                    after the other, echo each until EOF
 *   vsock-echo connect PORT MSG      connect to the host (CID 2) port PORT,
 *                                    send MSG, half-close, print the reply
 *   vsock-echo sink PORT             accept one connection, count bytes to EOF,
 *                                    print the count
 * Exit status 0 on success, 1 with a message on stderr otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

static int die(const char *what)
{
	fprintf(stderr, "vsock-echo: %s: %s\n", what, strerror(errno));
	return 1;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int listen_on(unsigned port)
{
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK,
				    .svm_cid = VMADDR_CID_ANY,
				    .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 4) < 0)
		return -1;
	return fd;
}

static int echo(int lfd, unsigned count, int sink)
{
	char buf[65536];

	for (unsigned i = 0; i < count; i++) {
		int c = accept(lfd, NULL, NULL);
		unsigned long long total = 0;
		ssize_t n;

		if (c < 0)
			return die("accept");
		while ((n = read(c, buf, sizeof(buf))) > 0) {
			total += (unsigned long long)n;
			if (!sink && write_all(c, buf, (size_t)n) < 0)
				return die("write");
		}
		if (n < 0)
			return die("read");
		if (sink)
			printf("%llu\n", total);
		close(c);
	}
	return 0;
}

static int connect_host(unsigned port, const char *msg)
{
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK,
				    .svm_cid = VMADDR_CID_HOST,
				    .svm_port = port };
	char buf[4096];
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	ssize_t n;

	if (fd < 0)
		return die("socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return die("connect");
	if (write_all(fd, msg, strlen(msg)) < 0 || shutdown(fd, SHUT_WR) < 0)
		return die("write");
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	return n < 0 ? die("read") : 0;
}

int main(int argc, char **argv)
{
	unsigned port = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 0;
	int lfd;

	if (argc >= 3 && strcmp(argv[1], "listen") == 0) {
		if ((lfd = listen_on(port)) < 0)
			return die("listen");
		printf("listening\n");
		fflush(stdout);
		return echo(lfd, argc > 3 ? (unsigned)atoi(argv[3]) : 1, 0);
	}
	if (argc >= 3 && strcmp(argv[1], "sink") == 0) {
		if ((lfd = listen_on(port)) < 0)
			return die("listen");
		return echo(lfd, 1, 1);
	}
	if (argc == 4 && strcmp(argv[1], "connect") == 0)
		return connect_host(port, argv[3]);
	fprintf(stderr, "usage: vsock-echo listen PORT [COUNT] | connect PORT MSG | sink PORT\n");
	return 1;
}
