#!/usr/bin/env bats
# One POP session per maildrop, and someone else rewriting the mbox: a
# second session gets [IN-USE] at login while deliveries go on;
# the lock dies with its process; a local mail reader's expunge during a
# session (in place, or a new file renamed over the old) makes QUIT answer
# -ERR [SYS/TEMP] and lose nothing, and RETR of a moved message -ERR rather
# than wrong bytes; a dropped connection after DELE deletes nothing.

load helpers
load tools/integrity

setup() {
	setup_world
	add_user alice secret
	mkmaildrop --count 10 --bytes 300000 --seed 31 "$WORLD/orig"
	mbox alice <"$WORLD/orig"
	mkdir "$WORLD/new"
	mkmaildrop --count 2 --bytes 20000 --prefix d --seed 32 --split "$WORLD/new" \
		"$WORLD/new.mbox"
	mboxcheck manifest "$WORLD/orig" "$WORLD/new.mbox" >"$WORLD/manifest"
	: >"$WORLD/deleted"
}

teardown() { session_cleanup; teardown_world; }

# verify applied|unapplied [MANIFEST]: mboxcheck over alice's maildrop.
verify() {
	mboxcheck verify --manifest "${2:-$WORLD/manifest}" --deleted "$WORLD/deleted" \
		--expect "$1" "$SPOOL/alice"
}

@test "sessions: a second session gets -ERR [IN-USE] at PASS at once; deliveries meanwhile are not blocked" {
	session_start one
	session_login one
	session_send one "DELE 2"
	session_expect one '^\+OK'
	local t0=$SECONDS
	run pop3 -- "USER alice" "PASS secret" "STAT" "QUIT"
	[ $((SECONDS - t0)) -lt 5 ]
	[[ "${lines[2]}" =~ ^-ERR\ \[IN-USE\]\  ]]
	[ "${#lines[@]}" -eq 3 ] # the session ended there
	# Both MDAs deliver within 10 s while the first session is open.
	t0=$SECONDS
	procmail_deliver "$SPOOL/alice" "$WORLD/new/d1"
	fcntl_append --timeout 10 "$SPOOL/alice" "$WORLD/new/d2"
	[ $((SECONDS - t0)) -lt 10 ]
	# The first session is undisturbed and its QUIT applies its deletion.
	session_send one STAT QUIT
	session_expect one '^\+OK 9 '
	session_expect one '^\+OK bye, 1 messages deleted'
	session_finish one
	echo m2 >"$WORLD/deleted"
	verify applied
	[ -z "$(state_files)" ]
	# The lock went with the session.
	run pop3 -- "USER alice" "PASS secret" "STAT" "QUIT"
	[[ "${lines[3]}" =~ ^\+OK\ 11\  ]]
}

@test "sessions: the session lock never outlives its process: kill -9, the next session gets in, nothing deleted" {
	session_start one
	session_login one
	session_send one "DELE 1" "DELE 10"
	session_expect one '^\+OK'
	session_expect one '^\+OK'
	run pop3 -- "USER alice" "PASS secret" "QUIT"
	[[ "${lines[2]}" =~ ^-ERR\ \[IN-USE\] ]]
	session_kill one
	[ "$SESSION_STATUS" -eq 137 ]
	run pop3 -- "USER alice" "PASS secret" "STAT" "QUIT"
	[[ "${lines[2]}" =~ ^\+OK\ maildrop\ has\ 10\ messages ]]
	[[ "${lines[4]}" =~ ^\+OK\ bye ]]
	cmp "$WORLD/orig" "$SPOOL/alice"
	[ -z "$(state_files)" ]
}

# changed_during_session ACTION [--rename]: a session indexes the maildrop;
# a local mail reader does ACTION (expunge m2, or mark-read m2: a Status
# header added, so every later message moves) in place, or with --rename
# through a new file; an MDA delivers d1.  Then RETR 1 (m1 did not move)
# must send m1's exact bytes; RETR 2 and 3 (changed, gone or moved) must
# answer -ERR or send, from the old file, their exact old bytes, never
# anything else (which ones were sent is in $RETRIEVED).  QUIT after
# DELE 3 must answer -ERR [SYS/TEMP] and leave the reader's file plus d1.
changed_during_session() {
	RETRIEVED=
	session_start one
	session_login one
	"$PYTHON" "$TOOLS/mailreader.py" "$@" "$SPOOL/alice" m2
	cp "$SPOOL/alice" "$WORLD/changed"
	fcntl_append "$SPOOL/alice" "$WORLD/new/d1"
	local n
	for n in 1 2 3; do
		session_send one "RETR $n"
		session_read one
		if [[ "$LINE" =~ ^\+OK ]]; then
			# Lockstep: nothing but this answer is in the pipe, so head
			# cannot read into the next one.
			mboxcheck retr "$WORLD/orig" "m$n" >"$WORLD/expected"
			head -c "$(stat -c %s "$WORLD/expected")" <&"${SESSION_OUT[one]}" \
				>"$WORLD/got"
			cmp "$WORLD/expected" "$WORLD/got" || {
				echo "RETR $n sent wrong bytes" >&2
				return 1
			}
			RETRIEVED+=" $n"
		else
			[[ "$LINE" =~ ^-ERR ]]
		fi
	done
	session_send one "DELE 3" "QUIT"
	session_expect one '^\+OK'
	session_expect one '^-ERR \[SYS/TEMP\] '
	session_finish one
	# Nothing was applied: the file is the reader's result plus d1.
	cat "$WORLD/changed" "$WORLD/new/d1" | cmp - "$SPOOL/alice"
	[ -z "$(state_files)" ]
	# The next session sees it all and can delete.
	run pop3 -- "USER alice" "PASS secret" "DELE 3" "QUIT"
	echo "$output" >&2
	[[ "${lines[4]}" =~ ^\+OK\ bye,\ 1\ messages\ deleted ]]
}

