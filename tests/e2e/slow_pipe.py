#!/usr/bin/env python3
"""Slow ends of a pipe for the e2e output cases (tests/e2e/output.sh).

  slow_pipe.py read RATE [PROGRESS [STALL_AT STALL_S]]
      Read stdin at about RATE bytes/s (64 KiB reads) to its end; print
      "SHA256 BYTES". PROGRESS: a file rewritten with the byte count after
      each read. STALL_AT: after that many bytes, stop reading for STALL_S
      seconds (forever: "inf"). With SLOW_PIPE_TAIL=FILE in the environment,
      the last 4 KiB read are saved there (a failing case shows them).
  slow_pipe.py write FILE RATE [PAUSE_EVERY PAUSE_S]
      Write FILE to stdout at about RATE bytes/s in 16 KiB writes, pausing
      PAUSE_S seconds after every PAUSE_EVERY bytes.
"""
import hashlib
import os
import sys
import time


def read(rate, progress=None, stall_at=None, stall_s=0.0):
    h = hashlib.sha256()
    total = 0
    start = time.monotonic()
    stalled = False
    tail = b""
    while True:
        if stall_at is not None and not stalled and total >= stall_at:
            stalled = True
            if stall_s == float("inf"):
                while True:
                    time.sleep(3600)
            time.sleep(stall_s)
            start = time.monotonic() - total / rate
        chunk = os.read(0, 65536)
        if not chunk:
            break
        h.update(chunk)
        total += len(chunk)
        tail = (tail + chunk)[-4096:]
        if progress:
            with open(progress + ".tmp", "w") as f:
                f.write(str(total))
            os.replace(progress + ".tmp", progress)
        ahead = total / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
    if os.environ.get("SLOW_PIPE_TAIL"):
        with open(os.environ["SLOW_PIPE_TAIL"], "wb") as f:
            f.write(tail)
    print(h.hexdigest(), total)


def write(path, rate, pause_every=None, pause_s=0.0):
    total = 0
    next_pause = pause_every
    start = time.monotonic()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(16384)
            if not chunk:
                break
            view = memoryview(chunk)
            while view:
                n = os.write(1, view)
                view = view[n:]
                total += n
            if next_pause is not None and total >= next_pause:
                time.sleep(pause_s)
                start += pause_s
                next_pause += pause_every
            ahead = total / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)


def main(argv):
    if len(argv) >= 2 and argv[0] == "read":
        stall_at = int(argv[3]) if len(argv) >= 5 else None
        stall_s = float(argv[4]) if len(argv) >= 5 else 0.0
        read(float(argv[1]), argv[2] if len(argv) >= 3 and argv[2] else None, stall_at, stall_s)
    elif len(argv) >= 3 and argv[0] == "write":
        pause_every = int(argv[3]) if len(argv) >= 5 else None
        pause_s = float(argv[4]) if len(argv) >= 5 else 0.0
        write(argv[1], float(argv[2]), pause_every, pause_s)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
