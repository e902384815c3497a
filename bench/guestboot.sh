#!/usr/bin/env bash
# Guest-side cold start: where the time goes from the guest kernel's start
# to the workload's execve, for `nestbox run` of the busybox OCI image with
# `true`. Per nestbox build (a directory holding nestbox with the vmlinux
# and nestbox-init beside it; default build/), side by side, runs alternated
# (each build first and last in turn):
#   - median of RUNS boots (kernel args `nestbox.debug`): guest uptime at
#     nestbox-init's first line and at the container's execve, VM exits up
#     to both (KVM's debugfs in the test host);
#   - one boot with `initcall_debug printk.time=1 ignore_loglevel
#     nestbox.debug=2`: the slowest initcalls, their sum, when the kernel ran
#     /init, and nestbox-init's and the container's steps (console output
#     slows this boot: read it for shares, not for totals);
#   - one boot with the L1 kernel's kvm tracepoints on: exits by reason, the
#     busiest I/O ports, MSRs and MMIO pages, up to the execve.
# Give compared builds on one file system (in the test host the repo and
# the host's / are different 9p mounts): e.g. /var/tmp/nb-boot/{base,new}.
#
#   bench/guestboot.sh [RUNS] [DIR...]     (default 5 runs, DIR build/)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/where.sh
. bench/lib/where.sh "$@"
shift # --inner
runs=${1:-5}
shift || true
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(build)
image=build/oci/busybox
for d in "${dirs[@]}"; do
	for f in nestbox nestbox-init vmlinux; do
		[ -e "$d/$f" ] || { echo "guestboot: $d/$f missing (make build/$f)" >&2; exit 1; }
	done
done
[ -e "$image/index.json" ] || { echo "guestboot: $image missing (make tests)" >&2; exit 1; }

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null || true
mountpoint -q /sys/kernel/tracing || mount -t tracefs none /sys/kernel/tracing 2>/dev/null || true
work=$(mktemp -d "${TMPDIR:-/tmp}/nestbox-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

boot() { # MODE DIR KERNEL_ARGS OUT
	bench/lib/guestboot.py "$1" 120 "$2/nestbox" run --kernel-args "$3" "$image" true >>"$4"
}
for i in "${!dirs[@]}"; do
	boot initcall "${dirs[$i]}" "initcall_debug printk.time=1 ignore_loglevel nestbox.debug=2" \
		"$work/$i.initcall"
	if [ -w /sys/kernel/tracing/trace_marker ]; then
		boot exits "${dirs[$i]}" "nestbox.debug" "$work/$i.exits"
	fi
done
for r in $(seq "$runs"); do
	# A build's place in the round alternates (ABBA): the round's later
	# boots ran slower, 1.08-1.16x in three A/Bs whose builds an
	# alternated quiet profile put level.
	order=()
	for i in "${!dirs[@]}"; do
		if [ $((r % 2)) -eq 0 ]; then order=("$i" "${order[@]}"); else order+=("$i"); fi
	done
	for i in "${order[@]}"; do
		boot time "${dirs[$i]}" "nestbox.debug" "$work/$i.time"
	done
	echo "# run $r/$runs done" >&2
done

python3 - "$work" "$nb_bench_where" "$runs" "${dirs[@]}" <<'PY'
import bisect, json, os, re, statistics, subprocess, sys
work, where, runs, dirs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]

def symbols(vmlinux):
    """Address -> name from vmlinux (the guest kernel has no kallsyms)."""
    out = subprocess.run(["nm", vmlinux], capture_output=True, text=True).stdout
    return {int(f[0], 16): f[2] for f in (l.split() for l in out.splitlines()) if len(f) == 3}

def symbolize(calls, syms):
    named = {}
    for n, v in calls.items():
        m = re.fullmatch(r"0x([0-9a-f]+)", n)
        named[syms.get(int(m.group(1), 16), n) if m else re.sub(r"\+0x.*", "", n)] = v
    return named

def rows(i, kind):
    path = f"{work}/{i}.{kind}"
    return [json.loads(l) for l in open(path)] if os.path.exists(path) else []

def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None

def fmt(v):
    return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))

cols = [d.rstrip("/")[-20:] for d in dirs]
w = 44
def table(title, keys_vals):
    print(f"\n{title}")
    print(f"{'':{w}}" + "".join(f"{c:>22}" for c in cols) +
          (f"{'ratio last/first':>18}" if len(cols) > 1 else ""))
    for label, vals in keys_vals:
        ratio = ""
        if len(vals) > 1 and vals[0] and vals[-1] is not None:
            ratio = f"{vals[-1] / vals[0]:>18.2f}"
        print(f"{label:{w}}" + "".join(f"{fmt(v):>22}" for v in vals) + ratio)

