#!/usr/bin/env bash
# Container start-up, guest side: time from nestbox-init's start to the
# container's execve (nestbox-init's `nestbox.debug` line "container execve
# at T us uptime, D us after nestbox-init started": namespaces, cgroup,
# rootfs, /dev, masks, user, caps, seccomp), against the wall time of
# `crun run` of the same busybox rootfs and a `crun spec` config.json running
# `true` on the test host (create + start + exec + exit + delete: crun's own
# start-to-execve is a part of it, so the ratio flatters crun). Median of N.
# Both run inside the emulated test host on a PVM machine (QEMU TCG L1:
# absolute times are not hardware times; read the ratio). Never pass/fail.
#
#   bench/container.sh [RUNS]     (default 5; build with `make tests` first)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/crun_bundle.sh
. bench/lib/crun_bundle.sh

if [ "${1:-}" != --inner ]; then
	exec tests/testhost/run bench/container.sh --inner "${1:-5}"
fi
runs=${2:-5}
rootfs=build/rootfs-busybox
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'; }

for i in $(seq "$runs"); do
	build/nestbox run --kernel-args nestbox.debug $rootfs -- true >"$work/nb.out" 2>&1 || true
	sed -n 's/.*container execve at [0-9]* us uptime, \([0-9]*\) us after nestbox-init started.*/\1/p' \
		"$work/nb.out" | tr -d '\r' >>"$work/nestbox.us"
done

if command -v crun >/dev/null; then
	crun_bundle "$work/bundle" "$rootfs"
	for i in $(seq "$runs"); do
		start=$(date +%s%N)
		crun run --bundle "$work/bundle" "nb-bench-$$-$i" </dev/null >/dev/null 2>&1 || true
		echo $(( ($(date +%s%N) - start) / 1000 )) >>"$work/crun.us"
	done
fi

nb=$(median <"$work/nestbox.us")
cr=$( [ -s "$work/crun.us" ] && median <"$work/crun.us" || echo nan)
printf '%-44s %12s\n' "what (median of $runs)" "microseconds"
printf '%-44s %12s\n' "nestbox-init start -> container execve" "$nb"
printf '%-44s %12s\n' "crun run (whole, same rootfs, true)" "$cr"
if [ "$cr" != nan ] && [ "$nb" != nan ] && [ "$cr" -gt 0 ]; then
	awk -v a="$nb" -v b="$cr" 'BEGIN { printf "%-44s %12.2f\n", "ratio nestbox / crun", a / b }'
fi
