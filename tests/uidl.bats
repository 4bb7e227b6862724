#!/usr/bin/env bats
# UIDL (RFC 1939 7; doc/protocol.md "Unique ids"): the user story is "leave mail on
# the server and never download a message twice".  Ids are 1-70 characters
# in 0x21-0x7E, unique in the maildrop, and a message keeps its id across
# sessions, deletions of other messages, new deliveries, and the header
# rewrites local mail readers do.  The tests compare ids between sessions;
# they never assume how an id is computed.

load helpers

FROM_LINE='From sender@example.org Mon Nov 23 10:00:00 2026'

setup_file() { SECRET_HASH=$(openssl passwd -6 secret); export SECRET_HASH; }
setup() { setup_world; add_user_hash alice "$SECRET_HASH"; }
teardown() { teardown_world; }

# msg N [EXTRA-HEADER...]: a distinct message, with its separator line.
msg() {
	local n=$1
	shift
	printf 'From sender@example.org Mon Nov 23 10:%02d:00 2026\n' "$n"
	printf 'Message-ID: <%s@example.org>\nSubject: message %s\n' "$n" "$n"
	[ $# -gt 0 ] && printf '%s\n' "$@"
	printf '\nbody of message %s\n\n' "$n"
}

# uidl_of: alice's UIDL listing, "n id" lines without CR, on stdout.
# (Called in $(...), where set -e does not reach: failures are returned.)
uidl_of() {
	pop3 -- "USER alice" "PASS secret" "UIDL" "QUIT" >"$WORLD/uidl.raw" || return 1
	grep -q $'^+OK unique-id listing follows\r$' "$WORLD/uidl.raw" || return 1
	grep -q $'^+OK bye' "$WORLD/uidl.raw" || return 1
	# from the line after the status to the line before "."
	tr -d '\r' <"$WORLD/uidl.raw" | sed -n '/^+OK unique-id listing follows$/,/^\.$/p' | sed '1d;$d'
}

# id_of LISTING N: the id of message N in a listing.
id_of() { awk -v n="$2" '$1 == n { print $2 }' <<<"$1"; }

well_formed_and_unique() {
	local listing=$1 count=$2
	[ "$(wc -l <<<"$listing")" -eq "$count" ]
	# RFC 1939 7: 1 to 70 characters in the range 0x21 to 0x7E.
	refute grep -vE '^[0-9]+ [!-~]{1,70}$' <<<"$listing"
	[ "$(awk '{ print $2 }' <<<"$listing" | sort -u | wc -l)" -eq "$count" ]
}

@test "RFC 1939 7: ids are 1-70 printable characters and unique" {
	{ msg 1; msg 2; msg 3; msg 4 'Status: RO'; msg 5; } | mbox alice
	local l
	l=$(uidl_of)
	well_formed_and_unique "$l" 5
	[ "$(awk '{ print $1 }' <<<"$l" | tr '\n' ' ')" = "1 2 3 4 5 " ]
}

@test "stable ids: byte-identical messages get different ids" {
	{ msg 1; msg 1; msg 1; msg 2; msg 2; } | mbox alice
	local l
	l=$(uidl_of)
	well_formed_and_unique "$l" 5
}

@test "stable ids: messages that differ only in their body get different ids" {
	{
		printf '%s\nSubject: same\n\nbody A\n\n' "$FROM_LINE"
		printf '%s\nSubject: same\n\nbody B\n\n' "$FROM_LINE"
		printf '%s\nSubject: same\n\nlonger body\n' "$FROM_LINE"
	} | mbox alice
	well_formed_and_unique "$(uidl_of)" 3
}

@test "stable ids: ids are the same in the next session" {
	{ msg 1; msg 2; msg 1; msg 3; } | mbox alice
	local first second
	first=$(uidl_of)
	second=$(uidl_of)
	[ -n "$first" ]
	[ "$first" = "$second" ]
}

@test "stable ids: ids do not change when another message is deleted" {
	{ msg 1; msg 2; msg 3; msg 4; } | mbox alice
	local before after
	before=$(uidl_of)
	run pop3 -- "USER alice" "PASS secret" "DELE 2" "QUIT"
	[ "${lines[-1]}" = $'+OK bye, 1 messages deleted, 3 left\r' ]
	after=$(uidl_of)
	[ "$(wc -l <<<"$after")" -eq 3 ]
	[ "$(id_of "$after" 1)" = "$(id_of "$before" 1)" ]
	[ "$(id_of "$after" 2)" = "$(id_of "$before" 3)" ]
	[ "$(id_of "$after" 3)" = "$(id_of "$before" 4)" ]
}

@test "stable ids: ids do not change when the first message is deleted" {
	{ msg 1; msg 2; msg 3; } | mbox alice
	local before after
	before=$(uidl_of)
	pop3 -- "USER alice" "PASS secret" "DELE 1" "QUIT" >/dev/null
	after=$(uidl_of)
	[ "$(id_of "$after" 1)" = "$(id_of "$before" 2)" ]
	[ "$(id_of "$after" 2)" = "$(id_of "$before" 3)" ]
}

@test "stable ids: of two identical copies, deleting either leaves the other its id" {
	{ msg 1; msg 1; msg 2; } | mbox alice
	cp "$SPOOL/alice" "$WORLD/mbox.orig"
	local before after
	before=$(uidl_of)
	pop3 -- "USER alice" "PASS secret" "DELE 2" "QUIT" >/dev/null
	after=$(uidl_of)
	[ "$(id_of "$after" 1)" = "$(id_of "$before" 1)" ]
	[ "$(id_of "$after" 2)" = "$(id_of "$before" 3)" ]
	# The first copy deleted: the second must not take over its id (a
	# client that forgot the deleted id would fetch the copy again).
	cp "$WORLD/mbox.orig" "$SPOOL/alice"
	rm -rf "$STATE" # a fresh start, as for a new maildrop
	before=$(uidl_of)
	pop3 -- "USER alice" "PASS secret" "DELE 1" "QUIT" >/dev/null
	after=$(uidl_of)
	[ "$(id_of "$after" 1)" = "$(id_of "$before" 2)" ]
	[ "$(id_of "$after" 2)" = "$(id_of "$before" 3)" ]
}

@test "stable ids: ids do not change when new mail is appended" {
	{ msg 1; msg 2; } | mbox alice
	local before after
	before=$(uidl_of)
	msg 3 >>"$SPOOL/alice"
	msg 1 >>"$SPOOL/alice" # a byte-identical copy of message 1 arrives
	after=$(uidl_of)
	well_formed_and_unique "$after" 4
	[ "$(head -n 2 <<<"$after")" = "$before" ]
}

@test "stable ids: ids survive a local reader's Status/X-Status/X-Keywords/X-UID/Content-Length rewrite" {
	{ msg 1; msg 2; msg 3; } | mbox alice
	local before after
	before=$(uidl_of)
	# What mutt, pine and UW-IMAP leave behind after reading the folder.
	{
		msg 1 'Status: RO' 'X-Status: A' 'X-UID: 1' 'X-IMAPbase: 1700000000 3' 'Content-Length: 17'
		msg 2 'Status: O' 'X-Keywords: $Label1' 'X-UID: 2' 'Lines: 1'
		msg 3 'X-Status: F' 'X-UID: 3' 'X-Mozilla-Status: 0001'
	} >"$SPOOL/alice"
	after=$(uidl_of)
	[ "$after" = "$before" ]
	# and a second rewrite with other flag values
	{
		msg 1 'Status: O' 'X-UID: 1' 'X-IMAPbase: 1700000000 4' 'Content-Length: 17'
		msg 2 'Status: RO' 'X-Status: AF' 'X-UID: 2'
		msg 3
	} >"$SPOOL/alice"
	[ "$(uidl_of)" = "$before" ]
}

@test "stable ids: ids survive UW-IMAP adding its FOLDER INTERNAL DATA message in front" {
	{ msg 1; msg 2; } | mbox alice
	local before
	before=$(uidl_of)
	{
		printf 'From MAILER-DAEMON Mon Nov 23 09:00:00 2026\n'
		printf 'Date: Mon, 23 Nov 2026 09:00:00 +0000\n'
		printf 'From: Mail System Internal Data <MAILER-DAEMON@example.org>\n'
		printf "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
		printf 'X-IMAP: 1700000000 0000000002\nStatus: RO\n\n'
		printf 'This text is part of the internal format of your mail folder.\n\n'
		msg 1 'Status: RO' 'X-UID: 1'
		msg 2 'X-UID: 2'
	} >"$SPOOL/alice"
	[ "$(uidl_of)" = "$before" ]
}

@test "stable ids: ids follow the message, not its position (a changed header changes the id)" {
	{ msg 1; msg 2; msg 3; } | mbox alice
	local before after
	before=$(uidl_of)
	{ msg 3; msg 1; msg 2 'X-Spam-Flag: YES'; } >"$SPOOL/alice"
	after=$(uidl_of)
	[ "$(id_of "$after" 1)" = "$(id_of "$before" 3)" ]
	[ "$(id_of "$after" 2)" = "$(id_of "$before" 1)" ]
	# message 2 is a different message now: a real header was added
	[ "$(id_of "$after" 3)" != "$(id_of "$before" 2)" ]
}

@test "qpopper/UW ipop3d: a valid X-UIDL header that is unique is the id" {
	{ msg 1 'X-UIDL: 3f2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c'; msg 2 'X-UIDL: GmailId1234abcd!~'; msg 3; } | mbox alice
	local l
	l=$(uidl_of)
	[ "$(id_of "$l" 1)" = 3f2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c ]
	[ "$(id_of "$l" 2)" = 'GmailId1234abcd!~' ]
	well_formed_and_unique "$l" 3
	run pop3 -- "USER alice" "PASS secret" "UIDL 2" "QUIT"
	[ "${lines[3]}" = $'+OK 2 GmailId1234abcd!~\r' ]
	# still the id after message 1 is deleted
	pop3 -- "USER alice" "PASS secret" "DELE 1" "QUIT" >/dev/null
	[ "$(id_of "$(uidl_of)" 1)" = 'GmailId1234abcd!~' ]
}

@test "stable ids: a duplicated X-UIDL is ignored; both messages get distinct ids of their own" {
	{ msg 1 'X-UIDL: copied-id'; msg 2 'X-UIDL: copied-id'; msg 3; } | mbox alice
	local l
	l=$(uidl_of)
	well_formed_and_unique "$l" 3
	[ "$(id_of "$l" 1)" != copied-id ]
	[ "$(id_of "$l" 2)" != copied-id ]
}

@test "stable ids: when one of two messages sharing an X-UIDL is deleted, the other keeps its id" {
	# "Used when unique" must not turn into "changes when it becomes
	# unique": the survivor keeps the id it was already known by.
	{ msg 1 'X-UIDL: copied-id'; msg 2 'X-UIDL: copied-id'; } | mbox alice
	local before after
	before=$(uidl_of)
	pop3 -- "USER alice" "PASS secret" "DELE 2" "QUIT" >/dev/null
	after=$(uidl_of)
	[ "$(id_of "$after" 1)" = "$(id_of "$before" 1)" ]
}

@test "stable ids: an X-UIDL claiming another message's id does not take it" {
	{ msg 1; msg 2; } | mbox alice
	local before stolen after
	before=$(uidl_of)
	stolen=$(id_of "$before" 1)
	{ msg 1; msg 2; msg 3 "X-UIDL: $stolen"; } >"$SPOOL/alice"
	after=$(uidl_of)
	well_formed_and_unique "$after" 3
	[ "$(id_of "$after" 1)" = "$stolen" ]
	[ "$(id_of "$after" 2)" = "$(id_of "$before" 2)" ]
}

@test "RFC 1939 7: an invalid X-UIDL (spaces, over 70 characters) is not used" {
	local long
	long=$(printf 'k%.0s' $(seq 71))
	{ msg 1 'X-UIDL: has a space'; msg 2 "X-UIDL: $long"; } | mbox alice
	local l
	l=$(uidl_of)
	well_formed_and_unique "$l" 2
	[ "$(id_of "$l" 2)" != "$long" ]
	[ "$(id_of "$l" 1)" != has ]
}

@test "computing ids does not write to the maildrop" {
	{ msg 1; msg 2; msg 1; } | mbox alice
	touch -d '2020-01-02 03:04:05' "$SPOOL/alice"
	cp -p "$SPOOL/alice" "$WORLD/before"
	uidl_of >/dev/null
	pop3 -- "USER alice" "PASS secret" "UIDL 2" "LIST" "RETR 1" "QUIT" >/dev/null
	cmp "$WORLD/before" "$SPOOL/alice"
	[ "$(stat -c %Y "$SPOOL/alice")" = "$(stat -c %Y "$WORLD/before")" ]
	[ "$(ls -A "$SPOOL")" = alice ]
}
