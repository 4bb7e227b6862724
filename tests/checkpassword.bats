#!/usr/bin/env bats
# --checkpassword=PROG: an external checker with qmail's checkpassword
# interface decides passwords (name, password and an empty timestamp, each
# NUL-terminated, on its descriptor 3; exit 0 accepted, 1 rejected, anything
# else a temporary failure), and the account it accepts is a system account
# found with getpwnam, served like any other.  The checkers here are small
# shell scripts the tests write; they record what they were given into
# files of the test's own (never a log).
#
# As root the accepted account must be a real account with its own uid:
# the test creates one (useradd) and removes it in teardown.  Without root
# the account is the caller's own, served as the caller.

load helpers
bats_require_minimum_version 1.5.0

ACCOUNT_UID=4321
FROM_LINE='From sender@example.org Mon Nov 23 10:00:00 2026'
FAILED=$'-ERR [AUTH] authentication failed\r'
TEMPFAIL=$'-ERR [SYS/TEMP] cannot check logins now, try again later\r'
LOGGED_IN=$'+OK maildrop has 1 messages (28 octets)\r'

remove_account() {
	if getent passwd p3cpw >/dev/null; then userdel p3cpw; fi
	if getent group p3cpw >/dev/null; then groupdel p3cpw; fi
}

setup() {
	setup_world
	if is_root; then
		remove_account
		groupadd -g "$ACCOUNT_UID" p3cpw
		useradd -M -N -u "$ACCOUNT_UID" -g "$ACCOUNT_UID" -d /nonexistent \
			-s /usr/sbin/nologin p3cpw
		ACCOUNT=p3cpw
	else
		ACCOUNT=$(id -un)
	fi
	printf '%s\nSubject: hi\n\nhello there\n' "$FROM_LINE" >"$SPOOL/$ACCOUNT"
	chmod 600 "$SPOOL/$ACCOUNT"
	if is_root; then chown "$ACCOUNT_UID:$ACCOUNT_UID" "$SPOOL/$ACCOUNT"; fi
	CHECKER="$WORLD/checker"
}

teardown() {
	# A checker left running by a failed test: by the PID it recorded.
	for f in "$WORLD"/pid.*; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	if is_root; then remove_account; fi
	teardown_world
}

# checker BODY: $CHECKER becomes a sh script that first saves what it got
# on descriptor 3 into $WORLD/input (appending a line to $WORLD/calls),
# then runs BODY.  The user name is in $user.
checker() {
	cat >"$CHECKER" <<EOF
#!/bin/sh
cat <&3 >"$WORLD/input"
echo call >>"$WORLD/calls"
user=\$(tr '\0' '\n' <"$WORLD/input" | head -n 1)
$1
EOF
	chmod 755 "$CHECKER"
}

# accept_if PASSWORD: a checker that accepts that password for any name.
accept_if() {
	checker "if [ \"\$(tr '\0' '\n' <\"$WORLD/input\" | sed -n 2p)\" = '$1' ]; then exit 0; fi; exit 1"
}

# cpw [OPTION...] -- LINE...: a session with the checker and no --passwd
# (the two do not go together); the server's bytes on stdout.
cpw() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		opts+=("$1")
		shift
	done
	[ "${1:-}" = "--" ] && shift
	if [ $# -gt 0 ]; then printf '%s\r\n' "$@"; fi |
		"$POP3" --spool="$SPOOL" --state-dir="$STATE" --blocklist="$BLOCKLIST" \
			--fail-delay=0 --timeout=30 --checkpassword="$CHECKER" "${opts[@]}"
}

