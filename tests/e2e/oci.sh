# shellcheck shell=bash
# e2e cases for nestbox as an OCI runtime (issue 14): real podman (Debian's
# 4.3, with conmon) running the busybox image with --runtime build/nestbox.
# Sourced by tests/e2e/run.sh, which sets $nestbox, $rootfs and $limit and
# sources tests/lib/check.sh.

oci_setup() {
	local d
	if ! command -v podman >/dev/null || ! command -v conmon >/dev/null; then
		skip e2e_oci "podman or conmon is not installed (scripts/deps.sh installs them)"
		return 1
	fi
	if [ ! -f build/oci/busybox/index.json ]; then
		skip e2e_oci "no build/oci/busybox (make build/oci/busybox/index.json)"
		return 1
	fi
	# The test host's / is read-only: podman's scratch directories on tmpfs
	# (only where they cannot be written, so a real host is left alone).
	for d in /var/tmp /var/cache /var/lib/containers /var/lib/cni; do
		mkdir -p "$d" 2>/dev/null
		if ! touch "$d/.nb-oci" 2>/dev/null && ! mount -t tmpfs tmpfs "$d" 2>"$nb_tmp/oci-mount"; then
			not_ok e2e_oci "podman's scratch directory $d is neither writable nor mountable: $(cat "$nb_tmp/oci-mount") (scripts/deps.sh creates /var/lib/cni)"
			return 1
		fi
		rm -f "$d/.nb-oci"
	done
	oci_bin=$PWD/$nestbox
	# (networks podman creates go to a scratch directory, not /etc/cni)
	podman_cmd=(podman --root "$nb_tmp/ps" --runroot "$nb_tmp/pr" --storage-driver vfs
		--cgroup-manager cgroupfs --events-backend file --network-config-dir "$nb_tmp/nets")
	oci_run=("${podman_cmd[@]}" run --network none --runtime "$oci_bin")
	nb_run_case "$limit" "${podman_cmd[@]}" pull -q oci:build/oci/busybox:latest
	oci_image=$(tail -n 1 <<<"$out")
	expect e2e_oci_import "podman imports the busybox OCI layout" "$status" -eq 0 -a -n "$oci_image"
	[ "$status" -eq 0 ]
}

