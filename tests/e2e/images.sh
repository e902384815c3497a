# shellcheck shell=bash
# e2e cases for images: `nestbox run IMAGE` boots with the image's layers as
# read-only virtio-blk disks stacked by nestbox-init with overlayfs. Sourced
# by tests/e2e/run.sh ($nestbox, $limit, tests/lib/check.sh). The test
# images come from tests/images/mkimages.sh (built by the images tier; in
# the test host the cache is read-only, so they must exist already).

# shellcheck source=tests/lib/registry.sh
. tests/lib/registry.sh

# `nestbox run` straight from a registry: docker-registry on loopback, the
# test images pushed with skopeo, the registry killed and its storage
# removed on every path (the EXIT trap also covers a signal).
e2e_registry_cases() {
	local names="e2e_registry_run_command e2e_registry_run_config" n token
	local cfg_img=$nb_tmp/reg-config
	if ! nb_registry_start "$nb_tmp/registry"; then
		for n in $names; do skip "$n" "$nb_reg_why"; done
		return
	fi
	trap 'nb_registry_stop; rm -rf "$nb_tmp"' EXIT
	trap 'exit 143' TERM INT HUP
	# A second image, only in the registry, whose config says what it got:
	# a fresh token in Env proves the config came from this push.
	token=tok$$-$RANDOM
	# shellcheck disable=SC2016 # expanded by the guest's shell
	python3 tests/images/mklayout.py "$cfg_img" \
		'{"Entrypoint":["/bin/sh","-c"],"Cmd":["echo \"$NB_TOKEN $PWD\"; cat /etc/os-release"],
		  "Env":["PATH=/bin:/usr/bin","NB_TOKEN='"$token"'"],"WorkingDir":"/opt"}' \
		"$e2e_imgs/base.tar:gzip"
	if ! nb_registry_push "oci:$e2e_imgs/busybox:test" busybox:test 2>"$nb_tmp/push.err" ||
		! nb_registry_push "oci:$cfg_img:test" nb/config:v1 2>>"$nb_tmp/push.err"; then
		for n in $names; do not_ok "$n" "skopeo push failed: $(tail -c 300 "$nb_tmp/push.err")"; done
	else
		local reg=localhost:${nb_reg#*:}
		# shellcheck disable=SC2016 # expanded by the guest's shell
		nb_run_case "$limit" $nestbox run "$reg/busybox:test" -- 'cat /etc/os-release; echo "$NB_TEST"'
		expect e2e_registry_run_command "nestbox run localhost:PORT/NAME:TAG -- CMD pulls and runs CMD in the image" \
			"$status" -eq 0 -a "$out" = 'NAME="nestbox test busybox"
1'
		nb_run_case "$limit" $nestbox run "$reg/nb/config:v1"
		expect e2e_registry_run_config "with no COMMAND the pulled image's Entrypoint, Cmd, Env and WorkingDir apply" \
			"$status" -eq 0 -a "$out" = "$token /opt
NAME=\"nestbox test busybox\""
	fi
	nb_registry_stop
	rm -rf "$nb_tmp/registry" "$cfg_img"
	trap 'rm -rf "$nb_tmp"' EXIT
	trap - TERM INT HUP
}

# An image with more layers than there are virtio-mmio slots: 40 layers,
# each adding one file and rewriting /layers/top, the top one whiting out
# one lower file. The guest must see the top layer's view.
e2e_many_layers_case() {
	local n=40 i dir=$nb_tmp/many specs=() want
	mkdir -p "$dir"
	specs+=("$e2e_imgs/base.tar:gzip")
	for ((i = 1; i < n; i++)); do
		rm -rf "$dir/l" && mkdir -p "$dir/l/layers"
		if ((i < n - 1)); then echo "$i" >"$dir/l/layers/f$i"; else : >"$dir/l/layers/.wh.f5"; fi
		echo "$i" >"$dir/l/layers/top"
		tar --numeric-owner -C "$dir/l" -cf "$dir/$i.tar" .
		specs+=("$dir/$i.tar:tar")
	done
	python3 tests/images/mklayout.py "$dir/img" '{"Env":["PATH=/bin"]}' "${specs[@]}"
	nb_run_case "$limit" $nestbox run "$dir/img" -- /bin/sh -c \
		'cat /layers/top; ls /layers | wc -l; [ -e /layers/f5 ] || echo f5-gone; cat /layers/f1 /layers/f38; cat /etc/os-release'
	want="$((n - 1))
$((n - 2))
f5-gone
1
$((n - 2))
NAME=\"nestbox test busybox\""
	expect e2e_image_many_layers "a $n-layer image runs and shows the top layer's view (one file whited out)" \
		"$status" -eq 0 -a "$out" = "$want"
	rm -rf "$dir"
}

if ! e2e_imgs=$(tests/images/mkimages.sh 2>/dev/null); then
	for c in e2e_image_layout e2e_image_config e2e_image_entrypoint_override e2e_image_whiteouts e2e_image_layer_readahead \
		e2e_image_cache_any_fs \
		e2e_image_docker_archive e2e_registry_run_command e2e_registry_run_config \
		e2e_image_many_layers; do
		skip "$c" "test images not built (run tests/run images first)"
	done
