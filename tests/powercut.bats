#!/usr/bin/env bats
# "Never lose a message" under power cuts, not only kills: a power cut at
# any point of the update at QUIT, or of the recovery after it, may undo
# every write, truncation, create, rename and unlink that no fsync or
# fdatasync had made durable yet, each 4 KiB block on its own.  The
# simulator (tests/powercut/powercut.py) records those calls of a real
# session (tests/powercut/recorder.c, preloaded), builds the files each
# such cut can leave, and runs the next sessions on them with ./pop3-stdio:
# every message not marked deleted there once and byte-exact, the marked
# ones all or none, delivered mail kept, unique-ids unchanged, no journal
# left.  Here a seeded sample of each case; `make powercut` runs the full
# set.  Each planted mistake (tests/bin/pop3-stdio-planted-*, journal.c)
# must be caught, so the sample is shown able to fail.

load helpers

# The system's python3 when there is one: a version manager's shim in front
# of it can cost a second or more per call.
PYTHON=python3
[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3

setup() {
	[ "$(cat "$REPO/build/flavour" 2>/dev/null)" != sanitize ] ||
		skip "a sanitizer build: its runtime must be loaded before the preloaded recorder"
	command -v openssl >/dev/null || skip "openssl not installed"
	[ -x "$REPO/tests/bin/powercut-recorder.so" ] ||
		skip "tests/bin/powercut-recorder.so not built (make check builds it)"
}

# simulate ARG...: the simulator with a fixed seed; its output in $output.
simulate() {
	run "$PYTHON" "$REPO/tests/powercut/powercut.py" --seed 1 --show 5 "$@"
	echo "$output" >&2
}

# summary LABEL: the number of crash states and of failures it reports.
summary() {
	local re="^$1: ([0-9]+) crash states, ([0-9]+) failed \\(seed 1\\)\$"
	[[ "${lines[${#lines[@]} - 1]}" =~ $re ]] || {
		echo "no summary line for $1" >&2
		return 1
	}
	STATES=${BASH_REMATCH[1]}
	FAILED=${BASH_REMATCH[2]}
}

@test "power cut: the recorder sees every call strace sees that changes or syncs a file of the session, and none it does not model" {
	command -v strace >/dev/null || skip "strace not installed"
	simulate --cases strace-check
	[ "$status" -eq 0 ]
	[[ "$output" == *"recorded, as strace saw"* ]]
}

@test "power cut: updates (prefix-only, truncate-only, windowed, with a delivery during the session, in a root-owned spool, with the index saved by RENAME_EXCHANGE), a sample: no message lost, doubled or changed" {
	local cases=spread,truncate,windows,delivery,index
	is_root && cases+=,rootspool
	simulate --cases "$cases"
	summary powercut
	[ "$FAILED" -eq 0 ]
	[ "$status" -eq 0 ]
	[ "$STATES" -ge 300 ]
}

@test "power cut: the first deletion ever, the state directory made by the session: the journal survives with it" {
	simulate --cases fresh
	summary powercut
	[ "$FAILED" -eq 0 ]
	[ "$status" -eq 0 ]
	[ "$STATES" -ge 40 ]
}

@test "power cut: a cut during the update, then another during the recovery that finishes it: the third session finds every message" {
	simulate --cases second-cut
	summary powercut
	[ "$FAILED" -eq 0 ]
	[ "$status" -eq 0 ]
	[ "$STATES" -ge 20 ]
}

# planted NAME: the build with that mistake fails the same sample.
planted() {
	simulate --server "$REPO/tests/bin/pop3-stdio-planted-$1" --label "planted $1" \
		--cases spread,fresh --expect-failures
	summary "planted $1"
	[ "$FAILED" -gt 0 ]
	[ "$status" -eq 0 ]
}

@test "power cut: caught: a journal not fsync'd before the maildrop is rewritten (planted in a test build)" {
	planted skip-journal-fsync
}

@test "power cut: caught: a rewrite checkpointed without the maildrop's fdatasync (planted in a test build)" {
	planted skip-window-sync
}

@test "power cut: caught: the maildrop cut before the mark that tells a cut file is durable (planted in a test build)" {
	planted mark-after-cut
}
