#!/usr/bin/env bash
# host-kvm tier: the whole `nestbox run` path (options, initramfs, VM, boot
# protocol, UART, exit device, --stats) on this host's /dev/kvm, with a tiny
# non-Linux payload in place of the guest kernel.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh

nestbox=build/nestbox
payload=build/tests/kvm/payload.elf
mkdir -p "$nb_tmp/root"

if [ ! -w /dev/kvm ]; then
	for t in payload_run payload_stats payload_smp payload_big_memory; do skip $t "no usable /dev/kvm"; done
	exit 0
fi

nb_run_case 60 $nestbox run --kernel $payload "$nb_tmp/root" -- true
expect payload_run "the payload's line reaches stdout and its status 42 is nestbox's" \
	"$status" -eq 42 -a "$out" = "nestbox payload: hello"

nb_run_case 60 $nestbox run --stats --kernel $payload "$nb_tmp/root" -- true
stats_ok=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["pio_exits"] >= 24 and d["console_bytes"] == 23 and d["vcpus"] == 1 and d["startup_cpu_ms"] > 0)' "$err" 2>&1)
expect payload_stats "--stats prints one JSON line with the exits and bytes" \
	"$status" -eq 42 -a "$stats_ok" = True

nb_run_case 60 $nestbox run --cpus 4 --kernel $payload "$nb_tmp/root" -- true
expect payload_smp "four vCPU threads start and stop cleanly" "$status" -eq 42

# RAM above 4 GiB needs more than 3 GiB (the MMIO hole starts there); nestbox
# refuses more than the host's RAM, so take 8 GiB or what the host has.
# --memory is the container's limit: the VM has 40 MiB + 1/32 more.
host_mib=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
big_mib=$(((host_mib - 300) * 32 / 33 < 8192 ? (host_mib - 300) * 32 / 33 / 2 * 2 : 8192))
if [ "$big_mib" -gt 3200 ]; then
	nb_run_case 60 $nestbox run --memory "${big_mib}m" --kernel $payload "$nb_tmp/root" -- true
	expect payload_big_memory "a ${big_mib} MiB guest (RAM above 4 GiB) boots without preallocating" \
		"$status" -eq 42
else
	skip payload_big_memory "this host has $host_mib MiB of RAM; RAM above 4 GiB needs a guest of more than 3 GiB"
fi
