#!/usr/bin/env bats
# The POP3 dialogue itself (RFC 1939, RFC 2449; doc/protocol.md "Lines on
# the wire", "Numbers", "States and commands", "Messages during a session",
# "CAPA and response codes"): every command in the state it belongs to and
# in the wrong one, the parsing rules, pipelining.

load helpers

FROM_LINE='From sender@example.org Mon Nov 23 10:00:00 2026'

# Three messages of 26, 26 and 30 octets as sent (82 in all).
three_messages() {
	printf '%s\nSubject: one\n\nbody one\n\n' "$FROM_LINE"
	printf '%s\nSubject: two\n\nbody two\n\n' "$FROM_LINE"
	printf '%s\nSubject: three\n\nbody three\n' "$FROM_LINE"
}

setup_file() { SECRET_HASH=$(openssl passwd -6 secret); export SECRET_HASH; }

setup() {
	setup_world
	add_user_hash alice "$SECRET_HASH"
	three_messages | mbox alice
	cp "$SPOOL/alice" "$WORLD/mbox.orig"
}
teardown() { teardown_world; }

unchanged() { same_bytes "$WORLD/mbox.orig" "$SPOOL/alice"; }

LOGIN_REPLIES=('+OK send PASS' '+OK maildrop has 3 messages (82 octets)')

# ---- the greeting ----