@test "sessions: mbox expunged in place during the session: RETR of a moved message -ERR, QUIT -ERR [SYS/TEMP], nothing lost" {
	changed_during_session expunge
	# m1 did not move; m2 is gone and m3 moved: never served.
	[ "$RETRIEVED" = " 1" ]
	# m2 expunged by the reader, m4 (the third message now) by the session.
	printf '%s\n' m2 m4 >"$WORLD/deleted"
	head -n -1 "$WORLD/manifest" >"$WORLD/manifest.d1"
	verify applied "$WORLD/manifest.d1"
}

@test "sessions: a message marked read in place during the session (later ones move): RETR -ERR, QUIT -ERR [SYS/TEMP], nothing lost" {
	changed_during_session mark-read
	[ "$RETRIEVED" = " 1" ]
	# m2 now has a Status header: the manifest of the reader's file.
	mboxcheck manifest "$WORLD/changed" "$WORLD/new/d1" >"$WORLD/manifest.changed"
	echo m3 >"$WORLD/deleted"
	verify applied "$WORLD/manifest.changed"
}

@test "sessions: mbox replaced by rename() during the session: QUIT -ERR [SYS/TEMP], the new file untouched, nothing lost" {
	changed_during_session expunge --rename
	# The session still reads the file it opened: RETR may serve its old
	# bytes (checked exact) or refuse; the new inode was not touched.
	printf '%s\n' m2 m4 >"$WORLD/deleted"
	head -n -1 "$WORLD/manifest" >"$WORLD/manifest.d1"
	verify applied "$WORLD/manifest.d1"
}

@test "sessions: mbox rewritten through rename() with a message marked read: QUIT -ERR [SYS/TEMP], nothing lost" {
	changed_during_session mark-read --rename
	mboxcheck manifest "$WORLD/changed" "$WORLD/new/d1" >"$WORLD/manifest.changed"
	echo m3 >"$WORLD/deleted"
	verify applied "$WORLD/manifest.changed"
}

@test "sessions: mbox replaced by rename() with the very same bytes (only the inode differs): QUIT -ERR [SYS/TEMP]" {
	changed_during_session rewrite --rename
	cmp "$WORLD/changed" "$WORLD/orig"
	echo m3 >"$WORLD/deleted"
	head -n -1 "$WORLD/manifest" >"$WORLD/manifest.d1"
	verify applied "$WORLD/manifest.d1"
}

@test "sessions: a dropped connection after DELE deletes nothing" {
	session_start one
	session_login one
	session_send one "DELE 1" "DELE 2" "DELE 10"
	session_expect one '^\+OK'
	session_expect one '^\+OK'
	session_expect one '^\+OK'
	session_finish one # the client hangs up without QUIT
	[ ! -s "$WORLD/session.one/rest" ]
	cmp "$WORLD/orig" "$SPOOL/alice"
	[ -z "$(state_files)" ]
	run pop3 -- "USER alice" "PASS secret" "STAT" "QUIT"
	[[ "${lines[3]}" =~ ^\+OK\ 10\  ]]
}

@test "sessions: a client that vanishes while a message is sent after DELE deletes nothing" {
	session_start one
	session_login one
	session_send one "DELE 1"
	session_expect one '^\+OK'
	# The client stops reading: the answer to RETR cannot be written, and
	# the session must end on its own, without UPDATE.
	local fd=${SESSION_OUT[one]}
	exec {fd}<&-
	session_send one "RETR 10"
	session_wait one
	echo "exit status $SESSION_STATUS" >&2
	# 1, as for every end but QUIT: not 0 (an UPDATE), not 137 (it had to
	# be killed), not 141 (SIGPIPE).
	[ "$SESSION_STATUS" -eq 1 ]
	cmp "$WORLD/orig" "$SPOOL/alice"
	[ -z "$(state_files)" ]
	run pop3 -- "USER alice" "PASS secret" "STAT" "QUIT"
	[[ "${lines[3]}" =~ ^\+OK\ 10\  ]]
}
