#!/usr/bin/env python3
"""A control-API client in plain Python (issue 15): drives one detached VM
through its socket (README.md, "Control API") and checks the protocol.
Usage: lifecycle_client.py SOCKET. Prints one line per check, "ok NAME" or
"not ok NAME: why"; exits 0 when all passed."""
import json
import os
import socket
import sys

failed = 0


def check(name, cond, why=""):
    global failed
    print(f"ok {name}" if cond else f"not ok {name}: {why}")
    failed += 0 if cond else 1


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)
    s.connect(path)
    return s, s.makefile("rb")


def call(conn, request):
    s, f = conn
    s.sendall((request if isinstance(request, bytes) else json.dumps(request).encode()) + b"\n")
    line = f.readline()
    return json.loads(line) if line else None


def main():
    # A socket path may be longer than sun_path's 108 bytes: connect to it
    # relative to its directory.
    os.chdir(os.path.dirname(sys.argv[1]))
    path = os.path.basename(sys.argv[1])
    c = connect(path)
    r = call(c, {"op": "hello"})
    check("py_hello", r and r.get("ok") and r.get("protocol") == 3, r)
    r = call(c, {"op": "state"})
    check("py_state", r and r["state"]["Status"] == "running" and r["state"]["Pid"] > 0, r)
    r = call(c, {"op": "stats"})
    check("py_stats", r and r["stats"]["vmm_rss_kib"] > 0 and r["stats"]["cpu_usec"] > 0, r)
    r = call(c, {"op": "config"})
    check("py_config", r and r["config"]["Name"] == "pyvm", r)
    # Hostile requests get error replies, and the connection lives on.
    for name, req, code in [
        ("py_err_not_json", b"{nope", "bad_request"),
        ("py_err_not_object", b"[1,2]", "bad_request"),
        ("py_err_no_op", {"signal": 9}, "bad_request"),
        ("py_err_unknown_op", {"op": "reboot"}, "unknown_op"),
        ("py_err_unknown_field", {"op": "state", "x": 1}, "bad_request"),
        ("py_err_bad_type", {"op": "kill", "signal": [9]}, "bad_request"),
        ("py_err_bad_signal", {"op": "kill", "signal": "NOPE"}, "bad_request"),
        ("py_err_bad_timeout", {"op": "stop", "timeout": -1}, "bad_request"),
        ("py_err_nul", b'{"op":"st\x00ate"}', "bad_request"),
    ]:
        r = call(c, req)
        check(name, r and r.get("ok") is False and r["error"]["code"] == code, r)
    r = call(c, {"op": "state"})
    check("py_alive_after_errors", r and r.get("ok"), r)
    # A line longer than the limit: an error, then the connection closes.
    r = call(connect(path), b"x" * 10000)
    check("py_err_too_long", r and r["error"]["code"] == "too_long", r)
    # Events on a held connection, then kill: kill and die arrive.
    ev = connect(path)
    r = call(ev, {"op": "events"})
    check("py_events_ok", r and r.get("ok"), r)
    r = call(c, {"op": "kill", "signal": "KILL"})
    check("py_kill", r and r.get("ok"), r)
    actions = []
    for line in ev[1]:
        e = json.loads(line)
        actions.append(e["Action"])
        if e["Action"] == "die":
            check("py_die_exit_code", e.get("exitCode") == 137, e)
            break
    check("py_events", "kill" in actions and "die" in actions, actions)
    sys.exit(1 if failed else 0)


main()
