#!/usr/bin/env python3
"""A Postfix-local-style mail delivery agent for the integrity tests.

    fcntl-append.py [--pause-mid SECONDS] [--at-locked-end] [--timeout SECONDS]
                    MBOX FILE...

Appends each FILE (one message, with the empty line that ends it) to MBOX,
each under its own fcntl (POSIX) write lock over the whole file, as
Postfix local, procmail and Exim do on Debian: open with O_APPEND, lock
(waiting), check that the path still names the file we locked (else
reopen: someone renamed a new mbox into place), write, fsync, unlock.
No dotlock.  --pause-mid writes half the message, sleeps with the lock
held, then writes the rest: a delivery caught in the act.
--at-locked-end writes at the end offset seen once the lock was had
(pwrite, no O_APPEND), as an MDA does that keeps that offset to truncate
back to on failure (Postfix local): right only if nobody else writes the
file while the lock is held.  Gives up with exit status 75 (EX_TEMPFAIL)
when the lock is not had within --timeout.
"""
import argparse
import fcntl
import os
import signal
import sys
import time


def open_locked(path, deadline, append):
    while True:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else 0)
        fd = os.open(path, flags, 0o600)
        signal.alarm(max(1, int(deadline - time.monotonic())))
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
        finally:
            signal.alarm(0)
        try:
            same = os.path.samestat(os.fstat(fd), os.lstat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def write_all(fd, data, at):
    """Appends data (O_APPEND), or writes it at offset at if not None."""
    while data:
        n = os.write(fd, data) if at is None else os.pwrite(fd, data, at)
        data = data[n:]
        at = None if at is None else at + n
    return at


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pause-mid", type=float, default=0)
    ap.add_argument("--at-locked-end", action="store_true")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("mbox")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()

    def too_late(signum, frame):
        print("fcntl-append: %s: lock not had in %gs" % (a.mbox, a.timeout),
              file=sys.stderr)
        sys.exit(75)

    signal.signal(signal.SIGALRM, too_late)
    deadline = time.monotonic() + a.timeout
    for name in a.files:
        with open(name, "rb") as f:
            text = f.read()
        fd = open_locked(a.mbox, deadline, not a.at_locked_end)
        at = os.lseek(fd, 0, os.SEEK_END) if a.at_locked_end else None
        half = len(text) // 2 if a.pause_mid else len(text)
        at = write_all(fd, text[:half], at)
        if a.pause_mid:
            os.fsync(fd)
            time.sleep(a.pause_mid)
            write_all(fd, text[half:], at)
        os.fsync(fd)
        fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
