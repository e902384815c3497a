#!/usr/bin/env python3
"""A `nestbox serve` client in plain Python (issue 16; README.md, "nestbox
serve"): CALLERS threads send TOTAL invocations at once, each with its own
command and stdin, and check each answer; then one malformed request.
Usage: serve_client.py SOCKET CALLERS TOTAL. Prints "ok N invocations in S s
(R/s)" or one "not ok ..." line per failure; exits 0 when all passed."""
import json
import socket
import sys
import threading
import time

path, callers, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
failures = []
lock = threading.Lock()


def call(raw):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(300)
    s.connect(path)
    s.sendall(raw + b"\n")
    reply = s.makefile("rb").readline()
    s.close()
    return json.loads(reply)


def invoke(i):
    req = {"argv": [f"read x; echo call-{i}:$x; echo e-{i} >&2; exit {i % 5}"],
           "stdin": f"in-{i}\n", "timeout": 120}
    try:
        r = call(json.dumps(req).encode())
    except Exception as e:  # noqa: BLE001 (any failure is the test's)
        return f"call {i}: {e}"
    want = (f"call-{i}:in-{i}\n", f"e-{i}\n", i % 5)
    got = (r.get("stdout"), r.get("stderr"), r.get("exit_code"))
    if got == want and not r.get("error"):
        return None
    # nestbox's error first: a failure line is cut short where it is shown
    brief = {k: r.get(k) for k in ("error", "exit_code", "timed_out", "stdout", "stderr", "duration_ms")}
    console = r.get("console", "")[-300:]
    return f"call {i}: want {want}, got {brief}" + (f", guest console ...{console!r}" if console else "")


def caller(indices):
    for i in indices:
        why = invoke(i)
        if why:
            with lock:
                failures.append(why)


start = time.monotonic()
threads = [threading.Thread(target=caller, args=(range(c, total, callers),))
           for c in range(callers)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - start

bad = call(b'{"argv": "not a list", "bogus": 1}')
if "bad request" not in str(bad.get("error", "")):
    failures.append(f"a malformed request: want an error, got {bad}")

for f in failures:
    print(f"not ok {f}")
if not failures:
    print(f"ok {total} invocations in {elapsed:.2f} s ({total / elapsed:.2f}/s)")
sys.exit(1 if failures else 0)
