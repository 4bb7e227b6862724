#!/usr/bin/env bats
# Delivery during a session: mail that procmail (dotlock + fcntl)
# and a Postfix-style fcntl appender deliver while a session is open is not
# shown in that session, is never held up by it, and is in the maildrop
# afterwards byte for byte, whether the session ends with QUIT (with and
# without deletions), a dropped connection or a timeout; and deliveries
# racing sessions that QUIT with deletions, 20 times for each MDA.
# mboxcheck verifies every message, delivered or kept, exactly once,
# byte-exact, in order; the deleted ones gone.

load helpers
load tools/integrity

setup() {
	setup_world
	add_user alice secret
	# 12 messages (CRLF and LF ones, ">From " and "." lines, 8-bit bytes)
	# and 4 to deliver; the manifest lists them all, in that order.
	mkmaildrop --count 12 --bytes 600000 --seed 11 "$WORLD/orig"
	mbox alice <"$WORLD/orig"
	mkdir "$WORLD/new"
	mkmaildrop --count 4 --bytes 40000 --prefix d --seed 12 --split "$WORLD/new" \
		"$WORLD/new.mbox"
	mboxcheck manifest "$WORLD/orig" "$WORLD/new.mbox" >"$WORLD/manifest"
	: >"$WORLD/deleted"
}

teardown() { session_cleanup; teardown_world; }

# deliver_both: d1 by procmail, d2 by the fcntl appender, each within 10 s
# (a session holding the mbox would make them wait or time out).
deliver_both() {
	local t0=$SECONDS
	procmail_deliver "$SPOOL/alice" "$WORLD/new/d1"
	fcntl_append --timeout 10 "$SPOOL/alice" "$WORLD/new/d2"
	[ $((SECONDS - t0)) -lt 10 ]
}

# check_maildrop applied|unapplied: mboxcheck over alice's maildrop with the
# messages of $WORLD/deleted; d3 and d4 were not delivered.
check_maildrop() {
	head -n -2 "$WORLD/manifest" >"$WORLD/manifest.d12"
	mboxcheck verify --manifest "$WORLD/manifest.d12" --deleted "$WORLD/deleted" \
		--expect "$1" "$SPOOL/alice"
	[ -z "$(state_files)" ]
}

# open_and_look: a session in TRANSACTION over the 12 messages.
open_and_look() {
	session_start s "$@"
	session_login s
	[[ "$LINE" =~ ^\+OK\ maildrop\ has\ 12\ messages ]]
}

# view: the session's STAT and LIST answers, into $VIEW.
view() {
	session_send s STAT LIST
	session_expect s '^\+OK [0-9]+ [0-9]+$'
	VIEW=$LINE
	session_expect s '^\+OK [0-9]+ messages'
	# A LIST cut short (no line within the wait) fails, not ends the view.
	while session_read s || return 1; [ "$LINE" != . ]; do
		VIEW+=" | $LINE"
	done
}

# same_view BEFORE: the session still shows exactly BEFORE (a view), and
# no 13th message.
same_view() {
	local before=$1
	view
	[ "$VIEW" = "$before" ] || {
		echo "view changed: '$before' -> '$VIEW'" >&2
		return 1
	}
	session_send s "LIST 13" "UIDL 13" "RETR 13"
	session_expect s '^-ERR'
	session_expect s '^-ERR'
	session_expect s '^-ERR'
}

@test "delivery: mail delivered during a session is not shown in it (STAT, LIST) and survives QUIT without deletions" {
	open_and_look
	view
	local before=$VIEW
	[[ "$before" =~ ^\+OK\ 12\  ]]
	deliver_both
	same_view "$before"
	session_send s QUIT
	session_expect s '^\+OK bye, 0 messages deleted'
	session_finish s
	check_maildrop applied
}

@test "delivery: mail delivered during a session survives QUIT with deletions, byte-exact" {
	open_and_look
	session_send s "DELE 1" "DELE 6" "DELE 12"
	session_expect s '^\+OK'
	session_expect s '^\+OK'
	session_expect s '^\+OK'
	view
	local before=$VIEW
	[[ "$before" =~ ^\+OK\ 9\  ]]
	deliver_both
	same_view "$before"
	session_send s QUIT
	session_expect s '^\+OK bye, 3 messages deleted, 9 left'
	session_finish s
	printf '%s\n' m1 m6 m12 >"$WORLD/deleted"
	check_maildrop applied
	# The next session sees the delivered mail after the kept messages.
	run pop3 -- "USER alice" "PASS secret" "STAT" "QUIT"
	[[ "${lines[3]}" =~ ^\+OK\ 11\  ]]
}

@test "delivery: mail delivered during a session survives a dropped connection after DELE; nothing deleted" {
	open_and_look
	session_send s "DELE 1" "DELE 2"
	session_expect s '^\+OK'
	session_expect s '^\+OK'
	deliver_both
	session_finish s # end of input: the client hung up
	[ ! -s "$WORLD/session.s/rest" ]
	printf '%s\n' m1 m2 >"$WORLD/deleted"
	check_maildrop unapplied
}

