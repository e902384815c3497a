#!/usr/bin/env bash
# images tier: image import on the host, no VM. Each case prints
#   ok NAME | not ok NAME: REASON | skip NAME: REASON
# Covers: every format (OCI layout, OCI archive, docker-archive, registry),
# what the erofs layers hold (mounted on this host when it has erofs), the
# whiteouts stacked with overlayfs, the warm cache, cache concurrency, an
# interrupted conversion, rmi/prune, and hostile images and archives.
# Each run uses a private cache (NESTBOX_CACHE_DIR); the test images
# themselves are cached by tests/images/mkimages.sh.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
. tests/lib/check.sh

nestbox=$PWD/build/nestbox
export NESTBOX_CACHE_DIR=$nb_tmp/cache
pids=()
cleanup_images() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for m in "$nb_tmp"/mnt/*; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
	rm -rf "$nb_tmp"
}
trap cleanup_images EXIT

if [ ! -x "$nestbox" ]; then
	not_ok images-build "build/nestbox missing: run make tests"
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	skip images "layer conversion needs root (owners, device nodes)"
	exit 0
fi
if ! imgs=$(tests/images/mkimages.sh 2>"$nb_tmp/mkimages.err"); then
	not_ok images-build "tests/images/mkimages.sh failed: $(tail -c 300 "$nb_tmp/mkimages.err")"
	exit 1
fi
mkdir -p "$nb_tmp/mnt"

layer_file() { echo "$NESTBOX_CACHE_DIR/layers/sha256-$1.erofs"; }
# Layer digests of an image as pull printed them, bottom first.
layers_of() { sed -n 's/^layer [0-9]*\/[0-9]* sha256:\([0-9a-f]*\) .*/\1/p' <<<"$1"; }
tmp_empty() { [ -z "$(ls -A "$NESTBOX_CACHE_DIR/tmp" 2>/dev/null)" ]; }

have_erofs=no
grep -qw erofs /proc/filesystems && have_erofs=yes
mount_layer() { # DIGEST DIR
	mkdir -p "$2" && mount -t erofs -o loop,ro "$(layer_file "$1")" "$2"
}
can_mount=no
probe_mount() {
	[ "$have_erofs" = yes ] || return 1
	mount_layer "$1" "$nb_tmp/mnt/probe" 2>/dev/null || return 1
	umount "$nb_tmp/mnt/probe"
}

# ---- formats -----------------------------------------------------------------
nb_run_case 120 "$nestbox" pull "$imgs/busybox"
bb_out=$out
bb_layer=$(layers_of "$out" | head -1)
expect pull-oci-layout "pull of an OCI layout exits 0, converts its layer and prints the image" \
	"$status-$(grep -c ' converted$' <<<"$out")-$(grep -c '^image sha256:' <<<"$out")" = 0-1-1
expect layer-in-cache "the layer's erofs image is in the cache, read-only" \
	"$(stat -c %a "$(layer_file "$bb_layer")" 2>/dev/null)" = 444

rec_before=$(stat -c '%i %.9Y' "$NESTBOX_CACHE_DIR/images.json" 2>/dev/null)
nb_run_case 60 "$nestbox" pull "$imgs/busybox"
expect pull-warm "a second pull reuses the cached layer" \
	"$status-$(grep -c ' cached$' <<<"$out")-$(grep -c ' converted$' <<<"$out")" = 0-1-0
rec_after=$(stat -c '%i %.9Y' "$NESTBOX_CACHE_DIR/images.json" 2>/dev/null)
expect pull-warm-record "a second pull of the same image leaves images.json as it was (no rewrite, no fsync)" \
	-n "$rec_before" -a "$rec_before" = "$rec_after"

if [ -f "$imgs/busybox-oci.tar" ]; then
	nb_run_case 120 "$nestbox" pull "$imgs/busybox-oci.tar"
	expect pull-oci-archive "an OCI archive (skopeo oci-archive:) imports, sharing the layer" \
		"$status-$(layers_of "$out")" = "0-$bb_layer"
	nb_run_case 120 "$nestbox" pull "$imgs/busybox-docker.tar"
	dk_layer=$(layers_of "$out" | head -1)
	diff_id=$(sha256sum "$imgs/base.tar" | cut -d' ' -f1)
	expect pull-docker-archive "a docker-archive imports; its layer is the uncompressed tar" \
		"$status-$dk_layer" = "0-$diff_id"
else
	skip pull-oci-archive "skopeo not installed"
	skip pull-docker-archive "skopeo not installed"
fi

nb_run_case 120 "$nestbox" pull "$imgs/multi"
mapfile -t multi_layers < <(layers_of "$out")
expect pull-multi-layer "a gzip+zstd+tar three-layer image imports" \
	"$status-${#multi_layers[@]}-$(grep -c '^image ' <<<"$out")" = 0-3-1

