#!/usr/bin/env bash
# What host confinement costs, with the tiny payloads
# (tests/kvm/payload.S), plain and --jail runs alternated in one loop:
#   - wall time of a whole `nestbox run` (the jail adds a fork, namespaces,
#     a tmpfs root, pivot_root and the privilege drop);
#   - VmRSS of the VMM process while the guest waits (payload-wait.elf),
#     read from /proc outside the jail (plus the supervisor's, for --jail);
#   - the allowlist sizes per thread kind and their union (nestbox seccomp-dump), next to
#     Firecracker's NSDI'20 figure (24 syscalls, 30 ioctls for the VMM).
#
# Runs on this host's KVM where it runs stock guests, else in the emulated
# test host (bench/lib/where.sh), and says which.
#
#   bench/confine.sh [RUNS]      (default 21; as root; `make tests` first)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/where.sh
. bench/lib/where.sh "$@"
shift # --inner
runs=${1:-21}
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root" "$work/jail"
export NESTBOX_RUN_DIR=$work/run
jail=(--jail "$work/jail" --uid 4242 --gid 4242)

now_ms() { date +%s%N | awk '{ printf "%.3f", $1 / 1e6 }'; }

# Wall ms of one run of the exiting payload.
wall() {
	local t0 t1
	t0=$(now_ms)
	build/nestbox run "$@" --kernel build/tests/kvm/payload.elf "$work/root" -- true \
		>/dev/null 2>&1 || [ $? -eq 42 ]
	t1=$(now_ms)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

# "VMM_KiB SUPERVISOR_KiB" while the waiting payload runs.
rss() {
	local pid vmm=
	build/nestbox run "$@" --timeout 5 --kernel build/tests/kvm/payload-wait.elf "$work/root" \
		-- true >"$work/out" 2>&1 &
	pid=$!
	for _ in $(seq 200); do
		grep -q "nestbox payload" "$work/out" && break
		sleep 0.01
	done
	vmm=$(pgrep -P $pid | head -1 || true)
	if [ -n "$vmm" ]; then
		echo "$(awk '/^VmRSS/ { print $2 }' /proc/$vmm/status) $(awk '/^VmRSS/ { print $2 }' /proc/$pid/status)"
	else
		echo "$(awk '/^VmRSS/ { print $2 }' /proc/$pid/status) 0"
	fi
	kill -TERM $pid
	wait $pid 2>/dev/null || true
}

for _ in $(seq "$runs"); do
	wall >>"$work/plain.wall"
	wall "${jail[@]}" >>"$work/jail.wall"
done
for _ in $(seq 5); do
	rss >>"$work/plain.rss"
	rss "${jail[@]}" >>"$work/jail.rss"
done
build/nestbox seccomp-dump | grep -E ' thread: |^union: ' >"$work/dump"

python3 - "$work" "$runs" "$nb_bench_where" <<'PY'
import statistics, sys
w, runs, where = sys.argv[1], sys.argv[2], sys.argv[3]
med = lambda f, col=0: statistics.median(float(l.split()[col]) for l in open(f"{w}/{f}") if l.strip())
pw, jw = med("plain.wall"), med("jail.wall")
print(f"Host confinement, tiny payload, {where}; wall: median of {runs} alternated runs, RSS: of 5")
print(f"{'':22}{'plain':>10}{'--jail':>10}{'ratio':>8}")
print(f"{'wall ms per run':22}{pw:>10.2f}{jw:>10.2f}{jw / pw:>8.2f}")
pv, jv, js = med("plain.rss") / 1024, med("jail.rss") / 1024, med("jail.rss", 1) / 1024
print(f"{'VMM RSS MiB':22}{pv:>10.2f}{jv:>10.2f}{jv / pv:>8.2f}")
print(f"{'+ supervisor RSS MiB':22}{'':>10}{js:>10.2f}")
print("seccomp allowlists (nestbox seccomp-dump):")
for line in open(f"{w}/dump"):
    print("  " + line.split(";")[0])
print("  Firecracker (NSDI'20): 24 syscalls and 30 ioctls for the whole VMM")
PY
