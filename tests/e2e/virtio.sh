# shellcheck shell=bash
# e2e cases for the virtio devices (blk, console, rng). Sourced by
# tests/e2e/run.sh, which sets $nestbox, $rootfs and $limit and sources
# tests/lib/check.sh.

nb_run_case "$limit" $nestbox run $rootfs -- /bin/sh -c 'echo to-stdout; echo to-stderr >&2'
expect e2e_virtio_stdout_stderr_apart "stdout and stderr arrive on their own host fds" \
	"$status" -eq 0 -a "$out" = to-stdout -a -n "$(grep -x to-stderr <<<"$err")"

nb_input="hi from the host" nb_run_case "$limit" $nestbox run -i $rootfs -- cat
expect e2e_virtio_stdin "-i streams stdin to the guest and EOF ends cat" \
	"$status" -eq 0 -a "$out" = "hi from the host"

nb_input="not for the guest" nb_run_case "$limit" $nestbox run $rootfs -- /bin/sh -c 'cat; echo eof'
expect e2e_virtio_no_stdin "without -i the guest's stdin is at EOF" "$status" -eq 0 -a "$out" = eof

# The container's /dev may not have the hwrng node: then only sysfs.
nb_run_case "$limit" $nestbox run $rootfs -- /bin/sh -c \
	'cat /sys/class/misc/hw_random/rng_current
	 if [ -c /dev/hwrng ]; then head -c 32 /dev/hwrng | wc -c; else echo 32; fi'
expect e2e_virtio_rng "virtio-rng is the guest's hw_random (and gives bytes)" \
	"$status" -eq 0 -a "$out" = "virtio_rng.0
32"

if command -v mkfs.ext4 >/dev/null; then
	img=$nb_tmp/vol.img
	truncate -s 64M "$img" && mkfs.ext4 -q -F "$img"
	nb_run_case "$limit" $nestbox run -v "$img:/data" $rootfs -- /bin/sh -c \
		'echo persisted > /data/file && sync && cat /data/file'
	first=$out
	# The container's mounts outlive its workload unless one is a
	# read-write disk (container/container.h): such a disk is unmounted
	# before the VM stops, so its journal needs no replay.
	clean=$(dumpe2fs -h "$img" 2>&1 | grep -E '^Filesystem (state|features):' | tr -s ' \n' ' ')
	status=0 out="after the first VM: $clean" err=
	expect e2e_virtio_volume_unmounted_clean "a read-write disk is unmounted cleanly when its VM ends (no journal to replay)" \
		-n "$(grep -o 'state: clean' <<<"$clean")" -a -z "$(grep -o needs_recovery <<<"$clean")"
	nb_run_case "$limit" $nestbox run -v "$img:/data" $rootfs -- cat /data/file
	expect e2e_virtio_volume_survives_restart "a file written on a volume is there in the next VM" \
		"$first" = persisted -a "$status" -eq 0 -a "$out" = persisted

	sum=$(md5sum <"$img")
	# The device-level refusal (IOERR even if the guest ignores VIRTIO_BLK_F_RO)
	# is a unit test: the container's /dev has no disk nodes to write to.
	nb_run_case "$limit" $nestbox run -v "$img:/data:ro" $rootfs -- /bin/sh -c \
		'cat /data/file; touch /data/new 2>/dev/null && echo wrote-file; true'
	expect e2e_virtio_volume_read_only "a :ro volume refuses writes and the image is unchanged" \
		"$status" -eq 0 -a "$out" = persisted -a "$(md5sum <"$img")" = "$sum"
else
	skip e2e_virtio_volume_survives_restart "mkfs.ext4 (e2fsprogs) missing"
	skip e2e_virtio_volume_unmounted_clean "mkfs.ext4 (e2fsprogs) missing"
	skip e2e_virtio_volume_read_only "mkfs.ext4 (e2fsprogs) missing"
fi

