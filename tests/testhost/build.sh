#!/usr/bin/env bash
# Build the test host ("L1") kernel and initramfs, cached by the hash of their
# inputs, and print the cache entry's directory (holding vmlinuz, initramfs).
#
#   tests/testhost/build.sh        build if needed; print the entry's path
#
# The kernel is Debian's generic one (the linux-image-6.1.*-amd64 package that
# linux-image-amd64 depends on), fetched with apt-get download and unpacked
# with dpkg-deb: nothing is installed into the host's /boot. The initramfs is
# busybox-static, the closure of the modules in MODULES below, and init.sh.
#
# Cache: ${NESTBOX_CACHE:-$HOME/.cache/nestbox}/testhost/<key>/, key = hash of
# the kernel package and version, busybox-static's version, init.sh and this
# file. An entry is built in a temporary directory beside it and renamed into
# place, so an interrupted build leaves no half entry.
set -euo pipefail

# The one list of modules the test host loads at boot (with their
# dependencies). Names that are built into the kernel are skipped.
MODULES=(
	virtio_pci 9pnet_virtio 9p # the 9p shares
	kvm_amd                    # /dev/kvm on the emulated AMD CPU (nested SVM)
	tun overlay erofs loop veth bridge
	# nestbox networks (vmm/hostnet/nft.c): table inet nestbox, NAT, fib, ct
	nf_tables nft_chain_nat nft_nat nft_masq nft_ct nft_fib_inet nft_fib_ipv4
	# OCI networking (vmm/hostnet/nsnet.c): tc ingress redirects veth <-> tap
	sch_ingress cls_u32 act_mirred
	# podman's CNI plugins (bridge, portmap, firewall) through iptables-nft
	nft_compat xt_nat xt_MASQUERADE xt_mark xt_comment xt_conntrack xt_addrtype xt_multiport
	xt_tcpudp
)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${NESTBOX_CACHE:-$HOME/.cache/nestbox}/testhost
mkdir -p "$root"

say() { echo "testhost: $*" >&2; }
die() { say "$*"; exit 1; }

# Which concrete kernel package the metapackage points at, and its version.
# apt-cache takes about a second, so remember the answer until the package
# lists change.
resolve_kernel() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-6\.1\.[^ ]*-amd64\)$/\1/p' | head -n1
}
lists_stamp=$(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0)
resolved=$root/.resolved
kpkg='' kver=''
if [ -f "$resolved" ]; then
	read -r stamp kpkg kver <"$resolved" || true
	[ "${stamp:-}" = "$lists_stamp" ] || kpkg='' kver=''
fi
if [ -z "$kpkg" ] || [ -z "$kver" ]; then
	kpkg=$(resolve_kernel)
	if [ -z "$kpkg" ]; then
		apt-get update -q >/dev/null 2>&1 || true
		lists_stamp=$(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0)
		kpkg=$(resolve_kernel)
	fi
	[ -n "$kpkg" ] || die "cannot find the kernel package that linux-image-amd64 depends on (apt-cache depends linux-image-amd64)"
	kver=$(apt-cache policy "$kpkg" | sed -n 's/^ *Candidate: *//p')
	if [ -z "$kver" ] || [ "$kver" = "(none)" ]; then die "no candidate version of $kpkg"; fi
	echo "$lists_stamp $kpkg $kver" >"$resolved.$$"
	mv -f "$resolved.$$" "$resolved"
fi

bbver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null) ||
	die "busybox-static is not installed; run scripts/deps.sh"
key=$({ echo "$kpkg $kver $bbver"; cat "$here/init.sh" "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-16)
entry=$root/$key

if [ -f "$entry/vmlinuz" ] && [ -f "$entry/initramfs" ]; then
	echo "$entry"
	exit 0
fi

# One build at a time; whoever waited finds the entry built.
exec 8>"$root/.lock"
flock 8
if [ -f "$entry/vmlinuz" ] && [ -f "$entry/initramfs" ]; then
	echo "$entry"
	exit 0
fi

for tool in depmod modprobe cpio gzip; do
	command -v "$tool" >/dev/null || die "$tool is missing; run scripts/deps.sh"
done

# Holding the lock, any other build directory is left from a killed build.
rm -rf "$root"/.build-*
work=$(mktemp -d "$root/.build-$key.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
log=$work/build.log
fail() {
	say "$1 (build log follows)"
	tail -n 20 "$log" >&2 || true
	exit 1
}

# 1. The kernel package, unpacked (not installed).
(cd "$work" && apt-get download "$kpkg=$kver") >>"$log" 2>&1 || {
	apt-get update -q >>"$log" 2>&1 || true
	(cd "$work" && apt-get download "$kpkg=$kver") >>"$log" 2>&1
} || fail "apt-get download $kpkg=$kver failed"
dpkg-deb -x "$work"/"$kpkg"_*.deb "$work/pkg" >>"$log" 2>&1 || fail "dpkg-deb -x failed"
rm -f "$work"/"$kpkg"_*.deb
kabi=${kpkg#linux-image-}
[ -f "$work/pkg/boot/vmlinuz-$kabi" ] || fail "no boot/vmlinuz-$kabi in $kpkg"
depmod -b "$work/pkg" "$kabi" >>"$log" 2>&1 || fail "depmod on the unpacked kernel failed"

# 2. The initramfs tree.
ird=$work/initramfs
mkdir -p "$ird"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,host,xfer}
cp /bin/busybox "$ird/bin/busybox"
busybox --list-full | while read -r applet; do
	[ -e "$ird/$applet" ] || ln -s /bin/busybox "$ird/$applet"
done
install -m 0755 "$here/init.sh" "$ird/init"
mknod -m 600 "$ird/dev/console" c 5 1 2>/dev/null || true

mdir=lib/modules/$kabi
mkdir -p "$ird/$mdir"
: >"$ird/etc/testhost-modules"
for mod in "${MODULES[@]}"; do
	deps=$(modprobe -S "$kabi" -d "$work/pkg" --show-depends "$mod" 2>>"$log") ||
		fail "module $mod is not in $kpkg"
	case $deps in builtin*) continue ;; esac
	echo "$mod" >>"$ird/etc/testhost-modules"
	while read -r verb path _; do
		[ "$verb" = insmod ] || continue
		rel=${path#"$work/pkg/"}
		mkdir -p "$ird/$(dirname "$rel")"
		cp "$path" "$ird/$rel"
	done <<<"$deps"
done
cp "$work/pkg/$mdir"/modules.{order,builtin,builtin.modinfo} "$ird/$mdir/"
# modules.dep* of exactly the modules shipped, for busybox modprobe in the
# initramfs and kmod's modprobe in the chroot.
depmod -b "$ird" "$kabi" >>"$log" 2>&1 || fail "depmod on the initramfs failed"

# 3. Publish.
out=$work/out
mkdir -p "$out"
cp "$work/pkg/boot/vmlinuz-$kabi" "$out/vmlinuz"
cp "$work/pkg/boot/config-$kabi" "$out/config"
(cd "$ird" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$out/initramfs" ||
	fail "packing the initramfs failed"
printf '%s\n' "kernel $kpkg $kver" "kabi $kabi" "busybox-static $bbver" >"$out/info"
mv -T "$out" "$entry" 2>/dev/null || [ -f "$entry/initramfs" ] || fail "cannot publish $entry"
echo "$entry"
