#!/usr/bin/env bash
# Warm start (issue 16), in the emulated test host (QEMU TCG L1: absolute
# times are not hardware times; read the ratios). Never pass/fail.
#   1. workload execve after a restore vs after a cold boot, same image:
#      p50/p90 of N of nestbox-init's "container execve" line, measured from
#      the start of the VMM (restore: `nestbox run --template`, the guest's
#      uptime goes on from the template's, so the VMM's wall clock is used
#      for both: the time from nestbox's start to the line on its stderr)
#   2. a whole `nestbox fn` of `true` from a template vs a whole `crun run`
#      of the same busybox rootfs running `true` (bench/container.sh's
#      yardstick), alternated, median of PAIRS. The template for fn is made
#      without nestbox.debug (its lines on the serial console cost a clone
#      ~40 ms here, and crun prints nothing either)
#   2a. the same fn from a template made with --network (each clone on a
#      tap of its own, leased, on a nestbox network), alternated with 2:
#      what a clone's network costs
#   2b. `nestbox serve --pool 4` answering 4 concurrent callers
#      (tests/e2e/serve_client.py): invocations per second over 20
#   3. host memory per clone while its workload runs (/proc/PID/smaps_rollup):
#      dirty pages (its own) and clean pages (the template's memory file in
#      the page cache, shared by every clone)
#   4. where a restore's time goes, and a cold boot's (bench/lib/phases.py,
#      L1's tracepoints, medians of 5): the VMM's exec to its first KVM_RUN
#      (host side), that to the workload's execve, that to the VMM's exit;
#      the VM exits, nested page faults (NPF) among them, and L1's time
#      handling them
#   5. the floor: what creating and destroying one VM costs L1's KVM,
#      whoever the VMM (bench/lib/kvm_floor.py); fn pays both
#
# nestbox, its kernel and nestbox-init are copied into L1's /tmp first:
# crun's binary comes from L1's page cache (the host's / is shared with
# cache=loose) and its bundle is a copy in /tmp, while the repo's share is
# uncached, which cost each nestbox start ~40 ms more.
#
#   bench/warm.sh [RUNS [PAIRS]]  (default 20 and 5; build with `make tests`
#                                 first: the crun row needs build/rootfs-busybox)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/crun_bundle.sh
. bench/lib/crun_bundle.sh
# shellcheck source=bench/lib/to_execve.sh
. bench/lib/to_execve.sh

if [ "${1:-}" != --inner ]; then
	exec tests/testhost/run --timeout 1800 bench/warm.sh --inner "${1:-20}" "${2:-5}"
fi
runs=${2:-20} pairs=${3:-5}
img=$(tests/images/mkimages.sh)/busybox
rootfs=build/rootfs-busybox
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
export NESTBOX_CACHE_DIR=$work/cache NESTBOX_NETWORK_DIR=$work/networks
mkdir "$work/bin"
cp build/nestbox build/vmlinux build/nestbox-init "$work/bin/"
nb=$work/bin/nestbox
trap '"$nb" network rm benchnet >/dev/null 2>&1; rm -rf "$work"' EXIT

pct() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (!NR) { print "nan"; exit } i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i] }'; }

"$nb" template create bench "$img" --kernel-args nestbox.debug >/dev/null
"$nb" template create fn "$img" >/dev/null
"$nb" network create benchnet --subnet 10.88.41.0/24 >/dev/null
"$nb" template create benchnet "$img" --network benchnet >/dev/null
for i in $(seq "$runs"); do
	to_execve "$nb" run --kernel-args nestbox.debug "$img" -- true >>"$work/cold.ms"
	to_execve "$nb" run --template bench -- true >>"$work/warm.ms"
done

crun_ok=0
if command -v crun >/dev/null && [ -x $rootfs/bin/busybox ]; then
	crun_ok=1
	crun_bundle "$work/bundle" "$rootfs"
fi
# fn and crun alternated, so both see the same state of the machine.
for i in $(seq "$pairs"); do
	s=$(date +%s%N)
	"$nb" fn --template fn -- true >/dev/null
	echo $((($(date +%s%N) - s) / 1000000)) >>"$work/fn.ms"
	s=$(date +%s%N)
	"$nb" fn --template benchnet -- true >/dev/null
	echo $((($(date +%s%N) - s) / 1000000)) >>"$work/fnnet.ms"
	if [ "$crun_ok" = 1 ]; then
		s=$(date +%s%N)
		crun run --bundle "$work/bundle" "nb-warm-$$-$i" </dev/null >/dev/null 2>&1 || true
		echo $((($(date +%s%N) - s) / 1000000)) >>"$work/crun.ms"
	fi
done

