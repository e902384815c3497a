/* libFuzzer: virtio-fs through the whole device path (mmio transport, both
 * queues, the walker, the FUSE decoder and every operation) on a real
 * shared directory: a small tmpfs in a private mount namespace when the
 * fuzzer may mount one, else a read-only share of a temporary directory
 * (so nothing the fuzzer does can fill the host's disk).
 *
 * Input: byte 0 = flags (bit 0 read-only share, bit 1 indirect tables,
 * bit 2 EVENT_IDX, bit 3 raw mode), then
 *  - raw mode: the bytes are queue 1's guest RAM from its descriptor table
 *    on (hostile rings);
 *  - else records "u8 queue, u8 split, le16 room, le16 len, len bytes":
 *    a chain whose readable part is the len bytes (a FUSE request: header
 *    and arguments as the fuzzer wrote them) and whose writable part has
 *    room bytes, both cut into split-byte descriptors (0: one each).
 * tests/fuzz/seed_virtio_fs.py writes the seeds in corpus/fuzz_virtio_fs/.
 * Covers: vmm/virtio/fs.c vmm/virtio/fs_node.c vmm/virtio/fs_file.c vmm/virtio/fs_dir.c vmm/virtio/fs_table.c vmm/virtio/fs_xattr.c */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vmm/virtio/fs.h"
#include "vmm/virtio/mmio.h"

#define RAM_SIZE (4u << 20)
#define QSIZE 256u
#define DATA_AREA 0x40000u
#define MAX_REQUESTS 32u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram;
static struct nb_guest_mem mem;
static char dir[] = "/tmp/nestbox-fuzz-fs-XXXXXX";
static bool writable_share; /* a tmpfs of our own: writes are safe */

static uint64_t qbase(unsigned q)
{
	return 0x10000u * (q + 1);
}

static void desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint8_t *d = ram + table + 16u * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void put_file(const char *name, const char *content)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write(fd, content, strlen(content)) < 0) {
			/* a seed file less: fine */
		}
		close(fd);
	}
}

/* A share with a little in it: files, a directory, symlinks out. */
static void init_once(void)
{
	char path[128];

	if (ram)
		return;
	ram = calloc(1, RAM_SIZE);
	if (!ram || !mkdtemp(dir))
		abort();
	umask(0);
	/* The share on a small tmpfs nobody else sees; else read-only. */
	writable_share = unshare(CLONE_NEWNS) == 0 &&
			 mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
			 mount("nb-fuzz", dir, "tmpfs", MS_NOSUID | MS_NODEV,
			       "size=16m,nr_inodes=4096,mode=0755") == 0;
	put_file("file", "hello from the share\n");
	snprintf(path, sizeof(path), "%s/sub", dir);
	mkdir(path, 0755);
	put_file("sub/inner", "inner\n");
	snprintf(path, sizeof(path), "%s/root-link", dir);
	if (symlink("/", path) < 0) {
		/* fine */
	}
	snprintf(path, sizeof(path), "%s/up-link", dir);
	if (symlink("../../..", path) < 0) {
		/* fine */
	}
	/* Writes past 16 MiB fail with EFBIG, not SIGXFSZ. */
	struct rlimit fsize = { 16 << 20, 16 << 20 };
	setrlimit(RLIMIT_FSIZE, &fsize);
	signal(SIGXFSZ, SIG_IGN);
}

static void setup_queue(struct nb_virtio_mmio *m, unsigned q, uint8_t flags)
{
	struct nb_virtq *vq = &m->dev->queues[q];

	vq->size = QSIZE;
	vq->desc_gpa = qbase(q);
	vq->avail_gpa = qbase(q) + 0x1000;
	vq->used_gpa = qbase(q) + 0x2000;
	vq->indirect = flags & 2;
	vq->event_idx = flags & 4;
	nb_virtq_enable(vq);
}

/* Cut [addr, addr + len) into split-byte descriptors at table[*at...],
 * each linked to the next; false when more than max would be needed. */
static bool segments(uint64_t table, unsigned *at, unsigned max, uint64_t addr, uint32_t len,
		     uint32_t split, uint16_t flags)
{
	for (uint32_t off = 0; off < len; off += split) {
		uint32_t n = len - off < split ? len - off : split;

		if (*at == max)
			return false;
		desc(table, *at, addr + off, n, flags | VRING_DESC_F_NEXT, (uint16_t)(*at + 1));
		(*at)++;
	}
	return true;
}

