#!/usr/bin/env bats
# Hostile input: whatever a client sends or a maildrop holds, the
# server answers what it can, refuses the rest, keeps its memory bounded,
# never leaves the spool, and exits -- no crash, no hang, no lost mail.

load helpers

setup() {
	setup_world
	IO="$WORLD/io" # what the sessions said, apart from the world they act on
	mkdir "$IO"
	add_user alice secret
	printf 'From a@b Mon Nov 23 10:00:00 2026\nSubject: one\n\nbody one\n\nFrom c@d Mon Nov 23 10:01:00 2026\nSubject: two\n\nbody two\n' | mbox alice
}

teardown() { teardown_world; }

# traced_session [OPTION...]: a session on stdin with --debug, killed if it takes over a minute;
# its bytes go to $IO/out, its log to $IO/err, its exit status to
# $IO/status (a pipeline runs it in a subshell): see session_status.
traced_session() {
	local args status=0
	mapfile -t args < <(pop3_args)
	timeout 60 "$POP3" "${args[@]}" --debug "$@" >"$IO/out" 2>"$IO/err" ||
		status=$?
	echo "$status" >"$IO/status"
	[ "$status" -ne 124 ] # timed out: hung
}

session_status() { cat "$IO/status"; }

# The server's response lines (CR removed), one a line.
responses() { tr -d '\r' <"$IO/out"; }

# A deterministic stream of N pseudo-random bytes.
garbage() { perl -e 'srand(1939); print map { chr(int(rand(256))) } 1..$ARGV[0]' "$1"; }

# An mbox of two messages, the second of about 50 MB of 100-octet lines.
big_mbox() {
	perl -e 'print "From a\@b Mon Nov 23 10:00:00 2026\nSubject: small\n\nsmall\n\n";
		print "From c\@d Mon Nov 23 10:01:00 2026\nSubject: big\n\n";
		my $line = ("x" x 99) . "\n"; print $line x 524288;' | mbox alice
}

# A sanitizer build needs far more memory, for its own bookkeeping.
sanitized() { readelf -sW --dyn-syms "$POP3" 2>/dev/null | grep -q __asan_init; }

# ---- lines ----

@test "hostile: a 16 MB line gets one -ERR; the next command is answered" {
	{ head -c 16777216 /dev/zero | tr '\0' A; printf '\r\nCAPA\r\nQUIT\r\n'; } | traced_session
	[ "$(session_status)" -eq 0 ]
	run responses
	[ "${lines[1]}" = "-ERR command line too long" ]
	[ "$(grep -c '^-ERR' "$IO/out")" -eq 1 ] # one -ERR for the whole line
	[ "${lines[2]}" = "+OK capability list follows" ]
	[ "${lines[-1]}" = "+OK bye" ]
}

@test "hostile: 16 MB without any newline, then end of input: the server just ends" {
	head -c 16777216 /dev/zero | tr '\0' A | traced_session
	[ "$(session_status)" -eq 1 ] # no QUIT
	run responses
	[[ "${lines[0]}" =~ ^\+OK\ .*ready$ ]]
	# Nothing of the line was taken for a command.
	[ "$(grep -c '^+OK' "$IO/out")" -eq 1 ]
}

@test "hostile: 100,000 pipelined commands are all answered, in order" {
	perl -e 'print "USER alice\r\nPASS secret\r\n";
		print "LIST ", $_ % 2 + 1, "\r\n" for 1..100000; print "QUIT\r\n"' | traced_session
	[ "$(session_status)" -eq 0 ]
	# greeting, USER, PASS, 100,000 LIST answers, QUIT
	[ "$(responses | wc -l)" -eq 100004 ]
	# LIST n answers "+OK n size": numbers alternate 2, 1, 2, ... as sent.
	responses | sed -n '4,100003p' | awk '
		{ want = NR % 2 + 1 }
		$1 != "+OK" || $2 != want { bad++ }
		END { exit bad > 0 }'
	[ "$(responses | tail -n 1)" = "+OK bye, 0 messages deleted, 2 left" ]
}

@test "hostile: 1 MB of binary garbage gets only +OK/-ERR lines, and a QUIT after it works" {
	{ garbage 1048576; printf '\r\nQUIT\r\n'; } | traced_session
	run responses
	[ "${#lines[@]}" -gt 2 ]
	# Every response is a status line (none of the garbage is echoed back).
	[ -z "$(responses | grep -Ev '^(\+OK|-ERR)( |$)')" ]
	[ "${lines[-1]}" = "+OK bye" ]
	[ "$(session_status)" -eq 0 ]
}

