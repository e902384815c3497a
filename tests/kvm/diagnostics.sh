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
# vmlinux with its first loadable segment grown to 2 GiB: larger than any
# guest RAM a small --memory gives.
python3 - build/vmlinux "$nb_tmp/big" <<'EOF'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
phoff = struct.unpack_from("<Q", b, 0x20)[0]
phentsize, phnum = struct.unpack_from("<HH", b, 0x36)
for i in range(phnum):
    o = phoff + i * phentsize
    if struct.unpack_from("<I", b, o)[0] == 1:  # PT_LOAD: p_memsz at +0x28
        struct.pack_into("<Q", b, o + 0x28, 1 << 31)
        break
open(sys.argv[2], "wb").write(b)
EOF
# nestbox's own temp files are named nestbox*; other programs (and other
# test runs' own nestbox-test.*, nestbox-kvm.* ... directories) come and go.
debris() {
	find /tmp /dev/shm -maxdepth 1 -name '*nestbox*' ! -path "$nb_tmp" 2>/dev/null |
		grep -vE '/nestbox-(test|kvm|mkimages|mkdebian|deps|testhost|bench|fresh)\.' | sort
}
debris_before=$(debris)

# fake_host KIND: shell commands that make a private mount namespace (under
# unshare -m) look like a host of KIND, whatever this host really has:
#   none      no /dev/kvm, no kvm_pvm          nodriver  a /dev/kvm nothing answers
#   pvm-nodev kvm_pvm loaded, no /dev/kvm      noperm    a /dev/kvm mode 0600 (root's)
#   pvm       kvm_pvm and a /dev/kvm that opens (a stand-in: the null device)
fake_host() {
	echo 'set -e; mount --make-rprivate /'
	echo 'mount -t tmpfs -o mode=755 nbdev /dev'
	echo 'mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5'
	echo 'mknod -m 666 /dev/random c 1 8; mknod -m 666 /dev/urandom c 1 9'
	echo 'mount -t tmpfs nbsys /sys/module'
	case $1 in pvm*) echo 'mkdir /sys/module/kvm_pvm' ;; esac
	case $1 in
	pvm) echo 'mknod -m 666 /dev/kvm c 1 3' ;;
	noperm) echo 'mknod -m 600 /dev/kvm c 10 232' ;;
	nodriver) echo 'mknod -m 666 /dev/kvm c 0 0' ;;
	esac
}
can_fake=false
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null && command -v setpriv >/dev/null; then
	can_fake=true
fi
q() { printf '%q ' "$@"; }

# diag NAME WHAT PATTERN ARGS... : nestbox ARGS must exit 125 with PATTERN on
# stderr, print one line there, and nothing on stdout; on this host and, as
# bad input is found before KVM is touched, on a host without KVM too.
diag() {
	local name=$1 what=$2 pattern=$3 first
	shift 3
	nb_run_case 60 $nestbox "$@"
	first=$err
	expect "$name" "$what" "$status" -eq 125 -a -n "$(grep -E -- "$pattern" <<<"$err")" \
		-a "$(wc -l <<<"$err")" -eq 1 -a -z "$out"
	$can_fake || return 0
	nb_run_case 60 unshare -m sh -c "$(fake_host none); exec $(q $nestbox "$@")"
	expect "${name}_nokvm" "$what, the same on a host without KVM" "$status" -eq 125 \
		-a "$err" = "$first" -a -z "$out"
}

diag diag_missing_kernel "missing kernel names the file and the fix" \
	'kernel /nonexistent/vmlinux.*(make|--kernel)' run --kernel /nonexistent/vmlinux $rootfs -- true
diag diag_corrupt_kernel "a file that is no kernel is refused" \
	'not an ELF|bzImage' run --kernel "$junk" $rootfs -- true
diag diag_truncated_kernel "a truncated vmlinux is refused" \
	'kernel .*truncated' run --kernel "$nb_tmp/truncated" $rootfs -- true
diag diag_kernel_too_big "a kernel larger than guest RAM is refused with sizes" \
	'outside guest RAM.*MiB' run --kernel "$nb_tmp/big" --memory 64m $rootfs -- true
