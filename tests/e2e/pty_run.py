#!/usr/bin/env python3
"""Run a command on a fresh pty of a given size, as a terminal user would.

    pty_run.py ROWS COLS SECONDS [--after-ready ACTION]... -- CMD [ARG...]

The pty is the command's stdin, stdout, stderr and controlling terminal.
Everything it prints is copied to our stdout (\\r removed), then a line
"pty-mode: cooked|raw" saying how it left the terminal; we exit with its
status (128+N if killed by signal N, 124 on timeout). Once a line
containing "ready" appeared, each ACTION runs in order:
    resize:RxC   set the pty's size (the kernel sends the command SIGWINCH)
    type:TEXT    type TEXT (\\r for Enter) into the terminal
"""
import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def act(master, action):
    kind, _, arg = action.partition(":")
    if kind == "resize":
        rows, cols = arg.split("x")
        set_size(master, int(rows), int(cols))
    elif kind == "type":
        os.write(master, arg.replace("\\r", "\r").encode())


def main():
    args = sys.argv[1:]
    rows, cols, limit = int(args[0]), int(args[1]), float(args[2])
    args = args[3:]
    actions = []
    while args and args[0] == "--after-ready":
        actions.append(args[1])
        args = args[2:]
    if args and args[0] == "--":
        args = args[1:]
    master, slave = os.openpty()
    set_size(slave, rows, cols)

    def child_setup():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave,
                            preexec_fn=child_setup, close_fds=True)
    os.close(slave)
    out = b""
    ready = False
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if not r:
            continue
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: every holder of the slave closed it
            break
        if not data:
            break
        out += data
        if not ready and b"ready" in out:
            ready = True
            time.sleep(0.5)
            for action in actions:
                act(master, action)
    else:
        proc.kill()
        proc.wait()
        sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
        return 124
    status = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
    # The terminal's mode as the command left it (raw: ICANON and ECHO off).
    lflag = termios.tcgetattr(master)[3]
    cooked = lflag & termios.ICANON and lflag & termios.ECHO
    sys.stdout.write("\npty-mode: %s\n" % ("cooked" if cooked else "raw"))
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main())
