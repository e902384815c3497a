#!/usr/bin/env bash
# e2e tier: the whole `nestbox run` path on a KVM that runs stock guests
# (this host's, or the emulated test host's: tests/testhost/run).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh

nestbox=build/nestbox
rootfs=build/rootfs-busybox
limit=${NESTBOX_E2E_TIMEOUT:-180}

if [ ! -r /dev/kvm ] || [ -e /sys/module/kvm_pvm ]; then
	skip e2e "no KVM here that runs a stock guest (run through tests/testhost/run)"
	exit 0
fi

# NESTBOX_E2E_GROUPS picks groups (default: all), e.g. "boot net". The
# "# e2e ..." lines let tests/run tell which groups finished if the test
# host dies on the way (it runs the rest again in a new one).
groups=${NESTBOX_E2E_GROUPS:-boot virtio output share container signals net network images confine cli resources lifecycle oci warm}
echo "# e2e groups:" $groups
for group in $groups; do
	if [ ! -f "tests/e2e/$group.sh" ]; then
		not_ok "e2e_group_$group" "no tests/e2e/$group.sh"
	else
		# shellcheck source=/dev/null
		. "tests/e2e/$group.sh"
	fi
	echo "# e2e group $group: done"
done

# The VMM's own seccomp filters (vmm/confine/seccomp.c) over everything above: a
# syscall outside a thread's list kills that test's nestbox (159); the
# kernel's audit lines name the thread and the syscall.
if dmesg >/dev/null 2>&1; then
	violations=$(dmesg | grep 'type=1326' | grep -E 'comm="(nestbox|nb-[a-z0-9]+)"' |
		sed -n 's/.*comm="\([^"]*\)".*syscall=\([0-9]*\).*/\1:syscall \2/p' | sort | uniq -c |
		tr -s ' \n' ' ')
	status=0 out=$violations err=
	expect e2e_seccomp_clean "no VMM thread made a syscall outside its allowlist in this tier" \
		-z "$violations"
else
	skip e2e_seccomp_clean "dmesg is not readable here"
fi