@test "hostile: a slow client dribbling bytes with pauses is still answered" {
	{
		printf 'US'; sleep 0.3
		printf 'ER ali'; sleep 0.3
		printf 'ce\r'; sleep 0.3
		printf '\nPASS secret\r\nST'; sleep 0.3
		printf 'AT\r\n'; sleep 0.3
		printf 'QUIT\r\n'
	} | traced_session
	[ "$(session_status)" -eq 0 ]
	run responses
	[ "${lines[1]}" = "+OK send PASS" ]
	[[ "${lines[2]}" == "+OK maildrop has 2 messages"* ]]
	[[ "${lines[3]}" =~ ^\+OK\ 2\ [0-9]+$ ]]
	[[ "${lines[4]}" == "+OK bye"* ]]
}

# ---- logins ----

@test "hostile: 50 failed logins in one connection: closed after the third" {
	for _ in $(seq 50); do printf 'USER alice\r\nPASS wrong\r\n'; done | traced_session
	[ "$(session_status)" -ne 0 ]
	run responses
	# greeting, then three USER/PASS pairs; nothing after the third -ERR.
	[ "${#lines[@]}" -eq 7 ]
	[ "$(grep -c '^-ERR \[AUTH\]' "$IO/out")" -eq 3 ]
	[[ "${lines[6]}" == *"closing"* ]]
	[ "$(grep -c 'login failed' "$IO/err")" -eq 3 ]
}

@test "hostile: failures count across USER/PASS and AUTH PLAIN alike" {
	bad_plain=$(printf '\0alice\0wrong' | base64)
	{
		printf 'USER alice\r\nPASS wrong\r\n'
		printf 'AUTH PLAIN %s\r\n' "$bad_plain"
		printf 'AUTH PLAIN !!!!\r\n'
		printf 'USER alice\r\nPASS secret\r\n'
	} | traced_session
	[ "$(session_status)" -ne 0 ]
	[ "$(grep -c '^-ERR \[AUTH\]' "$IO/out")" -eq 3 ]
	refute grep -q 'maildrop has' "$IO/out"
}

# The -ERR line a wrong password gets, for comparison.
wrong_password_answer() {
	printf 'USER alice\r\nPASS wrong\r\nQUIT\r\n' | pop3_raw | tr -d '\r' | sed -n 3p
}

# Nothing outside the spool (or in it) is created or changed.
world_listing() {
	(cd "$WORLD" && find . \( -path ./state -o -path ./io \) -prune -o \
		-printf '%p %s %T@\n' | sort)
}

@test "hostile: user names with ../, / and a leading dot never leave the spool" {
	# Even when the passwd file names them, and a file waits outside.
	hash=$(openssl passwd -6 secret)
	for name in ../victim ../../etc/victim spool/alice .alice a/b; do
		printf '%s:%s:%s:%s\n' "$name" "$hash" "$FIXTURE_UID" "$FIXTURE_GID" >>"$PASSWD"
	done
	printf 'From x@y Mon Nov 23 10:00:00 2026\n\nsecret mail\n' >"$WORLD/victim"
	give_to_fixture "$WORLD/victim"
	expected=$(wrong_password_answer)
	before=$(world_listing)
	for name in ../victim ../../etc/victim spool/alice .alice a/b /etc/passwd; do
		printf 'USER %s\r\nPASS secret\r\nRETR 1\r\nQUIT\r\n' "$name" | traced_session
		run responses
		[ "${lines[2]}" = "$expected" ]
		refute grep -q 'secret mail' "$IO/out"
		grep -q "login failed: user .*: invalid user name" "$IO/err"
	done
	[ "$before" = "$(world_listing)" ]
}

