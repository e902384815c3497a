#!/usr/bin/env bash
# make check: the code's style, static analysis and the strict-warnings
# compile, one line per step: "ok NAME" or "not ok NAME: why".
#   scripts/check.sh [format|cppcheck|warnings...]   (default: all three)
# Run through make (it exports the file lists and compiler commands).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(format cppcheck warnings)
failed=0
log=$(mktemp "${TMPDIR:-/tmp}/nestbox-check.XXXXXX")
trap 'rm -f "$log"' EXIT

# format: every file as clang-format (.clang-format) would write it.
check_format() {
	local files
	clang-format --dry-run $NB_FORMAT_SRCS >"$log" 2>&1
	files=$(grep -oE '^[^:]+:[0-9]+:[0-9]+: (warning|error)' "$log" | cut -d: -f1 | sort -u | wc -l)
	[ "$files" -eq 0 ] && return 0
	echo "$files of $(wc -w <<<"$NB_FORMAT_SRCS") files differ from .clang-format; reformat with: make format"
	return 1
}

# cppcheck: suppressions with their reasons in scripts/cppcheck.supp.
check_cppcheck() {
	cppcheck -q --std=c11 --enable=warning,portability --inline-suppr \
		--suppressions-list=scripts/cppcheck.supp -I include -I . -I tests \
		-D__x86_64__ -D__linux__ -j"$(nproc)" --error-exitcode=1 \
		common vmm images container guest-init tests >"$log" 2>&1 && return 0
	echo "$(grep -cE '^[^:]+:[0-9]+:[0-9]+:' "$log") findings, the first: $(grep -m1 -E '^[^:]+:[0-9]+:[0-9]+:' "$log")"
	return 1
}

# warnings: every source compiled (-fsyntax-only) with the Makefile's WARN.
check_warnings() {
	local f bad=0
	for f in $NB_HOST_CHECK_SRCS; do $NB_HOST_CHECK "$f" || bad=$((bad + 1)); done >"$log" 2>&1
	for f in $NB_GUEST_CHECK_SRCS; do $NB_GUEST_CHECK "$f" || bad=$((bad + 1)); done >>"$log" 2>&1
	for f in $NB_TEST_CHECK_SRCS; do $NB_HOST_CHECK -Wno-write-strings "$f" || bad=$((bad + 1)); done >>"$log" 2>&1
	for f in $NB_TEST_GUEST_CHECK_SRCS; do $NB_GUEST_CHECK -Wno-write-strings "$f" || bad=$((bad + 1)); done >>"$log" 2>&1
	[ "$bad" -eq 0 ] && return 0
	echo "$bad files fail, the first: $(grep -m1 -E 'error:' "$log")"
	return 1
}

for step in "${steps[@]}"; do
	if why=$("check_$step" 2>&1); then
		echo "ok $step"
	else
		why=${why:-failed}
		echo "not ok $step: ${why:0:400}"
		failed=1
	fi
done
exit "$failed"
