#!/usr/bin/env bash
# virtio-blk sequential read, nestbox vs QEMU -M microvm, same vmlinux and
# nestbox-init, in the emulated test host (absolute numbers there are not
# hardware numbers: compare side by side). The guest reads a 128 MiB file
# from an ext4 image (cold guest page cache; the image sits in the test
# host's tmpfs, so this measures the virtio path, not a disk).
#   bench/virtio.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != --inner ]; then
	exec tests/testhost/run --timeout 1200 bench/virtio.sh --inner "${1:-3}"
fi
runs=${2:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir "$work/fs"
(yes nestbox-virtio-bench || true) | head -c $((128 << 20)) >"$work/fs/big" # not zeros: mke2fs -d makes zeros sparse
mkfs.ext4 -q -F -d "$work/fs" "$work/disk.img" 200M

# The guest command: time a cold read of $0/big ($1 is the cat to use).
# shellcheck disable=SC2016 # expanded by the guest's shell
reader() { echo "read a _ </proc/uptime; $1 \"\$0\"/big >/dev/null; read b _ </proc/uptime; echo \"secs \$a \$b\""; }
bb=/rootfs/bin/busybox
build/tests/guest/mkinitramfs -o "$work/initrd" -i build/nestbox-init -r build/rootfs-busybox \
	-g / -- $bb sh -c "$bb mkdir -p /mnt && $bb mount -t ext4 -o ro /dev/vda /mnt &&
		$bb sh -c '$(reader "$bb cat")' /mnt" >/dev/null
cmdline="$(build/nestbox version | sed -n 's/^guest kernel command line: //p')"

secs() { grep -ao 'secs [0-9.]* [0-9.]*' "$1" | awk '{ printf "%.2f\n", $3 - $2 }'; }
# Run CMD until its output has the secs line, then kill it: a QEMU microvm
# guest that resets afterwards can spin in the test host (TESTHOST.md).
until_secs() {
	local out=$1 pid
	shift
	"$@" >"$out" 2>&1 </dev/null &
	pid=$!
	for _ in $(seq 3000); do
		grep -aq 'secs [0-9]' "$out" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null || true
}
for i in $(seq "$runs"); do
	until_secs "$work/nb.out" build/nestbox run -v "$work/disk.img:/data:ro" build/rootfs-busybox -- \
		/bin/sh -c "$(reader cat)" /data
	secs "$work/nb.out" >>"$work/nb.secs"
	until_secs "$work/qe.out" qemu-system-x86_64 -enable-kvm -cpu host \
		-M microvm,x-option-roms=off,rtc=off -m 512 -smp 1 -nodefaults -no-user-config \
		-display none -serial stdio -no-reboot \
		-drive id=d0,file="$work/disk.img",format=raw,if=none,readonly=on \
		-device virtio-blk-device,drive=d0 \
		-kernel build/vmlinux -initrd "$work/initrd" -append "$cmdline"
	secs "$work/qe.out" >>"$work/qe.secs"
	[ -s "$work/qe.secs" ] || { echo "# qemu output:" >&2; tail -5 "$work/qe.out" >&2; }
	echo "# run $i/$runs: nestbox $(tail -1 "$work/nb.secs") s, qemu $(tail -1 "$work/qe.secs") s" >&2
done
python3 - "$work/nb.secs" "$work/qe.secs" <<'PY'
import statistics, sys
def med(p):
    v = [float(x) for x in open(p).read().split()]
    return statistics.median(v) if v else None
nb, qe = med(sys.argv[1]), med(sys.argv[2])
print("virtio-blk sequential read of 128 MiB (guest cat, cold guest cache), median")
for name, s in (("nestbox", nb), ("qemu microvm", qe)):
    print(f"{name:14} {s if s is not None else '-':>8} s  {128 / s if s else 0:8.1f} MiB/s")
if nb and qe:
    print(f"ratio nestbox/qemu throughput: {qe / nb:.2f}")
PY
