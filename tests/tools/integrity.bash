# Shared by the integrity suites (tests/integrity*.bats), loaded
# after helpers.bash: the checker and generators, delivery agents, and
# sessions held open half-way through FIFOs.
#
# Every wait is bounded: a session line is awaited at most $SESSION_WAIT
# seconds, a delivery at most 60; teardown kills what a test left running
# (only the processes it started, by pid).

TOOLS="$REPO/tests/tools"
SESSION_WAIT=${SESSION_WAIT:-20}
export LC_ALL=C

# The system's python3 when there is one: a version manager's shim in
# front of it can cost a second or more per call.
if [ -z "${PYTHON:-}" ]; then
	PYTHON=python3
	[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3
fi

mkmaildrop() { "$PYTHON" "$TOOLS/mkmaildrop.py" "$@"; }
mboxcheck() { "$PYTHON" "$TOOLS/mboxcheck.py" "$@"; }

# fcntl_append MBOX FILE...: deliver as Postfix local does (fcntl lock).
fcntl_append() { timeout 60 "$PYTHON" "$TOOLS/fcntl-append.py" "$@" 3>&-; }

# procmail_deliver MBOX FILE...: each FILE (a message with its empty line)
# delivered by procmail, as the fixture user when we are root, with an rc
# file saying DEFAULT=MBOX: procmail then takes the dotlock MBOX.lock (where
# it can) and an fcntl lock, as it does on Debian.  Its log and stderr are
# in $WORLD/procmail/.
procmail_deliver() {
	local mbox=$1 dir="$WORLD/procmail" rc f
	shift
	rc="$dir/rc.$(basename "$mbox")"
	if [ ! -d "$dir" ]; then
		mkdir "$dir"
		give_to_fixture "$dir"
	fi
	if [ ! -f "$rc" ]; then
		printf 'MAILDIR=%s\nDEFAULT=%s\nLOGFILE=%s\n' "$dir" "$mbox" \
			"$dir/log" >"$rc"
		chmod 644 "$rc"
	fi
	for f in "$@"; do
		# procmail writes the empty line that ends the message itself.
		head -c -1 "$f" | as_fixture timeout 60 procmail -m "$rc" \
			2>>"$dir/stderr" 3>&- || {
			echo "procmail failed for $f:" >&2
			cat "$dir/stderr" "$dir/log" >&2
			return 1
		}
	done
}

# bug_skip TEXT: marks a test that shows a known bug, so the suite stays
# green until it is fixed; INTEGRITY_RUN_BUGS=1 runs it anyway.
bug_skip() {
	[ "${INTEGRITY_RUN_BUGS:-0}" = 1 ] || skip "BUG: $*"
}

# as_fixture CMD...: CMD as the user the sessions run as.
as_fixture() {
	if is_root; then
		setpriv --reuid="$FIXTURE_UID" --regid="$FIXTURE_GID" --clear-groups \
			env HOME="$WORLD" "$@"
	else
		"$@"
	fi
}

# state_files: what is in alice's state directory besides the maildrop
# index (a cache that stays) and an empty journal (the journal file stays
# for good, empty when nothing is pending): a pending journal, a journal
# set aside, a temporary file...
state_files() {
	local f
	for f in "$STATE/alice"/* "$STATE/alice"/.*; do
		[ -e "$f" ] || continue
		case ${f##*/} in
		. | .. | index | index.spare) ;; # the index and its next generation
		journal) [ -s "$f" ] && echo "journal ($(stat -c %s "$f") bytes)" ;;
		*) echo "${f##*/}" ;;
		esac
	done
	return 0
}

# assert_no_leftovers: no journal, no temporary file, nothing but the
# maildrop in the spool.
assert_no_leftovers() {
	local left
	left=$(state_files)
	if [ -n "$left" ]; then
		echo "left in the state directory: $left" >&2
		return 1
	fi
	left=$(ls -A "$SPOOL" | grep -v -x alice || true)
	if [ -n "$left" ]; then
		echo "left in the spool: $left" >&2
		return 1
	fi
}

