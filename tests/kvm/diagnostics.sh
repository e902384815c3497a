#!/usr/bin/env bash
# host-kvm tier: nestbox's own failures on this host. Each is one clear line
# on stderr naming the cause and the fix, exit status 125, and no debris.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh

nestbox=build/nestbox
rootfs=build/rootfs-busybox
junk=$nb_tmp/junk
head -c 100000 /dev/urandom > "$junk"
head -c 3000 build/vmlinux > "$nb_tmp/truncated"
# nestbox's own temp files are named nestbox*; other programs may come and go.
debris() { find /tmp /dev/shm -maxdepth 1 -name '*nestbox*' ! -path "$nb_tmp" 2>/dev/null | sort; }
debris_before=$(debris)

# diag NAME WHAT PATTERN ARGS... : nestbox ARGS must exit 125 with PATTERN on
# stderr, print one line there, and nothing on stdout.
diag() {
	local name=$1 what=$2 pattern=$3
	shift 3
	nb_run_case 60 $nestbox "$@"
	expect "$name" "$what" "$status" -eq 125 -a -n "$(grep -E -- "$pattern" <<<"$err")" \
		-a "$(wc -l <<<"$err")" -eq 1 -a -z "$out"
}

diag diag_missing_kernel "missing kernel names the file and the fix" \
	'kernel /nonexistent/vmlinux.*(make|--kernel)' run --kernel /nonexistent/vmlinux $rootfs -- true
diag diag_corrupt_kernel "a file that is no kernel is refused" \
	'not an ELF|bzImage' run --kernel "$junk" $rootfs -- true
diag diag_truncated_kernel "a truncated vmlinux is refused" \
	'kernel .*truncated' run --kernel "$nb_tmp/truncated" $rootfs -- true
diag diag_kernel_too_big "a kernel larger than guest RAM is refused with sizes" \
	'MiB' run --memory 16m $rootfs -- true
diag diag_bad_memory "a bad --memory value is explained" \
	'--memory.*2 MiB' run --memory 17m $rootfs -- true
diag diag_bad_size "an unparsable size is explained" \
	'invalid size' run --memory lots $rootfs -- true
diag diag_bad_cpus "a bad --cpus value is explained" \
	'--cpus.*1 to 32' run --cpus 0 $rootfs -- true
diag diag_unknown_option "an unknown option is named" \
	"--frobnicate" run --frobnicate $rootfs -- true
diag diag_missing_command "a missing command is explained" \
	'missing COMMAND' run $rootfs
diag diag_missing_rootfs "a missing rootfs names the path" \
	'/nonexistent-rootfs' run /nonexistent-rootfs -- true
diag diag_unknown_subcommand "an unknown subcommand points to --help" \
	'--help' frobnicate

if [ -e /sys/module/kvm_pvm ]; then
	diag diag_pvm_host "a PVM host gets the PVM explanation, not a hang" \
		'PVM.*tests/testhost/run' run $rootfs -- true
else
	skip diag_pvm_host "this host's KVM is not PVM"
fi

if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
	# No /dev/kvm: a private /dev without it.
	nb_run_case 60 unshare -m sh -c "mount -t tmpfs none /dev && exec $nestbox run $rootfs -- true"
	expect diag_no_kvm "no /dev/kvm is diagnosed" "$status" -eq 125 -a \
		-n "$(grep -F '/dev/kvm does not exist' <<<"$err")"
	# No permission: an unprivileged user with /dev/kvm mode 0600.
	if [ "$(stat -c %a /dev/kvm 2>/dev/null)" = 600 ] && command -v setpriv >/dev/null; then
		# Everything but /dev/kvm readable by the unprivileged user.
		mkdir -p "$nb_tmp/open/rootfs/bin"
		cp build/vmlinux $nestbox build/nestbox-init "$nb_tmp/open/"
		chmod -R a+rX "$nb_tmp"
		nb_run_case 60 setpriv --reuid 65534 --regid 65534 --clear-groups \
			"$nb_tmp/open/nestbox" run "$nb_tmp/open/rootfs" -- true
		expect diag_no_permission "no permission on /dev/kvm is diagnosed" "$status" -eq 125 \
			-a -n "$(grep -F 'permission denied opening /dev/kvm' <<<"$err")"
	else
		skip diag_no_permission "/dev/kvm is not mode 0600 or setpriv is missing"
	fi
else
	skip diag_no_kvm "needs root and unshare"
	skip diag_no_permission "needs root"
fi

debris_after=$(debris)
expect diag_no_debris "failed runs leave nothing in /tmp or /dev/shm" "$debris_before" = "$debris_after"
