# shellcheck shell=bash
# e2e cases for vsock and virtio-net. Sourced by tests/e2e/run.sh, which
# sets $nestbox, $rootfs and $limit and sources tests/lib/check.sh.

vsock_helper=build/tests/guest/vsock-echo
vsock_host=tests/e2e/vsock_host.py
# Docker's default seccomp profile denies AF_VSOCK to the container.
vsock_run=("$nestbox" run --security-opt seccomp=unconfined)

if [ ! -x "$vsock_helper" ] || [ ! -x /usr/bin/python3 ]; then
	for t in e2e_vsock_host_to_guest_echo e2e_vsock_guest_to_host e2e_vsock_refused; do
		skip "$t" "build/tests/guest/vsock-echo (make tests) or /usr/bin/python3 missing"
	done
else
	vroot=$nb_tmp/rootfs-vsock
	cp -a "$rootfs" "$vroot" && cp "$vsock_helper" "$vroot/bin/vsock-echo"
	vsock=$nb_tmp/v.sock

	# Host client -> guest listener, echoed back; then 1000 round trips.
	# $status is the VM's, $host_status the host client's.
	vsock_echo() {
		nb_case_start "a host client echoed by a guest vsock listener"
		timeout --kill-after=5 "$limit" "${vsock_run[@]}" --vsock "$vsock" "$vroot" -- \
			/bin/vsock-echo listen 1234 2 </dev/null >"$nb_tmp/vm.out" 2>"$nb_tmp/vm.err" &
		local vm=$!
		out=$(timeout 120 /usr/bin/python3 "$vsock_host" echo "$vsock" 1234 "ping over vsock" 2>&1)
		host_status=$?
		rtt=$(timeout 120 /usr/bin/python3 "$vsock_host" rtt "$vsock" 1234 1000 2>&1)
		wait "$vm"
		status=$?
		err=$(tail -c 300 "$nb_tmp/vm.err")
	}
	nb_try vsock_echo
	expect e2e_vsock_host_to_guest_echo "a host client reaches a guest listener through PATH and CONNECT" \
		"$host_status" -eq 0 -a "$out" = "ping over vsock" -a "$status" -eq 0 -a ! -e "$vsock"
	echo "# vsock 64-byte round trip, median/mean us over 1000: ${rtt#rtt_us }" >&2

	# Guest -> host: CID 2 port 5000 reaches the Unix socket PATH_5000.
	rm -f "${vsock}_5000"
	/usr/bin/python3 "$vsock_host" serve "${vsock}_5000" &
	srv=$!
	for _ in $(seq 50); do [ -S "${vsock}_5000" ] && break; sleep 0.1; done
	nb_run_case "$limit" "${vsock_run[@]}" --vsock "$vsock" "$vroot" -- \
		/bin/vsock-echo connect 5000 "hello host"
	kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
	expect e2e_vsock_guest_to_host "a guest connection to CID 2 port 5000 reaches PATH_5000" \
		"$status" -eq 0 -a "$out" = "host got: hello host"

	# Nothing listens at PATH_5001: the guest's connect is refused (RST).
	nb_run_case "$limit" "${vsock_run[@]}" --vsock "$vsock" "$vroot" -- /bin/sh -c \
		'/bin/vsock-echo connect 5001 x; echo "status $?"'
	expect e2e_vsock_refused "a guest connection to a host port nobody serves is refused" \
		"$status" -eq 0 -a -n "$(grep -x 'status 1' <<<"$out")" -a \
		-n "$(grep -i 'connect' <<<"$out$err")"
fi

# ---- virtio-net: a tap in a test network namespace (10.200.0.0/24) ----
ns=nbnet$$
tap=nbtap0
if ! command -v ip >/dev/null || [ ! -c /dev/net/tun ] || ! ip netns add "$ns" 2>/dev/null; then
	for t in e2e_net_guest_pings_host e2e_net_host_pings_guest e2e_net_tcp_guest_to_host \
		e2e_net_tx_rate e2e_net_network_none; do
		skip "$t" "no ip netns or /dev/net/tun here"
	done
