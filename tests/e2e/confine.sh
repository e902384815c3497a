# shellcheck shell=bash
# e2e cases for host confinement (issue 6) with the real guest: --cgroup
# (limits, usage, removal, the up-front refusal), a guest that touches all
# its RAM or floods the console stays contained, --jail runs the real
# guest. Sourced by tests/e2e/run.sh, which sets $nestbox, $rootfs and
# $limit and sources tests/lib/check.sh.

cg_parent=nestbox-e2e
cg_root=/sys/fs/cgroup
export NESTBOX_RUN_DIR=$nb_tmp/run

# JSON field $2 of the cgroup stats line in $1 (empty when absent).
cg_field() {
	python3 -c 'import json,sys
for l in sys.argv[1].splitlines():
    if l.startswith("{\"cgroup\""): print(json.loads(l)[sys.argv[2]])' "$1" "$2" 2>/dev/null
}
stats_field() {
	python3 -c 'import json,sys
for l in sys.argv[1].splitlines():
    if l.startswith("{\"wall_ms\""): print(json.loads(l)[sys.argv[2]])' "$1" "$2" 2>/dev/null
}

if [ ! -f $cg_root/cgroup.controllers ] || ! grep -qw memory $cg_root/cgroup.controllers; then
	for t in e2e_cgroup_touch_all_ram e2e_cgroup_console_flood e2e_cgroup_too_small e2e_jail_guest; do
		skip $t "no cgroup v2 with the memory controller at $cg_root"
	done
	return 0
fi

# A guest that fills its RAM (a file in its RAM-backed root, up to the
# tmpfs's half of RAM, then a hog the container's memory.max OOM-kills)
# stays inside memory.max (guest RAM + overhead): the VMM is not
# OOM-killed, its peak is below the limit, and the group is gone.
nb_run_case "$limit" $nestbox run --memory 256m --cgroup $cg_parent --stats $rootfs -- /bin/sh -c \
	'head -c 120000000 /dev/zero > /tmp/fill && echo filled; x=$(head -c 300000000 /dev/zero | tr "\0" a); echo survived'
peak=$(cg_field "$err" memory_peak_kib) max=$(cg_field "$err" memory_max_kib)
cpu=$(cg_field "$err" cpu_usage_us) ooms=$(cg_field "$err" oom_kills)
resident=$(stats_field "$err" guest_resident_kib)
left=$(find $cg_root/$cg_parent -mindepth 1 -maxdepth 1 -name 'nestbox-*' 2>/dev/null | wc -l)
echo "# touch-all-RAM: peak ${peak:-?} KiB of max ${max:-?} KiB, guest resident ${resident:-?} KiB, cpu ${cpu:-?} us" >&2
expect e2e_cgroup_touch_all_ram "a guest touching all its RAM stays under the VMM's memory.max, and the group is removed" \
	"$status" -eq 137 -a "$(head -n 1 <<<"$out")" = filled -a "${peak:-0}" -gt 0 -a "${peak:-0}" -le "${max:-0}" \
	-a "${resident:-0}" -ge 180000 -a "${ooms:-1}" -eq 0 -a "${cpu:-0}" -gt 0 -a "$left" -eq 0

# A guest that floods its console while the reader is slow: everything
# arrives, and the VMM's own memory stays small (back-pressure, no buffer).
flood_bytes=64000000
flood() {
	local tailer
	nb_case_start "console flood"
	# the stream's last bytes: what a guest panic said (nb_l1fault_again)
	rm -f "$nb_tmp/flood.fifo" && mkfifo "$nb_tmp/flood.fifo"
	tail -c 8192 <"$nb_tmp/flood.fifo" | tr -d '\0' >"$nb_tmp/flood.tail" &
	tailer=$!
	timeout --kill-after=5 "$limit" $nestbox run --memory 128m --cgroup $cg_parent --stats $rootfs -- \
		/bin/sh -c "head -c $flood_bytes /dev/zero" 2>"$nb_tmp/flood.err" </dev/null |
		{ sleep 3; tee "$nb_tmp/flood.fifo" | wc -c; } >"$nb_tmp/flood.out"
	status=${PIPESTATUS[0]}
	wait $tailer
	out=$(cat "$nb_tmp/flood.out") err=$(cat "$nb_tmp/flood.err")
	[ "$status" -eq 0 ] || err+=$'\n'$(cat "$nb_tmp/flood.tail")
}
nb_try flood
rss=$(stats_field "$err" vmm_rss_kib) peak=$(cg_field "$err" memory_peak_kib)
max=$(cg_field "$err" memory_max_kib)
echo "# console flood: VMM RSS ${rss:-?} KiB, cgroup peak ${peak:-?} of ${max:-?} KiB" >&2
expect e2e_cgroup_console_flood "a console flood to a slow reader: all bytes, VMM RSS under 32 MiB, peak under memory.max" \
	"$status" -eq 0 -a "$out" -eq $flood_bytes -a "${rss:-999999}" -lt 32768 -a \
	"${peak:-0}" -gt 0 -a "${peak:-0}" -le "${max:-0}"