@test "delivery: mail delivered during a session survives its idle timeout (--timeout=1); nothing deleted" {
	open_and_look --timeout=1
	session_send s "DELE 3"
	session_expect s '^\+OK'
	view
	local before=$VIEW
	# Keep the session busy while the MDAs deliver, then let it idle out.
	deliver_both 3>&- &
	local mdas=$!
	while kill -0 "$mdas" 2>/dev/null; do
		session_send s NOOP
		session_expect s '^\+OK'
		sleep 0.1
	done
	wait "$mdas"
	same_view "$before"
	session_expect s '^-ERR disconnected for inactivity'
	session_finish s
	echo m3 >"$WORLD/deleted"
	check_maildrop unapplied
}

@test "delivery: a delivery caught half-written at QUIT is waited for, then kept whole" {
	local size
	size=$(stat -c %s "$SPOOL/alice")
	open_and_look
	session_send s "DELE 1" "DELE 2"
	session_expect s '^\+OK'
	session_expect s '^\+OK'
	# The appender writes half of d1, holds its fcntl lock 2 s, writes the
	# rest where the first half ended (it keeps the offset, as an MDA that
	# truncates back on failure does).  QUIT comes while the half is in the
	# file: the update must wait for the lock.
	fcntl_append --pause-mid 2 --at-locked-end "$SPOOL/alice" "$WORLD/new/d1" 3>&- &
	local fa=$!
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(stat -c %s "$SPOOL/alice")" -gt "$size" ] && break
		sleep 0.05
	done
	[ "$(stat -c %s "$SPOOL/alice")" -gt "$size" ]
	session_send s QUIT
	session_expect s '^\+OK bye, 2 messages deleted'
	session_finish s
	wait "$fa"
	fcntl_append "$SPOOL/alice" "$WORLD/new/d2"
	printf '%s\n' m1 m2 >"$WORLD/deleted"
	check_maildrop applied
}

# race MDA: 20 rounds.  In each, a session logs in (its scan is done),
# MDA starts delivering 3 messages at random moments, and after a random
# pause the session deletes its 1st and 3rd message and QUITs: the update
# runs before, between or after the deliveries, or while one waits for
# the lock.  After each round, mboxcheck: every delivery so far there,
# byte-exact, after the kept messages; every deletion so far done;
# nothing twice.
race() {
	local mda=$1 round n=0 present=() i landed spread="" window=300 t0 pause
	mkmaildrop --count 200 --bytes 4000000 --seed 21 "$WORLD/big"
	mbox alice <"$WORLD/big"
	rm -rf "$WORLD/new"
	mkdir "$WORLD/new"
	mkmaildrop --count 60 --bytes 120000 --prefix r --seed 22 --split "$WORLD/new" \
		"$WORLD/new.mbox"
	mboxcheck manifest "$WORLD/big" "$WORLD/new.mbox" >"$WORLD/manifest"
	for ((i = 1; i <= 200; i++)); do present+=("m$i"); done
	: >"$WORLD/deleted"
	for ((round = 1; round <= 20; round++)); do
		session_start "r$round"
		session_login "r$round" 2>/dev/null
		t0=$(date +%s%N)
		(
			for i in 1 2 3; do
				sleep "0.0$((RANDOM % 10))"
				"$mda" "$SPOOL/alice" "$WORLD/new/r$((n + i))" || exit 1
			done
		) 3>&- &
		local mda_pid=$!
		# The QUIT falls anywhere in the time the last round's deliveries
		# took, whatever the speed of the machine.
		pause=$((RANDOM % window))
		sleep "$((pause / 1000)).$(printf %03d $((pause % 1000)))"
		session_send "r$round" "DELE 1" "DELE 3" "QUIT"
		session_expect "r$round" '^\+OK message 1 deleted' 2>/dev/null
		session_expect "r$round" '^\+OK message 3 deleted' 2>/dev/null
		session_expect "r$round" '^\+OK bye, 2 messages deleted' 2>/dev/null || {
			echo "round $round: QUIT answered '$LINE'" >&2
			return 1
		}
		# How many of this round's deliveries were in when QUIT was done.
		landed=$(grep -c '^X-Test-Id: r' "$SPOOL/alice" || true)
		spread+="$((landed - n)) "
		session_finish "r$round"
		wait "$mda_pid"
		window=$((($(date +%s%N) - t0) / 1000000 + 1))
		printf '%s\n' "${present[0]}" "${present[2]}" >>"$WORLD/deleted"
		present=("${present[1]}" "${present[@]:3}")
		n=$((n + 3))
		head -n $((200 + n)) "$WORLD/manifest" >"$WORLD/manifest.now"
		mboxcheck verify --manifest "$WORLD/manifest.now" --deleted "$WORLD/deleted" \
			"$SPOOL/alice" || {
			echo "round $round failed" >&2
			return 1
		}
		[ -z "$(state_files)" ]
	done
	mboxcheck verify --manifest "$WORLD/manifest.now" --deleted "$WORLD/deleted" \
		"$SPOOL/alice"
	[ "$(wc -l <"$WORLD/deleted")" -eq 40 ]
	echo "# $mda: deliveries in when QUIT was answered, per round: $spread" >&3
}

@test "delivery: procmail delivering while sessions QUIT with deletions, 20 races: nothing lost, nothing twice" {
	race procmail_deliver
	[ ! -e "$SPOOL/alice.lock" ]
}

@test "delivery: an fcntl-locking appender racing sessions that QUIT with deletions, 20 races" {
	race fcntl_append
}
