# shellcheck shell=bash
# e2e cases for shared host directories (-v DIR:/path, --mount type=bind):
# virtio-fs served by the VMM. A build in a share checked byte for byte on
# the host, :ro refused by the device, escape attempts, a host-side change
# seen by the guest, --jail. Sourced by tests/e2e/run.sh, which sets
# $nestbox, $rootfs and $limit and sources tests/lib/check.sh.

share_root=$nb_tmp/share-root
if [ ! -x build/tests/guest/mmapcat ]; then
	for t in e2e_share_build e2e_share_build_exact e2e_share_owner e2e_share_read_only \
		e2e_share_mount_option e2e_share_escape e2e_share_host_change e2e_share_jail \
		e2e_share_jail_refused e2e_share_cgroup_stats; do
		skip "$t" "build/tests/guest/mmapcat missing (make tests)"
	done
	return 0
fi
cp -a "$rootfs" "$share_root" && cp build/tests/guest/mmapcat "$share_root/bin/mmapcat"

# ---- a build in a shared directory, checked byte-exact on the host ----
share=$nb_tmp/share
mkdir -p "$share"
head -c $((64 << 20)) /dev/urandom >"$share/input.bin"
build_script='set -e
mkdir -p build/sub
printf "int main(void) { return 0; }\n" > build/main.c
printf "line1\nline2\n" > build/a.txt
mv build/a.txt build/b.txt
ln build/b.txt build/hard.txt
ln -s b.txt build/soft.txt
cat build/soft.txt > build/via-soft.txt
chmod 0751 build/main.c
head -c 100000 input.bin > build/trunc.bin
truncate -s 1000 build/trunc.bin
mmapcat input.bin > build/mmap.bin
cat input.bin > build/copy.bin
md5sum input.bin | cut -c1-32 > build/input.md5
mkdir build/many
cd build/many
seq 10000 19999 | sed "s/^/entry/" | xargs mkdir
cd ../..
ls build/many | wc -l > build/many.count
ls -ld build/many/entry19999 > /dev/null
sync
echo built'
# 10000 entries are 20000 requests: ~2 min in the emulated test host, where
# every VM exit is emulated (under a second on real KVM).
nb_run_case $((limit * 3)) $nestbox run -v "$share:/src" -w /src "$share_root" -- /bin/sh -c "$build_script"
expect e2e_share_build "a build in -v DIR:/src runs to its end" "$status" -eq 0 -a "$out" = built

