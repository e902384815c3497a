#!/usr/bin/env python3
"""Write the hand-made seed inputs of the VMM fuzz targets into
tests/fuzz/corpus/<target>/seed-<name>: driver sessions that reach each
device's code (a full virtio probe, the console's port handshake, net
frames both ways, a kernel-like 8250 set-up, exits to every port device).
The encodings follow tests/fuzz/fuzz.h and each target's step switch.
Usage: tests/fuzz/seeds.py [OUTDIR]   (default: tests/fuzz/corpus)"""
import os
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")

U8 = lambda v: struct.pack("<B", v & 0xFF)
U16 = lambda v: struct.pack("<H", v & 0xFFFF)
U32 = lambda v: struct.pack("<I", v & 0xFFFFFFFF)
U64 = lambda v: struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)

# ---- generic virtio-driver steps (tests/fuzz/fuzz.h) -------------------------
PROBE, RESET, CHAIN, KICK, REG, IO, POKE = range(7)
NOPS = 7
VERSION_1, INDIRECT, EVENT_IDX = 1 << 32, 1 << 28, 1 << 29
ALL = (1 << 64) - 1


def probe(features=ALL, offered_only=True, qlog=None):
    mode = (1 if offered_only else 0) | 2 | ((4 | (qlog << 4)) if qlog is not None else 0)
    return U8(PROBE) + U8(mode) + U64(features)


def reset():
    return U8(RESET)


def chain(q, segs, indirect=False, kick=True):
    """segs: list of bytes (readable) or ints (writable lengths); readable first."""
    nread = sum(1 for s in segs if isinstance(s, bytes))
    shape = (len(segs) - 1) | (nread << 2) | (0x20 if indirect else 0) | (0 if kick else 0x40)
    out = U8(CHAIN) + U8(shape) + U8(q)
    for s in segs:
        out += U16(len(s)) + s if isinstance(s, bytes) else U16(s)
    return out


def kick(q, spurious=False):
    return U8(KICK) + U8(0x80 if spurious else q)


