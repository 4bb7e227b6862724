#!/usr/bin/env bats
# Disk full or quota hit: when the update cannot be written --
# it would cross a file-size limit (ulimit -f), or a write fails with ENOSPC
# (a full tmpfs holding the spool and the state directory) -- QUIT answers
# -ERR [SYS/TEMP], the maildrop is byte for byte what it was plus the mail
# delivered meanwhile, and no journal or temporary file is left; the next
# session works.
#
# journal.c compares the update's writes with RLIMIT_FSIZE before making
# them, so under ulimit -f it refuses the update before any write could
# cross the limit (no EFBIG, no SIGXFSZ).  The maildrop index written at
# login has no such check: the last test makes that write really cross the
# limit, which only an ignored SIGXFSZ survives.

load helpers
load tools/integrity

setup() {
	setup_world
	add_user alice secret
	FS=
}

teardown() {
	session_cleanup
	if [ -n "$FS" ] && mountpoint -q "$FS"; then
		umount "$FS"
	fi
	teardown_world
}

# maildrop COUNT BYTES: alice's maildrop $WORLD/orig, one message to
# deliver ($WORLD/new/d1), and the manifest of both.
maildrop() {
	mkmaildrop --count "$1" --bytes "$2" --seed 41 "$WORLD/orig"
	mbox alice <"$WORLD/orig"
	mkdir -p "$WORLD/new"
	mkmaildrop --count 1 --bytes 3000 --prefix d --seed 42 --split "$WORLD/new" \
		"$WORLD/new.mbox"
	mboxcheck manifest "$WORLD/orig" "$WORLD/new.mbox" >"$WORLD/manifest"
}

# offset_of N: where message N starts in $WORLD/orig.
offset_of() {
	grep -b '^From ' "$WORLD/orig" | sed -n "${1}s/:.*//p"
}

# quit_fails_cleanly N...: a session (started by the caller) deletes
# messages N..., d1 is delivered, QUIT must answer -ERR [SYS/TEMP] and
# leave the maildrop exactly as it was plus d1, with no journal pending.
quit_fails_cleanly() {
	session_login s
	local n
	for n in "$@"; do
		session_send s "DELE $n"
		session_expect s '^\+OK'
	done
	fcntl_append "$SPOOL/alice" "$WORLD/new/d1"
	session_send s QUIT
	session_expect s '^-ERR \[SYS/TEMP\] '
	session_finish s
	# Not killed by SIGXFSZ: it answered, and exited by itself.
	[ "$SESSION_STATUS" -lt 128 ]
	cat "$WORLD/orig" "$WORLD/new/d1" | cmp - "$SPOOL/alice"
	[ -z "$(state_files)" ]
}

# next_session_works COUNT: without the limit, the maildrop opens with
# COUNT messages; deleting the first works, and mboxcheck agrees.
next_session_works() {
	run pop3 -- "USER alice" "PASS secret" "STAT" "DELE 1" "QUIT"
	echo "$output" >&2
	[[ "${lines[2]}" =~ ^\+OK\ maildrop\ has\ $1\ messages ]]
	[[ "${lines[5]}" =~ ^\+OK\ bye,\ 1\ messages\ deleted ]]
	echo m1 >"$WORLD/deleted"
	mboxcheck verify --manifest "$WORLD/manifest" --deleted "$WORLD/deleted" \
		"$SPOOL/alice"
	[ -z "$(state_files)" ]
}

# on_small_tmpfs: spool and state directory on a 4 MB tmpfs at $FS.
on_small_tmpfs() {
	is_root || skip "needs root to mount a tmpfs"
	FS="$WORLD/fs"
	mkdir "$FS"
	mount -t tmpfs -o size=4m,mode=755 tmpfs "$FS" ||
		skip "cannot mount a tmpfs here (no CAP_SYS_ADMIN?)"
	SPOOL="$FS/spool"
	STATE="$FS/state"
	mkdir "$SPOOL"
	give_to_fixture "$SPOOL"
}

