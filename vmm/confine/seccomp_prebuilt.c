#include "vmm/confine/seccomp_prebuilt.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

bool nb_prebuilt_copy(const struct nb_prebuilt_bpf *p, struct nb_seccomp_bpf *out)
{
	size_t bytes = p->len * sizeof(struct sock_filter);

	memset(out, 0, sizeof(*out));
	out->data = malloc(bytes);
	if (!out->data)
		return false;
	memcpy(out->data, p->insns, bytes);
	out->len = bytes;
	out->skipped = p->skipped;
	if (p->first_skipped)
		snprintf(out->first_skipped, sizeof(out->first_skipped), "%s", p->first_skipped);
	return true;
}