# gone PID: no such process (or only its zombie, where nothing reaps it).
gone() {
	[ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

@test "checkpassword: a password the checker accepts opens the account's maildrop (served as the account)" {
	accept_if right
	cpw -d -- "USER $ACCOUNT" "PASS right" "STAT" "RETR 1" "QUIT" >"$WORLD/out" 2>"$WORLD/err"
	{
		printf '+OK send PASS\r\n%s\n+OK 1 28\r\n+OK 28 octets\r\n' "$LOGGED_IN"
		printf '%s\r\n' "$FROM_LINE" 'Subject: hi' '' 'hello there' '.' | tail -n +2
		printf '+OK bye, 0 messages deleted, 1 left\r\n'
	} >"$WORLD/expected"
	after_greeting "$WORLD/out" >"$WORLD/actual"
	same_bytes "$WORLD/expected" "$WORLD/actual"
	grep -q "login: user $ACCOUNT\$" "$WORLD/err"
	# The checker got exactly: name NUL password NUL empty-timestamp NUL.
	printf '%s\0right\0\0' "$ACCOUNT" >"$WORLD/sent"
	same_bytes "$WORLD/sent" "$WORLD/input"
	# Never the password in the log.
	refute grep -q right "$WORLD/err"
}

@test "checkpassword: AUTH PLAIN goes through the checker too" {
	accept_if right
	b64=$(printf '\0%s\0right' "$ACCOUNT" | base64 -w0)
	run cpw -- "AUTH PLAIN $b64" "QUIT"
	[ "${lines[1]}" = "$LOGGED_IN" ]
}

@test "checkpassword: exit 1 rejects: -ERR [AUTH], the client may try again" {
	accept_if right
	run --separate-stderr cpw -d -- "USER $ACCOUNT" "PASS wrong" "USER $ACCOUNT" "PASS right" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[4]}" = "$LOGGED_IN" ]
	[[ "$stderr" == *"login failed: user $ACCOUNT: bad password"* ]]
	[ "$(wc -l <"$WORLD/calls")" -eq 2 ]
}

@test "checkpassword: exit 111 or any status but 0 and 1 is a temporary failure: -ERR [SYS/TEMP], logged, connection closed" {
	for code in 111 2 127 255; do
		checker "exit $code"
		run --separate-stderr cpw -d -- "USER $ACCOUNT" "PASS right" "STAT"
		[ "${lines[2]}" = "$TEMPFAIL" ]
		[ "${#lines[@]}" -eq 3 ]   # closed: STAT is not answered
		[ "$status" -ne 0 ]
		[[ "$stderr" == *"checkpassword $CHECKER: exit status $code: temporary failure"* ]]
		[[ "$stderr" == *"login failed: user $ACCOUNT: system error"* ]]
	done
}

@test "checkpassword: a checker killed by a signal is a temporary failure" {
	checker 'kill -9 $$'
	run --separate-stderr cpw -d -- "USER $ACCOUNT" "PASS right"
	[ "${lines[2]}" = "$TEMPFAIL" ]
	[[ "$stderr" == *"checkpassword $CHECKER: ended by signal 9"* ]]
}

@test "checkpassword: a checker that hangs is killed with its process group after the timeout: -ERR [SYS/TEMP]" {
	# It and a child of its own both hang; both are recorded by PID.
	checker "sleep 1000 & echo \$! >'$WORLD/pid.child'; echo \$\$ >'$WORLD/pid.checker'; wait"
	limit=$(sed -n 's/^#define CHECKPASSWORD_TIMEOUT \([0-9]*\).*/\1/p' "$TOP/params.h")
	[ -n "$limit" ]
	run --separate-stderr cpw -d -- "USER $ACCOUNT" "PASS right" "STAT"
	[ "${lines[2]}" = "$TEMPFAIL" ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "$stderr" == *"checkpassword $CHECKER: no answer in $limit s; killed"* ]]
	checker_pid=$(cat "$WORLD/pid.checker")
	child_pid=$(cat "$WORLD/pid.child")
	gone "$checker_pid"
	# The child was in the checker's process group: killed with it (its
	# zombie may wait a moment for whoever reaps orphans).
	for _ in $(seq 100); do gone "$child_pid" && break; sleep 0.05; done
	gone "$child_pid"
}