@test "disk full: a file-size limit (ulimit -f) the journal would not fit under: QUIT -ERR [SYS/TEMP] before any write, maildrop as before plus the delivery" {
	maildrop 40 2000000
	# 1 MB: the journal for deleting message 1 is the whole 2 MB file, so
	# the update is refused before it writes anything.
	SESSION_ULIMIT_F=1024 session_start s
	quit_fails_cleanly 1 20
	next_session_works 41
}

@test "disk full: a file-size limit the journal fits under but the mbox does not: QUIT -ERR [SYS/TEMP], nothing half-written" {
	maildrop 40 2000000
	# 1.5 MB: message 30 starts at about 1.4 MB, so the journal (the rest
	# of the file) fits, but rewriting the mbox in place would cross the
	# limit: the update is refused before it writes anything.
	local start
	start=$(offset_of 30)
	[ "$start" -lt $((1536 * 1024)) ]
	[ $(($(stat -c %s "$WORLD/orig") - start)) -lt $((1536 * 1024)) ]
	SESSION_ULIMIT_F=1536 session_start s
	quit_fails_cleanly 30
	next_session_works 41
}

@test "disk full: a session under a file-size limit smaller than the mbox is still served" {
	maildrop 40 2000000
	SESSION_ULIMIT_F=1536 session_start s
	session_login s
	session_send s "DELE 30" QUIT
	session_expect s '^\+OK'
	session_read s
	session_finish s
	SESSION_ULIMIT_F=1536 session_start t
	session_login t
	session_send t QUIT
	session_expect t '^\+OK'
	session_finish t
}

@test "disk full: ENOSPC on a full tmpfs holding spool and state: QUIT -ERR [SYS/TEMP], maildrop as before plus the delivery" {
	on_small_tmpfs
	# 2.5 MB of mail: the journal for deleting message 1 would need as
	# much again, and only about 1.5 MB is free.
	maildrop 50 2500000
	session_start s
	quit_fails_cleanly 1 25 50
	df -k "$FS" >&2
	# Still full: the maildrop opens, all there, QUIT without deletions.
	run pop3 -- "USER alice" "PASS secret" "STAT" "QUIT"
	[[ "${lines[3]}" =~ ^\+OK\ 51\  ]]
	[[ "${lines[4]}" =~ ^\+OK\ bye ]]
	# Room made: deleting works again.
	mount -o remount,size=16m "$FS"
	next_session_works 51
}

@test "disk full: killed mid-apply, then a big delivery fills the disk before the replay: nothing lost" {
	on_small_tmpfs
	# 1.2 MB of mail, message 2 deleted: the journal (1.2 MB) fits.
	maildrop 20 1200000
	mkmaildrop --count 1 --bytes 1500000 --prefix d --seed 42 --split "$WORLD/new" \
		"$WORLD/new.mbox"
	mboxcheck manifest "$WORLD/orig" "$WORLD/new.mbox" >"$WORLD/manifest"
	local args cmds=("USER alice" "PASS secret" "DELE 2" "QUIT")
	mapfile -t args < <(pop3_args)
	# A dry run lists the crash points; then the same update from the
	# same maildrop, killed a quarter into the apply.
	printf '%s\r\n' "${cmds[@]}" | POP3_FAULT_TRACE=1 "$POP3_FAULT" "${args[@]}" \
		>"$WORLD/dry.out" 2>"$WORLD/dry.err"
	grep -q '^+OK bye' "$WORLD/dry.out"
	local apply blocks status=0
	apply=$(sed -n 's/^fault point \([0-9]*\): apply start$/\1/p' "$WORLD/dry.err")
	blocks=$(awk -v a="$apply" -F'[ :]' '$3 > a && /copy block$/' "$WORLD/dry.err" | wc -l)
	[ "$blocks" -ge 4 ]
	rm -f "$SPOOL/alice"
	mbox alice <"$WORLD/orig"
	printf '%s\r\n' "${cmds[@]}" |
		POP3_FAULT_KILL_AT=$((apply + 1 + blocks / 4)) "$POP3_FAULT" "${args[@]}" \
			>/dev/null 2>&1 || status=$?
	[ "$status" -eq 137 ]
	# 1.5 MB delivered: the replay's journal (old text + delivery) no
	# longer fits.
	fcntl_append "$SPOOL/alice" "$WORLD/new/d1"
	cp "$SPOOL/alice" "$WORLD/after-crash"
	df -k "$FS" >&2
	run pop3 -- "USER alice" "PASS secret" "STAT" "QUIT"
	echo "$output" >&2
	if [[ "${lines[2]}" =~ ^-ERR ]]; then
		# Refused: then nothing may have changed, and no temporary file
		# may be left; the pending journal stays for later.
		[[ "${lines[2]}" =~ ^-ERR\ \[SYS/TEMP\] ]]
		cmp "$WORLD/after-crash" "$SPOOL/alice"
		[ ! -e "$STATE/alice/journal.tmp" ]
		[ ! -e "$STATE/alice/journal.unusable" ]
	fi
	# The administrator makes room: the next session finishes it all.
	mount -o remount,size=16m "$FS"
	run pop3 -- "USER alice" "PASS secret" "STAT" "QUIT"
	echo "$output" >&2
	[[ "${lines[2]}" =~ ^\+OK\ maildrop\ has\ 20\ messages ]]
	echo m2 >"$WORLD/deleted"
	mboxcheck verify --manifest "$WORLD/manifest" --deleted "$WORLD/deleted" \
		"$SPOOL/alice"
	[ -z "$(state_files)" ]
}