else
	nsx() { ip netns exec "$ns" "$@"; }
	nsx ip link set lo up
	nsx ip tuntap add dev $tap mode tap
	nsx ip addr add 10.200.0.1/24 dev $tap
	nsx ip link set $tap up
	# tcp_sink SECONDS BYTES: a TCP sink at 10.200.0.1:5001 in the
	# background (pid $sink), its result in $nb_tmp/sink.out.
	tcp_sink() {
		nsx timeout "$1" /usr/bin/python3 tests/e2e/tcp_sink.py 10.200.0.1 5001 "$2" \
			>"$nb_tmp/sink.out" 2>&1 &
		sink=$!
	}
	# sink_done: the sink's result in $sinkout; once the VM has gone the
	# sink has its bytes or never will, so it is stopped after 10 s.
	sink_done() {
		for _ in $(seq 100); do kill -0 "$sink" 2>/dev/null || break; sleep 0.1; done
		kill "$sink" 2>/dev/null
		wait "$sink" 2>/dev/null
		sinkout=$(cat "$nb_tmp/sink.out")
	}
	# The guest pings the host and sends it 4 MiB (small: in the emulated
	# test host a frame costs milliseconds) while the host pings the guest.
	bytes=$((4 << 20))
	net_tap() {
		nb_case_start "a guest on a tap: ping both ways, TCP to the host"
		tcp_sink 280 $bytes
		# shellcheck disable=SC2016 # expanded by the guest's shell
		nsx timeout --kill-after=5 $((limit + 120)) "$nestbox" run --tap $tap --ip 10.200.0.2/24 \
			--gateway 10.200.0.1 "$rootfs" -- /bin/sh -c \
			'ping -c 3 -W 5 10.200.0.1 >/dev/null && echo ping-ok
			 ip route | grep -q "^default via 10.200.0.1" && echo route-ok
			 sleep 6
			 dd if=/dev/zero bs=65536 count=64 2>/dev/null | nc 10.200.0.1 5001; echo nc-done' \
			</dev/null >"$nb_tmp/net.out" 2>"$nb_tmp/net.err" &
		local vm=$!
		host_ping=1
		for _ in $(seq 60); do
			if nsx busybox ping -c 1 -W 1 10.200.0.2 >/dev/null 2>&1; then
				nsx busybox ping -c 3 -W 2 10.200.0.2 >/dev/null 2>&1; host_ping=$?
				break
			fi
			kill -0 "$vm" 2>/dev/null || break
			sleep 1
		done
		wait "$vm"
		status=$?
		sink_done
		out=$(cat "$nb_tmp/net.out")
		err=$(tail -c 300 "$nb_tmp/net.err")
	}
	nb_try net_tap
	expect e2e_net_guest_pings_host "the guest's eth0 (set by nestbox-init) pings the host tap" \
		"$status" -eq 0 -a -n "$(grep -x ping-ok <<<"$out")" -a -n "$(grep -x route-ok <<<"$out")"
	status=$host_ping
	expect e2e_net_host_pings_guest "the host pings the guest at 10.200.0.2" "$host_ping" -eq 0
	out=$sinkout
	expect e2e_net_tcp_guest_to_host "4 MiB guest -> host over TCP (busybox nc) arrive whole" \
		"$sinkout" != "${sinkout#bytes $bytes }"
	echo "# virtio-net TCP guest -> host: $sinkout" >&2

	# --net-rate tx=128k: 1 MiB arrive whole, taking >= (1024 - 128) / 128 =
	# 7 s from first byte to last (the bucket starts with one second's
	# worth; frames carry headers too, so the payload is slower still).
	# Unlimited must have been clearly faster for this to mean anything.
	free_mbps=$(awk '{ print $4 }' <<<"$sinkout")
	rbytes=$((1 << 20))
	net_rate() {
		tcp_sink 280 $rbytes
		nb_run_case_once $((limit + 120)) ip netns exec "$ns" "$nestbox" run --tap $tap \
			--ip 10.200.0.2/24 --net-rate tx=128k,rx=1mb "$rootfs" -- /bin/sh -c \
			'ping -c 1 -W 5 10.200.0.1 >/dev/null; sleep 1
			 dd if=/dev/zero bs=65536 count=16 2>/dev/null | nc 10.200.0.1 5001; echo nc-done'
		sink_done
	}
	nb_try net_rate
	lim_secs=$(awk '{ print $6 }' <<<"$sinkout")
	if [ -z "$free_mbps" ]; then
		not_ok e2e_net_tx_rate "no unlimited rate to compare with: the 4 MiB transfer above did not finish"
	elif awk -v f="$free_mbps" 'BEGIN { exit !(f < 0.4) }'; then
		skip e2e_net_tx_rate "unlimited tx here ($free_mbps MB/s) is too slow to tell a 128 KiB/s limit"
	else
		expect e2e_net_tx_rate "1 MiB at --net-rate tx=128k arrive whole, in >= ~6.3 s (0.9 x 7)" \
			"$sinkout" != "${sinkout#bytes $rbytes }" -a \
			"$(awk -v s="${lim_secs:-0}" 'BEGIN { print (s >= 6.3 && s < 200) }')" = 1
	fi
	echo "# virtio-net TCP guest -> host at tx=128k: $sinkout (unlimited $free_mbps MB/s)" >&2

	# --network none: the container gets its own network namespace, so the
	# guest's eth0 (which the default shares) is not in it.
	nb_run_case $((limit + 120)) ip netns exec "$ns" "$nestbox" run --tap $tap \
		--ip 10.200.0.2/24 --network none "$rootfs" -- /bin/sh -c \
		"awk -F: 'NR > 2 { gsub(/ /, \"\", \$1); printf \"%s \", \$1 }' /proc/net/dev"
	expect e2e_net_network_none "--network none: only lo in the container, no eth0" \
		"$status" -eq 0 -a "$out" = "lo "
	nsx ip link del $tap 2>/dev/null
	ip netns del "$ns"
fi