/* One chain: readable [addr, addr + len), writable room bytes after it,
 * in table from index first; returns the descriptors used, 0 if none fit. */
static unsigned chain(uint64_t table, unsigned first, unsigned max, uint64_t addr, uint16_t len,
		      uint16_t room, unsigned split)
{
	unsigned at = first;
	uint8_t *last;
	uint16_t flags;

	if (!segments(table, &at, max, addr, len ? len : 1, split ? split : (len ? len : 1), 0) ||
	    !segments(table, &at, max, addr + len, room, split ? split : (room ? room : 1),
		      VRING_DESC_F_WRITE))
		return 0;
	last = ram + table + 16u * (at - 1) + 12; /* the last one ends the chain */
	memcpy(&flags, last, 2);
	flags &= (uint16_t)~VRING_DESC_F_NEXT;
	memcpy(last, &flags, 2);
	return at - first;
}

static void publish(unsigned q, uint16_t *idx, uint16_t head)
{
	memcpy(ram + qbase(q) + 0x1000 + 4 + 2u * (*idx % QSIZE), &head, 2);
	(*idx)++;
	memcpy(ram + qbase(q) + 0x1000 + 2, idx, 2);
}

/* Lay the records out as chains in the two rings. */
static void lay_out(const uint8_t *data, size_t size, bool indirect)
{
	uint16_t idx[2] = { 0, 0 };
	unsigned used[2] = { 0, 0 };
	uint64_t at = DATA_AREA;
	size_t pos = 0;

	for (unsigned n = 0; pos + 6 <= size && n < MAX_REQUESTS; n++) {
		unsigned q = data[pos] & 1, split = data[pos + 1], count;
		uint16_t room, len;

		memcpy(&room, data + pos + 2, 2);
		memcpy(&len, data + pos + 4, 2);
		pos += 6;
		if (len > size - pos)
			len = (uint16_t)(size - pos);
		uint64_t table = (at + len + room + 15) & ~15ull;
		if (table + 16u * QSIZE > RAM_SIZE || used[q] == QSIZE)
			return;
		memcpy(ram + at, data + pos, len);
		pos += len;
		if (indirect) {
			if (!(count = chain(table, 0, QSIZE, at, len, room, split)))
				return;
			desc(qbase(q), used[q], table, 16u * count, VRING_DESC_F_INDIRECT, 0);
			publish(q, &idx[q], (uint16_t)used[q]++);
			at = table + 16u * count;
		} else {
			if (!(count = chain(qbase(q), used[q], QSIZE, at, len, room, split)))
				return;
			publish(q, &idx[q], (uint16_t)used[q]);
			used[q] += count;
			at = table;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nb_virtio_mmio m;
	struct nb_err err = { 0 };
	struct nb_fs *fs = NULL;
	uint8_t flags;
	struct nb_fs_opts opts = { .tag = "fuzz", .max_inodes = 64 };

	if (size < 1)
		return 0;
	init_once();
	flags = data[0];
	opts.read_only = (flags & 1) || !writable_share;
	memset(ram, 0, DATA_AREA);
	nb_mem_layout(&mem, ram, RAM_SIZE);
	if (nb_fs_open(&fs, dir, &opts, &err) < 0 ||
	    nb_virtio_mmio_init(&m, nb_fs_dev(fs), &mem, &err) < 0) {
		fprintf(stderr, "fuzz_virtio_fs: %s\n", err.msg);
		abort();
	}
	m.dev->driver_features = NB_VIRTIO_F_VERSION_1 |
				 (flags & 2 ? NB_VIRTIO_F_INDIRECT_DESC : 0) |
				 (flags & 4 ? NB_VIRTIO_F_EVENT_IDX : 0);
	m.dev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	if (flags & 8) {
		size_t n = size - 1 < DATA_AREA - qbase(1) ? size - 1 : DATA_AREA - qbase(1);
		memcpy(ram + qbase(1), data + 1, n);
	} else {
		lay_out(data + 1, size - 1, flags & 2);
	}
	setup_queue(&m, 0, flags);
	setup_queue(&m, 1, flags);
	nb_virtio_process(m.dev);
	nb_virtio_mmio_destroy(&m);
	nb_fs_close(fs);
	return 0;
}
