#!/usr/bin/env bash
# Host-side VMM cost, measured with the tiny payload
# (tests/kvm/payload.S) so no guest kernel time is mixed in:
#   - start-up: process CPU time and wall time from process start to vCPU 0's
#     first KVM_RUN (nestbox --stats: startup_cpu_ms, startup_wall_ms);
#   - memory overhead: VmRSS minus the guest RAM pages the host backed;
# for an empty rootfs and for the busybox rootfs (packed into the initramfs).
# Firecracker publishes <= 8 CPU ms to ready and <= 5 MiB overhead as bars.
# Runs on this host's KVM where it runs stock guests, else in the emulated
# test host (bench/lib/where.sh), and says which.
#
#   bench/startup.sh [RUNS]       (default 21; build with `make tests` first)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/where.sh
. bench/lib/where.sh "$@"
shift # --inner
runs=${1:-21}
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/empty"

for rootfs in "$work/empty" build/rootfs-busybox; do
	for _ in $(seq "$runs"); do
		build/nestbox run --stats --kernel build/tests/kvm/payload.elf "$rootfs" -- true \
			2>>"$work/$(basename "$rootfs").json" >/dev/null || [ $? -eq 42 ]
	done
done

python3 - "$work/empty.json" "$work/rootfs-busybox.json" "$runs" "$nb_bench_where" <<'PY'
import json, statistics, sys
print(f"VMM start-up and memory, tiny payload, {sys.argv[4]}, median of {sys.argv[3]}")
print(f"{'rootfs':16}{'CPU ms to KVM_RUN':>19}{'wall ms':>9}{'VMM RSS MiB':>13}{'KVM exits':>11}")
for path, label in ((sys.argv[1], "empty"), (sys.argv[2], "busybox (2 MB)")):
    rows = [json.loads(line) for line in open(path) if line.startswith("{")]
    m = lambda k: statistics.median(r[k] for r in rows)
    print(f"{label:16}{m('startup_cpu_ms'):>19.2f}{m('startup_wall_ms'):>9.2f}"
          f"{m('vmm_rss_kib') / 1024:>13.2f}{m('kvm_exits'):>11.0f}")
print("Firecracker's bars: <= 8 CPU ms to ready, <= 5 MiB VMM overhead")
PY
