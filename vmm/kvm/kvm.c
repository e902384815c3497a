#include "vmm/kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#define TESTHOST_HINT "or run nestbox inside the emulated test host: tests/testhost/run nestbox ..."

const char nb_kvm_pvm_hint[] =
	"this host's KVM is PVM (module kvm_pvm), which runs only PVM-enabled guest kernels "
	"and cannot run the stock nestbox guest: run on a host with kvm_intel or kvm_amd, " TESTHOST_HINT;

bool nb_kvm_is_pvm(const char *sysfs_root)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/module/kvm_pvm", sysfs_root);
	return stat(path, &st) == 0;
}

static enum nb_kvm_kind kind_of_errno(int e, bool pvm)
{
	switch (e) {
	case ENOENT:
		return pvm ? NB_KVM_PVM_NO_DEVICE : NB_KVM_MISSING;
	case EACCES:
	case EPERM:
		return NB_KVM_NO_ACCESS;
	case ENXIO:
	case ENODEV:
		return NB_KVM_NO_DRIVER;
	default:
		return NB_KVM_OTHER;
	}
}

void nb_kvm_probe(const char *dev, const char *sysfs_root, struct nb_kvm_host *host)
{
	bool pvm = nb_kvm_is_pvm(sysfs_root);
	int fd = open(dev, O_RDWR | O_CLOEXEC);

	host->open_errno = fd < 0 ? errno : 0;
	if (fd >= 0) {
		close(fd);
		host->kind = pvm ? NB_KVM_PVM : NB_KVM_USABLE;
		return;
	}
	host->kind = kind_of_errno(host->open_errno, pvm);
}

const char *nb_kvm_kind_name(enum nb_kvm_kind kind)
{
	switch (kind) {
	case NB_KVM_USABLE:
		return "real";
	case NB_KVM_PVM:
		return "pvm";
	case NB_KVM_MISSING:
		return "none";
	case NB_KVM_PVM_NO_DEVICE:
		return "pvm-without-device";
	case NB_KVM_NO_ACCESS:
		return "no-permission";
	case NB_KVM_NO_DRIVER:
		return "no-driver";
	default:
		return "unusable";
	}
}

/* The message for a host where KVM cannot be opened. */
static int open_failure(enum nb_kvm_kind kind, int e, struct nb_err *err)
{
	switch (kind) {
	case NB_KVM_MISSING:
		return nb_err_set(
			err, 0,
			NB_KVM_DEV
			" does not exist: this host has no KVM; load "
			"kvm_intel or kvm_amd (modprobe), or enable virtualization (or nested "
			"virtualization) for this machine, " TESTHOST_HINT);
	case NB_KVM_PVM_NO_DEVICE:
		return nb_err_set(
			err, 0,
			NB_KVM_DEV
			" does not exist: this host's kernel has the "
			"PVM module (kvm_pvm) but offers no KVM device, and PVM could not run "
			"the stock nestbox guest anyway; run on a host with kvm_intel or "
			"kvm_amd, " TESTHOST_HINT);
	case NB_KVM_NO_ACCESS:
		return nb_err_set(err, 0,
				  "permission denied opening " NB_KVM_DEV ": add this user "
				  "to the group that owns it (usually kvm) or run as root");
	case NB_KVM_NO_DRIVER:
		return nb_err_set(err, e,
				  NB_KVM_DEV
				  " exists but no KVM driver answers behind it "
				  "(kvm_intel or kvm_amd is not loaded, or the CPU has no "
				  "virtualization)");
	default:
		return nb_err_set(err, e, "opening " NB_KVM_DEV);
	}
}

int nb_kvm_host_check(const struct nb_kvm_host *host, bool linux_guest, struct nb_err *err)
{
	switch (host->kind) {
	case NB_KVM_USABLE:
		return 0;
	case NB_KVM_PVM:
		return linux_guest ? nb_err_set(err, 0, "cannot boot a Linux guest here: %s",
						nb_kvm_pvm_hint)
				   : 0;
	default:
		return open_failure(host->kind, host->open_errno, err);
	}
}

int nb_kvm_open(struct nb_err *err)
{
	int fd = open(NB_KVM_DEV, O_RDWR | O_CLOEXEC);
	int version;

	if (fd < 0) {
		int e = errno;
		return open_failure(kind_of_errno(e, nb_kvm_is_pvm("/sys")), e, err);
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		close(fd);
		return nb_err_set(err, 0, NB_KVM_DEV " speaks KVM API %d, nestbox needs %d",
				  version, KVM_API_VERSION);
	}
	return fd;
}
