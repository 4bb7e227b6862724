# The kill series (sessions killed mid-update, then recovered), shared by
# integrity-kill.bats (a spool the serving user can write) and
# integrity-kill-rootspool.bats (Debian's /var/mail shape: a root-owned
# spool, the mbox owned by the user).
#
# setup_file builds one maildrop of 20,000 messages / 105 MB and DELE
# commands spread over all of it (the first message, every 150th, a run
# of adjacent ones, the last two), then runs the update once through
# tests/bin/pop3-stdio-fault with POP3_FAULT_TRACE=1 to learn the crash
# points it passes.  Each test copies the maildrop into a fresh world,
# kills an update at a chosen point, starts the next session (which must
# replay the journal), QUITs it, and checks the maildrop with mboxcheck.

KS_COUNT=20000
KS_BYTES=105000000

ks_setup_file() {
	KS="$BATS_FILE_TMPDIR"
	export KS
	# Both kill files of a run share one maildrop and manifest.
	local shared="${BATS_RUN_TMPDIR:-$KS}/integrity-master"
	if [ ! -f "$shared.man" ]; then
		mkmaildrop --count "$KS_COUNT" --bytes "$KS_BYTES" --seed 3 "$shared"
		mboxcheck manifest "$shared" >"$shared.tmp"
		mv "$shared.tmp" "$shared.man"
	fi
	ln -s "$shared" "$KS/master"
	ln -s "$shared.man" "$KS/master.man"
	local n spread=(1) windows=()
	# "spread": the first message, every 150th, a run of adjacent ones,
	# the last two.  The shift stays under a window (params.h MIN_WINDOW),
	# so the journal holds all the new text.
	for ((n = 150; n <= KS_COUNT; n += 150)); do spread+=("$n"); done
	spread+=(5001 5002 5003 5004 $((KS_COUNT - 1)) "$KS_COUNT")
	# "windows": every second of the first 2,000 as well: the shift grows
	# past a window after about 1,500 messages, so the journal holds only
	# that prefix and the rest moves in checkpointed windows.
	for ((n = 1; n <= 2000; n += 2)); do windows+=("$n"); done
	for ((n = 2100; n <= KS_COUNT; n += 150)); do windows+=("$n"); done
	windows+=(5001 5002 5003 5004 $((KS_COUNT - 1)) "$KS_COUNT")
	ks_setup
	ks_prepare_set spread "${spread[@]}"
	ks_prepare_set windows "${windows[@]}"
	ks_teardown
}

# ks_prepare_set NAME N...: the commands of an update deleting messages
# N..., the points it passes as traced ("n name"), and how long the
# update itself takes (QUIT to its answer), for the random kills.
ks_prepare_set() {
	local set="$KS/$1" n
	shift
	mkdir -p "$set"
	printf '%s\n' "USER alice" "PASS secret" >"$set/commands"
	: >"$set/deleted"
	for n in "$@"; do
		echo "DELE $n" >>"$set/commands"
		echo "m$n" >>"$set/deleted"
	done
	echo QUIT >>"$set/commands"
	echo $# >"$set/count"
	KSS=$set
	ks_install
	ks_session "$POP3_FAULT" POP3_FAULT_TRACE=1 >"$set/trace.out" 2>"$set/trace.err"
	grep -q '^+OK bye' "$set/trace.out"
	sed -n 's/^fault point \([0-9]*\): \(.*\)$/\1 \2/p' "$set/trace.err" >"$set/points"
	ks_install
	ks_timed_update >"$set/update_ms"
}

