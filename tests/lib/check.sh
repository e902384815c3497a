# shellcheck shell=bash
# Shared helpers for the shell test tiers. Each test prints exactly one line:
#   ok NAME | not ok NAME: REASON | skip NAME: REASON
# Source this file; call nb_run_case to run a command with a time limit and
# capture its stdout ($out), stderr ($err) and status ($status).

nb_tmp=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-test.XXXXXX")
trap 'rm -rf "$nb_tmp"' EXIT

ok() { echo "ok $1"; }
not_ok() { echo "not ok $1: $2"; }
skip() { echo "skip $1: $2"; }

# nb_run_case SECONDS CMD... : run CMD under a time limit, stdin from /dev/null.
nb_run_case() {
	local limit=$1
	shift
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