# ---- sessions held open: session_start NAME [OPTION...] ----
# The server ($SESSION_BIN, default ./pop3-stdio) reads NAME's input FIFO
# and writes its output FIFO; $SESSION_ENV (words VAR=value) and
# $SESSION_ULIMIT_F (ulimit -f, in 1 KB blocks) apply to it alone.

declare -gA SESSION_PID SESSION_IN SESSION_OUT

session_start() {
	local name=$1 dir="$WORLD/session.$1" args fd_in fd_out
	shift
	mkdir "$dir"
	mkfifo "$dir/in" "$dir/out"
	mapfile -t args < <(pop3_args)
	(
		if [ -n "${SESSION_ULIMIT_F:-}" ]; then
			ulimit -f "$SESSION_ULIMIT_F" || exit 125
		fi
		exec env ${SESSION_ENV:-} "${SESSION_BIN:-$POP3}" "${args[@]}" "$@"
	) <"$dir/in" >"$dir/out" 2>"$dir/err" 3>&- &
	SESSION_PID[$name]=$!
	exec {fd_in}>"$dir/in"
	exec {fd_out}<"$dir/out"
	SESSION_IN[$name]=$fd_in
	SESSION_OUT[$name]=$fd_out
}

# session_send NAME LINE...: each LINE with CRLF.  A server that is gone
# makes this fail, not kill the test with SIGPIPE.
session_send() {
	local name=$1
	shift
	(printf '%s\r\n' "$@" >&"${SESSION_IN[$name]}") 2>/dev/null
}

# session_read NAME: the next line (CR removed) into $LINE.
session_read() {
	LINE=
	IFS= read -r -t "$SESSION_WAIT" LINE <&"${SESSION_OUT[$1]}" || {
		echo "session $1: no line within ${SESSION_WAIT}s (got '$LINE')" >&2
		return 1
	}
	LINE=${LINE%$'\r'}
	echo "S($1): $LINE" >&2
}

# session_expect NAME REGEX: the next line must match.
session_expect() {
	session_read "$1" || return 1
	[[ "$LINE" =~ $2 ]] || {
		echo "session $1: expected /$2/, got '$LINE'" >&2
		return 1
	}
}

# session_login NAME: greeting, USER alice, PASS secret, into TRANSACTION.
session_login() {
	session_expect "$1" '^\+OK ' &&
		session_send "$1" "USER alice" && session_expect "$1" '^\+OK' &&
		session_send "$1" "PASS secret" &&
		session_expect "$1" '^\+OK maildrop has [0-9]+ messages'
}

# session_finish NAME: end of input (the client hangs up, unless the
# server already ended); what the server still writes goes to
# $WORLD/session.NAME/rest, and its exit status to $SESSION_STATUS.
session_finish() {
	local name=$1 dir="$WORLD/session.$1"
	local fd_in=${SESSION_IN[$1]} fd_out=${SESSION_OUT[$1]}
	exec {fd_in}>&-
	timeout "$SESSION_WAIT" cat <&"$fd_out" >"$dir/rest"
	exec {fd_out}<&-
	session_wait "$name"
}

# session_wait NAME: the server's exit status into $SESSION_STATUS.
session_wait() {
	local pid=${SESSION_PID[$1]} i
	for ((i = 0; i < SESSION_WAIT * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "session $1 (pid $pid) still running; killed" >&2
		kill -9 "$pid"
	fi
	SESSION_STATUS=0
	wait "$pid" || SESSION_STATUS=$?
	unset "SESSION_PID[$1]"
}

# session_kill NAME: SIGKILL, as a crash would.
session_kill() {
	local fd_in=${SESSION_IN[$1]} fd_out=${SESSION_OUT[$1]}
	kill -9 "${SESSION_PID[$1]}"
	session_wait "$1"
	exec {fd_in}>&- {fd_out}<&-
}

# session_cleanup: for teardown; ends every session a test left open.
session_cleanup() {
	local name
	for name in "${!SESSION_PID[@]}"; do
		kill -9 "${SESSION_PID[$name]}" 2>/dev/null || true
		wait "${SESSION_PID[$name]}" 2>/dev/null || true
	done
	SESSION_PID=()
}
