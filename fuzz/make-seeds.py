#!/usr/bin/env python3
"""Writes the hand-crafted seeds of fuzz/corpus/<target>/ (seed-*.bin).

The input encodings are documented with each entry point in src/fuzzing.rs
and src/fuzzing/*.rs. Files the fuzzer found (named by their hash) are kept
next to these and are not touched. Native byte order: x86_64 (little endian).
"""
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name + ".bin"), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- ipc_handshake
def hello(msg_id=-1, size=24, max_msg=20000):
    return struct.pack("<iIiII4x", msg_id, 0, size, 0, max_msg)


def answer(error=0, ctype=1, max_msg=20000, names=(b"/dev/shm/qb-1-2-3-abc/qb-request-svc",
                                                     b"/dev/shm/qb-1-2-3-abc/qb-response-svc",
                                                     b"/dev/shm/qb-1-2-3-abc/qb-event-svc")):
    out = struct.pack("<iIiIiIiIQ", -1, 0, 12328, 0, error, 0, ctype, max_msg, 0x1234)
    for n in names:
        out += struct.pack("<H", len(n)) + n
    return out


def ipc():
    t = "ipc_handshake"
    limits = struct.pack("<II", 0, 64 << 20)
    # Pure checks only (control byte 0).
    pure = lambda h, lim, ans: b"\x00" + h + lim + b"\x00" + ans
    put(t, "valid-shm", pure(hello(), limits, answer()))
    put(t, "valid-socket", pure(hello(max_msg=1 << 20), limits, answer(ctype=0)))
    put(t, "huge-request", pure(hello(max_msg=0xFFFFFFFF), limits, answer(max_msg=0xFFFFFFFF)))
    put(t, "enforced-above-ceiling", pure(hello(max_msg=5), struct.pack("<II", 2 << 20, 1 << 20), answer()))
    put(t, "server-error-odd", pure(hello(), limits, answer(error=5)))
    put(t, "server-error-min", pure(hello(), limits, answer(error=-(2**31))))
    put(t, "type-posix-mq", pure(hello(), limits, answer(ctype=2)))
    put(t, "type-negative", pure(hello(), limits, answer(ctype=-9)))
    put(t, "zero-size", pure(hello(), limits, answer(max_msg=0)))
    put(t, "name-unterminated", pure(hello(), limits, answer(names=(b"a", b"x" * 4096, b""))))
    put(t, "name-full-minus-one", pure(hello(), limits, answer(names=(b"r" * 4095, b"s", b"e"))))
    put(t, "short", b"\x00" + hello()[:10])
    # Live server: control bit 2; bit 0 SHM; bit 1 shut the write side;
    # bit 3 partial hello (then one length byte); bits 4-7 fragments - 1,
    # whose lengths follow the answer.
    live = lambda ctl, h, extra=b"", tail=b"": (bytes([ctl]) + h + limits + bytes([len(extra)]) + extra
                                                 + answer() + tail)
    put(t, "live-socket", live(0x04, hello()))
    put(t, "live-shm", live(0x05, hello(max_msg=100000)))
    put(t, "live-shm-huge", live(0x05, hello(max_msg=0xFFFFFFFF)))
    put(t, "live-socket-fragments", live(0x34, hello(), tail=bytes([1, 7, 0])))
    put(t, "live-shm-fragments-shut", live(0x27, hello(), tail=bytes([23])))
    put(t, "live-bad-id", live(0x05, hello(msg_id=7)))
    put(t, "live-bad-size", live(0x04, hello(size=1 << 20)))
    put(t, "live-trailing-bytes", live(0x05, hello(), extra=b"\xff" * 40))
    put(t, "live-partial-then-close", live(0x0c, hello(), tail=bytes([17])))
    put(t, "live-partial-shut", live(0x0f, hello(), tail=bytes([3])))
    put(t, "live-nothing", live(0x0e, hello(), tail=bytes([0])))


# ---------------------------------------------------------------- rb_chunks
W, R, PEEK, ALLOC, STATS, RECLAIM, POKE_HDR, POKE_DATA, TRUNC = 0, 2, 4, 5, 6, 7, 8, 9, 10


def u16(v):
    return struct.pack("<H", v)


def write(n):
    return bytes([W]) + u16(n)


def read(cap):
    return bytes([R]) + u16(cap)


def val_words_minus_one():
    return b"\x00"


