# shellcheck shell=bash
# e2e cases for images: `nestbox run IMAGE` boots with the image's layers as
# read-only virtio-blk disks stacked by nestbox-init with overlayfs. Sourced
# by tests/e2e/run.sh ($nestbox, $limit, tests/lib/check.sh). The test
# images come from tests/images/mkimages.sh (built by the images tier; in
# the test host the cache is read-only, so they must exist already).

if ! e2e_imgs=$(tests/images/mkimages.sh 2>/dev/null); then
	for c in e2e_image_layout e2e_image_config e2e_image_entrypoint_override e2e_image_whiteouts \
		e2e_image_docker_archive; do
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
	if deb=$(tests/images/mkdebian.sh --cached-only 2>/dev/null); then
		nb_run_case "$limit" $nestbox run "$deb" -- /bin/sh -c 'cut -d. -f1 /etc/debian_version; apt --version | cut -d" " -f1'
		expect e2e_image_debian "the Debian image runs apt" "$status" -eq 0 -a "$out" = "12
apt"
	else
		skip e2e_image_debian "Debian image not built (bench/images.sh or NESTBOX_TEST_DEBIAN=1 tests/run images)"
	fi
	unset NESTBOX_CACHE_DIR
fi
