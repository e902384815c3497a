#!/usr/bin/env bash
# host-kvm tier, the part that needs a KVM that runs guests: the VM core
# (build/tests/kvm/test_*), the tiny payload through `nestbox run`, host
# confinement and the kill -9 stress test (tests/kvm/*.sh but diagnostics.sh,
# which tests/run runs natively: it must hold on any host). tests/run calls
# this through tests/testhost/run, so it runs here where this host's KVM
# runs stock guests and inside the emulated test host where it does not.
# One result line per case (tests/lib/check.sh); exit 1 if a part crashed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh

if [ ! -w /dev/kvm ] || [ -e /sys/module/kvm_pvm ]; then
	echo "not ok host_kvm: no KVM here that runs stock guests (tests/testhost/run should have provided one)"
	exit 1
fi
rc=0
for part in build/tests/kvm/test_* tests/kvm/payload.sh tests/kvm/confine.sh tests/kvm/crash.sh; do
	case $part in *.d) continue ;; esac # make's dependency files
	[ -x "$part" ] || { echo "not ok $(basename "$part"): missing (make tests)"; rc=1; continue; }
	nb_case_start "$part" # the parts' own cases note themselves more precisely
	log=$(mktemp "${TMPDIR:-/tmp}/nestbox-kvm.XXXXXX")
	"$part" 2>&1 | tee "$log"
	if [ "${PIPESTATUS[0]}" -ne 0 ] && ! grep -q '^not ok ' "$log"; then
		echo "not ok $(basename "$part"): exited without a result"
		rc=1
	fi
	rm -f "$log"
done
exit $rc