# limited_session KB LINE...: one pipelined session (as pop3 does) under
# ulimit -f KB, with --debug; client bytes in $WORLD/limited.out, the
# trace and log lines in $WORLD/limited.err, the exit status in
# $LIMITED_STATUS.  The output goes through a pipe, so only files the
# server itself writes (and its small stderr) count against the limit.
limited_session() {
	local kb=$1 args
	shift
	mapfile -t args < <(pop3_args)
	printf '%s\r\n' "$@" |
		(ulimit -f "$kb" && exec "$POP3" "${args[@]}" --debug) \
			2>"$WORLD/limited.err" | cat >"$WORLD/limited.out"
	LIMITED_STATUS=${PIPESTATUS[1]}
	cat "$WORLD/limited.err" >&2
	echo "exit status $LIMITED_STATUS" >&2
}

@test "disk full: a write that crosses the file-size limit is an EFBIG error, not a SIGXFSZ kill: the session is served and exits by QUIT" {
	# 3000 messages, about 1.5 MB: the index the login writes to
	# STATE/alice/index.spare takes 64 bytes a message, about 190 KB, and
	# crosses a 100 KB limit (after a short write, the next write is past
	# it: the kernel sends SIGXFSZ and, ignored, the write fails with
	# EFBIG).  Nothing else is written: reading the maildrop is not limited,
	# and without deletions there is no update.
	mkmaildrop --count 3000 --seed 43 "$WORLD/orig"
	mbox alice <"$WORLD/orig"
	local cmds=("USER alice" "PASS secret" "STAT" "LIST 1" "LIST 3000" "UIDL 2"
		"UIDL 2999" "RETR 1" "TOP 3000 2" "RETR 1500" "NOOP" "QUIT")
	limited_session 100 "${cmds[@]}"
	# Killed by SIGXFSZ would be 153 (128 + 25), without an answer to PASS.
	[ "$LIMITED_STATUS" -eq 0 ]
	grep -q 'index: cannot write the index: File too large$' "$WORLD/limited.err"
	[ ! -e "$STATE/alice/index.spare" ]
	[ ! -e "$STATE/alice/index" ]
	cmp "$WORLD/orig" "$SPOOL/alice"
	# Every answer is what a session without the limit sends (its own state
	# directory, so that it scans the maildrop too and writes the index).
	STATE="$WORLD/state-unlimited" pop3 -- "${cmds[@]}" >"$WORLD/unlimited.out"
	[ -s "$WORLD/state-unlimited/alice/index" ]
	grep -q $'^+OK maildrop has 3000 messages' "$WORLD/unlimited.out"
	grep -q $'^+OK bye, 0 messages deleted, 3000 left\r$' "$WORLD/unlimited.out"
	after_greeting "$WORLD/unlimited.out" >"$WORLD/expected"
	after_greeting "$WORLD/limited.out" >"$WORLD/actual"
	same_bytes "$WORLD/expected" "$WORLD/actual"
	cmp "$WORLD/orig" "$SPOOL/alice"
}
