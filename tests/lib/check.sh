# shellcheck shell=bash
# Shared helpers for the shell test tiers. Each test prints exactly one line:
#   ok NAME | not ok NAME: REASON | skip NAME: REASON
# Source this file; call nb_run_case to run a command with a time limit and
# capture its stdout ($out), stderr ($err) and status ($status).

nb_tmp=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-test.XXXXXX")
trap 'rm -rf "$nb_tmp"' EXIT

ok() { nb_case_last=$1; echo "ok $1"; }
not_ok() { nb_case_last=$1; echo "not ok $1: $2"; }
skip() { nb_case_last=$1; echo "skip $1: $2"; }

# nb_case_start WHAT: note the case that starts now. In the emulated test
# host, tests/testhost/run reads the note ($NESTBOX_TESTHOST_CASE) to name the
# case that was running when L1 stalled or died; elsewhere this does nothing.
# The note is WHAT, the script lines it was called from, and the last case
# that reported a result.
nb_case_last=''
nb_case_start() {
	[ -n "${NESTBOX_TESTHOST_CASE:-}" ] || return 0
	local i where=''
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
		[ "${BASH_SOURCE[i]}" != "${BASH_SOURCE[0]}" ] || continue
		where+="${where:+ < }${BASH_SOURCE[i]}:${BASH_LINENO[i - 1]}"
	done
	printf '%s%s%s\n' "${where:+$where: }" "${1:0:300}" "${nb_case_last:+ (after $nb_case_last)}" \
		>"$NESTBOX_TESTHOST_CASE" 2>/dev/null || true
}

# ---- the emulated test host's nested-SVM faults ----------------------------------
# In the emulated test host, QEMU's TCG now and then breaks an L2 guest's
# state (tests/testhost/README.md):
# - it enters the guest with L1's own state: its RIP inside L1's kvm_amd
#   (__svm_vcpu_run) and L1's CR3. The guest then loops on a page fault it
#   cannot take until its case times out (or it resets). L1's init turns
#   on a kvm_entry tracepoint in its own tracefs instance, filtered to L1's
#   module addresses (where no nestbox guest runs: its kernel has no
#   modules), which sees that happen;
# - the guest kernel's %gs goes bad: its page fault handler faults again
#   until "BUG: ENTRY_TRAMPOLINE stack guard page was hit", and it panics;
# - the guest triple-faults, with nothing on its console: measured in cold
#   boots (the console flood) and in a warm pool's restored clones.
# A case whose command ended that way runs once more and says so on stderr.
# Outside the test host nothing is retried.
nb_l1fault=/sys/kernel/tracing/instances/nestbox-l1fault
[ "${NESTBOX_IN_TESTHOST:-}" = 1 ] && [ -w $nb_l1fault/trace ] &&
	grep -q 1 $nb_l1fault/events/kvm/kvm_entry/enable 2>/dev/null || nb_l1fault=''

nb_l1fault_clear() {
	[ -z "$nb_l1fault" ] || : >"$nb_l1fault/trace"
}

# nb_l1fault_again WHAT: true, and says so, when $status, $out and $err
# show one of the faults above (since nb_l1fault_clear).
nb_l1fault_again() {
	local rip why='' reset='' timed=''
	[ "${NESTBOX_IN_TESTHOST:-}" = 1 ] || return 1
	# nestbox's verdict: on stderr, or in fn's JSON on stdout
	grep -q 'the guest reset before reporting' <<<"$out$err" && reset=1
	# a function (fn, or serve's, as its JSON or serve_client.py prints it)
	# stopped at its --timeout: a guest that never answered
	grep -q -e '"timed_out": *true' -e "'timed_out': True" <<<"$out" && timed=1
	if [ -n "$nb_l1fault" ]; then
		rip=$(grep -v -m 1 '^#' "$nb_l1fault/trace" | grep -o 'rip 0x[0-9a-f]*')
		if [ -n "$rip" ] && { [ "$status" -eq 124 ] || [ "$status" -eq 137 ] ||
			[ -n "$reset$timed" ]; }; then
			why="entered a guest at L1's own kernel address ($rip)"
		fi
	fi
	if [ -z "$why" ] && [ -n "$reset" ]; then
		if grep -q 'BUG: ENTRY_TRAMPOLINE stack guard page was hit' <<<"$out$err"; then
			why="broke the guest kernel's %gs (ENTRY_TRAMPOLINE stack guard page hit)"
		elif grep -q 'triple-faulted' <<<"$out$err"; then
			why="triple-faulted a guest"
		fi
	fi
	[ -n "$why" ] || return 1
	echo "# the test host $why, status $status: QEMU's nested-SVM fault; once more: ${1:0:200}" >&2
}

# nb_try CMD...: run CMD (which sets $status, $out and $err), and once more
# after one of the faults above.
nb_try() {
	nb_l1fault_clear
	"$@"
	if nb_l1fault_again "$*"; then
		nb_l1fault_clear
		"$@"
	fi
}

# nb_run_case SECONDS CMD... : run CMD under a time limit, stdin from
# /dev/null, or from a pipe that carries $nb_input when it is set
# (nb_input=TEXT nb_run_case ...).
nb_run_case() {
	nb_try nb_run_case_once "$@"
}
nb_run_case_once() {
	local limit=$1
	shift
	nb_case_start "$*"
	if [ -n "${nb_input+set}" ]; then
		printf '%s' "$nb_input" |
			timeout --kill-after=5 "$limit" "$@" >"$nb_tmp/out" 2>"$nb_tmp/err"
	else
		timeout --kill-after=5 "$limit" "$@" </dev/null >"$nb_tmp/out" 2>"$nb_tmp/err"
	fi
	status=$?
	out=$(cat "$nb_tmp/out")
	err=$(cat "$nb_tmp/err")
}

# expect NAME CONDITION-DESCRIPTION TEST-EXPRESSION...
# Passes when the test expression (evaluated by `test`) holds; otherwise
# reports the description plus what the command printed.
expect() {
	local name=$1 what=$2
	shift 2
	if test "$@"; then
		ok "$name"
	else
		not_ok "$name" "$what (status $status, stdout '$(head -c 200 <<<"$out" | tr '\n' '|')', stderr '$(tail -c 300 <<<"$err" | tr '\n' '|')')"
	fi
}
