# Shared by every bats suite: fixtures and a way to talk to ./pop3-stdio.
#
# Each test gets a fresh world under $WORLD (world-traversable, so that a
# session started as root and switched to the fixture user can reach it):
#   $SPOOL      the spool directory (maildrops are $SPOOL/<user>)
#   $STATE      the --state-dir
#   $PASSWD     the virtual-users file (add users with add_user)
#   $BLOCKLIST  the blocked-users file (empty until a test writes it)
# When the tests run as root, fixture users are served as $FIXTURE_UID:
# $FIXTURE_GID and fixture files are given to them.  Not nobody's ids:
# those are the pre-login process's, and no login may be served with them.
#
# $REPO is the repository's top directory, $POP3 the binary under test.

REPO="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
POP3="$REPO/pop3-stdio"
POP3_FAULT="$REPO/tests/bin/pop3-stdio-fault"
FIXTURE_UID=${FIXTURE_UID:-4100}
FIXTURE_GID=${FIXTURE_GID:-4100}

is_root() { [ "$(id -u)" = 0 ]; }

setup_world() {
	WORLD=$(mktemp -d /tmp/pop3-test.XXXXXX)
	chmod 755 "$WORLD"
	SPOOL="$WORLD/spool"
	STATE="$WORLD/state"
	PASSWD="$WORLD/passwd"
	BLOCKLIST="$WORLD/blocked-users"
	mkdir -p "$SPOOL"
	: >"$PASSWD"
	: >"$BLOCKLIST"
	if is_root; then
		chown "$FIXTURE_UID:$FIXTURE_GID" "$SPOOL"
	fi
}

teardown_world() {
	if [ -n "${WORLD:-}" ]; then
		rm -rf "$WORLD"
	fi
}

# add_user NAME PASSWORD: a virtual user (with the fixture ids when root).
add_user() {
	local hash
	hash=$(openssl passwd -6 "$2")
	if is_root; then
		printf '%s:%s:%s:%s\n' "$1" "$hash" "$FIXTURE_UID" "$FIXTURE_GID" >>"$PASSWD"
	else
		printf '%s:%s\n' "$1" "$hash" >>"$PASSWD"
	fi
}

# add_user_hash NAME HASH: a virtual user with a crypt(3) hash made once
# (openssl per user and test adds up), with the fixture ids when root.
add_user_hash() {
	if is_root; then
		printf '%s:%s:%s:%s\n' "$1" "$2" "$FIXTURE_UID" "$FIXTURE_GID" >>"$PASSWD"
	else
		printf '%s:%s\n' "$1" "$2" >>"$PASSWD"
	fi
}

# give_to_fixture PATH...: files the session must own when we are root.
give_to_fixture() {
	if is_root; then
		chown -R "$FIXTURE_UID:$FIXTURE_GID" "$@"
	fi
}

# mbox USER: stdin becomes the maildrop of USER, owned as the session needs.
mbox() {
	cat >"$SPOOL/$1"
	chmod 600 "$SPOOL/$1"
	give_to_fixture "$SPOOL/$1"
}

# pop3_args: the options every test session uses; extra ones appended.
pop3_args() {
	printf '%s\n' --spool="$SPOOL" --passwd="$PASSWD" --state-dir="$STATE" \
		--blocklist="$BLOCKLIST" --fail-delay=0 --timeout=30
}

# pop3 [OPTION...] -- LINE...: one session; each LINE is sent with CRLF,
# all at once (pipelined); the server's reply bytes go to stdout.
pop3() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		opts+=("$1")
		shift
	done
	[ "${1:-}" = "--" ] && shift
	local args
	mapfile -t args < <(pop3_args)
	if [ $# -gt 0 ]; then printf '%s\r\n' "$@"; fi | "$POP3" "${args[@]}" "${opts[@]}"
}

