#!/bin/sh
# PID 1 of the test host (L1), run by busybox from its initramfs.
#
# Loads the modules listed in /etc/testhost-modules, mounts the per-run
# transfer share (tag xfer) at /xfer, the host's root (tag hostroot) read-only
# at /host with fresh /proc /sys /dev /tmp /run under it, the repo (tag repo)
# and the nestbox cache (tag cache) read-write at their own paths, then runs
# /xfer/cmd.sh chrooted into /host, with stdout and stderr to /xfer/stdout and
# /xfer/stderr, writes its exit status to /xfer/status and powers off.
# /xfer/config (written by tests/testhost/run) sets repo=, cache= and entry=
# (this test host's cache entry, under cache).
# Problems setting up are written to /xfer/error.
#
# Observability (tests/testhost/run reads all three):
# - a heartbeat, L1's uptime every 2 s, on the second serial port (ttyS1),
#   from boot to power-off: run's stall watchdog counts on it;
# - the console log level raised to 7 once booted (the kernel boots quiet):
#   oopses, soft lockups and their backtraces reach the console log;
# - /xfer/state, bound at /run/testhost in the chroot: the test helpers
#   (tests/lib/check.sh) note there which case is running, and the
#   L1-state watch (below) its latest sighting.
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
(
	while :; do
		read -r up _ </proc/uptime
		echo "$up"
		sleep 2
	done >/dev/ttyS1 2>/dev/null
) &
echo 7 >/proc/sys/kernel/printk

off() {
	sync
	poweroff -f
	sleep 5
	echo o >/proc/sysrq-trigger
}
xfer_ok=''
fail() {
	echo "testhost (L1): $*"
	[ -n "$xfer_ok" ] && echo "$*" >>/xfer/error
	off
}

while read -r m; do
	modprobe "$m" || echo "testhost (L1): modprobe $m failed"
done </etc/testhost-modules

p9=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$p9" xfer /xfer || fail "cannot mount the xfer share"
xfer_ok=1
[ -f /xfer/config ] || fail "no /xfer/config"
repo='' cache='' entry=''
# shellcheck source=/dev/null
. /xfer/config

[ -c /dev/kvm ] || fail "no /dev/kvm in the test host (modprobe kvm_amd: $(modprobe kvm_amd 2>&1 || true); svm in cpuinfo: $(grep -c -w svm /proc/cpuinfo) cpus)"

h=/host
mount -t 9p -o "ro,$p9,cache=loose" hostroot $h || fail "cannot mount the hostroot share"
mount -t proc proc $h/proc || fail "cannot mount $h/proc"
mount -t sysfs sysfs $h/sys || fail "cannot mount $h/sys"
mount -t cgroup2 cgroup2 $h/sys/fs/cgroup || fail "cannot mount cgroup2"
mount -t devtmpfs devtmpfs $h/dev || fail "cannot mount $h/dev"
mkdir -p /dev/pts /dev/shm /dev/net
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $h/dev/pts
mount -t tmpfs -o mode=1777 shm $h/dev/shm
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s fd/2 /dev/stderr
mount -t tmpfs -o mode=1777 tmp $h/tmp || fail "cannot mount $h/tmp"
mount -t tmpfs -o mode=755 run $h/run && mkdir -m 1777 $h/run/lock
# The test host's modules, for modprobe inside the chroot.
kabi=$(uname -r)
if [ -d $h/lib/modules ] && mount -t tmpfs -o mode=755 modules $h/lib/modules; then
	mkdir -p "$h/lib/modules/$kabi"
	mount -o bind,ro "/lib/modules/$kabi" "$h/lib/modules/$kabi"
fi

mkdir -p "$h$repo" 2>/dev/null
mount -t 9p -o "$p9" repo "$h$repo" || fail "cannot mount the repo share at $repo"
if [ -n "$cache" ]; then
	mkdir -p "$h$cache" 2>/dev/null
	mount -t 9p -o "$p9" cache "$h$cache" || fail "cannot mount the cache share at $cache"
fi

# kvm_amd's options (kvm_amd.X=Y on the kernel command line reach it through
# modprobe) and the SVM features L1's CPU offers: on the console and in
# /run/testhost/l1 for CMD.
l1_facts() {
	printf 'kernel %s; kvm_amd' "$(uname -r)"
	for p in nested npt vls vgif avic lbrv; do
		[ -r /sys/module/kvm_amd/parameters/$p ] &&
			printf ' %s=%s' $p "$(cat /sys/module/kvm_amd/parameters/$p)"
	done
	printf '; svm features:'
	grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'svm|npt|nrip_save|vgif|v_vmsave_vmload|avic|x2avic|lbrv|tsc_scale|vmcb_clean|flushbyasid|decodeassists|pausefilter|pfthreshold|v_spec_ctrl|vnmi' |
		tr '\n' ' '
	echo
}
l1_facts >/xfer/state/l1
echo "testhost (L1): $(cat /xfer/state/l1)"

