#!/usr/bin/env bash
# Detached VMs (issue 15): time for `run -d` to return and for `stop` to
# complete (median of N), `ps` with 16 VMs up, and host memory per idle VM
# (the VMM's RSS and PSS, the monitor's, from `stats`) for 16 VMs. In the
# emulated test host on a PVM or KVM-less host: absolute times are not
# hardware times.
#
#   bench/lifecycle.sh [RUNS]        (default 10; build with `make tests` first)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != --inner ]; then
	exec tests/testhost/run --timeout 1500 bench/lifecycle.sh --inner "${1:-10}"
fi
runs=${2:-10}
nestbox=build/nestbox
rootfs=build/rootfs-busybox
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
export NESTBOX_RUN_DIR=$work/run
trap '$nestbox rm -f $($nestbox ps -aq) >/dev/null 2>&1; rm -rf "$work"' EXIT

ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
loop='trap "exit 0" TERM; echo up; sleep 100000 & wait'

: >"$work/run_d"
: >"$work/stop"
for i in $(seq 1 "$runs"); do
	t0=$(ms)
	id=$($nestbox run -d --memory 128m "$rootfs" -- /bin/sh -c "$loop")
	t1=$(ms)
	echo $((t1 - t0)) >>"$work/run_d"
	until $nestbox logs "$id" 2>/dev/null | grep -q up; do sleep 0.2; done
	t0=$(ms)
	$nestbox stop -t 30 "$id" >/dev/null
	t1=$(ms)
	echo $((t1 - t0)) >>"$work/stop"
	$nestbox rm "$id" >/dev/null
done
echo "run -d returns (ms, median of $runs): $(median <"$work/run_d")  [$(sort -n "$work/run_d" | tr '\n' ' ')]"
echo "stop completes (ms, median of $runs): $(median <"$work/stop")  [$(sort -n "$work/stop" | tr '\n' ' ')]"

for i in $(seq 1 16); do
	$nestbox run -d --name "b$i" --memory 128m "$rootfs" -- /bin/sh -c "$loop" >/dev/null
done
for i in $(seq 1 16); do
	until $nestbox logs "b$i" 2>/dev/null | grep -q up; do sleep 0.5; done
done
sleep 5 # idle
: >"$work/ps"
for i in $(seq 1 "$runs"); do
	t0=$(ms)
	$nestbox ps >/dev/null
	t1=$(ms)
	echo $((t1 - t0)) >>"$work/ps"
done
echo "ps with 16 VMs (ms, median of $runs): $(median <"$work/ps")"
$nestbox stats --no-stream --format json >"$work/stats"
python3 - "$work/stats" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n = len(rows)
rss = sum(r["vmm_rss_kib"] for r in rows) / n / 1024
pss = sum(r["vmm_pss_kib"] for r in rows) / n / 1024
print(f"idle VMs: {n}, per VM: VMM RSS {rss:.1f} MiB, VMM PSS {pss:.1f} MiB (guest pages touched included)")
print(f"idle VMs per GiB of host RAM by PSS: {1024 / pss:.0f}")
PY
mon_kib=0
for pid in $($nestbox ps -q | while read -r id; do $nestbox inspect "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["MonitorPid"])'; done); do
	mon_kib=$((mon_kib + $(awk '/^Pss:/ { print $2 }' /proc/"$pid"/smaps_rollup)))
done
echo "monitor PSS per VM: $((mon_kib / 16)) KiB"
