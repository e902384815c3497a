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
       pid_namespace rootfs_mounts signal_forward reaps_orphans
       namespaces_separate namespaces_net_user cgroup_limits oom_kill pids_limit cpu_throttle
       caps_dropped caps_added seccomp_deny user_workdir user_by_name masked_paths init_hidden
       read_only_tmpfs hostname rlimits seccomp_default chroot_escape tty)
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
# A user and groups for the -u cases, resolved by nestbox-init in the image.
echo 'app:x:1000:1000:app:/home/app:/bin/sh' >>"$work/rootfs/etc/passwd"
printf 'app:x:1000:\nextra:x:2000:root,app\n' >>"$work/rootfs/etc/group"
chmod 755 "$work/rootfs" # as in an image; mktemp made it 0700
command -v musl-gcc >/dev/null &&
    musl-gcc -static -O2 -o "$work/rootfs/bin/chroot-escape" "$repo/tests/guest/chroot-escape.c"

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
    [ -n "${NB_GUEST_KEEP:-}" ] && cp "$work/$name.txt" "$NB_GUEST_KEEP/"
    [ $rc = 124 ] && echo "(timed out after ${timeout_s}s)" >>"$work/$name.txt"
    return 0
}

# expect NAME STATUS LINE... : every LINE (fixed string) must appear.
expect() {
    local name=$1 status=$2; shift 2
    local out=$work/$name.txt line
    grep -qF "nestbox-init: reporting status $status " "$out" || {
        # A kernel complaint says more than the last lines of its trace.
        local oops
        oops=$(grep -m1 -E 'BUG:|WARNING:|Oops|Kernel panic|watchdog:|rcu:' "$out" | tr -d '\n')
        echo "not ok $name: no 'reporting status $status':${oops:+ first complaint '$oops';} $(tail -n 3 "$out" | tr '\n' '|')"
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

# not_in NAME TEXT: TEXT must not appear in the workload's output.
not_in() {
    if grep -av '^nestbox-init: ' "$work/$1.txt" | grep -aqF -- "$2"; then
        echo "not ok $1: unexpected '$2'"; return 1
    fi
}

# ns_differ NAME "DIFFERENT..." "SAME...": compare the workload's
# /proc/self/ns links (wl-NS lines) with init's (its "ns init" debug line).
ns_differ() {
    local name=$1 out=$work/$1.txt n init wl
    for n in $2; do
        init=$(grep -o " $n:\[[0-9]*\]" "$out" | head -n 1 | tr -d ' ')
        wl=$(sed -n "s/^wl-$n //p" "$out" | head -n 1)
        if [ -z "$init" ] || [ -z "$wl" ] || [ "$init" = "$wl" ]; then
            echo "not ok $name: $n namespace not separate (init '$init', workload '$wl')"
            return 1
        fi
    done
    for n in $3; do
        init=$(grep -o " $n:\[[0-9]*\]" "$out" | head -n 1 | tr -d ' ')
        wl=$(sed -n "s/^wl-$n //p" "$out" | head -n 1)
        if [ -z "$init" ] || [ "$init" != "$wl" ]; then
            echo "not ok $name: $n namespace should be init's (init '$init', workload '$wl')"
            return 1
        fi
    done
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
                "env:bar:/root:linux:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" ;;
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
    namespaces_separate)
        boot "$name" -- sh -c 'for n in mnt pid uts ipc cgroup net user; do
            echo "wl-$n $(readlink /proc/self/ns/$n)"; done' &&
            expect "$name" 0 && ns_differ "$name" "mnt pid uts ipc cgroup" "net user" ;;
    namespaces_net_user)
        boot "$name" -N net,user -- sh -c 'for n in mnt pid uts ipc cgroup net user; do
            echo "wl-$n $(readlink /proc/self/ns/$n)"; done; id -u' &&
            expect "$name" 0 && ns_differ "$name" "mnt pid uts ipc cgroup net user" "" ;;
    cgroup_limits)
        # The container sees its own group at /sys/fs/cgroup, read-only.
        boot "$name" -m 33554432 -p 50 -C 50000:100000 -- sh -c 'cd /sys/fs/cgroup;
            echo "mem:$(cat memory.max) swap:$(cat memory.swap.max) pids:$(cat pids.max)";
            echo "cpu:$(cat cpu.max) procs:$(head -n 1 cgroup.procs)";
            echo 1 > pids.max 2>/dev/null || echo cgroup-ro' &&
            expect "$name" 0 "mem:33554432 swap:0 pids:50" "cpu:50000 100000 procs:1" cgroup-ro ;;
    oom_kill)
        boot "$name" -m 16777216 -- sh -c 'x=$(head -c 64000000 /dev/zero | tr "\0" a);
            echo survived' &&
            expect "$name" 137 \
                "nestbox-init: container killed: out of memory (memory.max 16777216 bytes)" &&
            not_in "$name" survived ;;
    pids_limit)
        # 64 background sleeps against pids.max 16: forks fail, the loop ends.
        # ash exits when a fork fails: the loop runs in a subshell.
        boot "$name" -p 16 -- sh -c '(for i in $(seq 64); do sleep 3 & done) 2>/dev/null;
            read cur < /sys/fs/cgroup/pids.current;
            while read k v; do [ "$k" = max ] && [ "$v" -gt 0 ] && echo pids-limited; done \
                < /sys/fs/cgroup/pids.events;
            [ "$cur" -le 16 ] && echo "pids-at-most-16"; exit 0' &&
            expect "$name" 0 pids-limited pids-at-most-16 ;;
    cpu_throttle)
        boot "$name" -C 10000:100000 -- sh -c 'i=0; while [ $i -lt 5000 ]; do i=$((i+1)); done;
            while read k v; do [ "$k" = nr_throttled ] && [ "$v" -gt 0 ] && echo throttled;
            done < /sys/fs/cgroup/cpu.stat; exit 0' &&
            expect "$name" 0 throttled ;;
    caps_dropped)
        # Docker's default set; no CAP_SYS_ADMIN (mount), CAP_SYS_BOOT (reboot).
        boot "$name" -- sh -c 'grep -E "^Cap(Eff|Bnd|Inh|Amb)" /proc/self/status;
            mkdir -p /tmp/m; mount -t tmpfs x /tmp/m 2>&1; reboot -f 2>&1; echo after-reboot' &&
            expect "$name" 0 "CapEff:	00000000a80425fb" "CapBnd:	00000000a80425fb" \
                "CapInh:	0000000000000000" "CapAmb:	0000000000000000" \
                "mount: permission denied" "reboot: (null): Operation not permitted" after-reboot ;;
    caps_added)
        boot "$name" -c 0xa82425fb -- sh -c 'mkdir /tmp/m; mount -t tmpfs x /tmp/m && echo mounted' &&
            expect "$name" 0 mounted ;;
    seccomp_deny)
        boot "$name" -S mkdir,mkdirat -- sh -c 'mkdir /tmp/x 2>&1; touch /tmp/y && echo touched' &&
            expect "$name" 0 "Operation not permitted" touched ;;
    user_workdir)
        boot "$name" -u 1234:5678 -W /work/dir -- sh -c 'echo "ids:$(id -u):$(id -g) pwd:$(pwd)";
            grep CapEff /proc/self/status' &&
            expect "$name" 0 "ids:1234:5678 pwd:/work/dir" "CapEff:	0000000000000000" ;;
    user_by_name)
        boot "$name" -u app -- sh -c 'echo "ids:$(id -u):$(id -g):$(id -G) home:$HOME"' &&
            expect "$name" 0 "ids:1000:1000:1000 2000 home:/home/app" ;;
    masked_paths)
        # (this kernel has no /proc/kcore, /proc/keys or /proc/sysrq-trigger)
        boot "$name" -- sh -c 'echo "timer_list:$(wc -c < /proc/timer_list)";
            echo "firmware:$(ls -A /sys/firmware | wc -l)";
            echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo procsys-ro;
            touch /sys/kernel/x 2>/dev/null || echo sys-ro; echo done' &&
            expect "$name" 0 "timer_list:0" "firmware:0" procsys-ro sys-ro done ;;
    init_hidden)
        # Init's /proc would show PID 1 = nestbox-init; the container has its own.
        boot "$name" -- sh -c 'ls /; test -e /nestbox || echo no-spec-dir;
            test -e /init || echo no-init; cat /proc/1/cmdline; echo;
            test -e /dev/console || echo no-console; ls /dev' &&
            expect "$name" 0 no-spec-dir no-init no-console "shm" &&
            not_in "$name" "nestbox-init" ;;
    read_only_tmpfs)
        boot "$name" -R -t /scratch -- sh -c 'touch /x 2>/dev/null || echo root-ro;
            touch /scratch/y && echo tmpfs-rw; touch /tmp/z 2>/dev/null || echo tmp-ro' &&
            expect "$name" 0 root-ro tmpfs-rw tmp-ro ;;
    tty)
        # -t: the pty comes from the container's devpts, sized by the spec,
        # and is its controlling terminal; init relays it to the console.
        boot "$name" -T 33x101 -- sh -c 'echo "tty:$(tty)"; echo "size:$(stty size)";
            echo "err:$(readlink /proc/self/fd/2)" >&2; set -- $(cat /proc/$$/stat);
            echo "ctty:$7"; exit 3' &&
            expect "$name" 3 "tty:/dev/pts/0" "size:33 101" "err:/dev/pts/0" "ctty:34816" ;;
    hostname)
        boot "$name" -H box-1.test -- sh -c 'echo "host:$(hostname):$HOSTNAME"' &&
            expect "$name" 0 "host:box-1.test:box-1.test" ;;
    rlimits)
        # RLIMIT_NOFILE is 7; the default is 1048576.
        boot "$name" -l 7:64:128 -- sh -c 'echo "nofile:$(ulimit -n):$(ulimit -Hn)"' &&
            expect "$name" 0 "nofile:64:128" ;;
    chroot_escape)
        # The container root is MS_MOVEd onto the initramfs root, so ".."
        # never reaches the covered root (the kernel skips mountpoints that
        # are a parent mount's root): the escape stays in the container. Were
        # it to get out, init's entries are covered there too.
        [ -x "$work/rootfs/bin/chroot-escape" ] || { echo "skip $name: no musl-gcc"; return 0; }
        boot "$name" -- chroot-escape &&
            expect "$name" 0 escape:same-root spec:absent init-bytes:0 "proc1:chroot-escape" &&
            not_in "$name" "proc1:/init" ;;
    seccomp_default)
        # Docker's default profile allows syslog(2) only with CAP_SYSLOG: dmesg,
        # which needs no capability here (dmesg_restrict 0), is denied by it.
        boot "${name}_off" -- sh -c 'echo "restrict:$(cat /proc/sys/kernel/dmesg_restrict)";
            dmesg >/dev/null && echo dmesg-ok' &&
            expect "${name}_off" 0 "restrict:0" dmesg-ok >/dev/null &&
            boot "$name" -D -- sh -c 'dmesg >/dev/null 2>&1 || echo dmesg-denied;
                echo still-running' &&
            expect "$name" 0 dmesg-denied still-running ;;
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
