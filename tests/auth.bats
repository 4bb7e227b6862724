#!/usr/bin/env bats
# Logging in (RFC 1939 7 USER/PASS, RFC 5034 AUTH, RFC 4616 PLAIN, RFC 3206
# [AUTH]; README "Virtual users" and "Security"): who gets in, who does not,
# what they are told, what the log says, and that no password ever shows.

load helpers
bats_require_minimum_version 1.5.0

FROM_LINE='From sender@example.org Mon Nov 23 10:00:00 2026'
FAILED=$'-ERR [AUTH] authentication failed\r'
CLOSING=$'-ERR [AUTH] authentication failed; too many failures, closing\r'

setup_file() { SECRET_HASH=$(openssl passwd -6 secret); export SECRET_HASH; }

setup() {
	setup_world
	add_user_hash alice "$SECRET_HASH"
	printf '%s\nSubject: hi\n\nhello alice\n' "$FROM_LINE" | mbox alice
}
teardown() { teardown_world; }

# plain AUTHZID AUTHCID PASSWORD: the base64 of an RFC 4616 message.
plain() { printf '%s\0%s\0%s' "$1" "$2" "$3" | base64 -w0; }

LOGGED_IN=$'+OK maildrop has 1 messages (28 octets)\r'

# ---- USER / PASS ----

@test "RFC 1939 7: USER and PASS with the right password open the maildrop" {
	pop3 -d -- "USER alice" "PASS secret" "STAT" "QUIT" >"$WORLD/out" 2>"$WORLD/err"
	printf '+OK send PASS\r\n+OK maildrop has 1 messages (28 octets)\r\n+OK 1 28\r\n+OK bye, 0 messages deleted, 1 left\r\n' >"$WORLD/expected"
	after_greeting "$WORLD/out" >"$WORLD/actual"
	same_bytes "$WORLD/expected" "$WORLD/actual"
	grep -q 'login: user alice$' "$WORLD/err"
}

@test "RFC 3206: unknown user and wrong password get the same -ERR [AUTH] line; the log tells them apart" {
	run --separate-stderr pop3 -d -- "USER alice" "PASS wrong" "USER nobody-here" "PASS secret" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[4]}" = "$FAILED" ]
	[ "${lines[1]}" = "${lines[3]}" ] # USER says the same for both names
	[ "${lines[5]}" = $'+OK bye\r' ]
	grep -q 'login failed: user alice: bad password' <<<"$stderr"
	grep -q 'login failed: user nobody-here: unknown user' <<<"$stderr"
}

@test "RFC 1939 7: after a failed PASS the client may start again with USER" {
	run pop3 -- "USER alice" "PASS wrong" "USER alice" "PASS secret" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[4]}" = "$LOGGED_IN" ]
}

@test "RFC 1939 7: PASS without USER just before it is -ERR and logs nobody in" {
	run pop3 -- "PASS secret" "USER alice" "PASS wrong" "PASS secret" \
		"USER alice" "CAPA x" "PASS secret" "STAT" "QUIT"
	[ "${lines[1]}" = $'-ERR USER first\r' ]
	[ "${lines[3]}" = "$FAILED" ]
	[ "${lines[4]}" = $'-ERR USER first\r' ] # the failed PASS used the USER up
	[ "${lines[6]}" = $'-ERR no arguments expected\r' ]
	[ "${lines[7]}" = $'-ERR USER first\r' ] # PASS must come right after USER
	[ "${lines[8]}" = $'-ERR command not valid in this state\r' ]
	[ "${lines[9]}" = $'+OK bye\r' ]
}

@test "RFC 1939 7: the password is the rest of the line, spaces included" {
	add_user bob 'correct horse  battery staple '
	printf '%s\nSubject: b\n\nb\n' "$FROM_LINE" | mbox bob
	run pop3 -- "USER bob" "PASS correct horse  battery staple" "USER bob" \
		"PASS correct horse  battery staple " "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[4]}" = $'+OK maildrop has 1 messages (17 octets)\r' ]
}