# serve: a pool of 4, 4 concurrent callers, 20 invocations.
"$nb" serve --socket "$work/fn.sock" --template fn --pool 4 2>/dev/null &
serve_pid=$!
for i in $(seq 240); do [ -S "$work/fn.sock" ] && break; sleep 0.5; done
rate=$(python3 tests/e2e/serve_client.py "$work/fn.sock" 4 20 | sed -n 's/^ok .*(\(.*\)\/s)$/\1/p')
kill -TERM "$serve_pid"
wait "$serve_pid" || true

# Memory of one clone, sampled while its workload sleeps.
"$nb" run --template fn -- 'sleep 3' >/dev/null 2>&1 &
sleep 2
pid=$(pgrep -n -f "$nb run --template fn" || true)
priv=nan shared=nan
if [ -n "$pid" ] && [ -r "/proc/$pid/smaps_rollup" ]; then
	# Dirty: the clone's own (copied-on-write guest pages, the VMM's heap);
	# clean: the template's memory file in the page cache, shared by clones.
	priv=$(awk '/^(Private|Shared)_Dirty:/ { s += $2 } END { print s }' "/proc/$pid/smaps_rollup")
	shared=$(awk '/^(Private|Shared)_Clean:/ { s += $2 } END { print s }' "/proc/$pid/smaps_rollup")
fi
wait || true

# Where the time goes: one VMM at a time, after the rest.
phases_warm=$(python3 bench/lib/phases.py 5 "$nb" run --template bench -- true)
phases_cold=$(python3 bench/lib/phases.py 5 "$nb" run --kernel-args nestbox.debug "$img" -- true)
floor=$(python3 bench/lib/kvm_floor.py 11)

printf '%-52s %8s %8s\n' "what (of $runs runs, milliseconds)" p50 p90
for f in cold warm; do
	printf '%-52s %8s %8s\n' "nestbox start -> workload execve, $f" \
		"$(pct 50 <"$work/$f.ms")" "$(pct 90 <"$work/$f.ms")"
done
awk -v a="$(pct 50 <"$work/warm.ms")" -v b="$(pct 50 <"$work/cold.ms")" \
	'BEGIN { if (b > 0) printf "%-52s %8.3f\n", "ratio warm / cold (p50; goal <= 0.1)", a / b }'
printf '%-52s %8s %8s\n' "nestbox fn --template (whole, true; of $pairs)" "$(pct 50 <"$work/fn.ms")" "$(pct 90 <"$work/fn.ms")"
if [ -s "$work/crun.ms" ]; then
	printf '%-52s %8s %8s\n' "crun run (whole, same rootfs, true; of $pairs)" "$(pct 50 <"$work/crun.ms")" "$(pct 90 <"$work/crun.ms")"
	awk -v a="$(pct 50 <"$work/fn.ms")" -v b="$(pct 50 <"$work/crun.ms")" \
		'BEGIN { if (b > 0) printf "%-52s %8.2f\n", "ratio fn / crun (p50; goal < 1)", a / b }'
fi
printf '%-52s %8s %8s\n' "nestbox fn, template with --network (of $pairs)" "$(pct 50 <"$work/fnnet.ms")" "$(pct 90 <"$work/fnnet.ms")"
awk -v a="$(pct 50 <"$work/fnnet.ms")" -v b="$(pct 50 <"$work/fn.ms")" \
	'BEGIN { if (b > 0) printf "%-52s %8.2f\n", "ratio fn on a network / fn without (p50)", a / b }'
printf '%-52s %8s /s\n' "serve --pool 4, 4 callers: invocations" "${rate:-nan}"
printf '%-52s %8s KiB\n' "one clone: its own memory (dirty pages)" "$priv"
printf '%-52s %8s KiB\n' "one clone: template pages read (clean, shareable)" "$shared"
phase() { python3 -c 'import json, sys; v = json.loads(sys.argv[1]).get(sys.argv[2]); print("nan" if v is None else v)' "$1" "$2"; }
printf '%-52s %8s %8s\n' "where the time goes (median of 5, ms)" restore cold
for k in setup to_execve to_exit exits npf_exits exit_ms npf_ms; do
	case $k in
	setup) what="VMM exec -> first KVM_RUN (host side)" ;;
	to_execve) what="first KVM_RUN -> workload execve" ;;
	to_exit) what="workload execve -> VMM exit (workload, teardown)" ;;
	exits) what="VM exits (count)" ;;
	npf_exits) what="  of which nested page faults (count)" ;;
	exit_ms) what="L1's time handling the exits" ;;
	npf_ms) what="  of which nested page faults" ;;
	esac
	printf '%-52s %8s %8s\n' "$what" "$(phase "$phases_warm" $k)" "$(phase "$phases_cold" $k)"
done
printf '%-52s %8s\n' "floor: KVM_CREATE_VM in L1 (median of 11, ms)" "$(phase "$floor" create_ms)"
printf '%-52s %8s\n' "floor: the VM's teardown (its close)" "$(phase "$floor" destroy_ms)"
