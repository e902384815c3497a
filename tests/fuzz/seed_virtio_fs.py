#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz/fuzz_virtio_fs.c: one file per FUSE
session (INIT first, then the operations a guest does), in the target's
record format (see its header comment). Nodeids are what a fresh device
hands out: the root is 1, then 2, 3, ... in lookup order; handles 1, 2, ...

    tests/fuzz/seed_virtio_fs.py [DIR]   (default tests/fuzz/corpus/fuzz_virtio_fs)
"""
import os
import struct
import sys

OP = dict(LOOKUP=1, FORGET=2, GETATTR=3, SETATTR=4, READLINK=5, SYMLINK=6, MKNOD=8,
          MKDIR=9, UNLINK=10, RMDIR=11, RENAME=12, LINK=13, OPEN=14, READ=15, WRITE=16,
          STATFS=17, RELEASE=18, FSYNC=20, SETXATTR=21, GETXATTR=22, LISTXATTR=23,
          REMOVEXATTR=24, FLUSH=25, INIT=26, OPENDIR=27, READDIR=28, RELEASEDIR=29,
          FSYNCDIR=30, ACCESS=34, CREATE=35, DESTROY=38, BATCH_FORGET=42, FALLOCATE=43,
          READDIRPLUS=44, RENAME2=45, LSEEK=46, COPY_FILE_RANGE=47, SYNCFS=50)


class Session:
    def __init__(self):
        self.records = []
        self.unique = 0

    def req(self, op, nodeid, args=b"", room=4096, queue=1, split=0, len_delta=0):
        self.unique += 1
        body = args
        length = 40 + len(body) + len_delta
        hdr = struct.pack("<IIQQIIII", length & 0xffffffff, OP[op] if isinstance(op, str) else op,
                          self.unique, nodeid, 0, 0, 1, 0)
        data = hdr + body
        self.records.append(struct.pack("<BBHH", queue, split, room, len(data)) + data)
        return self

    def init(self):
        return self.req("INIT", 0, struct.pack("<IIII", 7, 36, 131072, 0xffffffff) + bytes(48))

    def blob(self, flags=0):
        return bytes([flags]) + b"".join(self.records)


def z(s):
    return s.encode() + b"\0"


def read_in(fh, off=0, size=4096):
    return struct.pack("<QQIIQII", fh, off, size, 0, 0, 0, 0)


def sessions():
    s = {}
    s["lookup-read"] = (Session().init()
                        .req("LOOKUP", 1, z("file")).req("GETATTR", 2, bytes(16))
                        .req("OPEN", 2, struct.pack("<II", 0, 0)).req("READ", 2, read_in(1))
                        .req("FLUSH", 2, struct.pack("<QIIQ", 1, 0, 0, 0))
                        .req("RELEASE", 2, struct.pack("<QIIQ", 1, 0, 0, 0))
                        .req("FORGET", 2, struct.pack("<Q", 1), queue=0))
    s["create-write"] = (Session().init()
                         .req("CREATE", 1, struct.pack("<IIII", 0o2, 0o100644, 0, 0) + z("new"),
                              room=4096)
                         .req("WRITE", 2, struct.pack("<QQIIQII", 1, 0, 11, 0, 0, 0, 0) + b"hello world")
                         .req("READ", 2, read_in(1, 0, 64), room=80, split=7)
                         .req("SETATTR", 2, struct.pack("<IIQQQQQQIIIIIIII", 1 << 3 | 1 << 6, 0, 1, 5,
                                                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
                         .req("FALLOCATE", 2, struct.pack("<QQQII", 1, 0, 8192, 0, 0))
                         .req("LSEEK", 2, struct.pack("<QQII", 1, 0, 3, 0))
                         .req("FSYNC", 2, struct.pack("<QII", 1, 1, 0))
                         .req("RELEASE", 2, struct.pack("<QIIQ", 1, 0, 0, 0)))
    s["namespace"] = (Session().init()
                      .req("MKDIR", 1, struct.pack("<II", 0o755, 0) + z("d"))
                      .req("SYMLINK", 1, z("l") + z("/"))
                      .req("READLINK", 3)
                      .req("LOOKUP", 3, z("etc"))
                      .req("MKNOD", 2, struct.pack("<IIII", 0o10644, 0, 0, 0) + z("fifo"))
                      .req("LOOKUP", 1, z("file"))
                      .req("LINK", 2, struct.pack("<Q", 5) + z("hard"))
                      .req("RENAME", 1, struct.pack("<Q", 2) + z("l") + z("l2"))
                      .req("RENAME2", 2, struct.pack("<QII", 1, 1, 0) + z("hard") + z("back"))
                      .req("UNLINK", 1, z("back"))
                      .req("RMDIR", 1, z("d"))
                      .req("STATFS", 1).req("SYNCFS", 1, bytes(8)))
    s["readdir"] = (Session().init()
                    .req("OPENDIR", 1, struct.pack("<II", 0, 0))
                    .req("READDIR", 1, read_in(1, 0, 4096), room=4200)
                    .req("READDIRPLUS", 1, read_in(1, 0, 4096), room=4200)
                    .req("READDIRPLUS", 1, read_in(1, 0, 300), room=316)
                    .req("FSYNCDIR", 1, struct.pack("<QII", 1, 0, 0))
                    .req("RELEASEDIR", 1, struct.pack("<QIIQ", 1, 0, 0, 0)))
    s["xattr"] = (Session().init()
                  .req("LOOKUP", 1, z("file"))
                  .req("SETXATTR", 2, struct.pack("<II", 3, 0) + z("user.a") + b"abc")
                  .req("GETXATTR", 2, struct.pack("<II", 0, 0) + z("user.a"))
                  .req("GETXATTR", 2, struct.pack("<II", 64, 0) + z("user.a"))
                  .req("LISTXATTR", 2, struct.pack("<II", 256, 0))
                  .req("SETXATTR", 2, struct.pack("<II", 3, 0) + z("security.capability") + b"abc")
                  .req("REMOVEXATTR", 2, z("user.a")))
    forgets = struct.pack("<II", 0xffffffff, 0) + b"".join(
        struct.pack("<QQ", n, 1 << 40) for n in (0, 1, 2, 3, 99, 2**64 - 1))
    storm = Session().init()
    for _ in range(8):
        storm.req("LOOKUP", 1, z("file")).req("LOOKUP", 1, z("sub"))
    s["forget-storm"] = storm.req("BATCH_FORGET", 0, forgets).req("LOOKUP", 1, z("file"))
    s["hostile"] = (Session().init()
                    .req("LOOKUP", 1, z(".."))
                    .req("LOOKUP", 1, z("sub/inner"))
                    .req("LOOKUP", 1, b"noterminator")
                    .req("LOOKUP", 1, z("x" * 300))
                    .req("LOOKUP", 2**63, z("file"))
                    .req("GETATTR", 1, bytes(16), len_delta=4096)
                    .req("GETATTR", 1, bytes(16), len_delta=-30)
                    .req("GETATTR", 1, bytes(16), room=8)
                    .req(4096, 1, bytes(32)).req(0, 1).req(52, 1, bytes(64))
                    .req("LOOKUP", 1, z("root-link")).req("LOOKUP", 2, z("etc"))
                    .req("OPEN", 2, struct.pack("<II", 2, 0))
                    .req("READ", 2, read_in(77, 2**63, 2**32 - 1), room=65535)
                    .req("DESTROY", 0).req("GETATTR", 1, bytes(16)))
    s["copy"] = (Session().init()
                 .req("LOOKUP", 1, z("file"))
                 .req("OPEN", 2, struct.pack("<II", 2, 0))
                 .req("CREATE", 1, struct.pack("<IIII", 0o2, 0o100600, 0, 0) + z("copy"))
                 .req("COPY_FILE_RANGE", 2, struct.pack("<QQQQQQQ", 1, 0, 3, 2, 0, 4096, 0))
                 .req("READ", 3, read_in(2, 0, 64)))
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_virtio_fs")
    os.makedirs(out, exist_ok=True)
    for name, session in sessions().items():
        for flags, suffix in ((0, ""), (2, "-indirect"), (1 | 4, "-ro-eventidx")):
            with open(os.path.join(out, name + suffix), "wb") as f:
                f.write(session.blob(flags))
    # Raw mode: a tiny ring with a chain pointing at nothing in particular.
    raw = bytearray(0x3000)
    raw[0:16] = struct.pack("<QIHH", 0x50000, 4096, 1, 1)
    raw[16:32] = struct.pack("<QIHH", 0x60000, 4096, 2, 0)
    raw[0x1000:0x1006] = struct.pack("<HHH", 0, 1, 0)
    with open(os.path.join(out, "raw-ring"), "wb") as f:
        f.write(bytes([8]) + bytes(raw))


if __name__ == "__main__":
    main()
