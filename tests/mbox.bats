#!/usr/bin/env bats
# mbox maildrops as a POP3 client sees them (doc/protocol.md "mbox
# maildrops", RFC 4155, RFC 1939 3 and 5): RETR and TOP send the stored bytes with CRLF line ends,
# byte-stuffed; LIST and STAT give exactly the octets RETR sends; DELE, RSET
# and QUIT checked on the file on disk.

load helpers

FROM_LINE='From sender@example.org Mon Nov 23 10:00:00 2026'

setup_file() { SECRET_HASH=$(openssl passwd -6 secret); export SECRET_HASH; }
setup() { setup_world; add_user_hash alice "$SECRET_HASH"; }
teardown() { teardown_world; }

# expect_retr SENT: LIST 1 and RETR 1 on alice's one-message maildrop; SENT
# is a file with the message as it must arrive (CRLF line ends, before
# byte-stuffing).  The whole transcript is compared byte for byte, and the
# payload a client counts (between the status line and ".CRLF", stuffing
# undone) must be exactly the size that LIST announced.
expect_retr() {
	local sent=$1 size
	size=$(wc -c <"$sent")
	pop3 -- "USER alice" "PASS secret" "LIST 1" "RETR 1" "QUIT" >"$WORLD/out"
	{
		printf '+OK send PASS\r\n+OK maildrop has 1 messages (%s octets)\r\n' "$size"
		printf '+OK 1 %s\r\n+OK %s octets\r\n' "$size" "$size"
		stuff <"$sent"
		printf '.\r\n+OK bye, 0 messages deleted, 1 left\r\n'
	} >"$WORLD/expected"
	after_greeting "$WORLD/out" >"$WORLD/actual"
	same_bytes "$WORLD/expected" "$WORLD/actual"
	payload "$WORLD/out" "+OK $size octets" >"$WORLD/payload"
	[ "$(wc -c <"$WORLD/payload")" -eq "$size" ]
	cmp "$WORLD/payload" "$sent"
}