# write_serve_script [VAR=VALUE]: $WORLD/serve.sh, the command line a
# superserver runs: our options, VAR=VALUE in its environment when given,
# and the log (--debug sends it to stderr) kept apart from the connection,
# in $WORLD/server.log.
write_serve_script() {
	local args
	mapfile -t args < <(pop3_args)
	{
		printf '#!/bin/sh\nexec'
		if [ $# -gt 0 ]; then printf ' env %q' "$1"; fi
		printf ' %q' "$POP3" "${args[@]}" --debug
		printf ' 2>>%q\n' "$WORLD/server.log"
	} >"$WORLD/serve.sh"
	chmod 755 "$WORLD/serve.sh"
	: >"$WORLD/server.log"
	chmod 666 "$WORLD/server.log"
}

# pop3_raw [OPTION...]: a session reading the client bytes from stdin.
pop3_raw() {
	local args
	mapfile -t args < <(pop3_args)
	"$POP3" "${args[@]}" "$@"
}

# crlf: LF line ends to CRLF (for building expected server output).
crlf() { sed 's/$/\r/'; }

# The greeting line, whatever the host name.
greeting_re='^\+OK [A-Za-z0-9.-]+ POP3 server ready'$'\r''$'

# ---- byte-level checks (added for the protocol, mbox, uidl and auth suites) ----

# same_bytes EXPECTED ACTUAL: the two files are byte-identical; on a
# difference both are shown with control characters made visible.
same_bytes() {
	cmp -s -- "$1" "$2" && return 0
	echo "--- expected ($1):"
	cat -A -- "$1" | head -n 60
	echo "--- actual ($2):"
	cat -A -- "$2" | head -n 60
	return 1
}

# after_greeting FILE: the server's bytes after its greeting line.
after_greeting() { tail -n +2 -- "$1"; }

# stuff: byte-stuffs stdin as RFC 1939 3 asks of a server (a line that
# begins with "." gets one more in front).
stuff() { perl -pe 's/^\./../'; }

# payload FILE STATUS: the data of the first multi-line response in FILE
# whose status line begins with STATUS (a literal string), byte-stuffing
# undone, without the final ".CRLF"; fails when there is none.
payload() {
	STATUS="$2" perl -ne '
		if (!$in) { $in = index($_, $ENV{STATUS}) == 0; next }
		if ($_ eq ".\r\n") { $found = 1; last }
		s/^\.//;
		print;
		END { $? = $found ? 0 : 1 }' -- "$1"
}

# session FILE LINE...: a pipelined session (pop3 with the default
# options); FILE gets what the server sent after its greeting, the whole
# reply stays in $WORLD/raw.  The session's exit status is not checked.
session() {
	local out=$1
	shift
	pop3 -- "$@" >"$WORLD/raw" || true
	after_greeting "$WORLD/raw" >"$out"
}

# expect LINE...: $WORLD/expected, one CRLF line per argument, to compare
# with same_bytes:
#   session "$WORLD/actual" "USER alice" "PASS secret" "STAT" "QUIT"
#   expect '+OK send PASS' '+OK maildrop has 1 messages (28 octets)' ...
#   same_bytes "$WORLD/expected" "$WORLD/actual"
expect() { printf '%s\r\n' "$@" >"$WORLD/expected"; }

# ---- a live session (added for the privsep and hostile suites) ----

# live_session [OPTION...]: a session in the background, reading a FIFO
# this shell holds open, so a test can talk, look at the processes, and
# talk again.  Sets LIVE_PID, LIVE_IN (the fd to write client bytes to)
# and LIVE_OUT (the file the server's bytes go to; stderr beside it).
live_session() {
	local args
	mapfile -t args < <(pop3_args)
	mkfifo "$WORLD/live.in"
	exec {LIVE_IN}<>"$WORLD/live.in"
	LIVE_OUT="$WORLD/live.out"
	# The server must not hold the FIFO's write end (it would never see
	# end of input) nor bats's fd 3 (bats would wait for it).
	"$POP3" "${args[@]}" "$@" <"$WORLD/live.in" >"$LIVE_OUT" \
		2>"$WORLD/live.err" {LIVE_IN}>&- 3>&- &
	LIVE_PID=$!
}

# live_send LINE...: each LINE with CRLF to the live session.
live_send() { printf '%s\r\n' "$@" >&"$LIVE_IN"; }

# live_wait EXTENDED-REGEX [SECONDS]: until the server's output has a
# line matching it (default 10 s); fails on timeout.
live_wait() {
	local tries=$((${2:-10} * 20))
	while ! grep -Eq -- "$1" "$LIVE_OUT" 2>/dev/null; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.05
	done
}

# live_end: end of input; waits for the server, LIVE_STATUS its status.
live_end() {
	exec {LIVE_IN}>&-
	LIVE_STATUS=0
	wait "$LIVE_PID" || LIVE_STATUS=$?
}

# proc_line PID NAME: the values of a /proc/PID/status line ("Uid", ...).
proc_line() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }

# refute COMMAND...: fails when COMMAND succeeds.  ("! COMMAND" fails a
# bats test only when it is the test's last command: set -e ignores "!".)
refute() {
	if "$@"; then
		echo "expected to fail: $*" >&2
		return 1
	fi
}