def reg_write(off, value):
    return U8(REG) + U8(0x80 | off // 4) + U32(value)


def reg_read(off):
    return U8(REG) + U8(off // 4)


def io(off, length, write, data=b""):
    return U8(IO) + U8((0x80 if write else 0) | (length - 1)) + U16(off) + data.ljust(8, b"\0")[:8]


def poke(off, data):
    return U8(POKE) + U32(off) + U8(len(data)) + data


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- fuzz_mmio ------------------------------------------------------------------
def mmio():
    regs = b"".join(reg_read(off) for off in range(0, 0x100, 4))
    write("fuzz_mmio", "probe-and-serve",
          probe(qlog=4) + chain(0, [b"req", 64]) + chain(9, [32, 32], indirect=True) + regs +
          reg_write(0x064, 1) + chain(3, [16]))
    write("fuzz_mmio", "by-hand",
          # status steps, features both halves, a queue at hostile addresses, then a good one
          reg_write(0x070, 1) + reg_write(0x070, 3) + reg_write(0x014, 1) + reg_read(0x010) +
          reg_write(0x024, 1) + reg_write(0x020, 1) + reg_write(0x024, 0) + reg_write(0x020, 0x21) +
          reg_write(0x070, 0xB) + reg_read(0x070) + reg_write(0x030, 2) + reg_read(0x034) +
          reg_write(0x038, 16) + reg_write(0x080, 0xFFFFF000) + reg_write(0x084, 0xFFFFFFFF) +
          reg_write(0x044, 1) + reg_read(0x044) + reg_write(0x080, 0x3000) + reg_write(0x084, 0) +
          reg_write(0x090, 0x3800) + reg_write(0x0A0, 0x3C00) + reg_write(0x044, 1) +
          reg_read(0x044) + reg_write(0x070, 0xF) + reg_write(0x050, 2) + reg_read(0x060) +
          reg_write(0x064, 3) + reg_write(0x044, 0) + reg_write(0x070, 0x4F) + reg_write(0x070, 0))
    write("fuzz_mmio", "config-and-widths",
          probe() + io(0x100, 4, False) + io(0x104, 8, True, b"12345678") + io(0x10A, 2, False) +
          io(0x10B, 4, True, b"abcd") + io(0x1FF, 1, False) + io(0x072, 2, True, b"\x0f\0") +
          io(0x070, 1, False) + io(0xFFF, 1, False) + io(0x400, 8, True))
    write("fuzz_mmio", "broken-ring",
          probe(features=VERSION_1) + chain(1, [8]) + poke(0x8000 + 0x1000 + 2, U16(0x4000)) +
          kick(1) + reg_read(0x070) + reg_read(0x060) + reset() + probe())


# ---- fuzz_rng -------------------------------------------------------------------
def rng():
    write("fuzz_rng", "requests",
          probe() + chain(0, [16]) + chain(0, [2048, 2048, 2048]) + chain(0, [b"x", 0, 7]) +
          chain(0, [100, 200], indirect=True) + kick(0) + kick(0, spurious=True) + reset())
    write("fuzz_rng", "no-features",
          probe(features=VERSION_1, offered_only=False, qlog=3) + chain(0, [1]) + chain(0, [b"ro"]))
    write("fuzz_rng", "hostile", probe() + reg_write(0x070, 0) + chain(0, [64]) +
          poke(0x4000, U64(0xFFFFFFFFFFFF0000) + U32(64) + U16(2) + U16(0)) + kick(0))


# ---- fuzz_net -------------------------------------------------------------------
NET_TX, NET_RX, NET_WIRE, NET_EVENTS, NET_CONFIG = range(NOPS, NOPS + 5)
CSUM, GUEST_CSUM, GUEST_TSO4, GUEST_TSO6, HOST_TSO4, HOST_TSO6 = (1 << 0, 1 << 1, 1 << 7, 1 << 8,
                                                                  1 << 11, 1 << 12)


def vnet_hdr(flags=0, gso=0, hdr_len=0, gso_size=0, csum_start=0, csum_off=0):
    return struct.pack("<BBHHHHH", flags, gso, hdr_len, gso_size, csum_start, csum_off, 0)


ETH = bytes.fromhex("ffffffffffff020000000001") + b"\x08\x00"


def net_tx(hdr, payload, pieces=1, indirect=False, short=True):
    shape = (pieces - 1) | (0x10 if short else 0) | (0x20 if indirect else 0)
    return U8(NET_TX) + U8(shape) + hdr + U16(len(payload)) + payload


def net_rx(lens, pieces=1, indirect=False, kick=True):
    sizes = [0, 1, 11, 12, 60, 1526, 4096, 65562]
    out = U8(NET_RX) + U8((len(lens) - 1) | (0x20 if indirect else 0) | (0 if kick else 0x40))
    for n in lens:
        pick = (pieces - 1) << 4
        out += U8(pick | sizes.index(n)) if n in sizes else U8(pick | 0x80) + U16(n)
    return out


def net_wire(frame):
    return U8(NET_WIRE) + (U8(len(frame)) if len(frame) < 0x80 else U8(0x80) + U16(len(frame))) + frame


def net_events(wait=False):
    return U8(NET_EVENTS) + U8(0x80 if wait else 0)


def net():
    ip = bytes(20) + bytes(20) + b"payload" * 4
    write("fuzz_net", "both-ways",
          U8(0) + probe() + U8(NET_CONFIG) + net_rx([1526, 1526, 65562], pieces=2) +
          net_wire(vnet_hdr() + ETH + ip) + net_wire(vnet_hdr(1, 1, 54, 1448, 34, 16) + ETH + ip) +
          net_events() + net_tx(vnet_hdr(), ETH + ip) +
          net_tx(vnet_hdr(1, 1, 54, 1448, 34, 16), ETH + ip, pieces=3) +
          net_tx(vnet_hdr(0, 4, 74, 1428), ETH + ip, pieces=2, indirect=True) +
          net_rx([12, 11, 60]) + net_wire(b"short") + net_wire(vnet_hdr() + ETH) + net_events())
    write("fuzz_net", "no-offloads",
          U8(0) + probe(features=VERSION_1 | EVENT_IDX, offered_only=False) +
          net_tx(vnet_hdr(1, 0x81), ETH + ip) + net_tx(vnet_hdr(), b"tiny") + net_rx([0, 1526]) +
          net_wire(vnet_hdr() + ETH + ip) + net_events() + reset() + net_events())
    write("fuzz_net", "rate-limited",
          U8(0xC3) + probe() + b"".join(net_tx(vnet_hdr(), ETH + ip) for _ in range(4)) +
          net_rx([1526] * 4) + b"".join(net_wire(vnet_hdr() + ETH + ip) for _ in range(3)) +
          net_events(True) + net_events(True) + net_rx([1526] * 2) +
          net_events(True))
    write("fuzz_net", "bad-headers",
          U8(0) + probe(features=VERSION_1 | CSUM | HOST_TSO4, offered_only=False) +
          net_tx(vnet_hdr(1, 4), ETH + ip) + net_tx(vnet_hdr(3, 1), ETH + ip) +
          net_tx(vnet_hdr(0, 3), ETH + ip) + net_tx(vnet_hdr(1, 0x80), ETH + ip) +
          net_tx(vnet_hdr(), bytes(1600), short=False))


# ---- fuzz_console ---------------------------------------------------------------
(C_CTRL, C_CTRL_BUFS, C_OUTPUT, C_PORT_BUFS, C_STDIN, C_EVENTS, C_READER,
 C_SIGNAL) = range(NOPS, NOPS + 8)
MULTIPORT = 1 << 1
DEVICE_READY, PORT_ADD, PORT_READY, PORT_OPEN, PORT_NAME = 0, 1, 3, 6, 7


def ctrl(port, event, value):
    return U8(C_CTRL) + U8(port) + U8(event) + U8(value)


def bufs(op_prefix, count, length, two=False):
    out = b""
    while count > 0:
        n = min(count, 4)
        shape = (n - 1) | (0x08 if two else 0) | (0x10 if length >= 64 else 0)
        out += op_prefix + U8(shape) + b"".join(U16(length) if length >= 64 else U8(length)
                                                   for _ in range(n))
        count -= n
    return out


def ctrl_bufs(count, length=32):
    return bufs(U8(C_CTRL_BUFS), count, length)


def port_bufs(port, count, length, two=False):
    return bufs(U8(C_PORT_BUFS) + U8(port), count, length, two)


def output(port, data, pieces=1):
    shape = port | ((pieces - 1) << 2) | (0x10 if len(data) > 255 else 0)
    return U8(C_OUTPUT) + U8(shape) + (U16(len(data)) if len(data) > 255 else U8(len(data))) + data


def console_handshake(ports=range(4)):
    out = probe() + ctrl_bufs(16) + ctrl(0, DEVICE_READY, 1)
    for p in ports:
        out += ctrl(p, PORT_READY, 1)
    for p in ports:
        out += ctrl(p, PORT_OPEN, 1)
    return out + ctrl_bufs(8)


def console():
    # kinds: stdin pipe (0), stdout pipe (0), stderr pipe (0)
    write("fuzz_console", "session",
          U8(0x00) + U8(0) + console_handshake() + port_bufs(0, 2, 100) +
          U8(C_STDIN) + U8(5) + b"hello" + U8(C_EVENTS) +
          output(1, b"out line\n") + output(2, b"err line\n", pieces=2) + U8(C_READER) + U8(0) +
          U8(C_READER) + U8(1) + port_bufs(3, 2, 64) + U8(C_SIGNAL) + U8(6) + b"sig\0\1\2" +
          U8(C_STDIN) + U8(0x80) + U8(C_EVENTS) + U8(C_EVENTS) + output(0, b"dropped") +
          output(3, b"dropped"))
    write("fuzz_console", "back-pressure",
          U8(0x00) + U8(0) + console_handshake() + output(1, bytes(range(256)) * 24, pieces=3) +
          U8(C_EVENTS) + output(1, b"more") + U8(C_READER) + U8(0) + U8(C_EVENTS) +
          U8(C_READER) + U8(0) + U8(C_READER) + U8(0x80) + output(1, b"after the reader left") +
          U8(C_EVENTS))
    # the same with stdout a non-blocking pipe
    write("fuzz_console", "non-blocking-stdout",
          U8(0x40) + U8(0) + console_handshake() + output(1, bytes(range(256)) * 24, pieces=3) +
          output(1, b"more") + U8(C_EVENTS) + U8(C_READER) + U8(0) + U8(C_EVENTS))
    # stdin a regular file, stdout a regular file, stderr /dev/null
    write("fuzz_console", "files",
          U8(0x01 | (1 << 2) | (3 << 4)) + U8(12) + b"file content" + console_handshake() +
          port_bufs(0, 3, 8, two=True) + U8(C_EVENTS) + output(1, b"to a file\n") +
          output(2, b"to nowhere\n") + U8(C_READER) + U8(0))
    # no stdin, no stdout; hostile control messages; reset in the middle
    write("fuzz_console", "hostile-control",
          U8(0x02 | (2 << 2) | (2 << 4)) + U8(0) + probe() + ctrl_bufs(4, 4) +
          U8(C_CTRL) + U8(0x80) + U32(0xFFFFFFFF) + U8(PORT_READY) + U8(1) + ctrl(4, PORT_READY, 1) + ctrl(3, PORT_OPEN, 0) +
          ctrl(1, 5, 1) + ctrl(0, DEVICE_READY, 1) + ctrl(2, PORT_READY, 1) +
          U8(C_SIGNAL) + U8(3) + b"abc" + reset() + console_handshake(ports=[3]) +
          port_bufs(3, 1, 0) + U8(C_SIGNAL) + U8(3) + b"abc" + ctrl(3, PORT_OPEN, 0))


# ---- fuzz_serial ----------------------------------------------------------------
def sw(reg, value):
    return U8(0) + U8(reg) + U8(value)


def sr(reg):
    return U8(1) + U8(reg) + U8(0)


def serial():
    init = (sw(3, 0x80) + sw(0, 1) + sw(1, 0) + sw(3, 0x03) + sw(2, 0xC7) + sw(4, 0x0B) +
            sr(2) + sr(5) + sw(1, 0x0F) + sr(2))
    text = b"".join(sw(0, c) + sr(5) for c in b"Linux console\n") + sr(2) + sw(1, 0x0D)
    loop = sw(4, 0x1F) + sr(6) + sw(0, 0x55) + sw(0, 0xAA) + sr(5) + sr(0) + sr(0) + sr(0) + sw(4, 0x0B)
    rx = U8(2) + U8(70) + bytes(range(70)) + sr(5) + sr(2) + sr(0) + sw(2, 0x07) + sr(5)
    write("fuzz_serial", "kernel-console", init + text + U8(3) + loop + rx + sr(7) + sw(7, 9) + sr(7))
    write("fuzz_serial", "bad-accesses",
          U8(0) + U8(0x80) + U64(8) + U8(1) + U8(1) + U8(0x48) + U8(0) + U8(0) + U8(0x50) +
          U8(0x41) + U8(1) + U8(0x80) + U64(1 << 63) + U8(0) + sw(5, 0) + sw(6, 0) + U8(3))
    burst = lambda n, byte: U8(4) + U16(n) + U8(byte)
    write("fuzz_serial", "full-batch", sw(1, 0x02) + burst(5000, 0x41) + sw(1, 0) + burst(10, 0x42) +
          sw(4, 0x1F) + burst(100, 0x43) + sr(5) + U8(3))


# ---- fuzz_exit ------------------------------------------------------------------
IO_EXIT, MMIO_EXIT, INTR, HLT, SHUTDOWN, SYSTEM_EVENT, INTERNAL, FAIL_ENTRY = range(8)
PORTS = {"thr": 0, "ier": 1, "iir": 2, "lcr": 3, "mcr": 4, "lsr": 5, "scr": 6, "kbd": 7,
         "kbdcmd": 8, "exit": 9, "exit+2": 10, "0x80": 11}


def pio(port, out, size=1, data=b"", count=1, offset=0):
    shape = (1 if out else 0) | ({1: 0, 2: 1, 4: 2}[size] << 1)
    return (U8(IO_EXIT) + U8(shape) + U8(PORTS[port]) + U8(count - 1) + U8(offset) +
            U8(len(data)) + data)


def mmio_exit(off, write, length=4, data=b""):
    shape = {1: 0, 2: 1, 4: 2, 8: 3}[length] | (0x10 if write else 0)
    return U8(MMIO_EXIT) + U8(shape) + U16(off) + data.ljust(8, b"\0")[:8]


def exits():
    nb_exit = lambda status: pio("exit", True, 4, U32(0x4E420000 | status))
    console = (pio("lcr", True, data=b"\x03") + pio("ier", True, data=b"\x02") +
               pio("thr", True, data=b"h", count=1) + pio("thr", True, data=b"ello\n", count=5) +
               pio("lsr", False) + pio("iir", False, count=4) + pio("kbdcmd", False) +
               pio("exit", False, 4) + U8(INTR))
    write("fuzz_exit", "console-then-status", U8(0) + console + nb_exit(3))
    write("fuzz_exit", "i8042-reset", U8(0) + pio("kbd", False) + pio("kbdcmd", True, data=b"\x01") +
          pio("kbdcmd", True, data=b"\xfe"))
    write("fuzz_exit", "virtio-probe",
          U8(0) + mmio_exit(0x000, False) + mmio_exit(0x008, False) + mmio_exit(0x070, True, 4, U32(1)) +
          mmio_exit(0x070, True, 4, U32(3)) + mmio_exit(0x024, True, 4, U32(1)) +
          mmio_exit(0x020, True, 4, U32(1)) + mmio_exit(0x070, True, 4, U32(0xB)) +
          mmio_exit(0x034, False) + mmio_exit(0x038, True, 4, U32(8)) +
          mmio_exit(0x080, True, 4, U32(0x1000)) + mmio_exit(0x090, True, 4, U32(0x2000)) +
          mmio_exit(0x0A0, True, 4, U32(0x3000)) + mmio_exit(0x044, True, 4, U32(1)) +
          mmio_exit(0x070, True, 4, U32(0xF)) + mmio_exit(0x050, True, 4, U32(0)) +
          mmio_exit(0x060, False) + mmio_exit(0x100, False, 8) + mmio_exit(0x0FE, True, 2) +
          U8(MMIO_EXIT) + U8(0x80) + U64(0xFEE00000) + bytes(8) + nb_exit(0))
    write("fuzz_exit", "last-byte-of-the-page",
          U8(1) + U8(IO_EXIT) + U8(0x10 | 1) + U8(0) + U8(0) + U64(0x2FFF) + U8(1) + b"A")
    write("fuzz_exit", "past-the-page",
          U8(1) + U8(IO_EXIT) + U8(0x10 | 1) + U8(0) + U8(1) + U64(0x2FFF) + U8(0))
    write("fuzz_exit", "exit-device-misuse", U8(1) + pio("exit", True, 2, b"\1\2"))
    write("fuzz_exit", "mmio-too-long",
          U8(0) + U8(MMIO_EXIT) + U8(0x40) + U16(0) + U32(9) + bytes(8))
    for name, rec in [("shutdown", U8(SHUTDOWN)), ("hlt", U8(HLT)),
                      ("system-event", U8(SYSTEM_EVENT) + U8(0) + U8(2)),
                      ("system-reset", U8(SYSTEM_EVENT) + U8(0) + U8(1)),
                      ("internal-error", U8(INTERNAL) + U32(1)),
                      ("fail-entry", U8(FAIL_ENTRY) + U64(0x80000021)),
                      ("unknown", U8(8) + U32(1000)),
                      ("bad-exit-value", pio("exit", True, 4, U32(0x4E420100)))]:
        write("fuzz_exit", name, U8(1) + U8(INTR) + rec)


# ---- fuzz_balloon -----------------------------------------------------------------
BALLOON_RAW, BALLOON_TARGET = NOPS, NOPS + 1
REPORTING, DEFLATE_ON_OOM = 1 << 5, 1 << 2


def balloon_raw(q, descs, head=0):
    """descs: (addr, len, flags) with wide fields; the device sees them as posted."""
    out = U8(BALLOON_RAW) + U8(q) + U8(len(descs) - 1) + U8(head)
    for addr, length, flags in descs:
        out += U8(1) + U64(addr) + U8(1) + U32(length) + U8(flags)
    return out


def balloon():
    full = probe(VERSION_1 | REPORTING | DEFLATE_ON_OOM, qlog=6)
    write("fuzz_balloon", "report-and-inflate",
          full + balloon_raw(2, [(0x40000, 0x2000, 2), (0x50000, 0x1000, 2)]) +
          poke(0x60000, U32(0x41) + U32(0x42) + U32(0x100)) +
          balloon_raw(0, [(0x60000, 12, 0)]) + balloon_raw(1, [(0x60000, 8, 0)]) +
          U8(BALLOON_TARGET) + U64(0x100000))
    write("fuzz_balloon", "outside-ram",
          full + balloon_raw(2, [(0xFF000, 0x2000, 2)]) + reset() + full +
          balloon_raw(2, [(0x40001, 0x1000, 3), (0x50000, 0x800, 2)]) +
          U8(BALLOON_TARGET) + U64(1 << 40))


# ---- fuzz_fs_state (vmm/virtio/fs_state.c's layout) ---------------------------------
S_IFDIR, S_IFREG, S_IFLNK = 0o040000, 0o100000, 0o120000
FILE, DIR, DEAD = 1, 2, 3


def fs_inode(slot, typ, path, nlookup=1, gen=1):
    p = path.encode()
    return U64(0) + U64(0) + U64(nlookup) + U32(slot) + U32(typ) + U32(gen) + U16(len(p)) + U16(0) + p


def fs_handle(slot, kind, flags, path):
    p = path.encode()
    return U32(slot) + U32(kind) + U32(flags) + U16(len(p)) + U16(0) + p


def fs_state(inodes, handles, minor=36, gen=1):
    return (U32(0x3153464E) + U32(minor) + U32(len(inodes)) + U32(len(handles)) + U32(gen) +
            U32(0) + b"".join(inodes) + b"".join(handles))


def fs_state_seeds():
    write("fuzz_fs_state", "in-use",
          fs_state([fs_inode(1, S_IFDIR, "d"), fs_inode(2, S_IFREG, "d/f", 2),
                    fs_inode(3, S_IFREG, "g"), fs_inode(4, S_IFLNK, "l")],
                   [fs_handle(0, FILE, 2, "d/f"), fs_handle(1, DIR, 0, "."),
                    fs_handle(3, FILE, 0o2001, "g")]))
    write("fuzz_fs_state", "dead-and-sparse",
          fs_state([fs_inode(7, S_IFREG, "", 3, 9), fs_inode(9, S_IFDIR, "../x"),
                    fs_inode(2, S_IFREG, "d")],
                   [fs_handle(5, DEAD, 0, ""), fs_handle(0, DIR, 0, "d")], gen=9))


mmio()
rng()
balloon()
net()
console()
serial()
exits()
fs_state_seeds()