{ mkdir -p $h/run/testhost && mount -o bind /xfer/state $h/run/testhost; } ||
	fail "cannot bind the state directory at /run/testhost"

# The kernel's text symbols, once per cache entry (L1 runs nokaslr, so they
# hold for every boot; Debian's System.map is a stub): run names where a
# stalled vCPU was with them.
if [ -n "$entry" ] && [ ! -s "$h$entry/kallsyms" ]; then
	tmp=$h$entry/kallsyms.$(cat /proc/sys/kernel/random/uuid) # other L1s may write too
	grep -i '^[0-9a-f]* t ' /proc/kallsyms >"$tmp" && mv -f "$tmp" "$h$entry/kallsyms"
	rm -f "$tmp"
fi

hostname testhost
ip link set lo up

# One idle KVM VM for L1's whole life, with an in-kernel irqchip and one
# vCPU that never runs. KVM flips static keys as VMs come and go, and each
# flip patches kernel text; under TCG an L1 vCPU can keep executing the
# patch's int3 after the patch is done, and L1 stalls (shared/TESTHOST.md):
# - preempt_notifier_key, on with the first VM and off with the last: both
#   vCPUs looping at __schedule+0x2ab;
# - apic_sw_disabled, on while any vCPU's local APIC is software-disabled
#   (every vCPU from its creation until its guest enables the APIC), off a
#   second after the last one enables it: seen in a CI run (a soft lockup)
#   and a fresh run (a stall), vCPUs in asm_exc_int3 and at
#   __apic_accept_irq+0x72, while L2 VMs started and stopped.
# With this VM and its never-run vCPU alive both keys are turned on once,
# here, and never again. The command waits until they are: a test's first
# VM starting while the keeper still creates its own flipped a key under
# it, and L1 stalled at finish_task_switch+0x9f (seen twice).
mkfifo /keeper.ready || fail "cannot make the keeper's fifo"
chroot $h /usr/bin/python3 -c 'import fcntl, os, time
kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
vm = fcntl.ioctl(kvm, 0xAE01, 0)  # KVM_CREATE_VM
fcntl.ioctl(vm, 0xAE60, 0)        # KVM_CREATE_IRQCHIP
vcpu = fcntl.ioctl(vm, 0xAE41, 0) # KVM_CREATE_VCPU: its APIC stays software-disabled
print("ready", flush=True)
while True:
    time.sleep(3600)' </dev/null >/keeper.ready 2>/dev/console &
keeper=''
# shellcheck disable=SC3045 # busybox sh has read -t
read -t 60 -r keeper </keeper.ready
[ "$keeper" = ready ] || echo "testhost (L1): the idle KVM VM is not ready after 60 s; going on"

# The L1-state watch (tests/lib/check.sh reads it): QEMU's TCG now and
# then enters an L2 guest with L1's own RIP (in kvm_amd's __svm_vcpu_run)
# and CR3. A kvm_entry tracepoint in its own tracefs instance, filtered to
# L1's module addresses, records each entry there. Turned on here, before
# CMD: the tracepoint's static key patches kernel text (see the keeper).
l1f=$h/sys/kernel/tracing/instances/nestbox-l1fault
if mount -t tracefs nodev $h/sys/kernel/tracing && mkdir -p $l1f &&
	range=$(chroot $h /usr/bin/python3 -c 'm = [l.split() for l in open("/proc/modules")]
print("rip >= %#x && rip < %#x" % (min(int(x[5], 16) for x in m),
				   max(int(x[5], 16) + int(x[1]) for x in m)))') &&
	echo "$range" >$l1f/events/kvm/kvm_entry/filter &&
	echo 1 >$l1f/events/kvm/kvm_entry/enable; then
	echo "testhost (L1): L1-state watch on kvm_entry, $range"
	# What it saw, for run's report of a CMD that hung or an L1 that died:
	# its latest entry and the case running then (the test helpers clear
	# the trace before each case).
	(
		while sleep 5; do
			e=$(sed -n '/^#/!{p;q}' $l1f/trace 2>/dev/null)
			[ -n "$e" ] || continue
			echo "$e (case: $(head -c 200 /xfer/state/case 2>/dev/null))" >/xfer/state/l1fault
		done
	) &
else
	echo "testhost (L1): no L1-state watch (tracefs or the kvm_entry event missing)"
fi

# From here a failure is CMD's: run retries an L1 that died before.
: >/xfer/started
# cmd.sh is read through fd 9 (it closes it first), so it need not be
# visible inside the chroot.
# The subshell keeps busybox's job messages ("Killed") out of /xfer/stderr.
(exec chroot $h /bin/sh /proc/self/fd/9) 9</xfer/cmd.sh </dev/null >/xfer/stdout 2>/xfer/stderr
echo $? >/xfer/status
off
