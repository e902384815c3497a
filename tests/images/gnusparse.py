#!/usr/bin/env python3
"""Old-style GNU sparse tar members (typeflag 'S'), which Python's tarfile
reads but cannot write (test tool).

usage: gnusparse.py OUT.tar DIR [SPARSE-MEMBER]
    Tar DIR (an OCI layout) into OUT.tar; SPARSE-MEMBER (a path under DIR)
    is stored as an old GNU sparse member whose trailing zeros are a hole.
usage: gnusparse.py --hostile OUT.tar.gz
    One member that declares 0 bytes but carries 4 MiB at offset 0 of its
    sparse map (issue 11, finding 1), gzip-compressed (a few KiB).

member(name, chunks, realsize) is importable: chunks is [(offset, bytes)],
at most 4 (no extension headers).
"""
import gzip, io, os, sys, tarfile


def octal(n, width):
    return b"%0*o\0" % (width - 1, n)


def member(name, chunks, realsize):
    h = bytearray(512)
    h[0:len(name)] = name.encode()
    h[100:108] = octal(0o644, 8)
    h[108:116] = octal(0, 8)
    h[116:124] = octal(0, 8)
    h[124:136] = octal(sum(len(d) for _, d in chunks), 12)  # bytes stored
    h[136:148] = octal(1700000000, 12)
    h[156:157] = b"S"
    h[257:265] = b"ustar  \0"  # GNU magic and version
    assert len(chunks) <= 4
    for i, (off, d) in enumerate(chunks):
        h[386 + 24 * i:398 + 24 * i] = octal(off, 12)
        h[398 + 24 * i:410 + 24 * i] = octal(len(d), 12)
    h[483:495] = octal(realsize, 12)  # the file's size
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    data = b"".join(d for _, d in chunks)
    return bytes(h) + data + b"\0" * (-len(data) % 512)


def tar_layout(out, top, sparse):
    buf = io.BytesIO()
    t = tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT)
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for f in sorted(files):
            path = os.path.join(root, f)
            rel = os.path.relpath(path, top)
            if rel != sparse:
                t.add(path, rel)
    end = t.offset  # before the end blocks close() writes
    t.close()
    data = open(os.path.join(top, sparse), "rb").read()
    body = data.rstrip(b"\0")
    assert len(body) < len(data), "the sparse member must end in zeros"
    raw = buf.getvalue()[:end] + member(sparse, [(0, body), (len(data), b"")], len(data))
    open(out, "wb").write(raw + b"\0" * 1024)


if __name__ == "__main__":
    if sys.argv[1] == "--hostile":
        raw = member("blob", [(0, b"\0" * (4 << 20))], 0) + b"\0" * 1024
        open(sys.argv[2], "wb").write(gzip.compress(raw))
    else:
        tar_layout(sys.argv[1], sys.argv[2], sys.argv[3])