times = [rows(i, "time") for i in range(len(dirs))]
good = [[r for r in t if r["ok"]] for t in times]
print(f"Guest boot to the workload's execve: `nestbox run {'build/oci/busybox'} true`, {where}")
print(f"median of {runs} boots per build, alternated" +
      "".join(f"; {c}: {len(t) - len(g)} failed" for c, t, g in zip(cols, times, good) if len(t) != len(g)))
table("uptime and exits (median)", [
    ("guest uptime at nestbox-init's first line, ms", [med(r.get("uptime_first_line_ms") for r in g) for g in good]),
    ("guest uptime at the workload's execve, ms", [med(r.get("uptime_execve_ms") for r in g) for g in good]),
    ("wall from process start to execve line, s", [med(r.get("wall_to_execve_s") for r in g) for g in good]),
    ("VM exits up to nestbox-init's first line", [med(r.get("kvm_exits_to_first_line") for r in g) for g in good]),
    ("VM exits up to the execve", [med(r.get("kvm_exits_to_execve") for r in g) for g in good]),
])

inits = [rows(i, "initcall") for i in range(len(dirs))]
one = [r[0] if r else {} for r in inits]
for o, d in zip(one, dirs):
    if o.get("top_initcalls_ms"):
        o["top_initcalls_ms"] = symbolize(o["top_initcalls_ms"], symbols(f"{d}/vmlinux"))
table("kernel (one boot with initcall_debug and console output)", [
    ("printk time at the first initcall's end, ms", [o.get("printk_first_initcall_ms") for o in one]),
    ("printk time at the last initcall's end, ms", [o.get("printk_last_initcall_ms") for o in one]),
    ("printk time at `Run /init`, ms", [o.get("printk_run_init_ms") for o in one]),
    ("initcalls, count", [o.get("initcall_count") for o in one]),
    ("initcalls, sum ms", [o.get("initcalls_ms") for o in one]),
])
steps = []
for o in one:
    steps += [s for s in o.get("steps", {}) if s not in steps]
table("nestbox-init's steps up to the execve, ms (the same boot)",
      [(s, [o.get("steps", {}).get(s) for o in one]) for s in steps])
names = []
for o in one:
    names += [n for n in o.get("top_initcalls_ms", {}) if n not in names]
table("slowest initcalls, ms", [(n, [o.get("top_initcalls_ms", {}).get(n) for o in one])
                                for n in names[:16]])

ex = [rows(i, "exits") for i in range(len(dirs))]
tr = [r[0]["trace"] if r and "trace" in r[0] else {} for r in ex]
def by_function(rips, syms):
    """'REASON 0xRIP' counts -> 'REASON function' counts (nearest symbol below)."""
    addrs = sorted(syms)
    out = {}
    for k, v in rips.items():
        reason, rip = k.split()
        i = bisect.bisect_right(addrs, int(rip, 16)) - 1
        name = f"{reason} {syms[addrs[i]] if i >= 0 else rip}"
        out[name] = out.get(name, 0) + v
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))

for t, d in zip(tr, dirs):
    if t.get("rips"):
        t["functions"] = by_function(t["rips"], symbols(f"{d}/vmlinux"))
if any(tr):
    for key, title in (("reasons", "VM exits up to the execve by reason (one traced boot)"),
                       ("pio", "port I/O exits by port"), ("msr", "MSR exits by MSR"),
                       ("mmio", "MMIO exits by page"),
                       ("functions", "exits by reason and guest function (the 40 busiest RIPs)")):
        names = []
        for t in tr:
            names += [n for n in t.get(key, {}) if n not in names]
        rowsv = [(n, [t.get(key, {}).get(n, 0) for t in tr]) for n in names]
        if key == "reasons":
            rowsv.insert(0, ("total", [t.get("total") for t in tr]))
        table(title, rowsv[:14])
else:
    print("\n(no exits by reason: the kvm tracepoints are not available here)")
for c, t in zip(cols, times):
    for r in t:
        if not r["ok"]:
            print(f"\n{c}: a boot did not reach the execve line (status {r['exit_status']}); console tail:\n"
                  + r.get("console_tail", ""))
            break
PY
