#!/usr/bin/env bats
# Blocked users (README "Blocked users"): one entry a line, a full
# address, a local name (also matching name@any.domain) or a whole domain
# (@example.com, *@example.com); comments, blank lines, spaces trimmed,
# case-insensitive; read fresh at each login.  A blocked user is refused
# even with the right password, with the same line as a wrong password.

load helpers
bats_require_minimum_version 1.5.0

FAILED=$'-ERR [AUTH] authentication failed\r'
DEFAULT_BLOCKLIST=/etc/pop3-stdio/blocked-users # params.h DEFAULT_BLOCKLIST

# Every fixture user has the password "pw" (one hash for the whole file).
setup_file() { PW_HASH=$(openssl passwd -6 pw); export PW_HASH; }

setup() {
	setup_world
	local u
	for u in alice john john@example.com john@other.org johnny bob@example.com \
		carol@example.com dave@example.org eve@sub.example.com bob@john.org; do
		add_user_hash "$u" "$PW_HASH"
	done
}
teardown() { teardown_world; }

# verdict USER: "in" when USER logs in with the right password, "out"
# when refused with the line a wrong password gets; anything else fails.
verdict() {
	run pop3 -- "USER $1" "PASS pw" "QUIT"
	case "${lines[2]}" in
	$'+OK maildrop has 0 messages (0 octets)\r') echo in ;;
	"$FAILED") echo out ;;
	*)
		echo "unexpected answer for $1: ${lines[2]}" >&2
		return 1
		;;
	esac
}

# expect_verdicts USER=in|out...
expect_verdicts() {
	local pair got
	for pair in "$@"; do
		got=$(verdict "${pair%=*}")
		[ "$got" = "${pair##*=}" ] || {
			echo "${pair%=*}: expected ${pair##*=}, got $got"
			return 1
		}
	done
}

@test "blocklist: an empty file blocks nobody" {
	expect_verdicts alice=in john=in john@example.com=in bob@example.com=in
}

@test "blocklist: a full address blocks exactly that address" {
	echo 'john@example.com' >"$BLOCKLIST"
	expect_verdicts john@example.com=out john@other.org=in john=in bob@example.com=in
}

@test "blocklist: a local name blocks that name and name@any.domain, nothing else" {
	echo 'john' >"$BLOCKLIST"
	expect_verdicts john=out john@example.com=out john@other.org=out johnny=in \
		bob@john.org=in alice=in
}

@test "blocklist: @domain blocks every address in that domain only" {
	echo '@example.com' >"$BLOCKLIST"
	expect_verdicts john@example.com=out bob@example.com=out carol@example.com=out \
		dave@example.org=in eve@sub.example.com=in john=in john@other.org=in
}

@test "blocklist: *@domain is the same as @domain" {
	echo '*@example.com' >"$BLOCKLIST"
	expect_verdicts john@example.com=out bob@example.com=out dave@example.org=in \
		eve@sub.example.com=in john=in
}

@test "blocklist: comments and blank lines are ignored; a comment may follow an entry" {
	printf '# john\n\n   # alice\n\t\ncarol@example.com # left in March\nbob@example.com#not-a-comment\n' >"$BLOCKLIST"
	expect_verdicts john=in alice=in carol@example.com=out bob@example.com=in
}

@test "blocklist: spaces, tabs and CRLF around entries are trimmed" {
	printf '   john  \r\n\t@example.org\t\r\n' >"$BLOCKLIST"
	expect_verdicts john=out john@other.org=out dave@example.org=out alice=in
}

@test "blocklist: entries match case-insensitively" {
	printf 'JOHN@Example.COM\nALICE\n@EXAMPLE.ORG\n' >"$BLOCKLIST"
	expect_verdicts john@example.com=out alice=out dave@example.org=out john@other.org=in
}

@test "blocklist: the right password of a blocked user gets the wrong-password line; the log says blocked" {
	echo alice >"$BLOCKLIST"
	run --separate-stderr pop3 -d -- "USER alice" "PASS pw" "USER alice" "PASS wrong" "QUIT"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[4]}" = "$FAILED" ]
	[ "${lines[5]}" = $'+OK bye\r' ]
	grep -q 'login failed: user alice: blocked user' <<<"$stderr"
	refute grep -q 'login: user alice' <<<"$stderr"
}

@test "blocklist: AUTH PLAIN is refused for a blocked user the same way" {
	echo 'john@example.com' >"$BLOCKLIST"
	local b
	b=$(printf '\0john@example.com\0pw' | base64 -w0)
	run --separate-stderr pop3 -d -- "AUTH PLAIN $b" "AUTH PLAIN" "$b" "QUIT"
	[ "${lines[1]}" = "$FAILED" ]
	[ "${lines[2]}" = $'+ \r' ]
	[ "${lines[3]}" = "$FAILED" ]
	[ "$(grep -c 'login failed: user john@example.com: blocked user' <<<"$stderr")" -eq 2 ]
}

