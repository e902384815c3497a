#!/usr/bin/env bash
# Line coverage a fuzz target's corpus reaches in a source file:
#   tests/fuzz/coverage.sh TARGET SOURCE [CORPUS_DIR...]
# builds TARGET with clang's source-based coverage (build/fuzz-cov/), runs
# every input of the corpus once (default: tests/fuzz/corpus/TARGET and
# build/fuzz/TARGET.corpus, what the fuzz tier found) and prints llvm-cov's
# summary line for SOURCE (regions, functions, lines, branches).
#   e.g. tests/fuzz/coverage.sh fuzz_registry images/registry.c
set -euo pipefail
cd "$(dirname "$0")/../.." || exit 2
[ $# -ge 2 ] || { echo "usage: $0 TARGET SOURCE [CORPUS_DIR...]" >&2; exit 2; }
target=$1 source=$2
shift 2
dirs=("$@")
if [ ${#dirs[@]} -eq 0 ]; then
	for d in "tests/fuzz/corpus/$target" "build/fuzz/$target.corpus"; do
		[ -d "$d" ] && dirs+=("$d")
	done
fi
out=build/fuzz-cov
make -s BUILD="$out" "$out/fuzz/$target" FUZZ_CFLAGS="-std=gnu11 -D_GNU_SOURCE -O1 -g -I. \
-Iinclude -Itests -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping" >/dev/null
rm -f "$out/$target.profraw"
LLVM_PROFILE_FILE=$out/$target.profraw "$out/fuzz/$target" -runs=0 "${dirs[@]}" \
	>"$out/$target.log" 2>&1 || { echo "$target failed on its corpus: $out/$target.log" >&2; exit 1; }
llvm-profdata merge -sparse "$out/$target.profraw" -o "$out/$target.profdata"
echo "$target on $source (${dirs[*]}):"
llvm-cov report "$out/fuzz/$target" -instr-profile="$out/$target.profdata" "$source" | sed -n '1p;$p'
