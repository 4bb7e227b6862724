#!/usr/bin/env python3
"""A Postfix-local-style mail delivery agent for the integrity tests.

    fcntl-append.py [--pause-mid SECONDS] [--timeout SECONDS] MBOX FILE...

Appends each FILE (one message, with the empty line that ends it) to MBOX,
each under its own fcntl (POSIX) write lock over the whole file, as
Postfix local, procmail and Exim do on Debian: open with O_APPEND, lock
(waiting), check that the path still names the file we locked (else
reopen: someone renamed a new mbox into place), write, fsync, unlock.
No dotlock.  --pause-mid writes half the message, sleeps with the lock
held, then writes the rest: a delivery caught in the act.  Gives up with
exit status 75 (EX_TEMPFAIL) when the lock is not had within --timeout.
"""
import argparse
import fcntl
import os
import signal
import sys
import time


def open_locked(path, deadline):
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
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


def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pause-mid", type=float, default=0)
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
        fd = open_locked(a.mbox, deadline)
        half = len(text) // 2 if a.pause_mid else len(text)
        write_all(fd, text[:half])  # O_APPEND: at the end as it is now
        if a.pause_mid:
            os.fsync(fd)
            time.sleep(a.pause_mid)
            write_all(fd, text[half:])
        os.fsync(fd)
        fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