# expect_top N K SENT: TOP 1 K on alice's one-message maildrop sends SENT
# (CRLF, before stuffing) and nothing else.
expect_top() {
	local k=$1 sent=$2
	pop3 -- "USER alice" "PASS secret" "TOP 1 $k" "QUIT" >"$WORLD/out"
	{
		printf '+OK send PASS\r\n'
		sed -n 3p "$WORLD/out" # the maildrop line, checked elsewhere
		printf '+OK top of message follows\r\n'
		stuff <"$sent"
		printf '.\r\n+OK bye, 0 messages deleted, 1 left\r\n'
	} >"$WORLD/expected"
	after_greeting "$WORLD/out" >"$WORLD/actual"
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

# ---- RETR byte-exactness and sizes ----

@test "mbox: LF line ends are sent as CRLF and counted as two octets" {
	printf '%s\nSubject: lf\nFrom: a@example.org\n\nline one\nline two\n' "$FROM_LINE" | mbox alice
	printf 'Subject: lf\r\nFrom: a@example.org\r\n\r\nline one\r\nline two\r\n' >"$WORLD/sent"
	expect_retr "$WORLD/sent"
}

@test "mbox: a CRLF-stored message is sent with CRLF, never CR CR LF" {
	printf '%s\r\nSubject: crlf\r\n\r\nline one\r\nline two\r\n' "$FROM_LINE" | mbox alice
	printf 'Subject: crlf\r\n\r\nline one\r\nline two\r\n' >"$WORLD/sent"
	expect_retr "$WORLD/sent"
}

@test "mbox: mixed LF and CRLF lines in one message each end in one CRLF" {
	printf '%s\nSubject: mixed\r\n\nlf\ncrlf\r\nlf again\n' "$FROM_LINE" | mbox alice
	printf 'Subject: mixed\r\n\r\nlf\r\ncrlf\r\nlf again\r\n' >"$WORLD/sent"
	expect_retr "$WORLD/sent"
}

@test "mbox: a last line without a newline gets a CRLF, and the CRLF is counted" {
	printf '%s\nSubject: cut\n\nfirst\nno newline here' "$FROM_LINE" | mbox alice
	printf 'Subject: cut\r\n\r\nfirst\r\nno newline here\r\n' >"$WORLD/sent"
	expect_retr "$WORLD/sent"
}

@test "RFC 1939 3: lines beginning with a dot are byte-stuffed, sizes count them unstuffed" {
	printf '%s\nSubject: dots\n\n.\n..\n.hidden\n...\n a.b\n.\n' "$FROM_LINE" | mbox alice
	printf 'Subject: dots\r\n\r\n.\r\n..\r\n.hidden\r\n...\r\n a.b\r\n.\r\n' >"$WORLD/sent"
	expect_retr "$WORLD/sent"
	# and on the wire, literally:
	grep -qx $'\\.\\.\r' "$WORLD/actual"
	grep -qx $'\\.\\.\\.\\.\r' "$WORLD/actual"
	grep -qx $'\\.\\.hidden\r' "$WORLD/actual"
}

@test "RFC 1939 3: a dot line without a final newline is stuffed too" {
	printf '%s\nSubject: dot at end\n\ntext\n.' "$FROM_LINE" | mbox alice
	printf 'Subject: dot at end\r\n\r\ntext\r\n.\r\n' >"$WORLD/sent"
	expect_retr "$WORLD/sent"
}

@test "RFC 4155: '>From ' quoted lines are sent as stored; a From line not after an empty line is body" {
	printf '%s\nSubject: quoted\n\n>From the start\n>>From deeper\nFrom inside a paragraph\n' "$FROM_LINE" | mbox alice
	printf 'Subject: quoted\r\n\r\n>From the start\r\n>>From deeper\r\nFrom inside a paragraph\r\n' >"$WORLD/sent"
	expect_retr "$WORLD/sent"
}

@test "mbox: NUL, 8-bit and lone CR bytes are sent as stored" {
	printf '%s\nSubject: caf\xc3\xa9 \xe9t\xe9\n\nNUL:\x00:\x01\x7f\xff\xfe\nlone\rCR\n\x00\n' "$FROM_LINE" | mbox alice
	printf 'Subject: caf\xc3\xa9 \xe9t\xe9\r\n\r\nNUL:\x00:\x01\x7f\xff\xfe\r\nlone\rCR\r\n\x00\r\n' >"$WORLD/sent"
	expect_retr "$WORLD/sent"
}

@test "mbox: an empty body (header, blank line, nothing) as an MDA writes it" {
	# An MDA appends the message, then the empty separator line.
	printf '%s\nSubject: empty\n\n\n' "$FROM_LINE" | mbox alice
	printf 'Subject: empty\r\n\r\n' >"$WORLD/sent"
	expect_retr "$WORLD/sent"
}

@test "mbox: a message with a header only and no blank line" {
	printf '%s\nSubject: header only\n' "$FROM_LINE" | mbox alice
	printf 'Subject: header only\r\n' >"$WORLD/sent"
	expect_retr "$WORLD/sent"
}

@test "mbox: a 5 MB message is served byte for byte with the exact size" {
	perl -e 'print "$ARGV[0]\nSubject: big\n\n";
		for my $i (1 .. 68000) {
			print "line $i ", "x" x 64, "\n";
			print ".dot line $i\n" if $i % 1000 == 0;
		}' "$FROM_LINE" | mbox alice
	[ "$(stat -c %s "$SPOOL/alice")" -gt 5000000 ]
	perl -ne 'print if $. > 1' "$SPOOL/alice" | crlf >"$WORLD/sent"
	expect_retr "$WORLD/sent"
}

@test "mbox: a single 3 MB line is served (no line-length limit)" {
	{ printf '%s\nSubject: long line\n\n' "$FROM_LINE"; head -c 3000000 /dev/zero | tr '\0' 'y'; printf '\nend\n'; } | mbox alice
	{ printf 'Subject: long line\r\n\r\n'; head -c 3000000 /dev/zero | tr '\0' 'y'; printf '\r\nend\r\n'; } >"$WORLD/sent"
	expect_retr "$WORLD/sent"
}

@test "RFC 4155: the empty line before the next From line is a separator; STAT is the sum of LIST" {
	{
		printf '%s\nSubject: one\n\nbody one\n\n' "$FROM_LINE"
		printf '%s\r\nSubject: two\r\n\r\nbody two\r\n\r\n' "$FROM_LINE"
		printf '%s\nSubject: three\n\n\n' "$FROM_LINE"
		printf '%s\nSubject: four\n\nlast, no newline' "$FROM_LINE"
	} | mbox alice
	pop3 -- "USER alice" "PASS secret" "STAT" "LIST" "RETR 1" "RETR 2" "RETR 3" "RETR 4" "QUIT" >"$WORLD/out"
	# 1: "Subject: one" 14 + 2 + "body one" 10 = 26
	# 2: "Subject: two" 14 + 2 + "body two" 10 = 26
	# 3: "Subject: three" 16 + 2 = 18
	# 4: "Subject: four" 15 + 2 + "last, no newline" 18 = 35
	{
		printf '+OK send PASS\r\n+OK maildrop has 4 messages (105 octets)\r\n'
		printf '+OK 4 105\r\n+OK 4 messages (105 octets)\r\n1 26\r\n2 26\r\n3 18\r\n4 35\r\n.\r\n'
		printf '+OK 26 octets\r\nSubject: one\r\n\r\nbody one\r\n.\r\n'
		printf '+OK 26 octets\r\nSubject: two\r\n\r\nbody two\r\n.\r\n'
		printf '+OK 18 octets\r\nSubject: three\r\n\r\n.\r\n'
		printf '+OK 35 octets\r\nSubject: four\r\n\r\nlast, no newline\r\n.\r\n'
		printf '+OK bye, 0 messages deleted, 4 left\r\n'
	} >"$WORLD/expected"
	after_greeting "$WORLD/out" >"$WORLD/actual"
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

# ---- TOP ----

@test "RFC 1939 7: TOP n 0 sends the header and the blank line only" {
	printf '%s\nSubject: top\nX-A: 1\n\nb1\nb2\nb3\n' "$FROM_LINE" | mbox alice
	printf 'Subject: top\r\nX-A: 1\r\n\r\n' >"$WORLD/sent"
	expect_top 0 "$WORLD/sent"
}

@test "RFC 1939 7: TOP n k sends k body lines, byte-stuffed" {
	printf '%s\nSubject: top\n\n.b1\nb2\nb3\n' "$FROM_LINE" | mbox alice
	printf 'Subject: top\r\n\r\n.b1\r\nb2\r\n' >"$WORLD/sent"
	expect_top 2 "$WORLD/sent"
}

@test "RFC 1939 7: TOP with more lines than the body sends the whole message, as RETR does" {
	printf '%s\nSubject: top\n\nb1\nb2\nlast' "$FROM_LINE" | mbox alice
	printf 'Subject: top\r\n\r\nb1\r\nb2\r\nlast\r\n' >"$WORLD/sent"
	expect_top 3 "$WORLD/sent"
	expect_top 4 "$WORLD/sent"
	expect_top 18446744073709551615 "$WORLD/sent"
}

@test "mbox: the session-end log line counts RETRs only, not a TOP of the whole message" {
	printf '%s\nSubject: top\n\nb1\n' "$FROM_LINE" | mbox alice
	pop3 --debug -- "USER alice" "PASS secret" "TOP 1 18446744073709551615" "TOP 1 0" \
		"QUIT" >"$WORLD/out" 2>"$WORLD/err"
	grep -q 'session end: user alice: QUIT; retrieved 0 messages (0 octets), deleted 0' "$WORLD/err"
	pop3 --debug -- "USER alice" "PASS secret" "RETR 1" "TOP 1 18446744073709551615" \
		"QUIT" >"$WORLD/out" 2>"$WORLD/err"
	grep -q 'session end: user alice: QUIT; retrieved 1 messages (20 octets), deleted 0' "$WORLD/err"
}

@test "RFC 1939 7: TOP on a CRLF-stored message counts CRLF lines" {
	printf '%s\r\nSubject: top\r\nX-B: 2\r\n\r\nb1\r\nb2\r\nb3\r\n' "$FROM_LINE" | mbox alice
	printf 'Subject: top\r\nX-B: 2\r\n\r\n' >"$WORLD/sent"
	expect_top 0 "$WORLD/sent"
	printf 'Subject: top\r\nX-B: 2\r\n\r\nb1\r\n' >"$WORLD/sent"
	expect_top 1 "$WORLD/sent"
}

@test "RFC 1939 7: TOP n 0 on a message with no body sends its header" {
	printf '%s\nSubject: header only\n' "$FROM_LINE" | mbox alice
	printf 'Subject: header only\r\n' >"$WORLD/sent"
	expect_top 0 "$WORLD/sent"
}

@test "RFC 1939 7: TOP counts an empty body line as a line" {
	printf '%s\nSubject: top\n\n\nsecond\nthird\n' "$FROM_LINE" | mbox alice
	printf 'Subject: top\r\n\r\n\r\nsecond\r\n' >"$WORLD/sent"
	expect_top 2 "$WORLD/sent"
}

# ---- UW-IMAP, missing and foreign files ----

uw_internal() {
	printf 'From MAILER-DAEMON Mon Nov 23 09:00:00 2026\n'
	printf 'Date: Mon, 23 Nov 2026 09:00:00 +0000\n'
	printf 'From: Mail System Internal Data <MAILER-DAEMON@example.org>\n'
	printf "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
	printf 'Message-ID: <1700000000@example.org>\nX-IMAP: 1700000000 0000000002\nStatus: RO\n\n'
	printf 'This text is part of the internal format of your mail folder, and is not\n'
	printf 'a real message.  It is created automatically by the mail system software.\n\n'
}

@test "UW-IMAP: the FOLDER INTERNAL DATA first message is hidden, and kept on disk" {
	{
		uw_internal
		printf '%s\nSubject: real one\n\nhello\n\n' "$FROM_LINE"
		printf '%s\nSubject: real two\n\nworld\n' "$FROM_LINE"
	} | mbox alice
	pop3 -- "USER alice" "PASS secret" "STAT" "LIST" "RETR 1" "DELE 1" "QUIT" >"$WORLD/out"
	{
		printf '+OK send PASS\r\n+OK maildrop has 2 messages (56 octets)\r\n'
		printf '+OK 2 56\r\n+OK 2 messages (56 octets)\r\n1 28\r\n2 28\r\n.\r\n'
		printf '+OK 28 octets\r\nSubject: real one\r\n\r\nhello\r\n.\r\n'
		printf '+OK message 1 deleted\r\n+OK bye, 1 messages deleted, 1 left\r\n'
	} >"$WORLD/expected"
	after_greeting "$WORLD/out" >"$WORLD/actual"
	same_bytes "$WORLD/expected" "$WORLD/actual"
	{
		uw_internal
		printf '%s\nSubject: real two\n\nworld\n' "$FROM_LINE"
	} >"$WORLD/left"
	same_bytes "$WORLD/left" "$SPOOL/alice"
}

@test "UW-IMAP: only the first message can be the internal one, and only with X-IMAP" {
	{
		printf '%s\nSubject: DON'"'"'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n\nno X-IMAP\n\n' "$FROM_LINE"
		uw_internal
	} | mbox alice
	run pop3 -- "USER alice" "PASS secret" "LIST" "TOP 1 0" "QUIT"
	[[ "${lines[3]}" == "+OK 2 messages ("* ]]
	[[ "${lines[4]}" == "1 "* ]]
	[[ "${lines[5]}" == "2 "* ]]
	[ "${lines[8]}" = $'Subject: DON\'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\r' ]
}

@test "mbox: a missing maildrop is empty (+OK 0 0) and no file is created" {
	run pop3 -- "USER alice" "PASS secret" "STAT" "LIST" "UIDL" "QUIT"
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = $'+OK maildrop has 0 messages (0 octets)\r' ]
	[ "${lines[3]}" = $'+OK 0 0\r' ]
	[ "${lines[4]}" = $'+OK 0 messages (0 octets)\r' ]
	[ "${lines[5]}" = $'.\r' ]
	[ "${lines[6]}" = $'+OK unique-id listing follows\r' ]
	[ "${lines[7]}" = $'.\r' ]
	[ "${lines[8]}" = $'+OK bye, 0 messages deleted, 0 left\r' ]
	[ "${#lines[@]}" -eq 9 ]
	[ ! -e "$SPOOL/alice" ]
	[ -z "$(ls -A "$SPOOL")" ]
}

@test "mbox: an empty file is an empty maildrop and stays as it is" {
	: | mbox alice
	run pop3 -- "USER alice" "PASS secret" "STAT" "RETR 1" "QUIT"
	[ "${lines[3]}" = $'+OK 0 0\r' ]
	[ "${lines[4]}" = $'-ERR no such message\r' ]
	[ -f "$SPOOL/alice" ]
	[ ! -s "$SPOOL/alice" ]
}

@test "mbox: a file that is not an mbox is -ERR [SYS/PERM], logged, and untouched" {
	printf 'Subject: not an mbox\n\nhello\n' | mbox alice
	touch -d '2020-01-02 03:04:05' "$SPOOL/alice"
	cp -p "$SPOOL/alice" "$WORLD/before"
	pop3 --debug -- "USER alice" "PASS secret" "STAT" "DELE 1" "QUIT" >"$WORLD/out" 2>"$WORLD/err" || true
	printf '+OK send PASS\r\n-ERR [SYS/PERM] maildrop cannot be used; ask the administrator\r\n' >"$WORLD/expected"
	after_greeting "$WORLD/out" >"$WORLD/actual"
	same_bytes "$WORLD/expected" "$WORLD/actual"
	cmp "$WORLD/before" "$SPOOL/alice"
	[ "$(stat -c %Y "$SPOOL/alice")" = "$(stat -c %Y "$WORLD/before")" ]
	grep -q 'not an mbox' "$WORLD/err"
}

@test "mbox: a file starting with a blank line before From is not an mbox either" {
	printf '\n%s\nSubject: x\n\nhello\n' "$FROM_LINE" | mbox alice
	cp "$SPOOL/alice" "$WORLD/before"
	run pop3 -- "USER alice" "PASS secret" "STAT"
	[ "${lines[2]}" = $'-ERR [SYS/PERM] maildrop cannot be used; ask the administrator\r' ]
	cmp "$WORLD/before" "$SPOOL/alice"
}

# ---- DELE, RSET, QUIT on the file on disk ----

three_messages() {
	printf '%s\nSubject: one\n\nbody one\n\n' "$FROM_LINE"
	printf '%s\nSubject: two\n\nbody two\n\n' "$FROM_LINE"
	printf '%s\nSubject: three\n\nbody three\n' "$FROM_LINE"
}

@test "RFC 1939 6: DELE n then QUIT removes exactly that message from the file" {
	three_messages | mbox alice
	run pop3 -- "USER alice" "PASS secret" "DELE 2" "QUIT"
	[ "${lines[3]}" = $'+OK message 2 deleted\r' ]
	[ "${lines[4]}" = $'+OK bye, 1 messages deleted, 2 left\r' ]
	{
		printf '%s\nSubject: one\n\nbody one\n\n' "$FROM_LINE"
		printf '%s\nSubject: three\n\nbody three\n' "$FROM_LINE"
	} >"$WORLD/left"
	same_bytes "$WORLD/left" "$SPOOL/alice"
}

@test "RFC 1939 6: DELE of the first and the last message, QUIT keeps the middle one intact" {
	three_messages | mbox alice
	run pop3 -- "USER alice" "PASS secret" "DELE 1" "DELE 3" "QUIT"
	[ "${lines[5]}" = $'+OK bye, 2 messages deleted, 1 left\r' ]
	printf '%s\nSubject: two\n\nbody two\n\n' "$FROM_LINE" >"$WORLD/left"
	# The separator line of a kept message may go with it: accept the
	# message alone or followed by its empty line, nothing else.
	if ! cmp -s "$WORLD/left" "$SPOOL/alice"; then
		printf '%s\nSubject: two\n\nbody two\n' "$FROM_LINE" >"$WORLD/left"
		same_bytes "$WORLD/left" "$SPOOL/alice"
	fi
	# and the next session sees exactly that one message
	run pop3 -- "USER alice" "PASS secret" "LIST" "QUIT"
	[ "${lines[3]}" = $'+OK 1 messages (26 octets)\r' ]
	[ "${lines[4]}" = $'1 26\r' ]
}

@test "RFC 1939 6: deleting every message leaves an empty maildrop file" {
	three_messages | mbox alice
	run pop3 -- "USER alice" "PASS secret" "DELE 1" "DELE 2" "DELE 3" "STAT" "QUIT"
	[ "${lines[6]}" = $'+OK 0 0\r' ]
	[ "${lines[7]}" = $'+OK bye, 3 messages deleted, 0 left\r' ]
	[ -f "$SPOOL/alice" ]
	[ ! -s "$SPOOL/alice" ]
}

@test "RFC 1939 5: DELE then RSET then QUIT deletes nothing" {
	three_messages | mbox alice
	cp "$SPOOL/alice" "$WORLD/before"
	run pop3 -- "USER alice" "PASS secret" "DELE 1" "DELE 3" "RSET" "QUIT"
	[ "${lines[5]}" = $'+OK maildrop has 3 messages (82 octets)\r' ]
	[ "${lines[6]}" = $'+OK bye, 0 messages deleted, 3 left\r' ]
	same_bytes "$WORLD/before" "$SPOOL/alice"
}

@test "RFC 1939 6: a connection dropped after DELE (EOF, no QUIT) deletes nothing" {
	three_messages | mbox alice
	cp "$SPOOL/alice" "$WORLD/before"
	run pop3 -- "USER alice" "PASS secret" "DELE 1" "DELE 2" "DELE 3"
	[ "${lines[5]}" = $'+OK message 3 deleted\r' ]
	[ "${#lines[@]}" -eq 6 ]
	same_bytes "$WORLD/before" "$SPOOL/alice"
	# a QUIT cut short by the drop does not count either
	printf 'USER alice\r\nPASS secret\r\nDELE 1\r\nQUI' | pop3_raw >"$WORLD/out" || true
	same_bytes "$WORLD/before" "$SPOOL/alice"
	refute grep -q bye "$WORLD/out"
}

@test "RFC 1939 3: an idle timeout closes without UPDATE" {
	three_messages | mbox alice
	cp "$SPOOL/alice" "$WORLD/before"
	# The client logs in, deletes, then stays silent (the writer holds the
	# fifo open without writing until it is killed).
	mkfifo "$WORLD/in"
	{ printf 'USER alice\r\nPASS secret\r\nDELE 1\r\n'; exec sleep 10; } >"$WORLD/in" 3>&- &
	local writer=$!
	pop3_raw --timeout=1 <"$WORLD/in" >"$WORLD/out" || true
	kill "$writer"
	printf '+OK send PASS\r\n+OK maildrop has 3 messages (82 octets)\r\n+OK message 1 deleted\r\n-ERR disconnected for inactivity\r\n' >"$WORLD/expected"
	after_greeting "$WORLD/out" >"$WORLD/actual"
	same_bytes "$WORLD/expected" "$WORLD/actual"
	same_bytes "$WORLD/before" "$SPOOL/alice"
}

@test "RFC 1939 6: QUIT in AUTHORIZATION changes nothing" {
	three_messages | mbox alice
	cp "$SPOOL/alice" "$WORLD/before"
	run pop3 -- "USER alice" "QUIT"
	[ "${lines[2]}" = $'+OK bye\r' ]
	same_bytes "$WORLD/before" "$SPOOL/alice"
}

@test "RFC 2449 8: DELE on a read-only maildrop: QUIT answers -ERR [SYS/PERM] and deletes nothing" {
	three_messages | mbox alice
	chmod 400 "$SPOOL/alice"
	cp "$SPOOL/alice" "$WORLD/before"
	run pop3 -- "USER alice" "PASS secret" "RETR 2" "DELE 1" "QUIT"
	[ "${lines[2]}" = $'+OK maildrop has 3 messages (82 octets)\r' ]
	[ "${lines[-1]}" = $'-ERR [SYS/PERM] the maildrop cannot be updated; nothing deleted\r' ]
	same_bytes "$WORLD/before" "$SPOOL/alice"
}

@test "RFC 2449 8.1.1: a maildrop in use by another session is -ERR [IN-USE]" {
	three_messages | mbox alice
	mkfifo "$WORLD/in"
	# The first session logs in and waits for input; the fifo is held
	# open for writing by fd 7 until the end of the test.
	pop3_raw <"$WORLD/in" >"$WORLD/first" &
	local first=$!
	exec 7>"$WORLD/in"
	printf 'USER alice\r\nPASS secret\r\n' >&7
	local i
	for i in $(seq 100); do
		grep -q 'maildrop has' "$WORLD/first" && break
		sleep 0.05
	done
	run pop3 -- "USER alice" "PASS secret" "STAT"
	printf 'QUIT\r\n' >&7
	exec 7>&-
	wait "$first"
	[ "${lines[2]}" = $'-ERR [IN-USE] maildrop is in use by another POP3 session\r' ]
	[ "${#lines[@]}" -eq 3 ]
	grep -q $'^+OK bye' "$WORLD/first"
}

@test "mbox: a message ending in blank lines keeps them; only the separator line goes" {
	printf '%s\nSubject: blanks\n\nbody\n\n\n' "$FROM_LINE" | mbox alice
	printf 'Subject: blanks\r\n\r\nbody\r\n\r\n' >"$WORLD/sent"
	expect_retr "$WORLD/sent"
}

@test "mbox: a message that is only a From line has 0 octets and RETR sends just the terminator" {
	printf '%s\n\n%s\nSubject: two\n\nx\n' "$FROM_LINE" "$FROM_LINE" | mbox alice
	pop3 -- "USER alice" "PASS secret" "LIST" "RETR 1" "TOP 1 0" "QUIT" >"$WORLD/out"
	printf '+OK send PASS\r\n+OK maildrop has 2 messages (19 octets)\r\n+OK 2 messages (19 octets)\r\n1 0\r\n2 19\r\n.\r\n+OK 0 octets\r\n.\r\n+OK top of message follows\r\n.\r\n+OK bye, 0 messages deleted, 2 left\r\n' >"$WORLD/expected"
	after_greeting "$WORLD/out" >"$WORLD/actual"
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

@test "mbox: in 30 generated mailboxes every RETR sends exactly the LIST size, and STAT is their sum" {
	# Random lines of dots, CRs, blank lines, From lines, 8-bit bytes and
	# missing final newlines; fixed seeds, so a failure reproduces.  One
	# maildrop per user u1..u30, made and checked by one perl each.
	perl -e '
		for my $seed (1 .. 30) {
			srand($seed);
			open my $f, ">", "$ARGV[0]/u$seed" or die;
			my @pieces = (".", "..", ".x", "", "text", "From inside", ">From q",
				"\r", "a\rb", "x" x 300, "\xe9\x00\xff", " ", "Subject: s");
			my $n = 1 + int(rand(6));
			for my $m (1 .. $n) {
				my $eol = rand() < 0.3 ? "\r\n" : "\n";
				print $f "From s\@example.org Mon Nov 23 10:00:00 2026$eol";
				print $f "Subject: $m$eol" if rand() < 0.8;
				print $f $eol if rand() < 0.8;
				for (1 .. int(rand(12))) {
					$eol = "\r\n" if rand() < 0.1;
					print $f $pieces[int(rand(@pieces))], $eol;
				}
				print $f "tail" if rand() < 0.2 && $m == $n;
				print $f $eol unless $m == $n;
			}
			close $f;
		}' "$SPOOL"
	chmod 600 "$SPOOL"/u*
	give_to_fixture "$SPOOL"
	local seed i cmds
	for seed in $(seq 1 30); do
		add_user_hash "u$seed" "$SECRET_HASH"
		cmds=("USER u$seed" "PASS secret" "STAT" "LIST")
		for i in $(seq 1 6); do cmds+=("RETR $i" "TOP $i 99999"); done
		pop3 -- "${cmds[@]}" "QUIT" >"$WORLD/out.$seed"
	done
	perl -e '
		local $/;
		for my $seed (1 .. 30) {
			open my $f, "<", "$ARGV[0]/out.$seed" or die; my $t = <$f>;
			my $fail = sub { die "seed $seed: @_\n" };
			my ($stat_n, $stat_octets) = $t =~ /^\+OK (\d+) (\d+)\r$/m or $fail->("no STAT");
			my ($list) = $t =~ /^\+OK \d+ messages \(\d+ octets\)\r\n(.*?)^\.\r\n/ms or $fail->("no LIST");
			my %size = map { /^(\d+) (\d+)/; ($1, $2) } split /\r\n/, $list;
			my $sum = 0; $sum += $_ for values %size;
			$fail->("STAT $stat_n $stat_octets, LIST sum $sum") if $sum != $stat_octets || keys %size != $stat_n;
			my @retr = $t =~ /^\+OK (\d+) octets\r\n((?:[^\n]*\n)*?)\.\r\n/mg;
			my @top = $t =~ /^\+OK top of message follows\r\n((?:[^\n]*\n)*?)\.\r\n/mg;
			$fail->("RETR/TOP count") if @retr != 2 * $stat_n || @top != $stat_n;
			for my $i (1 .. $stat_n) {
				my ($announced, $data) = @retr[2 * $i - 2, 2 * $i - 1];
				$fail->("message $i: bare LF on the wire") if $data =~ /(?<!\r)\n/;
				$fail->("message $i: unstuffed dot line") if $data =~ /^\.(?!\.)/m;
				$fail->("message $i: TOP 99999 differs from RETR") if $top[$i - 1] ne $data;
				(my $plain = $data) =~ s/^\.//mg;
				$fail->("message $i: LIST $size{$i}, announced $announced, sent " . length $plain)
					if length($plain) != $size{$i} || $announced != $size{$i};
			}
		}' "$WORLD"
}

# A maildrop of several MB is scanned by two threads, each taking part of
# the file (mboxscan.c); the cut points are wherever a "From " line follows
# an empty line near the middle of a round.  Whatever they hit -- "From "
# lines in bodies, ">From " lines, CRLF text, CRLF empty lines, empty
# bodies -- every message keeps the size and the id it has when scanned
# alone.
@test "RFC 4155: a 6 MB maildrop scanned by two threads lists every message's own size and X-UIDL" {
	# Perl, which the package build has (Python it may not).
	perl -e '
		my ($world) = @ARGV;
		srand(7);
		open(my $mbox, ">", "$world/big.mbox") or die;
		open(my $exp, ">", "$world/expected") or die;
		for my $i (1 .. 600) {
			my $eol = $i % 7 == 0 ? "\r\n" : "\n";
			my $uid = "m$i-" . int(rand(1000000));
			my @text = ("Subject: message $i", "X-UIDL: $uid", "");
			for my $n (0 .. int(rand(400)) - 1) {
				my $k = int(rand(12));
				if ($k == 0 && $text[-1] ne "") {
					push @text, "From inside a body, after a non-empty line";
				} elsif ($k == 1) {
					push @text, ">From quoted after anything";
				} elsif ($k == 2) {
					push @text, "";
				} else {
					push @text, "line $n of message $i " . ("x" x int(rand(60)));
				}
			}
			my $body = join($eol, @text) . $eol;
			print $mbox "From m$i\@example.org Mon Dec  7 01:00:00 2026$eol", $body,
				$i % 5 == 0 ? "\r\n" : "\n";
			# RETR sends every line end as CRLF.
			(my $sent = $body) =~ s/\r?\n/\r\n/g;
			print $exp "$i ", length($sent), " $uid\n";
		}
	' "$WORLD"
	[ "$(wc -c <"$WORLD/big.mbox")" -gt $((4 * 1024 * 1024)) ]
	mbox alice <"$WORLD/big.mbox"
	pop3 -- "USER alice" "PASS secret" "LIST" "UIDL" "QUIT" | tr -d '\r' >"$WORLD/out"
	# LIST's lines, then UIDL's, joined by message number.
	awk '/^\+OK/ { part++; next } /^\.$/ { next }
		part == 4 { size[$1] = $2 } part == 5 { print $1, size[$1], $2 }' \
		"$WORLD/out" >"$WORLD/actual"
	diff "$WORLD/expected" "$WORLD/actual"
}
