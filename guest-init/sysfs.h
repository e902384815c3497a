/* Finding nestbox's virtio devices in the guest's sysfs: disks by serial
 * (volumes, the layer disk) and console ports by name. */
#ifndef NESTBOX_GUEST_SYSFS_H
#define NESTBOX_GUEST_SYSFS_H

#include <stddef.h>

/* The first line of a small sysfs file, without the newline. */
int nb_sysfs_read_line(const char *path, char *buf, size_t size);

/* "/dev/NAME" in dev for the entry NAME of sysfs directory dir (entries
 * starting with prefix) whose attribute file attr holds value. */
int nb_sysfs_find_dev(const char *dir, const char *prefix, const char *attr, const char *value,
		      char *dev, size_t size);

/* "/dev/vdX" of the virtio disk whose serial is serial. */
int nb_sysfs_find_disk(const char *serial, char *dev, size_t size);

#endif
