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

# ---- the command line as a Docker user types it (issue 15) --------------------
# Docker's --init is a flag: the word after it is the IMAGE, not its value.
diag diag_init_is_a_flag "run --init IMAGE CMD: --init takes no value, IMAGE is named" \
	'no-such-image-dir' run --init ./no-such-image-dir true
nb_run_case 30 $nestbox run --init ./no-such-image-dir true
expect diag_init_not_pulled "run --init IMAGE true does not take 'true' for the image" \
	"$status" -eq 125 -a -z "$(grep -F "'true'" <<<"$err")" -a -z "$(grep -F ' true' <<<"$err")"
diag diag_ref_uppercase "an uppercase repository name is refused as Docker does" \
	'must be lowercase' run Alpine:3 true
diag diag_ref_bad_tag "a bad tag is named" "tag '-x'" pull 'alpine:-x'
diag diag_ref_bad_digest "a bad digest is named" 'digest' pull 'alpine@sha256:123'
diag diag_ref_image_id "a 64-hex name is an id, not a repository" 'image id' \
	pull 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
diag diag_oci_no_path "oci: without PATH is explained" 'missing PATH' run oci: true
diag diag_oci_bad_tag "oci:PATH:TAG with a bad TAG is explained" "TAG 'a/b'" run oci:dir:a/b true
diag diag_oci_not_dir "oci:FILE is not a layout directory" 'not a directory' \
	pull "oci:$junk"
diag diag_docker_archive_digest "docker-archive:PATH:REF with a digest is explained" \
	'names a digest' run "docker-archive:x.tar:a@sha256:$(printf '%064d' 0)" true
diag diag_pull_missing "pull without IMAGE says so" 'missing IMAGE' pull
diag diag_pull_unknown_option "an unknown pull option is named" "'--frob'" pull --frob x
diag diag_images_bad_format "images --format other than json is explained" \
	'only --format is json' images --format '{{.ID}}'
diag diag_images_unknown_option "an unknown images option is named" "'--all'" images --all
diag diag_rmi_no_arg "rmi without IMAGE says so" 'give one IMAGE' rmi
diag diag_version_bad_format "version --format other than json is explained" \
	'only format is json' version --format yaml
diag diag_info_extra "info with an extra argument names it" "'extra'" info extra
diag diag_gc_extra "gc with an argument says it takes none" 'gc takes no arguments' gc now

# Every command has --help: its usage on stdout, status 0, nothing on stderr.
for cmd in run pull images rmi prune login logout gc version info seccomp-dump; do
	nb_run_case 30 $nestbox "$cmd" --help
	expect "diag_help_${cmd//-/_}" "nestbox $cmd --help prints its usage" "$status" -eq 0 \
		-a "$(head -1 <<<"$out" | cut -d' ' -f1-2)" = "Usage: nestbox" \
		-a -n "$(grep -F -- "$cmd" <<<"$out")" -a -z "$err"
done
nb_run_case 30 $nestbox run --help
expect diag_help_run_usage "run --help shows Docker's usage line" \
	"$(head -1 <<<"$out")" = "Usage: nestbox run [OPTIONS] IMAGE [COMMAND] [ARG...]"
nb_run_case 30 $nestbox --help
expect diag_help_commands "nestbox --help lists every command with one line" "$status" -eq 0 \
	-a "$(grep -cE '^  (run|pull|images|rmi|prune|login|logout|gc|version|info) ' <<<"$out")" -eq 10 \
	-a -z "$(grep -F seccomp-dump <<<"$out")" -a -z "$err"
nb_run_case 30 $nestbox
expect diag_no_command "nestbox alone prints the commands and succeeds, as docker" \
	"$status" -eq 0 -a -n "$(grep -E '^  run ' <<<"$out")"
nb_run_case 30 $nestbox --version
expect diag_version_line "nestbox --version is one line: version and ABI" "$status" -eq 0 \
	-a -n "$(grep -xE 'nestbox version [^ ]+, ABI [0-9]+' <<<"$out")" -a "$(wc -l <<<"$out")" -eq 1
nb_run_case 30 $nestbox version --format json
expect diag_version_json "version --format json has the version, ABI, guest kernel (with its base command line) and libraries" \
	"$status-$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(bool(d["Version"]), d["ABIVersion"] >= 1, "Path" in d["GuestKernel"], "reboot=k" in d["GuestKernel"]["CommandLine"], "libseccomp" in d["Libraries"])' <<<"$out" 2>&1)" \
	= "0-True True True True True"
# The benches give QEMU this line from the JSON (bench/lib/cmdline.sh); the
# text form shows it too.
nb_run_case 30 $nestbox version
expect diag_version_cmdline "version shows the guest kernel's base command line in its text form" \
	"$status" -eq 0 -a -n "$(sed -n 's/^  CommandLine: //p' <<<"$out" | grep -F 'console=ttyS0 reboot=k')"
nb_run_case 30 $nestbox info --format json
info_kind=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["KVM"]["Kind"])' <<<"$out" 2>&1)
expect diag_info_json "info --format json names this host's KVM kind as tests/testhost/run does" \
	"$status-$info_kind" = "0-$(tests/testhost/run --host-kind | cut -d: -f1)"
expect diag_info_fields "info --format json has cgroups, run dir and image store" \
	"$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["Cgroup"]["Version"] in ("1","2","none"), bool(d["RunDir"]), "Images" in d["ImageStore"], "CPUs" in d["Host"])' <<<"$out" 2>&1)" \
	= "True True True True"
nb_run_case 30 $nestbox info
expect diag_info_text "info prints Key: value lines" "$status" -eq 0 \
	-a -n "$(grep -E '^KVM:$' <<<"$out")" -a -n "$(grep -E '^  Kind: ' <<<"$out")"

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
			"$open/nestbox" run --kernel "$open/vmlinux" --guest-init "$open/nestbox-init" \
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
