#!/usr/bin/env bash
# Stress the test host: ROUNDS rounds of CONC concurrent `nestbox run` in one
# L1, and count how often L1 itself fails (panics, stalls, times out).
#
#   tests/testhost/stress.sh [ROUNDS [CONC]]     (defaults: 50 8)
#
# Each VM gets 128 MiB, does a little work (a shell loop, 1 MiB through
# md5sum) and exits with its own status (10 + its index), which is checked
# with its output. One L1 runs the rounds; when it fails, the failure is
# counted and a new L1 goes on with the next round. Prints a line per round
# and per L1 failure, then a summary:
#   stress: R rounds of C VMs in S s: F VM failures, L L1 failures (P per round)
# Exit status 0 only if every VM of every round passed and no L1 failed.
# NESTBOX_STRESS_LIMIT: seconds one VM may take (default 600). The outputs of
# a failed round's VMs are kept in build/testhost-stress/.
# NESTBOX_STRESS_IMAGE: what the VMs run (default build/rootfs-busybox; an OCI
# image such as the Debian test image, tests/images/mkdebian.sh, works too).
# Other NESTBOX_TESTHOST_* settings (README.md) pass through to the test host.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

nestbox=build/nestbox
rootfs=${NESTBOX_STRESS_IMAGE:-build/rootfs-busybox}
limit=${NESTBOX_STRESS_LIMIT:-600}

usage() { echo "usage: tests/testhost/stress.sh [ROUNDS [CONC]]" >&2; exit 2; }
whole() { case $1 in '' | *[!0-9]* | 0*) return 1 ;; esac; }

# In L1 (or directly on a host whose KVM runs stock guests): rounds FIRST to
# LAST. A line "round N: ok ..." or "round N: FAIL ..." per round.
inner() {
	local first=$1 last=$2 conc=$3 round k t0 dir failed keep
	# shellcheck source=tests/lib/check.sh
	. tests/lib/check.sh
	echo "# L1: $(cat /run/testhost/l1 2>/dev/null || echo "not in the test host")"
	for ((round = first; round <= last; round++)); do
		nb_case_start "stress round $round of $last: $conc concurrent nestbox run"
		dir=$nb_tmp/r$round
		mkdir -p "$dir"
		t0=$SECONDS
		for ((k = 1; k <= conc; k++)); do
			# shellcheck disable=SC2016 # expanded by the guest's shell
			timeout -k 5 "$limit" $nestbox run --memory 128m "$rootfs" -- /bin/sh -c '
				i=0; while [ $i -lt 3000 ]; do i=$((i + 1)); done
				head -c 1048576 /dev/urandom | md5sum >/dev/null
				echo "vm $1 round $2 $i"; exit $((10 + $1))' sh "$k" "$round" \
				</dev/null >"$dir/$k.out" 2>"$dir/$k.err" &
			echo $! >"$dir/$k.pid"
		done
		failed=''
		for ((k = 1; k <= conc; k++)); do
			wait "$(cat "$dir/$k.pid")"
			status=$?
			if [ "$status" -ne $((10 + k)) ] || [ "$(cat "$dir/$k.out")" != "vm $k round $round 3000" ]; then
				failed+=" [vm $k: status $status (want $((10 + k))), stdout '$(head -c 100 "$dir/$k.out" | tr '\n' '|')', stderr '$(tail -c 300 "$dir/$k.err" | tr '\n' '|')']"
			fi
		done
		if [ -n "$failed" ]; then
			# The failed VMs' whole output (a guest's console on a panic).
			keep=build/testhost-stress/$(date +%Y%m%d-%H%M%S)-round$round
			mkdir -p "$keep" && cp "$dir"/*.out "$dir"/*.err "$keep/" 2>/dev/null
			echo "round $round: FAIL in $((SECONDS - t0)) s (outputs in $keep):$failed"
		else
			echo "round $round: ok in $((SECONDS - t0)) s"
		fi
		rm -rf "$dir"
	done
}

if [ "${1:-}" = --inner ]; then
	[ $# -eq 4 ] || usage
	inner "$2" "$3" "$4"
	exit 0
fi

rounds=${1:-50} conc=${2:-8}
{ [ $# -le 2 ] && whole "$rounds" && whole "$conc"; } || usage
for f in $nestbox "$rootfs" build/vmlinux; do
	[ -e "$f" ] || { echo "stress: $f is missing (make)" >&2; exit 2; }
done

# Host side: one L1 after another until every round ran.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-testhost-stress.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS next=1 l1_fail=0 vm_fail=0 l1_runs=0
export NESTBOX_TESTHOST_REPORT=$tmp/report
while [ "$next" -le "$rounds" ]; do
	l1_runs=$((l1_runs + 1))
	# Bounded by the rounds' own bounds (each VM: limit), not run's default.
	tests/testhost/run --timeout $(((rounds - next + 1) * (limit + 60) + 300)) \
		tests/testhost/stress.sh --inner "$next" "$rounds" "$conc" \
		2> >(tee "$tmp/err" >&2) | tee "$tmp/out"
	rc=${PIPESTATUS[0]}
	wait # for tee of stderr
	done_rounds=$(grep -c '^round [0-9]*: ' "$tmp/out")
	vm_fail=$((vm_fail + $(grep -c '^round [0-9]*: FAIL' "$tmp/out")))
	last=$(sed -n 's/^round \([0-9]*\): .*/\1/p' "$tmp/out" | tail -n 1)
	next=$((${last:-$((next - 1))} + 1))
	if [ "$rc" -eq 125 ] && grep -q '^testhost: the test host ' "$tmp/err"; then
		l1_fail=$((l1_fail + 1))
		echo "round $next: L1 FAILURE: $(grep -m1 '^testhost: the test host ' "$tmp/err" | cut -c 1-300)"
		next=$((next + 1)) # the round L1 failed in counts as run
	elif [ "$rc" -ne 0 ] || [ "$done_rounds" -eq 0 ]; then
		echo "stress: the test host failed otherwise (status $rc); stopping" >&2
		break
	fi
done
ran=$((next - 1))
echo "stress: $ran rounds of $conc VMs in $((SECONDS - start)) s: $vm_fail VM failures, $l1_fail L1 failures in $l1_runs L1 boots ($l1_fail/$ran per round)"
[ -s "$tmp/report" ] && sed 's/^/stress: L1 run: /' "$tmp/report"
[ "$vm_fail" -eq 0 ] && [ "$l1_fail" -eq 0 ] && [ "$ran" -eq "$rounds" ]
