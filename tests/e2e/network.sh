# shellcheck shell=bash
# e2e cases for nestbox networks (nestbox network, run --network NAME, -p):
# two networks, NAT to an "outside" server (a veth into a network
# namespace), VMs of one network reaching each other, never across, -p from
# this host (127.0.0.1 and another address) and from the outside, --dns and
# resolv.conf, --network none, and nothing left after network rm.
# Sourced by tests/e2e/run.sh ($nestbox, $rootfs, $limit, tests/lib/check.sh).

net_cases="e2e_network_create e2e_network_publish_localhost e2e_network_publish_other_addr
	e2e_network_publish_outside e2e_network_same_net e2e_network_nat e2e_network_resolv
	e2e_network_isolated e2e_network_nat_b e2e_network_dns_option e2e_network_rm_in_use
	e2e_network_none e2e_network_rules_kept e2e_network_kill9_gc e2e_network_detached e2e_network_cleanup"
if [ "$(id -u)" -ne 0 ] || ! command -v nft >/dev/null || ! command -v curl >/dev/null ||
	! ip netns add nbout$$ 2>/dev/null; then
	for t in $net_cases; do skip "$t" "needs root, nft, curl and ip netns"; done
else
	export NESTBOX_NETWORK_DIR=$nb_tmp/networks
	out_ns=nbout$$
	ox() { ip netns exec "$out_ns" "$@"; }
	# The outside: 10.99.0.2 in its own namespace, reached through L1's
	# veth 10.99.0.1. Its server answers with the peer address it sees.
	ip link add nbo0 type veth peer name nbo1
	ip link set nbo1 netns "$out_ns"
	ip addr add 10.99.0.1/24 dev nbo0
	ip link set nbo0 up
	ox ip addr add 10.99.0.2/24 dev nbo1
	ox ip link set nbo1 up
	ox ip link set lo up
	ox timeout 600 /usr/bin/python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.0.2", 8000)); s.listen(16)
while True:
    c, a = s.accept(); c.sendall(("peer=%s\n" % a[0]).encode()); c.close()