b=$share/build
bad=
[ "$(cat "$b/main.c" 2>/dev/null)" = "int main(void) { return 0; }" ] || bad+=" create/write"
[ "$(stat -c %a "$b/main.c" 2>/dev/null)" = 751 ] || bad+=" chmod"
[ ! -e "$b/a.txt" ] && [ "$(cat "$b/b.txt" 2>/dev/null)" = "line1
line2" ] || bad+=" rename"
[ "$(stat -c %i "$b/b.txt" 2>/dev/null)" = "$(stat -c %i "$b/hard.txt" 2>/dev/null)" ] &&
	[ "$(stat -c %h "$b/b.txt" 2>/dev/null)" = 2 ] || bad+=" hard-link"
[ "$(readlink "$b/soft.txt")" = b.txt ] && cmp -s "$b/via-soft.txt" "$b/b.txt" || bad+=" symlink"
[ "$(stat -c %s "$b/trunc.bin" 2>/dev/null)" = 1000 ] &&
	cmp -s "$b/trunc.bin" <(head -c 1000 "$share/input.bin") || bad+=" truncate"
cmp -s "$b/mmap.bin" "$share/input.bin" || bad+=" mmap-read"
cmp -s "$b/copy.bin" "$share/input.bin" || bad+=" large-write"
[ "$(cat "$b/input.md5" 2>/dev/null)" = "$(md5sum <"$share/input.bin" | cut -c1-32)" ] || bad+=" large-read"
[ "$(find "$b/many" -mindepth 1 -maxdepth 1 -type d -name 'entry1????' | wc -l)" = 10000 ] &&
	[ "$(cat "$b/many.count" 2>/dev/null)" = 10000 ] ||
	bad+=" 10000-entries"
[ "$(stat -c %u:%g "$b/main.c" 2>/dev/null)" = 0:0 ] || bad+=" owner"
out="wrong:${bad:- none}"
expect e2e_share_build_exact "what the guest built is on the host, byte for byte" -z "$bad"

# Files a guest user makes are that user's on the host.
mkdir -p "$share/pub" && chmod 1777 "$share/pub"
nb_run_case "$limit" $nestbox run -u 1234:5678 -v "$share:/src" "$share_root" -- /bin/sh -c \
	'echo mine > /src/pub/owned && mkdir /src/pub/dir && id -u'
expect e2e_share_owner "a file and a directory made by guest uid 1234:5678 are 1234:5678 on the host" \
	"$status" -eq 0 -a "$(stat -c %u:%g "$share/pub/owned" 2>/dev/null)" = 1234:5678 \
	-a "$(stat -c %u:%g "$share/pub/dir" 2>/dev/null)" = 1234:5678

# ---- :ro is the device's: even a guest that remounts read-write is refused ----
ro=$nb_tmp/ro
mkdir -p "$ro/d" && echo keep >"$ro/file"
ro_before=$(cd "$ro" && find . -printf '%p %s %m %T@\n' | sort | md5sum)
ro_script='for c in "touch /ro/new" "rm /ro/file" "mkdir /ro/x" "mv /ro/file /ro/f2" "ln -s x /ro/l" \
	"chmod 777 /ro/file" "rmdir /ro/d" "truncate -s 0 /ro/file"; do
	sh -c "$c" 2>/dev/null && echo "allowed: $c"
done
echo more >> /ro/file 2>/dev/null && echo "allowed: append"
cat /ro/file
if mount -o remount,rw /ro 2>/dev/null; then
	touch /ro/new 2>/dev/null && echo "allowed after remount: touch"
	echo x > /ro/file 2>/dev/null && echo "allowed after remount: write"
	echo remounted
fi
true'
nb_run_case "$limit" $nestbox run --cap-add SYS_ADMIN -v "$ro:/ro:ro" "$share_root" -- /bin/sh -c "$ro_script"
ro_after=$(cd "$ro" && find . -printf '%p %s %m %T@\n' | sort | md5sum)
expect e2e_share_read_only "-v DIR:/ro:ro refuses every write (also after a remount in the guest) and DIR is unchanged" \
	"$status" -eq 0 -a -z "$(grep allowed <<<"$out")" -a "$(head -1 <<<"$out")" = keep \
	-a "$ro_before" = "$ro_after"

nb_run_case "$limit" $nestbox run --mount "type=bind,source=$ro,target=/m,readonly" "$share_root" -- \
	/bin/sh -c 'cat /m/file; touch /m/x 2>/dev/null && echo allowed; grep " /m " /proc/mounts | cut -d" " -f3,4 | cut -d, -f1'
expect e2e_share_mount_option "--mount type=bind,...,readonly shares the directory read-only" \
	"$status" -eq 0 -a "$out" = "keep
virtiofs ro" -a ! -e "$ro/x"

# ---- escapes: symlinks to /, .. walks, renames out of the share ----
esc=$nb_tmp/esc
mkdir -p "$esc/share"
secret=host-secret-$RANDOM$RANDOM
echo "$secret" >"$esc/secret"
ln -s "$esc/secret" "$esc/share/hostlink"  # absolute, to a file beside the share
ln -s "$esc" "$esc/share/hostdir"
ln -s ../secret "$esc/share/uplink"
echo move-me >"$esc/share/movable"
esc_before=$(ls -a "$esc")
esc_script='ln -s / /src/rootlink; ln -s ../.. /src/up2
for p in /src/hostlink /src/uplink /src/../secret /src/up2/secret /src/hostdir/secret \
	/src/rootlink'"$esc"'/secret /src/rootlink/../../secret; do cat "$p" 2>/dev/null; done
ls /src/hostdir/ /src/up2/ /src/rootlink'"$esc"' 2>/dev/null
echo planted > /src/rootlink/planted-'"$secret"' 2>/dev/null
mkdir -p /elsewhere && mv /src/movable /elsewhere/ && cat /elsewhere/movable
echo done'
nb_run_case "$limit" $nestbox run -v "$esc/share:/src" "$share_root" -- /bin/sh -c "$esc_script"
expect e2e_share_escape "no symlink, .. or rename reaches the host outside the share" \
	"$status" -eq 0 -a -z "$(grep -- "$secret" <<<"$out")" -a "$(tail -2 <<<"$out")" = "move-me
done" -a "$esc_before" = "$(ls -a "$esc")" -a ! -e "/planted-$secret" \
	-a "$(readlink "$esc/share/rootlink")" = / -a ! -e "$esc/share/movable"

# ---- a host-side change is seen by the guest ----
hc=$nb_tmp/hostchange
mkdir -p "$hc"
hc_script='cat /src/f; touch /src/ready
i=0; while [ ! -e /src/go ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
sleep 1.5; cat /src/f; ls /src'
host_change() {
	nb_case_start "the host changes a shared directory while the guest waits"
	rm -f "$hc/ready" "$hc/go" "$hc/added" && echo old >"$hc/f"
	timeout --kill-after=5 "$limit" $nestbox run -v "$hc:/src" "$share_root" -- /bin/sh -c "$hc_script" \
		</dev/null >"$nb_tmp/hc.out" 2>"$nb_tmp/hc.err" &
	local pid=$!
	for _ in $(seq $((limit * 10))); do
		[ -e "$hc/ready" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	echo "changed on the host" >"$hc/f"
	echo new >"$hc/added"
	touch "$hc/go"
	wait $pid
	status=$? out=$(cat "$nb_tmp/hc.out") err=$(cat "$nb_tmp/hc.err")
}
nb_try host_change
expect e2e_share_host_change "the guest sees a file the host rewrote and one it added" \
	"$status" -eq 0 -a "$out" = "old
changed on the host
added
f
go
ready"

# ---- --jail: the share bound into the jail, used as the jail's uid ----
if [ "$(id -u)" != 0 ]; then
	for t in e2e_share_jail e2e_share_jail_refused e2e_share_cgroup_stats; do
		skip "$t" "needs root (--jail, --cgroup)"
	done
	return 0
fi
jail=$nb_tmp/share-jail
jshare=$nb_tmp/jshare
mkdir -p "$jail" "$jshare" && chown 4242:4343 "$jshare"
nb_run_case "$limit" $nestbox run --jail "$jail" --uid 4242 --gid 4343 -v "$jshare:/src" \
	"$share_root" -- /bin/sh -c 'echo hi > /src/f && mkdir /src/d && cat /src/f
		chown 1:1 /src/f 2>/dev/null && echo chowned; true'
expect e2e_share_jail "under --jail the share works and what the guest makes is the jail's uid:gid" \
	"$status" -eq 0 -a "$out" = hi -a "$(cat "$jshare/f" 2>/dev/null)" = hi \
	-a "$(stat -c %u:%g "$jshare/f" "$jshare/d" 2>/dev/null | sort -u)" = 4242:4343

closed=$nb_tmp/closed-share
mkdir -p "$closed" && chmod 0700 "$closed"
nb_run_case "$limit" $nestbox run --jail "$jail" --uid 4242 --gid 4343 -v "$closed:/src" \
	"$share_root" -- true
expect e2e_share_jail_refused "a share the jail's uid may not use is refused up front, with the reason" \
	"$status" -eq 125 -a -n "$(grep "uid 4242 gid 4343 may not read and write" <<<"$err")"

# ---- --cgroup and --stats with a share: the group and the run record go ----
cg=/sys/fs/cgroup
if [ ! -f $cg/cgroup.controllers ] || ! grep -qw memory $cg/cgroup.controllers; then
	skip e2e_share_cgroup_stats "no cgroup v2 with the memory controller at $cg"
	return 0
fi
cshare=$nb_tmp/cgshare
mkdir -p "$cshare"
NESTBOX_RUN_DIR=$nb_tmp/cgrun nb_run_case "$limit" $nestbox run --cgroup nestbox-e2e-share --stats \
	-v "$cshare:/src" "$share_root" -- /bin/sh -c 'head -c 33554432 /dev/zero > /src/z && echo wrote'
peak=$(grep -o '"memory_peak_kib":[0-9]*' <<<"$err" | cut -d: -f2)
max=$(grep -o '"memory_max_kib":[0-9]*' <<<"$err" | cut -d: -f2)
left=$(find $cg/nestbox-e2e-share -mindepth 1 -maxdepth 1 -name 'nestbox-*' 2>/dev/null | wc -l)
records=$(find "$nb_tmp/cgrun" -mindepth 1 2>/dev/null | wc -l)
echo "# share under --cgroup: peak ${peak:-?} KiB of max ${max:-?} KiB" >&2
expect e2e_share_cgroup_stats "a share under --cgroup --stats: written, under memory.max, group and run record removed" \
	"$status" -eq 0 -a "$out" = wrote -a "$(stat -c %s "$cshare/z" 2>/dev/null)" = 33554432 \
	-a "${peak:-0}" -gt 0 -a "${peak:-0}" -le "${max:-0}" -a "$left" -eq 0 -a "$records" -eq 0
rmdir $cg/nestbox-e2e-share 2>/dev/null || true
