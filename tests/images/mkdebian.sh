#!/usr/bin/env bash
# Build (once per machine, cached by the hash of its inputs) an OCI layout of
# Debian bookworm made with `debootstrap --variant=minbase` and packed by umoci:
#   ${NESTBOX_CACHE:-$HOME/.cache/nestbox}/test-images/debian-<hash>/debian  (tag: bookworm)
# Prints the layout directory. Needs root and the Debian archive (about a
# minute and a half the first time). tests/run calls it before the images,
# host-kvm and e2e tiers; the cases that use the image call it with
# --cached-only: print the layout if built, else say why not on stderr
# (the last build's failure, e.g. no Debian archive reachable) and exit 3.
# key = RECIPE, the suite, and debootstrap's and umoci's versions: bump
# RECIPE when a change here changes the image.
set -euo pipefail
RECIPE=1
suite=bookworm
mirror=${NESTBOX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
for tool in debootstrap umoci; do
	command -v "$tool" >/dev/null || { echo "mkdebian: $tool missing (scripts/deps.sh)" >&2; exit 1; }
done
key=$(echo "recipe $RECIPE $suite $(debootstrap --version) $(umoci --version)" | sha256sum | cut -c1-16)
top=${NESTBOX_CACHE:-$HOME/.cache/nestbox}/test-images
out=$top/debian-$key
failed=$top/debian-$key.failed
if [ -f "$out/.done" ]; then echo "$out/debian"; exit 0; fi
if [ "${1:-}" = --cached-only ]; then
	if [ -s "$failed" ]; then cat "$failed" >&2
	else echo "not built yet (tests/images/mkdebian.sh builds it; tests/run does, before the tiers that use it)" >&2; fi
	exit 3
fi
mkdir -p "$top"
exec 9>"$top/.debian.lock"
flock 9
if [ -f "$out/.done" ]; then echo "$out/debian"; exit 0; fi
rm -rf "$out"
work=$(mktemp -d "$top/.debian-work.XXXXXX")
# The root file system is made on a local file system (device nodes,
# owners): the cache may be on one that refuses them.
trees=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-mkdebian.XXXXXX")
trap 'rm -rf "$work" "$trees"' EXIT
debootstrap --variant=minbase "$suite" "$trees/rootfs" "$mirror" >"$trees/debootstrap.log" 2>&1 || {
	echo "debootstrap $suite from $mirror failed on $(date -u +%F) (is the Debian archive reachable?): $(grep -E 'E:|W:' "$trees/debootstrap.log" | tail -1 | cut -c1-200)" >"$failed"
	cat "$failed" >&2
	exit 1
}
rm -f "$failed"
rm -rf "$trees/rootfs/var/cache/apt/archives"/*.deb "$trees/rootfs/var/lib/apt/lists"/*
umoci init --layout "$work/debian"
umoci new --image "$work/debian:$suite"
umoci unpack --image "$work/debian:$suite" "$trees/bundle" >/dev/null
rm -rf "$trees/bundle/rootfs"
mv "$trees/rootfs" "$trees/bundle/rootfs"
umoci repack --image "$work/debian:$suite" "$trees/bundle"
umoci config --image "$work/debian:$suite" --config.cmd /bin/bash \
	--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--os linux --architecture amd64
umoci gc --layout "$work/debian"
mkdir -p "$out"
mv "$work/debian" "$out/"
touch "$out/.done"
echo "$out/debian"
