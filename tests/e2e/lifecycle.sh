# shellcheck shell=bash
# e2e cases for detached VMs (issue 15): run -d, names, ps, logs, stop,
# kill, wait, rm, pause, events, gc, the OOM flag and the control API from
# Python. Sourced by tests/e2e/run.sh ($nestbox, $rootfs, $limit,
# tests/lib/check.sh). Its own run directory: nothing of the host's.

export NESTBOX_RUN_DIR=$nb_tmp/run
lc_vms=16
# An idle workload that says so on both streams and traps TERM and USR1
# (the shell's wait is interrupted by a trapped signal); lc6 counts, once a
# second, for the pause test. Idle guests are cheap in the emulated test
# host; a fork and exec per second in 16 of them is not.
lc_idle='trap "echo bye; exit 7" TERM; trap "exit 5" USR1; echo up; echo err-up >&2; echo "n 1"; sleep 100000 & wait'
lc_loop='trap "exit 7" TERM; echo up; echo err-up >&2; i=0; while :; do i=$((i+1)); echo "n $i"; sleep 1; done'

lc() { timeout -s KILL "$limit" $nestbox "$@"; }
lc_state() { lc inspect "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["State"][sys.argv[1]])' "$2"; }
# lc_until SECONDS CMD...: retry CMD every 0.5 s until it succeeds.
lc_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.5
	done
}
lc_logged() { lc logs "$1" 2>/dev/null | grep -q "^$2"; }

timeout -s KILL 3000 $nestbox events --format json >"$nb_tmp/events" 2>&1 &
lc_events_pid=$!

# -- 16 detached VMs at once ------------------------------------------------
nb_case_start "run -d x$lc_vms"
lc_ok=0
: >"$nb_tmp/lc_err"
for i in $(seq 1 $lc_vms); do
	lc_cmd=$lc_idle
	[ "$i" = 6 ] && lc_cmd=$lc_loop
	id=$(lc run -d --name "lc$i" --memory 128m "$rootfs" -- /bin/sh -c "$lc_cmd" 2>>"$nb_tmp/lc_err")
	lc_s=$?
	[ $lc_s -eq 0 ] && [[ $id =~ ^[0-9a-f]{64}$ ]] && lc_ok=$((lc_ok + 1))
	[ $lc_s -eq 0 ] || echo "lc$i: status $lc_s" >>"$nb_tmp/lc_err"
done
status=0 out=$lc_ok err=$(cat "$nb_tmp/lc_err")
expect e2e_lifecycle_run_detached "run -d returns 0 and a 64-hex id for each of $lc_vms VMs" "$lc_ok" -eq $lc_vms
lc_up=0 lc_why=
lc_end=$((SECONDS + 300))
for i in $(seq 1 $lc_vms); do
	if lc_until $((lc_end > SECONDS ? lc_end - SECONDS : 1)) lc_logged "lc$i" "n 1"; then
		lc_up=$((lc_up + 1))
	else # why: its state and the end of its logs
		lc_why+="lc$i: $(lc inspect "lc$i" | tr -d ' \n' | grep -o '"State":{[^}]*}') $(lc logs "lc$i" 2>&1 | tail -5 | tr '\n' '|') "
		lc logs "lc$i" 2>&1 | tail -60 | sed "s/^/# lc$i: /" >&2 # the console: why it stopped
	fi
done
status=0 out=$lc_up err=${lc_why:-}
expect e2e_lifecycle_all_running "every VM's workload runs (its output in logs)" "$lc_up" -eq $lc_vms

