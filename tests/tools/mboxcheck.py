#!/usr/bin/env python3
"""The integrity checker: is every message where it must be, exactly once,
byte for byte?

    mboxcheck.py manifest MBOX...  > MANIFEST
        One line per message of the given files, in order:
        "<X-Test-Id> <length> <sha256>".

    mboxcheck.py retr MBOX ID
        The message ID of MBOX as RETR must send it: without its "From "
        line and the empty line after it, every line ending in CRLF,
        byte-stuffed, then ".CRLF".

    mboxcheck.py verify --manifest M [--deleted IDS] [--expect WHAT]
                        [--unordered] MBOX
        WHAT is "applied" (the deleted ids are gone), "unapplied" (they
        are all still there) or "either" (one of the two, never a mix).
        IDS is a file of X-Test-Ids, one per line (or "-" for none).

The mbox is cut exactly as pop3-stdio (RFC 4155) cuts it: a message starts
with "From " at the start of the file or right after an empty line.  Each
piece, with the empty line that ends it, must be a message of the manifest
byte for byte; so a merged, split, truncated, duplicated or garbled message,
a stray byte anywhere in the file or a missing separator all fail.  Every
message of the manifest that is not deleted must be present exactly once,
and (unless --unordered) in manifest order.  Exit status 0 only when all
holds; otherwise every problem is listed on stderr.
"""
import argparse
import hashlib
import mmap
import os
import re
import sys

TEST_ID = re.compile(rb"^X-Test-Id: (\S+)\r?$", re.M)


def mapped(path):
    """The file's bytes, mapped rather than read: 100 MB in a blink."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return b""
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        return mmap.mmap(f.fileno(), 0, flags=flags, prot=mmap.PROT_READ)


def pieces(data):
    """(offset, start, end) of every message, separator included."""
    if not len(data):
        return
    # Offset 0 always starts a piece: if it is not "From ", the piece has
    # no known bytes and is reported.  After that a piece starts at a
    # "From " line that follows an empty line (LF, or CRLF after a LF).
    starts = [0]
    i = data.find(b"\nFrom ")
    while i != -1:
        if data[i - 1:i] == b"\n" or data[i - 2:i] == b"\n\r":
            starts.append(i + 1)
        i = data.find(b"\nFrom ", i + 1)
    ends = starts[1:] + [len(data)]
    for s, e in zip(starts, ends):
        yield s, e


def piece_id(data, s, e):
    """The X-Test-Id of the header section (the ids are in the first 1 KB)."""
    head = bytes(data[s:min(e, s + 1024)])
    end = min(x for x in (head.find(b"\n\n"), head.find(b"\n\r\n"), len(head))
              if x != -1)
    m = TEST_ID.search(head, 0, end)
    return m.group(1).decode("ascii", "replace") if m else None


def digest(view):
    return hashlib.sha256(view).hexdigest()


def cmd_manifest(args):
    for path in args.mbox:
        data = mapped(path)
        view = memoryview(data)
        for s, e in pieces(data):
            mid = piece_id(data, s, e)
            if mid is None:
                sys.exit("%s: message at %d has no X-Test-Id" % (path, s))
            print(mid, e - s, digest(view[s:e]))
        view.release()
    return 0


def cmd_retr(args):
    data = mapped(args.mbox)
    for s, e in pieces(data):
        if piece_id(data, s, e) != args.id:
            continue
        text = bytes(data[s:e])
        text = text.split(b"\n", 1)[1]  # the "From " line
        if text.endswith(b"\n\n"):
            text = text[:-1]  # the separator
        elif text.endswith(b"\n\r\n"):
            text = text[:-2]
        lines = text.split(b"\n")[:-1]
        out = bytearray()
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if line.startswith(b"."):
                line = b"." + line
            out += line + b"\r\n"
        sys.stdout.buffer.write(bytes(out) + b".\r\n")
        return 0
    sys.exit("%s: no message %s" % (args.mbox, args.id))


def read_ids(path):
    if not path or path == "-":
        return set()
    with open(path) as f:
        return {line.strip() for line in f if line.strip()}


def cmd_verify(args):
    manifest = []
    expected = {}
    with open(args.manifest) as f:
        for line in f:
            mid, length, sha = line.split()
            if mid in expected:
                sys.exit("manifest: %s twice" % mid)
            expected[mid] = (int(length), sha)
            manifest.append(mid)
    deleted = read_ids(args.deleted)
    unknown_deleted = deleted - expected.keys()
    problems = []
    if unknown_deleted:
        problems.append("deleted ids not in the manifest: %s"
                        % " ".join(sorted(unknown_deleted)))

    data = mapped(args.mbox)
    view = memoryview(data)
    seen = {}
    order = []
    for off, e in pieces(data):
        mid = piece_id(data, off, e)
        if mid is None or mid not in expected:
            line = bytes(data[off:min(e, off + 60)]).split(b"\n", 1)[0]
            problems.append("offset %d: unknown message (id %s, %d bytes, "
                            "first line %r)" % (off, mid, e - off, line))
            continue
        length, sha = expected[mid]
        if e - off != length or digest(view[off:e]) != sha:
            problems.append("offset %d: message %s is not byte-exact "
                            "(%d bytes, expected %d)" % (off, mid, e - off, length))
        seen[mid] = seen.get(mid, 0) + 1
        if seen[mid] == 2:
            problems.append("message %s present more than once" % mid)
        order.append(mid)

    present_deleted = {m for m in deleted if m in seen}
    if args.expect == "applied":
        bad = present_deleted
        why = "deleted but still present"
    elif args.expect == "unapplied":
        bad = deleted - present_deleted
        why = "deletion applied although the update must not have happened"
    else:
        bad = set() if present_deleted in (set(), deleted) else present_deleted
        why = "deletions half applied; still present"
    if bad:
        problems.append("%d messages %s: %s" % (len(bad), why,
                        " ".join(sorted(bad)[:20])))
    missing = [m for m in manifest if m not in deleted and m not in seen]
    if missing:
        problems.append("%d kept messages missing: %s"
                        % (len(missing), " ".join(missing[:20])))
    if not args.unordered:
        rank = {m: i for i, m in enumerate(manifest)}
        for a, b in zip(order, order[1:]):
            if rank[a] > rank[b]:
                problems.append("order: %s before %s" % (a, b))
                break
    for p in problems[:50]:
        print("mboxcheck: %s: %s" % (args.mbox, p), file=sys.stderr)
    if not problems:
        print("mboxcheck: %s: %d messages, all intact (%d deleted ids, %s)"
              % (args.mbox, len(order), len(deleted), args.expect))
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("manifest")
    m.add_argument("mbox", nargs="+")
    r = sub.add_parser("retr")
    r.add_argument("mbox")
    r.add_argument("id")
    v = sub.add_parser("verify")
    v.add_argument("--manifest", required=True)
    v.add_argument("--deleted")
    v.add_argument("--expect", choices=("applied", "unapplied", "either"),
                   default="applied")
    v.add_argument("--unordered", action="store_true")
    v.add_argument("mbox")
    args = ap.parse_args()
    return {"manifest": cmd_manifest, "retr": cmd_retr,
            "verify": cmd_verify}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
