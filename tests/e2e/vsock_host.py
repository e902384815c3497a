#!/usr/bin/python3
"""Host side of the vsock e2e cases (Firecracker's hybrid protocol).

  vsock_host.py echo PATH PORT MSG     CONNECT to guest PORT (retrying until the
                                       guest listens), send MSG, half-close,
                                       print the reply
  vsock_host.py rtt PATH PORT N        N round trips of 64 bytes; prints
                                       "rtt_us MEDIAN MEAN"
  vsock_host.py serve SOCK             accept one connection on the Unix socket
                                       SOCK, read to EOF, reply "host got: " + data

A PATH of "vsock:CID" connects with AF_VSOCK to CID instead (a VMM with
vhost-vsock, e.g. QEMU in bench/net.sh).
"""
import os
import socket
import statistics
import sys
import time


def connect_vsock(cid, port, end):
    while True:
        try:
            s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
            s.connect((cid, port))
            return s
        except OSError:
            s.close()
        if time.monotonic() > end:
            sys.exit("vsock_host: CID %d port %d never accepted" % (cid, port))
        time.sleep(0.2)


def connect(path, port, deadline=60.0):
    end = time.monotonic() + deadline
    if path.startswith("vsock:"):
        return connect_vsock(int(path[6:]), port, end)
    while True:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.sendall(b"CONNECT %d\n" % port)
            line = b""
            while not line.endswith(b"\n"):
                b = s.recv(1)
                if not b:
                    break
                line += b
            if line.startswith(b"OK "):
                return s
            s.close()
        except OSError:
            pass
        if time.monotonic() > end:
            sys.exit("vsock_host: guest port %d never accepted" % port)
        time.sleep(0.2)


def read_all(s):
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out
        out += b


def main():
    mode = sys.argv[1]
    if mode == "echo":
        s = connect(sys.argv[2], int(sys.argv[3]))
        s.sendall(sys.argv[4].encode())
        s.shutdown(socket.SHUT_WR)
        sys.stdout.write(read_all(s).decode())
    elif mode == "rtt":
        s = connect(sys.argv[2], int(sys.argv[3]))
        msg = b"x" * 64
        times = []
        for _ in range(int(sys.argv[4])):
            t = time.perf_counter()
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                b = s.recv(len(msg) - len(got))
                if not b:
                    sys.exit("vsock_host: echo ended early")
                got += b
            times.append((time.perf_counter() - t) * 1e6)
        s.shutdown(socket.SHUT_WR)
        read_all(s)
        print("rtt_us %.0f %.0f" % (statistics.median(times), statistics.mean(times)))
    elif mode == "serve":
        try:
            os.unlink(sys.argv[2])
        except FileNotFoundError:
            pass
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ls.bind(sys.argv[2])
        ls.listen(1)
        c, _ = ls.accept()
        c.sendall(b"host got: " + read_all(c))
        c.close()
    else:
        sys.exit("usage: see the docstring")


main()