nb_run_case "$limit" $nestbox ps --format json
lc_ps=$(python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
print(sum(1 for r in rows if r["State"] == "running" and r["Names"].startswith("lc") and len(r["ID"]) == 64))' <<<"$out")
expect e2e_lifecycle_ps_json "ps --format json lists each VM as running" "$status" -eq 0 -a "$lc_ps" = "$lc_vms"

# -- kill -9 of VMMs (and of one monitor): exited, 137; gc cleans -------------
for i in 14 15; do kill -9 "$(lc_state lc$i Pid)"; done
kill -9 "$(lc inspect lc16 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["MonitorPid"])')"
lc_until 60 test "$(lc_state lc14 Status)$(lc_state lc15 Status)" = exitedexited
nb_run_case "$limit" $nestbox ps -a --format json
lc_dead=$(python3 -c '
import json, sys
rows = {r["Names"]: r for r in map(json.loads, filter(str.strip, sys.stdin))}
print(" ".join("%s:%s" % (rows.get(n, {}).get("State"), rows.get(n, {}).get("ExitCode")) for n in ("lc14", "lc15", "lc16")))' <<<"$out")
expect e2e_lifecycle_kill9 "a kill -9'd VMM (and a VM whose monitor was killed) shows exited 137" \
	"$lc_dead" = "exited:137 exited:137 exited:137"
nb_run_case "$limit" $nestbox gc
lc_left=$(ls "$NESTBOX_RUN_DIR/vm" | wc -l)
expect e2e_lifecycle_gc "gc removes the exited VMs' dirs and names, keeps running ones" \
	"$status" -eq 0 -a ! -L "$NESTBOX_RUN_DIR/names/lc14" -a ! -L "$NESTBOX_RUN_DIR/names/lc16" \
	-a "$lc_left" -eq 13

# Fewer guests from here on: each idle one costs the emulated test host.
lc stop -t 0 lc9 lc10 lc11 lc12 lc13 >/dev/null
lc rm lc9 lc10 lc11 lc12 lc13 >/dev/null

# -- logs: both streams, -f -------------------------------------------------
nb_run_case "$limit" $nestbox logs lc1
expect e2e_lifecycle_logs_streams "logs: stdout to stdout, stderr to stderr" "$status" -eq 0 \
	-a "$(head -1 <<<"$out")" = up -a "$err" = err-up
nb_run_case "$limit" $nestbox logs --tail 1 lc1
expect e2e_lifecycle_logs_tail "logs --tail 1: one line per stream" "$status" -eq 0 \
	-a "$(wc -l <<<"$out")" -eq 1 -a "$err" = err-up
timeout -s KILL "$limit" $nestbox logs -f lc2 >"$nb_tmp/follow" 2>/dev/null &
lc_follow=$!

# -- stop, kill, wait ---------------------------------------------------------
nb_run_case "$limit" $nestbox stop -t 30 lc2
expect e2e_lifecycle_stop "stop: TERM reaches the workload's trap, stop returns when it exited" \
	"$status" -eq 0 -a "$(lc_state lc2 Status)" = exited -a "$(lc_state lc2 ExitCode)" = 7
wait "$lc_follow"
status=$? out=$(tail -c 200 "$nb_tmp/follow") err=
expect e2e_lifecycle_logs_follow "logs -f prints the output, then what comes (bye), ends when the VM exits" \
	"$status" -eq 0 -a "$(head -1 "$nb_tmp/follow")" = up -a "$(tail -1 "$nb_tmp/follow")" = bye
nb_run_case "$limit" $nestbox wait lc2
expect e2e_lifecycle_wait_exited "wait on an exited VM prints its exit code" "$status" -eq 0 -a "$out" = 7
nb_run_case "$limit" $nestbox stop -t 0 lc3
expect e2e_lifecycle_stop_timeout "stop -t 0 kills at once: 137" \
	"$status" -eq 0 -a "$(lc_state lc3 ExitCode)" = 137
(sleep 2; lc kill -s USR1 lc4 >/dev/null) &
nb_run_case "$limit" $nestbox wait lc4
expect e2e_lifecycle_kill_usr1 "kill -s USR1 reaches the workload (exit 5), wait prints it" \
	"$status" -eq 0 -a "$out" = 5
nb_run_case "$limit" $nestbox kill lc5
lc_until 60 test "$(lc_state lc5 Status)" = exited
expect e2e_lifecycle_kill "kill (KILL): exited, 137" "$status" -eq 0 -a "$(lc_state lc5 ExitCode)" = 137
nb_run_case "$limit" $nestbox kill -s STOP lc6
expect e2e_lifecycle_kill_refused "kill -s STOP is refused with a reason, exit 1" \
	"$status" -eq 1 -a -n "$(grep -F 'cannot reach the workload' <<<"$err")"

# -- pause ---------------------------------------------------------------------
nb_run_case "$limit" $nestbox pause lc6
sleep 1 # what was in the pipe before the pause reaches the log
lc_n1=$(lc logs lc6 2>/dev/null | grep -c '^n ')
sleep 4
lc_n2=$(lc logs lc6 2>/dev/null | grep -c '^n ')
expect e2e_lifecycle_pause "pause: the guest's counter stops ($lc_n1 -> $lc_n2), ps says paused" \
	"$status" -eq 0 -a "$lc_n1" -eq "$lc_n2" -a "$(lc_state lc6 Status)" = paused
nb_run_case "$limit" $nestbox unpause lc6
lc_until 60 test "$(lc logs lc6 2>/dev/null | grep -c '^n ')" -gt "$lc_n2"
expect e2e_lifecycle_unpause "unpause: the counter goes on" "$status" -eq 0 \
	-a "$(lc logs lc6 2>/dev/null | grep -c '^n ')" -gt "$lc_n2" -a "$(lc_state lc6 Status)" = running

# -- rm ---------------------------------------------------------------------------
nb_run_case "$limit" $nestbox rm lc7
expect e2e_lifecycle_rm_running "rm of a running VM is refused, exit 1" "$status" -eq 1 \
	-a -n "$(grep -F 'rm -f' <<<"$err")"
lc_id7=$(lc inspect lc7 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')
nb_run_case "$limit" $nestbox rm -f "${lc_id7:0:10}"
expect e2e_lifecycle_rm_force "rm -f by id prefix: gone, dir and name" "$status" -eq 0 \
	-a ! -e "$NESTBOX_RUN_DIR/vm/$lc_id7" -a ! -L "$NESTBOX_RUN_DIR/names/lc7"
nb_run_case "$limit" $nestbox rm lc2 lc3
expect e2e_lifecycle_rm "rm of exited VMs" "$status" -eq 0 -a "$out" = "lc2
lc3"

# -- --rm -d, and the name race --------------------------------------------------
lc_rm=$(lc run -d --rm "$rootfs" -- /bin/true)
lc_until 120 test ! -e "$NESTBOX_RUN_DIR/vm/$lc_rm"
status=$? out=$lc_rm err=
expect e2e_lifecycle_rm_detached "--rm -d: nothing is left once it exited" "$status" -eq 0 -a -n "$lc_rm"
lc run -d --name race "$rootfs" -- /bin/sleep 600 >"$nb_tmp/r1" 2>&1 &
lc_r1=$!
lc run -d --name race "$rootfs" -- /bin/sleep 600 >"$nb_tmp/r2" 2>&1 &
lc_r2=$!
wait $lc_r1; lc_s1=$?
wait $lc_r2; lc_s2=$?
status="$lc_s1 $lc_s2" out=$(cat "$nb_tmp/r1" "$nb_tmp/r2") err=
expect e2e_lifecycle_name_race "two racing run -d --name: one wins, the other exits 125 saying why" \
	"$(echo "$lc_s1 $lc_s2" | tr ' ' '\n' | sort | tr '\n' ' ')" = "0 125 " \
	-a -n "$(grep -F 'already in use' <<<"$out")"

# -- the control API from Python ----------------------------------------------------
lc_py=$(lc run -d --name pyvm "$rootfs" -- /bin/sh -c "$lc_idle")
lc_until 240 lc_logged pyvm "n 1"
nb_run_case "$limit" python3 tests/e2e/lifecycle_client.py "$NESTBOX_RUN_DIR/vm/$lc_py/control.sock"
expect e2e_lifecycle_python "the control API driven from Python: state, stats, events, kill, errors" \
	"$status" -eq 0

# -- OOM: inspect and events ---------------------------------------------------------
# 64m as in the other OOM cases: in an idle test host this VM was OOM-killed
# 14 s after its start with 64m and 105 s with 128m, which a loaded CI host
# once took past the 180 s limit.
lc run -d --name oom --memory 64m "$rootfs" -- /bin/sh -c \
	'x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived' >/dev/null
nb_run_case "$limit" $nestbox wait oom
expect e2e_lifecycle_oom "an OOM-killed container: exit 137, inspect says OOMKilled" \
	"$status" -eq 0 -a "$out" = 137 -a "$(lc_state oom OOMKilled)" = True

# -- events --------------------------------------------------------------------------
lc stop -t 0 $(lc ps -q) >/dev/null
lc rm -f $(lc ps -aq) >/dev/null
sleep 1
kill "$lc_events_pid" 2>/dev/null
wait "$lc_events_pid" 2>/dev/null
lc_actions=$(python3 -c '
import json, sys
print(" ".join(sorted({json.loads(l)["Action"] for l in sys.stdin if l.strip()})))' <"$nb_tmp/events")
status=0 out=$lc_actions err=
expect e2e_lifecycle_events "events --format json: create start die oom stop kill pause unpause destroy" \
	"$lc_actions" = "create destroy die kill oom pause start stop unpause"
lc_left=$(find "$NESTBOX_RUN_DIR/vm" "$NESTBOX_RUN_DIR/names" -mindepth 1 | wc -l)
expect e2e_lifecycle_clean "after rm -f of every VM nothing is left" "$lc_left" -eq 0
unset NESTBOX_RUN_DIR