@test "user names and passwords are case-sensitive" {
	run pop3 -- "USER ALICE" "PASS secret" "USER alice" "PASS SECRET" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[4]}" = "$FAILED" ]
}

@test "three failed logins and the connection is closed; nothing more is answered" {
	run pop3 -- "USER alice" "PASS one" "USER alice" "PASS two" "USER alice" "PASS three" \
		"USER alice" "PASS secret" "STAT"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[4]}" = "$FAILED" ]
	[ "${lines[6]}" = "$CLOSING" ]
	[ "${#lines[@]}" -eq 7 ]
}

@test "failed PASS and failed AUTH PLAIN count together toward the three" {
	run pop3 -- "USER alice" "PASS one" "AUTH PLAIN $(plain '' alice two)" "AUTH PLAIN !!!!" \
		"AUTH PLAIN $(plain '' alice secret)"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[3]}" = "$FAILED" ]
	[ "${lines[4]}" = "$CLOSING" ]
	[ "${#lines[@]}" -eq 5 ]
}

@test "each failed login waits --fail-delay before its answer; a good one does not" {
	local start end
	start=$(date +%s%N)
	run pop3 --fail-delay=2 -- "USER alice" "PASS wrong" "QUIT"
	end=$(date +%s%N)
	[ "${lines[2]}" = "$FAILED" ]
	[ $(((end - start) / 1000000)) -ge 2000 ]
	start=$(date +%s%N)
	run pop3 --fail-delay=2 -- "USER alice" "PASS secret" "QUIT"
	end=$(date +%s%N)
	[ "${lines[2]}" = "$LOGGED_IN" ]
	[ $(((end - start) / 1000000)) -lt 2000 ]
}

@test "invalid user names are refused like a failed login, and logged as invalid" {
	# Even with a passwd line and the right password: these names would
	# be paths outside the spool, hidden files, or ambiguous in logs.
	add_user .alice secret
	add_user 'a/b' secret
	run --separate-stderr pop3 -d -- "USER .alice" "PASS secret" "USER ../spool/alice" "PASS secret" \
		"USER a/b" "PASS secret"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[4]}" = "$FAILED" ]
	[ "${lines[6]}" = "$CLOSING" ]
	[ "$(grep -c 'invalid user name' <<<"$stderr")" -eq 3 ]
	# a name with a space (USER takes the rest of the line)
	run --separate-stderr pop3 -d -- "USER alice x" "PASS secret" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	grep -q 'login failed: user alice x: invalid user name' <<<"$stderr"
}

@test "an empty name (\"USER \") is answered like any name, then refused like a failed login and logged" {
	# A bare "USER" has no argument (RFC 1939 7: required) and stays a
	# syntax error; "USER " names the empty user, an invalid name.
	run --separate-stderr pop3 -d -- "USER " "PASS secret" "USER" "QUIT"
	[ "${lines[1]}" = $'+OK send PASS\r' ]
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[3]}" = $'-ERR argument required\r' ]
	grep -q 'login failed: user : invalid user name' <<<"$stderr"
	run pop3 -- "USER " "PASS a" "USER " "PASS b" "USER " "PASS c" "QUIT"
	[ "${lines[6]}" = "$CLOSING" ]
}

@test "e-mail addresses are user names; their maildrop is SPOOL/<address>" {
	add_user john@example.com pw
	printf '%s\nSubject: j\n\nfor john\n' "$FROM_LINE" | mbox john@example.com
	run pop3 -- "USER john@example.com" "PASS pw" "RETR 1" "QUIT"
	[ "${lines[2]}" = $'+OK maildrop has 1 messages (24 octets)\r' ]
	[ "${lines[6]}" = $'for john\r' ]
}

# ---- the passwd file ----

