#!/usr/bin/env bats
# The command line: administrators and scripts rely
# on these.  A bad option or value: one line on stderr naming it, exit
# status 2, nothing on stdout (under inetd stdout is the client).

load helpers
bats_require_minimum_version 1.5.0

FROM_LINE='From sender@example.org Mon Nov 23 10:00:00 2026'

setup_file() { SECRET_HASH=$(openssl passwd -6 secret); export SECRET_HASH; }

setup() {
	setup_world
	add_user_hash alice "$SECRET_HASH"
	printf '%s\nSubject: hi\n\nhello\n' "$FROM_LINE" | mbox alice
}
teardown() { teardown_world; }

# usage_error SUBJECT OPTION...: the program refuses OPTION... with one
# stderr line that names SUBJECT, exit status 2, and an empty stdout, even
# with a client waiting on stdin.
usage_error() {
	local subject=$1
	shift
	run --separate-stderr "$POP3" "$@" < <(printf 'USER alice\r\nPASS secret\r\nQUIT\r\n')
	[ "$status" -eq 2 ] || { echo "$* -> status $status"; return 1; }
	[ -z "$output" ] || { echo "$* -> stdout: $output"; return 1; }
	[ "${#stderr_lines[@]}" -eq 1 ] || { echo "$* -> stderr: $stderr"; return 1; }
	[[ "$stderr" == *"$subject"* ]] || { echo "$* -> '$stderr' does not name '$subject'"; return 1; }
}

@test "options: an unknown option is named on stderr, exit 2, nothing on stdout" {
	usage_error --bogus --bogus
	usage_error -x -x
	usage_error --spoo1=/tmp --spoo1=/tmp
	usage_error --debug=yes --debug=yes
	# the options before it are fine, and change nothing
	usage_error --frobnicate --spool="$SPOOL" --frobnicate
}

@test "options: a bad value is named on stderr, exit 2, nothing on stdout" {
	usage_error abc --timeout=abc
	usage_error "'0'" --timeout=0
	usage_error -5 --timeout=-5
	usage_error +5 -t +5
	usage_error 5s -t 5s
	usage_error 99999999999999999999 --timeout=99999999999999999999
	usage_error x --fail-delay=x
	usage_error -1 --fail-delay=-1
	usage_error "''" --fail-delay=
	usage_error "''" --spool=
}

@test "options: a missing value is named on stderr, exit 2, nothing on stdout" {
	local o
	for o in -s --spool -p --passwd -b --blocklist -t --timeout --fail-delay; do
		usage_error "$o" "$o"
	done
}

@test "options: an unexpected argument is named on stderr, exit 2" {
	usage_error stray-word --spool="$SPOOL" stray-word
}

@test "options: --help and -h print the usage on stdout and exit 0 without a session" {
	local o
	for o in --help -h; do
		run --separate-stderr "$POP3" "$o" < <(printf 'USER alice\r\n')
		[ "$status" -eq 0 ]
		[ -z "$stderr" ]
		[[ "${lines[0]}" == usage:\ pop3-stdio* ]]
		[[ "$output" != *"+OK"* ]]
		local want
		for want in '-s, --spool=DIR' '-p, --passwd=FILE' '-b, --blocklist=FILE' \
			'-t, --timeout=SECS' '--fail-delay=SECS' '-d, --debug' '-V, --version' \
			'-h, --help' '/var/mail' '/etc/pop3-stdio/blocked-users' 'default 600' 'default 2'; do
			[[ "$output" == *"$want"* ]] || { echo "$o: no '$want'"; false; }
		done
	done
}

# man_defaults: "option value" for every option the man page states a
# "Default:" for, from its .It line and the value after "Default:".
man_defaults() {
	awk '
		/^\.It / { opt = ""; if (match($0, /Fl Fl [a-z-]+/)) opt = substr($0, RSTART + 6, RLENGTH - 6) }
		/^Default: / { v = substr($0, 10); sub(/\.$/, "", v); if (opt != "") print opt, v; next }
		/^Default:$/ { getline v; sub(/^\.(Pa|Ql) /, "", v); sub(/ \.$/, "", v); if (opt != "") print opt, v }
	' "$BATS_TEST_DIRNAME/../man/pop3-stdio.8"
}

@test "options: the defaults and ranges the man page states are the ones --help and the parser use" {
	run "$POP3" --help
	[ "$status" -eq 0 ]
	local help=$output opt value n=0
	while read -r opt value; do
		local line
		line=$(printf '%s\n' "$help" | grep -e "--$opt=") || { echo "--help has no --$opt"; false; }
		[[ "$line" == *"(default $value)"* ]] || { echo "man: --$opt default $value; --help: $line"; false; }
		n=$((n + 1))
	done < <(man_defaults)
	# spool, blocklist, chroot, fail-delay, prelogin-user, timeout
	[ "$n" -eq 6 ]
	# "(1 to 86400)" and "(0 to 3600)": the ends are taken, one more is not.
	local range lo hi
	for opt in timeout fail-delay; do
		range=$(sed -n "/^\.It .*Fl Fl $opt/,/^\.It /s/^\.Pq \([0-9]*\) to \([0-9]*\)$/\1 \2/p" \
			"$BATS_TEST_DIRNAME/../man/pop3-stdio.8")
		read -r lo hi <<<"$range"
		[ -n "$hi" ]
		"$POP3" "--$opt=$lo" --version >/dev/null
		"$POP3" "--$opt=$hi" --version >/dev/null
		run "$POP3" "--$opt=$((hi + 1))" --version
		[ "$status" -eq 2 ]
	done
	run "$POP3" --timeout=0 --version
	[ "$status" -eq 2 ]
}