oci_cases() {
	nb_run_case "$limit" "${oci_run[@]}" --rm "$oci_image" echo hello from nestbox
	expect e2e_oci_run_output "podman run prints the workload's output, status 0" \
		"$status" -eq 0 -a "$out" = "hello from nestbox"

	nb_run_case "$limit" "${oci_run[@]}" --rm "$oci_image" sh -c 'echo out; echo err >&2; exit 3'
	expect e2e_oci_status_3 "the workload's exit status 3 and both streams" \
		"$status" -eq 3 -a "$out" = out -a -n "$(grep -x err <<<"$err")"

	nb_run_case "$limit" "${oci_run[@]}" --rm "$oci_image" /no/such/command
	expect e2e_oci_status_127 "a missing command is 127" "$status" -eq 127

	# (the workload is PID 1 of its namespace, which SIGKILL from inside
	# does not reach: its child is killed, as with crun)
	# shellcheck disable=SC2016 # expanded by the guest's shell
	nb_run_case "$limit" "${oci_run[@]}" --rm "$oci_image" sh -c 'sh -c "kill -9 \$\$"; exit $?'
	expect e2e_oci_status_137 "a shell's status 137 for a child killed by SIGKILL" "$status" -eq 137

	# shellcheck disable=SC2016
	nb_run_case "$limit" "${oci_run[@]}" --rm -e FOO=bar -u 1234:5678 -w /etc "$oci_image" \
		sh -c 'echo "$FOO:$(id -u):$(id -g):$(pwd)"'
	expect e2e_oci_env_user_workdir "-e, -u and -w reach the workload" \
		"$status" -eq 0 -a "$out" = "bar:1234:5678:/etc"

	nb_run_case "$limit" "${oci_run[@]}" --rm --memory 64m "$oci_image" \
		cat /sys/fs/cgroup/memory.max
	expect e2e_oci_memory "--memory 64m is the container's memory.max in the guest" \
		"$status" -eq 0 -a "$out" = 67108864

	nb_run_case "$limit" "${oci_run[@]}" --rm --read-only "$oci_image" \
		sh -c 'touch /x 2>/dev/null && echo rw || echo ro; touch /tmp/y && echo tmp-rw'
	expect e2e_oci_read_only "--read-only: the root is read-only, /tmp a tmpfs" \
		"$status" -eq 0 -a "$out" = "ro
tmp-rw"

	mkdir -p "$nb_tmp/vol"
	nb_run_case "$limit" "${oci_run[@]}" --rm -v "$nb_tmp/vol:/data" "$oci_image" \
		sh -c 'echo written in the guest > /data/f; ls /data'
	expect e2e_oci_bind_mount "a bind mount written in the guest is read on the host" \
		"$status" -eq 0 -a "$(cat "$nb_tmp/vol/f" 2>/dev/null)" = "written in the guest"

	nb_run_case "$limit" tests/e2e/pty_run.py 24 80 120 -- "${oci_run[@]}" --rm -it "$oci_image" \
		sh -c 'tty; stty size'
	expect e2e_oci_tty "-it: a pty through the console socket, its size the terminal's" \
		"$status" -eq 0 -a -n "$(grep -x /dev/pts/0 <<<"$out")" -a -n "$(grep -x '24 80' <<<"$out")"

	# -d, stop (TERM, trapped: exit 7), rm; the state directory is gone
	nb_run_case "$limit" "${oci_run[@]}" -d --name nb-d1 "$oci_image" \
		sh -c 'trap "exit 7" TERM; echo started; while :; do sleep 1; done'
	local id=$out i
	# stopped once its trap is set (the VM boots for seconds in a slow L1)
	for ((i = 0; i < 120; i++)); do
		"${podman_cmd[@]}" logs nb-d1 2>/dev/null | grep -q started && break
		sleep 0.5
	done
	nb_run_case "$limit" "${podman_cmd[@]}" stop -t 60 nb-d1
	local stop_status=$status
	nb_run_case "$limit" "${podman_cmd[@]}" inspect -f '{{.State.ExitCode}}' nb-d1
	local code=$out
	nb_run_case "$limit" "${podman_cmd[@]}" logs nb-d1
	local logs=$out
	nb_run_case "$limit" "${podman_cmd[@]}" rm nb-d1
	out="stop $stop_status, exit code $code, logs '$logs', rm: $out"
	expect e2e_oci_detach_stop_rm "-d, stop (the trap's status 7), logs, rm leaves no state" \
		"$stop_status" -eq 0 -a "$code" = 7 -a "$logs" = started -a "$status" -eq 0 -a \
		! -e "/run/nestbox-oci/$id"

	nb_run_case "$limit" "${oci_run[@]}" -d --name nb-k1 "$oci_image" sleep 1000
	nb_run_case "$limit" "${podman_cmd[@]}" kill nb-k1
	local kill_status=$status
	nb_run_case "$limit" "${podman_cmd[@]}" wait nb-k1
	local wait_out=$out
	nb_run_case "$limit" "${podman_cmd[@]}" rm -f nb-k1
	expect e2e_oci_kill "podman kill ends the VM: 137" \
		"$kill_status" -eq 0 -a "$wait_out" = 137 -a "$status" -eq 0

	oci_exec_cases
}

