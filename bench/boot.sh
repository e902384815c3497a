#!/usr/bin/env bash
# Boot time: process start to nestbox-init's first line, nestbox vs QEMU
# `-M microvm` booting the same vmlinux and the same initramfs on the same
# KVM, side by side (A B A B ...), median of N. On a PVM host both run inside
# the emulated test host, where absolute times are not hardware boot times:
# read the ratio. Also: guest uptime at that line and VM exits so far.
#
#   bench/boot.sh [RUNS]          (default 5; build with `make tests` first)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}

if [ "${1:-}" != --inner ]; then
	exec tests/testhost/run bench/boot.sh --inner "$runs"
fi
runs=${2:-5}

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null || true
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

marker="nestbox-init: started"
# shellcheck source=bench/lib/cmdline.sh
. bench/lib/cmdline.sh
nb_guest_cmdline
cmdline="$nb_cmdline nestbox.debug"
workload=(/bin/sh -c 'echo ready')
build/tests/guest/mkinitramfs -o "$work/initrd" -i build/nestbox-init -r build/rootfs-busybox \
	-- "${workload[@]}" >/dev/null

nestbox_cmd=(build/nestbox run --memory 512m --kernel-args nestbox.debug build/rootfs-busybox
	-- "${workload[@]}")
# shellcheck disable=SC2054 # commas are QEMU syntax
qemu_cmd=(qemu-system-x86_64 -enable-kvm -cpu host -M microvm,x-option-roms=off,rtc=off
	-m 512 -smp 1 -nodefaults -no-user-config -display none -serial stdio
	-kernel build/vmlinux -initrd "$work/initrd" -append)
# QEMU is given nestbox's command line, ioapic_fresh included (its IOAPIC,
# KVM's, comes out of reset too), and, as a third column, without it: the
# kernel as any VMM boots it (images/kernel/patches/ioapic-fresh.patch).
stock=${cmdline/ ioapic_fresh/}
[ "$stock" != "$cmdline" ] || { echo "bench/boot.sh: no ioapic_fresh in nestbox's command line: $cmdline" >&2; exit 1; }

for i in $(seq "$runs"); do
	bench/lib/firstline.py "$marker" 120 "${nestbox_cmd[@]}" >>"$work/nestbox.json"
	bench/lib/firstline.py "$marker" 120 "${qemu_cmd[@]}" "$cmdline" >>"$work/qemu.json"
	bench/lib/firstline.py "$marker" 120 "${qemu_cmd[@]}" "$stock" >>"$work/stock.json"
	echo "# run $i/$runs done" >&2
done

python3 - "$work/nestbox.json" "$work/qemu.json" "$work/stock.json" <<'PY'
import json, statistics, sys

def load(path):
    rows = [json.loads(line) for line in open(path)]
    return [r for r in rows if r["seconds"] is not None], len(rows)

def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None

nb, nb_n = load(sys.argv[1])
qe, qe_n = load(sys.argv[2])
st, st_n = load(sys.argv[3])
print(f"boot to nestbox-init's first line, median of {nb_n} (same vmlinux, same initramfs, same KVM)")
print(f"{'':28}{'nestbox':>10}{'qemu microvm':>14}{'ratio':>7}"
      f"{'qemu, no ioapic_fresh':>23}{'ratio':>7}")

def fmt(v):
    return f"{v:.3f}" if isinstance(v, float) else str(v)

for key, label in (("seconds", "wall from process start, s"),
                   ("guest_uptime_ms", "guest uptime at line, ms"),
                   ("kvm_exits", "VM exits so far")):
    a, b, c = med(nb, key), med(qe, key), med(st, key)
    rb = f"{a / b:.2f}" if a and b else "-"
    rc = f"{a / c:.2f}" if a and c else "-"
    print(f"{label:28}{fmt(a):>10}{fmt(b):>14}{rb:>7}{fmt(c):>23}{rc:>7}")
if len(nb) < nb_n or len(qe) < qe_n or len(st) < st_n:
    print(f"(runs that never printed the line: nestbox {nb_n - len(nb)}, qemu {qe_n - len(qe)}, "
          f"qemu without ioapic_fresh {st_n - len(st)})")
PY