def rb():
    t = "rb_chunks"
    # mode: bit0 dump, bit1 overwrite, bits2-3 semaphore (0 shared, 1 none, 2 thread)
    prog = lambda mode, size, user, ops: bytes([mode, size, user]) + b"".join(ops)
    put(t, "fifo-shared-sem", prog(0, 10, 2, [write(10), write(0), write(100), read(200), read(200),
                                               bytes([STATS]), read(200), read(200)]))
    put(t, "fifo-no-sem", prog(4, 10, 0, [write(3), bytes([PEEK, 0]), write(4000), read(2),
                                           read(5000), read(10), bytes([RECLAIM])]))
    put(t, "fill-and-wrap", prog(8, 1, 0, [write(1000)] * 5 + [read(1000)] * 3 + [write(1500)] * 3
                                 + [read(2000)] * 6))
    put(t, "overwrite", prog(2, 1, 0, [write(1500)] * 6 + [read(4000)] * 4))
    put(t, "alloc-commit", prog(0, 5, 0, [bytes([ALLOC]) + u16(300) + b"\x00",
                                           bytes([ALLOC]) + u16(300) + b"\xff" + u16(17),
                                           read(400), read(400), bytes([STATS])]))
    put(t, "forged-write-pt", prog(0, 1, 0, [write(20), bytes([POKE_HDR, 0, 1]), read(100),
                                             bytes([POKE_HDR, 0, 2]), write(5), read(100)]))
    put(t, "forged-read-pt", prog(0, 1, 0, [write(20), bytes([POKE_HDR, 1, 3]) + u16(999), read(100),
                                            bytes([RECLAIM]), bytes([PEEK])]))
    put(t, "forged-chunk", prog(0, 1, 0, [bytes([POKE_DATA]) + u16(0) + b"\x05" + struct.pack("<I", 4000) + b"\x01",
                                          bytes([POKE_HDR, 4, 2]), read(5000), bytes([PEEK]),
                                          bytes([RECLAIM]), write(8)]))
    put(t, "semaphore-garbage", prog(0, 1, 0, [bytes([POKE_HDR, 4, 2]), bytes([POKE_HDR, 6, 2]),
                                               read(10), write(10), read(10), bytes([STATS])]))
    put(t, "truncated-data", prog(0, 1, 0, [write(20), bytes([TRUNC, 1, 0]), read(100), write(10),
                                            bytes([PEEK]), bytes([ALLOC]) + u16(10) + b"\x00",
                                            bytes([STATS]), bytes([RECLAIM])]))
    put(t, "truncated-header", prog(0, 1, 4, [write(20), bytes([TRUNC, 0, 1]), read(100),
                                              write(10), bytes([STATS])]))
    # Dumps (mode odd): words, write_pt, read_pt, version, hash, then data.
    def dump(words, w, r, data, version=1):
        h = (words + w + r + version) & 0xFFFFFFFF
        return struct.pack("<IIIII", words, w, r, version, h) + data
    ring = bytearray(4096)
    struct.pack_into("<II", ring, 0, 5, 0xA1A1A1A1)
    ring[8:13] = b"hello"
    struct.pack_into("<II", ring, 16, 0, 0xA110CED0)
    put(t, "dump-one-chunk", b"\x01" + dump(1024, 4, 0, bytes(ring)))
    wrap = bytearray(4096)
    struct.pack_into("<II", wrap, 1020 * 4, 11, 0xA1A1A1A1)
    wrap[1022 * 4:] = b"wrapped!"
    wrap[0:3] = b"abc"
    put(t, "dump-wrapped", b"\x01" + dump(1024, 1, 1020, bytes(wrap)))
    put(t, "dump-len-huge", b"\x01" + dump(1024, 4, 0, struct.pack("<II", 0xFFFFFFF0, 0xA1A1A1A1) + bytes(4088)))
    put(t, "dump-bad-hash", b"\x01" + struct.pack("<IIIII", 1024, 0, 0, 1, 0) + bytes(4096))
    put(t, "dump-positions-out", b"\x01" + dump(1024, 1024, 4096, bytes(4096)))
    put(t, "dump-small-ring", b"\x01" + dump(8, 2, 0, struct.pack("<II", 0, 0xA1A1A1A1) + bytes(24)))
    put(t, "dump-truncated", b"\x01" + dump(1024, 4, 0, bytes(100)))


