#!/usr/bin/env bash
# virtio-blk read throughput, nestbox vs QEMU -M microvm (virtio-blk-device),
# same vmlinux, same nestbox-init, same guest workload, side by side in the
# emulated test host (absolute numbers there are not hardware numbers: read
# the ratios). In one VM per run the guest
#   - reads a 32 MiB file sequentially with cat (cold guest page cache),
#   - then does 1000 reads of 4 KiB at random offsets with O_DIRECT
#     (tests/guest/blkread.c: one virtio request each, queue depth 1).
# The image sits in the test host's tmpfs: this measures the virtio path,
# not a disk. Times are taken inside the guest.
#   bench/virtio.sh [RUNS]
set -euo pipefail
# QEMU: acpi=off, or microvm describes its virtio-mmio devices only in ACPI,
# which the guest kernel (no ACPI) never reads; then it adds them to the
# kernel command line as nestbox does.
cd "$(dirname "$0")/.."
if [ "${1:-}" != --inner ]; then
	make -s build/tests/guest/blkread
	exec tests/testhost/run --timeout 1500 bench/virtio.sh --inner "${1:-3}"
fi
runs=${2:-3}
mib=32
nrand=1000
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir "$work/fs"
(yes nestbox-virtio-bench || true) | head -c $((mib << 20)) >"$work/fs/big" # not zeros: mke2fs -d makes zeros sparse
mkfs.ext4 -q -F -d "$work/fs" "$work/disk.img" $((mib + 40))M
rm -rf "$work/fs"
cp -a build/rootfs-busybox "$work/rootfs"
cp build/tests/guest/blkread "$work/rootfs/bin/blkread"

# The guest's workload on the file system at $0 ($1: cat, $2: blkread).
# shellcheck disable=SC2016 # expanded by the guest's shell
workload() {
	echo 'read a _ </proc/uptime; '"$1"' "$0"/big >/dev/null; read b _ </proc/uptime;
	echo "secs $a $b"; '"$2"' rand "$0"/big '$nrand'; echo bench-done'
}
bb=/rootfs/bin/busybox
build/tests/guest/mkinitramfs -o "$work/initrd" -i build/nestbox-init -r "$work/rootfs" \
	-g / -- $bb sh -c "$bb mkdir -p /mnt && $bb mount -t ext4 -o ro /dev/vda /mnt &&
		$bb sh -c '$(workload "$bb cat" /rootfs/bin/blkread)' /mnt" >/dev/null
# shellcheck source=bench/lib/cmdline.sh
. bench/lib/cmdline.sh
nb_guest_cmdline
cmdline="$nb_cmdline"

# Run CMD until its output says bench-done (at most 300 s), then kill it:
# a QEMU microvm guest that resets afterwards can spin in the test host
# (TESTHOST.md).
until_done() {
	local out=$1 pid end=$((SECONDS + 300))
	shift
	"$@" >"$out" 2>&1 </dev/null &
	pid=$!
	while [ $SECONDS -lt $end ]; do
		grep -aq '^bench-done' "$out" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.5
	done
	kill $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
}
# "SEQ_SECS RAND_SECS" from a run's output (nothing if it failed).
result() {
	local seq rand
	seq=$(grep -ao 'secs [0-9.]* [0-9.]*' "$1" | awk '{ printf "%.2f", $3 - $2 }' || true)
	rand=$(grep -ao "^rand $nrand [0-9.]*" "$1" | awk '{ print $3 }' || true)
	[ -n "$seq" ] && [ -n "$rand" ] && echo "$seq $rand"
	return 0
}
for i in $(seq "$runs"); do
	echo "# run $i/$runs: nestbox ($(date +%T))" >&2
	until_done "$work/nb.out" build/nestbox run -v "$work/disk.img:/data:ro" "$work/rootfs" -- \
		/bin/sh -c "$(workload cat /bin/blkread)" /data
	result "$work/nb.out" >>"$work/nb.res"
	echo "# run $i/$runs: qemu ($(date +%T))" >&2
	until_done "$work/qe.out" qemu-system-x86_64 -enable-kvm -cpu host \
		-M microvm,x-option-roms=off,rtc=off,acpi=off -m 512 -smp 1 -nodefaults -no-user-config \
		-display none -serial stdio -no-reboot \
		-drive id=d0,file="$work/disk.img",format=raw,if=none,readonly=on \
		-device virtio-blk-device,drive=d0 \
		-kernel build/vmlinux -initrd "$work/initrd" -append "$cmdline"
	result "$work/qe.out" >>"$work/qe.res"
	for f in nb qe; do
		grep -aq '^bench-done' "$work/$f.out" ||
			{ echo "# $f run $i failed:" >&2; tail -5 "$work/$f.out" >&2; }
	done
	echo "# run $i/$runs: nestbox $(tail -1 "$work/nb.res"), qemu $(tail -1 "$work/qe.res") (seq s, rand s)" >&2
done
python3 - "$work/nb.res" "$work/qe.res" "$mib" "$nrand" <<'PY'
import statistics, sys
def med(path, col):
    v = [float(l.split()[col]) for l in open(path) if l.strip()]
    return statistics.median(v) if v else None
mib, nrand = int(sys.argv[3]), int(sys.argv[4])
nb = [med(sys.argv[1], 0), med(sys.argv[1], 1)]
qe = [med(sys.argv[2], 0), med(sys.argv[2], 1)]
def rate(secs, per):
    return per / secs if secs else None
rows = [
    (f"seq read {mib} MiB (cat), MiB/s", rate(nb[0], mib), rate(qe[0], mib)),
    (f"4 KiB random read, O_DIRECT, IOPS", rate(nb[1], nrand), rate(qe[1], nrand)),
]
n = sum(1 for _ in open(sys.argv[1]))
print(f"virtio-blk in the emulated test host, median of {n} run(s); ratio = nestbox / qemu")
print(f"{'':38}{'nestbox':>10}{'qemu microvm':>14}{'ratio':>8}")
for name, a, b in rows:
    fa = f"{a:10.1f}" if a else f"{'-':>10}"
    fb = f"{b:14.1f}" if b else f"{'-':>14}"
    fr = f"{a / b:8.2f}" if a and b else f"{'-':>8}"
    print(f"{name:38}{fa}{fb}{fr}")
PY