# ---- what the layers hold -----------------------------------------------------
if probe_mount "$bb_layer"; then can_mount=yes; fi
if [ "$can_mount" = yes ]; then
	m=$nb_tmp/mnt/bb
	mount_layer "$bb_layer" "$m"
	got="$(stat -c '%u:%g:%a' "$m/etc/owned") $(stat -c %a "$m/bin/suid") $(stat -c '%F:%t:%T' "$m/dev/null0")"
	got+=" $(stat -c %h "$m/etc/os-release") $(readlink "$m/bin/sh") $(stat -c %a "$m/tmp")"
	got+=" $(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.nestbox").decode())' "$m/etc/os-release" 2>&1)"
	want="1234:5678:640 4755 character special file:1:3 2 busybox 1777 yes"
	[ "$got" = "$want" ] && ok erofs-metadata ||
		not_ok erofs-metadata "owners/modes/suid/device/hard link/symlink/sticky/xattr: got '$got', want '$want'"
	"$m/bin/busybox" true 2>/dev/null && ok erofs-binary-runs || not_ok erofs-binary-runs "busybox from the erofs image does not run"
	umount "$m"

	# Stack the three layers the way the guest will and look.
	for i in 0 1 2; do mount_layer "${multi_layers[$i]}" "$nb_tmp/mnt/l$i"; done
	mkdir -p "$nb_tmp/mnt/ov"
	if mount -t overlay overlay -o "lowerdir=$nb_tmp/mnt/l2:$nb_tmp/mnt/l1:$nb_tmp/mnt/l0" "$nb_tmp/mnt/ov" 2>"$nb_tmp/ov.err"; then
		o=$nb_tmp/mnt/ov
		got="deleteme:$([ -e "$o/etc/deleteme" ] && echo present || echo absent)"
		got+=" data:$(ls "$o/opt/data" | tr '\n' ,) keep:$(cat "$o/opt/keep") l3:$(cat "$o/etc/layer3")"
		want="deleteme:absent data:new, keep:kept l3:three"
		[ "$got" = "$want" ] && ok whiteouts-overlay ||
			not_ok whiteouts-overlay "overlay of the layers: got '$got', want '$want'"
		umount "$o"
	else
		skip whiteouts-overlay "overlayfs mount failed here: $(head -c 100 "$nb_tmp/ov.err")"
	fi
	for i in 0 1 2; do umount "$nb_tmp/mnt/l$i"; done
else
	skip erofs-metadata "this host cannot mount erofs (no erofs in /proc/filesystems or no loop device)"
	skip erofs-binary-runs "this host cannot mount erofs"
	skip whiteouts-overlay "this host cannot mount erofs"
fi

# ---- Debian (debootstrap + umoci), built once per machine (tests/run
# builds it before this tier; the build needs the Debian archive)
if ! deb=$(tests/images/mkdebian.sh 2>"$nb_tmp/deb.err"); then
	skip pull-debian "Debian image not built: $(tail -n 1 "$nb_tmp/deb.err")"
else
	nb_run_case 300 "$nestbox" pull "$deb"
	deb_layer=$(layers_of "$out" | head -1)
	if [ "$status" != 0 ]; then
		not_ok pull-debian "pull failed (status $status): $(tail -c 300 <<<"$err")"
	elif [ "$can_mount" = yes ]; then
		mount_layer "$deb_layer" "$nb_tmp/mnt/deb"
		got="$(cut -d. -f1 "$nb_tmp/mnt/deb/etc/debian_version") $(stat -c '%a' "$nb_tmp/mnt/deb/usr/bin/passwd") $([ -x "$nb_tmp/mnt/deb/usr/bin/apt" ] && echo apt)"
		umount "$nb_tmp/mnt/deb"
		[ "$got" = "12 4755 apt" ] && ok pull-debian ||
			not_ok pull-debian "want Debian 12 with setuid passwd and apt, got '$got'"
	else
		ok pull-debian
	fi
fi

# ---- not root: a clear refusal, no half entry
if command -v setpriv >/dev/null; then
	mkdir -p "$nb_tmp/nobody-cache" && chown 65534:65534 "$nb_tmp/nobody-cache" && chmod 755 "$nb_tmp"
	cp -a "$imgs/busybox" "$nb_tmp/nobody-img" && chmod -R a+rX "$nb_tmp/nobody-img"
	NESTBOX_CACHE_DIR=$nb_tmp/nobody-cache nb_run_case 60 setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$nestbox" pull "$nb_tmp/nobody-img"
	expect not-root "conversion as an unprivileged user fails with 125 and says it needs root, leaving no layer" \
		"$status-$(grep -c 'needs root' <<<"$err")-$(ls "$nb_tmp/nobody-cache/layers" 2>/dev/null | grep -c erofs)" = 125-1-0
else
	skip not-root "setpriv missing"
fi

# ---- the guest side: nestbox-init stacks the layer disks (QEMU TCG, no KVM;
# acpi=off so microvm announces the virtio-mmio disks on the command line)
# Plain QEMU boots a bzImage, or a vmlinux with a PVH note (as tests/guest).
kernel=""
if [ -f build/bzImage ]; then kernel=build/bzImage
elif [ -f build/vmlinux ] && readelf -n build/vmlinux 2>/dev/null | grep -q Xen; then kernel=build/vmlinux; fi
if [ -z "$kernel" ] || ! command -v qemu-system-x86_64 >/dev/null || [ ! -x build/tests/guest/mkinitramfs ]; then
	skip guest-layers "needs build/bzImage, qemu-system-x86_64 and build/tests/guest/mkinitramfs (make tests)"
