#!/usr/bin/env bash
# TCP guest -> host over a tap, nestbox (virtio-net, userspace) vs QEMU
# -M microvm (-netdev tap, vhost off: the test host has no vhost-net), same
# vmlinux, same nestbox-init and workload, in the emulated test host (read
# the ratio, not the absolute numbers). Also vsock round-trip latency for
# nestbox alone (QEMU has only vhost-vsock, absent there).
#   bench/net.sh [RUNS]
# STATUS: unverified. Its one run so far timed out: the first (nestbox) sink
# never saw a connection; not yet debugged (the e2e case with the same
# tap set-up and --gateway passes).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != --inner ]; then
	exec tests/testhost/run --timeout 1500 bench/net.sh --inner "${1:-1}"
fi
runs=${2:-1}
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
ns=nbbench$$
trap 'ip netns del $ns 2>/dev/null; rm -rf "$work"' EXIT
bytes=$((8 << 20)) # in the emulated test host a frame costs milliseconds

ip netns add $ns
nsx() { ip netns exec $ns "$@"; }
nsx ip link set lo up
nsx ip tuntap add dev nbtap0 mode tap
nsx ip addr add 10.200.0.1/24 dev nbtap0
nsx ip link set nbtap0 up

bb=/bin/busybox
# Under QEMU the workload sets eth0 up itself (all capabilities, below);
# nestbox's nestbox-init does it from --ip, and these commands then fail
# harmlessly for lack of CAP_NET_ADMIN.
guest="$bb ip link set eth0 up 2>/dev/null; $bb ip addr add 10.200.0.2/24 dev eth0 2>/dev/null;
	$bb sleep 1; $bb dd if=/dev/zero bs=65536 count=$((bytes >> 16)) 2>/dev/null | $bb nc 10.200.0.1 5001"
build/tests/guest/mkinitramfs -o "$work/initrd" -i build/nestbox-init -r build/rootfs-busybox \
	-c $(((1 << 41) - 1)) -- /bin/sh -c "$guest" >/dev/null
cmdline="$(build/nestbox version | sed -n 's/^guest kernel command line: //p')"
# shellcheck disable=SC2054 # commas are QEMU syntax
qemu_cmd=(qemu-system-x86_64 -enable-kvm -cpu host -M microvm,x-option-roms=off,rtc=off
	-m 512 -smp 1 -nodefaults -no-user-config -display none -serial stdio
	-netdev tap,id=n0,ifname=nbtap0,script=no,downscript=no,vhost=off
	-device virtio-net-device,netdev=n0 -kernel build/vmlinux -initrd "$work/initrd"
	-append "$cmdline")
nestbox_cmd=(build/nestbox run --net tap:nbtap0 --ip 10.200.0.2/24 build/rootfs-busybox -- /bin/sh -c "$guest")

measure() { # NAME CMD...: one run, prints MB/s
	local name=$1 sink
	shift
	nsx timeout 400 /usr/bin/python3 tests/e2e/tcp_sink.py 10.200.0.1 5001 $bytes >"$work/sink" &
	sink=$!
	sleep 0.5
	nsx timeout 400 "$@" >"$work/$name.log" 2>&1 </dev/null || true
	wait $sink || true
	awk '{ print $4 }' "$work/sink"
}

for i in $(seq "$runs"); do
	measure nestbox "${nestbox_cmd[@]}" >>"$work/nestbox.mbps"
	measure qemu "${qemu_cmd[@]}" >>"$work/qemu.mbps"
	echo "# run $i/$runs done" >&2
done

python3 - "$work/nestbox.mbps" "$work/qemu.mbps" "$bytes" <<'PY'
import statistics, sys
nb = [float(x) for x in open(sys.argv[1]) if x.strip()]
qe = [float(x) for x in open(sys.argv[2]) if x.strip()]
n, q = statistics.median(nb or [0]), statistics.median(qe or [0])
print(f"TCP guest->host, {int(sys.argv[3]) >> 20} MiB, MB/s (median of {len(nb)}/{len(qe)})")
print(f"{'':14}{'nestbox':>10}{'qemu microvm':>14}{'ratio':>8}")
print(f"{'throughput':14}{n:>10.1f}{q:>14.1f}{(n / q if q else 0):>8.2f}")
PY
