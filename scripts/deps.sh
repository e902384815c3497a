#!/usr/bin/env bash
# Install the Debian packages nestbox needs to build, run and test.
# Idempotent: installs only what is missing, and says nothing when nothing is.
set -euo pipefail

packages=(
	# build: host VMM and tools
	gcc make pkg-config libc6-dev libarchive-dev libfdt-dev libseccomp-dev
	# build: images (JSON, sha256, registry HTTP)
	libjson-c-dev libcurl4-openssl-dev
	# tests: curl waits for the loopback registries; pgrep and ps find the
	# VMM under its supervisor (minbase has neither)
	curl procps
	# libarchive is linked statically (start-up cost): its own dependencies
	libacl1-dev libzstd-dev liblz4-dev liblzma-dev libbz2-dev zlib1g-dev libxml2-dev nettle-dev
	# build: static guest binaries
	musl-tools
	# build: guest kernel (images/kernel/build.sh)
	linux-source-6.1 patch flex bison bc libelf-dev libssl-dev xz-utils dwarves
	# tests (crun: bench/container.sh yardstick)
	check qemu-system-x86 busybox-static cpio kmod e2fsprogs python3 file crun
	# tests: net/vsock e2e (ip netns, tuntap)
	iproute2
	# nestbox networks: libnftables (dlopen()ed by vmm/hostnet/nft.c; the
	# -dev package for its header and the .so), nft(8) for the tests
	nftables libnftables-dev
	# make check: style and static analysis (clang-format is clang-format-14 on Debian 12)
	clang-format cppcheck
	# fuzz tier (libFuzzer)
	clang libclang-rt-14-dev
	# images: layer cache (mkfs.erofs) and the images tier (registry, skopeo, umoci)
	erofs-utils skopeo umoci docker-registry debootstrap
	# images tier: htpasswd -B (bcrypt) for the registry login tests
	apache2-utils
	# warm e2e: reading `nestbox fn`'s JSON
	jq
	# e2e oci group: nestbox as podman's and containerd's OCI runtime (conmon comes with podman)
	podman conmon containerd
	# e2e oci group, networking: podman's CNI plugins (bridge, portmap) and their iptables
	containernetworking-plugins iptables
)

# podman's CNI plugins keep their address leases in /var/lib/cni, which no
# package creates; the e2e oci group mounts a tmpfs there in the test host
# (whose / is this host's, read-only), so the directory must exist.
[ "$(id -u)" -ne 0 ] || [ -d /var/lib/cni ] || mkdir -p /var/lib/cni

# One dpkg-query for all (a package dpkg has never heard of is not listed).
installed=" $({ dpkg-query -W -f='${db:Status-Status}:${Package} ' "${packages[@]}" 2>/dev/null || true; } |
	tr ' ' '\n' | sed -n 's/^installed://p' | tr '\n' ' ') "
missing=()
for pkg in "${packages[@]}"; do
	case $installed in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp "${TMPDIR:-/tmp}/nestbox-deps.XXXXXX")
trap 'rm -f "$log"' EXIT
apt_failed() {
	echo "deps: $1 failed; its last lines:" >&2
	tail -n 15 "$log" >&2
	echo "deps: check the machine's Debian archive (/etc/apt/sources.list*) and network, then run make again" >&2
	exit 1
}
apt-get update -q >"$log" 2>&1 || apt_failed "apt-get update"
apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1 ||
	apt_failed "apt-get install ${missing[*]}"