else
	# The layer cache must be writable: a private one under $nb_tmp.
	export NESTBOX_CACHE_DIR=$nb_tmp/image-cache
	# The test images' config: Entrypoint ["/bin/sh","-c"], Cmd
	# ["cat /etc/os-release"], Env NB_TEST=1, WorkingDir /root. So with
	# no COMMAND the image's Cmd runs, and a COMMAND is one shell string.
	nb_run_case "$limit" $nestbox run "$e2e_imgs/busybox"
	expect e2e_image_layout "an OCI layout runs its own Entrypoint+Cmd; the workload sees the image's files" \
		"$status" -eq 0 -a "$out" = 'NAME="nestbox test busybox"'

	# shellcheck disable=SC2016 # expanded by the guest's shell
	nb_run_case "$limit" $nestbox run -e EXTRA=2 "$e2e_imgs/busybox" 'echo "$NB_TEST $EXTRA $PWD $(id -u)"'
	expect e2e_image_config "the image's Env and WorkingDir apply, -e adds to Env" \
		"$status" -eq 0 -a "$out" = "1 2 /root 0"

	nb_run_case "$limit" $nestbox run --entrypoint /bin/cat -w /etc "$e2e_imgs/busybox" os-release
	expect e2e_image_entrypoint_override "--entrypoint replaces the image's and drops its Cmd; -w overrides WorkingDir" \
		"$status" -eq 0 -a "$out" = 'NAME="nestbox test busybox"'

	nb_run_case "$limit" $nestbox run "$e2e_imgs/multi" -- \
		'[ -e /etc/deleteme ] && echo deleteme-present; ls /opt/data; cat /etc/layer3 /opt/keep'
	expect e2e_image_whiteouts "three layers stack: a deleted file is gone, an opaque dir shows only the upper layer" \
		"$status" -eq 0 -a "$out" = "new
three
kept"

	# Each layer's loop device (bound: it has loop/) reads ahead 1 MiB.
	nb_run_case "$limit" $nestbox run "$e2e_imgs/multi" -- \
		'v=; for d in /sys/block/loop*; do [ -e "$d/loop" ] && v="$v $(cat "$d/queue/read_ahead_kb")"; done; echo "$v"'
	expect e2e_image_layer_readahead "each of the three layers' loop devices reads ahead 1 MiB (guest-init/layers.c)" \
		"$status" -eq 0 -a "$out" = " 1024 1024 1024"

	# A layer cache on the shared cache directory: in the test host a 9p
	# share, which refuses device nodes (whiteouts); the layer's tree is then
	# unpacked in a stage elsewhere, and nothing is left of it.
	share=${NESTBOX_CACHE:-$HOME/.cache/nestbox}
	stages() { find "${TMPDIR:-/tmp}" /var/tmp /tmp /dev/shm -maxdepth 1 -name 'nestbox-stage.*' 2>/dev/null | sort -u; }
	stages_before=$(stages)
	mkdir -p "$share" && shared_cache=$(mktemp -d "$share/e2e-layer-cache.XXXXXX")
	NESTBOX_CACHE_DIR=$shared_cache nb_run_case "$limit" $nestbox run "$e2e_imgs/multi" -- \
		'[ -e /etc/deleteme ] && echo deleteme-present; ls /opt/data; cat /etc/layer3'
	fs=$(df --output=fstype "$shared_cache" | tail -n 1)
	left=$(ls -A "$shared_cache/tmp" 2>&1)
	[ "$(stages)" = "$stages_before" ] || left+=" stages: $(stages | tr '\n' ' ')"
	nlayers=$(find "$shared_cache/layers" -name '*.erofs' | wc -l)
	[ "$status" -ne 0 ] || out="$out | layers: $nlayers | left: $left"
	expect e2e_image_cache_any_fs "layers with whiteouts convert on a cache on $fs, leaving no stage or temp entry" \
		"$status" -eq 0 -a "$out" = "new
three | layers: 3 | left: "
	rm -rf "$shared_cache"

	if [ -f "$e2e_imgs/busybox-docker.tar" ]; then
		nb_run_case "$limit" $nestbox run "$e2e_imgs/busybox-docker.tar" -- \
			'stat -c "%a %u:%g" /bin/suid /etc/owned; echo w > /etc/w && cat /etc/w'
		expect e2e_image_docker_archive "a docker-archive runs with modes and owners intact and a writable root" \
			"$status" -eq 0 -a "$out" = "4755 0:0
640 1234:5678
w"
	else
		skip e2e_image_docker_archive "skopeo was missing when the test images were built"
	fi
	if deb=$(tests/images/mkdebian.sh --cached-only 2>"$nb_tmp/deb.err"); then
		nb_run_case "$limit" $nestbox run "$deb" -- /bin/sh -c 'cut -d. -f1 /etc/debian_version; apt --version | cut -d" " -f1'
		expect e2e_image_debian "the Debian image runs apt" "$status" -eq 0 -a "$out" = "12
apt"
	else
		skip e2e_image_debian "Debian image not built: $(tail -n 1 "$nb_tmp/deb.err")"
	fi
	e2e_registry_cases
	e2e_many_layers_case
	unset NESTBOX_CACHE_DIR
fi
