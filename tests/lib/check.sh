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

# nb_run_case SECONDS CMD... : run CMD under a time limit, stdin from /dev/null.
nb_run_case() {
	local limit=$1
	shift
	nb_case_start "$*"
	timeout --kill-after=5 "$limit" "$@" </dev/null >"$nb_tmp/out" 2>"$nb_tmp/err"
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
