#!/usr/bin/env python3
"""Was the update durable before the client was told so?

    synced-before-ok.py TRACE MBOX MARKER

TRACE is the output of "strace -f -y -o TRACE" (fds shown with their paths)
over one session; MBOX the maildrop's path; MARKER the text of the answer
that reports the update (e.g. "+OK bye").  Exit status 0 when all of this
holds, in the order strace saw the calls (across processes):

  - the session changed the mbox: at least one write, pwrite, ftruncate,
    fallocate... on an fd that is MBOX;
  - after the last of those had returned, an fsync or fdatasync of an fd
    that is MBOX started and returned 0;
  - only after that returned did the write carrying MARKER to the client
    start.

Which calls the update makes, how many and in which process does not
matter: only the last change, a successful sync after it, and the answer.
Otherwise the reason, and the calls it found, go to stderr.
"""
import re
import sys

# Calls that change a file, and which of their fd arguments is the one
# written to (0 = the first annotated fd, 1 = the second).
CHANGES = {
    "write": 0, "pwrite64": 0, "writev": 0, "pwritev": 0, "pwritev2": 0,
    "ftruncate": 0, "fallocate": 0, "sendfile": 0, "copy_file_range": 1,
    "splice": 1,
}
SYNCS = {"fsync", "fdatasync"}
ANSWERS = {"write", "writev", "sendto", "sendmsg"}

LINE = re.compile(r"^(\d+)\s+(.*)$")
START = re.compile(r"^(\w+)\((.*)$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
UNFINISHED = " <unfinished ...>"
RESULT = re.compile(r"\)\s+=\s+(-?\d+|\?)(?: E[A-Z0-9]+ \([^()]*\))?$")
FD = re.compile(r"\b\d+<([^>]*)>")


class Call:
    def __init__(self, name, args, start):
        self.name, self.args, self.start = name, args, start
        self.end = None
        self.result = None

    def finish(self, rest, end):
        self.args += rest
        self.end = end
        m = RESULT.search(self.args)
        self.result = m.group(1) if m else None

    def fd_path(self, which=0):
        paths = FD.findall(self.args)
        return paths[which] if len(paths) > which else None

    def __str__(self):
        text = "%s(%s" % (self.name, self.args)
        return "[%s-%s] %s" % (self.start, self.end,
                               text if len(text) < 160 else text[:157] + "...")


def parse(path):
    calls, pending = [], {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for index, raw in enumerate(f):
            m = LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            pid, text = m.groups()
            r = RESUMED.match(text)
            if r:
                call = pending.pop(pid, None)
                if call is not None and call.name == r.group(1):
                    call.finish(r.group(2), index)
                continue
            s = START.match(text)
            if not s:
                continue  # a signal or an exit
            call = Call(s.group(1), s.group(2), index)
            calls.append(call)
            if text.endswith(UNFINISHED):
                call.args = call.args[: -len(UNFINISHED)]
                pending[pid] = call
            else:
                call.finish("", index)
    return [c for c in calls if c.end is not None]


def main():
    if len(sys.argv) != 4:
        print("usage: synced-before-ok.py TRACE MBOX MARKER", file=sys.stderr)
        return 2
    trace, mbox, marker = sys.argv[1:]
    calls = parse(trace)
    changes = [c for c in calls
               if c.name in CHANGES and c.fd_path(CHANGES[c.name]) == mbox]
    syncs = [c for c in calls if c.name in SYNCS and c.fd_path() == mbox]
    answers = [c for c in calls
               if c.name in ANSWERS and marker in c.args and c.fd_path() != mbox]

    def show(title, found):
        print("%s: %d" % (title, len(found)), file=sys.stderr)
        for c in found[-5:]:
            print("  %s" % c, file=sys.stderr)

    show("changes to the mbox", changes)
    show("syncs of the mbox", syncs)
    show("answers with %r" % marker, answers)
    if not changes:
        print("the session did not change the mbox", file=sys.stderr)
        return 1
    if not answers:
        print("no answer %r to the client" % marker, file=sys.stderr)
        return 1
    last_change, answer = max(c.end for c in changes), answers[0]
    durable = [c for c in syncs if c.start > last_change and c.result == "0"
               and c.end < answer.start]
    if not durable:
        print("no successful fsync/fdatasync of the mbox between its last "
              "change (line %d) and the answer (line %d)"
              % (last_change + 1, answer.start + 1), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
