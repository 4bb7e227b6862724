#!/usr/bin/env python3
"""A local mail reader expunging messages behind a POP3 session's back.

    expunge.py [--rename] MBOX ID...

Removes the messages whose X-Test-Id is one of IDs, under an fcntl write
lock over the whole file as mutt and pine take it.  By default the file is
rewritten in place from the first removed message on and truncated (as
mutt does); with --rename a new file is written beside it and renamed over
it, keeping owner and mode (as some readers and "mbox-rewrite" tools do),
so the path names a new inode.
"""
import argparse
import fcntl
import os
import sys

from mboxcheck import pieces, piece_id


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rename", action="store_true")
    ap.add_argument("mbox")
    ap.add_argument("ids", nargs="+")
    a = ap.parse_args()
    fd = os.open(a.mbox, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    with open(a.mbox, "rb") as f:
        data = f.read()
    kept = []
    first = None
    for s, e in pieces(data):
        if piece_id(data, s, e) in a.ids:
            if first is None:
                first = s
        else:
            kept.append((s, e))
    if first is None:
        sys.exit("expunge: none of %s in %s" % (" ".join(a.ids), a.mbox))
    if a.rename:
        st = os.fstat(fd)
        new = a.mbox + ".expunge"
        with open(new, "wb") as f:
            for s, e in kept:
                f.write(data[s:e])
            f.flush()
            os.fsync(f.fileno())
        os.chown(new, st.st_uid, st.st_gid)
        os.chmod(new, st.st_mode & 0o7777)
        os.rename(new, a.mbox)
    else:
        tail = b"".join(data[s:e] for s, e in kept if s >= first)
        os.pwrite(fd, tail, first)
        os.ftruncate(fd, first + len(tail))
        os.fsync(fd)
    os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
