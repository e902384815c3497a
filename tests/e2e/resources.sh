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

# The VMM's own pages: anonymous RSS. The guest kernel's text is mapped
# from the vmlinux file (page cache shared by every VM), so VmRSS also
# counts the kernel pages a workload happens to touch for the first time.
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
# VMM's RSS before, during and after.
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
	[ "${after:-0}" -le $((${before:-0} + 8192)) ] && break
done
kill -TERM "$bg" 2>/dev/null
bg_finish
echo "# 400 MiB allocate-and-free: VMM anonymous RSS before ${before:-?} KiB, during ${during:-?} KiB, after ${after:-?} KiB (${i}s after the free); VmRSS ${before_rss:-?} -> ${after_rss:-?} KiB" >&2
expect e2e_memory_comes_back "400 MiB freed in the guest: the VMM's anonymous RSS back within 8 MiB of where it started" \
	"${during:-0}" -ge $((${before:-0} + 300000)) -a "${after:-999999999}" -le $((${before:-0} + 8192))
