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
	limit=$(sed -n 's/^#define CHECKPASSWORD_TIMEOUT \([0-9]*\).*/\1/p' "$REPO/params.h")
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
	printf 'PATH=/usr/sbin:/usr/bin:/sbin:/bin\n' >"$WORLD/expected"
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

@test "checkpassword: every failure answers the same bytes: rejected, blocked, invalid name, accepted but no such account" {
	# The checker accepts "right" for any name, so only the account
	# look-up can refuse the names no system account has.
	accept_if right
	printf 'blocked-one\n' >"$BLOCKLIST"
	cpw -- "USER $ACCOUNT" "PASS wrong" "QUIT" >"$WORLD/rejected"
	cpw -- "USER blocked-one" "PASS right" "QUIT" >"$WORLD/blocked"
	cpw -- "USER .invalid" "PASS right" "QUIT" >"$WORLD/invalid"
	run --separate-stderr cpw -d -- "USER no-such-account-here" "PASS right" "QUIT"
	printf '%s\n' "${lines[@]}" >"$WORLD/unknown"
	[[ "$stderr" == *"user no-such-account-here: accepted by the checker, but no such account"* ]]
	[[ "$stderr" == *"login failed: user no-such-account-here: unknown user"* ]]
	after_greeting "$WORLD/rejected" >"$WORLD/expected"
	printf '+OK send PASS\r\n%s\n+OK bye\r\n' "$FAILED" >"$WORLD/literal"
	head -n 2 "$WORLD/expected" | cmp - <(head -n 2 "$WORLD/literal")
	for f in blocked invalid unknown; do
		after_greeting "$WORLD/$f" >"$WORLD/$f.after"
		same_bytes "$WORLD/expected" "$WORLD/$f.after"
	done
}

@test "checkpassword: an account the checker accepts that has uid 0 or the pre-login account's uid is refused like a wrong password" {
	is_root || skip "needs root: the uid rules apply to sessions started as root"
	accept_if right
	for name in root nobody; do
		run --separate-stderr cpw -d -- "USER $name" "PASS right" "QUIT"
		[ "${lines[2]}" = "$FAILED" ]
		[[ "$stderr" == *"login failed: user $name: account not usable"* ]]
	done
	[[ "$stderr" == *"would serve as uid 65534, the pre-login account's; refused"* ]]
}

@test "checkpassword: a name and password too long for qmail's 512 bytes are refused without running the checker" {
	checker "exit 0"
	name=$(head -c 255 /dev/zero | tr '\0' n)
	pw=$(head -c 255 /dev/zero | tr '\0' p)
	b64=$(printf '\0%s\0%s' "$name" "$pw" | base64 -w0)
	# Too long for a command line: the response goes on its own line.
	run cpw -- "AUTH PLAIN" "$b64" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	[ ! -e "$WORLD/calls" ]
	# One byte less fits (255 + 254 + 3 NULs = 512) and is delivered.
	b64=$(printf '\0%s\0%s' "$name" "${pw:1}" | base64 -w0)
	run cpw -- "AUTH PLAIN" "$b64" "QUIT"
	[ "$(wc -l <"$WORLD/calls")" -eq 1 ]
	[ "$(wc -c <"$WORLD/input")" -eq 512 ]
}

@test "checkpassword: --checkpassword with --passwd, or a relative path, is a usage error (exit 2, one line, nothing on stdout)" {
	run --separate-stderr "$POP3" --checkpassword=/bin/false --passwd="$PASSWD" </dev/null
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[ "$stderr" = "pop3-stdio: --checkpassword cannot be used with '--passwd' (try --help)" ]
	run --separate-stderr "$POP3" --checkpassword=bin/false </dev/null
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[ "$stderr" = "pop3-stdio: --checkpassword needs an absolute path: 'bin/false' (try --help)" ]
	run --separate-stderr "$POP3" --help
	[[ "$output" == *"--checkpassword=PROG"* ]]
}

# ---- real checkers packaged in Debian ----

