#!/usr/bin/env bash
# host-kvm tier: host confinement of the VMM (issue 6) with the tiny payload:
# the per-thread seccomp filters really kill (and only log with
# --seccomp-log), `nestbox seccomp-dump`, and --jail (ids, capabilities,
# seccomp mode, namespaces, an empty root, read from /proc while it runs).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh

nestbox=build/nestbox
payload=build/tests/kvm/payload.elf
waiting=build/tests/kvm/payload-wait.elf
root=$nb_tmp/root
mkdir -p "$root"
export NESTBOX_RUN_DIR=$nb_tmp/run

if [ ! -w /dev/kvm ]; then
	skip confine "no usable /dev/kvm"
	exit 0
fi

# The kernel's audit line for a seccomp action on process $1, if dmesg is
# readable here: "comm=... syscall=N" (empty otherwise).
audit_line() {
	dmesg 2>/dev/null | grep "type=1326" | grep " pid=$1 " | tail -1 |
		sed -n 's/.*comm="\([^"]*\)".*syscall=\([0-9]*\).*/comm=\1 syscall=\2/p'
}
dmesg_ok=false
dmesg >/dev/null 2>&1 && dmesg_ok=true

# Each thread kind issues personality(2), outside every list: the process
# dies of SIGSYS, and the audit line names the thread that did it.
for kind in main event vcpu; do
	case $kind in main) comm=nestbox ;; event) comm=nb-event ;; vcpu) comm=nb-vcpu0 ;; esac
	nb_case_start "seccomp_kills_$kind"
	NESTBOX_TEST_SECCOMP_VIOLATE=$kind $nestbox run --timeout 120 --kernel $payload "$root" -- true \
		>"$nb_tmp/out" 2>"$nb_tmp/err" </dev/null &
	pid=$!
	{ wait $pid; } 2>/dev/null
	status=$? out=$(cat "$nb_tmp/out") err=$(cat "$nb_tmp/err")
	sleep 0.2
	line=$(audit_line $pid)
	if $dmesg_ok; then
		expect "seccomp_kills_$kind" "a forbidden syscall on the $kind thread kills with SIGSYS" \
			"$status" -eq 159 -a "$line" = "comm=$comm syscall=135"
	else
		expect "seccomp_kills_$kind" "a forbidden syscall on the $kind thread kills with SIGSYS" \
			"$status" -eq 159
	fi
done

# Issue 11: the calls the lists used to let through (openat with O_TRUNC,
# unlink, an AF_UNIX socket and connect anywhere) and the argument matches
# (accept4 only on the vsock socket, tgkill only within nestbox, the exit
# drain's writev only to stdout and stderr), each made by the thread kind
# that had it, under the real filters of a real run: SIGSYS.
vsock_dir=$nb_tmp/vsock
mkdir -p "$vsock_dir"
for probe in main:openat_trunc:257 main:openat:257 main:unlink:87 event:socket_unix:41 \
	event:connect:42 event:accept4_other_fd:288 main:tgkill_other_process:234 \
	main:writev_other_fd:20 vcpu:socket_unix:41; do
	kind=${probe%%:*} call=${probe#*:} nr=${probe##*:}
	call=${call%:*}
	case $kind in main) comm=nestbox ;; event) comm=nb-event ;; vcpu) comm=nb-vcpu0 ;; esac
	NESTBOX_TEST_SECCOMP_VIOLATE=$kind:$call $nestbox run --vsock "$vsock_dir/v.sock" \
		--kernel $payload "$root" -- true >"$nb_tmp/out" 2>"$nb_tmp/err" </dev/null &
	pid=$!
	{ wait $pid; } 2>/dev/null
	status=$? out=$(cat "$nb_tmp/out") err=$(cat "$nb_tmp/err")
	sleep 0.2
	line=$(audit_line $pid)
	if $dmesg_ok; then
		expect "seccomp_kills_${kind}_$call" "$call on the $kind thread kills with SIGSYS" \
			"$status" -eq 159 -a "$line" = "comm=$comm syscall=$nr"
	else
		expect "seccomp_kills_${kind}_$call" "$call on the $kind thread kills with SIGSYS" \
			"$status" -eq 159
	fi
done
rm -f "$vsock_dir/v.sock"

# --seccomp-log: the same violation is logged (action LOG) and the run goes on.
nb_case_start "seccomp_log_mode"
NESTBOX_TEST_SECCOMP_VIOLATE=vcpu $nestbox run --timeout 120 --seccomp-log --kernel $payload "$root" -- true \
	>"$nb_tmp/out" 2>"$nb_tmp/err" </dev/null &
