# shellcheck shell=bash
# e2e cases for boot, exit status and the basic run path. Sourced by
# tests/e2e/run.sh, which sets $nestbox, $rootfs and $limit and sources tests/lib/check.sh.

nb_run_case "$limit" $nestbox run $rootfs -- /bin/sh -c 'echo hello from the guest'
expect e2e_boot_output "prints the workload's output and exits 0" \
	"$status" -eq 0 -a "$out" = "hello from the guest"

# The guest kernel trusts KVM's IOAPIC to come out of reset (ioapic_fresh,
# images/kernel/patches/ioapic-fresh.patch): it no longer reads and rewrites
# all 24 pins at boot, about 576 MMIO exits (a walk of the pins is at least
# 96 accesses). Counted with this kernel's kvm_mmio tracepoint over a whole
# run; the virtio-mmio accesses show that the tracing saw the guest.
nb_trace=/sys/kernel/tracing
[ -e $nb_trace/trace ] || mount -t tracefs nodev $nb_trace 2>/dev/null || true
if [ -w $nb_trace/events/kvm/kvm_mmio/enable ]; then
	# given back after ("7 (expanded: 1408)" before the first use)
	nb_trace_kb=$(sed 's/.*expanded: \([0-9]*\).*/\1/' $nb_trace/buffer_size_kb)
	echo 8192 >$nb_trace/buffer_size_kb
	: >$nb_trace/trace
	echo 1 >$nb_trace/events/kvm/kvm_mmio/enable
	nb_run_case "$limit" $nestbox run $rootfs -- /bin/sh -c 'echo booted'
	echo 0 >$nb_trace/events/kvm/kvm_mmio/enable
	# nestbox's vCPU threads only (nb-vcpuN): not another VM on this host
	nb_ioapic=$(grep -c 'nb-vcpu.*kvm_mmio: mmio [a-z]* len [0-9]* gpa 0xfec00' $nb_trace/trace || true)
	nb_virtio=$(grep -c 'nb-vcpu.*kvm_mmio: mmio [a-z]* len [0-9]* gpa 0xd00' $nb_trace/trace || true)
	: >$nb_trace/trace
	echo "$nb_trace_kb" >$nb_trace/buffer_size_kb
	expect e2e_ioapic_no_walk "the guest boots without walking the IOAPIC's pins" \
		"$status" -eq 0 -a "$out" = booted -a "$nb_virtio" -gt 0 -a "$nb_ioapic" -lt 96
	[ "$nb_ioapic" -lt 96 ] || echo "# IOAPIC accesses: $nb_ioapic, virtio-mmio: $nb_virtio" >&2
else
	skip e2e_ioapic_no_walk "no kvm_mmio tracepoint here (tracefs, root)"
fi

nb_run_case "$limit" $nestbox run $rootfs -- /bin/sh -c 'echo hello; exit 3'
expect e2e_exit_status_3 "exit status 3 propagates" "$status" -eq 3 -a "$out" = hello

nb_run_case "$limit" $nestbox run --cpus 2 $rootfs -- /bin/sh -c 'grep -c ^processor /proc/cpuinfo'
expect e2e_cpus_2 "--cpus 2 shows 2 CPUs in the guest" "$status" -eq 0 -a "$out" = 2

# --memory is the container's limit; the VM has 40 MiB + 1/32 more (304 MiB).
nb_run_case "$limit" $nestbox run --memory 256m $rootfs -- /bin/sh -c \
	"awk '/MemTotal/ { print (\$2 > 262144 && \$2 <= 311296) ? \"sized\" : \$2 }' /proc/meminfo"
expect e2e_memory_size "--memory 256m gives the guest 256 MiB plus its overhead" "$status" -eq 0 -a "$out" = sized

# shellcheck disable=SC2016 # expanded by the guest's shell
nb_run_case "$limit" $nestbox run $rootfs -- /bin/sh -c 'echo "$0 $1|$2"' 'arg zero' 'a b' "c'd"
expect e2e_argv_exact "arguments reach the guest byte for byte" "$status" -eq 0 -a "$out" = "arg zero a b|c'd"

nb_run_case "$limit" $nestbox run $rootfs -- /no/such/command
expect e2e_not_found "a missing command exits 127 with a message" \
	"$status" -eq 127 -a -n "$(grep -F 'not found' <<<"$out$err")"

nb_run_case "$limit" $nestbox run $rootfs -- /etc/issue
expect e2e_cannot_exec "a non-executable command exits 126" "$status" -eq 126

# The workload is PID 1 of its PID namespace, which ignores its own SIGKILL:
# kill a child instead.
# shellcheck disable=SC2016 # expanded by the guest's shell
nb_run_case "$limit" $nestbox run $rootfs -- /bin/sh -c 'sh -c "kill -KILL \$\$"; exit $?'
expect e2e_signal_status "a command killed by SIGKILL exits 137" "$status" -eq 137

nb_run_case "$limit" $nestbox run $rootfs -- /bin/sh -c 'echo $$; cat /proc/1/cmdline | tr "\0" " "'
expect e2e_pid_namespace "the workload is PID 1 of its own PID namespace" \
	"$status" -eq 0 -a "$out" = "1
/bin/sh -c echo \$\$; cat /proc/1/cmdline | tr \"\\0\" \" \" "

# A kernel reset (here: a panic, rdinit pointing nowhere, with panic=-1)
# reaches the VMM through the i8042 and ends it.
start=$(date +%s)
nb_run_case "$limit" $nestbox run --kernel-args rdinit=/no/init $rootfs -- true
expect e2e_guest_reboot_ends_vmm "a guest kernel reset ends the VMM with 125 and says why" \
	"$status" -eq 125 -a -n "$(grep -F 'guest reset' <<<"$err")"
echo "# guest reset ended the VMM after $(( $(date +%s) - start )) s" >&2

# reboot(2) and poweroff inside the workload's PID namespace end the
# workload (SIGHUP, SIGINT), never the guest kernel: no hang, no reset.
# By default the container has neither CAP_SYS_BOOT nor reboot(2) in its
# seccomp profile (as in Docker): grant both to test the namespace rule.
boot_ok="--cap-add SYS_BOOT --security-opt seccomp=unconfined"
nb_run_case "$limit" $nestbox run $boot_ok $rootfs -- /bin/busybox reboot -f
expect e2e_workload_reboot "reboot -f in the workload ends the VM with 129" "$status" -eq 129
nb_run_case "$limit" $nestbox run $boot_ok $rootfs -- /bin/busybox poweroff -f
expect e2e_workload_poweroff "poweroff -f in the workload ends the VM with 130" "$status" -eq 130

if [ -f build/bzImage ]; then
	nb_run_case "$limit" $nestbox run --kernel build/bzImage $rootfs -- /bin/sh -c 'echo bz'
	expect e2e_bzimage_boot "a bzImage boots too" "$status" -eq 0 -a "$out" = bz
else
	skip e2e_bzimage_boot "build/bzImage absent"
fi

nb_run_case 20 $nestbox run --timeout 1 $rootfs -- /bin/sh -c 'sleep 100'
expect e2e_timeout "--timeout kills the VM and exits 124" "$status" -eq 124