@test "crypt(3) hashes: SHA-512, SHA-256, yescrypt, bcrypt, MD5, and the {CRYPT} prefix" {
	add_user_hash u6 "$(openssl passwd -6 pw6)"
	add_user_hash u5 "$(openssl passwd -5 pw5)"
	add_user_hash uy "$(mkpasswd -m yescrypt pwy)"
	add_user_hash ub "$(mkpasswd -m bcrypt pwb)"
	add_user_hash u1 "$(openssl passwd -1 pw1)"
	add_user_hash uc "{CRYPT}$(openssl passwd -6 pwc)"
	local u
	for u in 6 5 y b 1 c; do
		run pop3 -- "USER u$u" "PASS pw$u" "QUIT"
		[ "${lines[2]}" = $'+OK maildrop has 0 messages (0 octets)\r' ] || { echo "u$u: ${lines[2]}"; false; }
		run pop3 -- "USER u$u" "PASS pwx" "QUIT"
		[ "${lines[2]}" = "$FAILED" ] || { echo "u$u wrong: ${lines[2]}"; false; }
	done
}

@test "passwd file comments, blank lines and CRLF line ends" {
	local h
	h=$(openssl passwd -6 pw)
	{
		printf '# virtual users\n\n'
		if is_root; then
			printf '#carol:%s:%s:%s\n' "$h" "$FIXTURE_UID" "$FIXTURE_GID"
			printf 'dave:%s:%s:%s\r\n' "$h" "$FIXTURE_UID" "$FIXTURE_GID"
		else
			printf '#carol:%s\n' "$h"
			printf 'dave:%s\r\n' "$h"
		fi
	} >>"$PASSWD"
	run pop3 -- "USER #carol" "PASS pw" "USER carol" "PASS pw" "USER dave" "PASS pw" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[4]}" = "$FAILED" ]
	[ "${lines[6]}" = $'+OK maildrop has 0 messages (0 octets)\r' ]
}

@test "locked and empty hashes never match" {
	add_user_hash locked '!'"$(openssl passwd -6 pw)"
	add_user_hash star '*'
	add_user_hash empty ''
	run pop3 -- "USER locked" "PASS pw" "USER star" "PASS *" "USER empty" "PASS "
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[4]}" = "$FAILED" ]
	[ "${lines[6]}" != "$LOGGED_IN" ]
	[[ "${lines[6]}" == -ERR* ]]
}

# ---- what a failed lookup costs (timing must reveal nothing) ----

# spied LINE...: a session under tests/tools/crypt-spy.c, built once for
# this file; $WORLD/crypt.log then holds the setting of each crypt_r call.
spied() {
	local spy=$BATS_FILE_TMPDIR/crypt-spy.so
	[ -e "$spy" ] || cc -shared -fPIC -o "$spy" "$REPO/tests/tools/crypt-spy.c" -ldl
	: >"$WORLD/crypt.log"
	# A sanitized build's runtime would refuse a library loaded before it.
	CRYPT_SPY_LOG="$WORLD/crypt.log" LD_PRELOAD="$spy" \
		ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 pop3 "$@" >/dev/null || true
}

# methods_used: each crypt_r setting of the last spied session cut to its
# method and cost ("$6$rounds=7000", "$y$jAT"), one a line.
methods_used() { cut -d'$' -f1-3 "$WORLD/crypt.log"; }

@test "unknown and invalid names are hashed with the passwd file's method and cost" {
	# Not a timing test (bench/timing-logins measures): it checks that the
	# stand-in hash is the kind the file's users have, so it costs the same.
	local h method
	for h in "$(mkpasswd -m sha-512 -R 7000 pw)" "$(mkpasswd -m yescrypt -R 6 pw)"; do
		method=$(cut -d'$' -f1-3 <<<"$h")
		: >"$PASSWD"
		add_user_hash locked "!$h" # locked (usermod -L): still names its method
		add_user_hash carol "$h"
		spied -- "USER nosuch" "PASS x" "USER .hidden" "PASS x" "AUTH PLAIN $(plain '' '' x)"
		[ "$(wc -l <"$WORLD/crypt.log")" -eq 3 ]
		[ "$(methods_used | sort -u)" = "$method" ] || { methods_used; false; }
		spied -- "USER locked" "PASS x" "USER carol" "PASS x" "USER carol" "PASS pw" "QUIT"
		[ "$(methods_used | sort -u)" = "$method" ] || { methods_used; false; }
	done
}

