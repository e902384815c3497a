#!/usr/bin/env bash
# Build (once per machine, cached by input hash) an OCI layout of Debian
# bookworm made with `debootstrap --variant=minbase` and packed by umoci:
#   ${NESTBOX_CACHE:-$HOME/.cache/nestbox}/test-images/debian-<hash>/debian  (tag: bookworm)
# Prints the layout directory. Needs root and the Debian archive (minutes
# the first time). With --cached-only: print it if built already, else exit 3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mirror=${NESTBOX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
for tool in debootstrap umoci; do
	command -v "$tool" >/dev/null || { echo "mkdebian: $tool missing (scripts/deps.sh)" >&2; exit 1; }
done
key=$( (cat "$here/mkdebian.sh"; debootstrap --version; umoci --version) | sha256sum | cut -c1-16)
top=${NESTBOX_CACHE:-$HOME/.cache/nestbox}/test-images
out=$top/debian-$key
if [ -f "$out/.done" ]; then echo "$out/debian"; exit 0; fi
[ "${1:-}" != --cached-only ] || exit 3
mkdir -p "$top"
exec 9>"$top/.debian.lock"
flock 9
if [ -f "$out/.done" ]; then echo "$out/debian"; exit 0; fi
rm -rf "$out"
work=$(mktemp -d "$top/.debian-work.XXXXXX")
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
	{ tail -20 "$work/debootstrap.log" >&2; exit 1; }
rm -rf "$work/rootfs/var/cache/apt/archives"/*.deb "$work/rootfs/var/lib/apt/lists"/*
umoci init --layout "$work/debian"
umoci new --image "$work/debian:bookworm"
umoci unpack --image "$work/debian:bookworm" "$work/bundle" >/dev/null
rm -rf "$work/bundle/rootfs"
mv "$work/rootfs" "$work/bundle/rootfs"
umoci repack --image "$work/debian:bookworm" "$work/bundle"
umoci config --image "$work/debian:bookworm" --config.cmd /bin/bash \
	--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--os linux --architecture amd64
umoci gc --layout "$work/debian"
mkdir -p "$out"
mv "$work/debian" "$out/"
touch "$out/.done"
echo "$out/debian"
