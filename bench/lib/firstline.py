#!/usr/bin/env python3
"""Time a VMM from process start to the first stdout line containing MARKER.

    firstline.py MARKER TIMEOUT_SEC CMD [ARG...]

Prints one JSON object: seconds to the marker, the guest uptime in ms if the
line carries "at N ms uptime" (nestbox-init's debug line), and the VM exits
KVM counted for that process so far (from debugfs, when mounted). The
process group is killed as soon as the line appears, so a guest that would
reset afterwards (see shared/TESTHOST.md) never gets the chance.
"""
import glob
import json
import os
import re
import select
import signal
import subprocess
import sys
import time


def kvm_exits(pid):
    total = None
    for d in glob.glob(f"/sys/kernel/debug/kvm/{pid}-*"):
        try:
            with open(os.path.join(d, "exits")) as f:
                total = (total or 0) + int(f.read())
        except OSError:
            pass
    return total


def lines(proc, start, timeout):
    """Yield proc's complete stdout lines as they come, until it closes
    stdout or timeout seconds after start."""
    buf = b""
    while time.monotonic() - start < timeout:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if not ready:
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            return
        buf += chunk
        *done, buf = buf.split(b"\n")
        yield from done


def main():
    marker, timeout, cmd = sys.argv[1].encode(), float(sys.argv[2]), sys.argv[3:]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    result = {"seconds": None}
    try:
        for line in lines(proc, start, timeout):
            if marker in line:
                result["seconds"] = round(time.monotonic() - start, 4)
                result["kvm_exits"] = kvm_exits(proc.pid)
                m = re.search(rb"at (\d+) ms uptime", line)
                result["guest_uptime_ms"] = int(m.group(1)) if m else None
                return result
        return result
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


if __name__ == "__main__":
    print(json.dumps(main()))
