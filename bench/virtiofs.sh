#!/usr/bin/env bash
# Shared directories: nestbox's virtio-fs (served by the VMM) vs QEMU
# -M microvm with -device virtio-9p-device (9p2000.L, msize 512000,
# cache=loose unless NESTBOX_BENCH_9P_CACHE says otherwise), same vmlinux,
# same nestbox-init, same guest workload, side by side in the emulated test
# host (absolute numbers there are not hardware numbers: read the ratios).
# In one VM per run the guest, on the share:
#   - untars a source tree (a tarball of TREE, default /usr/include/linux, read
#     from the share) into it,
#   - runs find + stat over a copy of the tree the host unpacked (cold),
#   - writes a 256 MiB file sequentially (dd bs=1M, then sync),
#   - reads a 256 MiB file the host wrote (cold) sequentially,
#   - does 1000 reads of 4 KiB at random offsets of it with O_DIRECT
#     (tests/guest/blkread.c: one request each, queue depth 1).
# Each VMM gets a fresh copy of the share in the test host's tmpfs: this
# measures the device path, not a disk. Times are taken inside the guest.
# 9p is slow in the test host (a 9p request costs several times a FUSE one
# there): a run of both takes 15 to 30 minutes. Sizes and the per-VM time
# limit (seconds) can be lowered:
#   bench/virtiofs.sh [RUNS]   NESTBOX_BENCH_TREE=DIR NESTBOX_BENCH_MIB=N NESTBOX_BENCH_LIMIT=S
#                              NESTBOX_BENCH_9P_CACHE=loose|none|mmap
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != --inner ]; then
	make -s build/tests/guest/blkread build/tests/guest/mkinitramfs
	exec tests/testhost/run --timeout $(( ${1:-1} * 2 * ${NESTBOX_BENCH_LIMIT:-1800} + 600 )) \
		bench/virtiofs.sh --inner "${1:-1}"
fi
runs=${2:-1}
limit=${NESTBOX_BENCH_LIMIT:-1800}
cache9p=${NESTBOX_BENCH_9P_CACHE:-loose}
mib=${NESTBOX_BENCH_MIB:-256}
tree=${NESTBOX_BENCH_TREE:-/usr/include/linux}
nrand=1000
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The share as both VMMs start from it.
mkdir -p "$work/seed/ref"
tar -C "$(dirname "$tree")" -cf "$work/seed/src.tar" "$(basename "$tree")"
tar -C "$work/seed/ref" -xf "$work/seed/src.tar"
(yes nestbox-virtiofs-bench || true) | head -c $((mib << 20)) >"$work/seed/in.bin"
files=$(find "$work/seed/ref" -type f | wc -l)
tar_mib=$(( $(stat -c %s "$work/seed/src.tar") >> 20 ))
cp -a build/rootfs-busybox "$work/rootfs"
cp build/tests/guest/blkread "$work/rootfs/bin/blkread"

# The guest's workload on the share at $0, $1 the blkread binary; each
# phase prints "NAME START END" from /proc/uptime.
# shellcheck disable=SC2016 # expanded by the guest's shell
workload='cd "$0"
t() { n=$1; shift; read a _ </proc/uptime; "$@"; read b _ </proc/uptime; echo "phase $n $a $b"; }
t untar tar -xf src.tar -C .
t stat sh -c "find ref | xargs stat >/dev/null"
t write sh -c "dd if=/dev/zero of=out.bin bs=1M count='"$mib"' 2>/dev/null && sync"
t read sh -c "cat in.bin >/dev/null"
"$1" rand in.bin '"$nrand"'
echo bench-done'
bb=/rootfs/bin/busybox
build/tests/guest/mkinitramfs -o "$work/initrd" -i build/nestbox-init -r "$work/rootfs" \
	-g / -- $bb sh -c "$bb mkdir -p /mnt && $bb mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=$cache9p share /mnt &&
		$bb sh -c '$workload' /mnt /rootfs/bin/blkread" >/dev/null
# shellcheck source=bench/lib/cmdline.sh
. bench/lib/cmdline.sh
nb_guest_cmdline
cmdline="$nb_cmdline"