@test "as root, a virtual user without uid:gid is refused" {
	is_root || skip "needs root: without it the line is served as the invoking user"
	printf 'nouid:%s\n' "$(openssl passwd -6 pw)" >>"$PASSWD"
	run --separate-stderr pop3 -d -- "USER nouid" "PASS pw" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	grep -q 'login failed: user nouid: account not usable' <<<"$stderr"
}

@test "as root, a login that would serve as uid 0 is refused" {
	is_root || skip "needs root"
	printf 'toor:%s:0:0\n' "$(openssl passwd -6 pw)" >>"$PASSWD"
	run --separate-stderr pop3 -d -- "USER toor" "PASS pw" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	grep -q 'uid 0' <<<"$stderr"
}

@test "as root, a login that would serve as the pre-login account's uid is refused" {
	is_root || skip "needs root: without it there is no pre-login account"
	# A compromised pre-login process (nobody by default) must not be
	# able to reach anyone's mail: no user may be served with its uid.
	local nobody_ids daemon_ids h
	nobody_ids=$(id -u nobody):$(id -g nobody)
	h=$(openssl passwd -6 pw)
	printf 'asnobody:%s:%s\n' "$h" "$nobody_ids" >>"$PASSWD"
	run --separate-stderr pop3 -d -- "USER asnobody" "PASS pw" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	grep -q 'login failed: user asnobody: account not usable' <<<"$stderr"
	grep -q "user asnobody: would serve as uid $(id -u nobody), the pre-login account's; refused" <<<"$stderr"
	# ... and whichever account --prelogin-user names.
	daemon_ids=$(id -u daemon):$(id -g daemon) || skip "no daemon account here"
	printf 'asdaemon:%s:%s\n' "$h" "$daemon_ids" >>"$PASSWD"
	run --separate-stderr pop3 -d --prelogin-user=daemon -- "USER asdaemon" "PASS pw" \
		"USER asnobody" "PASS pw" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	grep -q 'login failed: user asdaemon: account not usable' <<<"$stderr"
	[ "${lines[4]}" = $'+OK maildrop has 0 messages (0 octets)\r' ]
}

