#!/usr/bin/env bash
# `make run`: run an OCI image in a microVM: build/oci/busybox (the build
# packs Debian's busybox as an OCI image layout), or the IMAGE given
# (`tests/demo.sh IMAGE`: a layout, an archive or a registry reference).
# nestbox converts its layer into the layer cache, boots the guest kernel
# and runs the demo in a container inside the VM.
# On a host whose KVM cannot run a stock guest, tests/testhost/run says so in
# one line and runs the same command inside the emulated test host.
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-build/oci/busybox}
# shellcheck disable=SC2016 # expanded by the guest's shell
exec tests/testhost/run build/nestbox run --cpus 2 "$image" -- /bin/sh -c '
	echo "Hello from a nestbox microVM!"
	echo "kernel: $(uname -sr), vCPUs: $(grep -c ^processor /proc/cpuinfo), memory: $(awk "/MemTotal/ {print int(\$2/1024)}" /proc/meminfo) MiB"
	echo "image: $0, root: $(awk "\$2 == \"/\" {print \$3}" /proc/mounts) over erofs layers; I am PID $$ in my own namespaces"
	echo "container: $(cat /etc/issue 2>/dev/null || head -1 /etc/os-release)"
	exit 0' "$image"
