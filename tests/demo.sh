#!/usr/bin/env bash
# `make run`: boot a microVM with the busybox rootfs and run a demo workload.
# On a host whose KVM cannot run a stock guest, tests/testhost/run says so in
# one line and runs the same command inside the emulated test host.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC2016 # expanded by the guest's shell
exec tests/testhost/run build/nestbox run --cpus 2 build/rootfs-busybox -- /bin/sh -c '
	echo "Hello from a nestbox microVM!"
	echo "kernel: $(uname -sr), vCPUs: $(grep -c ^processor /proc/cpuinfo), memory: $(awk "/MemTotal/ {print int(\$2/1024)}" /proc/meminfo) MiB"
	echo "rootfs: $(cat /etc/issue)"
	exit 0'