@test "hostile: control bytes in a user name -- refused as a command line; via AUTH PLAIN logged escaped" {
	expected=$(wrong_password_answer)
	# On the command line: refused before anything looks at the name.
	printf 'USER al\001ice\r\nPASS secret\r\nQUIT\r\n' | traced_session
	run responses
	[ "${lines[1]}" = "-ERR control characters in command line" ]
	[ "${lines[2]}" = "-ERR USER first" ]
	# In AUTH PLAIN the name reaches the login check: the same answer as a
	# wrong password; the log names it with the byte escaped, on one line.
	for name in $'al\001ice' $'alice\r\nforged' $'al\033[2Jice' $'alice\177'; do
		creds=$(printf '\0%s\0secret' "$name" | base64 -w0)
		printf 'AUTH PLAIN %s\r\nQUIT\r\n' "$creds" | traced_session
		run responses
		[ "${lines[1]}" = "$expected" ]
		grep -q 'login failed: user al.*: invalid user name' "$IO/err"
		# No raw control byte (nor a forged line) in the log.
		refute grep -q 'forged' <(grep -v 'login failed' "$IO/err" | grep -v '^[CS]: ')
		refute grep -qP '[\x00-\x08\x0b-\x1f\x7f]' "$IO/err"
	done
}

@test "hostile: a 300-character user name: too long for USER, refused by AUTH PLAIN, no file touched" {
	long=$(printf 'a%.0s' $(seq 300))
	before=$(world_listing)
	printf 'USER %s\r\nPASS secret\r\nQUIT\r\n' "$long" | traced_session
	run responses
	[ "${lines[1]}" = "-ERR command line too long" ]
	[ "${lines[2]}" = "-ERR USER first" ]
	# AUTH PLAIN's response line may be longer (RFC 5034 4), the name not.
	creds=$(printf '\0%s\0secret' "$long" | base64 -w0)
	printf 'AUTH PLAIN\r\n%s\r\nQUIT\r\n' "$creds" | traced_session
	run responses
	[ "${lines[1]}" = "+ " ]
	[[ "${lines[2]}" == "-ERR [AUTH] "* ]]
	# The longest name that fits (255 octets) is an unknown user, no more.
	name=$(printf 'b%.0s' $(seq 255))
	creds=$(printf '\0%s\0secret' "$name" | base64 -w0)
	printf 'AUTH PLAIN\r\n%s\r\nQUIT\r\n' "$creds" | traced_session
	run responses
	[ "${lines[2]}" = "$(wrong_password_answer)" ]
	grep -q 'login failed: user b*: unknown user' "$IO/err"
	[ "$before" = "$(world_listing)" ]
}

# ---- maildrops that are not plain files ----

@test "hostile: a maildrop that is a symlink to another file is not followed; the target is untouched" {
	printf 'From x@y Mon Nov 23 10:00:00 2026\n\nsomeone else\x27s mail\n' >"$WORLD/other"
	give_to_fixture "$WORLD/other"
	cp -p "$WORLD/other" "$WORLD/other.orig"
	rm "$SPOOL/alice"
	ln -s "$WORLD/other" "$SPOOL/alice"
	printf 'USER alice\r\nPASS secret\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n' | traced_session
	run responses
	[[ "${lines[2]}" == "-ERR [SYS/PERM] "* ]]
	[ "${#lines[@]}" -eq 3 ] # the session ends there
	refute grep -q "else's mail" "$IO/out"
	cmp "$WORLD/other" "$WORLD/other.orig"
	[ "$(stat -c %Y "$WORLD/other")" = "$(stat -c %Y "$WORLD/other.orig")" ]
	[ -L "$SPOOL/alice" ]
}

@test "hostile: a maildrop that is a FIFO is refused at once, without hanging" {
	rm "$SPOOL/alice"
	mkfifo "$SPOOL/alice"
	give_to_fixture "$SPOOL/alice"
	printf 'USER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' | traced_session
	run responses
	[[ "${lines[2]}" == "-ERR [SYS/PERM] "* ]]
	[ -p "$SPOOL/alice" ]
}

@test "hostile: a maildrop that is a directory is refused, without hanging" {
	rm "$SPOOL/alice"
	mkdir "$SPOOL/alice"
	give_to_fixture "$SPOOL/alice"
	printf 'USER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' | traced_session
	run responses
	# retrying will not help: [SYS/PERM], as for a FIFO or a symlink
	[[ "${lines[2]}" == "-ERR [SYS/PERM] "* ]]
	[ "${#lines[@]}" -eq 3 ]
	[ -d "$SPOOL/alice" ]
}

# ---- a 50 MB message ----

