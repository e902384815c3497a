# shellcheck shell=bash
# e2e cases for images: `nestbox run IMAGE` boots with the image's layers as
# read-only virtio-blk disks stacked by nestbox-init with overlayfs. Sourced
# by tests/e2e/run.sh ($nestbox, $limit, tests/lib/check.sh). The test
# images come from tests/images/mkimages.sh (built by the images tier; in
# the test host the cache is read-only, so they must exist already).

if ! e2e_imgs=$(tests/images/mkimages.sh 2>/dev/null); then
	for c in e2e_image_layout e2e_image_whiteouts e2e_image_docker_archive; do
		skip "$c" "test images not built (run tests/run images first)"
	done
else
	# The layer cache must be writable: a private one under $nb_tmp.
	export NESTBOX_CACHE_DIR=$nb_tmp/image-cache
	nb_run_case "$limit" $nestbox run "$e2e_imgs/busybox" -- cat /etc/os-release
	expect e2e_image_layout "an OCI layout runs; the workload sees the image's files" \
		"$status" -eq 0 -a "$out" = 'NAME="nestbox test busybox"'

	nb_run_case "$limit" $nestbox run "$e2e_imgs/multi" -- /bin/sh -c \
		'[ -e /etc/deleteme ] && echo deleteme-present; ls /opt/data; cat /etc/layer3 /opt/keep'
	expect e2e_image_whiteouts "three layers stack: a deleted file is gone, an opaque dir shows only the upper layer" \
		"$status" -eq 0 -a "$out" = "new
three
kept"

	if [ -f "$e2e_imgs/busybox-docker.tar" ]; then
		nb_run_case "$limit" $nestbox run "$e2e_imgs/busybox-docker.tar" -- /bin/sh -c \
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
