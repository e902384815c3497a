#!/usr/bin/env bash
# virtio-net and vsock, nestbox vs QEMU -M microvm, same vmlinux, same
# nestbox-init, same guest workloads, side by side in the emulated test
# host (read the ratios, not the absolute numbers):
#   - TCP guest -> host over a tap in a network namespace (busybox nc into
#     tests/e2e/tcp_sink.py); QEMU: -netdev tap, vhost off (nestbox's
#     virtio-net is a userspace device too);
#   - vsock round trip, 64 bytes, host client <-> guest echo
#     (tests/guest/vsock-echo): nestbox through its Unix socket (hybrid
#     vsock), QEMU through vhost-vsock when the test host has
#     /dev/vhost-vsock (else the table says so).
#   bench/net.sh [RUNS]
set -euo pipefail
# QEMU: acpi=off, or microvm describes its virtio-mmio devices only in ACPI,
# which the guest kernel (no ACPI) never reads; then it adds them to the
# kernel command line as nestbox does.
cd "$(dirname "$0")/.."
if [ "${1:-}" != --inner ]; then
	make -s build/tests/guest/vsock-echo
	exec tests/testhost/run --timeout 1500 bench/net.sh --inner "${1:-1}"
fi
runs=${2:-1}
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
ns=nbbench$$
trap 'ip netns del $ns 2>/dev/null; rm -rf "$work"' EXIT
bytes=$((8 << 20)) # in the emulated test host a frame costs milliseconds
nrtt=500

ip netns add $ns
nsx() { ip netns exec $ns "$@"; }
nsx ip link set lo up
nsx ip tuntap add dev nbtap0 mode tap
nsx ip addr add 10.200.0.1/24 dev nbtap0
nsx ip link set nbtap0 up
cp -a build/rootfs-busybox "$work/rootfs"
cp build/tests/guest/vsock-echo "$work/rootfs/bin/vsock-echo"
# shellcheck source=bench/lib/cmdline.sh
. bench/lib/cmdline.sh
nb_guest_cmdline
cmdline="$nb_cmdline"
# shellcheck disable=SC2054 # commas are QEMU syntax
qemu_base=(qemu-system-x86_64 -enable-kvm -cpu host -M microvm,x-option-roms=off,rtc=off,acpi=off
	-m 512 -smp 1 -nodefaults -no-user-config -display none -serial stdio -no-reboot
	-kernel build/vmlinux -append "$cmdline")

# ---- TCP guest -> host ----
bb=/bin/busybox
# Under QEMU the workload sets eth0 up itself (all capabilities, -c below);
# nestbox's nestbox-init does it from --ip, and these commands then fail
# harmlessly for lack of CAP_NET_ADMIN. The ping waits for the link (and
# ARP) so nc's connect is not the first packet.
guest="$bb ip link set eth0 up 2>/dev/null; $bb ip addr add 10.200.0.2/24 dev eth0 2>/dev/null;
	for i in 1 2 3 4 5 6 7 8 9 10; do $bb ping -c 1 -W 2 10.200.0.1 >/dev/null 2>&1 && break; done;
	$bb dd if=/dev/zero bs=65536 count=$((bytes >> 16)) 2>/dev/null | $bb nc 10.200.0.1 5001"
build/tests/guest/mkinitramfs -o "$work/initrd-net" -i build/nestbox-init -r build/rootfs-busybox \
	-c $(((1 << 41) - 1)) -- /bin/sh -c "$guest" >/dev/null
# shellcheck disable=SC2054 # commas are QEMU syntax
qemu_net=("${qemu_base[@]}" -initrd "$work/initrd-net"
	-netdev tap,id=n0,ifname=nbtap0,script=no,downscript=no,vhost=off
	-device virtio-net-device,netdev=n0)
nestbox_net=(build/nestbox run --tap nbtap0 --ip 10.200.0.2/24 build/rootfs-busybox --
	/bin/sh -c "$guest")

