#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

const char nb_kvm_pvm_hint[] =
	"this host's KVM is PVM (module kvm_pvm), which runs only PVM-enabled guest kernels "
	"and cannot run the stock nestbox guest: run on a host with kvm_intel or kvm_amd, or "
	"inside the emulated test host with tests/testhost/run";

int nb_kvm_open(struct nb_err *err)
{
	int fd = open(NB_KVM_DEV, O_RDWR | O_CLOEXEC);
	int version;

	if (fd < 0) {
		if (errno == ENOENT)
			return nb_err_set(err, 0, NB_KVM_DEV " does not exist: this host has no KVM; "
					  "load kvm_intel or kvm_amd (modprobe), or enable "
					  "virtualization (or nested virtualization) for this machine");
		if (errno == EACCES || errno == EPERM)
			return nb_err_set(err, 0, "permission denied opening " NB_KVM_DEV ": add this "
					  "user to the group that owns it (usually kvm) or run as root");
		return nb_err_sys(err, "opening " NB_KVM_DEV);
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		close(fd);
		return nb_err_set(err, 0, NB_KVM_DEV " speaks KVM API %d, nestbox needs %d", version,
				  KVM_API_VERSION);
	}
	return fd;
}

bool nb_kvm_is_pvm(const char *sysfs_root)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/module/kvm_pvm", sysfs_root);
	return stat(path, &st) == 0;
}