@test "hostile: a client closing mid-RETR of a 50 MB message: the server exits, the maildrop is unchanged" {
	big_mbox
	sum=$(sha256sum <"$SPOOL/alice")
	# DELE 1 first: an update now would show.  The client reads 1 MB of
	# the RETR, then goes away.
	mapfile -t args < <(pop3_args)
	printf 'USER alice\r\nPASS secret\r\nDELE 1\r\nRETR 2\r\nQUIT\r\n' |
		timeout 60 "$POP3" "${args[@]}" --debug 2>"$IO/err" |
		head -c 1048576 >/dev/null
	server_status=${PIPESTATUS[1]}
	# It ended by itself (not by timeout's 124), not by a signal, and
	# without the UPDATE only QUIT may start.
	[ "$server_status" -eq 1 ]
	[ "$(sha256sum <"$SPOOL/alice")" = "$sum" ]
	grep -q 'client went away' "$IO/err"
}

@test "hostile: RETR of a 50 MB message keeps peak memory well under 10 MB" {
	[ -x /usr/bin/time ] || skip "GNU time (/usr/bin/time) is not installed"
	sanitized && skip "a sanitizer build: its shadow memory and quarantine dwarf the server's own"
	big_mbox
	mapfile -t args < <(pop3_args)
	printf 'USER alice\r\nPASS secret\r\nRETR 2\r\nQUIT\r\n' |
		/usr/bin/time -f %M -o "$IO/rss" "$POP3" "${args[@]}" >"$IO/out"
	# The message arrived whole (50 MB of lines, as CRLF: 100 octets each).
	[ "$(grep -c '^x' "$IO/out")" -eq 524288 ]
	rss=$(tail -n 1 "$IO/rss")
	echo "max RSS: $rss KiB"
	[ "$rss" -lt 8192 ]
}

@test "hostile: a 16 MB line keeps peak memory small too" {
	[ -x /usr/bin/time ] || skip "GNU time (/usr/bin/time) is not installed"
	sanitized && skip "a sanitizer build: its shadow memory and quarantine dwarf the server's own"
	mapfile -t args < <(pop3_args)
	{ head -c 16777216 /dev/zero | tr '\0' A; printf '\r\nQUIT\r\n'; } |
		/usr/bin/time -f %M -o "$IO/rss" "$POP3" "${args[@]}" >"$IO/out"
	rss=$(tail -n 1 "$IO/rss")
	echo "max RSS: $rss KiB"
	[ "$rss" -lt 8192 ]
}

@test "hostile: a client that sends but never reads is dropped after the idle timeout" {
	big_mbox
	mapfile -t args < <(pop3_args)
	# On a socket, as from a superserver: the server's writes fill the
	# socket buffers and block.  --timeout=2 must bound that wait too.
	run timeout 60 python3 - "$POP3" "${args[@]}" --timeout=2 <<'PY'
import socket, subprocess, sys, time
ours, theirs = socket.socketpair()
p = subprocess.Popen(sys.argv[1:], stdin=theirs, stdout=theirs)
theirs.close()
ours.sendall(b"USER alice\r\nPASS secret\r\nRETR 2\r\nRETR 2\r\nQUIT\r\n")
start = time.monotonic()
try:
    status = p.wait(timeout=30)
except subprocess.TimeoutExpired:
    p.kill()
    sys.exit("still running after 30 s")
print(f"exit {status} after {time.monotonic() - start:.1f} s")
PY
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "exit 1 after "* ]]
}

# ---- what a sender can put in a message ----

@test "hostile: mail with a long X-UIDL arriving after a session saw a short one is served (no heap overflow)" {
	# The first session saves an index whose X-UIDL pool holds "a" and
	# nothing more; anyone can then mail the user messages whose X-UIDL
	# headers are 70 octets long, which the next session adds to that pool.
	printf 'From a@b Mon Nov 23 10:00:00 2026\nX-UIDL: a\n\nbody\n\n' | mbox alice
	run pop3 -- "USER alice" "PASS secret" "UIDL" "QUIT"
	[ "${lines[4]}" = $'1 a\r' ]
	long=$(printf 'Z%.0s' $(seq 70))
	for i in 1 2 3 4 5 6; do
		printf 'From evil@example.org Mon Nov 23 10:0%s:00 2026\nX-UIDL: %s%s\n\nhi\n\n' \
			"$i" "${long:1}" "$i" >>"$SPOOL/alice"
	done
	printf 'USER alice\r\nPASS secret\r\nUIDL\r\nQUIT\r\n' | traced_session
	[ "$(session_status)" -eq 0 ] # not killed by SIGSEGV or SIGABRT (139, 134)
	run responses
	[[ "${lines[2]}" == "+OK maildrop has 7 messages"* ]]
	[ "${lines[10]}" = "7 ${long:1}6" ]
}
