#!/usr/bin/env bash
# fuzz tier: build the libFuzzer targets (clang, -fsanitize=fuzzer,address,
# undefined) and run each for NESTBOX_FUZZ_TIME seconds (default 10),
# starting from the inputs kept in the repo (tests/fuzz/corpus/TARGET/:
# seeds, and the crash inputs of fixed bugs, which must not crash again)
# and the ones earlier runs found (build/fuzz/TARGET.corpus, where new
# ones go). One input running longer than 25 s is a hang, and fails the
# target as a crash does (libFuzzer's own default is 1200 s: a hang found
# that way cost a fresh run 20 minutes). One line per target: ok / not ok
# (with the crash or timeout file) / skip.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
time=${NESTBOX_FUZZ_TIME:-10}

if ! command -v clang >/dev/null; then
	for t in tests/fuzz/fuzz_*.c; do echo "skip $(basename "$t" .c): clang missing (scripts/deps.sh)"; done
	exit 0
fi
if ! make -s fuzz-bins >build/fuzz-build.log 2>&1; then
	echo "not ok fuzz_build: make fuzz-bins failed (build/fuzz-build.log)"
	exit 1
fi
rc=0
for t in tests/fuzz/fuzz_*.c; do
	name=$(basename "$t" .c)
	dir=build/fuzz/$name.artifacts
	mkdir -p "$dir" "build/fuzz/$name.corpus"
	seeds=()
	[ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
	if build/fuzz/"$name" -max_total_time="$time" -timeout=25 -rss_limit_mb=1024 -print_final_stats=1 \
		-artifact_prefix="$dir/" "build/fuzz/$name.corpus" "${seeds[@]}" >"build/fuzz/$name.log" 2>&1; then
		# A target that cannot run here says why in one line and exits 0.
		if why=$(grep -m1 '^fuzz-skip: ' "build/fuzz/$name.log"); then
			echo "skip $name: ${why#fuzz-skip: }"
			continue
		fi
		echo "ok $name ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "build/fuzz/$name.log" |
			grep -o '[0-9]*$' || echo '?') runs in ${time} s)"
	else
		what=crash
		grep -q 'libFuzzer: timeout after' "build/fuzz/$name.log" && what='hang (an input ran over 25 s)'
		echo "not ok $name: $what, see build/fuzz/$name.log and $dir/"
		rc=1
	fi
done
exit $rc
