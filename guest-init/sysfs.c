#include "guest-init/sysfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nestbox/cleanup.h"

int nb_sysfs_read_line(const char *path, char *buf, size_t size)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int nb_sysfs_find_dev(const char *dir, const char *prefix, const char *attr, const char *value,
		      char *dev, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = -1;

	while (d && (e = readdir(d))) {
		char path[300], line[64];

		if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", dir, e->d_name, attr);
		if (nb_sysfs_read_line(path, line, sizeof(line)) == 0 && strcmp(line, value) == 0) {
			snprintf(dev, size, "/dev/%s", e->d_name);
			rc = 0;
			break;
		}
	}
	if (d)
		closedir(d);
	return rc;
}

int nb_sysfs_find_disk(const char *serial, char *dev, size_t size)
{
	return nb_sysfs_find_dev("/sys/block", "vd", "serial", serial, dev, size);
}
