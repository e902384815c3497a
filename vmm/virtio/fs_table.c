/* virtio-fs inode and handle tables (fs_impl.h), bounded: a guest that
 * never forgets runs into ENFILE, not into the host's limits. Slots are
 * handed out from a bump index, then from free lists, so pages of the
 * tables are touched only as the guest uses them. Inodes are found by
 * (st_dev, st_ino), so a file the guest reaches by two names (hard links)
 * or twice (lookup, readdirplus) is one FUSE node. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/virtio/fs_impl.h"

static uint32_t hash(const struct fs_table *t, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4full;

	return (uint32_t)(h ^ (h >> 29)) & (t->nbuckets - 1);
}

int fs_table_init(struct fs_table *t, uint32_t inode_cap, uint32_t handle_cap)
{
	memset(t, 0, sizeof(*t));
	t->nbuckets = 1;
	while (t->nbuckets < inode_cap)
		t->nbuckets <<= 1;
	t->inode_cap = inode_cap;
	t->handle_cap = handle_cap;
	t->inode_free = t->handle_free = FS_NONE;
	t->inodes = calloc(inode_cap, sizeof(*t->inodes));
	t->handles = calloc(handle_cap, sizeof(*t->handles));
	t->buckets = malloc(t->nbuckets * sizeof(*t->buckets));
	if (!t->inodes || !t->handles || !t->buckets) {
		fs_table_destroy(t);
		return -ENOMEM;
	}
	memset(t->buckets, 0xff, t->nbuckets * sizeof(*t->buckets)); /* FS_NONE */
	return 0;
}

