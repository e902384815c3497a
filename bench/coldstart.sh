#!/usr/bin/env bash
# Host-side cold start, A/B: process CPU time from exec to vCPU 0's first
# KVM_RUN (nestbox --stats: startup_cpu_ms) for a whole `nestbox run` of the
# busybox OCI image with the real guest kernel, a nestbox binary (default
# this tree's build/nestbox) against a baseline binary, runs alternated (the
# machine is shared and noisy: read the ratio). Each binary boots the
# vmlinux and nestbox-init beside it: give both the same files, on the
# same file system (in the test host the repo and the host's / are
# different 9p mounts with different caching).
#
#   bench/coldstart.sh [RUNS] BASELINE_NESTBOX [NESTBOX]   (default 11 runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/where.sh
. bench/lib/where.sh "$@"
shift # --inner
runs=${1:-11}
baseline=${2:?usage: bench/coldstart.sh [RUNS] BASELINE_NESTBOX [NESTBOX]}
new=${3:-build/nestbox}
image=build/oci/busybox
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

for _ in $(seq "$runs"); do
	for side in new base; do
		bin=$new
		[ $side = base ] && bin=$baseline
		"$bin" run --stats "$image" true 2>>"$work/$side.json" >/dev/null
	done
done

python3 - "$work" "$runs" "$nb_bench_where" "$baseline" "$new" <<'PY'
import json, statistics, sys
work, runs, where, baseline, new = sys.argv[1:]
def med(side, key):
    rows = [json.loads(l) for l in open(f"{work}/{side}.json") if l.startswith("{\"wall_ms")]
    return statistics.median(r[key] for r in rows)
print(f"Cold start, host side: busybox image, {where}, median of {runs}, alternated")
print(f"{'':28}{'CPU ms to KVM_RUN':>19}{'wall ms to KVM_RUN':>20}")
for side, label in (("base", baseline[-28:]), ("new", new[-28:])):
    print(f"{label:28}{med(side, 'startup_cpu_ms'):>19.2f}{med(side, 'startup_wall_ms'):>20.2f}")
print(f"{'ratio new/baseline':28}{med('new','startup_cpu_ms')/med('base','startup_cpu_ms'):>19.2f}"
      f"{med('new','startup_wall_ms')/med('base','startup_wall_ms'):>20.2f}")
PY
