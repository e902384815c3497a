#!/usr/bin/env bash
# What a VM per container costs an engine: `podman run --rm IMAGE true` wall
# time with --runtime nestbox (a microVM) and --runtime crun (namespaces
# only), the same podman, image and storage, runs alternated; the medians
# and their ratio.
#
# Runs on this host's KVM where it runs stock guests, else in the emulated
# test host (bench/lib/where.sh), and says which.
#
#   bench/oci.sh [RUNS]      (default 10; as root; make build/oci/busybox/index.json first)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/where.sh
. bench/lib/where.sh "$@"
shift # --inner
runs=${1:-10}
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The test host's / is read-only: podman's scratch directories on tmpfs.
for d in /var/tmp /var/cache /var/lib/containers; do
	touch "$d/.nb-oci" 2>/dev/null || mount -t tmpfs tmpfs "$d"
	rm -f "$d/.nb-oci"
done
podman=(podman --root "$work/ps" --runroot "$work/pr" --storage-driver vfs
	--cgroup-manager cgroupfs --events-backend file)
image=$("${podman[@]}" pull -q oci:build/oci/busybox:latest | tail -n 1)

now_ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1e6 }'; }
wall() {
	local t0 t1
	t0=$(now_ms)
	"${podman[@]}" run --rm --network none --runtime "$1" "$image" true >/dev/null
	t1=$(now_ms)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

wall crun >/dev/null # warm both paths once
wall "$PWD/build/nestbox" >/dev/null
for ((i = 0; i < runs; i++)); do
	wall crun >>"$work/crun"
	wall "$PWD/build/nestbox" >>"$work/nestbox"
done
c=$(median <"$work/crun")
n=$(median <"$work/nestbox")
echo "podman run --rm busybox true, median of $runs, $nb_bench_where"
printf '%-22s %10s\n' runtime "wall ms"
printf '%-22s %10s\n' crun "$c" "nestbox (a microVM)" "$n"
awk -v c="$c" -v n="$n" 'BEGIN { printf "%-22s %10.2f\n", "ratio nestbox/crun", n / c }'