# ---------------------------------------------------------------- blackbox_reader
def blackbox():
    t = "blackbox_reader"
    src = os.path.join(os.path.dirname(ROOT), "..", "c-tests", "blackbox-corpus")
    keep = ["valid.bin", "valid-wrapped.bin", "old-format.bin", "chunk-loop.bin", "chunk-len-huge.bin",
            "fn-size-huge.bin", "msg-len-past-chunk.bin", "msg-no-nul.bin", "percent-n.bin",
            "many-flags.bin", "wide-fields.bin", "read-pt-out.bin", "word-size-two.bin",
            "truncated-41.bin", "marker-only.bin", "args-garbage.bin"]
    for name in keep:
        with open(os.path.join(src, name), "rb") as f:
            put(t, "c-tests-" + name[:-4], f.read())


# ---------------------------------------------------------------- log_serializer
def lit(s):
    assert 1 <= len(s) <= 16
    return bytes([len(s) - 1]) + s


def d_int(conv, value, modifier=0, flags=0, width=None):
    out = bytes([96, conv, flags]) + width_spec(width)
    return out + bytes([modifier]) + struct.pack("<Q", value & (2**64 - 1))


def width_spec(width):
    if width is None:
        return b"\x00"
    if isinstance(width, tuple):  # ('*', value)
        return b"\x02" + struct.pack("<i", width[1])
    return b"\x01" + u16(width)


def d_float(value, which=2, flags=0, width=None):
    return bytes([96, 6, flags]) + width_spec(width) + bytes([which]) + struct.pack("<d", value)


def d_str(s, flags=0, width=None):
    return bytes([96, 9, flags]) + width_spec(width) + bytes([len(s)]) + s


def d_char(c, flags=0, width=None):
    return bytes([96, 8, flags]) + width_spec(width) + bytes([c])


def d_ptr(v):
    return bytes([96, 12, 0, 0]) + struct.pack("<Q", v)


def d_pct():
    return bytes([96, 15])


def ser():
    t = "log_serializer"
    strict = lambda cap, body: u16(cap) + b"\x00" + b"".join(body)
    put(t, "hello", strict(4096, [lit(b"hello world")]))
    put(t, "mixed", strict(4096, [lit(b"rc="), d_int(0, 7), lit(b" name="), d_str(b"svc"),
                                  lit(b" t="), d_float(1.5), lit(b" p="), d_ptr(0x1234), d_pct()]))
    put(t, "modifiers", strict(4096, [d_int(i % 6, -5 - i, modifier=i) for i in range(10)]))
    put(t, "flags-widths", strict(4096, [d_int(0, 42, flags=0x7f, width=12), d_int(4, 255, flags=1, width=("*", -9)),
                                         d_char(0x41, width=5), d_str(b"left", flags=2, width=20)]))
    put(t, "nul-char", strict(4096, [lit(b"a"), d_char(0), lit(b"b")]))
    put(t, "trailing-newlines", strict(4096, [lit(b"line\n\n\n")]))
    put(t, "floats", strict(4096, [d_float(v, which=i) for i, v in
                                   enumerate([0.0, -1e308, float("inf"), float("nan"), 3.25, 1e-300, 2.0, 7.0])]))
    put(t, "tight-cap", strict(20, [lit(b"0123456789"), d_str(b"abcdef"), d_int(0, 1)]))
    put(t, "cap-zero", strict(0, [lit(b"x")]))
    put(t, "long-output", strict(4096, [d_int(0, 1, width=599)] * 3))
    put(t, "null-string", strict(4096, [lit(b"s="), bytes([96, 9, 0, 0, 47]) + bytes(47)]))
    # Free mode: precisions (sticky), '.*', %C, %m, BEL.
    free = lambda cap, body: u16(cap) + b"\x01" + b"".join(body)
    prec = lambda conv, p: bytes([96, conv, 0, 0, 1]) + u16(p)
    put(t, "free-sticky-precision", free(4096, [prec(0, 3) + b"\x00" + struct.pack("<Q", 5),
                                                bytes([96, 9, 0, 0, 0, 10]) + b"abcdefghij"]))
    put(t, "free-star-precision", free(4096, [bytes([96, 9, 0, 0, 2]) + struct.pack("<i", -4) + b"\x03xyz"]))
    put(t, "free-bel-and-m", free(4096, [lit(b"ext\x07info"), bytes([96, 14, 0, 0, 0, 0]),
                                         bytes([96, 13, 0, 0, 0, 0x80])]))


def main():
    only = sys.argv[1:] or ["ipc", "rb", "blackbox", "ser"]
    for name in only:
        globals()[name]()


if __name__ == "__main__":
    main()
