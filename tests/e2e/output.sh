# shellcheck shell=bash
# e2e cases for the workload's output and input on the host's pipes and files
# (issue 11, finding 0): every byte arrives, checked by hash, whatever the
# reader does (slow, gone early, a full disk) and whatever signals arrive
# meanwhile; nestbox never dies of its own seccomp filter (SIGSYS, 159) on
# the way. Sourced by tests/e2e/run.sh, which sets $nestbox, $rootfs and
# $limit and sources tests/lib/check.sh.

slow=tests/e2e/slow_pipe.py
if ! command -v mkfs.ext4 >/dev/null || ! command -v python3 >/dev/null; then
	for t in slow_pipe slow_pipe_stdout_stderr reader_exits_early endless_reader_exits \
		disk_full stdin_slow_writer signals_mid_write term_stalled_reader; do
		skip "e2e_output_$t" "mkfs.ext4 (e2fsprogs) or python3 missing"
	done
	return 0
fi

# In this group a violation names the thread and the syscall on stderr (and
# still exits 159); unset again at the end.
export NESTBOX_SECCOMP_TRAP=1

# 32 MiB of random bytes on a read-only volume.
mkdir "$nb_tmp/outsrc"
head -c $((32 << 20)) /dev/urandom >"$nb_tmp/outsrc/big"
mkfs.ext4 -q -F -d "$nb_tmp/outsrc" "$nb_tmp/out.img" 48M
big_sum="$(sha256sum <"$nb_tmp/outsrc/big" | cut -d' ' -f1) $((32 << 20))"
vol=(-v "$nb_tmp/out.img:/data:ro")

# The verdicts' common part: nestbox did not die of its own seccomp filter.
sigsys() { [ "$status" -eq 159 ] || grep -q 'Bad system call\|seccomp' <<<"$err" && echo SIGSYS; }

# Into a pipe read at 2 MiB/s, slower than the guest writes: the console
# waits for the reader (back-pressure) and the last buffers are written at
# teardown.
slow_pipe() {
	nb_case_start "32 MiB into a slow pipe"
	timeout --kill-after=5 "$limit" $nestbox run "${vol[@]}" "$rootfs" -- cat /data/big \
		2>"$nb_tmp/err" </dev/null | python3 $slow read $((2 << 20)) >"$nb_tmp/out"
	status=${PIPESTATUS[0]} out=$(cat "$nb_tmp/out") err=$(cat "$nb_tmp/err")
}
nb_try slow_pipe
expect e2e_output_slow_pipe "32 MiB into a slow pipe arrive byte-exact (sha256), status 0" \
	"$status" -eq 0 -a "$out" = "$big_sum" -a -z "$err"

# stdout and stderr both large, both slow.
mkfifo "$nb_tmp/err.fifo"
slow_pipes() {
	local reader
	nb_case_start "32 MiB on stdout and on stderr into slow pipes"
	SLOW_PIPE_TAIL=$nb_tmp/err.tail python3 $slow read $((3 << 20)) <"$nb_tmp/err.fifo" >"$nb_tmp/out2" &
	reader=$!
	timeout --kill-after=5 "$limit" $nestbox run "${vol[@]}" "$rootfs" -- /bin/sh -c \
		'cat /data/big & cat /data/big >&2; wait' 2>"$nb_tmp/err.fifo" </dev/null |
		python3 $slow read $((3 << 20)) >"$nb_tmp/out"
	status=${PIPESTATUS[0]}
	wait $reader
	# stderr is data here: on a failure, its tail carries nestbox's message.
	out="$(cat "$nb_tmp/out") | $(cat "$nb_tmp/out2")" err=$(tail -c 300 "$nb_tmp/err.tail" | tr -c '[:print:]' '.')
}
nb_try slow_pipes
expect e2e_output_slow_pipe_stdout_stderr "32 MiB on stdout and on stderr, both into slow pipes, arrive byte-exact" \
	"$status" -eq 0 -a "$out" = "$big_sum | $big_sum"

# The reader takes 100000 bytes and exits: nestbox stops the VM and says
# so, 141 (128 + SIGPIPE, as a process writing to the pipe would end).
t0=$SECONDS
reader_exits() {
	nb_case_start "a reader that takes 100000 bytes and exits"
	timeout --kill-after=5 "$limit" $nestbox run "${vol[@]}" "$rootfs" -- cat /data/big \
		2>"$nb_tmp/err" </dev/null | head -c 100000 | sha256sum >"$nb_tmp/out"
	status=${PIPESTATUS[0]} out=$(cat "$nb_tmp/out") err=$(cat "$nb_tmp/err")
}
nb_try reader_exits
want=$(head -c 100000 "$nb_tmp/outsrc/big" | sha256sum)
expect e2e_output_reader_exits_early "a reader that exits early: the bytes it read are exact, nestbox ends 141 with a message, no SIGSYS" \
	"$status" -eq 141 -a "$out" = "$want" -a -n "$(grep -F 'EPIPE' <<<"$err")" -a -z "$(sigsys)"
# A workload that never stops writing ends with its reader, not at the timeout.
endless() {
	nb_case_start "yes | head -c 1000"
	timeout --kill-after=5 120 $nestbox run "$rootfs" -- yes 2>"$nb_tmp/err" </dev/null |
		head -c 1000 >/dev/null
	status=${PIPESTATUS[0]} out= err=$(cat "$nb_tmp/err")
}
nb_try endless
expect e2e_output_endless_reader_exits "yes | head: nestbox stops the VM when head exits (141), not at a timeout" \
	"$status" -eq 141 -a -z "$(sigsys)"
