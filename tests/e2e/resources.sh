# shellcheck shell=bash
# e2e cases for resources as in Docker, guaranteed as a VM (issue 15):
# --memory is the container's memory.max and an over-limit workload is
# OOM-killed, --memory-reservation and --cpu-shares reach the guest's
# cgroup, the smallest --memory boots, --memory-prealloc backs all guest
# RAM at start, --cpuset-cpus pins the vCPU threads, and memory a
# workload frees goes back to the host (virtio-balloon free page
# reporting). Prints the measurements as "# ..." lines. Sourced by
# tests/e2e/run.sh, which sets $nestbox, $rootfs and $limit and sources
# tests/lib/check.sh.

# VmRSS (+ HugetlbPages) of process $1 in KiB; empty once it is gone.
rss_kib() {
	awk '/^(VmRSS|HugetlbPages):/ { kib += $2 } END { if (NR) print kib }' "/proc/$1/status" 2>/dev/null
}

# Guest RAM as the VMM holds it: anonymous RSS (VmRSS also counts the
# pages of the VMM's own binary and libraries it happens to touch).
anon_kib() {
	awk '/^RssAnon:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# Wait (at most $3 s) for line $2 in file $1.
wait_line() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qx "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# The VMM started in the background: its output in $nb_tmp/bg.out, pid in $bg.
bg_start() {
	nb_case_start "$*"
	"$@" </dev/null >"$nb_tmp/bg.out" 2>"$nb_tmp/bg.err" &
	bg=$!
}
bg_finish() {
	local i
	for ((i = 0; i < limit * 10; i++)); do
		kill -0 "$bg" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$bg" 2>/dev/null
	wait "$bg"
	status=$?
	out=$(cat "$nb_tmp/bg.out") err=$(cat "$nb_tmp/bg.err")
}

# --memory 64m: memory.max is exactly 64 MiB inside, memory.low and
# cpu.weight as asked, and a hog past the limit is OOM-killed (137).
# shellcheck disable=SC2016 # expanded by the guest's shell
nb_run_case "$limit" $nestbox run --memory 64m --memory-reservation 32m --cpu-shares 512 $rootfs -- \
	/bin/sh -c 'cd /sys/fs/cgroup && echo $(cat memory.max memory.low cpu.weight); x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived'
expect e2e_memory_is_the_limit "--memory 64m: memory.max 67108864 inside (memory.low, cpu.weight set); a hog is OOM-killed (137)" \
	"$status" -eq 137 -a "$(head -n 1 <<<"$out")" = "67108864 33554432 20"

# The guest's overhead: what the VM has beside the container's limit.
nb_run_case "$limit" $nestbox run --memory 64m $rootfs -- /bin/sh -c \
	"awk '/^(MemTotal|MemFree|MemAvailable):/ { printf \"%s %s \", \$1, \$2 }' /proc/meminfo"
echo "# --memory 64m: guest RAM $((64 + 40 + 2)) MiB; in the guest after boot: $out" >&2
expect e2e_memory_overhead "--memory 64m: the guest has at least 64 MiB available after boot" \
	"$status" -eq 0 -a "$(awk '{ for (i = 1; i < NF; i++) if ($i == "MemAvailable:") print $(i + 1) }' <<<"$out")" -ge 65536

# The smallest limit Docker accepts boots and runs the workload.
nb_run_case "$limit" $nestbox run --memory 6m $rootfs -- /bin/sh -c 'cat /sys/fs/cgroup/memory.max'
expect e2e_memory_smallest "--memory 6m boots and runs (memory.max 6291456)" \
	"$status" -eq 0 -a "$out" = 6291456

# --memory-prealloc: the VMM's RSS covers guest RAM while the workload sleeps.
bg_start $nestbox run --memory 256m --memory-prealloc --stats $rootfs -- /bin/sh -c 'echo up; sleep 3'
wait_line "$nb_tmp/bg.out" up "$limit"
rss=$(rss_kib "$bg")
bg_finish
ram_kib=$(sed -n 's/.*"guest_ram_kib":\([0-9]*\).*/\1/p' <<<"$err")
backing=$(sed -n 's/.*"memory_backing":"\([a-z0-9]*\)".*/\1/p' <<<"$err")
echo "# --memory-prealloc: VMM RSS ${rss:-?} KiB, guest RAM ${ram_kib:-?} KiB, backing ${backing:-?}" >&2
expect e2e_memory_prealloc "--memory-prealloc: the VMM's RSS covers guest RAM at start; --stats says it is locked" \
	"$status" -eq 0 -a "${rss:-0}" -ge "${ram_kib:-999999999}" -a -n "$(grep -F '"memory_locked":true' <<<"$err")"

# --memory-hugepages: guest RAM from the hugetlb pool. Only in the test
# host (its pool is ours to set: 60 pages of 2 MiB, put back after).
pool=/proc/sys/vm/nr_hugepages
if [ -n "${NESTBOX_IN_TESTHOST:-}" ] && [ -w $pool ]; then
	pages_before=$(cat $pool)
	echo 60 >$pool
	bg_start $nestbox run --memory 64m --memory-hugepages --memory-prealloc --stats $rootfs -- /bin/sh -c 'echo up; sleep 2'
	wait_line "$nb_tmp/bg.out" up "$limit"
	huge=$(awk '/^HugetlbPages:/ { print $2 }' "/proc/$bg/status" 2>/dev/null)
	bg_finish
	echo "$pages_before" >$pool
	echo "# --memory-hugepages: HugetlbPages ${huge:-?} KiB for a 106 MiB guest" >&2
	expect e2e_memory_hugepages "--memory-hugepages: guest RAM is hugetlb pages (--stats and /proc say so)" \
		"$status" -eq 0 -a "${huge:-0}" -ge 108544 -a -n "$(grep -F '"memory_backing":"hugetlb"' <<<"$err")"
	echo 0 >$pool
	nb_run_case "$limit" $nestbox run --memory 64m --memory-hugepages $rootfs -- true
	echo "$pages_before" >$pool
	expect e2e_memory_hugepages_short "--memory-hugepages with an empty pool is refused, naming it (125)" \
		"$status" -eq 125 -a -n "$(grep -F 'nr_hugepages' <<<"$err")"
else
	skip e2e_memory_hugepages "sets the host's hugetlb pool: only in the test host"
	skip e2e_memory_hugepages_short "sets the host's hugetlb pool: only in the test host"
fi

# --cpuset-cpus: every vCPU thread may run on the set only.
if [ "$(nproc)" -ge 2 ]; then
	bg_start $nestbox run --cpus 2 --cpuset-cpus 1 $rootfs -- /bin/sh -c 'echo up; sleep 2'
	wait_line "$nb_tmp/bg.out" up "$limit"
	for ((i = 0; i < 50; i++)); do # until both vCPU threads are seen (one read can miss one)
		pinned=$(for t in /proc/"$bg"/task/*; do
			grep -q '^nb-vcpu' "$t/comm" 2>/dev/null && awk '/^Cpus_allowed_list:/ { print $2 }' "$t/status"
		done | sort | uniq -c | tr -s ' ' | sed 's/^ //')
		[ "$pinned" = "2 1" ] && break
		sleep 0.1
	done
	bg_finish
	echo "# --cpuset-cpus 1: vCPU threads' Cpus_allowed_list: ${pinned:-none}" >&2
	expect e2e_cpuset_pins_vcpus "--cpuset-cpus 1: both vCPU threads have Cpus_allowed_list 1" \
		"$status" -eq 0 -a "$pinned" = "2 1"
else
	skip e2e_cpuset_pins_vcpus "this host has one CPU"
fi
nb_run_case "$limit" $nestbox run --cpuset-cpus 1000 $rootfs -- true
expect e2e_cpuset_offline "--cpuset-cpus naming a CPU the host lacks is refused up front (125)" \
	"$status" -eq 125 -a -n "$(grep -F 'CPU 1000 is not online on this host' <<<"$err")"

# Memory that comes back: 400 MiB written to a tmpfs and removed; the
# VMM's RSS before, during and after. The margin, 12 MiB: about 8 MiB stay
# (8192-8196 KiB in three runs, steady for 40 s), what the guest touched
# after the first reading (dd, the tmpfs's metadata) and what sits in its
# per-CPU free lists, which free page reporting does not see (unverified).
margin=12288
bg_start $nestbox run --tmpfs /scratch:size=450m $rootfs -- /bin/sh -c \
	'echo up; sleep 8; dd if=/dev/zero of=/scratch/f bs=1M count=400 2>/dev/null; echo filled; sleep 4; rm /scratch/f; echo freed; sleep 60'
wait_line "$nb_tmp/bg.out" up "$limit" && sleep 6
before=$(anon_kib "$bg") before_rss=$(rss_kib "$bg")
wait_line "$nb_tmp/bg.out" filled "$limit" && sleep 2
during=$(anon_kib "$bg")
wait_line "$nb_tmp/bg.out" freed "$limit"
for ((i = 0; i < 40; i++)); do # up to 40 s for the guest's reports (every ~2 s)
	sleep 1
	after=$(anon_kib "$bg") after_rss=$(rss_kib "$bg")
	[ "${after:-0}" -le $((${before:-0} + margin)) ] && break
done
kill -TERM "$bg" 2>/dev/null
bg_finish
echo "# 400 MiB allocate-and-free: VMM anonymous RSS before ${before:-?} KiB, during ${during:-?} KiB, after ${after:-?} KiB (${i}s after the free); VmRSS ${before_rss:-?} -> ${after_rss:-?} KiB" >&2
expect e2e_memory_comes_back "400 MiB freed in the guest: the VMM's anonymous RSS back within 12 MiB of where it started" \
	"${during:-0}" -ge $((${before:-0} + 300000)) -a "${after:-999999999}" -le $((${before:-0} + margin))

# `nestbox update --memory` on a detached VM started with --memory 512m:
# its workload holds 300 MiB (dd's buffer, dd blocked writing into a pipe
# nobody reads). update --memory 128m: the guest's memory.max drops and the
# kernel OOM-kills the holder (dd: 137; the container's shell lives on),
# the balloon and free page reporting give the pages back (the VMM's
# anonymous RSS drops); 2g is refused (more than it booted with: no
# hotplug); 512m again is taken. USR1 makes the workload print memory.max
# and the guest's MemAvailable, which the balloon takes (about 390 MiB at
# 128m) and gives back (at 512m).
export NESTBOX_RUN_DIR=$nb_tmp/run-update
upd() { timeout -s KILL "$limit" $nestbox "$@"; }
upd_logs() { upd logs upd 2>&1 | grep -qx "$1"; }
# upd_until SECONDS CMD...: retry CMD every 0.5 s until it succeeds.
upd_until() {
	local end=$((SECONDS + $1))
	while ! "${@:2}"; do [ $SECONDS -lt $end ] && sleep 0.5 || return 1; done
}
upd_anon_ge() { [ "$(anon_kib "$upd_pid")" -ge "$1" ] 2>/dev/null; }
upd_anon_le() { [ "$(anon_kib "$upd_pid")" -le "$1" ] 2>/dev/null; }
upd_avail() { upd logs upd 2>/dev/null | sed -n 's/^avail //p' | tail -n 1; }
upd_avail_lt() { upd kill -s USR1 upd >/dev/null && sleep 2 && [ "$(upd_avail)" -lt "$1" ] 2>/dev/null; }
upd_avail_gt() { upd kill -s USR1 upd >/dev/null && sleep 2 && [ "$(upd_avail)" -gt "$1" ] 2>/dev/null; }
upd_field() { upd inspect upd | python3 -c 'import json,sys; v=json.load(sys.stdin)[0]; print(eval(sys.argv[1]))' "$1"; }
# shellcheck disable=SC2016 # expanded by the guest's shell
upd_cmd='show() { echo "max $(cat /sys/fs/cgroup/memory.max)"; echo "avail $(sed -n "s/^MemAvailable: *\([0-9]*\) kB/\1/p" /proc/meminfo)"; }; trap show USR1; { dd if=/dev/zero bs=314572800 count=1 2>/dev/null; echo "holder $?" >&2; } | sleep 100000 & echo started; while :; do sleep 1; done'
nb_case_start "run -d --memory 512m: 300 MiB held"
upd run -d --name upd --memory 512m "$rootfs" -- /bin/sh -c "$upd_cmd" >/dev/null 2>"$nb_tmp/upd.err"
upd_until 120 upd_logs started
upd_pid=$(upd_field 'v["State"]["Pid"]')
upd_until 120 upd_anon_ge 300000
upd_before=$(anon_kib "$upd_pid")
nb_run_case "$limit" $nestbox update --memory 128m upd
upd_status=$status upd_out=$out upd_t0=$SECONDS
upd_until 120 upd_logs "holder 137"
upd_until 60 upd_anon_le $((${upd_before:-0} - 204800))
upd_after=$(anon_kib "$upd_pid") upd_t1=$SECONDS
upd_until 120 upd_avail_lt 204800
upd_avail_low=$(upd_avail) upd_t2=$SECONDS
upd_limit=$(upd_field 'v["HostConfig"]["Memory"]')
upd_stats=$(upd stats --no-stream --format json upd | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["memory_limit_bytes"])')
upd_running=$(upd_field 'v["State"]["Running"]')
status=$upd_status out="$upd_out; logs: $(upd logs upd 2>&1 | tail -n 4 | tr '\n' '|')" err=$(cat "$nb_tmp/upd.err")
expect e2e_update_memory_lowers "update --memory 128m: memory.max 134217728 inside, the 300 MiB holder OOM-killed (137), the workload runs on; inspect and stats say 128 MiB" \
	"$upd_status" -eq 0 -a "$upd_out" = upd -a "$upd_limit" = 134217728 -a "$upd_stats" = 134217728 -a "$upd_running" = True \
	-a -n "$(upd logs upd 2>&1 | grep -x 'holder 137')" -a -n "$(upd logs upd 2>&1 | grep -x 'max 134217728')"
echo "# update --memory 512m -> 128m with 300 MiB held: VMM anonymous RSS ${upd_before:-?} KiB -> ${upd_after:-?} KiB ($((upd_t1 - upd_t0)) s); guest MemAvailable ${upd_avail_low:-?} KiB ($((upd_t2 - upd_t0)) s)" >&2
expect e2e_update_memory_gives_back "update --memory 128m: the VMM's anonymous RSS drops by at least 200 MiB" \
	"${upd_after:-999999999}" -le $((${upd_before:-0} - 204800))
expect e2e_update_memory_balloon "update --memory 128m: the balloon takes the guest's MemAvailable below 200 MiB (512m and no balloon: ~500 MiB)" \
	"${upd_avail_low:-999999999}" -lt 204800
nb_run_case "$limit" $nestbox update --memory 2g upd
expect e2e_update_memory_refused_above_boot "update --memory 2g on a VM started with 512m: refused (1), saying no hotplug; the limit stays 128 MiB" \
	"$status" -eq 1 -a -n "$(grep -F 'no hotplug' <<<"$err")" -a "$(upd_field 'v["HostConfig"]["Memory"]')" = 134217728
nb_run_case "$limit" $nestbox update --memory 512m upd
upd_status=$status upd_t0=$SECONDS
upd_until 120 upd_avail_gt 409600
upd_avail_high=$(upd_avail) upd_t1=$SECONDS
echo "# update --memory 128m -> 512m: guest MemAvailable ${upd_avail_low:-?} -> ${upd_avail_high:-?} KiB ($((upd_t1 - upd_t0)) s)" >&2
status=$upd_status
expect e2e_update_memory_raises "update --memory 512m (the boot size) again: memory.max 536870912 inside, the balloon deflated (MemAvailable above 400 MiB)" \
	"$status" -eq 0 -a -n "$(upd logs upd 2>&1 | grep -x 'max 536870912')" -a "${upd_avail_high:-0}" -gt 409600
upd rm -f upd >/dev/null 2>&1
unset NESTBOX_RUN_DIR