else
	# The layer disk as nestbox lays it out (abi.h): the erofs images back
	# to back at 4 KiB-aligned offsets, their places in the spec.
	disk=$nb_tmp/layers.img table=() off=0
	: >"$disk"
	for i in 0 1 2; do
		f=$(layer_file "${multi_layers[$i]}") size=$(stat -c %s "$f")
		dd if="$f" of="$disk" bs=4096 seek=$((off / 4096)) conv=notrunc status=none
		table+=(-L "$off:$size")
		off=$(( (off + size + 4095) / 4096 * 4096 ))
	done
	truncate -s "$off" "$disk"
	drives=(-drive "file=$disk,format=raw,if=none,id=layers,readonly=on"
		-device "virtio-blk-device,drive=layers,serial=nblayers")
	build/tests/guest/mkinitramfs -o "$nb_tmp/layers.cpio" -i build/nestbox-init "${table[@]}" -- /bin/sh -c \
		'echo "os:$(cat /etc/os-release)"; echo "data:$(ls /opt/data | tr "\n" ,)"; [ -e /etc/deleteme ] || echo deleteme:absent; echo "l3:$(cat /etc/layer3)"; echo "suid:$(stat -c %a /bin/suid)"; echo "owned:$(stat -c %u:%g /etc/owned)"; echo w > /etc/written && echo "write:$(cat /etc/written)"' \
		>/dev/null 2>"$nb_tmp/mkinitramfs.err"
	nb_run_case 120 qemu-system-x86_64 -accel tcg -M microvm,x-option-roms=off,rtc=off,acpi=off -m 256 \
		-nographic -no-reboot -kernel "$kernel" -initrd "$nb_tmp/layers.cpio" "${drives[@]}" \
		-append "console=ttyS0 reboot=t panic=-1 rdinit=/init quiet nestbox.debug"
	out=$(tr -d '\r' <<<"$out")
	want='os:NAME="nestbox test busybox"|data:new,|deleteme:absent|l3:three|suid:4755|owned:1234:5678|write:w'
	got=$(grep -E '^(os|data|deleteme|l3|suid|owned|write):' <<<"$out" | tr '\n' '|' | sed 's/|$//')
	[ "$got" = "$want" ] && grep -q 'reporting status 0' <<<"$out" && ok guest-layers ||
		not_ok guest-layers "nestbox-init over three layer disks: got '$got', want '$want' ($(grep -a 'nestbox-init' <<<"$out" | tail -n 3 | tr '\n' '|'))"
fi

# ---- records: images, rmi, prune ------------------------------------------------
nb_run_case 30 "$nestbox" images --json
expect images-json "images --json lists the imported images with their layer sizes" \
	"$status-$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), all(l["erofs_size"]>0 for i in d for l in i["layers"]))' <<<"$out" 2>&1)" \
	= "0-$(( $([ -f "$imgs/busybox-oci.tar" ] && echo 4 || echo 2) + $([ -n "$deb" ] && echo 1 || echo 0) )) True"
nb_run_case 30 "$nestbox" images
expect images-table "images prints a table with a header" "$status-$(head -1 <<<"$out" | cut -c1-3)" = 0-REF

nb_run_case 30 "$nestbox" rmi "$imgs/multi"
expect rmi-frees-unshared "rmi removes the image and its two unshared layers, keeps the shared one" \
	"$status-$([ -f "$(layer_file "${multi_layers[1]}")" ] && echo kept || echo gone)-$([ -f "$(layer_file "$bb_layer")" ] && echo kept || echo gone)" = 0-gone-kept
nb_run_case 30 "$nestbox" rmi no-such-image
expect rmi-unknown "rmi of an unknown image fails with 125 and says so" \
	"$status-$(grep -c 'no image' <<<"$err")" = 125-1
for ref in "$imgs/busybox" "$imgs/busybox-oci.tar" "$imgs/busybox-docker.tar" ${deb:+"$deb"}; do
	"$nestbox" rmi "$ref" >/dev/null 2>&1
done
nb_run_case 30 "$nestbox" prune
expect prune-empty "after removing every image, prune leaves no layer images" \
	"$status-$(ls "$NESTBOX_CACHE_DIR/layers" | grep -c erofs)" = 0-0

# ---- concurrency -----------------------------------------------------------------
rm -rf "$NESTBOX_CACHE_DIR"
"$nestbox" pull "$imgs/busybox" >"$nb_tmp/c1" 2>&1 &
p1=$!
"$nestbox" pull "$imgs/busybox" >"$nb_tmp/c2" 2>&1 &
p2=$!
wait $p1; s1=$?
wait $p2; s2=$?
conv=$(cat "$nb_tmp/c1" "$nb_tmp/c2" | grep -c ' converted$')
n_erofs=$(ls "$NESTBOX_CACHE_DIR/layers" | grep -c '\.erofs$')
[ "$s1-$s2-$conv-$n_erofs" = 0-0-1-1 ] && tmp_empty && ok concurrent-pulls ||
	not_ok concurrent-pulls "want both exit 0, one conversion, one cache entry: got $s1-$s2-$conv-$n_erofs ($(tr '\n' '|' <"$nb_tmp/c1"))"
nb_run_case 30 "$nestbox" images --json
expect concurrent-records "both pulls of one image leave one record" \
	"$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$out" 2>&1)" = 1

