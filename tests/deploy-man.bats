#!/usr/bin/env bats
# man/pop3-stdio.8 is lint-clean and documents what the
# program does: every option of --help, the exit statuses it really
# returns, and the log lines it really writes.

load helpers

MAN="$REPO/man/pop3-stdio.8"

@test "pop3-stdio(8) passes mandoc -Tlint with no message at all (style included)" {
	command -v mandoc >/dev/null || skip "mandoc is not installed (tests/install-deps installs it)"
	run mandoc -Tlint -W style "$MAN"
	# Lines about the system's own manual database (mandoc.db out of date
	# for the pages we cross-reference) are about this machine, not the page.
	local messages
	messages=$(grep -v 'mandoc\.db' <<<"$output" || true)
	echo "$messages"
	[ "$status" -eq 0 ]
	[ -z "$messages" ]
}

@test "pop3-stdio(8) passes groff -ww with no warning" {
	command -v groff >/dev/null || skip "groff is not installed"
	run groff -ww -z -mandoc "$MAN"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "pop3-stdio(8) documents every option --help lists, in both spellings" {
	local long short
	"$POP3" --help >"$BATS_TEST_TMPDIR/help"
	for long in $(grep -oE -- '--[a-z][a-z-]*' "$BATS_TEST_TMPDIR/help" | sort -u); do
		grep -qE "Fl Fl ${long#--}( |\$)" "$MAN" || {
			echo "not in the man page: $long" >&2
			return 1
		}
	done
	for short in $(grep -oE -- '^  -[a-zA-Z],' "$BATS_TEST_TMPDIR/help" | tr -d ' ,-'); do
		grep -qE "^\.It Fl $short( |\$)" "$MAN" || {
			echo "not in the man page: -$short" >&2
			return 1
		}
	done
}

@test "pop3-stdio(8) EXIT STATUS: 0 after QUIT, 1 for a dropped session, 2 for a bad option" {
	setup_world
	add_user alice secret
	sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' "$MAN" >"$BATS_TEST_TMPDIR/exit"
	grep -qx '\.It 0' "$BATS_TEST_TMPDIR/exit"
	grep -qx '\.It 1' "$BATS_TEST_TMPDIR/exit"
	grep -qx '\.It 2' "$BATS_TEST_TMPDIR/exit"
	run pop3 -- "USER alice" "PASS secret" "QUIT"
	[ "$status" -eq 0 ]
	run pop3 -- "USER alice" "PASS secret" "STAT"
	[ "$status" -eq 1 ]
	run "$POP3" --no-such-option
	[ "$status" -eq 2 ]
	teardown_world
}

@test "pop3-stdio(8) DIAGNOSTICS: the session's log lines are the ones the code writes" {
	local line
	for line in 'connection from' 'login: user' 'login failed: user' 'session end: user'; do
		grep -q "\"$line " "$REPO"/*.c || {
			echo "the code no longer logs '$line'" >&2
			return 1
		}
		grep -q "^\.It Li $line " "$MAN" || {
			echo "the man page does not describe '$line'" >&2
			return 1
		}
	done
	grep -q 'LOG_MAIL' "$REPO/pop3-stdio.c"
	grep -q 'openlog("pop3-stdio"' "$REPO/pop3-stdio.c"
}