' &
	out_srv=$!

	nb_run_case 30 sh -c "$nestbox network create na --subnet 10.88.11.0/24 &&
		$nestbox network create nb --subnet 10.88.12.0/24 && $nestbox network ls --format json"
	expect e2e_network_create "two networks created and listed" "$status" -eq 0 -a \
		"$(grep -c '"name":"n[ab]"' <<<"$out")" = 2

	# A1: a web server on network na, port 80 published as 8080.
	mkdir -p "$nb_tmp/www" && echo hello-a1 >"$nb_tmp/www/index.html"
	# Sets a1 (the VM's timeout pid, still running on success) and got.
	a1_start() {
		nb_case_start "a web server VM with -p 8080:80, reached at 127.0.0.1:8080"
		timeout --kill-after=5 $((limit + 240)) "$nestbox" run --network na --ip 10.88.11.10 \
			-p 8080:80 -v "$nb_tmp/www:/www:ro" "$rootfs" -- /bin/httpd -f -p 80 -h /www \
			</dev/null >"$nb_tmp/a1.out" 2>"$nb_tmp/a1.err" &
		a1=$!
		got= status=0
		for _ in $(seq 120); do
			got=$(curl -s -m 3 http://127.0.0.1:8080/ 2>/dev/null) && [ "$got" = hello-a1 ] && break
			if ! kill -0 "$a1" 2>/dev/null; then
				wait "$a1"
				status=$?
				break
			fi
			sleep 1
		done
		out=$got err=$(tail -c 300 "$nb_tmp/a1.err")
	}
	nb_try a1_start
	expect e2e_network_publish_localhost "-p 8080:80 reached at 127.0.0.1:8080 from L1" \
		"$got" = hello-a1
	out=$(curl -s -m 5 http://10.99.0.1:8080/ 2>&1)
	expect e2e_network_publish_other_addr "-p 8080:80 reached at L1's other address" \
		"$out" = hello-a1
	out=$(ox curl -s -m 5 http://10.99.0.1:8080/ 2>&1)
	expect e2e_network_publish_outside "-p 8080:80 reached from another host (the outside netns)" \
		"$out" = hello-a1
	echo "# nft ruleset with one VM: $(nft list table inet nestbox 2>&1 | grep -c dnat) dnat rules" >&2

	# A2 on the same network: reaches A1, the outside (as L1), has DNS.
	nb_run_case $((limit + 120)) "$nestbox" run --network na "$rootfs" -- /bin/sh -c \
		'echo "web=$(printf "GET / HTTP/1.0\r\n\r\n" | nc -w 10 10.88.11.10 80 | tail -n 1)"
		 echo "$(nc -w 10 10.99.0.2 8000)"
		 cat /etc/resolv.conf; ip -4 addr show eth0 | grep -o "inet [0-9./]*"'
	a2_out=$out
	expect e2e_network_same_net "a VM reaches another VM of its network" \
		"$status" -eq 0 -a -n "$(grep -x web=hello-a1 <<<"$a2_out")"
	expect e2e_network_nat "outbound NAT: the outside server sees L1's address (10.99.0.1)" \
		-n "$(grep -x peer=10.99.0.1 <<<"$a2_out")"
	expect e2e_network_resolv "resolv.conf written by nestbox with a nameserver; eth0 in 10.88.11.0/24" \
		-n "$(grep -x '# written by nestbox' <<<"$a2_out")" -a \
		-n "$(grep '^nameserver [0-9]' <<<"$a2_out")" -a -n "$(grep 'inet 10\.88\.11\.' <<<"$a2_out")"

	# B1 on network nb: no path to na's VM; NAT to the outside works.
	nb_run_case $((limit + 120)) "$nestbox" run --network nb --dns 10.99.0.53 "$rootfs" -- /bin/sh -c \
		'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 5 10.88.11.10 80 | grep -q hello-a1 && echo crossed || echo isolated
		 ping -c 2 -W 2 10.88.11.10 >/dev/null 2>&1 && echo pinged || echo no-ping
		 echo "$(nc -w 10 10.99.0.2 8000)"; cat /etc/resolv.conf'
	b_out=$out
	expect e2e_network_isolated "a VM of network nb cannot reach network na's VM (TCP, ping)" \
		"$status" -eq 0 -a -n "$(grep -x isolated <<<"$b_out")" -a -n "$(grep -x no-ping <<<"$b_out")"
	expect e2e_network_nat_b "network nb's VM reaches the outside through NAT as well" \
		-n "$(grep -x peer=10.99.0.1 <<<"$b_out")"
	expect e2e_network_dns_option "--dns 10.99.0.53: the only nameserver" \
		"$(grep -c '^nameserver' <<<"$b_out")" = 1 -a -n "$(grep -x 'nameserver 10.99.0.53' <<<"$b_out")"

	nb_run_case 30 "$nestbox" network rm na
	expect e2e_network_rm_in_use "network rm is refused while a VM uses the network" \
		"$status" -ne 0 -a -n "$(grep 'in use' <<<"$err")"

	nb_run_case $((limit + 60)) "$nestbox" run --network none "$rootfs" -- /bin/sh -c \
		"ls /sys/class/net | tr '\n' ' '"
	expect e2e_network_none "--network none: no eth0 (only lo)" "$status" -eq 0 -a "$out" = "lo "

	# A VM whose start and end change no rule (no -p) leaves the table as
	# it is (the same handle: not replaced); after someone flushes the
	# ruleset, the next VM's start applies it again.
	table_handle() { nft -a list table inet nestbox 2>/dev/null | sed -n '1s/.*# handle \([0-9]*\).*/\1/p'; }
	h1=$(table_handle)
	nb_run_case $((limit + 60)) "$nestbox" run --network nb "$rootfs" -- /bin/true
	s1=$status h2=$(table_handle)
	nft flush ruleset
	nb_run_case $((limit + 60)) "$nestbox" run --network nb "$rootfs" -- /bin/true
	s2=$status h3=$(table_handle)
	rules=$(nft list table inet nestbox 2>/dev/null | grep -c -e '10.88.12.0/24' -e 'dport 8080')
	out="table handle $h1, after a run $h2, after a flush and a run $h3; status $s1 $s2; rules for nb and na's port: $rules"
	expect e2e_network_rules_kept "run --network without -p leaves the table alone; after nft flush ruleset the next run applies it again" \
		"$s1" -eq 0 -a -n "$h1" -a "$h1" = "$h2" -a "$s2" -eq 0 -a -n "$h3" -a "$rules" -ge 3

	# kill -9 of nestbox: the VMM dies with it, and so does its tap; the
	# lease names a dead pid, which nestbox gc frees; the network's bridge
	# stays until network rm (as Docker's).
	"$nestbox" run --network nb "$rootfs" -- /bin/sleep 600 >/dev/null 2>&1 &
	k=$!
	for _ in $(seq 120); do
		[ -e "$NESTBOX_NETWORK_DIR/leases/nb.json" ] && ip link show "nbt$k" >/dev/null 2>&1 && break
		sleep 0.5
	done
	had_tap=$(ip -o link show "nbt$k" 2>/dev/null | wc -l)
	kill -9 "$k"
	wait "$k" 2>/dev/null
	sleep 2
	nb_run_case 60 "$nestbox" gc
	br_nb=$(sed -n 's/.*"bridge":"\([^"]*\)".*/\1/p' "$NESTBOX_NETWORK_DIR/nb.json")
	left=$(ip -o link show 2>/dev/null | grep -oE " nbt$k[:@]" | tr '\n' ' ')
	[ -e "$NESTBOX_NETWORK_DIR/leases/nb.json" ] && left+=" leases/nb.json"
	bridge=$(ip -o link show "$br_nb" 2>/dev/null | wc -l)
	out="$out; tap was up: $had_tap; left: $left; bridge $br_nb: $bridge"
	expect e2e_network_kill9_gc "kill -9 of nestbox: its tap goes at once; gc frees the lease, the network's bridge stays" \
		"$status" -eq 0 -a "$had_tap" = 1 -a -z "$left" -a "$bridge" = 1

	# run -d: the VM keeps its lease and its place on the bridge once
	# `run -d` has returned (its monitor holds them).
	nb_run_case $((limit + 60)) "$nestbox" run -d --name nd --network nb --ip 10.88.12.20 \
		-v "$nb_tmp/www:/www:ro" "$rootfs" -- /bin/httpd -f -p 80 -h /www
	got=
	for _ in $(seq 120); do
		got=$(curl -s -m 3 http://10.88.12.20/ 2>/dev/null) && [ "$got" = hello-a1 ] && break
		sleep 1
	done
	sleep 2 # `run -d` long gone: a lease it had left would be gone too
	got+=$(curl -s -m 3 http://10.88.12.20/ 2>/dev/null)
	leases=$(grep -o '"ip"' "$NESTBOX_NETWORK_DIR/leases/nb.json" 2>/dev/null | wc -l)
	out="$got; leases: $leases"
	expect e2e_network_detached "run -d --network: the VM keeps its lease and is reached at its address" \
		"$got" = hello-a1hello-a1 -a "$leases" = 1
	"$nestbox" rm -f nd >/dev/null 2>&1

	kill -TERM "$a1" 2>/dev/null
	wait "$a1"
	nb_run_case 30 sh -c "$nestbox network rm na nb"
	left=$(
		ip -o link show | grep -oE ' (nb-[0-9a-f]+|nbt[0-9]+)[:@]' | tr '\n' ' '
		nft list table inet nestbox >/dev/null 2>&1 && echo "table inet nestbox"
		ls "$NESTBOX_NETWORK_DIR/leases" 2>/dev/null | tr '\n' ' '
	)
	out="$out; left: $left"
	expect e2e_network_cleanup "after the VMs and network rm: no bridge, tap, nft table or lease left" \
		"$status" -eq 0 -a -z "$left"

	# What network setup costs: median of 5 runs of `true`.
	if [ -n "${NESTBOX_E2E_MEASURE:-1}" ]; then
		"$nestbox" network create nm >/dev/null 2>&1
		for mode in none nm; do
			times=()
			for _ in 1 2 3 4 5; do
				t0=$(date +%s%N)
				timeout 120 "$nestbox" run --network $mode "$rootfs" -- /bin/true >/dev/null 2>&1
				times+=($((($(date +%s%N) - t0) / 1000000)))
			done
			echo "# run --network $mode true: median $(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p) ms (${times[*]})" >&2
		done
		"$nestbox" network rm nm >/dev/null 2>&1
	fi
	kill "$out_srv" 2>/dev/null
	ip link del nbo0 2>/dev/null
	ip netns del "$out_ns"
	unset NESTBOX_NETWORK_DIR
fi