@test "without a passwd file, system accounts log in (passwd + shadow, uid 0 refused)" {
	is_root || skip "needs root (to read shadow, and to stand in a test passwd/shadow)"
	unshare -m true 2>/dev/null || skip "no private mount namespace here (unshare -m)"
	# A private mount namespace shows the session a passwd and shadow of
	# our own; the machine's files are never touched.
	grep -E '^(root|nobody):' /etc/passwd >"$WORLD/etc-passwd"
	printf 'sysuser:x:%s:%s:Sys User:/nonexistent:/usr/sbin/nologin\n' "$FIXTURE_UID" "$FIXTURE_GID" >>"$WORLD/etc-passwd"
	{
		printf 'root:%s:19000:0:99999:7:::\n' "$(openssl passwd -6 rootpw)"
		printf 'nobody:*:19000:0:99999:7:::\n'
		printf 'sysuser:%s:19000:0:99999:7:::\n' "$(openssl passwd -6 syspw)"
	} >"$WORLD/etc-shadow"
	chmod 600 "$WORLD/etc-shadow"
	printf '%s\nSubject: s\n\nfor sysuser\n' "$FROM_LINE" | mbox sysuser
	printf 'USER sysuser\r\nPASS wrong\r\nUSER root\r\nPASS rootpw\r\nUSER sysuser\r\nPASS syspw\r\nRETR 1\r\nQUIT\r\n' >"$WORLD/in"
	local status=0
	unshare -m sh -c '{ mount --bind "$1/etc-passwd" /etc/passwd &&
		mount --bind "$1/etc-shadow" /etc/shadow; } || exit 99
		exec "$2" -d --spool="$1/spool" --state-dir="$1/state" --blocklist="$1/blocked-users" \
			--fail-delay=0 <"$1/in"' sh "$WORLD" "$POP3" >"$WORLD/out" 2>"$WORLD/err" || status=$?
	[ "$status" -ne 99 ] || skip "cannot bind-mount in a private namespace here"
	[ "$status" -eq 0 ]
	printf '+OK send PASS\r\n-ERR [AUTH] authentication failed\r\n+OK send PASS\r\n-ERR [AUTH] authentication failed\r\n+OK send PASS\r\n+OK maildrop has 1 messages (27 octets)\r\n+OK 27 octets\r\nSubject: s\r\n\r\nfor sysuser\r\n.\r\n+OK bye, 0 messages deleted, 1 left\r\n' >"$WORLD/expected"
	after_greeting "$WORLD/out" >"$WORLD/actual"
	same_bytes "$WORLD/expected" "$WORLD/actual"
	grep -q 'login failed: user sysuser: bad password' "$WORLD/err"
	grep -q 'login failed: user root: account not usable' "$WORLD/err"
}

@test "an unknown or invalid system account is hashed like the first shadow entry that has a password" {
	is_root || skip "needs root (to read shadow, and to stand in a test passwd/shadow)"
	unshare -m true 2>/dev/null || skip "no private mount namespace here (unshare -m)"
	local h
	h=$(mkpasswd -m sha-512 -R 7000 syspw)
	grep -E '^(root|nobody):' /etc/passwd >"$WORLD/etc-passwd"
	printf 'sysuser:x:%s:%s::/nonexistent:/usr/sbin/nologin\n' "$FIXTURE_UID" "$FIXTURE_GID" >>"$WORLD/etc-passwd"
	# root and nobody have no password: the first that does is sysuser's.
	printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\nsysuser:%s:19000:0:99999:7:::\n' \
		"$h" >"$WORLD/etc-shadow"
	chmod 600 "$WORLD/etc-shadow"
	printf 'USER ghost\r\nPASS x\r\nUSER nobody\r\nPASS x\r\nUSER .x\r\nPASS x\r\n' >"$WORLD/in"
	spied_system() {
		unshare -m sh -c '{ mount --bind "$1/etc-passwd" /etc/passwd &&
			mount --bind "$1/etc-shadow" /etc/shadow; } || exit 99
			exec "$2" -d --spool="$1/spool" --state-dir="$1/state" --blocklist="$1/blocked-users" \
				--fail-delay=0 <"$1/in"' sh "$WORLD" "$POP3"
	}
	local spy=$BATS_FILE_TMPDIR/crypt-spy.so status=0
	[ -e "$spy" ] || cc -shared -fPIC -o "$spy" "$REPO/tests/tools/crypt-spy.c" -ldl
	: >"$WORLD/crypt.log"
	CRYPT_SPY_LOG="$WORLD/crypt.log" LD_PRELOAD="$spy" ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 \
		spied_system >"$WORLD/out" 2>"$WORLD/err" || status=$?
	[ "$status" -ne 99 ] || skip "cannot bind-mount in a private namespace here"
	grep -q 'login failed: user ghost: unknown user' "$WORLD/err"
	grep -q 'login failed: user nobody: bad password' "$WORLD/err"
	grep -q 'login failed: user .x: invalid user name' "$WORLD/err"
	[ "$(grep -c -- '-ERR \[AUTH\] authentication failed' "$WORLD/out")" -eq 3 ]
	[ "$(wc -l <"$WORLD/crypt.log")" -eq 3 ]
	[ "$(methods_used | sort -u)" = '$6$rounds=7000' ] || { methods_used; false; }
}

