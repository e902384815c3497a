# shellcheck shell=bash
# e2e cases for warm start (issue 16): a template booted once to "nestbox-init
# ready" and restored per workload (`nestbox run --template`, `nestbox fn`).
# Sourced by tests/e2e/run.sh ($nestbox, $limit, tests/lib/check.sh). Uses
# the test images of tests/images/mkimages.sh and a private cache under
# $nb_tmp (templates and layers).

warm_cases="e2e_warm_template_create e2e_warm_run e2e_warm_run_stdin e2e_warm_run_tty
	e2e_warm_run_interactive_tty e2e_warm_template_tty_refused e2e_warm_vsock_clone e2e_warm_vsock_to_host
	e2e_warm_run_volumes e2e_warm_fn_volume e2e_warm_volumes_refused e2e_warm_template_vsock_refused e2e_warm_fn_20 e2e_warm_clones_differ
	e2e_warm_fn_status_stderr e2e_warm_any_cwd e2e_warm_template_unconfined e2e_warm_run_detached e2e_warm_run_jail
	e2e_warm_fn_jail e2e_warm_fn_jail_error e2e_warm_fn_own_container e2e_warm_fn_timeout e2e_warm_fn_timeout_confined e2e_warm_fn_binary e2e_warm_fn_cap e2e_warm_fn_oom
	e2e_warm_preload e2e_warm_serve_4 e2e_warm_serve_stop e2e_warm_serve_jail e2e_warm_serve_replaces e2e_warm_nothing_left e2e_warm_stale e2e_warm_corrupt"
snap_cases="e2e_snapshot_take e2e_snapshot_source_goes_on e2e_snapshot_not_empty
	e2e_snapshot_restore_twice e2e_snapshot_vsock e2e_snapshot_restore_confined e2e_snapshot_clones_count
	e2e_snapshot_clones_differ e2e_snapshot_nothing_left"
snap_conf_cases="e2e_snapshot_confined_take e2e_snapshot_confined_charge e2e_snapshot_confined_restore
	e2e_snapshot_confined_cleanup"
snap_vol_cases="e2e_snapshot_volume_take e2e_snapshot_volume_restore e2e_snapshot_volume_own_v
	e2e_snapshot_volume_moved e2e_snapshot_volume_move_refused e2e_snapshot_volume_gone e2e_snapshot_volume_clone e2e_snapshot_volume_cleanup"
snap_net_cases="e2e_snapshot_net_take e2e_snapshot_net_port_held e2e_snapshot_net_restore_twice
	e2e_snapshot_net_source_unchanged e2e_snapshot_net_keeps_port e2e_snapshot_net_none e2e_snapshot_net_cleanup"
snap_tap_cases="e2e_snapshot_tap_take e2e_snapshot_tap_needs_tap e2e_snapshot_tap_restore"
snap_disk_cases="e2e_snapshot_disk_take e2e_snapshot_disk_needs_file e2e_snapshot_disk_file_exists
	e2e_snapshot_disk_restore e2e_snapshot_disk_consistent"
snap_rootdir_cases="e2e_snapshot_rootdir_take e2e_snapshot_rootdir_restore"
snap_pre_cases="e2e_snapshot_prealloc_take e2e_snapshot_prealloc_restore e2e_snapshot_prealloc_on_demand
	e2e_snapshot_prealloc_clone"
warm_net_cases="e2e_warm_net_template e2e_warm_net_clone e2e_warm_net_clones_differ
	e2e_warm_net_clone_to_clone e2e_warm_net_host_reaches e2e_warm_net_fn e2e_warm_net_none
	e2e_warm_net_serve e2e_warm_net_refused e2e_warm_net_cleanup"

# What a run may leave: nestbox processes and files in /tmp, /dev/shm.
warm_debris() {
	pgrep -c -f "^$nestbox " 2>/dev/null || true
	find /tmp /dev/shm -mindepth 1 -maxdepth 1 -newer "$nb_tmp/warm.stamp" \
		! -path "$nb_tmp*" 2>/dev/null | grep -v '^/tmp/nestbox-e2e' | head -5
}

# Confined clones: a jail for the VMM, its uid, a cgroup parent.
warm_jail=$nb_tmp/warm-jail warm_uid=4243 warm_cg=nestbox-e2e-warm

# How many VMMs' groups are in $warm_cg.
warm_groups() {
	find /sys/fs/cgroup/$warm_cg -mindepth 1 -maxdepth 1 -type d -name 'nestbox-*' 2>/dev/null | wc -l
}

# "uid=U capeff=C cgroup=G" of the jailed VMM under `timeout` $1, whose
# child is the supervisor (which runs a clone that sleeps), once it runs;
# empty if it never did.
warm_confined_vmm() {
	local sup vmm
	for _ in $(seq 300); do
		sup=$(pgrep -P "$1" | head -1)
		vmm=$([ -z "$sup" ] || pgrep -P "$sup" | head -1)
		if [ -n "$vmm" ] && grep -q "^Uid:.$warm_uid" "/proc/$vmm/status" 2>/dev/null; then
			awk '/^Uid:/ { print "uid=" $2 } /^CapEff:/ { print "capeff=" $2 }' "/proc/$vmm/status" |
				tr '\n' ' '
			echo "cgroup=$(cut -d/ -f2 "/proc/$vmm/cgroup")"
			return
		fi
		sleep 0.1
	done
}

# One field of the JSON in $out.
jf() { jq -r "$1" <<<"$out" 2>/dev/null; }

# A serve that was sent SIGTERM: its status once it ends, within 60 s; one
# that hangs is killed (status 137), so the tier goes on.
warm_reap() {
	timeout 60 tail --pid="$1" -f /dev/null || kill -KILL "$1" 2>/dev/null
	wait "$1"
}

