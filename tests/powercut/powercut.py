#!/usr/bin/env python3
"""Crash-state simulator: does a power cut at any point lose a message?

    powercut.py [--seed S] [--scale quick|full] [--cases A,B,...]
                [--server BIN] [--expect-failures] [--keep DIR] [-v]

For each case it builds a maildrop, runs one POP3 session that deletes
messages (the update at QUIT) under tests/bin/powercut-recorder.so, which
logs every write, truncation, fsync, create, rename and unlink below the
test directory.  Then, for every point k of that log, it builds the files
a power cut at k may leave on a file system ordered like ext4 but promising
no more than POSIX:

  - what a completed fsync/fdatasync made durable is there: a file's data
    and size; a directory's names;
  - each write since the last sync of its file is there or not, each 4 KiB
    block of it on its own (torn writes);
  - each ftruncate since the last sync of its file happened or not;
  - each create, mkdir, rename (also RENAME_EXCHANGE) and unlink since the
    last fsync of its directory happened or not.

When one point allows few such states all are built, else a seeded random
sample.  Each state is written into the test directory (the maildrop keeps
its inode, so a saved index and a journal still name it), sometimes a new
message is delivered, and the next session runs with the real server:
recovery, STAT, UIDL, RETR of every message, QUIT.  It must show every
message not marked deleted exactly once and byte-exact, the marked ones all
or none, every delivered message, each with its unique-id unchanged; and
leave no journal.  A third session then serves from the index the second
one saved and must send the same.

Not modelled: a block torn inside itself (sectors), a size that grew
without its data (zeros or stale bytes after the old end), owners, modes,
times other than the maildrop's mtime (the one it had at the last fsync,
or its latest) and extended attributes; names outside the spool and state
directories; writes through mmap, writev, fallocate, copy_file_range or
O_TMPFILE (the strace-check case shows the server makes none); an fsync
that fails and drops its pages; a disk that lies about its cache; a
delivery agent's own crash (deliveries are durable when logged).  Ops on
different files or in different blocks may land in any combination, so
orders a journaling file system would not allow are included.

Prints one line per failure and the summary
    powercut: N crash states, F failed (seed S)
and exits 1 when F > 0 (with --expect-failures: when F == 0).
"""
import argparse
import hashlib
import importlib.util
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BLOCK = 4096
USER = "alice"
PASSWORD = "secret"
FIXTURE_UID = int(os.environ.get("FIXTURE_UID", "4100"))
FIXTURE_GID = int(os.environ.get("FIXTURE_GID", "4100"))
ROOT = os.geteuid() == 0
try:
    import grp
    MAIL_GID = grp.getgrnam("mail").gr_gid
except KeyError:
    MAIL_GID = 8

_spec = importlib.util.spec_from_file_location(
    "mkmaildrop", os.path.join(TOP, "tests", "tools", "mkmaildrop.py"))
mkmaildrop = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mkmaildrop)


def message(rng, prefix, n, size):
    """One message with its separating empty line, about size bytes."""
    return mkmaildrop.message(rng, prefix.encode(), n, size) + b"\n"


# ---- the test directory ----

class World:
    """spool/alice, state/, passwd: one server installation."""

    def __init__(self, base, name, root_spool=False):
        self.dir = os.path.realpath(os.path.join(base, name))
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o755)
        self.spool = os.path.join(self.dir, "spool")
        self.state = os.path.join(self.dir, "state")
        self.mbox = os.path.join(self.spool, USER)
        self.user_state = os.path.join(self.state, USER)
        self.root_spool = root_spool
        os.mkdir(self.spool)
        os.mkdir(self.state)
        if ROOT and root_spool:
            # Debian's /var/mail: root:mail 2775, the mbox the user's.
            os.chown(self.spool, 0, MAIL_GID)
            os.chmod(self.spool, 0o2775)
        elif ROOT:
            os.chown(self.spool, FIXTURE_UID, FIXTURE_GID)
        # As a package would leave it: the base exists, root's, 0711.
        os.chmod(self.state, 0o711 if ROOT else 0o700)
        # A cheap hash: thousands of logins.
        h = subprocess.run(["openssl", "passwd", "-1", "-salt", "powercut",
                            PASSWORD], capture_output=True, check=True,
                           text=True).stdout.strip()
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            if ROOT:
                f.write("%s:%s:%d:%d\n" % (USER, h, FIXTURE_UID, FIXTURE_GID))
            else:
                f.write("%s:%s\n" % (USER, h))
        open(os.path.join(self.dir, "blocked"), "w").close()

    def args(self, server):
        return [server, "--spool=" + self.spool,
                "--passwd=" + os.path.join(self.dir, "passwd"),
                "--state-dir=" + self.state,
                "--blocklist=" + os.path.join(self.dir, "blocked"),
                "--fail-delay=0", "--timeout=30"]

    def write_mbox(self, data):
        with open(self.mbox, "wb") as f:
            f.write(data)
            os.fsync(f.fileno())
        os.chmod(self.mbox, 0o660 if self.root_spool else 0o600)
        if ROOT:
            os.chown(self.mbox, FIXTURE_UID,
                     MAIL_GID if self.root_spool else FIXTURE_GID)

    def session(self, server, commands, env=None, trace=None):
        """Runs one whole session (under strace, writing to trace); its
        output."""
        text = "".join(c + "\r\n" for c in ["USER " + USER, "PASS " + PASSWORD]
                       + commands)
        pre = ["strace", "-f", "-qq", "-y", "-s", "0", "-o", trace,
               "-e", "trace=" + ",".join(TRACED)] if trace else []
        r = subprocess.run(pre + self.args(server), input=text.encode(),
                           capture_output=True, env=env, timeout=120)
        return r.stdout

    def deliver(self, data):
        """As an MDA does: append under an fcntl lock, fsync.  The offset."""
        import fcntl
        fd = os.open(self.mbox, os.O_WRONLY | os.O_APPEND)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            at = os.fstat(fd).st_size
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return at


