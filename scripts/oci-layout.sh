#!/usr/bin/env bash
# Pack a root file system directory as an OCI image layout (one layer) with
# umoci, the way an image built elsewhere would arrive:
#   scripts/oci-layout.sh ROOTFS OUT [TAG]
# OUT gets oci-layout, index.json (ref TAG, default latest) and the blobs;
# the config's Cmd is /bin/sh and its Env a standard PATH. Built beside OUT
# and renamed into place. Needs root (the layer keeps owners) and umoci.
set -euo pipefail
rootfs=${1:?usage: oci-layout.sh ROOTFS OUT [TAG]}
out=${2:?usage: oci-layout.sh ROOTFS OUT [TAG]}
tag=${3:-latest}
command -v umoci >/dev/null || { echo "oci-layout: umoci missing (scripts/deps.sh)" >&2; exit 1; }
[ -d "$rootfs" ] || { echo "oci-layout: $rootfs is not a directory" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$(dirname "$out")/.oci-layout.XXXXXX")
trap 'rm -rf "$work"' EXIT
umoci init --layout "$work/layout"
umoci new --image "$work/layout:$tag"
umoci unpack --image "$work/layout:$tag" "$work/bundle" >/dev/null
rm -rf "$work/bundle/rootfs"
cp -a "$rootfs" "$work/bundle/rootfs"
umoci repack --image "$work/layout:$tag" "$work/bundle"
umoci config --image "$work/layout:$tag" --config.cmd /bin/sh \
	--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--os linux --architecture amd64 --author nestbox
umoci gc --layout "$work/layout"
rm -rf "$out"
mv "$work/layout" "$out"
