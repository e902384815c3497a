#!/usr/bin/env bash
# Guest tier: boot our kernel under plain QEMU TCG (-M microvm, no nestbox
# VMM, no KVM) with an initramfs of nestbox-init + a busybox rootfs + a spec,
# and check what nestbox-init prints on the console. One line per case:
#   ok NAME | not ok NAME: reason | skip NAME: reason
# Exit status: 0 unless a case failed.
#
# Plain QEMU has no nestbox exit device, so the status is read from the
# `nestbox-init: reporting status N` line that the `nestbox.debug` kernel
# option turns on. reboot=t: nestbox-init ends with reboot(RB_AUTOBOOT), and
# under microvm only a triple fault reaches QEMU as a reset (-no-reboot then
# exits); reboot=k is not caught there.
#
#   tests/guest/run.sh [CASE...]     (env: NB_GUEST_TIMEOUT seconds, default 60)
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$repo/build
helper=$build/tests/guest/mkinitramfs
init_bin=$build/nestbox-init
timeout_s=${NB_GUEST_TIMEOUT:-60}
cases=(hello_status not_found cannot_exec invalid_spec env_defaults signal_status
       pid_namespace rootfs_mounts signal_forward reaps_orphans)
[ $# -gt 0 ] && cases=("$@")

skip_all() {
    for c in "${cases[@]}"; do echo "skip $c: $1"; done
    exit 0
}

# Plain QEMU boots a bzImage, or a vmlinux only if it carries a PVH note.
find_kernel() {
    if [ -f "$build/bzImage" ]; then
        echo "$build/bzImage"
    elif [ -f "$build/vmlinux" ] && readelf -n "$build/vmlinux" 2>/dev/null | grep -q Xen; then
        echo "$build/vmlinux"
    fi
}

command -v qemu-system-x86_64 >/dev/null || skip_all "qemu-system-x86_64 not installed"
kernel=$(find_kernel)
[ -n "$kernel" ] || skip_all "no build/bzImage (or PVH vmlinux); run make"
[ -x "$init_bin" ] || skip_all "no build/nestbox-init; run make"
[ -x /bin/busybox ] && file -L /bin/busybox | grep -q 'statically linked' ||
    skip_all "busybox-static not installed"
[ -x "$helper" ] || { echo "not ok guest: $helper missing (make tests builds it)"; exit 1; }

work=$(mktemp -d /tmp/nb-guest.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$repo/tests/lib/busybox-rootfs.sh" "$work/rootfs" || skip_all "cannot make a busybox rootfs"

# boot NAME MKINITRAMFS_ARGS... : console output in $work/NAME.out
boot() {
    local name=$1; shift
    local cpio=$work/$name.cpio
    if ! "$helper" -o "$cpio" -i "$init_bin" -r "$work/rootfs" "$@" >"$work/$name.out" 2>&1; then
        return 1
    fi
    timeout "$timeout_s" qemu-system-x86_64 -accel tcg -M microvm,x-option-roms=off,rtc=off \
        -m 256 -nographic -no-reboot -kernel "$kernel" -initrd "$cpio" \
        -append "console=ttyS0 reboot=t panic=-1 rdinit=/init quiet nestbox.debug" \
        </dev/null >"$work/$name.out" 2>&1
    local rc=$?
    tr -d '\r' <"$work/$name.out" >"$work/$name.txt"
    [ $rc = 124 ] && echo "(timed out after ${timeout_s}s)" >>"$work/$name.txt"
    return 0
}

# expect NAME STATUS LINE... : every LINE (fixed string) must appear.
expect() {
    local name=$1 status=$2; shift 2
    local out=$work/$name.txt line
    grep -qF "nestbox-init: reporting status $status " "$out" || {
        echo "not ok $name: no 'reporting status $status': $(tail -n 3 "$out" | tr '\n' '|')"
        return 1
    }
    for line in "$@"; do
        grep -qF -- "$line" "$out" || {
            echo "not ok $name: missing '$line': $(tail -n 3 "$out" | tr '\n' '|')"
            return 1
        }
    done
    echo "ok $name"
}

run_case() {
    local name=$1
    case $name in
    hello_status)
        boot "$name" -- sh -c 'echo hello; exit 3' &&
            expect "$name" 3 hello "nestbox-init: workload exited with status 3" ;;
    not_found)
        boot "$name" -- nosuchcmd &&
            expect "$name" 127 "nestbox-init: nosuchcmd: command not found" ;;
    cannot_exec)
        boot "$name" -- /bin &&
            expect "$name" 126 "nestbox-init: /bin: Permission denied" ;;
    invalid_spec)
        head -c 256 /dev/zero | tr '\0' 'x' >"$work/bad.dtb"
        boot "$name" -s "$work/bad.dtb" &&
            expect "$name" 125 "nestbox-init: invalid workload spec: not a valid device tree" ;;
    env_defaults)
        boot "$name" -e FOO=bar -- sh -c 'echo "env:$FOO:$HOME:$TERM:$PATH"' &&
            expect "$name" 0 \
                "env:bar:/:linux:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" ;;
    signal_status)
        # The workload is PID 1 of its own PID namespace, which ignores a
        # signal it has no handler for: the SIGTERM goes to its child, which
        # dies of it, and 143 comes out.
        boot "$name" -- sh -c 'sh -c "kill -TERM \$\$"; exit $?' &&
            expect "$name" 143 ;;
    pid_namespace)
        boot "$name" -- sh -c 'echo "pid:$$:$(ls /proc | grep -c "^[0-9]")"' &&
            expect "$name" 0 "pid:1:" ;;
    rootfs_mounts)
        # chroot: /init is outside the rootfs; proc, sysfs and /dev mounted inside.
        boot "$name" -- sh -c 'test ! -e /init && test -r /proc/self/stat &&
            test -d /sys/kernel && test -c /dev/null && echo mounts-ok' &&
            expect "$name" 0 mounts-ok ;;
    signal_forward)
        # A signal sent to PID 1 (as the VMM will) reaches the workload.
        boot "$name" -- sh -c 'trap "echo got-term; exit 7" TERM; kill -TERM 1;
            sleep 10 & wait' &&
            expect "$name" 7 got-term ;;
    reaps_orphans)
        # The orphaned sleep is re-parented to nestbox-init, which must reap it.
        boot "$name" -- sh -c '(sleep 0.2 &); sleep 2;
            if ps -o stat | grep -q Z; then echo zombie-left; else echo no-zombies; fi' &&
            expect "$name" 0 no-zombies ;;
    *)
        echo "not ok $name: no such case"; return 1 ;;
    esac || {
        [ -f "$work/$name.txt" ] || echo "not ok $name: mkinitramfs: $(cat "$work/$name.out")"
        return 1
    }
}

failed=0
for c in "${cases[@]}"; do
    run_case "$c" || failed=1
done
exit $failed