def recorder_env(world, log):
    env = dict(os.environ)
    env["LD_PRELOAD"] = os.path.join(TOP, "tests", "bin", "powercut-recorder.so")
    env["POWERCUT_ROOT"] = world.dir
    env["POWERCUT_LOG"] = log
    return env


# ---- the log ----

def read_log(path):
    ops = []
    with open(path, "rb") as f:
        data = f.read()
    at = 0
    while at < len(data):
        nl = data.index(b"\n", at)
        words = data[at:nl].decode().split(" ")
        at = nl + 1
        kind = words[0]
        if kind in ("W", "D"):
            n = int(words[3])
            ops.append((kind, int(words[1]), int(words[2]), data[at:at + n],
                        int(words[4])))
            at += n
        elif kind == "T":
            ops.append(("T", int(words[1]), int(words[2]), int(words[3])))
        elif kind == "S":
            ops.append(("S", int(words[1]), words[2], words[3]))
        elif kind == "C":
            ops.append(("C", words[1], int(words[2]), words[3]))
        elif kind == "R":
            ops.append(("R", words[1], words[2], int(words[3])))
        elif kind == "X":
            ops.append(("X", words[1], words[2], int(words[3]), int(words[4])))
        elif kind == "U":
            ops.append(("U", words[1], int(words[2])))
        else:
            raise ValueError("log: unknown record %r" % kind)
    return ops


def log_delivery(log, ino, offset, data, mtime):
    """A delivery during the session, durable (the MDA fsyncs it before it
    says the mail is delivered): one record in the server's log."""
    with open(log, "ab") as f:
        f.write(b"D %d %d %d %d\n" % (ino, offset, len(data), mtime) + data)


# ---- file system model ----

class Snapshot:
    """The files below the world's spool and state directories, as they
    are before a recorded session (all durable)."""

    def __init__(self, world):
        self.world = world
        self.dirs = {}    # dir path -> {name: ino}
        self.content = {}  # ino -> bytes
        self.meta = {}    # ino -> (is_dir, mode, uid, gid)
        self.mtime = {}   # ino -> ns
        for top in (world.spool, world.state):
            self._walk(top)
        self.mbox_ino = os.stat(world.mbox).st_ino

    def _walk(self, d):
        st = os.lstat(d)
        self.meta[st.st_ino] = (True, st.st_mode & 0o7777, st.st_uid, st.st_gid)
        self.dirs[d] = {}
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            st = os.lstat(p)
            self.dirs[d][name] = st.st_ino
            if os.path.isdir(p):
                self._walk(p)
            else:
                with open(p, "rb") as f:
                    self.content[st.st_ino] = f.read()
                self.meta[st.st_ino] = (False, st.st_mode & 0o7777, st.st_uid,
                                        st.st_gid)
                self.mtime[st.st_ino] = st.st_mtime_ns

    def learn_meta(self, world):
        """Owner and mode of what the session created, as it left them."""
        for top in (world.spool, world.state):
            for d, subdirs, files in os.walk(top):
                for p in [d] + [os.path.join(d, f) for f in files]:
                    st = os.lstat(p)
                    if st.st_ino not in self.meta:
                        self.meta[st.st_ino] = (os.path.isdir(p),
                                                st.st_mode & 0o7777,
                                                st.st_uid, st.st_gid)