# ---- interrupted conversion ---------------------------------------------------------
# The layer blob is a FIFO fed slowly, so the conversion is surely in flight
# when nestbox is killed with SIGKILL.
rm -rf "$NESTBOX_CACHE_DIR"
slow=$nb_tmp/slow
cp -a "$imgs/busybox" "$slow"
blob=$slow/blobs/sha256/$bb_layer
mv "$blob" "$nb_tmp/real-blob"
mkfifo "$blob"
"$nestbox" pull "$slow" >"$nb_tmp/k.out" 2>&1 &
victim=$!
pids+=("$victim")
exec 7>"$blob"
head -c 300000 "$nb_tmp/real-blob" >&7
for _ in $(seq 50); do ls "$NESTBOX_CACHE_DIR/tmp" 2>/dev/null | grep -q '^layer-' && break; sleep 0.1; done
inflight=$(ls "$NESTBOX_CACHE_DIR/tmp" 2>/dev/null | grep -c '^layer-')
kill -9 "$victim"; wait "$victim" 2>/dev/null
exec 7>&-
half=$(ls "$NESTBOX_CACHE_DIR/layers" 2>/dev/null | grep -c '\.erofs$')
rm "$blob"; cp "$nb_tmp/real-blob" "$blob"
nb_run_case 120 "$nestbox" pull "$slow"
expect interrupted-conversion "kill -9 mid-conversion leaves no layer entry; the next pull converts and cleans the temp tree" \
	"$inflight-$half-$status-$(grep -c ' converted$' <<<"$out")-$(tmp_empty && echo clean || echo debris)" = 1-0-0-1-clean

# ---- hostile images ---------------------------------------------------------------------
# Layers made with Python's tarfile, which writes whatever names it is given.
hostile_layer() { # NAME PYTHON-STATEMENTS (t is the open TarFile)
	python3 - "$nb_tmp/h-$1.tar" <<PY
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
def f(name, data=b"x", **kw):
    i = tarfile.TarInfo(name); i.size = len(data)
    for k, v in kw.items(): setattr(i, k, v)
    t.addfile(i, io.BytesIO(data))
def l(name, target, kind=tarfile.SYMTYPE):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = target; t.addfile(i)
$2
t.close()
PY
	python3 tests/images/mklayout.py "$nb_tmp/h-$1" '{}' "$nb_tmp/h-$1.tar:gzip"
}
hostile_case() { # NAME WHAT-THE-ERROR-SAYS PYTHON
	local name=$1 want=$2
	hostile_layer "$name" "$3"
	nb_run_case 60 "$nestbox" pull "$nb_tmp/h-$name"
	local stray
	stray=$(find "$nb_tmp" -maxdepth 1 -name 'pwned*' | wc -l)
	if [ "$status" = 125 ] && grep -q -- "$want" <<<"$err" && [ "$stray" = 0 ] && tmp_empty; then
		ok "hostile-$name"
		[ -z "${NB_IMAGES_VERBOSE:-}" ] || echo "  # $err" >&2
	else
		not_ok "hostile-$name" "want exit 125 with '$want', nothing outside, clean tmp (status $status, stray $stray, stderr '$(tail -c 300 <<<"$err")')"
	fi
}
n_layers_before=$(ls "$NESTBOX_CACHE_DIR/layers" | grep -c '\.erofs$')
hostile_case dotdot "'..'" 'f("../../../pwned-dotdot")'
hostile_case symlink-escape "through a symlink" "l(\"esc\", \"$nb_tmp\"); f(\"esc/pwned-symlink\")"
hostile_case hardlink-escape "escapes the layer" "l(\"esc\", \"$nb_tmp\"); l(\"hl\", \"esc/real-blob\", tarfile.LNKTYPE)"
hostile_case long-name "longer than 255" 'f("a" * 300)'
hostile_case bad-whiteout "not a valid whiteout" 'f("etc/.wh.")'
n_layers_after=$(ls "$NESTBOX_CACHE_DIR/layers" | grep -c '\.erofs$')
[ "$n_layers_before" = "$n_layers_after" ] && ok hostile-no-cache-entries ||
	not_ok hostile-no-cache-entries "rejected layers left $((n_layers_after - n_layers_before)) erofs images"

# More layers than Docker allows (127): refused before anything is converted.
mkdir -p "$nb_tmp/l128"
l128=()
for i in $(seq 128); do
	mkdir -p "$nb_tmp/l128/d$i" && echo "$i" >"$nb_tmp/l128/d$i/f$i"
	tar -C "$nb_tmp/l128/d$i" -cf "$nb_tmp/l128/$i.tar" . && l128+=("$nb_tmp/l128/$i.tar:tar")
done
python3 tests/images/mklayout.py "$nb_tmp/l128/img" '{}' "${l128[@]}"
n_layers_before=$(ls "$NESTBOX_CACHE_DIR/layers" | grep -c '\.erofs$')
nb_run_case 60 "$nestbox" pull "$nb_tmp/l128/img"
expect hostile-128-layers "an image with 128 layers is refused with 125, naming the limit, converting nothing" \
	"$status-$(grep -c 'more than the 127 allowed' <<<"$err")-$(ls "$NESTBOX_CACHE_DIR/layers" | grep -c '\.erofs$')" \
	= "125-1-$n_layers_before"
rm -rf "$nb_tmp/l128"

# A blob changed after the manifest was written.
cp -a "$imgs/busybox" "$nb_tmp/tampered"
python3 - "$nb_tmp/tampered/blobs/sha256/$bb_layer" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 1
open(sys.argv[1], "wb").write(b)
PY
rm -rf "$NESTBOX_CACHE_DIR"
nb_run_case 60 "$nestbox" pull "$nb_tmp/tampered"
expect hostile-digest-mismatch "a tampered layer is refused and nothing is cached" \
	"$status-$(grep -c -e mismatch -e corrupt <<<"$err")-$(ls "$NESTBOX_CACHE_DIR/layers" | grep -c erofs)" = 125-1-0
cp -a "$imgs/busybox" "$nb_tmp/endless"
ln -sf /dev/zero "$nb_tmp/endless/blobs/sha256/$bb_layer"
nb_run_case 60 "$nestbox" pull "$nb_tmp/endless"
expect hostile-endless-blob "a layer blob that never ends (/dev/zero) is cut off at its descriptor's size" \
	"$status-$(grep -c 'longer than' <<<"$err")" = 125-1
