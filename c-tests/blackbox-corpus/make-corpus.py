#!/usr/bin/env python3
"""Regenerates the corrupted blackbox dumps of this directory.

Each *.bin is a small dump (libqb's format: 20-byte marker, ring header, ring
data) built from scratch, most with one defect. `make check` lists every file
with qb_log_blackbox_print_from_file() in a child process (c-tests/
check_log_blackbox.c) and with the Rust reader (src/log/blackbox_reader.rs
tests): it must return an error or print, never crash or hang.

Usage: python3 make-corpus.py   (writes next to itself)
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MARKER = struct.pack("<5I", 0, 0xCCBBCCBB, 0xBBCCBBCC, 2, 0)
COMMITTED, DEAD = 0xA1A1A1A1, 0xD0D0D0D0
WORDS = 1024  # one 4 KiB page


def record(msg, function=b"main", lineno=42, tags=0, prio=6, fn_size=None,
           sec=1700000000, nsec=123000000, msg_len=None):
    fn = function + b"\0"
    r = struct.pack("<IIB", lineno, tags, prio)
    r += struct.pack("<I", len(fn) if fn_size is None else fn_size) + fn
    r += struct.pack("<qq", sec, nsec)
    r += struct.pack("<I", len(msg) if msg_len is None else msg_len) + msg
    return r


def ring(chunks, start=0, words=WORDS, lengths=None, magic=COMMITTED):
    data = bytearray(words * 4)
    pos = start
    for i, c in enumerate(chunks):
        ln = len(c) if lengths is None else lengths[i]
        for k, v in ((0, ln), (1, magic)):
            at = ((pos + k) % words) * 4
            data[at:at + 4] = struct.pack("<I", v)
        for j, b in enumerate(c):
            data[((pos + 2) * 4 + j) % len(data)] = b
        pos = (pos + 2 + (len(c) + 3) // 4) % words
    return bytes(data), pos


def dump(chunks, start=0, words=WORDS, marker=True, header=None, **kw):
    data, w = ring(chunks, start, words, **kw)
    if header is None:
        r = start
        header = (words, w, r, 1, (words + w + r + 1) & 0xFFFFFFFF)
    return (MARKER if marker else b"") + struct.pack("<5I", *header) + data


def msg(fmt, *values):
    return fmt + b"\0" + b"".join(values)


GOOD = [record(msg(b"hello %s %d", b"world\0", struct.pack("<i", 7))),
        record(msg(b"second %f", struct.pack("<d", 2.5)), function=b"f2")]


def files():
    good = dump(GOOD)
    yield "valid", good
    yield "valid-wrapped", dump(GOOD * 3, start=WORDS - 20)
    yield "old-format", dump([r[:13 + 5] + r[13 + 5:21 + 5] + r[29 + 5:]
                              for r in GOOD[:1]], marker=False)
    yield "empty", b""
    yield "marker-only", MARKER
    for cut in (30, 40, 41, 100, len(good) - 1):
        yield f"truncated-{cut}", good[:cut]
    words_hash = lambda wd, w, r: (wd, w, r, 1, (wd + w + r + 1) & 0xFFFFFFFF)
    yield "word-size-zero", dump(GOOD, header=words_hash(0, 0, 0))
    yield "word-size-huge", dump(GOOD, header=words_hash(0x40000000, 0, 0))
    yield "word-size-two", dump(GOOD, header=words_hash(2, 0, 0))
    yield "bad-hash", dump(GOOD, header=(WORDS, 30, 0, 1, 12345))
    yield "bad-version", dump(GOOD, header=(WORDS, 30, 0, 3, WORDS + 30 + 3))
    yield "read-pt-out", dump(GOOD, header=words_hash(WORDS, 0, WORDS + 5))
    yield "write-pt-huge", dump(GOOD, header=words_hash(WORDS, 0xFFFFFFF0, 0))
    yield "chunk-len-huge", dump(GOOD, lengths=[0xFFFFFFF0, 40])
    yield "chunk-len-ring", dump(GOOD, lengths=[WORDS * 4 - 8, 40])
    yield "chunk-len-small", dump(GOOD, lengths=[3, 40])
    yield "chunk-loop", dump(GOOD[:1], lengths=[(WORDS - 2) * 4])
    yield "fn-size-huge", dump([record(b"x\0", fn_size=0xFFFFFFFF)])
    yield "fn-size-zero", dump([record(b"x\0", fn_size=0)])
    yield "fn-unterminated", dump([record(b"x\0", function=b"a" * 40)[:13]
                                   + b"a" * 40 + record(b"x\0")[18:]])
    yield "msg-len-huge", dump([record(b"x\0", msg_len=0x7FFFFFFF)])
    yield "msg-len-zero", dump([record(b"x\0", msg_len=0)])
    yield "msg-len-past-chunk", dump([record(b"abc\0", msg_len=400)])
    yield "msg-no-nul", dump([record(b"no terminator at all")])
    yield "args-missing", dump([record(msg(b"%s %s %s %d %f %p"))])
    yield "args-garbage", dump([record(msg(b"%s|%ld|%c|%*.*f", b"\xff" * 30))])
    yield "wide-fields", dump([record(msg(b"%999999999d %.999999999f %*d",
                                          struct.pack("<i", 1),
                                          struct.pack("<d", 1.0),
                                          struct.pack("<ii", 2**31 - 1, 3)))])
    yield "many-flags", dump([record(msg(b"%" + b"-+ #0" * 40 + b"d",
                                         struct.pack("<i", 5)))])
    yield "percent-n", dump([record(msg(b"%n %hn %ls %lc %99%",
                                        b"abc\0"))])
    yield "priority-high", dump([record(b"x\0", prio=200)])
    yield "time-extreme", dump([record(b"x\0", sec=-(2**63), nsec=-1),
                                record(b"y\0", sec=2**63 - 1, nsec=2**63 - 1)])
    yield "dead-first", dump(GOOD, magic=DEAD)
    yield "random", bytes((i * 2654435761 >> 7) & 0xFF for i in range(4136))
    yield "random-marker", MARKER + bytes((i * 40503 >> 3) & 0xFF
                                          for i in range(4116))


for name, data in files():
    with open(os.path.join(HERE, name + ".bin"), "wb") as f:
        f.write(data)