# ks_timed_update: the plain binary's update, timed from QUIT to its answer.
ks_timed_update() {
	local cmds start end i
	mapfile -t cmds <"$KSS/commands"
	session_start t
	session_send t "${cmds[@]:0:${#cmds[@]}-1}"
	for ((i = 0; i < ${#cmds[@]}; i++)); do # greeting, USER, PASS, DELEs
		session_read t >/dev/null 2>&1 || return 1
	done
	start=$(date +%s%N)
	session_send t QUIT
	session_read t >/dev/null 2>&1 || return 1
	end=$(date +%s%N)
	[[ "$LINE" =~ ^\+OK\ bye ]] || return 1
	session_finish t
	rm -rf "$WORLD/session.t"
	echo $(((end - start) / 1000000 + 1))
}

# ks_use NAME: the deletion set the following helpers work with.
ks_use() {
	KSS="$KS/$1"
	KS_DELETED=$(cat "$KSS/count")
	KS_UPDATE_MS=$(cat "$KSS/update_ms")
}

# ks_setup / ks_teardown: a world whose spool and state directory are on
# $INTEGRITY_FAST_DIR (default /dev/shm when it has 1 GB free, else /tmp).
# A SIGKILL leaves the page cache intact, so a kill test proves the same
# on tmpfs as on a disk, minus the time for writing 300 MB per case.
ks_setup() {
	setup_world
	add_user alice secret
	local base=${INTEGRITY_FAST_DIR:-}
	if [ -z "$base" ]; then
		base=/tmp
		if [ -d /dev/shm ] && [ -w /dev/shm ] &&
			[ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt 1048576 ]; then
			base=/dev/shm
		fi
	fi
	KS_FAST=$(mktemp -d "$base/pop3-kill.XXXXXX")
	chmod 755 "$KS_FAST"
	SPOOL="$KS_FAST/spool"
	STATE="$KS_FAST/state"
	mkdir "$SPOOL"
	if is_root; then
		chown "$FIXTURE_UID:$FIXTURE_GID" "$SPOOL"
	fi
	if [ -f "$KS/spread/count" ]; then
		ks_use spread
	fi
}

ks_teardown() {
	session_cleanup
	if [ -n "${KS_FAST:-}" ]; then
		rm -rf "$KS_FAST"
	fi
	if [ -n "${WORLD:-}" ]; then
		teardown_world
	fi
}

# ks_install: the big maildrop as alice's, in this test's spool.
ks_install() { ks_small_install "$KS/master"; }

# ks_session BINARY [VAR=value...]: the DELE session, pipelined.
ks_session() {
	local bin=$1 args cmds
	shift
	mapfile -t args < <(pop3_args)
	mapfile -t cmds <"$KSS/commands"
	printf '%s\r\n' "${cmds[@]}" | env "$@" "$bin" "${args[@]}"
}

# point NAME [K]: the index of the K-th (default first; negative: from the
# end) crash point called NAME in the traced update.
point() {
	awk -v name="$1" -v k="${2:-1}" '
		{ sub(/^[0-9]+ /, ""); if ($0 == name) hits[++n] = NR }
		END { i = k > 0 ? k : n + 1 + k; if (i >= 1 && i <= n) print hits[i] }
	' "$KSS/points"
}

# after_apply: the first point after the apply (removing or clearing the
# journal); after_apply_name: its name.
after_apply() { echo $(($(point 'apply before final fsync') + 1)); }
after_apply_name() { sed -n "$(after_apply)s/^[0-9]* //p" "$KSS/points"; }

# jblock F / ablock F: the copy block at fraction F (0 first, 1 last) of
# the journal writing / of the apply (overwriting the mbox in place).
jblock() { ks_block "journal header" "journal trailer" "$1"; }
ablock() { ks_block "apply start" "apply before fsync" "$1"; }
ks_block() {
	local from to
	from=$(point "$1")
	to=$(point "$2")
	awk -v from="$from" -v to="$to" -v f="$3" '
		NR > from && NR < to && / copy block$/ { b[++n] = NR }
		END { i = 1 + int(f * (n - 1) + 0.5); print b[i] }
	' "$KSS/points"
}

# The windows set (see ks_setup_file): wcount: how many windows the
# traced update has; pblock F: the copy block at fraction F of writing the
# journaled prefix into the mbox; wblock K F: of the K-th window.
wcount() { grep -c ' window$' "$KSS/points"; }
pblock() { ks_block "apply start" "window" "$1"; }
wblock() {
	local from to
	from=$(point window "$1")
	to=$(awk -v from="$from" 'NR > from && / (window sync|apply before fsync)$/ { print NR; exit }' "$KSS/points")
	awk -v from="$from" -v to="$to" -v f="$2" '
		NR > from && NR < to && / copy block$/ { b[++n] = NR }
		END { i = 1 + int(f * (n - 1) + 0.5); print b[i] }
	' "$KSS/points"
}

# ks_snapshot / ks_restore: the maildrop and state directory as a crash
# left them, to trace the replay first and then kill it where wanted.  The
# maildrop is copied back into the same file: the journal names its inode.
ks_snapshot() {
	rm -rf "$KS_FAST/snap"
	mkdir "$KS_FAST/snap"
	cp -p "$SPOOL/alice" "$KS_FAST/snap/alice"
	cp -a "$STATE" "$KS_FAST/snap/"
}
ks_restore() {
	cp "$KS_FAST/snap/alice" "$SPOOL/alice"
	rm -rf "$STATE"
	cp -a "$KS_FAST/snap/state" "$KS_FAST/"
}

# ks_replay_trace: the points the next session would pass replaying what
# the crash left, into $WORLD/replay/points ("n name"); nothing changes.
ks_replay_trace() {
	ks_snapshot
	mkdir -p "$WORLD/replay"
	POP3=$POP3_FAULT POP3_FAULT_TRACE=1 pop3 -- "USER alice" "PASS secret" "STAT" "QUIT" \
		>/dev/null 2>"$WORLD/replay/trace"
	sed -n 's/^fault point \([0-9]*\): \(.*\)$/\1 \2/p' "$WORLD/replay/trace" \
		>"$WORLD/replay/points"
	ks_restore
}

# rpoint NAME [K]: like point, in the traced replay.
rpoint() { KSS=$WORLD/replay point "$@"; }

# ks_kill_replay_at N NAME: the replay killed at its point N, which must
# be called NAME; the session after it must finish the update.
ks_kill_replay_at() {
	[ -n "$1" ] || {
		echo "no such replay point" >&2
		return 1
	}
	POP3=$POP3_FAULT POP3_FAULT_TRACE=1 POP3_FAULT_KILL_AT=$1 \
		ks_recovery_killed_at "$1" "$2"
}

# ks_kill_at N: run the update with SIGKILL at crash point N; it must die
# there, before answering QUIT.
ks_kill_at() {
	[ -n "$1" ] && [ "$1" -ge 1 ] || {
		echo "no such crash point" >&2
		return 1
	}
	local status=0
	ks_session "$POP3_FAULT" POP3_FAULT_KILL_AT="$1" \
		>"$WORLD/killed.out" 2>"$WORLD/killed.err" || status=$?
	echo "killed at point $1 ($(sed -n "${1}s/^[0-9]* //p" "$KSS/points")): status $status" >&2
	[ "$status" = 137 ] || return 1
	if grep -q '^+OK bye' "$WORLD/killed.out"; then
		echo "QUIT was answered before the kill" >&2
		return 1
	fi
}

# ks_next_session EXPECTED_COUNT: the session after the crash opens the
# maildrop (replaying what it must), sees EXPECTED_COUNT messages, QUITs.
ks_next_session() {
	run pop3 -- "USER alice" "PASS secret" "STAT" "QUIT"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[[ "${lines[2]}" =~ ^\+OK\ maildrop\ has\ $1\ messages ]]
	[[ "${lines[4]}" =~ ^\+OK\ bye ]]
}

# ks_verify applied|unapplied|either [MANIFEST]: the checker over the maildrop.
ks_verify() {
	mboxcheck verify --manifest "${2:-$KS/master.man}" --deleted "$KSS/deleted" \
		--expect "$1" "$SPOOL/alice"
}

# ks_case POINT applied|unapplied|either: the whole check for one crash
# point.  "unapplied": the kill came before the journal was complete, so
# the maildrop must still be byte for byte what it was; "applied": the
# apply had begun, so the next session must finish the update; "either":
# the journal was whole but the mbox untouched: all or nothing.
ks_case() {
	local n=$1 expect=$2
	ks_install
	ks_kill_at "$n"
	case $expect in
	unapplied)
		cmp "$KS/master" "$SPOOL/alice"
		ks_next_session "$KS_COUNT"
		;;
	either)
		cmp "$KS/master" "$SPOOL/alice"
		ks_next_session "($KS_COUNT|$((KS_COUNT - KS_DELETED)))"
		;;
	applied)
		ks_next_session $((KS_COUNT - KS_DELETED))
		;;
	esac
	assert_no_leftovers
	ks_verify "$expect"
}

