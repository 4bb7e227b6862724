#!/usr/bin/env python3
"""A local mail reader changing an mbox behind a POP3 session's back.

    mailreader.py expunge [--rename] MBOX ID...
    mailreader.py mark-read [--rename] MBOX ID...
    mailreader.py rewrite [--rename] MBOX ID...

"expunge" removes the messages whose X-Test-Id is one of IDs; "mark-read"
adds a "Status: RO" header to each of them, as mutt and pine do when they
sync a folder: the file grows and every later message moves; "rewrite"
writes them back unchanged (with --rename: the same bytes, a new inode).  Both work
under an fcntl write lock over the whole file, as those readers take it.
By default the file is rewritten in place from the first changed message
on (and truncated), as mutt does; with --rename a new file is written
beside it and renamed over it, keeping owner and mode, so the path then
names a new inode.
"""
import argparse
import fcntl
import os
import sys

from mboxcheck import pieces, piece_id


def mark_read(piece):
    head, sep, body = piece.partition(b"\n\n")
    return head + b"\nStatus: RO" + sep + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("action", choices=("expunge", "mark-read", "rewrite"))
    ap.add_argument("--rename", action="store_true")
    ap.add_argument("mbox")
    ap.add_argument("ids", nargs="+")
    a = ap.parse_args()
    fd = os.open(a.mbox, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    with open(a.mbox, "rb") as f:
        data = f.read()
    new = []
    first = None
    for s, e in pieces(data):
        if piece_id(data, s, e) in a.ids:
            if first is None:
                first = s
            if a.action == "mark-read":
                new.append((s, mark_read(data[s:e])))
            elif a.action == "rewrite":
                new.append((s, data[s:e]))
        else:
            new.append((s, data[s:e]))
    if first is None:
        sys.exit("mailreader: none of %s in %s" % (" ".join(a.ids), a.mbox))
    if a.rename:
        st = os.fstat(fd)
        path = a.mbox + ".mailreader"
        with open(path, "wb") as f:
            f.write(b"".join(p for _, p in new))
            f.flush()
            os.fsync(f.fileno())
        os.chown(path, st.st_uid, st.st_gid)
        os.chmod(path, st.st_mode & 0o7777)
        os.rename(path, a.mbox)
    else:
        tail = b"".join(p for s, p in new if s >= first)
        os.pwrite(fd, tail, first)
        os.ftruncate(fd, first + len(tail))
        os.fsync(fd)
    os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
