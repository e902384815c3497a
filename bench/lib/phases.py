#!/usr/bin/env python3
"""Where one VMM's wall time goes, from this (L1) kernel's tracepoints.

    phases.py RUNS CMD [ARG...]

Runs CMD (a `nestbox run ... true` whose guest prints nestbox-init's
"container execve" line, so a kernel booted with nestbox.debug) RUNS times,
one at a time, and prints one JSON object: per phase the median over the
runs, in milliseconds, and the median count of nested page faults (NPF
exits) and of all VM exits:

  setup     the VMM's exec to its first KVM_RUN (the host side: loading,
            options, image, template files, KVM's VM, devices, state)
  to_execve the first KVM_RUN to the workload's execve line on CMD's output
  to_exit   that line to CMD's exit (the workload, the status report, the
            teardown of the VM)

and, over the whole run, the milliseconds this kernel spent handling the
guest's exits (from a vCPU thread's kvm_exit to its next kvm_entry), all of
them (exit_ms) and the nested page faults alone (npf_ms): a restored guest
faults in each page it touches, 4 KiB at a time.

Needs tracefs (mounted here if it is not) and root; one VM at a time.
"""
import json
import os
import re
import statistics
import subprocess
import sys

from guestboot import TRACING, trace_write  # bench/lib/guestboot.py

EVENTS = ("sched/sched_process_exec", "kvm/kvm_entry", "kvm/kvm_exit")
EXECVE = b"container execve"


def events(on):
    for ev in EVENTS:
        trace_write(f"events/{ev}/enable", "1" if on else "0")


def one(cmd):
    trace_write("buffer_size_kb", "16384")
    trace_write("trace", "")
    events(True)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        for line in proc.stdout:
            if EXECVE in line:
                trace_write("trace_marker", "nb-phases-execve")
        proc.wait()
        trace_write("trace_marker", "nb-phases-exit")
    finally:
        events(False)
    exe = entry = execve = end = None
    npf = exits = 0
    exit_s = npf_s = 0.0
    pending = {}  # vCPU thread -> (time of its last exit, an NPF?)
    with open(os.path.join(TRACING, "trace"), errors="replace") as f:
        for line in f:
            # "comm-TID [CPU] flags TIME: event:", "(TGID)" before [CPU] with record-tgid
            m = re.search(r"-(\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[\d+\].*?\s(\d+\.\d+): (\w+):", line)
            if not m:
                continue
            tid, t, ev = m.group(1), float(m.group(2)), m.group(3)
            if ev == "sched_process_exec" and exe is None and "nestbox" in line:
                exe = t
            elif ev == "kvm_entry":
                if entry is None:
                    entry = t
                if tid in pending:
                    t0, was_npf = pending.pop(tid)
                    exit_s += t - t0
                    npf_s += (t - t0) if was_npf else 0.0
            elif ev == "kvm_exit":
                exits += 1
                is_npf = " reason npf " in line
                npf += is_npf
                pending[tid] = (t, is_npf)
            elif ev == "tracing_mark_write" and "nb-phases-execve" in line:
                execve = t
            elif ev == "tracing_mark_write" and "nb-phases-exit" in line:
                end = t
    if None in (exe, entry, execve, end) or proc.returncode != 0:
        return None
    return {"setup": (entry - exe) * 1000, "to_execve": (execve - entry) * 1000,
            "to_exit": (end - execve) * 1000, "npf_exits": npf, "exits": exits,
            "exit_ms": exit_s * 1000, "npf_ms": npf_s * 1000}


def main():
    runs, cmd = int(sys.argv[1]), sys.argv[2:]
    if not os.path.isdir(os.path.join(TRACING, "events")):
        subprocess.run(["mount", "-t", "tracefs", "none", TRACING], check=False)
    got = [r for r in (one(cmd) for _ in range(runs)) if r]
    out = {"runs": len(got), "of": runs}
    for key in ("setup", "to_execve", "to_exit", "npf_exits", "exits", "exit_ms", "npf_ms"):
        out[key] = round(statistics.median(r[key] for r in got), 1) if got else None
    print(json.dumps(out))


if __name__ == "__main__":
    main()