@test "blocklist: USER name<NUL>x cannot slip past an entry for name" {
	echo alice >"$BLOCKLIST"
	printf 'USER alice\0x\r\nPASS pw\r\nUSER alice\r\nPASS pw\r\nSTAT\r\nQUIT\r\n' |
		pop3_raw >"$WORLD/raw"
	after_greeting "$WORLD/raw" >"$WORLD/actual"
	printf '%s\r\n' '-ERR control characters in command line' '-ERR USER first' '+OK send PASS' \
		"${FAILED%$'\r'}" '-ERR command not valid in this state' '+OK bye' >"$WORLD/expected"
	same_bytes "$WORLD/expected" "$WORLD/actual"
}

@test "blocklist: the file is read fresh for every login" {
	expect_verdicts alice=in
	echo alice >"$BLOCKLIST"
	expect_verdicts alice=out
	: >"$BLOCKLIST"
	expect_verdicts alice=in
}

@test "blocklist: a named file that does not exist refuses every login (fail closed), and says why" {
	run --separate-stderr pop3 -d --blocklist="$WORLD/no-such-file" -- "USER alice" "PASS pw" "STAT"
	[ "${lines[2]}" = $'-ERR [SYS/TEMP] cannot check logins now, try again later\r' ]
	[ "${#lines[@]}" -eq 3 ]
	grep -q "blocked-users file $WORLD/no-such-file: No such file or directory; refusing every login" <<<"$stderr"
	run pop3 -b "$WORLD/no-such-file" -- "AUTH PLAIN $(printf '\0john\0pw' | base64)"
	[ "${lines[1]}" = $'-ERR [SYS/TEMP] cannot check logins now, try again later\r' ]
}

@test "blocklist: a named file that cannot be read (a directory) refuses every login" {
	mkdir "$WORLD/dir"
	run --separate-stderr pop3 -d --blocklist="$WORLD/dir" -- "USER alice" "PASS pw" "STAT"
	[ "${lines[2]}" = $'-ERR [SYS/TEMP] cannot check logins now, try again later\r' ]
	[ "${#lines[@]}" -eq 3 ]
	grep -q 'refusing every login' <<<"$stderr"
}

@test "blocklist: a named file without read permission refuses every login" {
	is_root && skip "root reads any file; the directory case covers root"
	echo nobody-listed >"$BLOCKLIST"
	chmod 000 "$BLOCKLIST"
	run pop3 -- "USER alice" "PASS pw" "STAT"
	[ "${lines[2]}" = $'-ERR [SYS/TEMP] cannot check logins now, try again later\r' ]
}

# The default file is compiled in (params.h).  These tests never create or
# change it on the machine: as root they show the session a private view of
# /etc in a mount namespace; without root they run only when the machine
# has no such file.

# pop3_default_blocklist LINE...: a session without -b.
pop3_default_blocklist() {
	printf '%s\r\n' "$@" | "$POP3" --spool="$SPOOL" --passwd="$PASSWD" \
		--state-dir="$STATE" --fail-delay=0 --timeout=30
}

@test "blocklist: a missing default file blocks nobody" {
	"$POP3" --help | grep -qF "$DEFAULT_BLOCKLIST"
	if [ ! -e "$DEFAULT_BLOCKLIST" ]; then
		run pop3_default_blocklist "USER alice" "PASS pw" "QUIT"
	else
		is_root || skip "$DEFAULT_BLOCKLIST exists here and only root can hide it"
		mkdir "$WORLD/empty-etc-dir"
		export -f pop3_default_blocklist
		export POP3 SPOOL PASSWD STATE
		run unshare -m bash -c 'mount --bind "$1" "$(dirname "$2")" || exit 99
			pop3_default_blocklist "USER alice" "PASS pw" "QUIT"' \
			bash "$WORLD/empty-etc-dir" "$DEFAULT_BLOCKLIST"
		[ "$status" -ne 99 ] || skip "cannot bind-mount in a private namespace here"
	fi
	[ "${lines[2]}" = $'+OK maildrop has 0 messages (0 octets)\r' ]
}

@test "blocklist: the default file, when present, is read" {
	is_root || skip "needs root to give the session its own /etc"
	unshare -m true 2>/dev/null || skip "no private mount namespace here (unshare -m)"
	# An overlay on /etc, in this test's mount namespace only.
	mkdir -p "$WORLD/upper/pop3-stdio" "$WORLD/overlay-work"
	printf '# test\nalice\n' >"$WORLD/upper/pop3-stdio/blocked-users"
	export -f pop3_default_blocklist
	export POP3 SPOOL PASSWD STATE
	run unshare -m bash -c 'mount -t overlay overlay \
			-o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/overlay-work" /etc || exit 99
		pop3_default_blocklist "USER alice" "PASS pw" "USER john" "PASS pw" "QUIT"' \
		bash "$WORLD"
	[ "$status" -ne 99 ] || skip "cannot mount an overlay on /etc in a private namespace here"
	[ "${lines[2]}" = "$FAILED" ]
	[ "${lines[4]}" = $'+OK maildrop has 0 messages (0 octets)\r' ]
	[ ! -e "$DEFAULT_BLOCKLIST" ] || [ "$(cat "$DEFAULT_BLOCKLIST")" != $'# test\nalice' ]
}