# ks_deliver NAME: two messages (NAME1, NAME2) appended by the fcntl
# appender; their manifest lines are added to $WORLD/manifest.
ks_deliver() {
	mkdir -p "$WORLD/new"
	mkmaildrop --count 2 --prefix "$1" --seed 9 --split "$WORLD/new" "$WORLD/new/$1.mbox"
	fcntl_append "$SPOOL/alice" "$WORLD/new/${1}1" "$WORLD/new/${1}2"
	[ -f "$WORLD/manifest" ] || cp "$KS/master.man" "$WORLD/manifest"
	mboxcheck manifest "$WORLD/new/$1.mbox" >>"$WORLD/manifest"
}

# ks_random_kill I: the plain binary, killed I-th time at a random moment
# after QUIT was sent; the update happened wholly or not at all.
ks_random_kill() {
	local delay_ms=$((RANDOM % (KS_UPDATE_MS + 1)))
	local cmds
	ks_install
	mapfile -t cmds <"$KSS/commands"
	session_start r
	session_send r "${cmds[@]:0:${#cmds[@]}-1}"
	local i
	for ((i = 0; i < ${#cmds[@]}; i++)); do # greeting, USER, PASS, DELEs
		session_read r >/dev/null 2>&1 || return 1
	done
	[[ "$LINE" =~ ^\+OK\ message\ $KS_COUNT\ deleted ]]
	session_send r QUIT
	sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
	kill -9 "${SESSION_PID[r]}" 2>/dev/null || true
	session_finish r
	local expect=either
	if grep -q '^+OK bye' "$WORLD/session.r/rest"; then
		expect=applied
	fi
	echo "random kill $1: ${delay_ms} ms after QUIT, status $SESSION_STATUS, $expect" >&2
	rm -rf "$WORLD/session.r"
	if [ "$expect" = applied ]; then
		ks_next_session $((KS_COUNT - KS_DELETED))
	else
		ks_next_session '[0-9]+'
	fi
	assert_no_leftovers
	ks_verify "$expect"
}

# ks_uninterrupted: the update that the kills interrupt, left to finish.
ks_uninterrupted() {
	[ "$(wc -l <"$KS/master.man")" -ge 20000 ]
	[ "$(stat -L -c %s "$KS/master")" -ge $((100 * 1024 * 1024)) ]
	# Enough distinct points to choose 20 from, all over the sequence.
	[ "$(cut -d' ' -f2- "$KSS/points" | sort -u | wc -l)" -ge 8 ]
	[ "$(wc -l <"$KSS/points")" -ge 200 ]
	ks_update_completes
}

# ks_update_completes: the plain binary's update, left to finish, deletes
# exactly the marked messages.
ks_update_completes() {
	ks_install
	run ks_session "$POP3"
	[ "$status" -eq 0 ]
	[[ "$output" == *"+OK bye, $KS_DELETED messages deleted, $((KS_COUNT - KS_DELETED)) left"* ]]
	assert_no_leftovers
	ks_verify applied
}

# ks_recovery_killed_at K NAME: the next session, itself killed at its
# K-th crash point, which must be one called NAME.
ks_recovery_killed_at() {
	local status=0
	pop3 -- "USER alice" "PASS secret" "STAT" "QUIT" >"$WORLD/replay.out" \
		2>"$WORLD/replay.err" || status=$?
	local last
	last=$(grep '^fault point ' "$WORLD/replay.err" | tail -n 1)
	echo "replay killed at $last: status $status" >&2
	[ "$status" = 137 ]
	[ "$last" = "fault point $1: $2" ]
}

# ks_double_crash_mid_replay: killed half-way through the apply, then the
# next session killed half-way through replaying the journal; the third
# session finishes the update.
ks_double_crash_mid_replay() {
	local blocks=$(($(ablock 1) - $(ablock 0) + 1))
	ks_install
	ks_kill_at "$(ablock 0.5)"
	# The replay passes "apply start", then one copy block per IO block.
	POP3=$POP3_FAULT POP3_FAULT_TRACE=1 POP3_FAULT_KILL_AT=$((2 + blocks / 2)) \
		ks_recovery_killed_at $((2 + blocks / 2)) "copy block"
	ks_next_session $((KS_COUNT - KS_DELETED))
	assert_no_leftovers
	ks_verify applied
}

# ks_double_crash_after_truncate: killed after the truncation, then the
# next session killed just before it removes (or clears) the finished
# journal: its first crash point.
ks_double_crash_after_truncate() {
	ks_install
	ks_kill_at "$(point 'apply before final fsync')"
	POP3=$POP3_FAULT POP3_FAULT_TRACE=1 POP3_FAULT_KILL_AT=1 \
		ks_recovery_killed_at 1 "$(after_apply_name)"
	ks_next_session $((KS_COUNT - KS_DELETED))
	assert_no_leftovers
	ks_verify applied
}

# ks_crash_then_delivery POINT: killed at POINT (after the journal was
# complete), two messages delivered by an fcntl-locking MDA before the
# next session; they must survive the replay, after the kept messages.
ks_crash_then_delivery() {
	ks_install
	ks_kill_at "$1"
	ks_deliver d
	ks_next_session $((KS_COUNT - KS_DELETED + 2))
	assert_no_leftovers
	ks_verify applied "$WORLD/manifest"
}

# ks_crash_delivery_crash_journal: killed half-way through the apply, a
# delivery, then the replay killed while it writes the new journal (old
# text + delivery) beside the old one; the third session finishes.
ks_crash_delivery_crash_journal() {
	ks_install
	ks_kill_at "$(ablock 0.5)"
	ks_deliver d
	# The replay's new journal: its header is point 1, its first block 2.
	POP3=$POP3_FAULT POP3_FAULT_TRACE=1 POP3_FAULT_KILL_AT=2 \
		ks_recovery_killed_at 2 "copy block"
	if grep -q ': apply start$' "$WORLD/replay.err"; then
		echo "the replay was killed after its apply started" >&2
		return 1
	fi
	ks_next_session $((KS_COUNT - KS_DELETED + 2))
	assert_no_leftovers
	ks_verify applied "$WORLD/manifest"
}

# ks_crash_delivery_crash: killed half-way through the apply, a delivery,
# then the replay (which must journal the delivery too) killed half-way
# through applying its new journal; the third session finishes.
ks_crash_delivery_crash() {
	local blocks=$(($(ablock 1) - $(ablock 0) + 1))
	# The points before "apply start" that are not copy blocks (journal
	# header, trailer, fsync...): the replay's new journal passes them too.
	local others
	others=$(awk -v a="$(point 'apply start')" \
		'NR < a && !/ copy block$/' "$KSS/points" | wc -l)
	ks_install
	ks_kill_at "$(ablock 0.5)"
	ks_deliver d
	# The replay's new journal has blocks + 1 copy blocks (the old text,
	# then the delivered tail), then "apply start" and its own apply.
	local k=$((others + blocks + 1 + 1 + blocks / 2))
	POP3=$POP3_FAULT POP3_FAULT_TRACE=1 POP3_FAULT_KILL_AT=$k \
		ks_recovery_killed_at "$k" "copy block"
	grep -q ': apply start$' "$WORLD/replay.err"
	ks_next_session $((KS_COUNT - KS_DELETED + 2))
	assert_no_leftovers
	ks_verify applied "$WORLD/manifest"
}

ks_small_install() {
	rm -f "$SPOOL/alice"
	cp "$1" "$SPOOL/alice"
	chmod 600 "$SPOOL/alice"
	give_to_fixture "$SPOOL/alice"
	if [ "${KS_ROOT_SPOOL:-0}" = 1 ]; then
		chown 0:0 "$SPOOL"
		chmod 755 "$SPOOL"
	fi
}

# ks_exhaustive N...: on a small maildrop (KS_SMALL_COUNT messages, 30,
# of KS_SMALL_BYTES, 1 MB), an update deleting messages N... is killed at
# every crash point it passes, one after the other.  Until the apply
# starts the maildrop must be untouched and the next session may finish
# the update or not, wholly; from then on it must finish it.  Independent
# of how the points are named.
ks_exhaustive() {
	local small="$WORLD/small" n count=${KS_SMALL_COUNT:-30}
	mkmaildrop --count "$count" --bytes "${KS_SMALL_BYTES:-1000000}" --seed 5 "$small"
	mboxcheck manifest "$small" >"$small.man"
	local cmds=("USER alice" "PASS secret")
	: >"$small.deleted"
	for n in "$@"; do
		cmds+=("DELE $n")
		echo "m$n" >>"$small.deleted"
	done
	cmds+=(QUIT)
	local args
	mapfile -t args < <(pop3_args)
	ks_small_install "$small"
	printf '%s\r\n' "${cmds[@]}" | POP3_FAULT_TRACE=1 "$POP3_FAULT" "${args[@]}" \
		>"$WORLD/small.out" 2>"$WORLD/small.trace"
	grep -q '^+OK bye' "$WORLD/small.out"
	mboxcheck verify --manifest "$small.man" --deleted "$small.deleted" \
		--expect applied "$SPOOL/alice"
	local total apply_at
	total=$(grep -c '^fault point ' "$WORLD/small.trace")
	apply_at=$(sed -n 's/^fault point \([0-9]*\): apply start$/\1/p' "$WORLD/small.trace")
	echo "$total crash points; the apply starts at ${apply_at:-none}" >&2
	[ "$total" -ge 1 ]
	local k expect status left=$((count - $#))
	for ((k = 1; k <= total; k++)); do
		ks_small_install "$small"
		status=0
		printf '%s\r\n' "${cmds[@]}" | POP3_FAULT_KILL_AT=$k "$POP3_FAULT" "${args[@]}" \
			>"$WORLD/small.out" 2>/dev/null || status=$?
		[ "$status" = 137 ] || {
			echo "point $k: not killed (status $status)" >&2
			return 1
		}
		# Without a journal (only the end cut off) there is no apply:
		# any point may come before or after the one ftruncate.
		expect=either
		if [ -n "$apply_at" ] && [ "$k" -ge "$apply_at" ]; then
			expect=applied
		elif [ -n "$apply_at" ] && ! cmp -s "$small" "$SPOOL/alice"; then
			echo "point $k: maildrop changed before the apply" >&2
			return 1
		fi
		run pop3 -- "USER alice" "PASS secret" "STAT" "QUIT"
		[[ "${lines[4]}" =~ ^\+OK\ bye ]] || {
			echo "point $k: next session: $output" >&2
			return 1
		}
		[ "$expect" = either ] || [[ "${lines[2]}" =~ ^\+OK\ maildrop\ has\ $left\  ]]
		assert_no_leftovers
		mboxcheck verify --manifest "$small.man" --deleted "$small.deleted" \
			--expect "$expect" "$SPOOL/alice" >/dev/null || {
			echo "point $k: $(sed -n "${k}p" "$WORLD/small.trace")" >&2
			return 1
		}
	done
}

# ---- the windows set: the journaled prefix, then checkpointed windows ----

# ks_windows_uninterrupted: the update has a prefix and many windows.
ks_windows_uninterrupted() {
	ks_use windows
	echo "$(wcount) windows; prefix blocks $(pblock 0)..$(pblock 1)" >&2
	[ "$(wcount)" -ge 10 ]
	[ -n "$(pblock 0)" ]
	[ "$(grep -c ' checkpoint$' "$KSS/points")" -eq $(($(wcount) + 1)) ]
	ks_update_completes
}

# ks_mid_window: the crash point half-way through the middle window.
ks_mid_window() { wblock $(($(wcount) / 2)) 0.5; }

# ks_windows_double_crash NAME [K]: killed half-way through the middle
# window, then the replay killed at its K-th point called NAME; the third
# session finishes the update.
ks_windows_double_crash() {
	ks_use windows
	ks_install
	ks_kill_at "$(ks_mid_window)"
	ks_replay_trace
	grep -q " window$" "$WORLD/replay/points"
	ks_kill_replay_at "$(rpoint "$1" "${2:-1}")" "$1"
	ks_next_session $((KS_COUNT - KS_DELETED))
	assert_no_leftovers
	ks_verify applied
}

# ks_windows_delivery_crash [NAME K]: killed half-way through the middle
# window, two messages delivered, then (with NAME) the replay -- which
# must take the delivery into a new journal and move it too -- killed at
# its K-th point called NAME; the next session finishes.
ks_windows_delivery_crash() {
	ks_use windows
	ks_install
	ks_kill_at "$(ks_mid_window)"
	ks_deliver d
	if [ $# -gt 0 ]; then
		ks_replay_trace
		echo "replay: $(wc -l <"$WORLD/replay/points") points, $(grep -c ' window$' "$WORLD/replay/points") windows" >&2
		ks_kill_replay_at "$(rpoint "$1" "$2")" "$1"
	fi
	ks_next_session $((KS_COUNT - KS_DELETED + 2))
	assert_no_leftovers
	ks_verify applied "$WORLD/manifest"
}