tcp_run() { # NAME CMD...: one run, prints MB/s (nothing if it failed)
	local name=$1 sink
	shift
	nsx timeout 400 /usr/bin/python3 tests/e2e/tcp_sink.py 10.200.0.1 5001 $bytes >"$work/sink" 2>&1 &
	sink=$!
	sleep 0.5
	# Not through nsx (a function): $! must be timeout itself, which
	# passes the kill on to the VMM, so the tap is free for the next run.
	ip netns exec $ns timeout 400 "$@" >"$work/$name.log" 2>&1 </dev/null &
	local vm=$!
	wait $sink || true
	kill $vm 2>/dev/null || true # QEMU's guest would power off and may spin (TESTHOST.md)
	wait $vm 2>/dev/null || true
	if grep -q "^bytes $bytes " "$work/sink"; then # MB/s, from bytes and seconds
		awk '$6 > 0 { printf "%.3f\n", $2 / $6 / 1e6 }' "$work/sink"
	else
		echo "# $name tcp run failed: $(cat "$work/sink"); $(tail -3 "$work/$name.log")" >&2
	fi
}

# ---- vsock round trip ----
vsock_ok=''
modprobe vhost_vsock 2>/dev/null || true
[ -c /dev/vhost-vsock ] && vsock_ok=1
build/tests/guest/mkinitramfs -o "$work/initrd-vsock" -i build/nestbox-init -r "$work/rootfs" \
	-g / -- /rootfs/bin/vsock-echo listen 1234 1 >/dev/null

rtt_run() { # NAME HOSTPATH CMD...: one run, prints the median round trip in us
	local name=$1 path=$2 vm
	shift 2
	"$@" >"$work/$name.log" 2>&1 </dev/null &
	vm=$!
	if ! timeout 300 /usr/bin/python3 tests/e2e/vsock_host.py rtt "$path" 1234 $nrtt \
		>"$work/rtt" 2>&1; then
		echo "# $name vsock run failed: $(cat "$work/rtt"); $(tail -3 "$work/$name.log")" >&2
	fi
	kill $vm 2>/dev/null || true
	wait $vm 2>/dev/null || true
	awk '/^rtt_us/ { print $2 }' "$work/rtt"
}

for i in $(seq "$runs"); do
	tcp_run nestbox "${nestbox_net[@]}" >>"$work/nb.tcp"
	tcp_run qemu "${qemu_net[@]}" >>"$work/qe.tcp"
	rm -f "$work/v.sock"
	rtt_run nestbox "$work/v.sock" build/nestbox run --security-opt seccomp=unconfined \
		--vsock "$work/v.sock" "$work/rootfs" -- /bin/vsock-echo listen 1234 1 >>"$work/nb.rtt"
	if [ -n "$vsock_ok" ]; then
		rtt_run qemu vsock:3 "${qemu_base[@]}" -initrd "$work/initrd-vsock" \
			-device vhost-vsock-device,guest-cid=3 >>"$work/qe.rtt"
	fi
	echo "# run $i/$runs: tcp MB/s nestbox $(tail -1 "$work/nb.tcp") qemu $(tail -1 "$work/qe.tcp");" \
		"vsock rtt us nestbox $(tail -1 "$work/nb.rtt") qemu $(tail -1 "$work/qe.rtt" 2>/dev/null)" >&2
done
touch "$work/qe.rtt"

python3 - "$work" "$bytes" "$nrtt" "$vsock_ok" <<'PY'
import statistics, sys
work, nbytes, nrtt, vsock_ok = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def med(name):
    v = [float(x) for x in open(f"{work}/{name}") if x.strip()]
    return (statistics.median(v), len(v)) if v else (None, 0)
(nt, nn), (qt, qn) = med("nb.tcp"), med("qe.tcp")
(nr, _), (qr, _) = med("nb.rtt"), med("qe.rtt")
def cell(v, w, d=1):
    return f"{v:{w}.{d}f}" if v else f"{'-':>{w}}"
print(f"virtio-net and vsock in the emulated test host (median of {nn}/{qn} runs)")
print(f"{'':40}{'nestbox':>10}{'qemu microvm':>14}{'ratio':>8}")
print(f"{'TCP guest->host ' + str(nbytes >> 20) + ' MiB, MB/s':40}{cell(nt, 10, 3)}{cell(qt, 14, 3)}"
      f"{(nt / qt if nt and qt else 0):>8.2f}  (nestbox/qemu)")
qcol = cell(qr, 14) if vsock_ok else f"{'n/a':>14}"
ratio = f"{qr / nr:>8.2f}  (qemu/nestbox: >1 nestbox faster)" if nr and qr else \
    f"{'-':>8}  " + ("" if vsock_ok else "(no /dev/vhost-vsock in the test host)")
print(f"{'vsock 64 B round trip x' + nrtt + ', us':40}{cell(nr, 10)}{qcol}{ratio}")
PY
