#!/usr/bin/env python3
"""One guest boot, timed from the inside: runs CMD (a `nestbox run ... true`
with nestbox.debug on the kernel command line), reads its console and prints
one JSON object.

    guestboot.py MODE TIMEOUT_SEC CMD [ARG...]

MODE is one of
  time     uptime at nestbox-init's first line and at the workload's execve,
           nestbox-init's steps, and KVM's exit count at the execve line
           (debugfs, when mounted);
  initcall the kernel's initcalls (needs `initcall_debug ignore_loglevel`
           in CMD's kernel arguments): the slowest ones, their sum, and the
           printk time at which /init ran;
  exits    exits by reason up to the execve line, from the kvm tracepoints
           of this (L1) kernel (needs tracefs; enabled here, one VM at a time).
"""
import collections
import json
import os
import re
import signal
import subprocess
import sys
import time

from firstline import kvm_exits, lines as read_lines  # bench/lib/firstline.py

TRACING = "/sys/kernel/tracing"
FIRST = b"nestbox-init: started at"
EXECVE = b"nestbox-init: container execve at"


def trace_write(name, value):
    with open(os.path.join(TRACING, name), "w") as f:
        f.write(value)


def trace_setup(on):
    if on:
        trace_write("buffer_size_kb", "16384")
        trace_write("trace", "")  # clears
    for ev in ("kvm_exit", "kvm_pio", "kvm_msr", "kvm_mmio"):
        trace_write(f"events/kvm/{ev}/enable", "1" if on else "0")


def trace_count():
    reasons, pio, msr, mmio, rips = (collections.Counter() for _ in range(5))
    with open(os.path.join(TRACING, "trace"), errors="replace") as f:
        for line in f:
            if "nestbox-execve" in line:
                break
            m = re.search(r"kvm_exit: vcpu \d+ reason (\S+) rip (0x[0-9a-f]+)", line)
            if m:
                reasons[m.group(1)] += 1
                rips[f"{m.group(1)} {m.group(2)}"] += 1
                continue
            m = re.search(r"kvm_pio: pio_(\w+) at (0x[0-9a-f]+)", line)
            if m:
                pio[f"{m.group(1)} {m.group(2)}"] += 1
                continue
            m = re.search(r"kvm_msr: msr_(\w+) ([0-9a-f]+)", line)
            if m:
                msr[f"{m.group(1)} 0x{m.group(2)}"] += 1
                continue
            m = re.search(r"kvm_mmio: mmio (\w+) len \d+ gpa (0x[0-9a-f]+)", line)
            if m:
                mmio[f"{m.group(1)} {int(m.group(2), 16) & ~0xfff:#x}"] += 1
    return {"reasons": dict(reasons.most_common()), "pio": dict(pio.most_common(12)),
            "msr": dict(msr.most_common(12)), "mmio": dict(mmio.most_common(8)),
            "rips": dict(rips.most_common(40)),
            "total": sum(reasons.values())}


def run(mode, timeout, cmd):
    result = {"ok": False, "steps": {}}
    lines = []
    if mode == "exits":
        trace_setup(True)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        for line in read_lines(proc, start, timeout):
            lines.append(line)
            if FIRST in line and "kvm_exits_to_first_line" not in result:
                result["kvm_exits_to_first_line"] = kvm_exits(proc.pid)
            if EXECVE in line:
                result["wall_to_execve_s"] = round(time.monotonic() - start, 4)
                result["kvm_exits_to_execve"] = kvm_exits(proc.pid)
                if mode == "exits":
                    trace_write("trace_marker", "nestbox-execve")
    finally:
        if proc.poll() is None:
            time.sleep(0.2)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        if mode == "exits":
            trace_setup(False)
    result["exit_status"] = proc.returncode
    text = b"\n".join(lines).decode(errors="replace")
    for m in re.finditer(r"nestbox-init: started at (\d+) ms uptime", text):
        result["uptime_first_line_ms"] = int(m.group(1))
    for m in re.finditer(r"nestbox-init: container execve at (\d+) us uptime", text):
        result["uptime_execve_ms"] = int(m.group(1)) / 1000
    for m in re.finditer(r"nestbox-init: step (\S+) took (\d+) us", text):
        result["steps"][m.group(1)] = int(m.group(2)) / 1000
    result["ok"] = "uptime_execve_ms" in result
    if mode == "initcall":
        found = list(re.finditer(
            r"\[\s*(\d+\.\d+)\] initcall (\S+) returned -?\d+ after (\d+) usecs", text))
        calls = [(m.group(2), int(m.group(3))) for m in found]
        result["printk_first_initcall_ms"] = float(found[0].group(1)) * 1000 if found else None
        result["printk_last_initcall_ms"] = float(found[-1].group(1)) * 1000 if found else None
        calls.sort(key=lambda c: -c[1])
        result["initcalls_ms"] = round(sum(c[1] for c in calls) / 1000, 1)
        result["initcall_count"] = len(calls)
        result["top_initcalls_ms"] = {n: u / 1000 for n, u in calls[:12]}
        m = re.search(r"\[\s*(\d+\.\d+)\] Run /init as init process", text)
        result["printk_run_init_ms"] = float(m.group(1)) * 1000 if m else None
    if mode == "exits":
        result["trace"] = trace_count()
    if not result["ok"]:
        result["console_tail"] = text[-2000:]
    return result


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], float(sys.argv[2]), sys.argv[3:])))
