#!/usr/bin/env bash
# Make a minimal root file system from Debian's busybox-static: DEST/bin/busybox
# with a symlink per applet, and the empty mount points nestbox-init fills.
#   tests/lib/busybox-rootfs.sh DEST
set -euo pipefail
dest=${1:?usage: busybox-rootfs.sh DEST}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "busybox-rootfs: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }

tmp=$(mktemp -d "$(dirname "$dest")/.rootfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,sbin,etc,proc,sys,dev,tmp,root,usr/bin,usr/sbin}
chmod 755 "$tmp" # a root file system is world-searchable (mktemp made it 0700)
cp "$busybox" "$tmp/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$tmp/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$tmp/etc/passwd"
echo 'root:x:0:' > "$tmp/etc/group"
echo 'nestbox demo rootfs (busybox)' > "$tmp/etc/issue"
chmod 1777 "$tmp/tmp"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