# podman exec (conmon calls `nestbox exec --detach --process`): output,
# status, env/user/workdir, -it through the console socket; the container
# keeps running through all of it.
oci_exec_cases() {
	nb_run_case "$limit" "${oci_run[@]}" -d --name nb-x1 "$oci_image" \
		sh -c 'echo started; while :; do sleep 1; done'
	local started=$status i
	for ((i = 0; i < 120; i++)); do
		"${podman_cmd[@]}" logs nb-x1 2>/dev/null | grep -q started && break
		sleep 0.5
	done
	nb_run_case "$limit" "${podman_cmd[@]}" exec nb-x1 sh -c 'echo out; echo err >&2; exit 4'
	expect e2e_oci_exec "podman exec: output, both streams, the exit status 4" \
		"$started" -eq 0 -a "$status" -eq 4 -a "$out" = out -a -n "$(grep -x err <<<"$err")"

	# shellcheck disable=SC2016 # expanded by the guest's shell
	nb_run_case "$limit" "${podman_cmd[@]}" exec -e FOO=bar -u 1234:5678 -w /etc nb-x1 \
		sh -c 'echo "$FOO:$(id -u):$(id -g):$(pwd):$(cat /proc/1/comm)"'
	expect e2e_oci_exec_process "podman exec: -e, -u, -w; the container's processes in view" \
		"$status" -eq 0 -a "$out" = "bar:1234:5678:/etc:sh"

	nb_run_case "$limit" "${podman_cmd[@]}" exec nb-x1 /no/such/command
	expect e2e_oci_exec_127 "podman exec of a missing command is 127" "$status" -eq 127

	nb_run_case "$limit" tests/e2e/pty_run.py 24 80 120 -- "${podman_cmd[@]}" exec -it nb-x1 \
		sh -c 'sleep 2; tty; stty size; exit 6'
	# (podman sizes the terminal once the process runs: the sleep)
	expect e2e_oci_exec_tty "podman exec -it: a pty through the console socket, resized, status 6" \
		"$status" -eq 6 -a -n "$(grep -x '/dev/pts/[0-9]*' <<<"$out")" -a \
		-n "$(grep -x '24 80' <<<"$out")"

	# stdin the process never reads (20 MB offered) holds back neither its
	# 1 MB of output nor its status
	nb_run_case "$limit" bash -c 'set -o pipefail; head -c 20000000 /dev/zero | "$@" | wc -c' \
		_ "${podman_cmd[@]}" exec -i nb-x1 sh -c 'sleep 1; head -c 1000000 /dev/zero; exit 3'
	expect e2e_oci_exec_stdin_unread "podman exec -i, stdin never read: all output, status 3" \
		"$status" -eq 3 -a "$out" = 1000000

	nb_run_case "$limit" "${podman_cmd[@]}" inspect -f '{{.State.Running}}' nb-x1
	local running=$out
	nb_run_case "$limit" "${podman_cmd[@]}" rm -f nb-x1
	expect e2e_oci_exec_running "the container still runs after the execs; rm -f" \
		"$running" = true -a "$status" -eq 0
}

# A bundle in $1: the busybox root as rootfs/, config.json from stdin.
oci_bundle() {
	mkdir -p "$1"
	cp -a "$rootfs" "$1/rootfs"
	cat >"$1/config.json"
}

