#!/usr/bin/env bash
# Build the nestbox guest kernel (uncompressed ELF vmlinux) from Debian's
# linux-source-6.1 and nestbox.config, cached outside the clone by the hash of
# its inputs so it builds once per machine.
#
#   images/kernel/build.sh OUT      copies the cached vmlinux to OUT
#
# Cache: ${NESTBOX_CACHE:-$HOME/.cache/nestbox}/kernel/<hash>/vmlinux
set -euo pipefail

out=${1:?usage: build.sh OUT}
here=$(cd "$(dirname "$0")" && pwd)
src_tar=/usr/src/linux-source-6.1.tar.xz
[ -f "$src_tar" ] || { echo "build.sh: $src_tar missing; run scripts/deps.sh" >&2; exit 1; }

cache_root=${NESTBOX_CACHE:-$HOME/.cache/nestbox}/kernel
src_version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
key=$( { echo "$src_version"; cat "$here/nestbox.config" "$0"; } | sha256sum | cut -c1-16)
entry=$cache_root/$key

if [ ! -f "$entry/vmlinux" ]; then
    mkdir -p "$cache_root"
    work=$(mktemp -d "$cache_root/.build-$key.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    echo "kernel: building linux-source $src_version with nestbox.config (cache $key, ~4 min)" >&2
    tar -xf "$src_tar" -C "$work"
    tree=$work/linux-source-6.1
    make -s -C "$tree" tinyconfig >/dev/null
    (cd "$tree" && ./scripts/kconfig/merge_config.sh -m .config "$here/nestbox.config" >/dev/null)
    make -s -C "$tree" olddefconfig >/dev/null
    # Every line of the fragment must have survived olddefconfig, or a
    # dependency silently dropped it.
    missing=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$here/nestbox.config" | while read -r line; do
        grep -qxF "$line" "$tree/.config" || echo "$line"; done)
    [ -z "$missing" ] || { echo "kernel: options dropped by kconfig: $missing" >&2; exit 1; }
    make -s -C "$tree" -j"$(nproc)" vmlinux KBUILD_BUILD_TIMESTAMP=nestbox \
        KBUILD_BUILD_USER=nestbox KBUILD_BUILD_HOST=nestbox >&2
    mkdir -p "$work/out"
    cp "$tree/vmlinux" "$work/out/vmlinux"
    cp "$tree/.config" "$work/out/config"
    make -s -C "$tree" -j"$(nproc)" bzImage >&2 && cp "$tree/arch/x86/boot/bzImage" "$work/out/bzImage"
    # Atomic publish: a killed build leaves only the .build-* temp dir (removed by trap).
    mv -T "$work/out" "$entry" 2>/dev/null || true
fi
mkdir -p "$(dirname "$out")"
cp "$entry/vmlinux" "$out.tmp" && mv "$out.tmp" "$out"
[ -f "$entry/bzImage" ] && cp "$entry/bzImage" "$(dirname "$out")/bzImage"
exit 0
