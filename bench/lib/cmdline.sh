# shellcheck shell=bash
# nb_guest_cmdline: sets $nb_cmdline to the guest kernel's base command
# line as nestbox boots it (`nestbox version --format json`,
# GuestKernel.CommandLine), for the benches that boot the same kernel under QEMU. Exits the bench when it is
# missing: a QEMU guest without it (no `quiet`, a default 8250) is not the
# same machine, and its figures would be wrong rather than absent.
nb_guest_cmdline() {
	nb_cmdline=$(build/nestbox version --format json | python3 -c '
import json, sys
print(json.load(sys.stdin)["GuestKernel"]["CommandLine"])' 2>/dev/null)
	if [ -z "$nb_cmdline" ]; then
		echo "bench: nestbox version gives no GuestKernel.CommandLine (make first?)" >&2
		exit 1
	fi
}