@test "checkpassword: Debian's checkpw (a qmail checkpassword, ~/Maildir/.password) logs a real account in; a wrong password is rejected" {
	is_root || skip "needs root: checkpw switches to the account it accepts"
	[ -x /usr/bin/checkpw ] || skip "checkpw is not installed (tests/install-deps installs it)"
	# The account's home holds the password file, the user's only.
	mkdir -p "$WORLD/home/Maildir"
	printf 'pass word\n' >"$WORLD/home/Maildir/.password"
	chmod 600 "$WORLD/home/Maildir/.password"
	chown -R "$ACCOUNT_UID:$ACCOUNT_UID" "$WORLD/home"
	usermod -d "$WORLD/home" p3cpw
	CHECKER=/usr/bin/checkpw
	run --separate-stderr cpw -d -- "USER p3cpw" "PASS wrong" "USER p3cpw" "PASS pass word" "STAT" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[4]}" = "$LOGGED_IN" ]
	[ "${lines[5]}" = $'+OK 1 28\r' ]
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"login failed: user p3cpw: bad password"* ]]
	[[ "$stderr" == *"login: user p3cpw"* ]]
}

@test "checkpassword: the PAM wrapper (deploy/checkpassword/checkpassword-pam, through pwauth) logs a real account in; wrong password and unknown user rejected" {
	is_root || skip "needs root: pwauth reads the shadow file through PAM"
	[ -x /usr/sbin/pwauth ] || skip "pwauth is not installed (tests/install-deps installs it)"
	printf 'p3cpw:%s\n' 'pam pass' | chpasswd
	CHECKER="$REPO/deploy/checkpassword/checkpassword-pam"
	run --separate-stderr cpw -d -- "USER p3cpw" "PASS pam pass" "STAT" "QUIT"
	[ "${lines[2]}" = "$LOGGED_IN" ]
	[ "${lines[3]}" = $'+OK 1 28\r' ]
	[ "$status" -eq 0 ]
	run --separate-stderr cpw -d -- "USER p3cpw" "PASS wrong" "USER no-such-account-here" "PASS x" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[4]}" = "$FAILED" ]
	[[ "$stderr" == *"login failed: user p3cpw: bad password"* ]]
	[[ "$stderr" == *"login failed: user no-such-account-here: bad password"* ]]
	# A password with a newline (possible through AUTH PLAIN) cannot be
	# passed to pwauth's two lines: rejected, never split.
	run cpw -- "AUTH PLAIN $(printf '\0p3cpw\0pam pass\nx' | base64 -w0)" "QUIT"
	[ "${lines[1]}" = "$FAILED" ]
}

@test "checkpassword: a checker that never reads descriptor 3 is still judged by its exit status" {
	for verdict in 0 1; do
		printf '#!/bin/sh\nexec 3<&-\nexit %s\n' "$verdict" >"$CHECKER"
		chmod 755 "$CHECKER"
		run cpw -- "USER $ACCOUNT" "PASS right" "QUIT"
		if [ "$verdict" = 0 ]; then
			[ "${lines[2]}" = "$LOGGED_IN" ]
		else
			[ "${lines[2]}" = "$FAILED" ]
		fi
	done
}

@test "checkpassword: started with its stderr closed, the server still gives the checker /dev/null on 0-2 and its input on 3" {
	checker "std=\$(readlink /proc/\$\$/fd/0 /proc/\$\$/fd/1 /proc/\$\$/fd/2)
		printf '%s\\n' \"\$std\" >'$WORLD/std'; exit 1"
	# stderr closed: the server's own descriptors (the pre-login channel,
	# the pipes) then take low numbers.
	cpw -- "USER $ACCOUNT" "PASS right" "QUIT" >"$WORLD/out" 2>&-
	[ "$(sed -n 3p "$WORLD/out")" = "$FAILED" ]
	printf '/dev/null\n/dev/null\n/dev/null\n' >"$WORLD/expected"
	same_bytes "$WORLD/expected" "$WORLD/std"
	printf '%s\0right\0\0' "$ACCOUNT" >"$WORLD/sent"
	same_bytes "$WORLD/sent" "$WORLD/input"
}
