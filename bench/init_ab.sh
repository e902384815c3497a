#!/usr/bin/env bash
# A/B of two nestbox-init builds on the warm path, in the emulated test host
# (QEMU TCG L1: read the ratios, not the absolute times). Never pass/fail.
# Two templates of the same image, A made with OLD_INIT and B with this
# tree's build/nestbox-init, then PAIRS rounds, A and B alternated:
#   - nestbox start to the workload's "container execve" debug line
#     (`nestbox run --template T -- true`, the template made with
#     --kernel-args nestbox.debug);
#   - a whole `nestbox fn --template T -- true`, and its duration_ms.run
#     (the clone resumed to its exit).
# Prints the medians and B/A.
#
#   bench/init_ab.sh OLD_INIT [PAIRS [IMAGE]]
#     PAIRS default 8; OLD_INIT e.g. an older tree's build (make BUILD=DIR
#     DIR/nestbox-init); IMAGE default the test images' busybox (no
#     /etc/passwd), e.g. build/oci/busybox (make's, with one)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/to_execve.sh
. bench/lib/to_execve.sh

if [ "${1:-}" != --inner ]; then
	if [ $# -lt 1 ] || [ ! -x "$1" ]; then
		echo "usage: bench/init_ab.sh OLD_INIT [PAIRS [IMAGE]]" >&2
		exit 2
	fi
	old=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
	exec tests/testhost/run --timeout 1800 bench/init_ab.sh --inner "$old" "${2:-8}" "${3:-}"
fi
old=$2 pairs=$3
img=${4:-$(tests/images/mkimages.sh)/busybox}
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
export NESTBOX_CACHE_DIR=$work/cache
trap 'rm -rf "$work"' EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) { print "nan"; exit } print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

build/nestbox template create A "$img" --guest-init "$old" --kernel-args nestbox.debug >/dev/null
build/nestbox template create B "$img" --kernel-args nestbox.debug >/dev/null
for _ in $(seq "$pairs"); do
	for t in A B; do
		to_execve build/nestbox run --template "$t" -- true >>"$work/$t.execve"
		s=$(date +%s%N)
		out=$(build/nestbox fn --template "$t" -- true)
		echo $((($(date +%s%N) - s) / 1000000)) >>"$work/$t.fn"
		jq -r '.duration_ms.run | floor' <<<"$out" >>"$work/$t.run"
	done
done

printf '%-44s %8s %8s %6s\n' "median of $pairs (milliseconds)" A B B/A
for m in execve:"nestbox start -> container execve" fn:"nestbox fn, whole" run:"nestbox fn, resumed -> exit"; do
	a=$(median <"$work/A.${m%%:*}") b=$(median <"$work/B.${m%%:*}")
	awk -v w="${m#*:}" -v a="$a" -v b="$b" 'BEGIN { printf "%-44s %8s %8s %6.2f\n", w, a, b, (a > 0 ? b / a : 0) }'
done