# A parent group too small for the VM: refused before anything starts.
mkdir -p $cg_root/$cg_parent-small
echo "+memory" > $cg_root/cgroup.subtree_control 2>/dev/null
echo $((96 << 20)) > $cg_root/$cg_parent-small/memory.max
nb_run_case "$limit" $nestbox run --memory 256m --cgroup $cg_parent-small $rootfs -- true
left=$(find $cg_root/$cg_parent-small -mindepth 1 -maxdepth 1 -name 'nestbox-*' | wc -l)
expect e2e_cgroup_too_small "a VM larger than its parent group's memory.max is refused up front (125, says memory.max)" \
	"$status" -eq 125 -a -n "$(grep -F 'memory.max' <<<"$err")" -a "$left" -eq 0
rmdir $cg_root/$cg_parent-small 2>/dev/null

# --jail with the real guest: it boots and runs as an unprivileged,
# filtered process; a volume and the vsock socket directory are reachable.
jail=$nb_tmp/jail tenant=$nb_tmp/tenant
mkdir -p "$jail" "$tenant"
truncate -s 64M "$tenant/vol.img" && mkfs.ext4 -q "$tenant/vol.img"
chown -R 4242:4242 "$tenant"
nb_case_start "e2e jail (--jail with the real guest)"
$nestbox run --timeout "$limit" --jail "$jail" --uid 4242 --gid 4242 --cgroup $cg_parent -v "$tenant/vol.img:/data" \
	--vsock "$tenant/v.sock" $rootfs -- /bin/sh -c 'echo hi > /data/f; cat /data/f; sleep 4' \
	>"$nb_tmp/jail.out" 2>"$nb_tmp/jail.err" </dev/null &
sup=$!
vmm= seen=
for _ in $(seq 300); do
	vmm=$(pgrep -P $sup | head -1)
	if [ -n "$vmm" ] && grep -q hi "$nb_tmp/jail.out"; then
		seen=$(awk '/^Uid:/ { print "uid=" $2 } /^CapEff:/ { print "capeff=" $2 }' /proc/$vmm/status |
			tr '\n' ' ')
		seen="$seen$(for t in /proc/$vmm/task/*; do grep -q '^nb-\|^nestbox' $t/comm && awk '/^Seccomp:/ { print "seccomp=" $2 }' $t/status; done | sort -u | tr '\n' ' ')"
		seen="$seen cpu.max=$(cat $cg_root/$cg_parent/nestbox-$sup/cpu.max 2>/dev/null | tr ' ' _)"
		break
	fi
	sleep 0.1
done
wait $sup
status=$?
out="$(cat "$nb_tmp/jail.out") | $seen" err=$(cat "$nb_tmp/jail.err")
expect e2e_jail_guest "a jailed VMM boots the real guest as 4242 with no capabilities, seccomp on every thread, in its cgroup" \
	"$status" -eq 0 -a "$seen" = "uid=4242 capeff=0000000000000000 seccomp=2  cpu.max=100000_100000" \
	-a "$(head -n 1 "$nb_tmp/jail.out")" = hi -a ! -e "$tenant/v.sock"
rmdir $cg_root/$cg_parent 2>/dev/null

# kill -9 at random moments, now with --cgroup rounds too (cgroup v2 here).
NESTBOX_CRASH_ROUNDS=${NESTBOX_CRASH_ROUNDS:-12} tests/kvm/crash.sh | sed 's/^\(\(not \)\?ok\|skip\) /&e2e_/'