# 20 MiB through the console: complete, and how fast (boot time subtracted).
bytes=$((20 << 20))
t0=$(date +%s.%N)
nb_run_case "$limit" $nestbox run $rootfs -- true
large_output() {
	nb_case_start "20 MiB through the console"
	t1=$(date +%s.%N)
	timeout --kill-after=5 "$limit" $nestbox run $rootfs -- head -c $bytes /dev/zero </dev/null \
		>"$nb_tmp/big" 2>"$nb_tmp/err"
	status=$?
	t2=$(date +%s.%N)
	out=$(tail -c 8192 "$nb_tmp/big" | tr -d '\0') err=$(cat "$nb_tmp/err")
}
nb_try large_output
got=$(stat -c %s "$nb_tmp/big")
out="$got bytes"
expect e2e_virtio_large_output "20 MiB of output arrive complete" "$status" -eq 0 -a "$got" -eq $bytes
awk -v b=$bytes -v t0="$t0" -v t1="$t1" -v t2="$t2" 'BEGIN {
	s = (t2 - t1) - (t1 - t0); if (s < 0.001) s = 0.001
	printf "# console: %d MiB in %.2f s (%.2f s for an empty run): ~%.1f MiB/s\n",
		b / 1048576, t2 - t1, t1 - t0, b / 1048576 / s }' >&2

# ---- rate limits: --device-read-bps / --device-write-bps ----
# A read of N MiB at R MiB/s takes at least (N - R) / R seconds (the bucket
# starts with one second's worth); only lower bounds: the machine is noisy.
# Timed in the guest (/proc/uptime), so boot time does not count.
rate_secs() { grep -o 'secs [0-9.]* [0-9.]*' <<<"$out" | awk '{ printf "%.2f", $3 - $2 }'; }
if command -v mkfs.ext4 >/dev/null; then
	rimg=$nb_tmp/rate.img
	mkdir "$nb_tmp/ratefs"
	(yes nestbox-rate-limit || true) | head -c $((8 << 20)) >"$nb_tmp/ratefs/big" # not sparse
	mkfs.ext4 -q -F -d "$nb_tmp/ratefs" "$rimg" 32M && rm -rf "$nb_tmp/ratefs"
	# shellcheck disable=SC2016 # expanded by the guest's shell
	timed_read='read a _ </proc/uptime; cat /data/big >/dev/null; read b _ </proc/uptime; echo "secs $a $b"'
	nb_run_case "$limit" $nestbox run -v "$rimg:/data:ro" $rootfs -- /bin/sh -c "$timed_read"
	free_secs=$(rate_secs)
	expect e2e_virtio_read_unlimited "without a rate, 8 MiB read at full speed (faster than 4 MiB/s)" \
		"$status" -eq 0 -a -n "$free_secs" -a "$(awk -v s="${free_secs:-99}" 'BEGIN { print (s < 2) }')" = 1
	nb_run_case "$limit" $nestbox run -v "$rimg:/data:ro" --device-read-bps "$rimg:2mb" $rootfs -- \
		/bin/sh -c "$timed_read"
	lim_secs=$(rate_secs)
	expect e2e_virtio_read_bps "8 MiB read at --device-read-bps 2mb take >= ~3 s (0.9 x (8-2)/2)" \
		"$status" -eq 0 -a -n "$lim_secs" -a "$(awk -v s="${lim_secs:-0}" 'BEGIN { print (s >= 2.7 && s < 120) }')" = 1
	echo "# virtio-blk 8 MiB read: unlimited ${free_secs:-?} s, at 2 MiB/s ${lim_secs:-?} s" >&2
	# shellcheck disable=SC2016 # expanded by the guest's shell
	timed_write='read a _ </proc/uptime; dd if=/dev/zero of=/data/w bs=65536 count=64 2>/dev/null; sync; read b _ </proc/uptime; echo "secs $a $b"'
	nb_run_case "$limit" $nestbox run -v "$rimg:/data" --device-write-bps "$rimg:1mb" $rootfs -- \
		/bin/sh -c "$timed_write"
	w_secs=$(rate_secs)
	expect e2e_virtio_write_bps "4 MiB written and synced at --device-write-bps 1mb take >= ~2.7 s" \
		"$status" -eq 0 -a -n "$w_secs" -a "$(awk -v s="${w_secs:-0}" 'BEGIN { print (s >= 2.7 && s < 120) }')" = 1
	echo "# virtio-blk 4 MiB write + sync at 1 MiB/s: ${w_secs:-?} s" >&2
else
	for t in e2e_virtio_read_unlimited e2e_virtio_read_bps e2e_virtio_write_bps; do
		skip "$t" "mkfs.ext4 (e2fsprogs) missing"
	done
fi
nb_run_case "$limit" $nestbox run --device-read-bps /no/such.img:1mb $rootfs -- true
expect e2e_virtio_rate_needs_volume "a rate for a path that is not a volume: exit 125 naming the option" \
	"$status" -eq 125 -a -n "$(grep -e '--device-read-bps' <<<"$err" | grep -e '-v /no/such.img')"