# Run CMD until its output says bench-done (at most $limit s), then kill it.
until_done() {
	local out=$1 pid end=$((SECONDS + limit))
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
# "UNTAR STAT WRITE READ RAND" seconds from a run's output (nothing if it failed).
result() {
	local line
	line=$(awk '$1 == "phase" { printf "%.3f ", $4 - $3 } $1 == "rand" { printf "%s", $3 }' "$1")
	[ "$(wc -w <<<"$line")" -eq 5 ] && echo "$line"
	return 0
}
fresh() {
	rm -rf "$work/share"
	cp -a "$work/seed" "$work/share"
}
for i in $(seq "$runs"); do
	echo "# run $i/$runs: nestbox ($(date +%T))" >&2
	fresh
	until_done "$work/nb.out" build/nestbox run -v "$work/share:/mnt" "$work/rootfs" -- \
		/bin/sh -c "$workload" /mnt /bin/blkread
	result "$work/nb.out" >>"$work/nb.res"
	echo "# run $i/$runs: qemu ($(date +%T))" >&2
	fresh
	until_done "$work/qe.out" qemu-system-x86_64 -enable-kvm -cpu host \
		-M microvm,x-option-roms=off,rtc=off,acpi=off -m 512 -smp 1 -nodefaults -no-user-config \
		-display none -serial stdio -no-reboot \
		-fsdev local,id=fs0,path="$work/share",security_model=passthrough \
		-device virtio-9p-device,fsdev=fs0,mount_tag=share \
		-kernel build/vmlinux -initrd "$work/initrd" -append "$cmdline"
	result "$work/qe.out" >>"$work/qe.res"
	for f in nb qe; do
		grep -aq '^bench-done' "$work/$f.out" ||
			{ echo "# $f run $i failed:" >&2; tail -5 "$work/$f.out" >&2; }
	done
	echo "# run $i/$runs: nestbox $(tail -1 "$work/nb.res" 2>/dev/null), qemu $(tail -1 "$work/qe.res" 2>/dev/null) (untar stat write read rand s)" >&2
done
python3 - "$work/nb.res" "$work/qe.res" "$mib" "$nrand" "$files" "$tar_mib" "$tree" "$cache9p" <<'PY'
import statistics, sys
nbf, qef, mib, nrand, files, tar_mib, tree, cache9p = sys.argv[1:9]
mib, nrand, files, tar_mib = int(mib), int(nrand), int(files), int(tar_mib)
def meds(path):
    try:
        rows = [[float(x) for x in l.split()] for l in open(path) if l.strip()]
    except FileNotFoundError:
        rows = []
    return [statistics.median(r[i] for r in rows) for i in range(5)] if rows else [None] * 5, len(rows)
(nb, n_nb), (qe, n_qe) = meds(nbf), meds(qef)
# (name, unit, per): rates are per / seconds, so higher is better everywhere.
rows = [
    (f"untar {tree} ({files} files, {tar_mib} MiB), files/s", files),
    (f"find + stat over it (cold), files/s", files),
    (f"seq write {mib} MiB + sync, MiB/s", mib),
    (f"seq read {mib} MiB (cold), MiB/s", mib),
    (f"4 KiB random read, O_DIRECT, IOPS", nrand),
]
print(f"shared directory in the emulated test host: nestbox virtio-fs vs QEMU microvm "
      f"virtio-9p (9p2000.L, msize 512000, cache={cache9p}); median of {n_nb} / {n_qe} run(s); "
      f"ratio = nestbox / qemu, above 1: nestbox ahead")
print(f"{'':58}{'nestbox':>10}{'qemu 9p':>10}{'ratio':>8}")
for i, (name, per) in enumerate(rows):
    a = per / nb[i] if nb[i] else None
    b = per / qe[i] if qe[i] else None
    fa = f"{a:10.1f}" if a else f"{'-':>10}"
    fb = f"{b:10.1f}" if b else f"{'-':>10}"
    fr = f"{a / b:8.2f}" if a and b else f"{'-':>8}"
    print(f"{name:58}{fa}{fb}{fr}")
PY
