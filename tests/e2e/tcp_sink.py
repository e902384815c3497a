#!/usr/bin/python3
"""tcp_sink.py ADDR PORT BYTES: accept one TCP connection, read BYTES bytes
(or to EOF), close, print "bytes N mbps X secs S" (MB/s and seconds from first to last
byte)."""
import socket
import sys
import time

ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], int(sys.argv[2])))
ls.listen(1)
ls.settimeout(120)
c, _ = ls.accept()
want, got, first = int(sys.argv[3]), 0, None
while got < want:
    b = c.recv(1 << 20)
    if not b:
        break
    if first is None:
        first = time.perf_counter()
    got += len(b)
secs = time.perf_counter() - first if first else 0
c.close()
print("bytes %d mbps %.1f secs %.3f" % (got, got / secs / 1e6 if secs else 0, secs))