# ---- AUTH PLAIN ----

@test "RFC 5034 4: AUTH PLAIN with an initial response" {
	run pop3 -- "AUTH PLAIN $(plain '' alice secret)" "STAT" "QUIT"
	[ "${lines[1]}" = "$LOGGED_IN" ]
	[ "${lines[2]}" = $'+OK 1 28\r' ]
}

@test "RFC 5034 4: AUTH PLAIN without an initial response: empty challenge, then the response" {
	pop3 -- "AUTH PLAIN" "$(plain '' alice secret)" "STAT" "QUIT" >"$WORLD/out"
	printf '+ \r\n+OK maildrop has 1 messages (28 octets)\r\n+OK 1 28\r\n+OK bye, 0 messages deleted, 1 left\r\n' >"$WORLD/expected"
	after_greeting "$WORLD/out" >"$WORLD/actual"
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

@test "RFC 5034 4: the mechanism name is case-insensitive" {
	run pop3 -- "auth plain $(plain '' alice secret)" "QUIT"
	[ "${lines[1]}" = "$LOGGED_IN" ]
}

@test "RFC 5034 4: '*' cancels the exchange with -ERR, is no failed login, and the client may log in after" {
	# A cancel carries no credentials, so it is no guess to count: RFC
	# 5034 4 asks only for -ERR, and the idle timeout bounds the session.
	run --separate-stderr pop3 -d -- "AUTH PLAIN" "*" "AUTH PLAIN" "*" "AUTH PLAIN" "*" "AUTH PLAIN" \
		"$(plain '' alice secret)" "QUIT"
	[ "${lines[1]}" = $'+ \r' ]
	[ "${lines[2]}" = $'-ERR authentication cancelled\r' ]
	[ "${lines[6]}" = $'-ERR authentication cancelled\r' ]
	[ "${lines[8]}" = "$LOGGED_IN" ]
	refute grep -q 'login failed' <<<"$stderr"
}

# malformed_plain LINE...: one session, AUTH PLAIN with each LINE as its
# response on the command line, then QUIT; each must be answered as a
# failed login and logged as a malformed response.
malformed_plain() {
	local r args=()
	for r in "$@"; do args+=("AUTH PLAIN $r"); done
	run --separate-stderr pop3 -d -- "${args[@]}" "QUIT"
	local i
	for i in $(seq 1 $#); do
		[ "${lines[$i]}" = "$FAILED" ] || { echo "response $i: ${lines[$i]}"; return 1; }
	done
	[ "${lines[$(($# + 1))]}" = $'+OK bye\r' ]
	[ "$(grep -c 'login failed: user (no name): invalid AUTH PLAIN response' <<<"$stderr")" -eq $# ]
}

@test "'=' is an empty response, no valid PLAIN message: a failed login, logged" {
	malformed_plain =
	run --separate-stderr pop3 -d -- "AUTH PLAIN" "=" "QUIT"
	[ "${lines[1]}" = $'+ \r' ]
	[ "${lines[2]}" = "$FAILED" ]
	grep -q 'login failed: user (no name): invalid AUTH PLAIN response' <<<"$stderr"
}

@test "RFC 4648: bad base64 (bad characters, length, padding) is a failed login, logged" {
	malformed_plain '!!!!' 'YWxp'
	malformed_plain 'YWxpY2U' 'YW=x'
	malformed_plain 'AGFsaWNlAHNlY3JldA==='
	run pop3 -- "AUTH PLAIN" "not base64 at all" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
}

@test "RFC 4616: authzid must be empty or equal to authcid" {
	run pop3 -- "AUTH PLAIN $(plain bob alice secret)" "AUTH PLAIN $(plain alice alice secret)" "QUIT"
	[ "${lines[1]}" = "$FAILED" ]
	[ "${lines[2]}" = "$LOGGED_IN" ]
	malformed_plain "$(plain bob alice secret)"
}

@test "RFC 4616: a message without two NULs, or with three, is a failed login" {
	malformed_plain "$(printf 'alice:secret' | base64)" "$(printf '\0alice\0secret\0' | base64)"
}

@test "malformed AUTH PLAIN responses count toward the three failures" {
	run pop3 -- "AUTH PLAIN =" "AUTH PLAIN !!!!" "AUTH PLAIN $(plain bob alice secret)" \
		"AUTH PLAIN $(plain '' alice secret)"
	[ "${lines[1]}" = "$FAILED" ]
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[3]}" = "$CLOSING" ]
	[ "${#lines[@]}" -eq 4 ]
}

@test "a malformed AUTH PLAIN response waits --fail-delay like a wrong password" {
	# A lower bound only: the pause is there; how long crypt takes is
	# bench/timing-logins' business, not a test's.
	local start end
	start=$(date +%s%N)
	run pop3 --fail-delay=1 -- "AUTH PLAIN =" "AUTH PLAIN" "!!!!" "QUIT"
	end=$(date +%s%N)
	[ "${lines[1]}" = "$FAILED" ]
	[ "${lines[3]}" = "$FAILED" ]
	[ $(((end - start) / 1000000)) -ge 2000 ]
}

@test "RFC 4616: a wrong password through AUTH PLAIN is the same -ERR [AUTH] as through PASS" {
	run --separate-stderr pop3 -d -- "AUTH PLAIN $(plain '' alice wrong)" "QUIT"
	[ "${lines[1]}" = "$FAILED" ]
	grep -q 'login failed: user alice: bad password' <<<"$stderr"
}

@test "RFC 4616: control characters in the decoded name are refused, not cut" {
	run --separate-stderr pop3 -d -- "AUTH PLAIN $(plain '' $'alice\n' secret)" \
		"AUTH PLAIN $(printf '\0alice\r\0secret' | base64)" "QUIT"
	[ "${lines[1]}" = "$FAILED" ]
	[ "${lines[2]}" = "$FAILED" ]
	[ "$(grep -c 'invalid user name' <<<"$stderr")" -eq 2 ]
}

@test "RFC 5034 4: a response line longer than 255 octets is accepted after the challenge" {
	local pw
	pw=$(printf 'p%.0s' $(seq 250))
	add_user bob "$pw"
	local b
	b=$(plain '' bob "$pw")
	[ "${#b}" -gt 255 ]
	run pop3 -- "AUTH PLAIN" "$b" "QUIT"
	[ "${lines[2]}" = $'+OK maildrop has 0 messages (0 octets)\r' ]
}

@test "RFC 5034 4: an over-long response line gets one -ERR, is not parsed, and the session goes on" {
	local junk
	junk=$(head -c 6000 /dev/zero | tr '\0' 'A')
	run --separate-stderr pop3 -d -- "AUTH PLAIN" "$junk$(plain '' alice secret)" \
		"AUTH PLAIN $(plain '' alice secret)" "QUIT"
	[ "${lines[1]}" = $'+ \r' ]
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[3]}" = "$LOGGED_IN" ]
	[ "${#lines[@]}" -eq 5 ]
	grep -q 'login failed: user (no name): AUTH response too long' <<<"$stderr"
}

@test "over-long AUTH PLAIN response lines are failed logins: three and the connection closes" {
	local junk
	junk=$(head -c 2000 /dev/zero | tr '\0' 'A')
	run pop3 -- "AUTH PLAIN" "$junk" "AUTH PLAIN" "$junk" "AUTH PLAIN" "$junk" \
		"AUTH PLAIN $(plain '' alice secret)"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[4]}" = "$FAILED" ]
	[ "${lines[6]}" = "$CLOSING" ]
	[ "${#lines[@]}" -eq 7 ]
}

