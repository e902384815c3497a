# shellcheck shell=bash
# e2e cases for the command line as a Docker user types it (issue 15):
# Docker's --init (a reaper as the container's PID 1) and the transports
# for local images (oci:, oci-archive:, docker-archive:). Sourced by
# tests/e2e/run.sh, which sets $nestbox, $rootfs and $limit and sources
# tests/lib/check.sh.

# ---- --init ------------------------------------------------------------------

# PID 1 is the init (nestbox-init's copy, /init), the workload is its child.
# shellcheck disable=SC2016 # expanded by the guest's shell
nb_run_case "$limit" $nestbox run --init "$rootfs" -- /bin/sh -c \
	'echo "$(cat /proc/1/comm) $(tr "\0" " " </proc/1/cmdline)"; echo "self $$ parent $PPID"'
expect e2e_cli_init_pid1 "with --init PID 1 is the init and the workload its child" \
	"$status" -eq 0 -a "$out" = "init /init 
self 2 parent 1"

nb_run_case "$limit" $nestbox run --init "$rootfs" -- /bin/sh -c 'ps -o pid,args'
expect e2e_cli_init_ps "with --init ps in the container shows PID 1 as the init" \
	"$status" -eq 0 -a -n "$(grep -xE ' *1 /init *' <<<"$out")"

# -t with --init: the workload has the pty, in its foreground process group.
# shellcheck disable=SC2016 # expanded by the guest's shell
nb_run_case "$limit" $nestbox run -t --init "$rootfs" -- /bin/sh -c \
	'tty; cut -d" " -f5,8 /proc/$$/stat; exit 5'
expect e2e_cli_init_tty "with -t --init the workload has the pty as its controlling terminal, in the foreground" \
	"$status" -eq 5 -a "$(head -1 <<<"$out" | tr -d '\r')" = /dev/pts/0 \
	-a "$(sed -n 2p <<<"$out" | tr -d '\r' | awk '{print ($1 == $2) ? "fg" : "bg"}')" = fg

# shellcheck disable=SC2016 # expanded by the guest's shell
nb_run_case "$limit" $nestbox run "$rootfs" -- /bin/sh -c 'echo "self $$"'
expect e2e_cli_no_init_pid1 "without --init the workload is PID 1" "$status" -eq 0 -a "$out" = "self 1"

# Orphans (children of a subshell that exits) go to PID 1, which is not the
# shell here: only the init can reap them. After they end, no zombie is left.
# shellcheck disable=SC2016 # expanded by the guest's shell
zombies='(sleep 2 &); (sleep 2 &); (sleep 2 &); sleep 0.5
echo "orphans of 1: $(grep -l "^PPid:[[:space:]]*1$" /proc/[0-9]*/status 2>/dev/null | wc -l)"; sleep 3
echo "zombies: $(grep -l "^State:[[:space:]]*Z" /proc/[0-9]*/status 2>/dev/null | wc -l)"'
nb_run_case "$limit" $nestbox run --init "$rootfs" -- /bin/sh -c "$zombies"
expect e2e_cli_init_reaps "with --init orphans go to PID 1 and are reaped" \
	"$status" -eq 0 -a "$out" = "orphans of 1: 4
zombies: 0"

for code in 0 3; do
	nb_run_case "$limit" $nestbox run --init "$rootfs" -- /bin/sh -c "exit $code"
	expect "e2e_cli_init_exit_$code" "with --init the workload's exit status $code is nestbox's" \
		"$status" -eq "$code"
done
# shellcheck disable=SC2016 # expanded by the guest's shell
nb_run_case "$limit" $nestbox run --init "$rootfs" -- /bin/sh -c 'kill -KILL $$'
expect e2e_cli_init_exit_137 "with --init a workload killed by KILL gives 137" "$status" -eq 137

nb_run_case "$limit" $nestbox run --init "$rootfs" -- /no/such/command
expect e2e_cli_init_not_found "with --init a command that is not there is 127, named" \
	"$status" -eq 127 -a -n "$(grep -F '/no/such/command: command not found' <<<"$out$err")"

