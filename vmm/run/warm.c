#include "vmm/run/warm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/file.h"
#include "nestbox/abi.h"
#include "nestbox/cleanup.h"
#include "vmm/kvm/snapshot.h"

static int open_dir(const char *dir, struct nb_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return nb_err_sys(err, "snapshot directory %s", dir);
	return fd;
}

static int build_state(struct nb_vm *vm, struct nb_virtio_mmio_transport *virtio,
		       struct nb_serial *serial, void **file, size_t *len, struct nb_err *err)
{
	struct nb_state_header h;
	struct nb_state_buf b = { 0 };
	struct nb_serial_state ss;
	int rc;

	nb_serial_save(serial, &ss);
	nb_state_put(&b, NB_STATE_SERIAL, 0, &ss, sizeof(ss));
	rc = nb_snapshot_header(vm, &h, err);
	if (rc == 0)
		rc = nb_snapshot_save_vm(vm, &b, err);
	if (rc == 0)
		rc = nb_virtio_mmio_save(virtio, &b, err);
	if (rc == 0)
		rc = nb_state_finish(&h, &b, file, len, err);
	nb_state_buf_free(&b);
	return rc;
}

int nb_warm_out_openat(struct nb_warm_out *out, int dfd, const char *dir, struct nb_err *err)
{
	const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC;

	out->memory_fd = openat(dfd, NB_WARM_MEMORY_FILE, flags, 0600);
	if (out->memory_fd < 0)
		return nb_err_sys(err, "snapshot %s/%s", dir, NB_WARM_MEMORY_FILE);
	out->state_fd = openat(dfd, NB_WARM_STATE_FILE, flags, 0600);
	if (out->state_fd < 0) {
		nb_warm_out_close(out);
		return nb_err_sys(err, "snapshot %s/%s", dir, NB_WARM_STATE_FILE);
	}
	return 0;
}

int nb_warm_out_open(struct nb_warm_out *out, const char *dir, struct nb_err *err)
{
	cleanup_close int dfd = open_dir(dir, err);

	out->memory_fd = out->state_fd = -1;
	if (dfd < 0)
		return -1;
	return nb_warm_out_openat(out, dfd, dir, err);
}

void nb_warm_out_close(struct nb_warm_out *out)
{
	if (out->memory_fd >= 0)
		close(out->memory_fd);
	if (out->state_fd >= 0)
		close(out->state_fd);
	out->memory_fd = out->state_fd = -1;
}

/* At offset 0 (pwrite: the seccomp list's, and no offset to reset). */
static int pwrite_all(int fd, const void *data, size_t len, struct nb_err *err)
{
	const char *p = data;

	for (size_t off = 0; off < len;) {
		ssize_t n = pwrite(fd, p + off, len - off, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return nb_err_sys(err, "writing");
		off += (size_t)n;
	}
	return 0;
}

int nb_warm_save(struct nb_vm *vm, struct nb_virtio_mmio_transport *virtio,
		 struct nb_serial *serial, const struct nb_warm_out *out, struct nb_err *err)
{
	cleanup_free void *file = NULL;
	size_t len = 0;

	if (build_state(vm, virtio, serial, &file, &len, err) < 0)
		return nb_err_wrap(err, "snapshot");
	/* A live VM's files are written again at each snapshot: no page or
	 * byte of the last one stays. */
	if (ftruncate(out->memory_fd, 0) < 0 ||
	    nb_snapshot_save_memory(&vm->mem, out->memory_fd, err) < 0 || fsync(out->memory_fd) < 0)
		return nb_err_wrap(err, "snapshot %s", NB_WARM_MEMORY_FILE);
	if (ftruncate(out->state_fd, 0) < 0 || pwrite_all(out->state_fd, file, len, err) < 0 ||
	    fsync(out->state_fd) < 0)
		return nb_err_wrap(err, "snapshot %s", NB_WARM_STATE_FILE);
	return 0;
}

int nb_warm_in_open(struct nb_warm_in *in, const char *dir, struct nb_err *err)
{
	cleanup_close int dfd = open_dir(dir, err);

	*in = (struct nb_warm_in){ .memory_fd = -1, .dir = dir };
	if (dfd < 0)
		return -1;
	in->memory_fd = openat(dfd, NB_WARM_MEMORY_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in->memory_fd < 0)
		return nb_err_sys(err, "snapshot %s/%s", dir, NB_WARM_MEMORY_FILE);
	if (nb_file_read_nofollow(dfd, NB_WARM_STATE_FILE, NB_WARM_MAX_STATE, &in->state,
				  &in->state_len, err) < 0) {
		nb_warm_in_close(in);
		return nb_err_wrap(err, "%s", dir);
	}
	return 0;
}

void nb_warm_in_close(struct nb_warm_in *in)
{
	if (in->memory_fd >= 0)
		close(in->memory_fd);
	free(in->state);
	in->memory_fd = -1;
	in->state = NULL;
	in->state_len = 0;
}

int nb_warm_load(struct nb_vm *vm, struct nb_virtio_mmio_transport *virtio,
		 struct nb_serial *serial, const struct nb_warm_in *in, struct nb_err *err)
{
	struct nb_state_header expect;
	struct nb_state st;
	struct nb_serial_state ss;

	if (nb_snapshot_header(vm, &expect, err) < 0 ||
	    nb_state_parse(in->state, in->state_len, &expect, &st, err) < 0)
		return nb_err_wrap(err, "%s", in->dir);
	if (nb_snapshot_load_vm(vm, &st, err) < 0 ||
	    nb_state_get(&st, NB_STATE_SERIAL, 0, &ss, sizeof(ss), err) < 0 ||
	    nb_serial_load(serial, &ss, err) < 0 || nb_virtio_mmio_load(virtio, &st, err) < 0)
		return nb_err_wrap(err, "restoring %s", in->dir);
	return 0;
}

static int copy_input(int fd, const char *path, struct nb_err *err)
{
	cleanup_close int in = open(path, O_RDONLY | O_CLOEXEC);
	char buf[65536];
	ssize_t n;

	if (in < 0)
		return nb_err_sys(err, "--input %s", path);
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return nb_err_sys(err, "--input %s", path);
		if (nb_write_all(fd, buf, (size_t)n) < 0)
			return nb_err_sys(err, "workload stdin");
	}
	return 0;
}

int nb_warm_stdin(const void *spec, size_t len, const char *input_path, struct nb_err *err)
{
	int fd = memfd_create("nestbox-stdin", MFD_CLOEXEC);
	uint8_t le[4] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
			  (uint8_t)(len >> 24) };

	if (fd < 0)
		return nb_err_sys(err, "memfd_create");
	if (nb_write_all(fd, le, sizeof(le)) < 0 || nb_write_all(fd, spec, len) < 0 ||
	    (input_path && copy_input(fd, input_path, err) < 0) || lseek(fd, 0, SEEK_SET) < 0) {
		if (!err->msg[0])
			nb_err_sys(err, "workload stdin");
		close(fd);
		return -1;
	}
	return fd;
}