@test "RFC 4616: a name longer than 255 octets in AUTH PLAIN is a failed login" {
	local name
	name=$(printf 'n%.0s' $(seq 256))
	run --separate-stderr pop3 -d -- "AUTH PLAIN" "$(plain '' "$name" secret)" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[3]}" = $'+OK bye\r' ]
	grep -q 'login failed: user (no name): invalid AUTH PLAIN response' <<<"$stderr"
}

@test "RFC 5034 4: AUTH with no argument lists the mechanisms; others are refused" {
	pop3 -- "AUTH" "AUTH LOGIN" "AUTH CRAM-MD5" "AUTH PLAINX $(plain '' alice secret)" "QUIT" >"$WORLD/out"
	printf '+OK supported mechanisms follow\r\nPLAIN\r\n.\r\n-ERR unsupported authentication mechanism\r\n-ERR unsupported authentication mechanism\r\n-ERR unsupported authentication mechanism\r\n+OK bye\r\n' >"$WORLD/expected"
	after_greeting "$WORLD/out" >"$WORLD/actual"
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

# ---- the debug trace ----

@test "--debug traces both directions but never the password or the AUTH PLAIN data" {
	local pw='Tr0ub4dor&3-horse'
	add_user carol "$pw"
	local b1 b2
	b1=$(plain '' carol "$pw")
	b2=$(plain carol carol "$pw")
	pop3 -d -- "USER carol" "PASS wrong-$pw" "user carol" "pass $pw" "QUIT" >/dev/null 2>"$WORLD/err1"
	pop3 -d -- "AUTH PLAIN $b1" "QUIT" >/dev/null 2>"$WORLD/err2"
	pop3 -d -- "AUTH PLAIN" "$b2" "QUIT" >/dev/null 2>"$WORLD/err3"
	cat "$WORLD/err1" "$WORLD/err2" "$WORLD/err3" >"$WORLD/err"
	# the trace is there ...
	grep -qx 'C: USER carol' "$WORLD/err"
	grep -qx 'S: +OK send PASS' "$WORLD/err"
	grep -qx 'C: PASS \*\*\*\*\*\*\*\*' "$WORLD/err"
	# AUTH keeps the mechanism the client chose; its data is masked, on
	# the command line and on a continuation line alike
	grep -qx 'C: AUTH PLAIN \*\*\*\*\*\*\*\*' "$WORLD/err2"
	grep -qx 'C: AUTH PLAIN' "$WORLD/err3"
	grep -qx 'C: \*\*\*\*\*\*\*\*' "$WORLD/err3"
	grep -q 'login: user carol' "$WORLD/err"
	# ... the secrets are not, not even in part
	refute grep -F -e "$pw" -e "$b1" -e "$b2" -e "${b1:0:12}" -e "${b2:4:12}" -e 'Tr0ub' "$WORLD/err"
}

@test "--debug shows no AUTH argument but a supported mechanism, so credentials sent in its place stay hidden" {
	local pw='Sekr1t-Mechanism' b
	add_user carol "$pw"
	b=$(plain '' carol "$pw")
	pop3 -d -- "AUTH $b" "AUTH X-$pw" "auth plain $b" "QUIT" >"$WORLD/out" 2>"$WORLD/err"
	[ "$(grep -cx 'C: AUTH \*\*\*\*\*\*\*\*' "$WORLD/err")" -eq 2 ]
	grep -qx 'C: AUTH plain \*\*\*\*\*\*\*\*' "$WORLD/err"
	grep -q 'login: user carol' "$WORLD/err"
	refute grep -F -e "$pw" -e "$b" -e "${b:0:12}" "$WORLD/err"
}

@test "--debug does not show a password on a malformed PASS line either" {
	local pw='Sekr1t-Malformed'
	pop3 -d -- "PASS $pw" $'PASS\t'"$pw" " PASS $pw" "PASS $pw"$'\x01' "QUIT" >/dev/null 2>"$WORLD/err" || true
	grep -q 'C: ' "$WORLD/err"
	refute grep -F "$pw" "$WORLD/err"
}