# The commands themselves, as an engine calls them: create holds the
# process (state created), start runs it, state follows it to stopped,
# kill of a held one ends it with 128+15, delete --force removes all.
oci_lifecycle() {
	local b=$nb_tmp/bundle root=$nb_tmp/ocistate st pid i
	oci_bundle "$b" <<-'EOF'
		{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "hostname": "oci1",
		 "process": {"args": ["sh", "-c", "hostname > /out; sleep 2"], "cwd": "/",
		             "env": ["PATH=/bin:/usr/bin"]},
		 "annotations": {"io.nestbox.vcpus": "2"}}
	EOF
	nb_run_case "$limit" "$nestbox" --root "$root" create --bundle "$b" --pid-file "$b/pid" c1
	local state_json
	state_json=$("$nestbox" --root "$root" state c1)
	st=$(grep '"status"' <<<"$state_json")
	pid=$(cat "$b/pid" 2>/dev/null)
	expect e2e_oci_create "create returns with the process held (created), the pid file written" \
		"$status" -eq 0 -a -n "$(grep created <<<"$st")" -a -n "$pid" -a ! -e "$b/rootfs/out" \
		-a "$(jq -r .bundle,.rootfs <<<"$state_json" | tr '\n' ' ')" = "$b $b/rootfs "
	nb_run_case "$limit" "$nestbox" --root "$root" start c1
	for ((i = 0; i < 300; i++)); do
		"$nestbox" --root "$root" state c1 | grep -q '"stopped"' && break
		sleep 0.2
	done
	st=$("$nestbox" --root "$root" state c1 | grep '"status"')
	expect e2e_oci_start "start runs it (its write lands in the bundle's rootfs), then stopped" \
		"$status" -eq 0 -a -n "$(grep stopped <<<"$st")" -a "$(cat "$b/rootfs/out" 2>/dev/null)" = oci1
	nb_run_case "$limit" "$nestbox" --root "$root" start c1
	local again=$status
	nb_run_case "$limit" "$nestbox" --root "$root" delete c1
	expect e2e_oci_delete "start of a stopped container fails; delete removes it" \
		"$again" -eq 125 -a "$status" -eq 0 -a ! -e "$root/c1"
	oci_exec_direct "$root"
	nb_run_case "$limit" "$nestbox" --root "$root" create --bundle "$b" --pid-file "$b/pid" c2
	nb_run_case "$limit" "$nestbox" --root "$root" kill c2 TERM
	local kill_status=$status
	for ((i = 0; i < 300; i++)); do
		"$nestbox" --root "$root" state c2 | grep -q '"stopped"' && break
		sleep 0.2
	done
	st=$("$nestbox" --root "$root" state c2 | grep '"status"')
	local kill_out="kill $kill_status, $st"
	nb_run_case "$limit" "$nestbox" --root "$root" delete --force c2
	out="$kill_out; delete: $out"
	expect e2e_oci_kill_created "kill of a held process ends its VM; delete --force cleans up" \
		-n "$(grep stopped <<<"$st")" -a "$status" -eq 0 -a ! -e "$root/c2"
	oci_output_unread "$root"
}

# A container whose stdout nobody reads: its process (the VMM) ends with
# SIGPIPE's status and says why on stderr, the engine's log. Its error
# comes after the VM ran, inside the VMM's seccomp sandbox (before: that
# report used dprintf, whose fstat the filter killed: 159, no word).
oci_output_unread() {
	local b=$nb_tmp/bundle-u root=$1
	oci_bundle "$b" <<-'EOF'
		{"ociVersion": "1.0.2", "root": {"path": "rootfs"},
		 "process": {"args": ["sh", "-c", "echo unread; echo to-stderr >&2"], "cwd": "/",
		             "env": ["PATH=/bin:/usr/bin"]}}
	EOF
	nb_run_case "$limit" tests/e2e/oci_unread.py "$nestbox" "$root" "$b" c4
	expect e2e_oci_output_unread "stdout without a reader: the VMM ends with 141 and says so" \
		"$status" -eq 0 -a "$out" = "exited 141" -a \
		-n "$(grep -F "stdout went away (EPIPE)" <<<"$err")"
	"$nestbox" --root "$root" delete --force c4 >/dev/null 2>&1
}

