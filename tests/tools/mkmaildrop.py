#!/usr/bin/env python3
"""Writes a deterministic test mbox for the integrity suites.

    mkmaildrop.py [--count N] [--bytes B] [--seed S] [--prefix P]
                  [--start FIRST] [--split DIR] OUT

Every message is "From " line, headers (with a unique X-Test-Id: P<n>),
an empty line and a body, ending in LF; messages are separated by one
empty line, and the file ends with one (as procmail and Postfix write
it).  The bodies are varied enough to catch a byte out of place: base64
lines, quoted ">From " lines, lines starting with ".", CRLF line ends in
some messages, 8-bit bytes, a few messages far larger than the rest.
The total is at least B bytes.  With --split, each message (with its
empty line) is also written to DIR/<X-Test-Id>, for delivery agents.
"""
import argparse
import base64
import random
import sys


def message(rng, prefix, n, body_bytes):
    crlf = n % 17 == 5
    eol = b"\r\n" if crlf else b"\n"
    day = 1 + n % 28
    lines = [
        b"From sender%d@example.org Mon Nov %2d 10:%02d:%02d 2026"
        % (n % 97, day, n % 60, (n * 7) % 60),
        b"Return-Path: <sender%d@example.org>" % (n % 97),
        b"From: Sender %d <sender%d@example.org>" % (n % 97, n % 97),
        b"To: alice@example.org",
        b"Subject: test message %s%d" % (prefix, n),
        b"Message-ID: <%s%d@integrity.test>" % (prefix, n),
        b"X-Test-Id: %s%d" % (prefix, n),
    ]
    if n % 5 == 0:
        lines.append(b"Status: RO")
    lines.append(b"")
    lines.append(b"Body of %s%d." % (prefix, n))
    if n % 3 == 0:
        lines.append(b">From the quoted line of an mbox body")
    if n % 4 == 0:
        lines.append(b".a line starting with a dot")
        lines.append(b".")
    if n % 11 == 0:
        lines.append(bytes(range(0x80, 0x100)))
    raw = rng.randbytes(max(0, body_bytes * 3 // 4))
    lines.extend(base64.encodebytes(raw).rstrip(b"\n").split(b"\n"))
    lines.append(b"-- end of %s%d" % (prefix, n))
    return eol.join(lines) + eol


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--bytes", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--prefix", default="m")
    ap.add_argument("--start", type=int, default=1, help="first number")
    ap.add_argument("--split", metavar="DIR")
    ap.add_argument("out")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    average = max(200, a.bytes // max(1, a.count))
    written = 0
    with open(a.out, "wb") as f:
        for i in range(a.count):
            n = a.start + i
            size = rng.randint(average // 4, average * 3 // 2)
            if i % 1000 == 999:
                size = average * 40  # a few big ones: many copy blocks
            if i == a.count - 1 and written < a.bytes:
                size = max(size, a.bytes - written)
            m = message(rng, a.prefix.encode(), n, size) + b"\n"
            f.write(m)
            if a.split:
                with open("%s/%s%d" % (a.split, a.prefix, n), "wb") as one:
                    one.write(m)
            written += len(m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