cp -a "$imgs/busybox" "$nb_tmp/truncated"
truncate -s 100000 "$nb_tmp/truncated/blobs/sha256/$bb_layer"
nb_run_case 60 "$nestbox" pull "$nb_tmp/truncated"
expect hostile-truncated-blob "a truncated layer blob is refused" \
	"$status-$(grep -c -e truncated -e corrupt <<<"$err")-$(ls "$NESTBOX_CACHE_DIR/layers" | grep -c erofs)" = 125-1-0

# Nested indexes deeper than the limit (content addressing rules out a true loop).
python3 - "$nb_tmp/deep" "$imgs/busybox" <<'PY'
import hashlib, json, os, shutil, sys
out, src = sys.argv[1], sys.argv[2]
shutil.copytree(src, out)
desc = json.load(open(os.path.join(out, "index.json")))["manifests"][0]
for _ in range(12):
    body = json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode()
    d = hashlib.sha256(body).hexdigest()
    open(os.path.join(out, "blobs", "sha256", d), "wb").write(body)
    desc = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + d, "size": len(body)}
json.dump({"schemaVersion": 2, "manifests": [desc]}, open(os.path.join(out, "index.json"), "w"))
PY
nb_run_case 30 "$nestbox" pull "$nb_tmp/deep"
expect hostile-index-depth "indexes nested 12 deep are refused" "$status-$(grep -c nested <<<"$err")" = 125-1

# An OCI archive whose own members try to leave the staging directory.
python3 - "$nb_tmp/evil-archive.tar" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w")
i = tarfile.TarInfo("../../pwned-archive"); i.size = 1; t.addfile(i, io.BytesIO(b"x"))
t.close()
PY
nb_run_case 30 "$nestbox" pull "$nb_tmp/evil-archive.tar"
expect hostile-archive-dotdot "an archive member with '..' is refused" \
	"$status-$(grep -c "'..'" <<<"$err")-$(find / -maxdepth 3 -name pwned-archive 2>/dev/null | wc -l)-$(tmp_empty && echo clean)" = 125-1-0-clean
# Old GNU sparse members (typeflag S): data blocks at the offsets of a map
# the archive invents. One that declares 0 bytes but carries 4 MiB (the
# limit counted 0) is refused; a layout whose tar layer ends in a hole
# imports with the hole (issue 11, finding 1).
python3 tests/images/gnusparse.py --hostile "$nb_tmp/sparse-hostile.tar.gz"
nb_run_case 30 "$nestbox" pull "$nb_tmp/sparse-hostile.tar.gz"
expect hostile-archive-sparse "a sparse member holding data beyond its declared size is refused; no staging debris" \
	"$status-$(grep -c 'beyond the 0 bytes it declares' <<<"$err")-$(tmp_empty && echo clean)" = 125-1-clean
tar_layer=$(python3 -c 'import json,sys; d=sys.argv[1]; i=json.load(open(d+"/index.json"))["manifests"][0]["digest"][7:]; print([l["digest"][7:] for l in json.load(open(d+"/blobs/sha256/"+i))["layers"] if l["mediaType"].endswith(".tar")][0])' "$imgs/multi")
python3 tests/images/gnusparse.py "$nb_tmp/sparse-ok.tar" "$imgs/multi" "blobs/sha256/$tar_layer"
nb_run_case 120 "$nestbox" pull "$nb_tmp/sparse-ok.tar"
expect archive-sparse-member "an OCI archive whose tar layer is a sparse member ending in a hole imports all three layers" \
	"$status-$(layers_of "$out" | tail -1)" = "0-$tar_layer"
"$nestbox" rmi "$nb_tmp/sparse-ok.tar" >/dev/null 2>&1
# docker-archives whose manifest.json points outside the archive.
evil_docker() { # NAME CONFIG-PATH LAYER-PATH
	python3 - "$nb_tmp/$1.tar" "$2" "$3" <<'PY'
import io, json, sys, tarfile
t = tarfile.open(sys.argv[1], "w")
m = json.dumps([{"Config": sys.argv[2], "RepoTags": ["x:y"], "Layers": [sys.argv[3]]}]).encode()
i = tarfile.TarInfo("manifest.json"); i.size = len(m); t.addfile(i, io.BytesIO(m))
c = b'{"os":"linux","architecture":"amd64"}'
i = tarfile.TarInfo("cfg.json"); i.size = len(c); t.addfile(i, io.BytesIO(c))
t.close()
PY
}
evil_docker docker-dotdot cfg.json ../../../etc/passwd
nb_run_case 30 "$nestbox" pull "$nb_tmp/docker-dotdot.tar"
expect hostile-docker-layer-path "a docker-archive layer path with '..' is refused" \
	"$status-$(grep -c "'..'" <<<"$err")-$(tmp_empty && echo clean)" = 125-1-clean
evil_docker docker-abs /etc/passwd cfg.json
nb_run_case 30 "$nestbox" pull "$nb_tmp/docker-abs.tar"
expect hostile-docker-config-path "a docker-archive config path outside the archive is not read from the host" \
	"$status-$(grep -c 'lacks' <<<"$err")" = 125-1
printf 'garbage' > "$nb_tmp/garbage.tar"
nb_run_case 30 "$nestbox" pull "$nb_tmp/garbage.tar"
expect hostile-archive-garbage "a file that is no archive is refused" "$status" = 125