# `nestbox exec` as an engine or a user calls it: a command, a process
# file (env, cwd, user), stdin, the status; refused before start.
oci_exec_direct() {
	local b=$nb_tmp/bundle-x root=$1
	oci_bundle "$b" <<-'EOF'
		{"ociVersion": "1.0.2", "root": {"path": "rootfs"},
		 "process": {"args": ["sleep", "1000"], "cwd": "/", "env": ["PATH=/bin:/usr/bin"]}}
	EOF
	nb_run_case "$limit" "$nestbox" --root "$root" create --bundle "$b" c3
	nb_run_case "$limit" "$nestbox" --root "$root" exec c3 true
	local before=$status
	nb_run_case "$limit" "$nestbox" --root "$root" start c3
	nb_run_case "$limit" "$nestbox" --root "$root" exec c3 sh -c 'echo direct; exit 5'
	expect e2e_oci_exec_direct "nestbox exec ID CMD: output and status 5 (refused before start)" \
		"$before" -eq 125 -a "$status" -eq 5 -a "$out" = direct
	cat >"$b/process.json" <<-'EOF'
		{"args": ["sh", "-c", "echo $FOO $(pwd) $(id -u); cat"], "cwd": "/etc",
		 "env": ["FOO=bar", "PATH=/bin:/usr/bin"], "user": {"uid": 1234, "gid": 5678}}
	EOF
	nb_run_case "$limit" sh -c "echo piped | $nestbox --root $root exec --process $b/process.json c3"
	expect e2e_oci_exec_process_file "exec --process: env, cwd, user; stdin reaches it" \
		"$status" -eq 0 -a "$out" = "bar /etc 1234
piped"
	nb_run_case "$limit" tests/e2e/pty_run.py 24 80 120 -- "$nestbox" --root "$root" exec -t c3 \
		sh -c 'tty; stty size; exit 3'
	expect e2e_oci_exec_direct_tty "exec -t on a terminal: a pty of its size, status 3, restored" \
		"$status" -eq 3 -a -n "$(grep -x '/dev/pts/[0-9]*' <<<"$out")" -a \
		-n "$(grep -x '24 80' <<<"$out")" -a -n "$(grep -x 'pty-mode: cooked' <<<"$out")"
	# `yes | exec ID true`, and stdin never read by a process that writes
	# 2 MB: all of it and the status arrive (before: a stall, or no status)
	nb_run_case "$limit" bash -c 'yes | "$@"' _ "$nestbox" --root "$root" exec c3 true
	local yes_true=$status
	nb_run_case "$limit" bash -c 'set -o pipefail; yes | "$@" | wc -c' _ "$nestbox" \
		--root "$root" exec c3 sh -c 'sleep 1; head -c 2000000 /dev/zero; exit 7'
	expect e2e_oci_exec_stdin_unread_direct "yes | exec: status 0 of true; 2 MB and status 7" \
		"$yes_true" -eq 0 -a "$status" -eq 7 -a "$out" = 2000000
	# the end of stdin over the guest's pty is its VEOF: a read sees EOF
	# shellcheck disable=SC2016 # expanded by the guest's shell
	nb_run_case "$limit" bash -c 'printf "abc\n" | "$@"' _ "$nestbox" --root "$root" exec -t c3 \
		sh -c 'read x; echo "got:$x"; read y || echo at-eof; exit 4'
	out=$(tr -d '\r' <<<"$out")
	expect e2e_oci_exec_tty_eof "exec -t with stdin's end: the line, then EOF (VEOF), status 4" \
		"$status" -eq 4 -a -n "$(grep -x 'got:abc' <<<"$out")" -a -n "$(grep -x at-eof <<<"$out")"
	nb_run_case "$limit" "$nestbox" --root "$root" exec --detach --pid-file "$b/xpid" \
		--process "$b/process.json" c3
	expect e2e_oci_exec_detach "exec --detach returns once it runs, its pid in the file" \
		"$status" -eq 0 -a -n "$(cat "$b/xpid" 2>/dev/null)"
	nb_run_case "$limit" "$nestbox" --root "$root" delete --force c3
}

# containerd 1.6's `ctr run --runc-binary`: the runc shim calls nestbox
# with --root, --log and --log-format json.
oci_containerd() {
	local cd=$nb_tmp/cd pid ref i
	if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
		skip e2e_oci_ctr "containerd is not installed (scripts/deps.sh installs it)"
		return 0
	fi
	mkdir -p "$cd"
	containerd --root "$cd/root" --state "$cd/state" --address "$cd/sock" >"$cd/log" 2>&1 &
	pid=$!
	for ((i = 0; i < 100; i++)); do [ ! -S "$cd/sock" ] || break; sleep 0.2; done
	ctr_cmd=(ctr -a "$cd/sock")
	tar -C build/oci/busybox -cf "$cd/busybox.tar" .
	nb_run_case "$limit" "${ctr_cmd[@]}" images import --base-name nb/busybox "$cd/busybox.tar"
	ref=nb/busybox:latest
	nb_run_case "$limit" "${ctr_cmd[@]}" run --runc-binary "$oci_bin" --rm "$ref" nb-c1 \
		echo hello from ctr
	expect e2e_oci_ctr_output "ctr run: the workload's output, status 0" \
		"$status" -eq 0 -a "$out" = "hello from ctr"
	nb_run_case "$limit" "${ctr_cmd[@]}" run --runc-binary "$oci_bin" --rm "$ref" nb-c2 \
		sh -c 'exit 5'
	expect e2e_oci_ctr_status "ctr run: the workload's exit status 5" "$status" -eq 5
	kill "$pid"
	wait "$pid" 2>/dev/null
}

