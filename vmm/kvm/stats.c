#include "vmm/kvm/stats.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "nestbox/cleanup.h"

/* pread as preadv: the one positioned read in the VMM's seccomp lists. */
static ssize_t read_at(int fd, void *buf, size_t len, off_t at)
{
	return preadv(fd, &(struct iovec){ buf, len }, 1, at);
}

/* The stats fd holds a header, then num_desc descriptors (each followed by
 * a name of name_size bytes) at desc_offset, then the values at
 * data_offset + desc.offset. Everything is bounds-checked against what
 * pread actually returned. */
static int find_stat(int stats_fd, const char *name, uint64_t *value)
{
	struct kvm_stats_header hdr;

	if (read_at(stats_fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) || hdr.name_size == 0 ||
	    hdr.name_size > 4096 || hdr.num_desc > 65536)
		return -1;
	size_t desc_size = sizeof(struct kvm_stats_desc) + hdr.name_size;
	cleanup_free struct kvm_stats_desc *desc = malloc(desc_size);
	if (!desc)
		return -1;
	for (uint32_t i = 0; i < hdr.num_desc; i++) {
		off_t at = (off_t)hdr.desc_offset + (off_t)i * (off_t)desc_size;
		if (read_at(stats_fd, desc, desc_size, at) != (ssize_t)desc_size)
			return -1;
		desc->name[hdr.name_size - 1] = '\0';
		if (strcmp(desc->name, name) != 0 || desc->size != 1)
			continue;
		at = (off_t)hdr.data_offset + (off_t)desc->offset;
		return read_at(stats_fd, value, sizeof(*value), at) == (ssize_t)sizeof(*value) ? 0
											       : -1;
	}
	return -1;
}

int nb_kvmstats_read(int kvm_object_fd, const char *name, uint64_t *value)
{
	cleanup_close int stats_fd = ioctl(kvm_object_fd, KVM_GET_STATS_FD, NULL);

	if (stats_fd < 0)
		return -1;
	return find_stat(stats_fd, name, value);
}
