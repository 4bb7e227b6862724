#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_update:  update-seeds.py corpus/update

The input format is described at the top of fuzz_update.c."""
import os
import sys

out = sys.argv[1]
def msg(deleted=False, sep=0, seed=1, s=10, raw=None):
    a = (1 if deleted else 0) | (sep << 1) | (8 if raw is not None else 0) | (seed << 4)
    return bytes([a, len(raw)]) + raw if raw is not None else bytes([a, s])
def new(seed=2, s=5, sep=0): return bytes([0]) + msg(False, sep, seed, s)
def copy(j): return bytes([1, j])
def suffix(j): return bytes([2, j])
def raw(b): return bytes([3, len(b)]) + b
def scen(during, after, after2, k, k2, msgs):
    flags = len(during) | len(after) << 2 | len(after2) << 4
    return bytes([flags, k, k2, len(msgs) - 1]) + b''.join(msgs) + b''.join(during + after + after2)
seeds = {}
# 20 messages of 320 bytes, three deleted early: a journaled prefix, then
# checkpointed windows (43 crash points); a crash at each, some with a
# crash in the recovery too.
win = [msg(i in (0, 3, 9), 0, i % 16, 40) for i in range(20)]
for k in range(0, 46, 3):
    seeds['windows-k%02d' % k] = scen([new(3, 7)], [new(4, 9)] if k % 2 else [], [], k, (k * 7) % 30 if k % 3 == 0 else 0, win)
for k2 in (1, 4, 9, 14):
    seeds['windows-k20-recovery-k%02d' % k2] = scen([new(3, 7)], [new(4, 9)], [new(8, 3)], 20, k2, win)
# Five small messages, separators LF, CRLF: the journal holds all new text.
small = [msg(i == 1, i % 3, i, 3) for i in range(5)]
for k in (0, 2, 5, 8, 11):
    seeds['small-k%02d' % k] = scen([], [new(5, 2)], [new(6, 1)], k, k % 5, small)
# Only the end goes: one ftruncate.
tail = [msg(i >= 3, 0, i, 4) for i in range(5)]
for k in (0, 1, 2):
    seeds['truncate-k%d' % k] = scen([], [new(1, 1)], [], k, 0, tail)
seeds['all-deleted'] = scen([], [], [], 0, 0, [msg(True, 0, i, 2) for i in range(4)])
seeds['all-deleted-delivery-k2'] = scen([new()], [], [], 2, 0, [msg(True, 0, i, 2) for i in range(4)])
# Raw bodies ("From " quoted), the last message without separator, raw deliveries.
seeds['raw'] = scen([raw(b"x\nSubject: y\n\nbody\n\n")], [raw(b"z\n\nq\n")], [], 5, 1,
                    [msg(False, 1, 0, raw=b"From here\nFrom there\r\n\r\nFrom a"),
                     msg(True, 0, 2, raw=b"\x00\xff\r\r\n"), msg(False, 3, 3, raw=b"Fx")])
# A deleted message the size and text of the last one, delivered again
# after a crash before the truncation (crashes/update/mimic-* after it).
dup = [msg(True, 0, 5, 4), msg(False, 0, 5, 4)]
for k in (0, 5, 8):
    seeds['redelivered-k%d' % k] = scen([], [copy(1)], [], k, 0, dup)
# 32 messages of up to 2 KB, every other one deleted: many windows.
big = [msg(i % 2 == 0, 0, i % 16, 255 - i) for i in range(32)]
for k in (0, 30, 60):
    seeds['big-k%02d' % k] = scen([suffix(30)], [new(9, 200)], [], k, 0, big)
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