# init_sig_case NAME SIGNAL CMD: `nestbox run --init $rootfs -- sh -c CMD`
# with stdout on a FIFO; once it printed "ready", SIGNAL goes to nestbox.
# In the test host, once more after an emulator fault (nb_try).
init_sig_case() {
	nb_try init_sig_case_once "$@"
}
init_sig_case_once() {
	local name=$1 sig=$2 fifo=$nb_tmp/$1.fifo line tpid pid fd
	rm -f "$fifo" && mkfifo "$fifo"
	nb_case_start "$name"
	timeout -s KILL "$limit" $nestbox run --init "$rootfs" -- /bin/sh -c "$3" \
		>"$fifo" 2>"$nb_tmp/err" </dev/null &
	tpid=$!
	exec {fd}<"$fifo"
	out=
	while read -r -t "$limit" -u "$fd" line; do
		out+="$line"$'\n'
		[ "$line" = ready ] && break
	done
	pid=$(ps -o pid= --ppid "$tpid" | tr -d ' ')
	[ -n "$pid" ] && kill -"$sig" "$pid"
	out+=$(cat <&"$fd")
	out=${out%$'\n'}
	exec {fd}<&-
	wait "$tpid"
	status=$?
	err=$(cat "$nb_tmp/err")
}

init_sig_case init_term_trap TERM \
	"trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.2; done"
expect e2e_cli_init_signal_trap "with --init a TERM sent to nestbox reaches the workload's trap" \
	"$status" -eq 7 -a "$out" = "ready
got TERM"

# The workload is not PID 1: the kernel's default action applies to it.
init_sig_case init_term_default TERM "echo ready; exec sleep 1000"
expect e2e_cli_init_signal_default "with --init a workload without a handler dies of TERM: 143" \
	"$status" -eq 143 -a "$out" = ready

# ---- transports ----------------------------------------------------------------

if [ -f build/oci/busybox/index.json ]; then
	export NESTBOX_CACHE_DIR=$nb_tmp/cli-cache
	nb_run_case "$limit" $nestbox run oci:build/oci/busybox:latest -- /bin/sh -c 'echo layout'
	expect e2e_cli_oci_tag "oci:PATH:TAG runs the layout's image of that tag" \
		"$status" -eq 0 -a "$out" = layout
	nb_run_case "$limit" $nestbox run oci:build/oci/busybox:nosuchtag -- true
	expect e2e_cli_oci_bad_tag "oci:PATH:TAG with a tag the layout lacks: 125, the tag named" \
		"$status" -eq 125 -a -n "$(grep -F nosuchtag <<<"$err")"
	unset NESTBOX_CACHE_DIR
else
	skip e2e_cli_oci_tag "build/oci/busybox not built (make tests and make run build it)"
	skip e2e_cli_oci_bad_tag "build/oci/busybox not built (make tests and make run build it)"
fi

if cli_imgs=$(tests/images/mkimages.sh 2>/dev/null) && [ -f "$cli_imgs/busybox-docker.tar" ]; then
	export NESTBOX_CACHE_DIR=$nb_tmp/cli-cache
	nb_run_case "$limit" $nestbox run "docker-archive:$cli_imgs/busybox-docker.tar" 'echo docker'
	expect e2e_cli_docker_archive "docker-archive:PATH runs the archive's image" \
		"$status" -eq 0 -a "$out" = docker
	nb_run_case "$limit" $nestbox run "docker-archive:$cli_imgs/busybox-docker.tar:busybox:test" 'echo named'
	expect e2e_cli_docker_archive_ref "docker-archive:PATH:REF picks the image named REF" \
		"$status" -eq 0 -a "$out" = named
	nb_run_case "$limit" $nestbox run "oci-archive:$cli_imgs/busybox-oci.tar:test" 'echo oci-archive'
	expect e2e_cli_oci_archive "oci-archive:PATH:TAG runs the archive's image of that tag" \
		"$status" -eq 0 -a "$out" = oci-archive
	unset NESTBOX_CACHE_DIR
else
	for c in e2e_cli_docker_archive e2e_cli_docker_archive_ref e2e_cli_oci_archive; do
		skip "$c" "test archives not built (tests/images/mkimages.sh needs skopeo)"
	done
fi
