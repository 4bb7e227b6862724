#!/usr/bin/env bats
# The update is durable before +OK is sent: a power cut after the
# client saw QUIT's +OK can neither resurrect nor lose a message.  Shown by
# tracing the session's system calls (strace -f -y): after the last change
# to the mbox, an fsync or fdatasync of it returns, and only then is the
# +OK written to the client (tests/tools/synced-before-ok.py).  Which calls
# the update makes, and how many, is left to journal.c.

load helpers
load tools/integrity

setup() {
	command -v strace >/dev/null ||
		skip "strace not installed (tests/install-deps installs it)"
	strace -f -qq -o /dev/null true 2>/dev/null ||
		skip "strace cannot trace here (ptrace not allowed)"
	setup_world
	add_user alice secret
	mkmaildrop --count 10 --bytes 300000 --seed 51 "$WORLD/orig"
	mbox alice <"$WORLD/orig"
	mboxcheck manifest "$WORLD/orig" >"$WORLD/manifest"
}

teardown() { teardown_world; }

# traced_session LINE...: one pipelined session under strace, following
# its processes, every fd shown with its path; the calls that can change
# or sync a file or answer the client go to $WORLD/trace, the client bytes
# to $WORLD/out.
traced_session() {
	local args
	mapfile -t args < <(pop3_args)
	printf '%s\r\n' "$@" >"$WORLD/in"
	strace -f -qq -y -s 1024 -e signal=none -o "$WORLD/trace" \
		-e trace='write,pwrite64,writev,pwritev,?pwritev2,ftruncate,fallocate,sendfile,?copy_file_range,splice,fsync,fdatasync,sendto,sendmsg' \
		"$POP3" "${args[@]}" <"$WORLD/in" >"$WORLD/out"
}

# durable_before_ok: the update synced before the +OK that reports it.
durable_before_ok() {
	"$PYTHON" "$TOOLS/synced-before-ok.py" "$WORLD/trace" "$SPOOL/alice" '+OK bye'
}

@test "durable update: deletions rewriting the tail of the mbox reach the disk (fsync or fdatasync) before QUIT's +OK is sent" {
	traced_session "USER alice" "PASS secret" "DELE 2" "DELE 7" "QUIT"
	grep -q $'^+OK bye, 2 messages deleted, 8 left\r$' "$WORLD/out"
	printf 'm2\nm7\n' >"$WORLD/deleted"
	mboxcheck verify --manifest "$WORLD/manifest" --deleted "$WORLD/deleted" "$SPOOL/alice"
	durable_before_ok
}

@test "durable update: deleting only the last message (a truncation) reaches the disk (fsync or fdatasync) before QUIT's +OK is sent" {
	traced_session "USER alice" "PASS secret" "DELE 10" "QUIT"
	grep -q $'^+OK bye, 1 messages deleted, 9 left\r$' "$WORLD/out"
	echo m10 >"$WORLD/deleted"
	mboxcheck verify --manifest "$WORLD/manifest" --deleted "$WORLD/deleted" "$SPOOL/alice"
	durable_before_ok
}
