# shellcheck shell=bash
# e2e cases for the container inside the guest (issue 3): the same
# `nestbox run` path with Docker's options. Sourced by tests/e2e/run.sh,
# which sets $nestbox, $rootfs and $limit and sources tests/lib/check.sh.

# shellcheck disable=SC2016 # expanded by the guest's shell
nb_run_case "$limit" $nestbox run -e FOO=bar -e 'SP=a b' $rootfs -- /bin/sh -c 'echo "$FOO|$SP|$HOME"'
expect e2e_container_env "-e reaches the workload; HOME from the image's passwd" \
	"$status" -eq 0 -a "$out" = "bar|a b|/root"

nb_run_case "$limit" $nestbox run -u 1234:5678 -w /work/dir $rootfs -- /bin/sh -c \
	'echo "$(id -u):$(id -g):$(pwd)"; grep CapEff /proc/self/status'
expect e2e_container_user_workdir "-u and -w apply; a non-root user has no capabilities" \
	"$status" -eq 0 -a "$out" = "1234:5678:/work/dir
CapEff:	0000000000000000"

nb_run_case "$limit" $nestbox run -h box1 $rootfs -- /bin/sh -c 'hostname; exit 42'
expect e2e_container_hostname_status "-h sets the hostname; the exit status propagates" \
	"$status" -eq 42 -a "$out" = box1

# --memory 64m: memory.max is 64 MiB, as in Docker; the hog wants more.
# shellcheck disable=SC2016
nb_run_case "$limit" $nestbox run --memory 64m $rootfs -- /bin/sh -c \
	'cat /sys/fs/cgroup/memory.max; x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived'
expect e2e_container_oom "a memory hog over --memory is OOM-killed: 137 and the reason" \
	"$status" -eq 137 -a "$(head -n 1 <<<"$out")" = 67108864 -a \
	-n "$(grep -F 'container killed: out of memory (memory.max 67108864 bytes)' <<<"$out$err")"

nb_run_case "$limit" $nestbox run --pids-limit 8 --cpus 0.5 $rootfs -- /bin/sh -c \
	'cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max'
expect e2e_container_limits "--pids-limit and --cpus 0.5 land in the container's cgroup" \
	"$status" -eq 0 -a "$out" = "8
50000 100000"

nb_run_case "$limit" $nestbox run $rootfs -- /bin/sh -c \
	'mkdir -p /tmp/m; mount -t tmpfs x /tmp/m 2>&1 || echo no-mount; dmesg >/dev/null 2>&1 || echo no-dmesg'
expect e2e_container_confined "default caps and seccomp: no mount, no syslog(2)" \
	"$status" -eq 0 -a -n "$(grep -x no-mount <<<"$out")" -a -n "$(grep -x no-dmesg <<<"$out")"

nb_run_case "$limit" $nestbox run --cap-add SYS_ADMIN --security-opt seccomp=unconfined $rootfs -- \
	/bin/sh -c 'mkdir -p /tmp/m; mount -t tmpfs x /tmp/m && echo mounted; dmesg >/dev/null && echo dmesg'
expect e2e_container_cap_add_unconfined "--cap-add SYS_ADMIN and seccomp=unconfined lift both" \
	"$status" -eq 0 -a "$out" = "mounted
dmesg"

printf '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}' \
	>"$nb_tmp/deny-mkdir.json"
nb_run_case "$limit" $nestbox run --security-opt "seccomp=$nb_tmp/deny-mkdir.json" $rootfs -- \
	/bin/sh -c 'mkdir /tmp/x 2>&1; echo done'
expect e2e_container_seccomp_profile "a Docker JSON profile denying mkdir gives EPERM" \
	"$status" -eq 0 -a -n "$(grep -F 'Operation not permitted' <<<"$out")"

nb_run_case "$limit" $nestbox run --read-only --tmpfs /scratch $rootfs -- /bin/sh -c \
	'touch /x 2>/dev/null || echo ro; touch /scratch/y && echo rw'
expect e2e_container_read_only "--read-only root with a --tmpfs" "$status" -eq 0 -a "$out" = "ro
rw"

# Docker's --tmpfs options: size, mode, exec; the default is noexec.
nb_run_case "$limit" $nestbox run --tmpfs /small:size=1m,mode=700 --tmpfs /run2 \
	--tmpfs /bin2:exec $rootfs -- /bin/sh -c \
	'stat -c %a /small; head -c 2000000 /dev/zero > /small/f 2>/dev/null || echo full
	 cp /bin/busybox /run2/true; /run2/true 2>/dev/null || echo noexec
	 cp /bin/busybox /bin2/true; /bin2/true && echo exec'
expect e2e_container_tmpfs_options "--tmpfs PATH:size=,mode=,exec apply; noexec by default" \
	"$status" -eq 0 -a "$out" = "700
full
noexec
exec"

nb_run_case "$limit" $nestbox run --security-opt seccomp=/nonexistent.json $rootfs -- true
expect e2e_container_bad_profile "a missing profile is a launcher error: 125" "$status" -eq 125

# stdin and a separate stderr go over the virtio console (nestbox run -i).
nb_input='from stdin' nb_run_case "$limit" $nestbox run -i -u 1000 $rootfs -- \
	/bin/sh -c 'cat; echo to-err >&2'
expect e2e_container_stdin_stderr "stdin in and stderr apart, as a non-root user" \
	"$status" -eq 0 -a "$out" = "from stdin" -a -n "$(grep -x to-err <<<"$err")"

nb_run_case "$limit" $nestbox run --userns private -u 0 $rootfs -- /bin/sh -c \
	'cat /proc/self/uid_map | tr -s " " " "; id -u; echo max > /sys/fs/cgroup/pids.max 2>/dev/null || echo cgroup-ro'
expect e2e_container_userns "--userns private: ids 0-65535 mapped as they are; cgroup files stay read-only" \
	"$status" -eq 0 -a "$out" = " 0 0 65536
0
cgroup-ro"