@test "checkpassword: what the checker writes to stdout and stderr reaches neither the client nor the log" {
	accept_if right
	cp "$CHECKER" "$WORLD/quiet"
	cpw -d -- "USER $ACCOUNT" "PASS right" "STAT" "QUIT" >"$WORLD/quiet.out" 2>"$WORLD/quiet.err"
	# The same checker, noisy: a fake answer on stdout, a fake one on
	# stderr, 200 kB of each (more than any pipe would hold).
	checker "printf '+OK noisy-out\r\n'; printf '-ERR noisy-err\r\n' >&2
		head -c 200000 /dev/zero | tr '\0' o; head -c 200000 /dev/zero | tr '\0' e >&2
		outputs=\$(readlink /proc/\$\$/fd/1 /proc/\$\$/fd/2)
		printf '%s\\n' \"\$outputs\" >'$WORLD/outputs'
		if [ \"\$(tr '\0' '\n' <'$WORLD/input' | sed -n 2p)\" = right ]; then exit 0; fi; exit 1"
	cpw -d -- "USER $ACCOUNT" "PASS right" "STAT" "QUIT" >"$WORLD/noisy.out" 2>"$WORLD/noisy.err"
	same_bytes "$WORLD/quiet.out" "$WORLD/noisy.out"
	refute grep -q noisy "$WORLD/noisy.err"
	refute grep -q ooooo "$WORLD/noisy.err"
	printf '/dev/null\n/dev/null\n' >"$WORLD/expected"
	same_bytes "$WORLD/expected" "$WORLD/outputs"
}

@test "checkpassword: a checker that is missing or not executable is a temporary failure, logged with the reason" {
	CHECKER="$WORLD/no-such-checker"
	run --separate-stderr cpw -d -- "USER $ACCOUNT" "PASS right"
	[ "${lines[2]}" = "$TEMPFAIL" ]
	[[ "$stderr" == *"checkpassword $CHECKER: exec: No such file or directory"* ]]
	checker "exit 0"
	chmod 644 "$CHECKER"
	run --separate-stderr cpw -d -- "USER $ACCOUNT" "PASS right"
	[ "${lines[2]}" = "$TEMPFAIL" ]
	[[ "$stderr" == *"checkpassword $CHECKER: exec: Permission denied"* ]]
	[ ! -e "$WORLD/calls" ]
}

@test "checkpassword: a name with 8-bit bytes and a password with spaces and 8-bit bytes reach the checker intact" {
	checker "exit 1"
	name=$'j\xc3\xa9r\xf4me'
	pw=$' pass word \xff\x80\xe2\x82\xac end '
	run cpw -- "USER $name" "PASS $pw" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	printf '%s\0%s\0\0' "$name" "$pw" >"$WORLD/sent"
	same_bytes "$WORLD/sent" "$WORLD/input"
	# The same through AUTH PLAIN, whose password may even hold a tab.
	pw2=$'a\tb c\xfe'
	rm "$WORLD/input"
	run cpw -- "AUTH PLAIN $(printf '\0%s\0%s' "$name" "$pw2" | base64 -w0)" "QUIT"
	[ "${lines[1]}" = "$FAILED" ]
	printf '%s\0%s\0\0' "$name" "$pw2" >"$WORLD/sent"
	same_bytes "$WORLD/sent" "$WORLD/input"
}

@test "checkpassword: a name that is no valid maildrop name (spaces, '/', leading '.') never reaches the checker" {
	checker "exit 0"
	for name in 'a b' '../etc' '.hidden' $'a\x7fb'; do
		run --separate-stderr cpw -d -- "AUTH PLAIN $(printf '\0%s\0right' "$name" | base64 -w0)" "QUIT"
		[ "${lines[1]}" = "$FAILED" ]
		[[ "$stderr" == *"invalid user name"* ]]
	done
	[ ! -e "$WORLD/calls" ]
}

@test "checkpassword: blocked users never reach the checker, even with the right password" {
	accept_if right
	printf '%s\n' "$ACCOUNT" >"$BLOCKLIST"
	run --separate-stderr cpw -d -- "USER $ACCOUNT" "PASS right" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	[[ "$stderr" == *"login failed: user $ACCOUNT: blocked user"* ]]
	[ ! -e "$WORLD/calls" ]
	# A named blocked-users file that cannot be read refuses everyone
	# without asking the checker either.
	run cpw --blocklist="$WORLD/missing-blocklist" -- "USER $ACCOUNT" "PASS right"
	[ "${lines[2]}" = "$TEMPFAIL" ]
	[ ! -e "$WORLD/calls" ]
}

@test "checkpassword: the checker gets an environment of PATH alone, stdin from /dev/null, descriptor 3 and no other" {
	checker "tr '\0' '\n' </proc/\$\$/environ >'$WORLD/env'
		readlink /proc/\$\$/fd/0 >'$WORLD/stdin'
		ls -l /proc/self/fd >'$WORLD/fds'
		readlink /proc/\$\$/cwd >'$WORLD/cwd'
		exit 1"
	# Variables of the kind a superserver sets, and a descriptor the
	# server inherits, none of which may pass to the checker.
	(
		cd /tmp
		export SECRET_MARKER=leak TCPREMOTEIP=192.0.2.7 REMOTE_HOST=x
		cpw -- "USER $ACCOUNT" "PASS right" "QUIT" 7</etc/hostname
	) >"$WORLD/out"
	[ "$(sed -n 3p "$WORLD/out")" = "$FAILED" ]
	printf 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n' >"$WORLD/expected"
	same_bytes "$WORLD/expected" "$WORLD/env"
	[ "$(cat "$WORLD/stdin")" = /dev/null ]
	[ "$(cat "$WORLD/cwd")" = / ]
	# ls's listing: 0 1 2 3 inherited, plus ls's own handle on the
	# directory it lists (the one pointing at /proc/N/fd).
	awk '/ -> / { print $(NF-2), $NF }' "$WORLD/fds" | grep -v ' /proc/[0-9]*/fd$' >"$WORLD/fd-list"
	printf '0 /dev/null\n1 %s\n2 /dev/null\n' "$WORLD/fds" >"$WORLD/expected"
	head -n 3 "$WORLD/fd-list" | diff "$WORLD/expected" -
	sed -n 4p "$WORLD/fd-list" | grep -q '^3 pipe:\['
	[ "$(wc -l <"$WORLD/fd-list")" -eq 4 ]
}
