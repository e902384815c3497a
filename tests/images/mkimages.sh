#!/usr/bin/env bash
# Build the test images once per machine, cached by the hash of their
# inputs under ${NESTBOX_CACHE:-$HOME/.cache/nestbox}/test-images/<hash>/:
#   busybox/        OCI layout, one gzip layer: Debian's busybox-static plus
#                   files that prove metadata survives (setuid, owner, device
#                   node, hard link, symlink, xattr)
#   multi/          OCI layout, three layers (gzip, zstd, tar): the upper
#                   layers delete a file (.wh.) and replace a directory
#                   (.wh..wh..opq)
#   busybox-docker.tar, busybox-oci.tar   the busybox image as skopeo
#                   docker-archive and oci-archive (absent without skopeo)
# Prints the directory. Needs root (owners, device nodes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "mkimages: $busybox missing (busybox-static)" >&2; exit 1; }
key=$( (cat "$here/mkimages.sh" "$here/mklayout.py"; sha256sum "$busybox"; skopeo --version 2>/dev/null || true) |
	sha256sum | cut -c1-16)
top=${NESTBOX_CACHE:-$HOME/.cache/nestbox}/test-images
out=$top/$key
if [ -f "$out/.done" ]; then echo "$out"; exit 0; fi
mkdir -p "$top"
exec 9>"$top/.lock"
flock 9
if [ -f "$out/.done" ]; then echo "$out"; exit 0; fi
rm -rf "$out"
work=$(mktemp -d "$top/.work.XXXXXX")
# The file trees (device nodes, owners, xattrs) are made on a local file
# system: the cache may be on one that refuses them (9p in the test host).
trees=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-mkimages.XXXXXX")
trap 'rm -rf "$work" "$trees"' EXIT

# Deterministic tars: sorted, numeric owners, fixed mtime.
mktar() { tar --sort=name --numeric-owner --xattrs --xattrs-include='*' --mtime=@1700000000 \
	--format=pax -C "$1" -cf "$2" .; }

base=$trees/base
mkdir -p "$base"/{bin,etc,opt/data,root,tmp,dev,usr/bin}
cp "$busybox" "$base/bin/busybox"
for app in sh ls cat echo id stat test; do ln -s busybox "$base/bin/$app"; done
ln -s /bin/busybox "$base/usr/bin/env"
echo 'NAME="nestbox test busybox"' > "$base/etc/os-release"
echo 'delete me' > "$base/etc/deleteme"
echo old > "$base/opt/data/old"
echo kept > "$base/opt/keep"
cp "$busybox" "$base/bin/suid" && chmod 4755 "$base/bin/suid"
echo owned > "$base/etc/owned" && chown 1234:5678 "$base/etc/owned" && chmod 0640 "$base/etc/owned"
ln "$base/etc/os-release" "$base/etc/os-release.link"
mknod "$base/dev/null0" c 1 3
chmod 1777 "$base/tmp"
python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.nestbox", b"yes")' "$base/etc/os-release" ||
	echo "mkimages: no user xattrs on $trees" >&2
mktar "$base" "$work/base.tar"

# Upper layer 1 (zstd): a whiteout for etc/deleteme, opaque opt/data.
up1=$trees/up1
mkdir -p "$up1/etc" "$up1/opt/data"
: > "$up1/etc/.wh.deleteme"
: > "$up1/opt/data/.wh..wh..opq"
echo new > "$up1/opt/data/new"
mktar "$up1" "$work/up1.tar"
# Upper layer 2 (plain tar): one new file.
up2=$trees/up2
mkdir -p "$up2/etc"
echo three > "$up2/etc/layer3"
mktar "$up2" "$work/up2.tar"

cfg='{"Entrypoint":["/bin/sh","-c"],"Cmd":["cat /etc/os-release"],"Env":["PATH=/bin:/usr/bin","NB_TEST=1"],"WorkingDir":"/root","User":"0:0"}'
python3 "$here/mklayout.py" "$work/busybox" "$cfg" "$work/base.tar:gzip"
python3 "$here/mklayout.py" "$work/multi" "$cfg" "$work/base.tar:gzip" "$work/up1.tar:zstd" "$work/up2.tar:tar"
if command -v skopeo >/dev/null; then
	skopeo --insecure-policy copy -q "oci:$work/busybox:test" "docker-archive:$work/busybox-docker.tar:busybox:test"
	skopeo --insecure-policy copy -q "oci:$work/busybox:test" "oci-archive:$work/busybox-oci.tar:test"
fi
rm -rf "$trees" "$work"/*.tar.tmp
mkdir -p "$out"
mv "$work/busybox" "$work/multi" "$out/"
mv "$work"/busybox-*.tar "$out/" 2>/dev/null || true
cp "$work/base.tar" "$work/up1.tar" "$out/"
touch "$out/.done"
echo "$out"
