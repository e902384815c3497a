#!/usr/bin/env bash
# Image import: `nestbox pull` of the Debian bookworm minbase OCI layout
# (tests/images/mkdebian.sh, built once and cached) into an empty cache
# (cold: verify, extract, mkfs.erofs) and again (warm: every layer cached),
# against `umoci unpack` of the same image; the space each leaves on disk.
# Median of RUNS (default 3); never part of pass/fail.
#
#   bench/images.sh [RUNS]        (needs root, umoci; build with `make` first)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
image=$(tests/images/mkdebian.sh)
work=$(mktemp -d "${TMPDIR:-/var/tmp}/nestbox-bench-images.XXXXXX")
trap 'rm -rf "$work"' EXIT
export NESTBOX_CACHE_DIR=$work/cache

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
elapsed() { # CMD... : wall seconds
	local t0 t1
	t0=$(now)
	"$@" >/dev/null 2>&1
	t1=$(now)
	echo "$t1 - $t0" | bc -l
}

cold=() warm=() umoci_t=()
for _ in $(seq "$runs"); do
	rm -rf "$NESTBOX_CACHE_DIR" "$work/bundle"
	sync
	cold+=("$(elapsed build/nestbox pull "$image")")
	warm+=("$(elapsed build/nestbox pull "$image")")
	umoci_t+=("$(elapsed umoci unpack --image "$image:bookworm" "$work/bundle")")
done
blob=$(du -sb "$image/blobs" | cut -f1)
cache=$(du -sb "$NESTBOX_CACHE_DIR/layers" | cut -f1)
bundle=$(du -sb "$work/bundle" | cut -f1)
mib() { echo "scale=1; $1 / 1048576" | bc; }

printf '%-38s %10s %12s\n' "Debian bookworm minbase ($runs runs)" "median s" "on disk MiB"
printf '%-38s %10s %12s\n' "image blobs (gzip layer + JSON)" "-" "$(mib "$blob")"
printf '%-38s %10.2f %12s\n' "nestbox pull, cold cache (erofs)" "$(printf '%s\n' "${cold[@]}" | median)" "$(mib "$cache")"
printf '%-38s %10.2f %12s\n' "nestbox pull, warm cache" "$(printf '%s\n' "${warm[@]}" | median)" "+0"
printf '%-38s %10.2f %12s\n' "umoci unpack (directory tree)" "$(printf '%s\n' "${umoci_t[@]}" | median)" "$(mib "$bundle")"
