/* libFuzzer: a virtio-fs device's own state in a snapshot as a restore
 * loads it (hostile bytes) into a device fresh on a small shared
 * directory: d/, d/f, g and the symlink l -> g (nothing is written: a
 * restore only opens). Oracles: a state that loads saves again, and that
 * saved state loads into another fresh device with the same inode and
 * handle counts (nodeids and handles kept); counts never exceed the
 * tables' bounds; closing the devices leaves no descriptor behind.
 * tests/fuzz/seeds.py writes the seeds (states as fs_state.c lays them
 * out) in corpus/fuzz_fs_state/.
 * Covers: vmm/virtio/fs_state.c vmm/virtio/fs_table.c */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "vmm/virtio/fs.h"

#define MAX_INODES 64u
#define MAX_HANDLES 16u

static char dir[] = "/tmp/nestbox-fuzz-fs-state-XXXXXX";
static uint8_t saved[1u << 20];

static void init_once(void)
{
	static bool done;
	char path[128];
	int fd;

	if (done)
		return;
	done = true;
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/d", dir);
	if (mkdir(path, 0755) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/d/f", dir);
	if ((fd = open(path, O_CREAT | O_WRONLY, 0644)) < 0 || write(fd, "data", 4) != 4)
		abort();
	close(fd);
	snprintf(path, sizeof(path), "%s/g", dir);
	if ((fd = open(path, O_CREAT | O_WRONLY, 0644)) < 0)
		abort();
	close(fd);
	snprintf(path, sizeof(path), "%s/l", dir);
	if (symlink("g", path) < 0)
		abort();
}

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A device fresh on dir with state data loaded: the load's result. */
static int load(struct nb_fs **fs, const uint8_t *data, size_t len)
{
	struct nb_fs_opts opts = { .tag = "fuzz",
				   .max_inodes = MAX_INODES,
				   .max_handles = MAX_HANDLES };
	struct nb_virtio_dev *dev;
	struct nb_err err;

	if (nb_fs_open(fs, dir, &opts, &err) < 0)
		abort();
	dev = nb_fs_dev(*fs);
	return dev->ops->load(dev, data, len, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nb_fs *a = NULL, *b = NULL;
	unsigned fds, ia, ha, ib, hb;
	struct nb_err err;

	init_once();
	fds = open_fds();
	if (load(&a, data, size) == 0) {
		struct nb_virtio_dev *dev = nb_fs_dev(a);
		int n = dev->ops->save(dev, saved, sizeof(saved), &err);

		nb_fs_counts(a, &ia, &ha);
		FZ_CHECK(ia <= MAX_INODES && ha <= MAX_HANDLES, "%u inodes, %u handles", ia, ha);
		FZ_CHECK(n >= 0, "a loaded state does not save: %s", err.msg);
		FZ_CHECK(load(&b, saved, (size_t)n) == 0, "its saved state does not load");
		nb_fs_counts(b, &ib, &hb);
		FZ_CHECK(ia == ib && ha == hb, "%u/%u inodes, %u/%u handles", ia, ib, ha, hb);
	}
	nb_fs_close(a);
	nb_fs_close(b);
	FZ_CHECK(open_fds() == fds, "%u descriptors before, %u after", fds, open_fds());
	return 0;
}
