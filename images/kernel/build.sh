#!/usr/bin/env bash
# Build the nestbox guest kernel (uncompressed ELF vmlinux, plus a bzImage)
# from Debian's linux-source-6.1, the patches in patches/ (each says why)
# and nestbox.config, cached outside the clone by the hash of its inputs so
# it builds once per machine.
#
#   images/kernel/build.sh OUT      copies the cached vmlinux to OUT (and bzImage beside it)
#
# Cache: ${NESTBOX_CACHE:-$HOME/.cache/nestbox}/kernel/<key>/{vmlinux,bzImage,config}
# key = hash of the source package version, the patches, nestbox.config and
# RECIPE. Bump RECIPE when a change here changes what gets built.
set -euo pipefail
RECIPE=2

out=${1:?usage: build.sh OUT}
here=$(cd "$(dirname "$0")" && pwd)
src_tar=/usr/src/linux-source-6.1.tar.xz
[ -f "$src_tar" ] || { echo "kernel: $src_tar missing; run scripts/deps.sh" >&2; exit 1; }

cache_root=${NESTBOX_CACHE:-$HOME/.cache/nestbox}/kernel
src_version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
shopt -s nullglob # no patches: none applied, none hashed
patches=("$here"/patches/*.patch)
shopt -u nullglob
key=$( { echo "$src_version recipe $RECIPE"; cat "${patches[@]}" "$here/nestbox.config"; } |
	sha256sum | cut -c1-16)
entry=$cache_root/$key

build() {
	local work=$1 tree
	echo "kernel: building linux-source $src_version with nestbox.config (cache $key, ~5 min)" >&2
	tar -xf "$src_tar" -C "$work"
	tree=$work/linux-source-6.1
	local p
	for p in "${patches[@]}"; do
		patch -s -p1 -d "$tree" <"$p" || { echo "kernel: $p does not apply" >&2; return 1; }
	done
	make -s -C "$tree" tinyconfig >/dev/null
	(cd "$tree" && ./scripts/kconfig/merge_config.sh -m .config "$here/nestbox.config" >/dev/null)
	make -s -C "$tree" olddefconfig >/dev/null
	# Every option of the fragment must survive olddefconfig; kconfig drops
	# the ones whose dependencies are missing without a word.
	local missing
	missing=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$here/nestbox.config" | while read -r line; do
		grep -qxF "$line" "$tree/.config" || echo "$line"; done)
	[ -z "$missing" ] || { echo "kernel: options dropped by kconfig: $missing" >&2; return 1; }
	local reproducible=(KBUILD_BUILD_TIMESTAMP='2026-01-01 00:00:00' KBUILD_BUILD_USER=nestbox
		KBUILD_BUILD_HOST=nestbox)
	make -s -C "$tree" -j"$(nproc)" "${reproducible[@]}" vmlinux bzImage >&2
	mkdir "$work/out"
	cp "$tree/vmlinux" "$tree/arch/x86/boot/bzImage" "$work/out/"
	cp "$tree/.config" "$work/out/config"
}

if [ ! -f "$entry/vmlinux" ]; then
	mkdir -p "$cache_root"
	# One builder at a time; a build killed earlier left only a .build-* dir,
	# which the next builder (holding the lock) removes.
	exec 9>"$cache_root/.lock"
	flock 9
	if [ ! -f "$entry/vmlinux" ]; then
		rm -rf "$cache_root"/.build-*
		work=$(mktemp -d "$cache_root/.build-$key.XXXXXX")
		trap 'rm -rf "$work"' EXIT
		trap 'exit 130' INT TERM
		build "$work"
		mv -T "$work/out" "$entry" # atomic publish
	fi
fi
mkdir -p "$(dirname "$out")"
cp "$entry/vmlinux" "$out.tmp" && mv "$out.tmp" "$out"
cp "$entry/bzImage" "$(dirname "$out")/bzImage.tmp" && mv "$(dirname "$out")/bzImage.tmp" "$(dirname "$out")/bzImage"