void fs_table_destroy(struct fs_table *t)
{
	if (t->inodes) {
		fs_table_clear(t);
		if (t->inode_unused && t->inodes[0].fd >= 0) /* the root */
			close(t->inodes[0].fd);
	}
	free(t->inodes);
	free(t->handles);
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

struct fs_inode *fs_inode_get(struct fs_table *t, uint64_t nodeid)
{
	if (nodeid == 0 || nodeid > t->inode_unused)
		return NULL;
	struct fs_inode *in = &t->inodes[nodeid - 1];
	return in->fd >= 0 ? in : NULL;
}

uint64_t fs_inode_nodeid(const struct fs_table *t, const struct fs_inode *in)
{
	return (uint64_t)(in - t->inodes) + 1;
}

static struct fs_inode *find(struct fs_table *t, dev_t dev, ino_t ino)
{
	for (uint32_t i = t->buckets[hash(t, dev, ino)]; i != FS_NONE; i = t->inodes[i].next)
		if (t->inodes[i].dev == dev && t->inodes[i].ino == ino)
			return &t->inodes[i];
	return NULL;
}

static uint32_t take_slot(struct fs_table *t)
{
	uint32_t i = t->inode_free;

	if (i != FS_NONE) {
		t->inode_free = t->inodes[i].next;
		return i;
	}
	if (t->inode_unused == t->inode_cap)
		return FS_NONE;
	return t->inode_unused++;
}

/* Slot i becomes the inode (st_dev, st_ino) on fd, first in its hash chain. */
static void link_slot(struct fs_table *t, uint32_t i, int fd, const struct stat *st)
{
	struct fs_inode *in = &t->inodes[i];
	uint32_t b = hash(t, st->st_dev, st->st_ino);

	in->fd = fd;
	in->dev = st->st_dev;
	in->ino = st->st_ino;
	in->next = t->buckets[b];
	t->buckets[b] = i;
}

int fs_inode_ref(struct fs_table *t, int fd, const struct stat *st, struct fs_inode **out)
{
	struct fs_inode *in = find(t, st->st_dev, st->st_ino);
	uint32_t i;

	if (in) {
		close(fd);
		in->nlookup++;
		*out = in;
		return 0;
	}
	i = take_slot(t);
	if (i == FS_NONE) {
		close(fd);
		return -ENFILE;
	}
	in = &t->inodes[i];
	*in = (struct fs_inode){ .type = st->st_mode & S_IFMT,
				 .nlookup = 1,
				 .generation = in->generation + 1 };
	link_slot(t, i, fd, st);
	t->ninodes++;
	*out = in;
	return 0;
}

static void unhash(struct fs_table *t, uint32_t i)
{
	uint32_t *link = &t->buckets[hash(t, t->inodes[i].dev, t->inodes[i].ino)];

	while (*link != FS_NONE && *link != i)
		link = &t->inodes[*link].next;
	if (*link == i)
		*link = t->inodes[i].next;
}

static void free_inode(struct fs_table *t, uint32_t i)
{
	struct fs_inode *in = &t->inodes[i];

	if (in->fd >= 0) { /* a dead one is in no hash chain */
		unhash(t, i);
		close(in->fd);
	}
	in->fd = -1;
	in->nlookup = 0;
	in->next = t->inode_free;
	t->inode_free = i;
	t->ninodes--;
}

void fs_inode_forget(struct fs_table *t, uint64_t nodeid, uint64_t n)
{
	struct fs_inode *in;

	if (nodeid <= FUSE_ROOT_ID || nodeid > t->inode_unused)
		return;
	in = &t->inodes[nodeid - 1];
	if (in->nlookup == 0) /* free */
		return;
	in->nlookup -= n < in->nlookup ? n : in->nlookup;
	if (in->nlookup == 0)
		free_inode(t, (uint32_t)(nodeid - 1));
}

void fs_table_clear(struct fs_table *t)
{
	for (uint32_t i = 1; i < t->inode_unused; i++)
		if (t->inodes[i].nlookup)
			free_inode(t, i);
	for (uint32_t i = 0; i < t->handle_unused; i++)
		if (t->handles[i].kind != FS_HANDLE_FREE)
			fs_handle_release(t, i + 1ull, t->handles[i].kind);
}

bool fs_inode_room(const struct fs_table *t)
{
	return t->inode_free != FS_NONE || t->inode_unused < t->inode_cap;
}

bool fs_handle_room(const struct fs_table *t)
{
	return t->handle_free != FS_NONE || t->handle_unused < t->handle_cap;
}

int fs_handle_new(struct fs_table *t, int fd, enum fs_handle_kind kind, int flags, uint64_t *fh)
{
	uint32_t i = t->handle_free;

	if (i != FS_NONE) {
		t->handle_free = t->handles[i].next_free;
	} else if (t->handle_unused < t->handle_cap) {
		i = t->handle_unused++;
	} else {
		close(fd);
		return -ENFILE;
	}
	t->handles[i] = (struct fs_handle){ .fd = fd, .kind = kind, .flags = flags };
	t->nhandles++;
	*fh = i + 1ull;
	return 0;
}

struct fs_handle *fs_handle_get(struct fs_table *t, uint64_t fh, enum fs_handle_kind kind)
{
	if (fh == 0 || fh > t->handle_unused || t->handles[fh - 1].kind != kind)
		return NULL;
	return &t->handles[fh - 1];
}

int fs_handle_release(struct fs_table *t, uint64_t fh, enum fs_handle_kind kind)
{
	struct fs_handle *h = fs_handle_get(t, fh, kind);

	if (!h && !(h = fs_handle_get(t, fh, FS_HANDLE_DEAD)))
		return -EBADF;
	if (h->fd >= 0)
		close(h->fd);
	*h = (struct fs_handle){ .fd = -1, .kind = FS_HANDLE_FREE, .next_free = t->handle_free };
	t->handle_free = (uint32_t)(fh - 1);
	t->nhandles--;
	return 0;
}

int fs_inode_rehash(struct fs_table *t, uint32_t i, int fd, const struct stat *st)
{
	if (find(t, st->st_dev, st->st_ino))
		return -EEXIST;
	link_slot(t, i, fd, st);
	return 0;
}

void fs_table_relink(struct fs_table *t, uint32_t generation)
{
	t->inode_free = t->handle_free = FS_NONE;
	for (uint32_t i = t->inode_unused; i-- > 1;) {
		struct fs_inode *in = &t->inodes[i];

		if (in->nlookup)
			continue;
		*in = (struct fs_inode){ .fd = -1,
					 .generation = generation,
					 .next = t->inode_free };
		t->inode_free = i;
	}
	for (uint32_t i = t->handle_unused; i-- > 0;) {
		if (t->handles[i].kind != FS_HANDLE_FREE)
			continue;
		t->handles[i] = (struct fs_handle){ .fd = -1, .next_free = t->handle_free };
		t->handle_free = i;
	}
}
