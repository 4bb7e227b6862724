#!/usr/bin/env bats
# The shortest path through a session: the user story "fetch and delete".

load helpers

setup() { setup_world; add_user alice secret; }
teardown() { teardown_world; }

@test "RFC 1939: login, STAT, RETR, DELE, QUIT removes the message on disk" {
	printf 'From a@b Mon Nov 23 10:00:00 2026\nSubject: one\n\nbody one\n\nFrom c@d Mon Nov 23 10:01:00 2026\nSubject: two\n\nbody two\n' | mbox alice
	run pop3 -- "USER alice" "PASS secret" "STAT" "RETR 1" "DELE 1" "QUIT"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ $greeting_re ]]
	[ "${lines[3]}" = $'+OK 2 52\r' ]
	[ "${lines[4]}" = $'+OK 26 octets\r' ]
	[ "${lines[5]}" = $'Subject: one\r' ]
	[ "${lines[7]}" = $'body one\r' ]
	[ "${lines[8]}" = $'.\r' ]
	[ "$(cat "$SPOOL/alice")" = "$(printf 'From c@d Mon Nov 23 10:01:00 2026\nSubject: two\n\nbody two')" ]
}
