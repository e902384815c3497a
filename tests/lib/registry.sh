# shellcheck shell=bash disable=SC2034 # nb_reg* are read by the tests that source this file
# A throwaway registry for tests: Debian's docker-registry (distribution v2)
# on loopback, storage under a test directory. Source after tests/lib/check.sh.
#
#   nb_registry_start DIR [HTPASSWD]  start one; sets nb_reg (127.0.0.1:PORT)
#                                     and nb_reg_pid, or returns 1 with the
#                                     reason in nb_reg_why. With HTPASSWD the
#                                     registry demands basic auth (bcrypt file).
#   nb_registry_push SRC NAME:TAG [USER:PASS]   skopeo copy SRC (e.g.
#                                     oci:DIR:test) into the registry
#   nb_registry_stop                  kill it (safe to call twice)
#   nb_free_port, nb_wait_http URL    helpers

nb_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Any HTTP answer (401 included) means the server is up.
nb_wait_http() {
	for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
	return 1
}

nb_reg='' nb_reg_pid='' nb_reg_why=''
nb_registry_start() {
	local dir=$1 htpasswd=${2:-} port auth=''
	if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then
		nb_reg_why="docker-registry or skopeo not installed (scripts/deps.sh)"
		return 1
	fi
	port=$(nb_free_port)
	mkdir -p "$dir/storage"
	[ -z "$htpasswd" ] || auth="auth:
  htpasswd:
    realm: nestbox-test
    path: $htpasswd"
	cat >"$dir/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir/storage
http:
  addr: 127.0.0.1:$port
$auth
YML
	docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
	nb_reg_pid=$!
	nb_reg=127.0.0.1:$port
	if ! nb_wait_http "http://$nb_reg/v2/"; then
		nb_reg_why="docker-registry did not answer on $nb_reg: $(tail -c 200 "$dir/registry.log")"
		nb_registry_stop
		return 1
	fi
}

nb_registry_push() {
	local creds=()
	[ -z "${3:-}" ] || creds=(--dest-creds "$3")
	timeout 120 skopeo --insecure-policy copy -q --dest-tls-verify=false "${creds[@]}" \
		"$1" "docker://$nb_reg/$2"
}

nb_registry_stop() {
	if [ -n "$nb_reg_pid" ]; then
		kill "$nb_reg_pid" 2>/dev/null
		wait "$nb_reg_pid" 2>/dev/null
	fi
	nb_reg_pid=''
}