@test "RFC 1939 4: the greeting is one +OK line with the host name and no APOP timestamp" {
	pop3 -- "QUIT" >"$WORLD/raw"
	head -n 1 "$WORLD/raw" >"$WORLD/greeting"
	[[ "$(cat "$WORLD/greeting")" =~ $greeting_re ]]
	refute grep -q '<' "$WORLD/greeting"
	after_greeting "$WORLD/raw" >"$WORLD/actual"
	expect '+OK bye'
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

# ---- AUTHORIZATION ----

@test "RFC 1939 4: TRANSACTION commands in AUTHORIZATION are -ERR and the state does not change" {
	session "$WORLD/actual" "STAT" "LIST" "LIST 1" "RETR 1" "DELE 1" "NOOP" "RSET" \
		"TOP 1 0" "UIDL" "UIDL 1" "USER alice" "PASS secret" "STAT" "QUIT"
	local e='-ERR command not valid in this state'
	expect "$e" "$e" "$e" "$e" "$e" "$e" "$e" "$e" "$e" "$e" \
		"${LOGIN_REPLIES[@]}" '+OK 3 82' '+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
	unchanged
}

@test "RFC 2449 5: CAPA in AUTHORIZATION lists the login mechanisms and what TRANSACTION offers" {
	# TOP and UIDL are listed before login too: clients (fetchmail, curl)
	# ask CAPA before logging in to plan the session.
	session "$WORLD/actual" "CAPA" "QUIT"
	expect '+OK capability list follows' TOP UIDL USER 'SASL PLAIN' RESP-CODES \
		AUTH-RESP-CODE PIPELINING 'IMPLEMENTATION pop3-stdio' . '+OK bye'
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

@test "RFC 2449 5: CAPA in TRANSACTION no longer lists USER, SASL or AUTH-RESP-CODE" {
	session "$WORLD/actual" "USER alice" "PASS secret" "CAPA" "QUIT"
	expect "${LOGIN_REPLIES[@]}" '+OK capability list follows' TOP UIDL RESP-CODES \
		PIPELINING 'IMPLEMENTATION pop3-stdio' . '+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

@test "RFC 1939: an unknown command is -ERR in both states, and the session goes on" {
	session "$WORLD/actual" "XTND" "APOP alice 0123456789abcdef0123456789abcdef" "" \
		"USER alice" "PASS secret" "XTND" "STLS" "" "STAT" "QUIT"
	local e='-ERR unknown command'
	expect "$e" "$e" "$e" "${LOGIN_REPLIES[@]}" "$e" "$e" "$e" '+OK 3 82' \
		'+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

# ---- TRANSACTION ----

@test "RFC 1939 5: AUTHORIZATION commands in TRANSACTION are -ERR, the state and the user stay" {
	add_user bob bobpw
	printf '%s\nSubject: bob\n\nbob only\n' "$FROM_LINE" | mbox bob
	session "$WORLD/actual" "USER alice" "PASS secret" "USER bob" "PASS bobpw" "AUTH" \
		"AUTH PLAIN $(printf '\0bob\0bobpw' | base64)" "PASS secret" "STAT" "QUIT"
	local e='-ERR command not valid in this state'
	# Four refused login commands do not count as failed logins either.
	expect "${LOGIN_REPLIES[@]}" "$e" "$e" "$e" "$e" "$e" '+OK 3 82' \
		'+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

@test "RFC 1939 5: STAT, LIST, LIST n, NOOP, RETR, RSET and QUIT in TRANSACTION" {
	session "$WORLD/actual" "USER alice" "PASS secret" "STAT" "LIST" "LIST 3" "NOOP" \
		"RETR 2" "RSET" "QUIT"
	expect "${LOGIN_REPLIES[@]}" '+OK 3 82' '+OK 3 messages (82 octets)' '1 26' '2 26' \
		'3 30' . '+OK 3 30' '+OK nothing done' '+OK 26 octets' 'Subject: two' '' \
		'body two' . '+OK maildrop has 3 messages (82 octets)' \
		'+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
	unchanged
}

@test "RFC 1939 7: UIDL and UIDL n agree, one line per message" {
	session "$WORLD/actual" "USER alice" "PASS secret" "UIDL" "UIDL 1" "UIDL 2" "UIDL 3" "QUIT"
	mapfile -t got < <(tr -d '\r' <"$WORLD/actual")
	[ "${got[2]}" = '+OK unique-id listing follows' ]
	[ "${got[6]}" = . ]
	[ "${got[7]}" = "+OK ${got[3]}" ]
	[ "${got[8]}" = "+OK ${got[4]}" ]
	[ "${got[9]}" = "+OK ${got[5]}" ]
	[[ "${got[3]}" =~ ^1\ [!-~]{1,70}$ ]]
	[[ "${got[4]}" =~ ^2\ [!-~]{1,70}$ ]]
	[[ "${got[5]}" =~ ^3\ [!-~]{1,70}$ ]]
	[ "${got[10]}" = '+OK bye, 0 messages deleted, 3 left' ]
}

@test "RFC 1939 5: a deleted message is -ERR for LIST, RETR, TOP, UIDL, DELE; numbers stay; RSET restores" {
	session "$WORLD/ids" "USER alice" "PASS secret" "UIDL 1" "UIDL 3" "QUIT"
	local id1 id3
	id1=$(sed -n 3p "$WORLD/ids" | tr -d '\r')
	id3=$(sed -n 4p "$WORLD/ids" | tr -d '\r')
	session "$WORLD/actual" "USER alice" "PASS secret" "DELE 2" "LIST 2" "RETR 2" "TOP 2 0" \
		"UIDL 2" "DELE 2" "STAT" "LIST" "UIDL" "LIST 3" "RETR 3" "RSET" "LIST 2" "STAT" "QUIT"
	local gone='-ERR message already deleted'
	expect "${LOGIN_REPLIES[@]}" '+OK message 2 deleted' "$gone" "$gone" "$gone" "$gone" "$gone" \
		'+OK 2 56' '+OK 2 messages (56 octets)' '1 26' '3 30' . \
		'+OK unique-id listing follows' "${id1#+OK }" "${id3#+OK }" . '+OK 3 30' \
		'+OK 30 octets' 'Subject: three' '' 'body three' . \
		'+OK maildrop has 3 messages (82 octets)' '+OK 2 26' '+OK 3 82' \
		'+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
	unchanged
}

@test "RFC 1939 6: QUIT after DELE reports what was deleted and what is left" {
	session "$WORLD/actual" "USER alice" "PASS secret" "DELE 3" "DELE 1" "QUIT"
	expect "${LOGIN_REPLIES[@]}" '+OK message 3 deleted' '+OK message 1 deleted' \
		'+OK bye, 2 messages deleted, 1 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
	printf '%s\nSubject: two\n\nbody two\n' "$FROM_LINE" >"$WORLD/left"
	printf '%s\nSubject: two\n\nbody two\n\n' "$FROM_LINE" >"$WORLD/left2"
	cmp -s "$WORLD/left" "$SPOOL/alice" || same_bytes "$WORLD/left2" "$SPOOL/alice"
}

@test "RFC 1939: commands that take no argument refuse one; required arguments are required" {
	session "$WORLD/actual" "QUIT now" "CAPA x" "USER" "PASS" "USER alice" "PASS secret" \
		"STAT 1" "NOOP x" "RSET x" "QUIT x" "RETR" "DELE" "TOP" "LIST 1 2" "UIDL 1 2" \
		"CAPA x" "STAT" "QUIT"
	local none='-ERR no arguments expected' num='-ERR message number required'
	local bad='-ERR invalid message number'
	expect "$none" "$none" '-ERR argument required' '-ERR argument required' \
		"${LOGIN_REPLIES[@]}" "$none" "$none" "$none" "$none" "$num" "$num" \
		'-ERR TOP needs a message number and a line count' "$bad" "$bad" "$none" \
		'+OK 3 82' '+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
	unchanged
}

# ---- parsing rules ----

@test "numbers: message numbers 0, -1, +1, 1x, 2^32+1, 2^64+1 and 20 nines are -ERR for every command" {
	local cmds=() n c
	for c in LIST RETR DELE UIDL TOP; do
		for n in 0 -1 +1 1x x1 ' 1' 1.0 0x1 4 4294967297 18446744073709551617 99999999999999999999; do
			if [ "$c" = TOP ]; then cmds+=("TOP $n 0"); else cmds+=("$c $n"); fi
		done
	done
	session "$WORLD/actual" "USER alice" "PASS secret" "${cmds[@]}" "STAT" "QUIT"
	# One answer each, every one an error: no message listed, sent or
	# deleted (2^32+1 and 2^64+1 must not wrap around to message 1).
	mapfile -t got < <(tr -d '\r' <"$WORLD/actual")
	[ "${#got[@]}" -eq $((${#cmds[@]} + 4)) ]
	local i
	for i in "${!cmds[@]}"; do
		[[ "${got[$((i + 2))]}" == -ERR\ * ]] || { echo "${cmds[$i]} -> ${got[$((i + 2))]}"; false; }
	done
	[ "${got[-2]}" = '+OK 3 82' ]
	[ "${got[-1]}" = '+OK bye, 0 messages deleted, 3 left' ]
	unchanged
}

@test "numbers: values too large for 32 or 64 bits are errors, never wrapped or truncated" {
	# The exact answers: 2^32+1 is a well-formed number with no such
	# message; 2^64, 2^64+1 and 20 nines do not fit 64 bits and are
	# refused as numbers (never reduced modulo 2^64 to 0 or 1).
	session "$WORLD/actual" "USER alice" "PASS secret" "RETR 4294967297" "DELE 18446744073709551617" \
		"LIST 99999999999999999999" "UIDL 18446744073709551616" "TOP 4294967297 0" "STAT" "QUIT"
	expect "${LOGIN_REPLIES[@]}" '-ERR no such message' '-ERR invalid message number' \
		'-ERR invalid message number' '-ERR invalid message number' '-ERR no such message' \
		'+OK 3 82' '+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
	unchanged
}

@test "RFC 1939 7: TOP needs a message number and a non-negative decimal line count" {
	session "$WORLD/actual" "USER alice" "PASS secret" "TOP" "TOP 1" "TOP 1 -1" "TOP 1 +1" \
		"TOP 1 1x" "TOP 1  1" "TOP 1 1 1" "TOP 1 99999999999999999999" "TOP 0 1" "TOP x 1" \
		"TOP 1 0" "QUIT"
	local k='-ERR invalid line count' need='-ERR TOP needs a message number and a line count'
	expect "${LOGIN_REPLIES[@]}" "$need" "$need" "$k" "$k" "$k" "$k" "$k" "$k" \
		'-ERR no such message' '-ERR invalid message number' \
		'+OK top of message follows' 'Subject: one' '' . '+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

@test "numbers: leading zeros are still decimal digits (LIST 003 is message 3)" {
	# RFC 1939 asks for a decimal number; 003 is one.  Refusing it would
	# gain nothing, and the 255-octet line limit bounds the zeros.
	session "$WORLD/actual" "USER alice" "PASS secret" "LIST 003" "RETR 0001" "QUIT"
	expect "${LOGIN_REPLIES[@]}" '+OK 3 30' '+OK 26 octets' 'Subject: one' '' 'body one' . \
		'+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

@test "RFC 1939 3: keywords are case-insensitive" {
	session "$WORLD/actual" "capa" "user alice" "pAsS secret" "stat" "List 1" "rEtR 1" \
		"top 1 0" "uidl 9" "dele 1" "Rset" "noop" "Quit"
	mapfile -t got < <(tr -d '\r' <"$WORLD/actual")
	expect '+OK capability list follows' TOP UIDL USER 'SASL PLAIN' RESP-CODES \
		AUTH-RESP-CODE PIPELINING 'IMPLEMENTATION pop3-stdio' . \
		"${LOGIN_REPLIES[@]}" '+OK 3 82' '+OK 1 26' '+OK 26 octets' 'Subject: one' '' \
		'body one' . '+OK top of message follows' 'Subject: one' '' . '-ERR no such message' \
		'+OK message 1 deleted' '+OK maildrop has 3 messages (82 octets)' '+OK nothing done' \
		'+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
	unchanged
}

@test "lines on the wire: bare LF from the client is accepted; the server always sends CRLF" {
	printf 'CAPA\nUSER alice\nPASS secret\nSTAT\nLIST\nRETR 1\nTOP 2 0\nUIDL 1\nNOOP\nQUIT\n' |
		pop3_raw >"$WORLD/lf"
	pop3 -- CAPA "USER alice" "PASS secret" STAT LIST "RETR 1" "TOP 2 0" "UIDL 1" NOOP QUIT >"$WORLD/crlf"
	same_bytes "$WORLD/crlf" "$WORLD/lf"
	grep -q '^+OK bye, 0 messages deleted, 3 left' "$WORLD/lf"
	# every LF the server sent ends a CRLF
	[ "$(tr -cd '\n' <"$WORLD/lf" | wc -c)" -eq "$(grep -c $'\r$' "$WORLD/lf")" ]
}

@test "RFC 2449 4: a 255-octet line (CRLF included) is read, a 256-octet one is refused" {
	local name248 name249
	name248=$(printf 'u%.0s' $(seq 248))
	name249=${name248}u
	# "USER " + 248 + CRLF = 255 octets; + 1 = 256.
	session "$WORLD/actual" "USER $name248" "USER $name249" "QUIT"
	expect '+OK send PASS' '-ERR command line too long' '+OK bye'
	same_bytes "$WORLD/expected" "$WORLD/actual"
	# the same limit in TRANSACTION: "LIST " + 0...03 (248 digits) + CRLF
	local zeros
	zeros=$(printf '0%.0s' $(seq 247))
	session "$WORLD/actual" "USER alice" "PASS secret" "LIST ${zeros}3" "LIST 0${zeros}3" "QUIT"
	expect "${LOGIN_REPLIES[@]}" '+OK 3 30' '-ERR command line too long' \
		'+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

@test "RFC 2449 4: with a bare LF the limit is 255 octets including the LF" {
	local name
	name=$(printf 'u%.0s' $(seq 249))
	printf 'USER %s\nUSER %su\nQUIT\n' "$name" "$name" | pop3_raw >"$WORLD/raw"
	after_greeting "$WORLD/raw" >"$WORLD/actual"
	expect '+OK send PASS' '-ERR command line too long' '+OK bye'
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

@test "lines on the wire: an over-long line gets exactly one -ERR and nothing in its middle is executed" {
	# Lines of 256 to 270 octets ending in "DELE 1", and one of 300 kB
	# that crosses the server's read buffers: a server that cut them into
	# pieces would answer twice or delete message 1.
	local lines=() n pad
	for n in $(seq 248 262); do
		pad=$(printf 'X%.0s' $(seq "$n"))
		lines+=("${pad}DELE 1")
	done
	lines+=("$(head -c 300000 /dev/zero | tr '\0' 'Y')DELE 1")
	session "$WORLD/actual" "USER alice" "PASS secret" "${lines[@]}" "STAT" "QUIT"
	local e=() i
	for i in "${!lines[@]}"; do e+=('-ERR command line too long'); done
	expect "${LOGIN_REPLIES[@]}" "${e[@]}" '+OK 3 82' '+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
	unchanged
}

@test "lines on the wire: an over-long line between USER and PASS cancels the USER" {
	local long
	long=$(printf 'z%.0s' $(seq 300))
	session "$WORLD/actual" "USER alice" "$long" "PASS secret" "QUIT"
	expect '+OK send PASS' '-ERR command line too long' '-ERR USER first' '+OK bye'
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

@test "lines on the wire: an over-long last line without LF ends the session quietly" {
	{ printf 'QUITX'; head -c 5000 /dev/zero | tr '\0' 'Q'; } | pop3_raw >"$WORLD/raw" || true
	[ "$(wc -l <"$WORLD/raw")" -eq 1 ]
}

@test "lines on the wire: USER alice<NUL>x is refused and does not log in as alice" {
	printf 'USER alice\0x\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' | pop3_raw -d >"$WORLD/raw" 2>"$WORLD/err" || true
	after_greeting "$WORLD/raw" >"$WORLD/actual"
	expect '-ERR control characters in command line' '-ERR USER first' \
		'-ERR command not valid in this state' '+OK bye'
	same_bytes "$WORLD/expected" "$WORLD/actual"
	refute grep -q 'login: user' "$WORLD/err"
}

@test "lines on the wire: NUL and other control characters make a line -ERR, unexecuted, in both states" {
	printf 'USER\talice\r\nUSER alice\r\nPASS secret\0\r\nUSER alice\r\nPASS secret\r\nDELE 1\0\r\nDELE\x002\r\nDELE 3\x7f\r\nDELE\t1\r\nRETR 1\rDELE 2\r\nLIST\x1b\r\nSTAT\r\nQUIT\r\n' |
		pop3_raw >"$WORLD/raw"
	after_greeting "$WORLD/raw" >"$WORLD/actual"
	local e='-ERR control characters in command line'
	expect "$e" '+OK send PASS' "$e" '+OK send PASS' '+OK maildrop has 3 messages (82 octets)' \
		"$e" "$e" "$e" "$e" "$e" "$e" '+OK 3 82' '+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
	unchanged
}

@test "lines on the wire: 8-bit bytes are not control characters (USER with UTF-8 is read)" {
	printf 'USER caf\xc3\xa9\r\nQUIT\r\n' | pop3_raw >"$WORLD/raw"
	after_greeting "$WORLD/raw" >"$WORLD/actual"
	expect '+OK send PASS' '+OK bye'
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

# ---- pipelining ----

@test "RFC 2449 6.6: 500 pipelined commands in one write are all answered, in order" {
	session "$WORLD/ids" "USER alice" "PASS secret" "UIDL 2" "QUIT"
	local uid2 cmds=() i
	uid2=$(sed -n 3p "$WORLD/ids" | tr -d '\r')
	: >"$WORLD/expected"
	printf '%s\r\n' "${LOGIN_REPLIES[@]}" >>"$WORLD/expected"
	for i in $(seq 0 99); do
		cmds+=("STAT" "LIST $((i % 3 + 1))" "UIDL 2" "RETR 9" "TOP 1 0")
		case $((i % 3 + 1)) in
		1 | 2) size=26 ;;
		3) size=30 ;;
		esac
		printf '+OK 3 82\r\n+OK %s %s\r\n%s\r\n-ERR no such message\r\n' $((i % 3 + 1)) "$size" "$uid2" >>"$WORLD/expected"
		printf '+OK top of message follows\r\nSubject: one\r\n\r\n.\r\n' >>"$WORLD/expected"
	done
	[ "${#cmds[@]}" -eq 500 ]
	printf '+OK bye, 0 messages deleted, 3 left\r\n' >>"$WORLD/expected"
	session "$WORLD/actual" "USER alice" "PASS secret" "${cmds[@]}" "QUIT"
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

@test "RFC 2449 6.6: pipelined DELE and RSET are applied in order" {
	session "$WORLD/actual" "USER alice" "PASS secret" "DELE 1" "RSET" "DELE 2" "STAT" "QUIT"
	expect "${LOGIN_REPLIES[@]}" '+OK message 1 deleted' '+OK maildrop has 3 messages (82 octets)' \
		'+OK message 2 deleted' '+OK 2 56' '+OK bye, 1 messages deleted, 2 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
	{
		printf '%s\nSubject: one\n\nbody one\n\n' "$FROM_LINE"
		printf '%s\nSubject: three\n\nbody three\n' "$FROM_LINE"
	} >"$WORLD/left"
	same_bytes "$WORLD/left" "$SPOOL/alice"
}

@test "RFC 2449 6.6: commands sent one at a time, waiting for each answer, work too" {
	# The interactive case: the server must flush when no input is waiting.
	mkfifo "$WORLD/in"
	pop3_raw <"$WORLD/in" >"$WORLD/raw" &
	local pid=$! i
	exec 7>"$WORLD/in"
	wait_for_lines() {
		for i in $(seq 200); do
			[ "$(wc -l <"$WORLD/raw")" -ge "$1" ] && return 0
			sleep 0.02
		done
		return 1
	}
	wait_for_lines 1
	printf 'USER alice\r\n' >&7
	wait_for_lines 2
	printf 'PASS secret\r\n' >&7
	wait_for_lines 3
	printf 'STAT\r\n' >&7
	wait_for_lines 4
	printf 'QUIT\r\n' >&7
	exec 7>&-
	wait "$pid"
	after_greeting "$WORLD/raw" >"$WORLD/actual"
	expect "${LOGIN_REPLIES[@]}" '+OK 3 82' '+OK bye, 0 messages deleted, 3 left'
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

@test "RFC 2449 6.6: pipelined answers are buffered and leave in a few large writes" {
	command -v strace >/dev/null || skip "strace not installed"
	# Input from a file: all of it is waiting from the start, so the
	# server should flush only when it runs out (and at the end).
	{
		printf 'USER alice\r\nPASS secret\r\n'
		for i in $(seq 500); do printf 'STAT\r\nLIST 1\r\nNOOP\r\n'; done
		printf 'QUIT\r\n'
	} >"$WORLD/in"
	local args
	mapfile -t args < <(pop3_args)
	strace -f -qq -e trace=write -e signal=none -o "$WORLD/strace" \
		"$POP3" "${args[@]}" <"$WORLD/in" >"$WORLD/out"
	[ "$(grep -c $'^+OK 1 26\r$' "$WORLD/out")" -eq 500 ]
	tail -n 1 "$WORLD/out" | grep -q '^+OK bye'
	# 1500 answers: one write before the login hand-over, one or two after
	local writes
	writes=$(grep -c 'write(1,' "$WORLD/strace")
	[ "$writes" -le 4 ] || { echo "$writes writes to the client"; false; }
}
