#!/usr/bin/env bash
# Line coverage that a fuzz target's corpus reaches in the code it targets.
#   tests/fuzz/coverage.sh [TARGET...]     (default: every tests/fuzz/fuzz_*.c)
# Builds the targets with clang's source-based coverage under
# build/fuzz-cov/, runs each once over its corpus (tests/fuzz/corpus/TARGET
# and build/fuzz/TARGET.corpus, whichever exist) and prints llvm-cov's
# line coverage of the files named on the target's "Covers:" line (all
# files when it has none). HTML: llvm-cov show -format=html with the same
# arguments (printed at the end).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
out=build/fuzz-cov

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for t in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$t" .c)"); done
fi
bins=()
for t in "${targets[@]}"; do bins+=("$out/fuzz/$t"); done
if ! make -s BUILD="$out" FUZZ_EXTRA="-fprofile-instr-generate -fcoverage-mapping" \
	"${bins[@]}" >"$out.log" 2>&1; then
	echo "build failed: $out.log" >&2
	exit 1
fi
for t in "${targets[@]}"; do
	dirs=()
	for d in "tests/fuzz/corpus/$t" "build/fuzz/$t.corpus"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	if [ ${#dirs[@]} -eq 0 ]; then
		echo "$t: no corpus"
		continue
	fi
	rm -f "$out/$t".*.profraw
	LLVM_PROFILE_FILE="$out/$t.%p.profraw" "$out/fuzz/$t" -runs=0 "${dirs[@]}" \
		>"$out/$t.run.log" 2>&1
	llvm-profdata merge -sparse -o "$out/$t.profdata" "$out/$t".*.profraw
	read -r -a files <<<"$(sed -n 's/^.*Covers: *//p' "tests/fuzz/$t.c" | head -1 | sed 's/ *\*\/.*//')"
	echo "== $t ($(find "${dirs[@]}" -type f | wc -l) inputs)"
	# Columns: file, regions (3), functions (3), lines: total, missed, cover.
	llvm-cov report "$out/fuzz/$t" -instr-profile="$out/$t.profdata" "${files[@]}" |
		awk -v root="$PWD/" '$8 ~ /^[0-9]+$/ && $1 != "TOTAL" {
			sub(root, "", $1); printf "   %-28s lines %6s  (%d of %d)\n", $1, $10, $8 - $9, $8 }'
	echo "   (llvm-cov show -format=html $out/fuzz/$t -instr-profile=$out/$t.profdata ${files[*]})"
done