echo "# reader exits early: both cases in $((SECONDS - t0)) s" >&2

# A full disk under stdout: nestbox stops, says why, 125; what was written
# is an exact prefix of the output.
mkdir "$nb_tmp/full"
if mount -t tmpfs -o size=4m nestbox-full "$nb_tmp/full" 2>/dev/null; then
	disk_full() {
		nb_case_start "32 MiB onto a 4 MiB tmpfs"
		timeout --kill-after=5 "$limit" $nestbox run "${vol[@]}" "$rootfs" -- cat /data/big \
			>"$nb_tmp/full/out" 2>"$nb_tmp/err" </dev/null
		status=$?
		got=$(stat -c %s "$nb_tmp/full/out")
		prefix=$(cmp -n "$got" "$nb_tmp/full/out" "$nb_tmp/outsrc/big" >/dev/null 2>&1 && echo exact)
		out="$got bytes, prefix ${prefix:-differs}" err=$(cat "$nb_tmp/err")
	}
	nb_try disk_full
	expect e2e_output_disk_full "stdout on a full disk: 125 naming ENOSPC, what was written is an exact prefix" \
		"$status" -eq 125 -a -n "$(grep -F 'No space left on device' <<<"$err")" -a \
		"$prefix" = exact -a "$got" -gt 0 -a -z "$(sigsys)"
	umount "$nb_tmp/full"
else
	skip e2e_output_disk_full "cannot mount a small tmpfs here (needs root)"
fi

# stdin from a writer that is slow and pauses: the guest sees every byte.
head -c $((4 << 20)) "$nb_tmp/outsrc/big" >"$nb_tmp/part"
slow_writer() {
	nb_case_start "4 MiB from a slow writer on stdin"
	python3 $slow write "$nb_tmp/part" $((2 << 20)) $((1 << 20)) 1 |
		timeout --kill-after=5 "$limit" $nestbox run -i "$rootfs" -- sha256sum \
			>"$nb_tmp/out" 2>"$nb_tmp/err"
	status=${PIPESTATUS[1]} out=$(cat "$nb_tmp/out") err=$(cat "$nb_tmp/err")
}
nb_try slow_writer
expect e2e_output_stdin_slow_writer "4 MiB from a slow, pausing writer on stdin reach the guest byte-exact" \
	"$status" -eq 0 -a "$out" = "$(sha256sum <"$nb_tmp/part" | cut -d' ' -f1)  -"

# nestbox with stdout on a FIFO read slowly (progress in a file); returns
# once the reader has $1 bytes. Sets pid (timeout's), vmm (nestbox's), reader.
start_slow() {
	local at=$1 rate=$2
	shift 2
	rm -f "$nb_tmp/progress" "$nb_tmp/out.fifo"
	mkfifo "$nb_tmp/out.fifo"
	python3 $slow read "$rate" "$nb_tmp/progress" "$@" <"$nb_tmp/out.fifo" >"$nb_tmp/out" &
	reader=$!
	timeout -s KILL "$limit" $nestbox run "${vol[@]}" "$rootfs" -- cat /data/big \
		>"$nb_tmp/out.fifo" 2>"$nb_tmp/err" </dev/null &
	pid=$!
	for _ in $(seq $((limit * 10))); do
		[ "$(cat "$nb_tmp/progress" 2>/dev/null || echo 0)" -ge "$at" ] && break
		sleep 0.1
	done
	vmm=$(ps -o pid= --ppid "$pid" | tr -d ' ')
}

# Signals nestbox takes without stopping (WINCH is forwarded; cat ignores
# it) and a stop/continue, in the middle of the output (read at 1 MiB/s:
# about half a minute, and the test host's sleeps last longer than asked).
mid_write() {
	nb_case_start "WINCH and STOP/CONT in the middle of 32 MiB of output"
	start_slow $((2 << 20)) $((1 << 20))
	for sig in WINCH STOP CONT WINCH WINCH STOP CONT; do
		[ -n "$vmm" ] && kill -$sig "$vmm"
		sleep 0.5
	done
	wait $pid
	status=$?
	wait $reader
	out=$(cat "$nb_tmp/out") err=$(cat "$nb_tmp/err")
}
nb_try mid_write
expect e2e_output_signals_mid_write "WINCH and STOP/CONT in the middle of 32 MiB of output: every byte arrives, status 0" \
	"$status" -eq 0 -a "$out" = "$big_sum" -a -z "$(sigsys)"

# A reader that stops reading for good: TERM reaches the workload (it
# ends), a second TERM gives up the output nestbox still holds: 143, said.
stalled_reader() {
	nb_case_start "two TERMs to nestbox writing into a stalled reader"
	start_slow $((1 << 20)) $((3 << 20)) $((1 << 20)) inf
	[ -n "$vmm" ] && kill -TERM "$vmm"
	sleep 5
	[ -n "$vmm" ] && kill -TERM "$vmm"
	t0=$SECONDS
	wait $pid
	status=$?
	waited=$((SECONDS - t0))
	kill $reader 2>/dev/null
	wait $reader 2>/dev/null
	out="ended ${waited}s after the second TERM" err=$(cat "$nb_tmp/err")
}
nb_try stalled_reader
expect e2e_output_term_stalled_reader "a stalled reader: a second TERM ends nestbox within 20 s, 143, with a message" \
	"$status" -eq 143 -a "$waited" -le 20 -a -n "$err" -a -z "$(sigsys)"
unset NESTBOX_SECCOMP_TRAP