pid=$!
wait $pid
status=$? out=$(cat "$nb_tmp/out") err=$(cat "$nb_tmp/err")
sleep 0.2
line=$(audit_line $pid)
if $dmesg_ok; then
	expect seccomp_log_mode "--seccomp-log logs the vCPU thread's violation and the run completes" \
		"$status" -eq 42 -a "$line" = "comm=nb-vcpu0 syscall=135"
else
	expect seccomp_log_mode "--seccomp-log lets the run complete" "$status" -eq 42
fi

# The whole payload path (4 vCPUs, stats, stdin) stays inside the lists.
nb_run_case 60 $nestbox run --cpus 4 --stats -i --kernel $payload "$root" -- true
expect seccomp_normal_run "a normal run passes every thread's filter" "$status" -eq 42

nb_run_case 10 $nestbox seccomp-dump
kinds=$(grep -cE '^(main|event|vcpu|fs) thread: [0-9]+ syscalls, [0-9]+ ioctl requests' <<<"$out")
lists=$(sed '/^union:/,$d' <<<"$out")
# (a template's snapshot lets the main thread finish a stopped vCPU's I/O:
# an entry marked "[only with template create]", not in a normal run)
kvm_run_in=$(awk '/^[a-z]+ thread/ { k = $1 } $1 == "ioctl" && $2 == "KVM_RUN" && !/\[only with template create\]/ { print k }' <<<"$lists" | tr '\n' ' ')
kvm_run_template=$(grep -c 'KVM_RUN .*\[only with template create\]' <<<"$lists")
unexplained=$(grep '^  ' <<<"$lists" | grep -cv ' # [a-zA-Z-]')
# The union, counted from the three lists, is what the dump says it is.
union_sys=$(grep '^  [a-z]' <<<"$lists" | awk '{ print $1 }' | sort -u | wc -l)
union_ioctl=$(awk '$1 == "ioctl" { print $2 }' <<<"$lists" | sort -u | wc -l)
said=$(sed -n 's/^union: \([0-9]*\) syscalls, \([0-9]*\) ioctl requests.*/\1 \2/p' <<<"$out")
expect seccomp_dump "seccomp-dump lists four thread kinds, KVM_RUN only for vCPUs, a reason per entry, the union's true size" \
	"$status" -eq 0 -a "$kinds" -eq 4 -a "$kvm_run_in" = "vcpu " -a "$kvm_run_template" -le 1 -a "$unexplained" -eq 0 \
	-a "$said" = "$union_sys $union_ioctl"
echo "# host seccomp union: $said (syscalls, ioctl requests)" >&2

# --jail: look at the running VMM from outside.
jail=$nb_tmp/jail
mkdir -p "$jail"
# The operator gives the jailed ids their files, as with Firecracker's jailer.
tenant=$nb_tmp/tenant
mkdir -p "$tenant"
vol=$tenant/vol.img
truncate -s 4M "$vol"
chown 4242:4343 "$tenant" "$vol"
nb_case_start "jail (--jail with the payload)"
$nestbox run --jail "$jail" --uid 4242 --gid 4343 --timeout 300 -v "$vol:/data:ro" \
	--vsock "$tenant/v.sock" --kernel $waiting "$root" -- true >"$nb_tmp/jout" 2>&1 </dev/null &
sup=$!
vmm=
for _ in $(seq 100); do
	vmm=$(pgrep -P $sup | head -1)
	[ -n "$vmm" ] && grep -q "nestbox payload" "$nb_tmp/jout" && break
	sleep 0.1
done
if [ -z "$vmm" ]; then
	not_ok jail_running "the jailed VMM did not start: $(head -c 300 "$nb_tmp/jout")"
