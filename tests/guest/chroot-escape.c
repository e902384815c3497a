/* Guest-tier probe, run inside the container: the classic chroot escape
 * (CAP_SYS_CHROOT is in Docker's default set, and nestbox's container root is
 * a chroot whenever pivot_root cannot be used, as on the initramfs), then
 * report what of nestbox-init is reachable from the real root:
 *   "escape:same-root" (".." stopped at the container's root) or
 *   "escape:other-root", then "spec:absent|present",
 *   "init-bytes:N" (N > 0: nestbox-init's binary is readable), "proc1:CMDLINE".
 * Built static with musl by tests/guest/run.sh. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	struct stat root_before, root_after;
	char buf[256];
	int fd, n;

	stat("/", &root_before);
	mkdir("/tmp/escape", 0700);
	fd = open(".", O_RDONLY | O_DIRECTORY);
	if (fd < 0 || chroot("/tmp/escape") < 0 || fchdir(fd) < 0) {
		perror("chroot-escape: setup");
		return 1;
	}
	for (int i = 0; i < 64; i++)
		if (chdir("..") < 0)
			break;
	if (chroot(".") < 0) {
		perror("chroot-escape: chroot .");
		return 1;
	}
	stat("/", &root_after);
	puts(root_after.st_ino != root_before.st_ino || root_after.st_dev != root_before.st_dev
		     ? "escape:other-root"
		     : "escape:same-root");
	printf("spec:%s\n", access("/nestbox/spec.dtb", F_OK) == 0 ? "present" : "absent");
	fd = open("/init", O_RDONLY);
	n = fd < 0 ? 0 : (int)read(fd, buf, sizeof(buf));
	printf("init-bytes:%d\n", n < 0 ? 0 : n);
	fd = open("/proc/1/cmdline", O_RDONLY);
	n = fd < 0 ? 0 : (int)read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	printf("proc1:%s\n", buf);
	return 0;
}