# ---- registry -------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
. tests/lib/registry.sh # nb_wait_http
if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then
	skip registry-pull "docker-registry or skopeo not installed (scripts/deps.sh)"
else
	port=$(free_port)
	mkdir -p "$nb_tmp/registry"
	cat >"$nb_tmp/registry.yml" <<YML
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $nb_tmp/registry
http:
  addr: 127.0.0.1:$port
YML
	docker-registry serve "$nb_tmp/registry.yml" >"$nb_tmp/registry.log" 2>&1 &
	pids+=($!)
	reg=127.0.0.1:$port
	if ! nb_wait_http "http://$reg/v2/"; then
		not_ok registry-start "docker-registry did not answer on $reg: $(tail -c 200 "$nb_tmp/registry.log")"
	elif ! timeout 120 skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$imgs/busybox:test" "docker://$reg/busybox:test" 2>"$nb_tmp/skopeo.err" ||
		! timeout 120 skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$imgs/multi:test" "docker://$reg/multi:test" 2>>"$nb_tmp/skopeo.err"; then
		not_ok registry-push "skopeo push failed: $(tail -c 300 "$nb_tmp/skopeo.err")"
	else
		rm -rf "$NESTBOX_CACHE_DIR"
		nb_run_case 120 "$nestbox" pull "$reg/busybox:test"
		digest=$(sed -n 's/^image \(sha256:[0-9a-f]*\) .*/\1/p' <<<"$out")
		expect registry-pull "pull from a loopback docker-registry over HTTP converts the layer" \
			"$status-$(grep -c ' converted$' <<<"$out")-$(layers_of "$out")" = "0-1-$bb_layer"
		nb_run_case 120 "$nestbox" pull "$reg/busybox@$digest"
		expect registry-pull-digest "pull by manifest digest reuses the cache" \
			"$status-$(grep -c ' cached$' <<<"$out")" = 0-1
		: >"$nb_tmp/registry.log"
		nb_run_case 120 "$nestbox" pull "$reg/multi:test"
		expect registry-pull-multi "a three-layer image (gzip, zstd, tar) pulls" \
			"$status-$(layers_of "$out" | wc -l)" = 0-3
		# Each request is a transfer of its own (libcurl 7.88's folded-header
		# bug, images/registry.c), sharing connections: the manifest, the
		# config and the two layers not cached from busybox come over one
		# (the registry logs each request's client address).
		served=$(grep -a 'useragent=nestbox' "$nb_tmp/registry.log" | grep -a 'response completed')
		expect registry-one-connection "a pull's four requests share one connection" \
			"$(grep -c . <<<"$served")-$(grep -o 'remoteaddr="[^"]*"' <<<"$served" | sort -u | wc -l)" = 4-1
		reg_multi=$(layers_of "$out" | tr '\n' ' ')
		# A token that expires mid-pull (Docker Hub's last five minutes): the
		# second layer's download (365 bytes) meets a 401 with a 1 KiB body,
		# gets a new token and starts over; the 401's body is not the blob
		# (issue 11, finding 4).
		eport=$(free_port)
		python3 tests/images/authproxy.py --expire 3 "$eport" "http://$reg" "$nb_tmp/eauth.log" 2>"$nb_tmp/eauth.err" &
		pids+=($!)
		if nb_wait_http "http://127.0.0.1:$eport/token"; then
			rm -rf "$NESTBOX_CACHE_DIR"
			nb_run_case 120 "$nestbox" pull "127.0.0.1:$eport/multi:test"
			expect registry-token-expires "a token refused mid-pull is renewed; the layer downloaded after the 401 converts" \
				"$status-$(grep -c 'scope=repository:multi:pull' "$nb_tmp/eauth.log")-$(layers_of "$out" | tr '\n' ' ')" = "0-2-$reg_multi"
		else
			not_ok registry-token-expires "the auth front did not start: $(tail -c 200 "$nb_tmp/eauth.err")"
		fi
		# The registry serves a corrupted blob: the download is refused, nothing kept.
		top_layer=$(awk '{print $NF}' <<<"$reg_multi")
		data=$(find "$nb_tmp/registry" -path "*/blobs/sha256/*/$top_layer/data")
		if [ -n "$data" ]; then
			printf 'X' | dd of="$data" bs=1 seek=100 conv=notrunc status=none
			rm -rf "$NESTBOX_CACHE_DIR"
			nb_run_case 120 "$nestbox" pull "$reg/multi:test"
			expect registry-corrupt-blob "a blob the registry serves corrupted is refused; no layer image, no temp file" \
				"$status-$(grep -c mismatch <<<"$err")-$([ -e "$(layer_file "$top_layer")" ] && echo cached || echo absent)-$(tmp_empty && echo clean)" = 125-1-absent-clean
		else
			not_ok registry-corrupt-blob "cannot find layer $top_layer in the registry's storage"
		fi
		nb_run_case 60 "$nestbox" pull "$reg/nothere:test"
		expect registry-not-found "an unknown repository is a clear error" \
			"$status-$(grep -c 'not found' <<<"$err")" = 125-1
		nb_run_case 30 "$nestbox" pull "$reg/busybox@sha256:$(printf '%064d' 0)"
		expect registry-unknown-digest "an unknown digest is refused" "$status" = 125
		# Token auth: a front that demands a bearer token, as Docker Hub does.
		aport=$(free_port)
		python3 tests/images/authproxy.py "$aport" "http://$reg" "$nb_tmp/auth.log" 2>"$nb_tmp/auth.err" &
		pids+=($!)
		if nb_wait_http "http://127.0.0.1:$aport/token"; then
			rm -rf "$NESTBOX_CACHE_DIR"
			nb_run_case 120 "$nestbox" pull "127.0.0.1:$aport/busybox:test"
			expect registry-token-auth "pull through a bearer-token challenge asks the realm for the scope and succeeds" \
				"$status-$(grep -c 'service=nestbox-test scope=repository:busybox:pull' "$nb_tmp/auth.log")" = 0-1
		else
			not_ok registry-token-auth "the auth front did not start: $(tail -c 200 "$nb_tmp/auth.err")"
		fi
		# Token auth for a private repository: the token service wants the
		# user's credentials (Basic), which nestbox reads from the auth file.
		cport=$(free_port)
		python3 tests/images/authproxy.py "$cport" "http://$reg" "$nb_tmp/cauth.log" bob:tokenpw 2>"$nb_tmp/cauth.err" &
		pids+=($!)
		if nb_wait_http "http://127.0.0.1:$cport/token"; then
			rm -rf "$NESTBOX_CACHE_DIR"
			export REGISTRY_AUTH_FILE=$nb_tmp/token-auth.json
			nb_run_case 60 "$nestbox" pull "127.0.0.1:$cport/busybox:test"
			expect registry-token-needs-login "a token service that wants credentials, none stored: 125 naming nestbox login" \
				"$status-$(grep -c "nestbox login 127.0.0.1:$cport" <<<"$err")" = 125-1
			echo '{"auths":{"http://127.0.0.1:'"$cport"'/v1/":{"auth":"'"$(printf bob:wrong | base64)"'"}}}' >"$REGISTRY_AUTH_FILE"
			nb_run_case 60 "$nestbox" pull "127.0.0.1:$cport/busybox:test"
			expect registry-token-wrong-creds "wrong stored credentials: 125 saying the token service refused them" \
				"$status-$(grep -c 'refused the stored credentials' <<<"$err")" = 125-1
			echo '{"auths":{"http://127.0.0.1:'"$cport"'/v1/":{"auth":"'"$(printf bob:tokenpw | base64)"'"}}}' >"$REGISTRY_AUTH_FILE"
			nb_run_case 120 "$nestbox" pull "127.0.0.1:$cport/busybox:test"
			expect registry-token-creds "credentials from the auth file (docker's key form) get the token; the pull succeeds" \
				"$status-$(grep -c 'service=nestbox-test scope=repository:busybox:pull' "$nb_tmp/cauth.log")" = 0-1
			unset REGISTRY_AUTH_FILE
		else
			not_ok registry-token-creds "the auth front did not start: $(tail -c 200 "$nb_tmp/cauth.err")"
		fi
		nb_run_case 30 "$nestbox" pull --insecure "localhost:$(free_port)/busybox:test"
		expect registry-refused "a registry that is not there is a clear error" \
			"$status-$(grep -c -i 'connect' <<<"$err")" = 125-1
		# libcurl as an older or stricter library answers (a shim in front of
		# the real one): every option is checked, the protocol limits fall
		# back to the bitmask options before 7.85, and without any limit
		# nothing is pulled (issue 11, finding 5).
		shim=$PWD/build/tests/curlshim
		shim_pull() { # MODE REF
			rm -rf "$NESTBOX_CACHE_DIR" "$nb_tmp/shim.log"
			NB_CURLSHIM=$1 NB_CURLSHIM_LOG=$nb_tmp/shim.log LD_LIBRARY_PATH=$shim \
				nb_run_case 120 "$nestbox" pull "$2"
			shim_log=$(sort "$nb_tmp/shim.log" 2>/dev/null | uniq -c | awk '$2 ~ /^opt=(181|182|10002)$/ {print $1, $2, $3}' | tr '\n' ,)
		}
		if [ ! -f "$shim/libcurl.so.4" ]; then
			for c in registry-old-libcurl registry-old-libcurl-https registry-no-protocol-limit registry-setopt-refused; do
				not_ok "$c" "$shim/libcurl.so.4 missing: run make tests"
			done
		else
			shim_pull old "$reg/busybox:test"
			expect registry-old-libcurl "a libcurl without the _STR options gets the bitmask limits (http|https for loopback) on every request" \
				"$status-$shim_log" = "0-3 opt=10002 ptr,3 opt=181 long=3,3 opt=182 long=3,"
			# Not loopback: HTTPS only (nothing listens on 0.0.0.0:1).
			shim_pull old "0.0.0.0:1/busybox:test"
			expect registry-old-libcurl-https "for an HTTPS registry the fallback limits transfers and redirects to HTTPS" \
				"$status-$shim_log" = "125-1 opt=10002 ptr,1 opt=181 long=2,1 opt=182 long=2,"
			shim_pull bare "$reg/busybox:test"
			expect registry-no-protocol-limit "a libcurl that takes no protocol limit is refused before any request" \
				"$status-$(grep -c 'cannot limit the protocols' <<<"$err")-$(cat "$nb_tmp/shim.log" 2>/dev/null | grep -c 'opt=10002')" = 125-1-0
			shim_pull refuse:68 "$reg/busybox:test"
			expect registry-setopt-refused "an option libcurl refuses (CURLOPT_MAXREDIRS) is an error naming it" \
				"$status-$(grep -c 'refused CURLOPT_MAXREDIRS' <<<"$err")" = 125-1
		fi
		# A layer over NESTBOX_MAX_BLOB, or larger than the cache's free
		# space, is refused before its download (issue 11, finding 6).
		rm -rf "$NESTBOX_CACHE_DIR"
		NESTBOX_MAX_BLOB=1m nb_run_case 60 "$nestbox" pull "$reg/busybox:test"
		expect registry-max-blob "a layer larger than NESTBOX_MAX_BLOB is refused, naming the variable; nothing kept" \
			"$status-$(grep -c 'NESTBOX_MAX_BLOB raises the limit' <<<"$err")-$(ls "$NESTBOX_CACHE_DIR/layers" 2>/dev/null | grep -c erofs)-$(tmp_empty && echo clean)" = 125-1-0-clean
		NESTBOX_MAX_BLOB=lots nb_run_case 60 "$nestbox" pull "$reg/busybox:test"
		expect registry-max-blob-invalid "an unreadable NESTBOX_MAX_BLOB is an error naming it" \
			"$status-$(grep -c 'NESTBOX_MAX_BLOB=lots' <<<"$err")" = 125-1
		small=$nb_tmp/mnt/smallcache
		mkdir -p "$small"
		if mount -t tmpfs -o size=1m nestbox-test "$small" 2>"$nb_tmp/small.err"; then
			NESTBOX_CACHE_DIR=$small nb_run_case 60 "$nestbox" pull "$reg/busybox:test"
			expect registry-cache-full "a layer larger than the cache's free space is refused before its download" \
				"$status-$(grep -c "file system ($small/tmp) has [0-9]* free" <<<"$err")-$(ls -A "$small/tmp" | wc -l)" = 125-1-0
			umount "$small"
		else
			skip registry-cache-full "cannot mount a small tmpfs here: $(head -c 100 "$nb_tmp/small.err")"
		fi
	fi
fi

# ---- registry login (htpasswd basic auth) --------------------------------------------
login_cases="login-wrong-password login-writes-auth-file login-pull logout"
if ! command -v htpasswd >/dev/null; then
	for c in $login_cases; do skip "$c" "htpasswd missing (apache2-utils, scripts/deps.sh)"; done
elif ! htpasswd -Bbc "$nb_tmp/htpasswd" alice 's3cr:et pw' >/dev/null 2>&1 ||
	! nb_registry_start "$nb_tmp/login-reg" "$nb_tmp/htpasswd"; then
	for c in $login_cases; do not_ok "$c" "registry with htpasswd auth did not start: $nb_reg_why"; done
else
	pids+=("$nb_reg_pid")
	if ! nb_registry_push "oci:$imgs/busybox:test" private/busybox:test 'alice:s3cr:et pw' 2>"$nb_tmp/push.err"; then
		for c in $login_cases; do not_ok "$c" "skopeo push with credentials failed: $(tail -c 200 "$nb_tmp/push.err")"; done
	else
		export REGISTRY_AUTH_FILE=$nb_tmp/auth/containers/auth.json
		rm -rf "$NESTBOX_CACHE_DIR"
		nb_run_case 60 "$nestbox" pull "$nb_reg/private/busybox:test"
		anon=$status-$(grep -c "nestbox login $nb_reg" <<<"$err")
		nb_run_case 60 bash -c "echo wrong | '$nestbox' login -u alice --password-stdin '$nb_reg'"
		expect login-wrong-password "a wrong password: 125, a clear message, nothing stored (and a pull without login says to log in)" \
			"$anon-$status-$(grep -c 'refused the user name or password' <<<"$err")-$([ -e "$REGISTRY_AUTH_FILE" ] && echo stored || echo none)" = "125-1-125-1-none"
		# Another registry's entry must survive the login.
		mkdir -p "$(dirname "$REGISTRY_AUTH_FILE")"
		echo '{"auths":{"other.example:5000":{"auth":"eDp5"}},"credHelpers":{}}' >"$REGISTRY_AUTH_FILE"
		nb_run_case 60 bash -c "printf '%s\n' 's3cr:et pw' | '$nestbox' login --username alice --password-stdin 'http://$nb_reg/'"
		got=$(python3 -c 'import base64,json,sys; a=json.load(open(sys.argv[1]))["auths"]; print(base64.b64decode(a[sys.argv[2]]["auth"]).decode(), "other" in "".join(a))' \
			"$REGISTRY_AUTH_FILE" "$nb_reg" 2>&1)
		expect login-writes-auth-file "login checks the password, then writes REGISTRY_AUTH_FILE 0600 with user:password, keeping other entries" \
			"$status-$(stat -c %a "$REGISTRY_AUTH_FILE")-$got-$(ls "$(dirname "$REGISTRY_AUTH_FILE")" | wc -l)" = "0-600-alice:s3cr:et pw True-1"
		nb_run_case 120 "$nestbox" pull "$nb_reg/private/busybox:test"
		expect login-pull "after login, pull from the htpasswd registry sends the stored credentials" \
			"$status-$(grep -c ' converted$' <<<"$out")" = 0-1
		nb_run_case 30 "$nestbox" logout "$nb_reg"
		s1=$status
		nb_run_case 30 "$nestbox" logout "$nb_reg"
		expect logout "logout removes the entry (a second logout: 125, not logged in), other entries stay" \
			"$s1-$status-$(grep -c 'not logged in' <<<"$err")-$(python3 -c 'import json,sys; print(sorted(json.load(open(sys.argv[1]))["auths"]))' "$REGISTRY_AUTH_FILE")" \
			= "0-125-1-['other.example:5000']"
		unset REGISTRY_AUTH_FILE
	fi
	nb_registry_stop
fi
