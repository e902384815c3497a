/* Capabilities with the raw syscalls (no libcap in a static musl init).
 * The bounding set is what decides: on execve, root's permitted set becomes
 * the bounding set, and a non-root user gets nothing without file caps.
 * Inheritable and ambient stay empty, as in Docker since CVE-2022-24769. */
#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "container/container.h"
#include "nestbox/abi.h"

uint64_t nb_caps_effective_mask(const struct nb_spec *spec)
{
	return spec->has_caps ? spec->caps : NB_CAPS_DEFAULT;
}

int nb_caps_drop_bounding(uint64_t keep, struct nb_err *err)
{
	for (unsigned int cap = 0; cap < 64; cap++) {
		if (keep & (1ull << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL) /* past the kernel's last capability */
				break;
			return nb_err_sys(err, "cannot drop capability %u from the bounding set",
					  cap);
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return nb_err_sys(err, "cannot clear the ambient capabilities");
	return 0;
}

/* For root: effective = permitted = keep, inheritable empty. For other
 * users setresuid() already emptied permitted and effective. */
int nb_caps_set(uint64_t keep, bool root, struct nb_err *err)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (root) {
		data[0].effective = data[0].permitted = (uint32_t)keep;
		data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return nb_err_sys(err, "capset");
	return 0;
}
