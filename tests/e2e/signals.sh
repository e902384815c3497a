# shellcheck shell=bash
# e2e cases for host signals and -t (issue 3): signals sent to nestbox reach
# the workload over the console's signal port; -t gives it a pty. Sourced
# by tests/e2e/run.sh, which sets $nestbox, $rootfs and $limit and sources
# tests/lib/check.sh.

# sig_case NAME SIGNAL... -- CMD...: start `nestbox run $rootfs -- CMD` with
# stdout on a FIFO, wait for its "ready" line, send each SIGNAL to nestbox
# (waiting for a line "got..." after each but the last), then collect
# $out, $err and $status. timeout(1) kills it after $limit seconds.
# In the test host, once more after an emulator fault (nb_try).
sig_case() {
	nb_try sig_case_once "$@"
}
sig_case_once() {
	local name=$1 fifo=$nb_tmp/$1.fifo sigs=() line tpid pid fd
	shift
	while [ "$1" != -- ]; do sigs+=("$1"); shift; done
	shift
	nb_case_start "$name"
	rm -f "$fifo" && mkfifo "$fifo"
	timeout -s KILL "$limit" $nestbox run "$rootfs" -- "$@" >"$fifo" 2>"$nb_tmp/err" </dev/null &
	tpid=$!
	exec {fd}<"$fifo"
	out=
	while read -r -t "$limit" -u "$fd" line; do
		out+="$line"$'\n'
		[ "$line" = ready ] && break
	done
	pid=$(ps -o pid= --ppid "$tpid" | tr -d ' ') # nestbox, timeout's child
	for ((i = 0; i < ${#sigs[@]}; i++)); do
		[ -n "$pid" ] && kill -"${sigs[i]}" "$pid"
		[ $((i + 1)) -eq ${#sigs[@]} ] && break
		while read -r -t "$limit" -u "$fd" line; do
			out+="$line"$'\n'
			case $line in got*) break ;; esac
		done
	done
	out+=$(cat <&"$fd")
	out=${out%$'\n'}
	exec {fd}<&-
	wait "$tpid"
	status=$?
	err=$(cat "$nb_tmp/err")
}

# The shell loops on short sleeps: a trap runs between two commands.
loop='while :; do sleep 0.2; done'

sig_case term_trap TERM -- /bin/sh -c "trap 'echo got TERM; exit 7' TERM; echo ready; $loop"
expect e2e_signal_term_trap "a TERM sent to nestbox reaches the workload's trap" \
	"$status" -eq 7 -a "$out" = "ready
got TERM"

sig_case term_default TERM -- /bin/sh -c "echo ready; $loop"
expect e2e_signal_term_default "a workload without a handler dies of TERM: 143" \
	"$status" -eq 143 -a "$out" = ready -a -z "$(grep -F 'stopped by signal' <<<"$err")"

sig_case usr1_trap USR1 -- /bin/sh -c "trap 'echo got USR1; exit 3' USR1; echo ready; $loop"
expect e2e_signal_usr1 "USR1 reaches a trap" "$status" -eq 3 -a "$out" = "ready
got USR1"

sig_case hup_winch WINCH HUP -- /bin/sh -c \
	"trap 'echo got WINCH' WINCH; trap 'echo got HUP; exit 9' HUP; echo ready; $loop"
expect e2e_signal_winch_hup "without -t WINCH is a signal too; then HUP" \
	"$status" -eq 9 -a "$out" = "ready
got WINCH
got HUP"

sig_case term_twice TERM TERM -- /bin/sh -c "trap 'echo got TERM' TERM; echo ready; $loop"
expect e2e_signal_term_twice "a second TERM within 3 s stops the VM: 143" \
	"$status" -eq 143 -a "$(head -n 2 <<<"$out")" = "ready
got TERM" -a -n "$(grep -F 'stopped by signal' <<<"$err")"

# ---- -t ----------------------------------------------------------------------
pty=tests/e2e/pty_run.py

nb_run_case "$limit" python3 $pty 33 101 "$limit" -- $nestbox run -t "$rootfs" -- /bin/sh -c \
	'tty; stty size; echo to-err >&2; exit 5'
expect e2e_tty_size "-t: the workload's stdio is a pty sized like nestbox's terminal, stderr merged" \
	"$status" -eq 5 -a -n "$(grep -x '/dev/pts/[0-9]*' <<<"$out")" -a \
	-n "$(grep -x '33 101' <<<"$out")" -a -n "$(grep -x to-err <<<"$out")"

nb_run_case "$limit" python3 $pty 30 90 "$limit" --after-ready 'resize:20x70' -- \
	$nestbox run -t "$rootfs" -- /bin/sh -c \
	"trap 'stty size; exit 4' WINCH; echo ready; $loop"
expect e2e_tty_resize "-t: a resize of nestbox's terminal reaches the pty and the workload's WINCH" \
	"$status" -eq 4 -a -n "$(grep -x '20 70' <<<"$out")"

nb_run_case "$limit" python3 $pty 24 80 "$limit" --after-ready 'type:hello\r' -- \
	$nestbox run -i -t "$rootfs" -- /bin/sh -c 'echo ready; read x; echo "got:$x"; exit 6'
# shellcheck disable=SC2016
expect e2e_tty_interactive "-i -t: keys reach the workload through the pty; the terminal is restored" \
	"$status" -eq 6 -a -n "$(grep -x 'got:hello' <<<"$out")" -a \
	"$(tail -n 1 <<<"$out")" = "pty-mode: cooked"

nb_run_case "$limit" $nestbox run -t "$rootfs" -- /bin/sh -c 'tty; echo to-err >&2'
expect e2e_tty_no_terminal "-t without a terminal still gives a pty, stderr merged" \
	"$status" -eq 0 -a "$(tr -d '\r' <<<"$out")" = "/dev/pts/0
to-err" -a -z "$err"

nb_input=x nb_run_case "$limit" $nestbox run -i -t "$rootfs" -- true
expect e2e_tty_not_a_tty "-i -t with a pipe on stdin: Docker's refusal, 125" \
	"$status" -eq 125 -a -n "$(grep -F 'the input device is not a TTY' <<<"$err")"