diag diag_bad_memory "a bad --memory value is explained" \
	'--memory 5m: use 6 MiB' run --memory 5m $rootfs -- true
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
diag diag_missing_image "a missing image names the reference" \
	'no-such-layout' run ./no-such-layout:latest -- true
diag diag_long_kernel_args "an over-long --kernel-args is refused with the room left" \
	'--kernel-args is 5000 bytes' run --kernel-args "$(head -c 5000 /dev/zero | tr '\0' x)" $rootfs -- true
diag diag_unknown_subcommand "an unknown subcommand points to --help" \
	'--help' frobnicate

# The KVM diagnosis names each kind of host (fake_host above). The real
# host's kind is whatever this machine is; the others are simulated.
if $can_fake; then
	# Everything but /dev/kvm readable by an unprivileged user.
	mkdir -p "$nb_tmp/open/rootfs/bin"
	cp build/vmlinux $nestbox build/nestbox-init "$nb_tmp/open/"
	chmod -R a+rX "$nb_tmp"
	open=$nb_tmp/open
	host_case() {
		local name=$1 kind=$2 what=$3 pattern=$4 user=()
		[ "$kind" = noperm ] && user=(setpriv --reuid 65534 --regid 65534 --clear-groups)
		nb_run_case 60 unshare -m sh -c "$(fake_host "$kind"); exec $(q "${user[@]}" \
			"$open/nestbox" run --kernel "$open/vmlinux" --init "$open/nestbox-init" \
			"$open/rootfs" -- true)"
		expect "$name" "$what" "$status" -eq 125 -a -n "$(grep -E -- "$pattern" <<<"$err")" \
			-a "$(wc -l <<<"$err")" -eq 1 -a -z "$out"
	}
	host_case diag_host_none none "no /dev/kvm and no PVM: no KVM, and what to do" \
		'/dev/kvm does not exist: this host has no KVM.*modprobe.*tests/testhost/run'
	host_case diag_host_pvm_nodev pvm-nodev "PVM module without a device: both named" \
		'/dev/kvm does not exist: .*PVM module \(kvm_pvm\).*tests/testhost/run'
	host_case diag_host_pvm pvm "a PVM /dev/kvm refuses a Linux guest with the PVM explanation, not a hang" \
		'cannot boot a Linux guest here: .*PVM.*tests/testhost/run'
	host_case diag_host_noperm noperm "no permission on /dev/kvm is diagnosed" \
		'permission denied opening /dev/kvm.*group'
	host_case diag_host_nodriver nodriver "a /dev/kvm with no driver behind it is diagnosed" \
		'/dev/kvm exists but no KVM driver answers'

	# tests/testhost/run classifies the host as nestbox does (vmm/kvm/kvm.c's
	# kind names) to say why it runs CMD in the emulated test host.
	testhost_kind() {
		local kind=$1 want=$2 user=()
		[ "$kind" = noperm ] && user=(setpriv --reuid 65534 --regid 65534 --clear-groups)
		nb_run_case 30 unshare -m sh -c "$(fake_host "$kind"); exec $(q "${user[@]}" \
			"$PWD/tests/testhost/run" --host-kind)"
		expect "testhost_kind_${kind//-/_}" "tests/testhost/run --host-kind says $want on a $kind host" \
			"$status" -eq 0 -a "${out%%:*}" = "$want" -a "$(wc -l <<<"$out")" -eq 1
	}
	testhost_kind none none
	testhost_kind pvm-nodev pvm-without-device
	testhost_kind pvm pvm
	testhost_kind noperm no-permission
	testhost_kind nodriver no-driver
else
	for t in none pvm_nodev pvm noperm nodriver; do
		skip "diag_host_$t" "simulating a host kind needs root, unshare and setpriv"
		skip "testhost_kind_$t" "simulating a host kind needs root, unshare and setpriv"
	done
fi

debris_after=$(debris)
expect diag_no_debris "failed runs leave nothing in /tmp or /dev/shm" "$debris_before" = "$debris_after"
