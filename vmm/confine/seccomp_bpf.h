/* A seccomp filter as classic BPF, compiled with libseccomp: the VMM's own
 * per-thread filters (seccomp.h) and the container's, which the guest
 * installs (vmm/run/container_seccomp.h). Host only. */
#ifndef NESTBOX_VMM_CONFINE_SECCOMP_BPF_H
#define NESTBOX_VMM_CONFINE_SECCOMP_BPF_H

#include <seccomp.h>
#include <stddef.h>

#include "nestbox/err.h"

struct nb_seccomp_bpf {
	void *data;       /* struct sock_filter[], host byte order */
	size_t len;       /* bytes */
	unsigned skipped; /* syscall names libseccomp does not know (ignored) */
	char first_skipped[64];
};

/* ctx as classic BPF in out (at most NB_SPEC_MAX_BPF instructions). */
int nb_seccomp_export(scmp_filter_ctx ctx, struct nb_seccomp_bpf *out, struct nb_err *err);

void nb_seccomp_bpf_free(struct nb_seccomp_bpf *b);

#endif
