#!/usr/bin/env bash
# host-kvm tier, on the host: the emulated test host's harness itself
# (tests/testhost/run). CMD's output and status come back; an L1 that
# panics or stalls is reported as such, with the case that was running and
# the end of L1's console, and exit status 125; the e2e tier runs the groups
# an L1 death cut short again in a new one; L1 watches for guests entered
# with its own state, and a case that hit that runs once more. Each case
# boots an L1 (or two).
# Where this host's KVM runs stock guests the test host is not used: skips.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh

run=tests/testhost/run
kind=$($run --host-kind)
if [ "${kind%%:*}" = real ]; then
	for t in status l1fault_watch death stall e2e_again; do
		skip "testhost_$t" "this host's KVM runs stock guests: the test host is not used here"
	done
	exit 0
fi

# Wait for the test host once (other callers may hold it), so that each
# case's time limit counts its own L1 only.
mkdir -p "${NESTBOX_CACHE:-$HOME/.cache/nestbox}/testhost"
exec 9>"${NESTBOX_CACHE:-$HOME/.cache/nestbox}/testhost/run.lock"
flock 9
export NESTBOX_TESTHOST_LOCKED=1

nb_run_case 600 $run sh -c 'echo out; echo err >&2; exit 7'
expect testhost_status "CMD's stdout, stderr and exit status come back from L1" \
	"$status" -eq 7 -a "$out" = out -a "$(tail -n 1 <<<"$err")" = err

# The L1-state watch (tests/testhost/README.md): on in L1, its filter
# covers kvm_amd's __svm_vcpu_run (where such guests were entered), and a
# case that timed out while an entry was recorded (a marker line stands
# for one here) runs once more and says so; one that did not, once; a
# triple fault (here in fn's JSON on stdout) once more, any other reset
# once.
# shellcheck disable=SC2016 # expanded in L1
nb_run_case 600 $run bash -c '. tests/lib/check.sh
	[ -n "$nb_l1fault" ] || { echo "no watch"; exit 1; }
	a=$(grep -m 1 " __svm_vcpu_run" /proc/kallsyms | cut -d" " -f1)
	set -- $(grep -o "0x[0-9a-f]*" $nb_l1fault/events/kvm/kvm_entry/filter)
	[[ -n $a && ! $a < ${1#0x} && $a < ${2#0x} ]] && echo covered
	n=0
	hang() { n=$((n + 1)); [ $n -gt 1 ] || echo "rip 0xffffffffc0000000" >$nb_l1fault/trace_marker; status=124 out= err=; }
	nb_try hang; echo "hung $n"
	n=0
	fail() { n=$((n + 1)); status=124 out= err=; }
	nb_try fail; echo "failed $n"
	reset="the guest reset before reporting an exit status:"
	n=0
	triple() { n=$((n + 1)); status=125 err=; out="{\"error\":\"$reset vCPU 0 triple-faulted (a fault it could not even report)\"}"; }
	nb_try triple; echo "triple $n"
	n=0
	other() { n=$((n + 1)); status=125 out= err="$reset the guest reset the machine (i8042)"; }
	nb_try other; echo "reset $n"'
expect testhost_l1fault_watch "L1 watches for guests entered at its own kvm_amd; a timeout it saw, or a triple fault, runs again, once" \
	"$status" -eq 0 -a -n "$(grep -Fx covered <<<"$out")" -a -n "$(grep -Fx 'hung 2' <<<"$out")" \
	-a -n "$(grep -Fx 'failed 1' <<<"$out")" -a -n "$(grep -Fx 'triple 2' <<<"$out")" \
	-a -n "$(grep -Fx 'reset 1' <<<"$out")" \
	-a -n "$(grep -F "the test host triple-faulted a guest, status 125" <<<"$err")" \
	-a -n "$(grep -F "entered a guest at L1's own kernel address (rip 0xffffffffc0000000), status 124" <<<"$err")"

# A panic in L1 (sysrq c) while a noted case runs. The console tail is
# longer than the default 40 lines: the panic's stack trace has 45 lines
# from sysrq_handle_crash on when it carries many unreliable "?" frames.
# shellcheck disable=SC2016 # expanded in L1
NESTBOX_TESTHOST_TAIL=100 nb_run_case 600 $run bash -c '. tests/lib/check.sh; ok selftest_before
	nb_case_start "selftest_crashing_case"; echo c >/proc/sysrq-trigger; sleep 600'
expect testhost_death "an L1 panic: 125, the panic, the running case and L1's console tail" \
	"$status" -eq 125 -a -n "$(grep -F "L1's kernel panicked (Kernel panic - not syncing: sysrq triggered crash)" <<<"$err")" \
	-a -n "$(grep -F 'selftest_crashing_case (after selftest_before)' <<<"$err")" \
	-a -n "$(grep -F '  | ' <<<"$err" | grep -F 'sysrq_handle_crash')"

# A stall: L1 up, its heartbeat stopped (SIGSTOP), a case waiting. The
# harness notices within NESTBOX_TESTHOST_STALL s, shows where the vCPUs
# were and makes L1 panic with an NMI, which prints a backtrace.
# shellcheck disable=SC2016 # expanded in L1
NESTBOX_TESTHOST_STALL=20 nb_run_case 600 $run bash -c '. tests/lib/check.sh
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/fd/1")" != /dev/ttyS1 ] || kill -STOP "${p#/proc/}"
	done
	nb_run_case 500 sleep 500'
expect testhost_stall "a stalled L1: 125, the stall, the running case, the vCPUs, an NMI backtrace" \
	"$status" -eq 125 -a -n "$(grep -F 'stalled: no heartbeat from L1 for 20 s' <<<"$err")" \
	-a -n "$(grep -E '^testhost: the case running \(for [0-9]+ s\): sleep 500$' <<<"$err")" \
	-a -n "$(grep -E '^testhost: the vCPUs when stopped: \[RIP=[0-9a-f]{16}' <<<"$err")" \
	-a -n "$(grep -F '  | ' <<<"$err" | grep -F 'NMI: Not continuing')"

# The e2e tier (tests/run) when L1's kernel dies in a group: the groups
# that finished stand, the rest run again in a new test host, and the
# tier's line says so. The harness group (tests/e2e/harness.sh) panics L1
# once; what it said before is dropped, its second run counts. L1 may
# die of another panic on the way there (a loaded host starves TCG's vCPUs:
# a soft lockup, say) once the file is gone, and that is the same story;
# the tier's line and the test host's report are what a failure shows.
touch build/e2e-harness-die
NESTBOX_E2E_GROUPS=harness NESTBOX_TEST_LOGS=build/testhost-selftest nb_run_case 900 tests/run e2e
out=$(grep -E "^(testhost: the test host |  e2e: |e2e: )" <<<"$out")
expect testhost_e2e_again "an L1 panic in an e2e group: that group runs again in a new test host, said on the tier's line" \
	"$status" -eq 0 -a ! -e build/e2e-harness-die -a \
	-n "$(grep -E "^e2e: 2 passed, 0 failed, 0 skipped in [0-9]+m[0-9]+s \[L1's kernel panicked \(Kernel panic - not syncing: [^]]+\) in group harness; groups 'harness' ran again in a new test host\]$" <<<"$out")"