e2e_warm() {
	local img=$1 t=warm$$ i ok_all=1 a b
	export NESTBOX_CACHE_DIR=$nb_tmp/warm-cache
	touch "$nb_tmp/warm.stamp"

	nb_run_case "$limit" $nestbox template create "$t" "$img"
	expect e2e_warm_template_create "template create boots the image to a ready guest and keeps it" \
		"$status" -eq 0 -a -s "$NESTBOX_CACHE_DIR/templates/$t/state" -a \
		-s "$NESTBOX_CACHE_DIR/templates/$t/memory"
	if [ "$status" -ne 0 ]; then
		for c in $warm_cases; do [ "$c" = e2e_warm_template_create ] || skip "$c" "no template"; done
		return
	fi

	nb_run_case "$limit" $nestbox run --template "$t" -- 'echo "warm $NB_TEST $PWD"'
	expect e2e_warm_run "run --template runs COMMAND in the image with its config" \
		"$status" -eq 0 -a "$out" = "warm 1 /root"

	# -i: the clone's stdin is nestbox's, after its spec; -t: a pty sized
	# like nestbox's terminal; -it: keys reach it, the terminal is restored.
	nb_input=$'line one\nline two\nline three\n' nb_run_case "$limit" $nestbox run -i --template "$t" -- \
		'busybox tr a-z A-Z'
	expect e2e_warm_run_stdin "run -i --template: the clone reads nestbox's stdin to its end" \
		"$status" -eq 0 -a "$out" = "LINE ONE
LINE TWO
LINE THREE"
	nb_run_case "$limit" python3 tests/e2e/pty_run.py 33 101 "$limit" -- $nestbox run -t --template "$t" -- \
		'tty; stty size; echo to-err >&2; exit 5'
	expect e2e_warm_run_tty "run -t --template: the clone's stdio is a pty sized like nestbox's terminal, stderr merged" \
		"$status" -eq 5 -a -n "$(grep -x '/dev/pts/[0-9]*' <<<"$out")" -a \
		-n "$(grep -x '33 101' <<<"$out")" -a -n "$(grep -x to-err <<<"$out")"
	nb_run_case "$limit" python3 tests/e2e/pty_run.py 24 80 "$limit" --after-ready 'type:hello\r' -- \
		$nestbox run -it --template "$t" -- 'echo ready; read x; echo "got:$x"; exit 6'
	expect e2e_warm_run_interactive_tty "run -it --template: keys reach the clone through the pty; the terminal is restored" \
		"$status" -eq 6 -a -n "$(grep -x 'got:hello' <<<"$out")" -a "$(tail -n 1 <<<"$out")" = "pty-mode: cooked"
	nb_run_case "$limit" $nestbox template create "$t-it" "$img" -t
	expect e2e_warm_template_tty_refused "template create -t is refused (125): -t and -i are each clone's" \
		"$status" -eq 125 -a -n "$(grep -o 'give -t and -i to each clone' <<<"$err")" \
		-a ! -e "$NESTBOX_CACHE_DIR/templates/$t-it"

	# --vsock: every template has a vsock device without a host socket;
	# each clone gives its own. The guest side is vsock-echo, fed on the
	# clone's stdin (-i): busybox has no vsock tool. Docker's seccomp
	# profile denies AF_VSOCK to the container.
	local ve=build/tests/guest/vsock-echo vs=$nb_tmp/wv.sock vpid host_out
	local ve_sh='busybox cat >/tmp/ve && busybox chmod +x /tmp/ve && exec /tmp/ve'
	if [ -x "$ve" ]; then
		nb_case_start "run -i --template --vsock: vsock-echo listening in the clone"
		timeout --kill-after=5 "$limit" $nestbox run -i --template "$t" --vsock "$vs" \
			--security-opt seccomp=unconfined -- "$ve_sh listen 1234 1" \
			<"$ve" >"$nb_tmp/wv.out" 2>"$nb_tmp/wv.err" &
		vpid=$!
		host_out=$(timeout 120 python3 tests/e2e/vsock_host.py echo "$vs" 1234 "ping clone" 2>&1)
		wait "$vpid"
		status=$? out="host: $host_out | clone: $(cat "$nb_tmp/wv.out")" err=$(cat "$nb_tmp/wv.err")
		expect e2e_warm_vsock_clone "run --template --vsock PATH: a host client reaches the clone's guest listener; PATH gone at exit" \
			"$status" -eq 0 -a "$host_out" = "ping clone" -a ! -e "$vs"
		rm -f "${vs}_5000"
		timeout 120 python3 tests/e2e/vsock_host.py serve "${vs}_5000" &
		vpid=$!
		for _ in $(seq 50); do [ -S "${vs}_5000" ] && break; sleep 0.1; done
		nb_case_start "run -i --template --vsock: the clone connects to the host"
		timeout --kill-after=5 "$limit" $nestbox run -i --template "$t" --vsock "$vs" \
			--security-opt seccomp=unconfined -- "$ve_sh connect 5000 from-clone" \
			<"$ve" >"$nb_tmp/wv.out" 2>"$nb_tmp/wv.err"
		status=$? out=$(cat "$nb_tmp/wv.out") err=$(cat "$nb_tmp/wv.err")
		kill "$vpid" 2>/dev/null
		wait "$vpid" 2>/dev/null
		rm -f "${vs}_5000"
		expect e2e_warm_vsock_to_host "a clone's guest connection to CID 2 port 5000 reaches PATH_5000 on the host" \
			"$status" -eq 0 -a "$out" = "host got: from-clone"
	else
		skip e2e_warm_vsock_clone "build/tests/guest/vsock-echo missing (make tests)"
		skip e2e_warm_vsock_to_host "build/tests/guest/vsock-echo missing (make tests)"
	fi
	# -v: a clone's directories go into its template's share slots.
	local share=$nb_tmp/wshare refused=
	mkdir -p "$share/in" "$share/out" && echo host-data >"$share/in/data"
	nb_run_case "$limit" $nestbox run --template "$t" -v "$share/in:/in:ro" -v "$share/out:/out" -- \
		'busybox cat /in/data; echo from-clone >/out/result
		 (echo x >/in/denied) 2>/dev/null || echo ro-refused'
	expect e2e_warm_run_volumes "run --template -v: the clone reads one host directory, writes another, and a :ro one refuses writes" \
		"$status" -eq 0 -a "$out" = "host-data
ro-refused" -a "$(cat "$share/out/result" 2>&1)" = from-clone -a ! -e "$share/in/denied"
	nb_run_case "$limit" $nestbox fn --template "$t" -v "$share/in:/data:ro" -- 'busybox cat /data/data'
	expect e2e_warm_fn_volume "fn -v DIR:PATH:ro: the function reads a host directory" \
		"$status" -eq 0 -a "$(jf .stdout)" = host-data
	nb_run_case "$limit" $nestbox run --template "$t" -v "$share:/1" -v "$share:/2" -v "$share:/3" \
		-v "$share:/4" -v "$share:/5" -- true
	[ "$status" -eq 125 ] && grep -q 'has 4 share slots' <<<"$err" && refused+=five,
	nb_run_case "$limit" $nestbox run --template "$t" -v "$share/in/data:/f" -- true
	[ "$status" -eq 125 ] && grep -q 'shares directories only' <<<"$err" && refused+=file,
	nb_run_case "$limit" $nestbox template create "$t-vol" "$img" -v "$share/in:/in"
	[ "$status" -eq 125 ] && grep -q 'takes no -v' <<<"$err" &&
		[ ! -e "$NESTBOX_CACHE_DIR/templates/$t-vol" ] && refused+=template,
	out="refused: $refused; $err"
	expect e2e_warm_volumes_refused "refused (125): five -v directories for four slots, a file volume for a clone, -v at template create" \
		"$refused" = five,file,template,

	nb_run_case "$limit" $nestbox template create "$t-v" "$img" --vsock "$vs"
	expect e2e_warm_template_vsock_refused "template create --vsock PATH is refused (125): the socket is each clone's" \
		"$status" -eq 125 -a -n "$(grep -o 'give --vsock PATH to each clone' <<<"$err")" \
		-a ! -e "$NESTBOX_CACHE_DIR/templates/$t-v"

	for i in $(seq 20); do
		nb_run_case "$limit" $nestbox fn --template "$t" -- "echo fn-$i; exit $((i % 7))"
		if [ "$status" -ne 0 ] || [ "$(jf .stdout)" != "fn-$i" ] ||
			[ "$(jf .exit_code)" != $((i % 7)) ]; then
			ok_all=0
			break
		fi
	done
	expect e2e_warm_fn_20 "20 functions in a row from one template, each with its own output and status (failed at $i)" \
		"$ok_all" -eq 1

	local probe='cat /proc/sys/kernel/random/uuid /proc/sys/kernel/random/boot_id; head -c 16 /dev/urandom | od -An -tx1'
	nb_run_case "$limit" $nestbox fn --template "$t" -- "$probe"
	a=$(jf .stdout)
	nb_run_case "$limit" $nestbox fn --template "$t" -- "$probe"
	b=$(jf .stdout)
	local same
	same=$(paste <(echo "$a") <(echo "$b") | awk -F'\t' '$1 == $2 { n++ } END { print n + 0 }')
	expect e2e_warm_clones_differ "two clones print different uuid, boot_id and urandom bytes ('$a' vs '$b')" \
		"$(wc -l <<<"$a")" -eq 3 -a "$same" -eq 0

	nb_run_case "$limit" $nestbox fn --template "$t" -- 'echo out; echo err >&2; exit 3'
	expect e2e_warm_fn_status_stderr "fn reports exit_code 3, stdout and stderr apart, as UTF-8" \
		"$status" -eq 0 -a "$(jf .exit_code)" = 3 -a "$(jf .stdout)" = out -a \
		"$(jf .stderr)" = err -a "$(jf .stdout_encoding)" = utf-8

	# A template made from a relative path is found from any directory.
	local here=$PWD rel=$t-rel
	(cd "$(dirname "$img")" && "$here/$nestbox" template create "$rel" "./$(basename "$img")") \
		>/dev/null 2>&1
	nb_run_case "$limit" sh -c "cd / && '$here/$nestbox' fn --template '$rel' -- 'echo cwd-ok'"
	expect e2e_warm_any_cwd "a template made from ./IMAGE runs from another working directory" \
		"$status" -eq 0 -a "$(jf .stdout)" = cwd-ok -a "$(jf .exit_code)" = 0

	# Clones of untrusted functions confined on the host (--jail, --cgroup);
	# the template itself is made unconfined.
	mkdir -p "$warm_jail"
	nb_run_case "$limit" $nestbox template create "$t-jail" "$img" --jail "$warm_jail" \
		--uid $warm_uid --gid $warm_uid
	expect e2e_warm_template_unconfined "template create --jail is refused (125), saying its clones take it" \
		"$status" -eq 125 -a -n "$(grep -o 'for its clones' <<<"$err")" \
		-a ! -e "$NESTBOX_CACHE_DIR/templates/$t-jail"

	# A detached clone (hosting: many tenants started from one template).
	local started waited wout
	nb_run_case "$limit" $nestbox run -d --name "$t-d" --template "$t" -- 'echo detached-clone; exit 6'
	started=$status
	nb_run_case "$limit" $nestbox wait "$t-d"
	waited=$status wout=$out
	nb_run_case "$limit" $nestbox logs "$t-d"
	expect e2e_warm_run_detached "run -d --template: a detached clone; wait prints its status 6, logs its output" \
		"$started" -eq 0 -a "$waited" -eq 0 -a "$wout" = 6 -a "$out" = detached-clone
	$nestbox rm "$t-d" >/dev/null 2>&1

	local seen
	# Under a time limit (a hang is this case's failure, not the tier's),
	# and once more after the test host's fault (nb_try).
	warm_run_jailed() {
		local tpid
		nb_case_start "e2e warm run --template --jail --cgroup"
		timeout --kill-after=5 "$limit" $nestbox run --jail "$warm_jail" --uid $warm_uid \
			--gid $warm_uid --cgroup $warm_cg --template "$t" -- 'echo jailed-clone; sleep 3; exit 5' \
			>"$nb_tmp/wj.out" 2>"$nb_tmp/wj.err" </dev/null &
		tpid=$!
		seen=$(warm_confined_vmm $tpid)
		wait $tpid
		status=$? out="$(cat "$nb_tmp/wj.out") | $seen" err=$(cat "$nb_tmp/wj.err")
	}
	nb_try warm_run_jailed
	expect e2e_warm_run_jail "run --template --jail --cgroup: the clone's VMM is $warm_uid without capabilities in its group; output and status as unconfined" \
		"$status" -eq 5 -a "$(cat "$nb_tmp/wj.out")" = jailed-clone \
		-a "$seen" = "uid=$warm_uid capeff=0000000000000000 cgroup=$warm_cg"

	nb_run_case "$limit" $nestbox fn --jail "$warm_jail" --uid $warm_uid --gid $warm_uid --cgroup $warm_cg \
		--template "$t" -- 'echo out; echo err >&2; exit 4'
	expect e2e_warm_fn_jail "fn --jail --cgroup: exit_code 4, stdout and stderr as unconfined; its group is gone after" \
		"$status" -eq 0 -a "$(jf .exit_code)" = 4 -a "$(jf .stdout)" = out -a "$(jf .stderr)" = err \
		-a "$(warm_groups)" -eq 0

	nb_run_case "$limit" $nestbox fn --jail "$nb_tmp/no-such-jail" --uid $warm_uid --gid $warm_uid \
		--template "$t" -- 'echo never'
	expect e2e_warm_fn_jail_error "fn with a missing --jail DIR: 125 and the jail's own error in the JSON" \
		"$status" -eq 125 -a "$(jf .exit_code)" = null -a -n "$(jf .error | grep -o 'jail.*not a directory')"

	# The template's container is made before its snapshot; a function
	# whose options change the container (here its hostname and a
	# read-only root) gets one made for it instead.
	nb_run_case "$limit" $nestbox fn --template "$t" --hostname fn-own --read-only -- \
		'hostname; touch /probe 2>/dev/null || echo read-only'
	expect e2e_warm_fn_own_container "fn --hostname --read-only runs in a container made for those options ('$(jf .stdout)')" \
		"$status" -eq 0 -a "$(jf .stdout)" = "fn-own
read-only"

	local t0=$SECONDS
	nb_run_case "$limit" $nestbox fn --template "$t" --timeout 3 -- 'sleep 60'
	expect e2e_warm_fn_timeout "fn --timeout 3 stops a sleep 60: timed_out, no exit_code, well before 60 s" \
		"$(jf .timed_out)" = true -a "$(jf .exit_code)" = null -a $((SECONDS - t0)) -lt 30

	# the hard timeout kills the clone's run, which cannot remove its own
	# group then: fn collects it (vmm/run/records.h)
	nb_run_case "$limit" $nestbox fn --cgroup $warm_cg --template "$t" --timeout 3 -- 'sleep 60'
	out="$out; groups left: $(warm_groups)"
	expect e2e_warm_fn_timeout_confined "fn --cgroup --timeout 3: timed_out, and the clone's group is gone after" \
		"$(jf .timed_out)" = true -a "$(warm_groups)" -eq 0

	nb_run_case "$limit" $nestbox fn --template "$t" -- "printf 'a\\377\\376b'"
	expect e2e_warm_fn_binary "non-UTF-8 output comes base64 with stdout_encoding base64" \
		"$(jf .stdout_encoding)" = base64 -a "$(jf .stdout | base64 -d | od -An -tx1 | tr -d ' ')" = 61fffe62

	nb_run_case "$limit" $nestbox fn --template "$t" --max-output 100 -- 'head -c 5000 /dev/zero | tr "\\0" x'
	expect e2e_warm_fn_cap "output over --max-output is cut at the cap and flagged truncated" \
		"$(jf .stdout_truncated)" = true -a "$(jf .truncated)" = true -a "$(jf '.stdout | length')" = 100

	# An OOM: a template whose container may use 64 MiB (as docker run
	# --memory), a function whose `tail` keeps all of /dev/zero (no line
	# ends) until the kernel kills it: seconds in the test host, where a
	# shell collecting 200 MB in a variable took 86 to 114 s.
	nb_run_case "$limit" $nestbox template create "$t-oom" "$img" --memory 64m --kernel-args nestbox.debug
	local oom_made=$status
	# Its boot read the program its clones run (the image's sh: busybox)
	# ahead, into the snapshot's page cache (container/preload.h); the
	# guest's debug lines are on the VMM's stdout, its console.
	expect e2e_warm_preload "a template boot reads its command's program ahead (nestbox.debug: 'preloaded sh: N files, B bytes')" \
		"$status" -eq 0 -a -n "$(grep -E '^nestbox-init: preloaded (/bin/)?sh: [1-4] files?, [1-9][0-9]{5,} bytes$' <<<"$out"$'\n'"$err")"
	nb_run_case "$limit" $nestbox fn --template "$t-oom" -- 'tail /dev/zero && echo finished'
	expect e2e_warm_fn_oom "a function over its template's --memory 64m: oom true, and it did not finish (error '$(jf .error)')" \
		"$oom_made" -eq 0 -a "$(jf .oom)" = true -a "$(jf .exit_code)" = 137 -a "$(jf .stdout)" != finished

	sleep 1
	# serve: a pool of 4 clones, 4 concurrent callers, 12 invocations, then SIGTERM.
	local sock=$nb_tmp/fn.sock spid serve_status
	$nestbox serve --socket "$sock" --template "$t" --pool 4 2>"$nb_tmp/serve.err" &
	spid=$!
	for i in $(seq 120); do [ -S "$sock" ] && break; sleep 0.5; done
	nb_run_case "$limit" python3 tests/e2e/serve_client.py "$sock" 4 12
	err+=$(tail -c 300 "$nb_tmp/serve.err")
	expect e2e_warm_serve_4 "serve --pool 4 answers 4 concurrent callers, each with its own output, stdin and status" \
		"$status" -eq 0 -a -n "$(grep -o '^ok 12 invocations' <<<"$out")"
	kill -TERM "$spid"
	warm_reap "$spid"
	serve_status=$?
	status=$serve_status out=$(pgrep -f "serve --socket $sock" | tr '\n' ' ') err=$(tail -c 300 "$nb_tmp/serve.err")
	expect e2e_warm_serve_stop "SIGTERM drains serve: exit 0, its socket and every worker and VMM gone" \
		"$serve_status" -eq 0 -a ! -e "$sock" -a -z "$out"

	# A confined pool: every clone's VMM jailed, as $warm_uid, in its group.
	$nestbox serve --socket "$sock" --template "$t" --pool 2 --jail "$warm_jail" --uid $warm_uid \
		--gid $warm_uid --cgroup $warm_cg 2>"$nb_tmp/serve.err" &
	spid=$!
	for i in $(seq 120); do [ -S "$sock" ] && break; sleep 0.5; done
	nb_run_case "$limit" python3 tests/e2e/serve_client.py "$sock" 2 4
	local jailed
	jailed=$(pgrep -u $warm_uid -f "^$nestbox " | wc -l)
	kill -TERM "$spid"
	warm_reap "$spid"
	serve_status=$?
	out="$out | $jailed VMMs as $warm_uid; groups left: $(warm_groups)" err=$(tail -c 300 "$nb_tmp/serve.err")
	expect e2e_warm_serve_jail "serve --jail --cgroup: 2 callers answered by jailed clones ($warm_uid), then drained: no clone's group left" \
		"$status" -eq 0 -a -n "$(grep -o '^ok 4 invocations' <<<"$out")" -a "$jailed" -ge 1 \
		-a "$serve_status" -eq 0 -a ! -e "$sock" -a "$(warm_groups)" -eq 0

	# A pool clone that ends while it waits (its VMM killed once it runs:
	# its vCPU thread exists only after it resumed) is replaced; the next
	# request gets a live clone, and serve says what happened.
	local worker vmm
	$nestbox serve --socket "$sock" --template "$t" --pool 1 2>"$nb_tmp/serve.err" &
	spid=$!
	for i in $(seq 120); do [ -S "$sock" ] && break; sleep 0.5; done
	for i in $(seq 600); do
		worker=$(pgrep -P "$spid" | head -1)
		vmm=$([ -z "$worker" ] || pgrep -P "$worker" | head -1)
		[ -n "$vmm" ] && grep -qx nb-vcpu0 /proc/"$vmm"/task/*/comm 2>/dev/null && break
		vmm=
		sleep 0.1
	done
	[ -z "$vmm" ] || kill -KILL "$vmm"
	nb_run_case "$limit" python3 tests/e2e/serve_client.py "$sock" 1 2
	kill -TERM "$spid"
	warm_reap "$spid"
	serve_status=$?
	err=$(tail -c 600 "$nb_tmp/serve.err")
	expect e2e_warm_serve_replaces "a pool clone that ends before its request is replaced: the request is answered, serve says so" \
		-n "$vmm" -a "$status" -eq 0 -a -n "$(grep -o '^ok 2 invocations' <<<"$out")" \
		-a -n "$(grep -o 'ended before its request.*another takes its place' <<<"$err")" \
		-a "$serve_status" -eq 0

	local debris
	debris=$(warm_debris | tr '\n' ' ')
	status=0 out=$debris err=
	expect e2e_warm_nothing_left "no nestbox process and no new file in /tmp or /dev/shm after the runs" \
		"$(echo "$debris" | tr -d ' ')" = 0

	# A template whose nestbox-init changed is refused, not restored.
	cp build/nestbox-init "$nb_tmp/init-copy"
	nb_run_case "$limit" $nestbox template create "$t-stale" "$img" --guest-init "$nb_tmp/init-copy"
	touch -d '1 hour ago' "$nb_tmp/init-copy"
	nb_run_case "$limit" $nestbox fn --template "$t-stale" -- true
	expect e2e_warm_stale "a template whose nestbox-init changed is refused with a clear message" \
		"$status" -eq 125 -a -n "$(grep -o 'stale' <<<"$err")"

	printf 'X' | dd of="$NESTBOX_CACHE_DIR/templates/$t/state" bs=1 seek=300 conv=notrunc 2>/dev/null
	nb_run_case "$limit" $nestbox fn --template "$t" -- true
	expect e2e_warm_corrupt "a corrupt state file is refused (checksum), nothing runs" \
		"$(jf .exit_code)" = null -a -n "$(jf .error | grep -o checksum)"
	rmdir /sys/fs/cgroup/$warm_cg 2>/dev/null
	unset NESTBOX_CACHE_DIR
}

# The last "tick N" of VM $1's log (0: none yet).
snap_tick() {
	timeout -s KILL 60 $nestbox logs "$1" 2>/dev/null | awk '$1 == "tick" { n = $2 } END { print n + 0 }'
}
# The first one.
snap_first() {
	timeout -s KILL 60 $nestbox logs "$1" 2>/dev/null | awk '$1 == "tick" { print $2; exit }'
}
# snap_until SECONDS VM N: wait until VM's log reached tick N.
snap_until() {
	local end=$((SECONDS + $1))
	until [ "$(snap_tick "$2")" -ge "$3" ]; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.5
	done
}

# A VM on the user's own tap (--tap, --ip, --gateway: Firecracker's way
# of networking a microVM), in a network namespace of its own, serving
# HTTP: snapshotted, its restore needs a tap of its own (refused without),
# and on it keeps the recorded address and gateway and answers there.
e2e_snapshot_tap() {
	local img=$1 dir=$nb_tmp/snaptap ns=nbsnaptap src got meta
	export NESTBOX_RUN_DIR=$nb_tmp/snaptap-run NESTBOX_CACHE_DIR=$nb_tmp/warm-cache
	# snap_web: the page at 10.201.7.2 from the namespace, tried for 60 s
	snap_web() {
		local end=$((SECONDS + 60)) page
		until page=$(ip netns exec $ns curl -s -m 5 http://10.201.7.2/) && [ -n "$page" ]; do
			[ $SECONDS -lt $end ] || break
			sleep 1
		done
		echo "$page"
	}
	rm -rf "$dir"
	ip netns del $ns 2>/dev/null
	ip netns add $ns && ip -n $ns link set lo up
	for t in nbst0 nbst1; do ip -n $ns tuntap add dev $t mode tap && ip -n $ns link set $t up; done
	ip -n $ns addr add 10.201.7.1/24 dev nbst0

	nb_run_case "$limit" ip netns exec $ns $nestbox run -d --name snt --tap nbst0 --ip 10.201.7.2/24 \
		--gateway 10.201.7.1 "$img" -- "$snap_web_sh"
	[ "$status" -eq 0 ] && src=$(snap_addr_not 120 snt none)
	[ "$src" = 10.201.7.2 ] && nb_run_case "$limit" $nestbox snapshot snt "$dir"
	got=$(snap_web)
	meta=$(jq -c '[.nic, .network, .network_options[0:4]]' "$dir/meta.json" 2>&1)
	out="$out; source at $src: $got; meta: $meta"
	expect e2e_snapshot_tap_take "a VM on --tap is snapshotted; meta.json records a tap NIC, no network, and its --ip and --gateway" \
		"$status" -eq 0 -a "$src" = 10.201.7.2 -a "$got" = hello-snap \
		-a "$meta" = '["tap",null,["--ip","10.201.7.2/24","--gateway","10.201.7.1"]]'
	if [ "$status" -ne 0 ] || [ "$src" != 10.201.7.2 ]; then
		for c in $snap_tap_cases; do [ "$c" = e2e_snapshot_tap_take ] || skip "$c" "no snapshot"; done
		$nestbox rm -f snt >/dev/null 2>&1
		ip netns del $ns
		unset NESTBOX_RUN_DIR NESTBOX_CACHE_DIR
		return
	fi

	nb_run_case "$limit" ip netns exec $ns $nestbox run --restore "$dir" -d --name snt1
	out="$out; VMs: $($nestbox ps -a -q 2>&1 | wc -l)"
	expect e2e_snapshot_tap_needs_tap "a restore of it without --tap (or --network) is refused (125), saying what to give, and leaves no VM" \
		"$status" -eq 125 -a -n "$(grep -o 'give the restore --tap TAP' <<<"$err")" \
		-a "$($nestbox ps -a -q 2>/dev/null | wc -l)" = 1

	# The source gone, the host's side moves to the restore's tap.
	nb_run_case "$limit" $nestbox rm -f snt
	ip -n $ns addr del 10.201.7.1/24 dev nbst0
	ip -n $ns addr add 10.201.7.1/24 dev nbst1
	nb_run_case "$limit" ip netns exec $ns $nestbox run --restore "$dir" -d --name snt2 --tap nbst1
	got="$(snap_web) | $(timeout -s KILL 60 $nestbox logs snt2 2>/dev/null | tail -1)"
	out="$out; restore on nbst1: $got"
	expect e2e_snapshot_tap_restore "the restore on a tap of its own keeps the recorded address and default route and answers there" \
		"$status" -eq 0 -a "$got" = "hello-snap | addr 10.201.7.2 default via 10.201.7.1"
	$nestbox rm -f snt2 >/dev/null 2>&1
	ip netns del $ns
	rm -rf "$dir"
	unset NESTBOX_RUN_DIR NESTBOX_CACHE_DIR
}

# `nestbox snapshot` of a running detached VM that counts once a second,
# restored twice with -d: both go on counting from where it was.
e2e_snapshot() {
	local img=$1 dir=$nb_tmp/snap before at src_after a1 b1 a2 b2 debris
	export NESTBOX_RUN_DIR=$nb_tmp/snaprun NESTBOX_CACHE_DIR=$nb_tmp/warm-cache
	touch "$nb_tmp/warm.stamp"

	nb_run_case "$limit" $nestbox run -d --name snapsrc --vsock "$nb_tmp/snapsrc.sock" "$img" -- \
		'i=0; while :; do i=$((i+1)); echo "tick $i $(head -c 8 /dev/urandom | od -An -tx1 | tr -d " ")"; sleep 1; done'
	if [ "$status" -ne 0 ] || ! snap_until 120 snapsrc 3; then
		for c in $snap_cases; do skip "$c" "the counting VM did not start (status $status: $(tail -c 200 <<<"$err"))"; done
		return
	fi
	before=$(snap_tick snapsrc)
	local t0 t1
	t0=$(date +%s%N)
	nb_run_case "$limit" $nestbox snapshot snapsrc "$dir"
	t1=$(date +%s%N)
	at=$(snap_tick snapsrc)
	echo "# snapshot of a running VM: $(((t1 - t0) / 1000000)) ms wall, DIR $(du -sk "$dir" 2>/dev/null | cut -f1) KiB on disk" >&2
	expect e2e_snapshot_take "snapshot of a running VM writes state, memory and meta.json into DIR" \
		"$status" -eq 0 -a -s "$dir/state" -a -s "$dir/memory" -a -s "$dir/meta.json" \
		-a "$out" = "$dir"

	snap_until 30 snapsrc $((at + 3))
	src_after=$(snap_tick snapsrc)
	status=0 out="tick $at then $src_after" err=
	expect e2e_snapshot_source_goes_on "the snapshotted VM runs on (its counter went from $at to $src_after)" \
		"$src_after" -ge $((at + 3))

	nb_run_case "$limit" $nestbox snapshot snapsrc "$dir"
	expect e2e_snapshot_not_empty "a snapshot into a non-empty DIR is refused, DIR kept" \
		"$status" -eq 1 -a -n "$(grep -o 'not empty' <<<"$err")" -a -s "$dir/state"

	t0=$(date +%s%N)
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snapc1 --vsock "$nb_tmp/snapc1.sock"
	a1=$status
	status=0 out="source's socket: $(stat -c %F "$nb_tmp/snapsrc.sock" 2>&1); restore's: $(stat -c %F "$nb_tmp/snapc1.sock" 2>&1)" err=
	expect e2e_snapshot_vsock "a VM with --vsock is snapshotted; a restore with --vsock of its own listens there, the source still on its own" \
		"$a1" -eq 0 -a -S "$nb_tmp/snapc1.sock" -a -S "$nb_tmp/snapsrc.sock"
	t1=$(date +%s%N)
	echo "# run --restore -d: $(((t1 - t0) / 1000000)) ms wall to running" >&2
	# the second one confined: a jailed VMM in a cgroup of its own
	mkdir -p "$warm_jail"
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snapc2 --jail "$warm_jail" \
		--uid $warm_uid --gid $warm_uid --cgroup $warm_cg
	b1=$status
	local vmm seen=
	vmm=$(pgrep -u $warm_uid -f "^$nestbox " | head -1)
	[ -z "$vmm" ] || seen="$(awk '/^Uid:/ { print "uid=" $2 } /^CapEff:/ { print "capeff=" $2 }' \
		"/proc/$vmm/status" | tr '\n' ' ')cgroup=$(cut -d/ -f2 "/proc/$vmm/cgroup")"
	status=$b1 out="$seen" err=
	expect e2e_snapshot_restore_confined "run --restore -d --jail --cgroup: the restored VMM is $warm_uid without capabilities in its group" \
		"$b1" -eq 0 -a "$seen" = "uid=$warm_uid capeff=0000000000000000 cgroup=$warm_cg"
	snap_until 60 snapc1 $((at + 3))
	snap_until 60 snapc2 $((at + 3))
	a1="$a1 $(snap_first snapc1)"
	b1="$b1 $(snap_first snapc2)"
	status=0 out="clone 1: status+first tick $a1, clone 2: $b1, snapshot between ticks $before and $at" err=
	expect e2e_snapshot_restore_twice "two restores with -d start, each going on from the snapshot's tick ($out)" \
		"${a1% *}" -eq 0 -a "${b1% *}" -eq 0 -a "${a1#* }" -ge "$before" -a "${a1#* }" -le $((at + 1)) \
		-a "${b1#* }" -ge "$before" -a "${b1#* }" -le $((at + 1))

	a2=$(snap_tick snapc1)
	b2=$(snap_tick snapc2)
	sleep 3
	status=0 out="clone 1: $a2 -> $(snap_tick snapc1), clone 2: $b2 -> $(snap_tick snapc2)" err=
	expect e2e_snapshot_clones_count "both restored VMs keep counting ($out)" \
		"$(snap_tick snapc1)" -gt "$a2" -a "$(snap_tick snapc2)" -gt "$b2"

	# the same tick in both clones, after the restore: its urandom bytes differ
	local n=$(($(snap_tick snapc1) < $(snap_tick snapc2) ? $(snap_tick snapc1) : $(snap_tick snapc2)))
	a2=$(timeout -s KILL 60 $nestbox logs snapc1 | awk -v n="$n" '$1 == "tick" && $2 == n { print $3 }')
	b2=$(timeout -s KILL 60 $nestbox logs snapc2 | awk -v n="$n" '$1 == "tick" && $2 == n { print $3 }')
	status=0 out="tick $n: '$a2' vs '$b2'" err=
	expect e2e_snapshot_clones_differ "two restores of one snapshot read different /dev/urandom bytes ($out)" \
		${#a2} -eq 16 -a ${#b2} -eq 16 -a "$a2" != "$b2"

	nb_run_case "$limit" $nestbox rm -f snapsrc snapc1 snapc2
	rm -rf "$dir"
	sleep 1
	debris="$(ls "$NESTBOX_RUN_DIR/vm" 2>/dev/null | wc -l) $(warm_debris | tr '\n' ' ')"
	out=$debris
	expect e2e_snapshot_nothing_left "rm -f leaves no VM directory, nestbox process or new file in /tmp" \
		"$status" -eq 0 -a "$(echo "$debris" | tr -d ' ')" = 00
	rmdir /sys/fs/cgroup/$warm_cg 2>/dev/null
	unset NESTBOX_RUN_DIR NESTBOX_CACHE_DIR
}

# A hosting tenant's VM, jailed and in a cgroup of its own, whose guest
# fills most of its RAM (116 MiB written to its tmpfs of 128m), snapshotted:
# the jailed VMM writes the files it was given open, and its copy of guest
# RAM, charged to its group, goes over the group's memory.max, which the
# monitor raises for the snapshot and sets back (without that the VMM was
# OOM-killed here, 137); an unconfined restore goes on from the tick, and
# through the file of its -v directory the workload held open (the share's
# state the jailed VMM saved, vmm/virtio/fs_state.c).
e2e_snapshot_confined() {
	local img=$1 dir=$nb_tmp/snapconf vol=$nb_tmp/snapconf-vol g max peak after at first seen
	export NESTBOX_RUN_DIR=$nb_tmp/snaprun NESTBOX_CACHE_DIR=$nb_tmp/warm-cache
	mkdir -p "$warm_jail"
	rm -rf "$dir" "$vol"
	mkdir -m 0777 "$vol" # the jailed VMM writes there as $warm_uid
	# each tick also into /data/log through fd 3, held across the snapshot
	nb_run_case "$limit" $nestbox run -d --name snapconf --jail "$warm_jail" --uid $warm_uid \
		--gid $warm_uid --cgroup $warm_cg --memory 128m -v "$vol:/data" "$img" -- \
		'yes abcdefghijklmnopqrstuvwxyz | head -c 60m >/fill; yes abcdefghijklmnopqrstuvwxyz | head -c 56m >/dev/shm/fill
		exec 3>>/data/log; i=0; while :; do i=$((i+1)); echo "tick $i"; echo "tick $i" >&3; sleep 1; done'
	# its group: the jailed VMM's (the only process of $warm_uid)
	g=$(pgrep -u $warm_uid -f "^$nestbox " | head -1)
	[ -z "$g" ] || g=/sys/fs/cgroup$(cut -d: -f3 "/proc/$g/cgroup")
	if [ "$status" -ne 0 ] || [ ! -d "$g" ] || ! snap_until 180 snapconf 2; then
		for c in $snap_conf_cases; do skip "$c" "the confined VM did not start (status $status: $(tail -c 200 <<<"$err"))"; done
		$nestbox rm -f snapconf >/dev/null 2>&1
		return
	fi
	max=$(cat "$g/memory.max")
	nb_run_case "$limit" $nestbox snapshot snapconf "$dir"
	at=$(snap_tick snapconf)
	peak=$(cat "$g/memory.peak" 2>/dev/null) after=$(cat "$g/memory.max" 2>/dev/null)
	local oom left
	oom=$(awk '$1 == "oom_kill" { print $2 }' "$g/memory.events" 2>/dev/null)
	left=$(find "$NESTBOX_RUN_DIR/vm" -path '*/snapshot/*' -size +0 2>/dev/null | wc -l)
	snap_until 60 snapconf $((at + 2))
	expect e2e_snapshot_confined_take "a jailed VM in a cgroup is snapshotted and runs on (tick $at -> $(snap_tick snapconf))" \
		"$status" -eq 0 -a -s "$dir/state" -a -s "$dir/memory" -a "$(snap_tick snapconf)" -ge $((at + 2))
	status=0 out="memory.max $max, after $after; peak $peak; oom_kill $oom; VMM copies left $left" err=
	expect e2e_snapshot_confined_charge "the copy of guest RAM went over the group's memory.max, raised for it and set back; no OOM kill, no copy left ($out)" \
		"${peak:-0}" -gt "$max" -a "$after" = "$max" -a "${oom:-1}" -eq 0 -a "$left" -eq 0

	nb_run_case "$limit" $nestbox rm -f snapconf
	local last
	last=$(awk '{ n = $2 } END { print n + 0 }' "$vol/log")
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snapconf2
	first=
	[ "$status" -ne 0 ] || { snap_until 120 snapconf2 $((last + 2)) && first=$(snap_first snapconf2); }
	seen=$(pgrep -u $warm_uid -f "^$nestbox " | wc -l)
	out="status $status; first tick $first (snapshot at $at); VMMs as $warm_uid: $seen; /data/log: tick $last at the source's end, $(tail -1 "$vol/log") now"
	expect e2e_snapshot_confined_restore "an unconfined restore goes on from the snapshot's tick, writing on through the fd its workload held in the -v directory ($out)" \
		"$status" -eq 0 -a -n "$first" -a "${first:-0}" -le $((at + 1)) -a "$seen" -eq 0 \
		-a "$(awk '{ n = $2 } END { print n + 0 }' "$vol/log")" -gt "$last"

	nb_run_case "$limit" $nestbox rm -f snapconf2
	rm -rf "$dir" "$vol"
	sleep 1
	out="group $g: $([ -e "$g" ] && echo left || echo gone); VMs: $(ls "$NESTBOX_RUN_DIR/vm" 2>/dev/null | wc -l)"
	expect e2e_snapshot_confined_cleanup "rm -f leaves neither its group nor a VM directory ($out)" \
		"$status" -eq 0 -a "$out" = "group $g: gone; VMs: 0"
	rmdir /sys/fs/cgroup/$warm_cg 2>/dev/null
	unset NESTBOX_RUN_DIR NESTBOX_CACHE_DIR
}

# snap_start VM "CASES" RUN-ARGS...: `nestbox run -d --name VM RUN-ARGS`;
# true once VM's log reached tick 2, else each of CASES is skipped, naming
# why, and VM removed.
snap_start() {
	local vm=$1 cases=$2
	shift 2
	nb_run_case "$limit" $nestbox run -d --name "$vm" "$@"
	[ "$status" -eq 0 ] && snap_until 180 "$vm" 2 && return 0
	for c in $cases; do skip "$c" "VM $vm did not start (status $status: $(tail -c 200 <<<"$err"))"; done
	$nestbox rm -f "$vm" >/dev/null 2>&1
	return 1
}

# A VM whose root is a directory ($rootfs, copied): nestbox packs it into
# the initramfs, so it lives in guest memory. Snapshotted, meta.json has
# no image digest; with the directory gone, the restore goes on from the
# snapshot's tick with the file its workload wrote to its root.
e2e_snapshot_rootdir() {
	local dir=$nb_tmp/snaprootdir root=$nb_tmp/snaproot at first
	export NESTBOX_RUN_DIR=$nb_tmp/snaprootdir-run NESTBOX_CACHE_DIR=$nb_tmp/warm-cache
	rm -rf "$dir" "$root"
	cp -a "$rootfs" "$root"
	snap_start snaprd "$snap_rootdir_cases" "$root" -- /bin/sh -c \
		'echo made-in-root >/marker; i=0; while :; do i=$((i+1)); echo "tick $i $(cat /marker)"; sleep 1; done' ||
		return
	nb_run_case "$limit" $nestbox snapshot snaprd "$dir"
	at=$(snap_tick snaprd)
	expect e2e_snapshot_rootdir_take "a VM on a root directory is snapshotted; meta.json names the directory, with no image digest" \
		"$status" -eq 0 -a -s "$dir/memory" -a "$(jq -r '.image + " [" + .digest + "]"' "$dir/meta.json" 2>/dev/null)" = "$root []"
	nb_run_case "$limit" $nestbox rm -f snaprd
	rm -rf "$root"
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snaprd2
	first=
	[ "$status" -ne 0 ] || { snap_until 120 snaprd2 $((at + 2)) && first=$(snap_first snaprd2); }
	out="status $status; first tick $first (snapshot at $at); $($nestbox logs snaprd2 2>/dev/null | tail -1)"
	expect e2e_snapshot_rootdir_restore "with the directory gone, the restore goes on from the snapshot's tick with its root's file ($out)" \
		"$status" -eq 0 -a -n "$first" -a "${first:-0}" -le $((at + 1)) \
		-a -n "$($nestbox logs snaprd2 2>/dev/null | tail -1 | grep ' made-in-root$')"
	$nestbox rm -f snaprd2 >/dev/null 2>&1
	rm -rf "$dir"
	unset NESTBOX_RUN_DIR NESTBOX_CACHE_DIR
}

# VmLck and VmRSS of VM $1's VMM, in KiB: "LCK RSS".
snap_vmm_mem() {
	local pid
	pid=$($nestbox inspect "$1" 2>/dev/null | jq -r '.[0].State.Pid' 2>/dev/null)
	awk '$1 == "VmLck:" { l = $2 } $1 == "VmRSS:" { r = $2 } END { print l + 0, r + 0 }' \
		"/proc/${pid:-0}/status" 2>/dev/null
}

# Guaranteed RAM (--memory-prealloc: every page faulted in and locked, no
# balloon) snapshotted: meta.json says the VM had no balloon, so its
# restores have its devices; a restore with --memory-prealloc reads the
# memory file into locked RAM of its own, one without maps it on demand;
# both go on from the snapshot's tick with what the guest wrote. A clone
# of a template (which has a balloon) with --memory-prealloc runs too.
e2e_snapshot_prealloc() {
	local img=$1 dir=$nb_tmp/snappre at first1 first2 m1 m2 ram
	export NESTBOX_RUN_DIR=$nb_tmp/snappre-run NESTBOX_CACHE_DIR=$nb_tmp/warm-cache
	rm -rf "$dir"
	snap_start snappre "$snap_pre_cases" --memory 64m --memory-prealloc "$img" -- \
		'echo kept >/dev/shm/m; i=0; while :; do i=$((i+1)); echo "tick $i $(cat /dev/shm/m)"; sleep 1; done' ||
		return
	m1=$(snap_vmm_mem snappre)
	nb_run_case "$limit" $nestbox snapshot snappre "$dir"
	at=$(snap_tick snappre)
	ram=$(($(jq -r .memory "$dir/meta.json" 2>/dev/null || echo 0) / 1024))
	expect e2e_snapshot_prealloc_take "a --memory-prealloc VM (VmLck, VmRSS: $m1 KiB) is snapshotted; meta.json says it had no balloon" \
		"$status" -eq 0 -a -s "$dir/memory" -a "$(jq -r .balloon "$dir/meta.json" 2>/dev/null)" = false \
		-a "${m1% *}" -ge "$ram" -a "$ram" -gt 0
	nb_run_case "$limit" $nestbox rm -f snappre

	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snappre1 --memory-prealloc
	local s1=$status
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snappre2
	local s2=$status
	snap_until 120 snappre1 $((at + 2)) && snap_until 120 snappre2 $((at + 2))
	first1=$(snap_first snappre1) first2=$(snap_first snappre2)
	m1=$(snap_vmm_mem snappre1) m2=$(snap_vmm_mem snappre2)
	out="status $s1, first tick $first1 (snapshot at $at), VmLck VmRSS $m1 KiB of $ram; $($nestbox logs snappre1 2>/dev/null | tail -1)"
	expect e2e_snapshot_prealloc_restore "a restore with --memory-prealloc has all guest RAM locked and goes on from the snapshot with its /dev/shm ($out)" \
		"$s1" -eq 0 -a -n "$first1" -a "${first1:-0}" -le $((at + 1)) -a "${m1% *}" -ge "$ram" \
		-a -n "$($nestbox logs snappre1 2>/dev/null | tail -1 | grep ' kept$')"
	out="status $s2, first tick $first2, VmLck VmRSS $m2 KiB of $ram; $($nestbox logs snappre2 2>/dev/null | tail -1)"
	expect e2e_snapshot_prealloc_on_demand "a restore without it maps the memory file on demand (nothing locked, RSS below RAM) and goes on ($out)" \
		"$s2" -eq 0 -a -n "$first2" -a "${first2:-0}" -le $((at + 1)) -a "${m2% *}" -eq 0 \
		-a "${m2#* }" -lt "$ram" -a -n "$($nestbox logs snappre2 2>/dev/null | tail -1 | grep ' kept$')"
	$nestbox rm -f snappre1 snappre2 >/dev/null 2>&1
	rm -rf "$dir"

	nb_run_case "$limit" $nestbox template create snappret "$img"
	nb_run_case "$limit" $nestbox fn --template snappret --memory-prealloc -- 'echo clone-ok; grep VmallocTotal /proc/meminfo >/dev/null && echo meminfo'
	expect e2e_snapshot_prealloc_clone "fn from a template (with a balloon) with --memory-prealloc runs: the restore keeps the template's devices" \
		"$status" -eq 0 -a "$(jq -r .stdout <<<"$out" 2>/dev/null)" = "clone-ok
meminfo"
	$nestbox template rm snappret >/dev/null 2>&1
	unset NESTBOX_RUN_DIR NESTBOX_CACHE_DIR
}

# A VM with two -v disk images (ext4): a read-write one its workload
# appends a tick to once a second through an fd it holds (synced), and a
# read-only one it reads. Snapshotted: both disks copied into DIR while
# the VM holds, the guest's block cache and the files in step. A restore
# needs a new path for the read-write disk (refused without, and for a
# file that exists); with -v NEWFILE:/data it goes on from the snapshot's
# tick on its own copy, reading the read-only disk from DIR. Booted again
# on NEWFILE, the log is whole: ticks 1..N without a gap or a repeat (the
# source's ticks after the snapshot are not in it).
e2e_snapshot_disk() {
	local img=$1 dir=$nb_tmp/snapdisk d=$nb_tmp/snapdisk-vol at first log
	export NESTBOX_RUN_DIR=$nb_tmp/snapdisk-run NESTBOX_CACHE_DIR=$nb_tmp/warm-cache
	rm -rf "$dir" "$d"
	mkdir -p "$d/ro-src" && echo ro-content >"$d/ro-src/hello"
	truncate -s 64M "$d/data.img" && mkfs.ext4 -q "$d/data.img" &&
		mkfs.ext4 -q -d "$d/ro-src" "$d/ro.img" 8M >/dev/null
	snap_start snapdisk "$snap_disk_cases" -v "$d/data.img:/data" -v "$d/ro.img:/ro:ro" "$img" -- \
		'exec 3>>/data/log; i=0; while :; do i=$((i+1)); echo "tick $i" >&3; sync; echo "tick $i $(cat /ro/hello)"; sleep 1; done' ||
		return
	nb_run_case "$limit" $nestbox snapshot snapdisk "$dir"
	at=$(snap_tick snapdisk)
	snap_until 60 snapdisk $((at + 2))
	expect e2e_snapshot_disk_take "a VM with -v disks is snapshotted and runs on; DIR holds both disks' copies, meta.json records them ($(jq -c .volumes "$dir/meta.json" 2>/dev/null))" \
		"$status" -eq 0 -a -s "$dir/disk-0" -a -s "$dir/disk-1" -a "$(snap_tick snapdisk)" -ge $((at + 2)) \
		-a "$(jq -r '.volumes | join(" ")' "$dir/meta.json" 2>/dev/null)" = "disk-0 /data rw disk-1 /ro ro"
	nb_run_case "$limit" $nestbox rm -f snapdisk

	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snapdisk2
	expect e2e_snapshot_disk_needs_file "a restore without a new path for the read-write disk is refused (125), saying what to give; no VM left" \
		"$status" -eq 125 -a -n "$(grep -F 'give the restore -v NEWFILE:/data' <<<"$err")" \
		-a -z "$(ls "$NESTBOX_RUN_DIR/vm" 2>/dev/null)"
	: >"$d/exists.img"
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snapdisk2 -v "$d/exists.img:/data"
	expect e2e_snapshot_disk_file_exists "a restore onto a file that exists is refused (125), naming it; the file untouched" \
		"$status" -eq 125 -a -n "$(grep -F "$d/exists.img exists" <<<"$err")" -a ! -s "$d/exists.img"

	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snapdisk2 -v "$d/new.img:/data"
	first=
	[ "$status" -ne 0 ] || { snap_until 120 snapdisk2 $((at + 3)) && first=$(snap_first snapdisk2); }
	out="status $status; first tick $first (snapshot at $at); $($nestbox logs snapdisk2 2>/dev/null | tail -1)"
	expect e2e_snapshot_disk_restore "the restore on -v NEWFILE:/data goes on from the snapshot's tick, the read-only disk read from the snapshot ($out)" \
		"$status" -eq 0 -a -n "$first" -a "${first:-0}" -le $((at + 1)) -a -s "$d/new.img" \
		-a -n "$($nestbox logs snapdisk2 2>/dev/null | tail -1 | grep ' ro-content$')"
	$nestbox stop snapdisk2 >/dev/null 2>&1
	$nestbox rm -f snapdisk2 >/dev/null 2>&1
	nb_run_case "$limit" $nestbox run -v "$d/new.img:/data" "$img" -- 'cat /data/log'
	log=$(awk '$1 == "tick" { if ($2 != ++n) bad = 1 } END { print (bad ? "gap or repeat at line " n : n + 0) }' <<<"$out")
	expect e2e_snapshot_disk_consistent "booted again on NEWFILE, /data/log is ticks 1..N with no gap or repeat ($log lines; the snapshot at $at)" \
		"$status" -eq 0 -a -n "$(grep -E '^[0-9]+$' <<<"$log")" -a "${log:-0}" -gt $((at + 1))
	rm -rf "$dir" "$d"
	unset NESTBOX_RUN_DIR NESTBOX_CACHE_DIR
}

# A VM with a -v directory snapshotted while its workload holds a file of
# it open (fd 3, O_APPEND) and its working directory in it; the restore
# shares the same directory again: the held file and the working directory
# go on where they were (vmm/virtio/fs_state.c). The directory's name has a
# ':' (given with --mount, as -v cannot), which meta.json must keep.
e2e_snapshot_volume() {
	local img=$1 dir=$nb_tmp/snapvol vol=$nb_tmp/snap:vol meta
	export NESTBOX_RUN_DIR=$nb_tmp/snaprun NESTBOX_CACHE_DIR=$nb_tmp/warm-cache
	rm -rf "$vol" "$dir"
	mkdir -p "$vol"
	echo before >"$vol/in"

	# answers each "go" file with a line of "in", through fd 3 (opened once)
	nb_run_case "$limit" $nestbox run -d --name snapvol --mount "type=bind,source=$vol,target=/data" "$img" -- \
		'exec 3>>/data/out; cd /data; while :; do if [ -e go ]; then cat in >&3; rm go; fi; sleep 0.2; done'
	[ "$status" -ne 0 ] || snap_vol_answer 120 before
	if [ "$status" -ne 0 ] || ! grep -qx before "$vol/out" 2>/dev/null; then
		for c in $snap_vol_cases; do skip "$c" "the VM with a volume did not answer (status $status: $(tail -c 200 <<<"$err"))"; done
		$nestbox rm -f snapvol >/dev/null 2>&1
		return
	fi
	nb_run_case "$limit" $nestbox snapshot snapvol "$dir"
	meta=$(jq -c .volumes "$dir/meta.json" 2>/dev/null)
	expect e2e_snapshot_volume_take "a VM with -v DIR is snapshotted; meta.json records the directory ($meta)" \
		"$status" -eq 0 -a "$meta" = "[\"$(realpath "$vol")\",\"/data\",\"rw\"]"
	nb_run_case "$limit" $nestbox rm -f snapvol

	echo restored >"$vol/in"
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snapvol2
	# "in" changed while the VM was saved: the guest sees that once its
	# cached attributes expire, 1 s of its own running time (README)
	sleep 2
	[ "$status" -ne 0 ] || snap_vol_answer 120 restored
	out="status $status; out: $(tr '\n' ' ' <"$vol/out")"
	expect e2e_snapshot_volume_restore "the restore shares the directory again: the workload's open file and working directory go on ($out)" \
		"$status" -eq 0 -a "$(tr '\n' ' ' <"$vol/out")" = "before restored "

	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snapvol3 -v "$nb_tmp:/other"
	expect e2e_snapshot_volume_own_v "a restore's -v for a GUEST the snapshot has no volume at is refused (125), naming it" \
		"$status" -eq 125 -a -n "$(grep -F "no volume at /other" <<<"$err")"

	# the directory moved (a copy elsewhere): -v NEWHOST:GUEST; the held
	# file and the working directory are reopened beneath the new one
	nb_run_case "$limit" $nestbox rm -f snapvol2
	local moved=$nb_tmp/snapmoved
	rm -rf "$moved"
	cp -a "$vol" "$moved"
	echo moved >"$moved/in"
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snapvol5 -v "$moved:/data/"
	sleep 2
	[ "$status" -ne 0 ] || snap_vol_answer 120 moved "$moved"
	out="status $status; moved: $(tr '\n' ' ' <"$moved/out"); source: $(tr '\n' ' ' <"$vol/out")"
	expect e2e_snapshot_volume_moved "a restore with -v NEWHOST:GUEST shares the copy: the open file and working directory go on there, the source is untouched ($out)" \
		"$status" -eq 0 -a "$(tr '\n' ' ' <"$moved/out")" = "before restored moved " \
		-a "$(tr '\n' ' ' <"$vol/out")" = "before restored "
	nb_run_case "$limit" $nestbox rm -f snapvol5
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snapvol6 -v "$moved:/data:ro"
	local mode_status=$status mode_err=$err
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snapvol6 -v "$moved/in:/data"
	expect e2e_snapshot_volume_move_refused "refused (125), naming why: a moved directory with another mode ($mode_status), a file for a directory ($status)" \
		"$mode_status" -eq 125 -a -n "$(grep -F "mounted read-write" <<<"$mode_err")" \
		-a "$status" -eq 125 -a -n "$(grep -F "not a directory" <<<"$err")"
	rm -rf "$moved"
	mv "$vol" "$vol.moved"
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snapvol4
	expect e2e_snapshot_volume_gone "a restore whose directory is gone is refused (125), naming it" \
		"$status" -eq 125 -a -n "$(grep -F "$vol" <<<"$err")"
	mv "$vol.moved" "$vol"

	# a clone with -v (in its template's share slot) is snapshotted the same way
	local answered=
	rm -f "$vol/out" "$vol/go"
	echo clone >"$vol/in"
	nb_run_case "$limit" $nestbox template create snapvolt "$img"
	[ "$status" -ne 0 ] || nb_run_case "$limit" $nestbox run --template snapvolt -d --name snapvolc \
		--mount "type=bind,source=$vol,target=/data" -- \
		'exec 3>>/data/out; cd /data; while :; do if [ -e go ]; then cat in >&3; rm go; fi; sleep 0.2; done'
	[ "$status" -ne 0 ] || ! snap_vol_answer 120 clone || answered=clone
	[ -z "$answered" ] || nb_run_case "$limit" $nestbox snapshot snapvolc "$dir-clone"
	[ "$status" -ne 0 ] || nb_run_case "$limit" $nestbox rm -f snapvolc
	echo clone-restored >"$vol/in"
	[ "$status" -ne 0 ] || nb_run_case "$limit" $nestbox run --restore "$dir-clone" -d --name snapvolc2
	sleep 2
	[ "$status" -ne 0 ] || snap_vol_answer 120 clone-restored
	out="status $status; out: $(tr '\n' ' ' <"$vol/out" 2>/dev/null)"
	expect e2e_snapshot_volume_clone "a clone with -v (a share slot) is snapshotted and restored sharing its directory ($out)" \
		"$status" -eq 0 -a "$(tr '\n' ' ' <"$vol/out" 2>/dev/null)" = "clone clone-restored "
	$nestbox rm -f snapvolc snapvolc2 >/dev/null 2>&1
	$nestbox template rm snapvolt >/dev/null 2>&1

	nb_run_case "$limit" $nestbox rm -f snapvol3 snapvol4 snapvol6
	out="$(ls "$NESTBOX_RUN_DIR/vm" 2>/dev/null | wc -l) $(pgrep -c -f "^$nestbox " 2>/dev/null)"
	expect e2e_snapshot_volume_cleanup "nothing left: no VM directory, no nestbox process ($out)" \
		"$(echo "$out" | tr -d ' ')" = 00
	rm -rf "$dir" "$dir-clone" "$vol"
	unset NESTBOX_RUN_DIR NESTBOX_CACHE_DIR
}

# snap_vol_answer SECONDS LINE [DIR]: ask the volume VM (touch go in DIR,
# the snapshot's directory by default), wait until its out file ends with LINE.
snap_vol_answer() {
	local end=$((SECONDS + $1)) d=${3:-$nb_tmp/snap:vol}
	touch "$d/go"
	until [ "$(tail -n 1 "$d/out" 2>/dev/null)" = "$2" ]; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.5
	done
}

# The first line of $2 matching the extended regex $1, its match only.
first_match() { grep -oE "$1" <<<"$2" | head -1; }

# Per-clone networking: a template made with --network NAME has a NIC,
# unplugged; each clone plugs in a tap of its own, gets its own lease (MAC
# and address) and reaches the gateway, the host and the other clones.
e2e_warm_net() {
	local img=$1 t=wnet$$ ip_re='inet 10\.88\.31\.[0-9]+' mac_re='^([0-9a-f]{2}:){5}[0-9a-f]{2}$'
	local a_out= a_ip a_mac b_ip b_mac refused
	export NESTBOX_CACHE_DIR=$nb_tmp/warm-cache NESTBOX_NETWORK_DIR=$nb_tmp/warm-networks
	export NESTBOX_RUN_DIR=$nb_tmp/warm-net-run

	nb_run_case 30 $nestbox network create wn --subnet 10.88.31.0/24
	[ "$status" -eq 0 ] &&
		nb_run_case "$limit" $nestbox template create "$t" "$img" --network wn
	[ "$status" -eq 0 ] && out=$($nestbox template ls 2>&1)
	[ "$status" -eq 0 ] &&
		out+=$'\n'$($nestbox template ls --format json | jq -r "select(.name == \"$t\") | \"json \\(.network) \\(.vsock) \\(.max_volumes)\"")
	expect e2e_warm_net_template "template create --network NAME: a template with a NIC, its network in meta.json and template ls (table; json with vsock and four volume slots)" \
		"$status" -eq 0 -a "$(jq -r .network "$NESTBOX_CACHE_DIR/templates/$t/meta.json" 2>/dev/null)" = wn -a \
		-n "$(grep -E "^$t +.* wn +[0-9]{4}-" <<<"$out")" -a -n "$(grep -x 'json wn true 4' <<<"$out")"
	if [ "$status" -ne 0 ]; then
		for c in $warm_net_cases; do [ "$c" = e2e_warm_net_template ] || skip "$c" "no template"; done
		$nestbox network rm wn >/dev/null 2>&1
		unset NESTBOX_CACHE_DIR NESTBOX_NETWORK_DIR NESTBOX_RUN_DIR
		return
	fi

	# Clone A prints its address and MAC, then serves HTTP on port 80.
	nb_run_case "$limit" $nestbox run -d --name wna --template "$t" -- \
		'busybox ip -4 -o addr show eth0; cat /sys/class/net/eth0/address; busybox mkdir -p /w &&
		 echo hello-wna >/w/index.html && exec busybox httpd -f -p 80 -h /w'
	for _ in $(seq 240); do
		a_out=$($nestbox logs wna 2>/dev/null)
		grep -qE "$mac_re" <<<"$a_out" && break
		sleep 0.5
	done
	a_ip=$(first_match "$ip_re" "$a_out" | cut -d' ' -f2)
	a_mac=$(first_match "$mac_re" "$a_out")

	# Clone B, in the foreground: its own lease, A's page, the gateway.
	nb_run_case "$limit" $nestbox run --template "$t" -- \
		"busybox ip -4 -o addr show eth0; cat /sys/class/net/eth0/address
		 echo \"page=\$(printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 10 $a_ip 80 | busybox tail -n 1)\"
		 busybox ping -c 1 -W 5 10.88.31.1 >/dev/null && echo gw-ok"
	b_ip=$(first_match "$ip_re" "$out" | cut -d' ' -f2)
	b_mac=$(first_match "$mac_re" "$out")
	expect e2e_warm_net_clone "a clone of a --network template has eth0 up on the network and reaches its gateway" \
		"$status" -eq 0 -a -n "$b_ip" -a -n "$(grep -x gw-ok <<<"$out")"
	out="$out; A: $a_ip $a_mac; B: $b_ip $b_mac"
	expect e2e_warm_net_clones_differ "two clones of one template have their own address and MAC" \
		-n "$a_ip" -a -n "$a_mac" -a -n "$b_mac" -a "$a_ip" != "$b_ip" -a "$a_mac" != "$b_mac"
	expect e2e_warm_net_clone_to_clone "a clone reaches another clone of its template (HTTP)" \
		-n "$(grep -x page=hello-wna <<<"$out")"
	out=$(curl -s -m 10 "http://$a_ip/" 2>&1)
	expect e2e_warm_net_host_reaches "the host reaches a clone at its own address" "$out" = hello-wna

	nb_run_case "$limit" $nestbox fn --template "$t" -- 'busybox ip -4 -o addr show eth0'
	expect e2e_warm_net_fn "fn from a --network template: the clone is on the network" \
		"$status" -eq 0 -a -n "$(jf .stdout | grep -oE "$ip_re")"
	nb_run_case "$limit" $nestbox fn --template "$t" --network none -- "ls /sys/class/net | tr '\n' ' '"
	expect e2e_warm_net_none "fn --network none from a --network template: only lo" \
		"$status" -eq 0 -a "$(jf .stdout)" = "lo "

	# serve: two pool clones on the network, two callers at once.
	local sock=$nb_tmp/wn.sock spid lines
	$nestbox serve --socket "$sock" --template "$t" --pool 2 2>"$nb_tmp/wn-serve.err" &
	spid=$!
	for _ in $(seq 120); do [ -S "$sock" ] && break; sleep 0.5; done
	nb_input=$(
		cat <<'PY'
import json, socket, sys, threading
cmd = ("busybox ip -4 -o addr show eth0 | busybox grep -o 'inet [0-9.]*'; "
       "busybox ping -c 1 -W 5 10.88.31.1 >/dev/null && echo gw-ok")
got = [None, None]
def call(i):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(300)
    s.connect(sys.argv[1])
    s.sendall(json.dumps({"argv": [cmd], "timeout": 120}).encode() + b"\n")
    got[i] = json.loads(s.makefile("rb").readline())
    s.close()
threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for r in got:
    print((r or {}).get("stdout", "").replace("\n", " ") + str((r or {}).get("error", "")))
PY
	) nb_run_case "$limit" python3 - "$sock"
	kill -TERM "$spid"
	warm_reap "$spid"
	lines=$(grep -c 'inet 10\.88\.31\.[0-9]* gw-ok' <<<"$out")
	err+=$(tail -c 300 "$nb_tmp/wn-serve.err")
	expect e2e_warm_net_serve "serve of a --network template: two pool clones, each on the network with its own address" \
		"$status" -eq 0 -a "$lines" = 2 -a "$(grep -oE 'inet [0-9.]+' <<<"$out" | sort -u | wc -l)" = 2

	# What a clone or a template cannot have, each said clearly (125).
	refused=
	if [ -d "$NESTBOX_CACHE_DIR/templates/warm$$" ]; then
		nb_run_case "$limit" $nestbox run --template "warm$$" --network wn -- true
		[ "$status" -eq 125 ] && grep -q 'has no network device' <<<"$err" && refused+=nonic,
	else
		refused+=nonic,
	fi
	nb_run_case "$limit" $nestbox template create "$t-p" "$img" --network wn -p 8080:80
	[ "$status" -eq 125 ] && grep -q 'takes --network NAME only' <<<"$err" && refused+=publish,
	nb_run_case "$limit" $nestbox template create "$t-x" "$img" --network nosuchnet
	[ "$status" -eq 125 ] && grep -q 'nosuchnet' <<<"$err" &&
		[ ! -e "$NESTBOX_CACHE_DIR/templates/$t-x" ] && refused+=nonet,
	out="refused: $refused; $err"
	expect e2e_warm_net_refused "refused: a NIC for a clone of a template without one, -p at template create, a network that is not there" \
		"$refused" = nonic,publish,nonet,

	nb_run_case "$limit" $nestbox rm -f wna
	nb_run_case 30 $nestbox network rm wn
	left=$(warm_net_left)
	out="$out; left: $left"
	expect e2e_warm_net_cleanup "rm -f of the clone and network rm: no tap, lease or VM directory left" \
		"$status" -eq 0 -a -z "$(tr -d ' ' <<<"$left")"
	unset NESTBOX_CACHE_DIR NESTBOX_NETWORK_DIR NESTBOX_RUN_DIR
}

# What the network cases may leave: taps, leases, VM directories.
warm_net_left() {
	ip -o link show | grep -oE ' (nbt[0-9]+)[:@]' | tr '\n' ' '
	ls "$NESTBOX_NETWORK_DIR/leases" "$NESTBOX_RUN_DIR/vm" 2>/dev/null | grep -v ':$' | tr '\n' ' '
}

# The address VM $1 last printed ("addr A" lines once a second), or empty.
# A snapshotted VM's workload: "hello-snap" over HTTP on port 80, and once
# a second a line "addr ADDRESS default via GATEWAY" of eth0's (none: no
# address; the route part empty without one).
# shellcheck disable=SC2016 # expanded by the guest's shell
snap_web_sh='busybox mkdir -p /w && echo hello-snap >/w/index.html;
	(while :; do a=$(busybox ip -4 -o addr show eth0 | busybox grep -o "inet [0-9.]*" | busybox cut -d" " -f2)
	 echo "addr ${a:-none} $(busybox ip route | busybox grep -o "^default via [0-9.]*")"; sleep 1; done) &
	exec busybox httpd -f -p 80 -h /w'
snap_addr() {
	timeout -s KILL 60 $nestbox logs "$1" 2>/dev/null | awk '$1 == "addr" { a = $2 } END { print a }'
}
# snap_addr_not SECONDS VM A: wait until VM prints an address other than A.
snap_addr_not() {
	local end=$((SECONDS + $1)) a
	while :; do
		a=$(snap_addr "$2")
		[ -n "$a" ] && [ "$a" != "$3" ] && break
		[ $SECONDS -lt $end ] || break
		sleep 0.5
	done
	echo "$a"
}

# A VM on a network snapshotted and restored: each restore joins the
# network with a lease of its own, nestbox-init re-addresses the running
# guest's eth0, and the VM's -p ports come along (or the restore's own).
e2e_snapshot_net() {
	local img=$1 dir=$nb_tmp/snapnet src= c1 c2 c3 c4 got left
	export NESTBOX_RUN_DIR=$nb_tmp/snapnet-run NESTBOX_CACHE_DIR=$nb_tmp/warm-cache
	export NESTBOX_NETWORK_DIR=$nb_tmp/warm-networks

	nb_run_case 30 $nestbox network create sn --subnet 10.88.33.0/24
	[ "$status" -eq 0 ] &&
		nb_run_case "$limit" $nestbox run -d --name sns --network sn -p 18090:80 "$img" -- "$snap_web_sh"
	[ "$status" -eq 0 ] && src=$(snap_addr_not 120 sns none)
	[ -n "$src" ] && nb_run_case "$limit" $nestbox snapshot sns "$dir"
	got=$(curl -s -m 10 "http://127.0.0.1:18090/" 2>&1)
	out="$out; source at $src, port 18090: $got; meta: $(jq -c '[.network, .network_options]' "$dir/meta.json" 2>&1)"
	expect e2e_snapshot_net_take "snapshot of a VM on a network (-p 18090:80): meta.json records the network and its options" 		"$status" -eq 0 -a -n "$src" -a "$got" = hello-snap -a 		"$(jq -r '.network + " " + (.network_options | join(" "))' "$dir/meta.json" 2>/dev/null)" = "sn -p 0.0.0.0:18090:80/tcp"
	if [ "$status" -ne 0 ] || [ -z "$src" ]; then
		for c in $snap_net_cases; do [ "$c" = e2e_snapshot_net_take ] || skip "$c" "no snapshot"; done
		$nestbox rm -f sns >/dev/null 2>&1
		$nestbox network rm sn >/dev/null 2>&1
		unset NESTBOX_RUN_DIR NESTBOX_CACHE_DIR NESTBOX_NETWORK_DIR
		return
	fi

	# The source still holds 18090: a restore that keeps it is refused.
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snc0
	out="$out; VMs: $($nestbox ps -a -q 2>&1 | wc -l)"
	expect e2e_snapshot_net_port_held "a restore whose recorded -p port the source still holds is refused, and leaves no VM" 		"$status" -eq 125 -a -n "$(grep -o 'already published' <<<"$err")" -a -n "$(grep -o "snapshot's -p" <<<"$err")" \
		-a "$($nestbox ps -a -q 2>/dev/null | wc -l)" = 1

	# Two restores with their own ports: each its own address, reached.
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snc1 -p 18091:80
	c1=$status
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snc2 -p 18092:80
	c2=$status
	c1="$c1 $(snap_addr_not 120 snc1 "$src")"
	c2="$c2 $(snap_addr_not 120 snc2 "$src")"
	got="$(curl -s -m 10 "http://${c1#* }/") $(curl -s -m 10 "http://${c2#* }/")"
	got+=" $(curl -s -m 10 http://127.0.0.1:18091/) $(curl -s -m 10 http://127.0.0.1:18092/)"
	status=0 out="source $src; restore 1: status+address $c1, restore 2: $c2; pages: $got" err=
	expect e2e_snapshot_net_restore_twice "two restores of a VM on a network: each re-addressed to a lease of its own, reached at it and at its own -p port" 		"${c1% *}" -eq 0 -a "${c2% *}" -eq 0 -a -n "${c1#* }" -a -n "${c2#* }" -a "${c1#* }" != "$src" 		-a "${c2#* }" != "$src" -a "${c1#* }" != "${c2#* }" 		-a "$got" = "hello-snap hello-snap hello-snap hello-snap"
	got="$(snap_addr sns) $(curl -s -m 10 "http://$src/")"
	out="source: $got"
	expect e2e_snapshot_net_source_unchanged "the snapshotted VM keeps its address and answers at it" 		"$got" = "$src hello-snap"

	# The source gone: a restore without -p publishes the recorded port.
	# It takes the source's lease again (the lowest free): its first
	# address line, whichever address, says its guest runs on.
	nb_run_case "$limit" $nestbox rm -f sns
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snc3
	c3="$status $(snap_addr_not 120 snc3 none)"
	got=$(curl -sS -m 10 http://127.0.0.1:18090/ 2>&1)
	out="restore 3: status+address $c3; port 18090: $got"
	# what a failure needs to be told apart: the VM's state and last
	# lines, the host's neighbour entries and the port's rules
	[ "$got" = hello-snap ] ||
		out="$out; snc3: $($nestbox ps -a --format json 2>&1 | jq -r 'select(.Names == "snc3") | .Status' 2>&1)
		$(timeout -s KILL 60 $nestbox logs snc3 2>&1 | tail -3 | tr '\n' '|'); neigh: $(ip neigh | grep 10.88.33 | tr '\n' '|');
		nft: $(nft list ruleset 2>&1 | grep -c 18090) rules"
	expect e2e_snapshot_net_keeps_port "with the source gone, a restore publishes the snapshot's port 18090:80 again" 		"${c3% *}" -eq 0 -a -n "${c3#* }" -a "$got" = hello-snap

	# --network none: the NIC unplugged, eth0 without an address.
	nb_run_case "$limit" $nestbox run --restore "$dir" -d --name snc4 --network none
	c4="$status $(snap_addr_not 120 snc4 "$src")"
	out="restore 4: status+address $c4"
	expect e2e_snapshot_net_none "run --restore --network none: eth0 loses its address" 		"$c4" = "0 none"

	nb_run_case "$limit" $nestbox rm -f snc1 snc2 snc3 snc4
	nb_run_case 30 $nestbox network rm sn
	rm -rf "$dir"
	left=$(warm_net_left)
	out="$out; left: $left"
	expect e2e_snapshot_net_cleanup "rm -f of the restores and network rm: no tap, lease or VM directory left" \
		"$status" -eq 0 -a -z "$(tr -d ' ' <<<"$left")"
	unset NESTBOX_RUN_DIR NESTBOX_CACHE_DIR NESTBOX_NETWORK_DIR
}

if ! command -v jq >/dev/null; then
	for c in $warm_cases $snap_cases $snap_conf_cases $snap_vol_cases $warm_net_cases $snap_net_cases $snap_tap_cases $snap_pre_cases $snap_disk_cases $snap_rootdir_cases; do skip "$c" "jq missing (scripts/deps.sh)"; done
elif ! warm_imgs=$(tests/images/mkimages.sh 2>/dev/null); then
	for c in $warm_cases $snap_cases $snap_conf_cases $snap_vol_cases $warm_net_cases $snap_net_cases $snap_tap_cases $snap_pre_cases $snap_disk_cases $snap_rootdir_cases; do
		skip "$c" "test images not built (run tests/run images first)"
	done
else
	e2e_warm "$warm_imgs/busybox"
	e2e_snapshot "$warm_imgs/busybox"
	e2e_snapshot_confined "$warm_imgs/busybox"
	e2e_snapshot_prealloc "$warm_imgs/busybox"
	e2e_snapshot_rootdir
	if command -v mkfs.ext4 >/dev/null; then
		e2e_snapshot_disk "$warm_imgs/busybox"
	else
		for c in $snap_disk_cases; do skip "$c" "mkfs.ext4 (e2fsprogs) missing"; done
	fi
	e2e_snapshot_volume "$warm_imgs/busybox"
	if [ "$(id -u)" -ne 0 ] || ! command -v nft >/dev/null || ! command -v curl >/dev/null; then
		for c in $warm_net_cases $snap_net_cases $snap_tap_cases; do skip "$c" "needs root, nft and curl"; done
	else
		e2e_warm_net "$warm_imgs/busybox"
		e2e_snapshot_net "$warm_imgs/busybox"
		e2e_snapshot_tap "$warm_imgs/busybox"
	fi
fi
