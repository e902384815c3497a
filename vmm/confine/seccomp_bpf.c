#include "vmm/confine/seccomp_bpf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nestbox/abi.h"
#include "nestbox/cleanup.h"

int nb_seccomp_export(scmp_filter_ctx ctx, struct nb_seccomp_bpf *out, struct nb_err *err)
{
	cleanup_close int fd = memfd_create("nestbox-seccomp", MFD_CLOEXEC);
	off_t size;
	int rc;

	if (fd < 0)
		return nb_err_sys(err, "seccomp: memfd_create");
	rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0)
		return nb_err_set(err, -rc, "seccomp: cannot export the filter");
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || (size_t)size > NB_SPEC_MAX_BPF * NB_SPEC_BPF_INSN)
		return nb_err_set(err, 0,
				  "seccomp: filter is %lld bytes, more than %u instructions",
				  (long long)size, NB_SPEC_MAX_BPF);
	out->data = malloc((size_t)size);
	if (!out->data)
		return nb_err_sys(err, "seccomp: cannot allocate %lld bytes", (long long)size);
	if (pread(fd, out->data, (size_t)size, 0) != size) {
		free(out->data);
		out->data = NULL;
		return nb_err_sys(err, "seccomp: cannot read the exported filter");
	}
	out->len = (size_t)size;
	return 0;
}

void nb_seccomp_bpf_free(struct nb_seccomp_bpf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