def pieces(offset, data):
    """A write cut at 4 KiB block boundaries: each may reach the disk alone."""
    out = []
    at = 0
    while at < len(data):
        end = min(len(data), (offset + at) // BLOCK * BLOCK + BLOCK - offset)
        out.append((offset + at, data[at:end]))
        at = end
    return out


def apply_write(buf, offset, data):
    if len(buf) < offset:
        buf.extend(bytes(offset - len(buf)))
    buf[offset:offset + len(data)] = data


def apply_truncate(buf, length):
    if len(buf) > length:
        del buf[length:]
    else:
        buf.extend(bytes(length - len(buf)))


class Model:
    """Replays a log over a snapshot, one op at a time, keeping what is
    durable and what is still pending at the current point."""

    def __init__(self, snap):
        self.snap = snap
        self.current = {ino: bytearray(c) for ino, c in snap.content.items()}
        self.durable = {ino: bytes(c) for ino, c in snap.content.items()}
        self.pending = {}  # ino -> [("W", off, data, mtime) | ("T", len, mtime)]
        self.mtime_now = dict(snap.mtime)
        self.mtime_durable = dict(snap.mtime)
        self.names = {d: dict(e) for d, e in snap.dirs.items()}  # durable
        self.names_pending = []  # ops whose directory is not synced since
        self.deliveries = 0  # delivered messages so far

    def step(self, op):
        kind = op[0]
        if kind in ("W", "D"):
            _, ino, off, data, mtime = op
            buf = self.current.setdefault(ino, bytearray())
            apply_write(buf, off, data)
            self.mtime_now[ino] = mtime
            if kind == "D":  # delivered: durable, as the MDA fsync'd it
                self.deliveries += 1
                self._sync(ino)
            else:
                self.pending.setdefault(ino, []).extend(
                    ("W", o, d, mtime) for o, d in pieces(off, data))
        elif kind == "T":
            _, ino, length, mtime = op
            apply_truncate(self.current.setdefault(ino, bytearray()), length)
            self.mtime_now[ino] = mtime
            self.pending.setdefault(ino, []).append(("T", length, mtime))
        elif kind == "S":
            _, ino, what, path = op
            if what == "d":
                self._sync_dir(path)
            else:
                self._sync(ino)
        else:
            self.names_pending.append(op)
            if kind == "C":
                self.current.setdefault(op[2], bytearray())
                if op[3] == "d":
                    self.names.setdefault(op[1], {})

    def _sync(self, ino):
        self.durable[ino] = bytes(self.current.get(ino, b""))
        self.pending.pop(ino, None)
        self.mtime_durable[ino] = self.mtime_now.get(ino)

    def _sync_dir(self, path):
        keep = []
        for op in self.names_pending:
            if path in op_dirs(op):
                apply_name_op(self.names, op)
            else:
                keep.append(op)
        self.names_pending = keep

    def choices(self):
        """Every pending item: a write piece, a truncation, a name op."""
        items = []
        for ino in sorted(self.pending):
            for i in range(len(self.pending[ino])):
                items.append(("data", ino, i))
        for i in range(len(self.names_pending)):
            items.append(("name", i))
        return items

    def build(self, keep):
        """The crash state in which exactly the pending items in keep
        reached the disk: (names, {ino: bytes}, mbox mtime)."""
        names = {d: dict(e) for d, e in self.names.items()}
        for i, op in enumerate(self.names_pending):
            if ("name", i) in keep:
                apply_name_op(names, op)
        content = {}
        mbox_mtime = self.mtime_durable.get(self.snap.mbox_ino)
        latest = mbox_mtime
        for ino, durable in self.durable.items():
            todo = self.pending.get(ino)
            if not todo:
                content[ino] = durable
                continue
            buf = bytearray(durable)
            for i, item in enumerate(todo):
                if ("data", ino, i) not in keep:
                    continue
                if item[0] == "W":
                    apply_write(buf, item[1], item[2])
                else:
                    apply_truncate(buf, item[1])
                if ino == self.snap.mbox_ino:
                    latest = item[-1]
            content[ino] = bytes(buf)
        for ino in self.current:
            if ino not in content:  # created, never synced
                buf = bytearray()
                for i, item in enumerate(self.pending.get(ino, [])):
                    if ("data", ino, i) in keep:
                        if item[0] == "W":
                            apply_write(buf, item[1], item[2])
                        else:
                            apply_truncate(buf, item[1])
                content[ino] = bytes(buf)
        return names, content, (mbox_mtime, latest)


def op_dirs(op):
    kind = op[0]
    if kind in ("C", "U"):
        return {os.path.dirname(op[1])}
    return {os.path.dirname(op[1]), os.path.dirname(op[2])}


def apply_name_op(names, op):
    kind = op[0]
    if kind == "C":
        names.setdefault(os.path.dirname(op[1]), {})[os.path.basename(op[1])] = op[2]
        if op[3] == "d":
            names.setdefault(op[1], {})
    elif kind == "U":
        names.setdefault(os.path.dirname(op[1]), {}).pop(os.path.basename(op[1]), None)
    elif kind == "R":
        names.setdefault(os.path.dirname(op[1]), {}).pop(os.path.basename(op[1]), None)
        names.setdefault(os.path.dirname(op[2]), {})[os.path.basename(op[2])] = op[3]
    elif kind == "X":
        names.setdefault(os.path.dirname(op[1]), {})[os.path.basename(op[1])] = op[4]
        names.setdefault(os.path.dirname(op[2]), {})[os.path.basename(op[2])] = op[3]


# ---- crash states on disk ----

def state_tree(world, names, content):
    """The files reachable from the spool and state directories:
    [(path, ino, is_dir, bytes)]."""
    out = []

    def walk(d):
        for name in sorted(names.get(d, {})):
            ino = names[d][name]
            p = os.path.join(d, name)
            if p in names:
                out.append((p, ino, True, b""))
                walk(p)
            else:
                out.append((p, ino, False, content.get(ino, b"")))

    walk(world.spool)
    walk(world.state)
    return out


def state_key(tree, mtime):
    h = hashlib.sha1(str(mtime).encode())
    for p, _, is_dir, data in tree:
        h.update(b"%s\0%d\0%d\0" % (p.encode(), is_dir, len(data)))
        h.update(hashlib.sha1(data).digest())
    return h.digest()


def write_all(path, flags, mode, data):
    fd = os.open(path, flags, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def materialize(world, snap, tree, mtime):
    """Writes the crash state over the world.  The maildrop is rewritten in
    place: it keeps its inode, as it does on the disk after a power cut."""
    mbox_seen = False
    for entry in os.listdir(world.state):
        p = os.path.join(world.state, entry)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    for p, ino, is_dir, data in tree:
        if p == world.mbox:
            if ino != snap.mbox_ino:
                raise RuntimeError("the maildrop was replaced: not modelled")
            mbox_seen = True
            write_all(p, os.O_WRONLY | os.O_TRUNC, 0, data)
            if mtime is not None:
                os.utime(p, ns=(mtime, mtime))
            continue
        if os.path.dirname(p) == world.spool:
            raise RuntimeError("%s: a new file in the spool: not modelled" % p)
        is_dir_meta, mode, uid, gid = snap.meta.get(ino, (is_dir, 0o600, 0, 0))
        if is_dir:
            os.mkdir(p, mode)
        else:
            write_all(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode, data)
        os.chmod(p, mode)
        if ROOT:
            os.chown(p, uid, gid)
    if not mbox_seen:
        raise RuntimeError("the maildrop's name is gone: not modelled")


def capture(world):
    """The world's files as they are now: (tree entries, mbox mtime)."""
    snap = Snapshot(world)
    tree = state_tree(world, snap.dirs, snap.content)
    return snap, tree


# ---- what a session shows ----

ID_RE = re.compile(rb"^X-Test-Id: (\S+)\r?$", re.M)


def parse_session(out, retr_count):
    """(ok, text of the error, {'stat': (n, size), 'uidl': {n: id},
    'retr': {n: bytes}}) from the output of login, STAT, UIDL, RETR
    1..retr_count, QUIT.  RETR texts stay as sent (byte-stuffed, CRLF)."""
    pos = 0

    def line():
        nonlocal pos
        end = out.find(b"\r\n", pos)
        if end < 0:
            raise ValueError("output ends early")
        ln = out[pos:end]
        pos = end + 2
        return ln

    def multi():
        nonlocal pos
        if out.startswith(b".\r\n", pos):
            pos += 3
            return b""
        end = out.find(b"\r\n.\r\n", pos - 2)
        if end < 0:
            raise ValueError("multi-line response not ended")
        body = out[pos:end + 2]
        pos = end + 5
        return body

    try:
        for what in ("greeting", "USER", "PASS"):
            ln = line()
            if not ln.startswith(b"+OK"):
                return False, "%s: %r" % (what, ln), None
        ln = line()
        m = re.match(rb"\+OK (\d+) (\d+)$", ln)
        if not m:
            return False, "STAT: %r" % ln, None
        count = int(m.group(1))
        res = {"stat": (count, int(m.group(2))), "uidl": {}, "retr": {}}
        ln = line()
        if not ln.startswith(b"+OK"):
            return False, "UIDL: %r" % ln, None
        for u in multi().split(b"\r\n")[:-1]:
            n, uid = u.split(b" ", 1)
            res["uidl"][int(n)] = uid
        for n in range(1, retr_count + 1):
            ln = line()
            if ln.startswith(b"+OK"):
                res["retr"][n] = multi()
            elif n <= count:
                return False, "RETR %d: %r" % (n, ln), None
        ln = line()
        if not ln.startswith(b"+OK"):
            return False, "QUIT: %r" % ln, None
        return True, "", res
    except ValueError as e:
        return False, str(e), None


def check_commands(retr_count):
    return ["STAT", "UIDL"] + ["RETR %d" % n for n in range(1, retr_count + 1)] \
        + ["QUIT"]


class Expect:
    """What any crash state's next session must show."""

    def __init__(self, wire, keep, deleted):
        self.wire = wire  # id -> (uidl, RETR bytes): every message known
        self.keep = set(keep)
        self.deleted = set(deleted)

    def plus(self, ids):
        return Expect(self.wire, self.keep | set(ids), self.deleted)

    def check(self, res):
        seen = {}
        count, _ = res["stat"]
        if len(res["retr"]) != count or len(res["uidl"]) != count:
            return "STAT says %d, UIDL lists %d, RETR served %d" % (
                count, len(res["uidl"]), len(res["retr"]))
        for n, text in res["retr"].items():
            m = ID_RE.search(text.split(b"\r\n\r\n", 1)[0])
            ident = m.group(1).decode() if m else None
            if ident not in self.wire:
                return "message %d is none of the messages (%r...)" % (n, text[:60])
            if ident in seen:
                return "%s twice (messages %d and %d)" % (ident, seen[ident], n)
            seen[ident] = n
            uidl, wire = self.wire[ident]
            if text != wire:
                return "%s (message %d) is not byte-exact" % (ident, n)
            if res["uidl"].get(n) != uidl:
                return "%s: unique-id %r, was %r" % (ident, res["uidl"].get(n), uidl)
        lost = sorted(self.keep - set(seen))
        if lost:
            return "lost: %s" % " ".join(lost)
        gone = self.deleted - set(seen)
        if gone and gone != self.deleted:
            return "deleted only partly: %s still there" % " ".join(
                sorted(self.deleted & set(seen)))
        extra = set(seen) - self.keep - self.deleted
        if extra:
            return "unexpected: %s" % " ".join(sorted(extra))
        return None


def leftovers(world):
    left = []
    d = world.user_state
    if os.path.isdir(d):
        for name in os.listdir(d):
            p = os.path.join(d, name)
            if name in ("index", "index.spare"):
                continue
            if name == "journal" and os.path.getsize(p) == 0:
                continue
            left.append("%s (%d bytes)" % (name, os.path.getsize(p)))
    return left


# ---- a case ----

class Case:
    """A maildrop, a session that deletes, and what to expect of it."""

    def __init__(self, name, build):
        self.name = name
        self.build = build  # build(case) fills in the fields below


def run_check(world, server, expect, retr_count, third):
    """The next session (and maybe one more); an error text or None."""
    out = world.session(server, check_commands(retr_count))
    ok, why, res = parse_session(out, retr_count)
    if not ok:
        return "next session: " + why
    bad = expect.check(res)
    if bad:
        return "next session: " + bad
    left = leftovers(world)
    if left:
        return "left in the state directory: " + ", ".join(left)
    if third:
        out2 = world.session(server, check_commands(retr_count))
        ok, why, res2 = parse_session(out2, retr_count)
        if not ok:
            return "session after it: " + why
        if res2 != res:
            return "session after it (from the saved index) sends other bytes"
    return None


class Runner:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.server = args.server
        self.states = 0
        self.failed = 0
        self.base = tempfile.mkdtemp(prefix="powercut.", dir=args.tmp)
        os.chmod(self.base, 0o755)
        self.seen = set()
        self.full = args.scale == "full"
        self.enum_bits = 8 if self.full else 3
        self.per_point = 3
        self.late_n = 0

    def note(self, text):
        if self.args.verbose:
            print(text, flush=True)

    def fail(self, case, k, desc, why):
        self.failed += 1
        if self.failed <= self.args.show:
            print("FAIL %s: crash at op %d%s: %s" % (case, k, desc, why), flush=True)

    def keep_sets(self, items):
        """The pending items to keep, one set per crash state to try."""
        n = len(items)
        if n <= self.enum_bits:
            for mask in range(1 << n):
                yield {items[i] for i in range(n) if mask >> i & 1}
            return
        yield set(items)
        yield set()
        for _ in range(self.per_point):
            p = self.rng.choice((0.1, 0.5, 0.9))
            yield {it for it in items if self.rng.random() < p}

    def explore(self, case, world, snap, ops, expect, retr_count, late,
                points=None):
        """Every crash point of ops, the states each allows; runs the next
        session on each new one."""
        model = Model(snap)
        for k in range(len(ops) + 1):
            if k > 0:
                model.step(ops[k - 1])
            if points is not None and k not in points:
                continue
            exp = expect(model.deliveries)
            items = model.choices()
            for keep in self.keep_sets(items):
                names, content, (durable_mtime, latest_mtime) = model.build(keep)
                tree = state_tree(world, names, content)
                mtime = latest_mtime if self.rng.random() < 0.5 else durable_mtime
                key = state_key(tree, (case, mtime))
                if key in self.seen:
                    continue
                self.seen.add(key)
                self.states += 1
                if self.args.limit and self.states > self.args.limit:
                    return
                desc = " (%d of %d pending kept)" % (len(keep), len(items))
                self.one_state(case, world, snap, tree, mtime, exp, retr_count,
                               late, k, desc)

    def one_state(self, case, world, snap, tree, mtime, exp, retr_count, late,
                  k, desc):
        materialize(world, snap, tree, mtime)
        if late and self.rng.random() < 0.25:
            self.late_n += 1
            world.deliver(late[1])
            exp = exp.plus([late[0]])
            desc += ", mail delivered before the next session"
        third = self.rng.random() < 0.25
        why = run_check(world, self.server, exp, retr_count, third)
        if why:
            self.fail(case, k, desc, why)
            if self.args.keep:
                self.keep_state(case, k, world)

    def keep_state(self, case, k, world):
        dest = os.path.join(self.args.keep, "%s-op%d-%d" % (case, k, self.failed))
        if not os.path.exists(dest):
            shutil.copytree(world.dir, dest, symlinks=True)


# ---- the cases ----

def wire_of(server, base, name, mbox_bytes):
    """id -> (unique-id, RETR bytes) as the server sends each message of
    mbox_bytes, from a fresh maildrop of its own."""
    w = World(base, name)
    w.write_mbox(mbox_bytes)
    n = len(ID_RE.findall(mbox_bytes))
    out = w.session(server, check_commands(n))
    ok, why, res = parse_session(out, n)
    if not ok:
        raise RuntimeError("reference session: " + why)
    wire = {}
    for i, text in res["retr"].items():
        ident = ID_RE.search(text).group(1).decode()
        wire[ident] = (res["uidl"][i], text)
    shutil.rmtree(w.dir)
    return wire


def layout(rng, sizes, prefix="m"):
    """The maildrop: message n+1 about sizes[n] bytes."""
    return [message(rng, prefix, n + 1, s) for n, s in enumerate(sizes)]


def make_case(runner, name, msgs, deleted, delivery=None, fresh=False,
              root_spool=False, prior_sessions=2, trace=None,
              prior_delete=False):
    """Records the session of one case; returns what explore needs."""
    server = runner.server
    rng = random.Random(runner.args.seed * 1000 + len(name))
    late = ("late1", message(rng, "late", 1, 600))
    ids = ["m%d" % (i + 1) for i in range(len(msgs))]
    extra = [delivery] if delivery else []
    everything = b"".join(msgs) + b"".join(d[1] for d in extra) + late[1]
    wire = wire_of(server, runner.base, name + ".ref", everything)
    world = World(runner.base, name, root_spool=root_spool)
    first = message(rng, "x", 1, 5000) if prior_delete else b""
    world.write_mbox(first + b"".join(msgs))
    if prior_delete:
        # An earlier update: the journal file stays (empty), the index and
        # its spare are there to be overwritten and exchanged.
        out = world.session(server, ["DELE 1", "QUIT"])
        if b"-ERR" in out:
            raise RuntimeError("%s: setup session failed: %r" % (name, out))
    if not fresh:
        for _ in range(prior_sessions):  # the index, and its spare
            out = world.session(server, ["QUIT"])
            if not out.startswith(b"+OK"):
                raise RuntimeError("%s: setup session failed: %r" % (name, out))
        if ROOT:
            os.chmod(world.state, 0o711)
    snap = Snapshot(world)
    log = os.path.join(runner.base, name + ".log")
    env = recorder_env(world, log)
    dele = ["DELE %d" % (ids.index(d) + 1) for d in deleted]
    if delivery:
        # Held open across the delivery: login, DELEs; mail arrives; QUIT.
        p = subprocess.Popen(world.args(server), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, env=env)
        cmds = ["USER " + USER, "PASS " + PASSWORD] + dele
        p.stdin.write("".join(c + "\r\n" for c in cmds).encode())
        p.stdin.flush()
        for _ in range(len(cmds) + 1):
            if not p.stdout.readline().startswith(b"+OK"):
                raise RuntimeError("%s: session refused a command" % name)
        at = world.deliver(delivery[1])
        st = os.stat(world.mbox)
        log_delivery(log, st.st_ino, at, delivery[1], st.st_mtime_ns)
        out, _ = p.communicate(b"QUIT\r\n", timeout=120)
    elif trace:
        out = world.session(server, dele + ["QUIT"], env=env, trace=trace)
    else:
        out = world.session(server, dele + ["QUIT"], env=env)
    if b"+OK" not in out.split(b"\r\n")[-2]:
        raise RuntimeError("%s: the recorded session's QUIT failed: %r" % (
            name, out[-200:]))
    snap.learn_meta(world)
    ops = read_log(log)
    keep = [i for i in ids if i not in deleted]

    def expect(deliveries):
        got = keep + ([delivery[0]] if delivery and deliveries else [])
        return Expect(wire, got, deleted)

    retr_count = len(ids) + len(extra) + 1
    return world, snap, ops, expect, retr_count, late


def describe(op):
    if op[0] in ("W", "D"):
        return "%s ino %d at %d, %d bytes" % (op[0], op[1], op[2], len(op[3]))
    return " ".join(str(x) for x in op)


# What strace is asked to show: every call that can change a file or a
# name, or sync one; those the recorder does not model must not appear.
TRACED = ["write", "pwrite64", "ftruncate", "fsync", "fdatasync", "open",
          "openat", "creat", "rename", "renameat", "?renameat2", "unlink",
          "unlinkat", "mkdir", "mkdirat", "rmdir", "writev", "pwritev",
          "?pwritev2", "fallocate", "?copy_file_range", "sendfile", "splice",
          "truncate", "link", "linkat", "symlink", "symlinkat", "?openat2",
          "syncfs", "sync"]
MODELLED = {"write": "W", "pwrite64": "W", "ftruncate": "T", "fsync": "S",
            "fdatasync": "S", "rename": "R", "renameat": "R", "renameat2": "R",
            "unlink": "U", "unlinkat": "U", "mkdir": "C", "mkdirat": "C",
            "open": "C", "openat": "C", "creat": "C"}
CALL_RE = re.compile(r"^(?:\d+ +)?(\w+)\((.*)\) += (-?\d+)")


def strace_counts(trace, world):
    """Per record kind, the calls strace saw on the world's files; and the
    calls seen there that the recorder does not model."""
    c, unmodelled = {}, []
    with open(trace) as f:
        for ln in f:
            m = CALL_RE.match(ln)
            if not m or world.dir + "/" not in m.group(2) or int(m.group(3)) < 0:
                continue
            call, args, result = m.group(1), m.group(2), int(m.group(3))
            kind = MODELLED.get(call)
            if kind is None:
                unmodelled.append(ln.strip())
                continue
            if call in ("open", "openat"):
                if "O_CREAT|O_EXCL" not in args and "O_TRUNC" not in args:
                    continue  # opened, nothing made (O_CREAT alone: none here)
                kind = "T" if "O_TRUNC" in args else "C"
            if kind == "R" and "RENAME_EXCHANGE" in args:
                kind = "X"
            if kind == "W" and result == 0:
                continue
            c[kind] = c.get(kind, 0) + 1
    return c, unmodelled


def strace_check(runner):
    """The recorder against strace, on one session that makes the state
    directory, the index, the journal and deletes: the same calls, counted
    by kind; none that the simulation does not model."""
    if not shutil.which("strace"):
        print("strace-check: skipped, strace not installed", flush=True)
        return
    trace = os.path.join(runner.base, "strace.out")
    world, _, ops, _, _, _ = case_spread(runner, "strace", fresh=True,
                                         trace=trace)
    want, unmodelled = strace_counts(trace, world)
    got = {}
    for op in ops:
        kind = op[0]
        got[kind] = got.get(kind, 0) + 1
    for u in unmodelled:
        runner.fail("strace-check", 0, "", "not modelled: " + u)
    if got != want:
        runner.fail("strace-check", 0, "", "recorded %s, strace saw %s" % (
            sorted(got.items()), sorted(want.items())))
    print("strace-check: %s recorded, as strace saw" % counts(ops), flush=True)


def counts(ops):
    c = {}
    for op in ops:
        c[op[0]] = c.get(op[0], 0) + 1
    return " ".join("%s=%d" % kv for kv in sorted(c.items()))


def case_spread(runner, name="spread", **kw):
    """Deletions spread over a small maildrop: all the new text goes
    through the journal (a prefix-only update)."""
    rng = random.Random(runner.args.seed)
    msgs = layout(rng, [rng.randint(500, 9000) for _ in range(30)])
    deleted = ["m%d" % n for n in (2, 9, 10, 17, 25, 29)]
    return make_case(runner, name, msgs, deleted, **kw)


def case_truncate(runner):
    """Only the last messages deleted: one ftruncate, no journal."""
    rng = random.Random(runner.args.seed + 1)
    msgs = layout(rng, [rng.randint(500, 9000) for _ in range(20)])
    return make_case(runner, "truncate", msgs, ["m18", "m19", "m20"])


def case_windows(runner, name="windows"):
    """More than MIN_WINDOW (4 MiB) deleted near the start, then deletions
    spread over what follows: a journaled prefix, then windows moved in
    place, each fdatasync'd and checkpointed."""
    rng = random.Random(runner.args.seed + 2)
    sizes = [rng.randint(500, 3000) for _ in range(8)]
    sizes += [1500000, 1500000, 1400000]       # m9..m11, deleted: 4.4 MB
    sizes += [rng.randint(150000, 260000) for _ in range(35)]  # ~7 MB
    msgs = layout(rng, sizes)
    deleted = ["m2", "m5", "m9", "m10", "m11"] + \
        ["m%d" % n for n in range(14, 47, 6)]
    return make_case(runner, name, msgs, deleted)


def case_delivery(runner):
    """Deletions, and mail delivered while the session is open."""
    rng = random.Random(runner.args.seed + 3)
    msgs = layout(rng, [rng.randint(500, 9000) for _ in range(25)])
    delivery = ("d1", message(rng, "d", 1, 3000))
    return make_case(runner, "delivery", msgs, ["m1", "m7", "m8", "m20"],
                     delivery=delivery)


def run_case(runner, name, made, points=None):
    world, snap, ops, expect, retr_count, late = made
    runner.note("%s: %d ops (%s)" % (name, len(ops), counts(ops)))
    if runner.args.dump:
        for k, op in enumerate(ops):
            print("  %3d %s" % (k, describe(op)))
    before, failed = runner.states, runner.failed
    runner.explore(name, world, snap, ops, expect, retr_count, late, points)
    print("%s: %d crash states, %d failed" % (name, runner.states - before,
                                             runner.failed - failed), flush=True)


def second_cuts(runner, made, first_cuts):
    """A power cut during the update, then another during the recovery:
    first_cuts states at points inside the rewrite, each with the crash
    states of its own recovery."""
    world, snap, ops, expect, retr_count, late = made
    rewrite = [k + 1 for k, op in enumerate(ops) if op[0] in ("W", "T") and
               op[1] == snap.mbox_ino]
    chosen = set(runner.rng.sample(rewrite, min(len(rewrite), first_cuts)))
    # The first cuts: one state each, at points inside the rewrite.
    firsts = []
    model = Model(snap)
    for k in range(len(ops) + 1):
        if k > 0:
            model.step(ops[k - 1])
        if k in chosen:
            keep = {it for it in model.choices() if runner.rng.random() < 0.5}
            names, content, (_, latest) = model.build(keep)
            firsts.append((state_tree(world, names, content), latest,
                           expect(model.deliveries), k))
    for i, (tree, mtime, exp, k) in enumerate(firsts):
        materialize(world, snap, tree, mtime)
        if runner.rng.random() < 0.5:
            world.deliver(late[1])
            exp = exp.plus([late[0]])
        snap2 = Snapshot(world)
        log = os.path.join(runner.base, "second-%d-%d.log" % (k, i))
        out = world.session(runner.server, check_commands(retr_count),
                            env=recorder_env(world, log))
        ok, why, res = parse_session(out, retr_count)
        why = why if not ok else exp.check(res)
        if why:
            runner.fail("second-cut", k, "", "the recovery itself: %s" % why)
            continue
        snap2.learn_meta(world)
        ops2 = read_log(log)
        runner.note("second-cut %d (first cut at op %d): %d ops (%s)" % (
            i, k, len(ops2), counts(ops2)))
        runner.explore("second-cut", world, snap2, ops2,
                       lambda _d, e=exp: e, retr_count, None)


CASES = ["strace-check", "spread", "truncate", "windows", "delivery", "fresh", "index",
         "rootspool", "second-cut"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", choices=("quick", "full"), default="quick")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--server", default=os.path.join(TOP, "pop3-stdio"))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--show", type=int, default=20, help="failures printed")
    ap.add_argument("--keep", help="copy failing worlds here")
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--expect-failures", action="store_true")
    ap.add_argument("--label", default="powercut", help="of the summary")
    ap.add_argument("--dump", action="store_true", help="print the logs")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    runner = Runner(args)
    try:
        for name in args.cases.split(","):
            runner.per_point = (30 if name == "windows" else 500) \
                if runner.full else 3
            if name == "spread":
                run_case(runner, name, case_spread(runner))
            elif name == "fresh":
                # The first deletion ever: the state directory is made now.
                run_case(runner, name, case_spread(runner, "fresh", fresh=True))
            elif name == "index":
                # An index, its spare and an empty journal from an earlier
                # update: both are reused in place, the index saved by
                # overwriting the spare and exchanging the two names.
                run_case(runner, name, case_spread(runner, "index",
                                                   prior_delete=True))
            elif name == "rootspool":
                if not ROOT:
                    print("rootspool: skipped, needs root", flush=True)
                    continue
                run_case(runner, name, case_spread(runner, "rootspool",
                                                   root_spool=True))
            elif name == "truncate":
                run_case(runner, name, case_truncate(runner))
            elif name == "windows":
                run_case(runner, name, case_windows(runner))
            elif name == "delivery":
                run_case(runner, name, case_delivery(runner))
            elif name == "strace-check":
                strace_check(runner)
            elif name == "second-cut":
                before, failed = runner.states, runner.failed
                runner.per_point = 60 if runner.full else 3
                second_cuts(runner, case_spread(runner, "second-src"),
                            5 if runner.full else 3)
                if runner.full:
                    runner.per_point = 8
                    second_cuts(runner, case_windows(runner, "second-win"), 2)
                print("second-cut: %d crash states, %d failed" % (
                    runner.states - before, runner.failed - failed), flush=True)
            else:
                ap.error("unknown case " + name)
    finally:
        if not args.keep or runner.failed == 0:
            shutil.rmtree(runner.base, ignore_errors=True)
    print("%s: %d crash states, %d failed (seed %d)" % (
        args.label, runner.states, runner.failed, args.seed), flush=True)
    if args.expect_failures:
        return 0 if runner.failed > 0 else 1
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main())