@test "options: --version and -V print the version on stdout and exit 0" {
	local o
	for o in --version -V; do
		run --separate-stderr "$POP3" "$o" </dev/null
		[ "$status" -eq 0 ]
		[ -z "$stderr" ]
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" =~ ^pop3-stdio\ [0-9]+\.[0-9]+(\.[0-9]+)?$ ]]
	done
}

@test "options: short options with separate values work like the long ones" {
	local h
	h=$(head -n 1 "$PASSWD")
	printf '%s\n' "$h" >"$WORLD/other-passwd"
	: >"$WORLD/other-blocklist"
	printf 'USER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' |
		"$POP3" -s "$SPOOL" -p "$WORLD/other-passwd" -b "$WORLD/other-blocklist" -t 30 -d \
			--state-dir "$STATE" --fail-delay 0 >"$WORLD/short" 2>"$WORLD/err"
	printf 'USER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' |
		"$POP3" --spool "$SPOOL" --passwd "$WORLD/other-passwd" --blocklist "$WORLD/other-blocklist" \
			--timeout 30 --state-dir="$STATE" --fail-delay=0 >"$WORLD/long"
	same_bytes "$WORLD/long" "$WORLD/short"
	grep -q $'^+OK 1 22\r$' "$WORLD/short"
	grep -qx 'C: STAT' "$WORLD/err" # -d traced
}

@test "options: -s chooses the spool, -p the users, -b the blocked users" {
	mkdir "$WORLD/spool2"
	printf '%s\nSubject: other spool\n\nx\n' "$FROM_LINE" >"$WORLD/spool2/alice"
	chmod 600 "$WORLD/spool2/alice"
	give_to_fixture "$WORLD/spool2"
	run pop3 -s "$WORLD/spool2" -- "USER alice" "PASS secret" "STAT" "QUIT"
	[ "${lines[3]}" = $'+OK 1 27\r' ]
	echo alice >"$WORLD/block2"
	run pop3 -b "$WORLD/block2" -- "USER alice" "PASS secret" "QUIT"
	[ "${lines[2]}" = $'-ERR [AUTH] authentication failed\r' ]
	: >"$WORLD/passwd2"
	run pop3 -p "$WORLD/passwd2" -- "USER alice" "PASS secret" "QUIT"
	[ "${lines[2]}" = $'-ERR [AUTH] authentication failed\r' ]
}

@test "options: --timeout closes an idle connection after that many seconds, in AUTHORIZATION too" {
	# A client that connects and says nothing; its end of the fifo stays
	# open until it is killed, 10 s later at most.
	mkfifo "$WORLD/in"
	exec sleep 10 >"$WORLD/in" 3>&- &
	local writer=$! start end
	start=$(date +%s%N)
	pop3_raw --timeout=1 <"$WORLD/in" >"$WORLD/out" || true
	end=$(date +%s%N)
	kill "$writer"
	[ "$(sed -n 2p "$WORLD/out")" = $'-ERR disconnected for inactivity\r' ]
	[ "$(wc -l <"$WORLD/out")" -eq 2 ]
	[ $(((end - start) / 1000000)) -ge 900 ]
	[ $(((end - start) / 1000000)) -lt 9000 ]
}

@test "options: without --debug a session writes nothing on stderr" {
	# Under xinetd stderr can be the client's socket: stray text there
	# would corrupt the dialogue.
	run --separate-stderr pop3 -- "USER alice" "PASS wrong" "USER alice" "PASS secret" \
		"RETR 1" "DELE 1" "QUIT"
	[ "${lines[-1]}" = $'+OK bye, 1 messages deleted, 0 left\r' ]
	[ -z "$stderr" ]
}

@test "options: --debug traces every command and response on stderr, stdout stays the protocol" {
	pop3 -d -- "USER alice" "PASS secret" "STAT" "NOOP" "QUIT" >"$WORLD/out" 2>"$WORLD/err"
	pop3 -- "USER alice" "PASS secret" "STAT" "NOOP" "QUIT" >"$WORLD/plain"
	same_bytes "$WORLD/plain" "$WORLD/out"
	grep -x 'C: \(USER alice\|PASS \*\*\*\*\*\*\*\*\|STAT\|NOOP\|QUIT\)' "$WORLD/err" >"$WORLD/commands"
	[ "$(wc -l <"$WORLD/commands")" -eq 5 ]
	grep -qx 'S: +OK 1 22' "$WORLD/err"
	grep -qx 'S: +OK nothing done' "$WORLD/err"
	grep -q 'session end: user alice: QUIT; retrieved 0 messages (0 octets), deleted 0' "$WORLD/err"
}