# Networking (podman's CNI plugins here; netavark alike): the guest's eth0
# joined to the container's veth by tc redirects (vmm/hostnet/nsnet.h).
# From L1: the container's address and a published port; between two
# containers on one podman network, by address.
oci_network() {
	local net_run=("${podman_cmd[@]}" run --runtime "$oci_bin") ip body i
	# shellcheck disable=SC2016 # expanded by the guest's shell
	local site='mkdir -p /w && echo "hello from $(hostname)" >/w/index.html && exec httpd -f -p 80 -h /w'

	nb_run_case "$limit" "${net_run[@]}" -d -p 8080:80 --name nb-web "$oci_image" sh -c "$site"
	local run_status=$status run_err=$err
	nb_run_case "$limit" "${podman_cmd[@]}" inspect -f '{{.NetworkSettings.IPAddress}}' nb-web
	ip=$out
	body=
	for ((i = 0; i < 60 && run_status == 0; i++)); do
		body=$(curl -s --max-time 3 "http://$ip/") && break
		sleep 1
	done
	status=$run_status out="address '$ip', body '$body'" err=$run_err
	expect e2e_oci_net_address "the container's address (from podman's network) answers from L1" \
		"$run_status" -eq 0 -a -n "$ip" -a "${body#hello from }" != "$body"
	nb_run_case 20 curl -s --max-time 10 http://127.0.0.1:8080/
	expect e2e_oci_net_publish "-p 8080:80: the container's httpd at 127.0.0.1:8080" \
		"$status" -eq 0 -a "$out" = "$body"
	nb_run_case "$limit" "${podman_cmd[@]}" exec nb-web ip -4 -o addr show eth0
	expect e2e_oci_net_eth0 "the guest's eth0 holds the veth's address" \
		"$status" -eq 0 -a -n "$ip" -a -n "$(grep -F " $ip/" <<<"$out")"
	nb_run_case "$limit" "${podman_cmd[@]}" rm -f nb-web
	nb_run_case 20 curl -s --max-time 3 http://127.0.0.1:8080/
	expect e2e_oci_net_rm "rm -f: the port is closed again" "$status" -ne 0

	nb_run_case "$limit" "${podman_cmd[@]}" network create --subnet 10.89.77.0/24 nb-net1
	nb_run_case "$limit" "${net_run[@]}" -d --network nb-net1 --name nb-srv "$oci_image" \
		sh -c "$site"
	run_status=$status run_err=$err
	nb_run_case "$limit" "${podman_cmd[@]}" inspect \
		-f '{{(index .NetworkSettings.Networks "nb-net1").IPAddress}}' nb-srv
	ip=$out
	for ((i = 0; i < 60 && run_status == 0; i++)); do
		curl -s --max-time 3 "http://$ip/" >/dev/null && break
		sleep 1
	done
	# (timeout, not wget -T: Debian's busybox-static wget segfaults with -T)
	nb_run_case "$limit" "${net_run[@]}" --rm --network nb-net1 "$oci_image" \
		timeout 20 wget -q -O - "http://$ip/"
	expect e2e_oci_net_two "two containers on one podman network: one fetches from the other" \
		"$run_status" -eq 0 -a -n "$ip" -a "${out#hello from }" != "$out"
	nb_run_case "$limit" "${podman_cmd[@]}" rm -f nb-srv
	nb_run_case "$limit" "${podman_cmd[@]}" network rm nb-net1
}

if oci_setup; then
	oci_cases
	oci_network
	oci_lifecycle
	oci_containerd
fi