else
	st=/proc/$vmm/status
	ids=$(awk '/^Uid:/ { u = $2 "/" $3 "/" $4 } /^Gid:/ { g = $2 "/" $3 "/" $4 } END { print u, g }' $st)
	caps=$(awk '/^Cap(Inh|Prm|Eff|Bnd|Amb):/ { printf "%s=%s ", $1, $2 }' $st)
	nnp=$(awk '/^NoNewPrivs:/ { print $2 }' $st)
	modes=$(for t in /proc/$vmm/task/*; do awk '/^Seccomp:/ { print $2 }' $t/status; done | sort -u | tr '\n' ' ')
	# (KVM adds kernel worker tasks such as kvm-nx-lpage-recovery: not ours)
	threads=$(cat /proc/$vmm/task/*/comm | grep -cE '^(nestbox|nb-)')
	status=0 out="$ids | $caps | nnp=$nnp | seccomp=$modes | threads=$threads" err=
	expect jail_ids_caps "the jailed VMM runs as 4242:4343 without capabilities, no_new_privs, every thread in seccomp mode 2" \
		"$ids" = "4242/4242/4242 4343/4343/4343" -a \
		"$caps" = "CapInh:=0000000000000000 CapPrm:=0000000000000000 CapEff:=0000000000000000 CapBnd:=0000000000000000 CapAmb:=0000000000000000 " \
		-a "$nnp" = 1 -a "$modes" = "2 " -a "$threads" -eq 3

	same_ns=""
	for ns in mnt pid net ipc uts; do
		[ "$(readlink /proc/$vmm/ns/$ns)" = "$(readlink /proc/self/ns/$ns)" ] && same_ns="$same_ns $ns"
	done
	top=$(ls -A /proc/$vmm/root | tr '\n' ' ')
	vol_dir=${vol%/*}
	first=${vol_dir#/}
	first=${first%%/*}
	out="same namespaces:$same_ns | root: $top"
	expect jail_namespaces_root "new mount, PID, net, IPC and UTS namespaces; the root holds only dev and the paths of the volume and vsock socket" \
		-z "$same_ns" -a "$top" = "dev $first "

	kvm_node=$(stat -c '%F %t:%T %u:%g %a' /proc/$vmm/root/dev/kvm 2>&1)
	ro_root=$(touch /proc/$vmm/root/x 2>/dev/null && echo writable || echo read-only)
	out="kvm: $kvm_node | root: $ro_root"
	expect jail_dev_kvm "the jail's /dev/kvm belongs to the VMM's ids and its root is read-only" \
		"$kvm_node" = "character special file a:e8 4242:4343 600" -a "$ro_root" = read-only

	ro_vol=$(grep -c " ${vol} ro," /proc/$vmm/mountinfo 2>/dev/null)
	out="mountinfo: $(grep -F "$tenant" /proc/$vmm/mountinfo | cut -d' ' -f5,6 | tr '\n' '|')"
	expect jail_ro_volume "a :ro volume beside the (writable) socket directory is mounted read-only in the jail" \
		"$ro_vol" -ge 1
	fds=$(ls /proc/$vmm/fd | wc -l)
	# Files are told by device and inode, not by path: under a chroot (the
	# test host's) readlink shows the jail's files with the chroot in front.
	vol_id=$(stat -L -c '%d:%i' "$vol")
	fd_targets=$(for f in /proc/$vmm/fd/*; do
		[ "${f##*/}" -gt 2 ] || continue
		case $(readlink "$f") in anon_inode:* | pipe:* | socket:*) continue ;; esac
		case $(stat -L -c '%F %t:%T %d:%i' "$f") in
		"character special file a:e8 "*) ;;                  # /dev/kvm (10:232)
		"character special file 1:3 "* | "character special file 88:"*) ;; # /dev/null, a pty
		*" $vol_id") ;;                                      # the volume
		*) readlink "$f" ;;
		esac
	done | tr '\n' ' ')
	out="$fds fds, unexpected: $fd_targets"
	expect jail_fds "the jailed VMM holds only KVM, eventfd/epoll, stdio, its socket and its volume" \
		-z "$fd_targets"
	kill -TERM $sup
fi
wait $sup 2>/dev/null
status=$?
out=$(cat "$nb_tmp/jout") err=
expect jail_stop_signal "SIGTERM to nestbox stops the jailed VMM (143)" "$status" -eq 143

nb_run_case 10 $nestbox run --jail "$jail" --kernel $payload "$root" -- true
expect jail_needs_ids "--jail without --uid/--gid is refused (125) and says what to add" \
	"$status" -eq 125 -a -n "$(grep -F -- '--uid' <<<"$err")"
nb_run_case 10 $nestbox run --jail "$nb_tmp/none" --uid 1 --gid 1 --kernel $payload "$root" -- true
expect jail_missing_dir "--jail on a missing directory is refused (125) and names it" \
	"$status" -eq 125 -a -n "$(grep -F "$nb_tmp/none" <<<"$err")"
leftover=$(find "$jail" "$NESTBOX_RUN_DIR" -mindepth 1 2>/dev/null | tr '\n' ' ')
status=0 out=$leftover err=
expect jail_no_debris "the jail directory and the run directory are left empty" -z "$leftover"

nb_run_case 10 $nestbox run --memory 400g --kernel $payload "$root" -- true
expect memory_over_host "--memory above the host's RAM is refused up front (125, says so)" \
	"$status" -eq 125 -a -n "$(grep -F "more than this host's RAM" <<<"$err")"
