#!/usr/bin/env bats
# Killed mid-update, for Debian's /var/mail shape: the spool
# directory is root's (0755) and only the mbox belongs to the serving user,
# who cannot create a file beside it; the journal lives in --state-dir.
# The same series as integrity-kill.bats (see there and
# tests/tools/killseries.bash); it needs root to give the spool away.

load helpers
load tools/integrity
load tools/killseries

KS_ROOT_SPOOL=1

setup_file() {
	if is_root; then
		ks_setup_file
	fi
}

setup() {
	is_root || skip "needs root: the spool must be root's and the mbox the fixture user's"
	ks_setup
}

teardown() { ks_teardown; }

@test "the uninterrupted update of 20,000 messages / 105 MB deletes exactly the marked ones (root-owned spool)" {
	ks_uninterrupted
}

@test "killed mid-update: before the journal header is written: nothing applied (root-owned spool)" {
	ks_case "$(point 'journal header')" unapplied
}

@test "killed mid-update: at the first journal copy block: nothing applied (root-owned spool)" {
	ks_case "$(jblock 0)" unapplied
}

@test "killed mid-update: at the second journal copy block: nothing applied (root-owned spool)" {
	ks_case "$(($(jblock 0) + 1))" unapplied
}

@test "killed mid-update: a quarter into the journal: nothing applied (root-owned spool)" {
	ks_case "$(jblock 0.25)" unapplied
}

@test "killed mid-update: half-way through the journal: nothing applied (root-owned spool)" {
	ks_case "$(jblock 0.5)" unapplied
}

@test "killed mid-update: three quarters into the journal: nothing applied (root-owned spool)" {
	ks_case "$(jblock 0.75)" unapplied
}

@test "killed mid-update: at the last journal copy block: nothing applied (root-owned spool)" {
	ks_case "$(jblock 1)" unapplied
}

@test "killed mid-update: before the journal trailer: nothing applied (root-owned spool)" {
	ks_case "$(point 'journal trailer')" unapplied
}

@test "killed mid-update: journal whole, before its fsync: all or nothing (root-owned spool)" {
	ks_case "$(point 'journal fsync')" either
}

@test "killed mid-update: at the start of the apply: the next session applies the journal (root-owned spool)" {
	ks_case "$(point 'apply start')" applied
}

@test "killed mid-update: at the first apply copy block: replayed (root-owned spool)" {
	ks_case "$(ablock 0)" applied
}

@test "killed mid-update: at the second apply copy block: replayed (root-owned spool)" {
	ks_case "$(($(ablock 0) + 1))" applied
}

@test "killed mid-update: a tenth into the apply: replayed (root-owned spool)" {
	ks_case "$(ablock 0.1)" applied
}

@test "killed mid-update: a third into the apply: replayed (root-owned spool)" {
	ks_case "$(ablock 0.33)" applied
}

@test "killed mid-update: half-way through the apply: replayed (root-owned spool)" {
	ks_case "$(ablock 0.5)" applied
}

@test "killed mid-update: two thirds into the apply: replayed (root-owned spool)" {
	ks_case "$(ablock 0.66)" applied
}

@test "killed mid-update: nine tenths into the apply: replayed (root-owned spool)" {
	ks_case "$(ablock 0.9)" applied
}

@test "killed mid-update: at the last apply copy block: replayed (root-owned spool)" {
	ks_case "$(ablock 1)" applied
}

@test "killed mid-update: new text written, before its fsync: replayed (root-owned spool)" {
	ks_case "$(point 'apply before fsync')" applied
}

@test "killed mid-update: before the truncation (old tail still there): replayed, nothing duplicated (root-owned spool)" {
	ks_case "$(point 'apply before truncate')" applied
}

@test "killed mid-update: after the truncation: recognised as finished (root-owned spool)" {
	ks_case "$(point 'apply before final fsync')" applied
}

@test "killed mid-update: before the finished journal is removed: recognised as finished (root-owned spool)" {
	ks_case "$(after_apply)" applied
}

@test "killed mid-update: half-way through the apply, then half-way through the replay: the third session finishes (root-owned spool)" {
	ks_double_crash_mid_replay
}

@test "killed mid-update: after the truncation, then before the replay clears the journal: nothing replayed twice (root-owned spool)" {
	ks_double_crash_after_truncate
}

@test "killed mid-update, then a delivery: journal whole, mbox untouched, then an fcntl delivery: it survives (root-owned spool)" {
	ks_crash_then_delivery "$(point 'apply start')"
}

@test "killed mid-update, then a delivery: half-way through the apply, then an fcntl delivery: it survives the replay (root-owned spool)" {
	ks_crash_then_delivery "$(ablock 0.5)"
}

@test "killed mid-update, then a delivery: before the truncation, then an fcntl delivery: it survives the replay (root-owned spool)" {
	ks_crash_then_delivery "$(point 'apply before truncate')"
}

@test "killed mid-update, then a delivery: after the truncation, then an fcntl delivery: it survives, not cut as old tail (root-owned spool)" {
	ks_crash_then_delivery "$(point 'apply before final fsync')"
}

@test "killed mid-update, a delivery, killed again: the replay is killed while it writes the journal that takes in the delivery (root-owned spool)" {
	ks_crash_delivery_crash_journal
}

@test "killed mid-update, a delivery, killed again: the replay that journals the delivery is killed mid-apply; the third session finishes (root-owned spool)" {
	ks_crash_delivery_crash
}

@test "killed mid-update: the plain binary killed at 4 random moments after QUIT: all or nothing, never a mix (root-owned spool)" {
	local i
	for i in 1 2 3 4; do
		ks_random_kill "$i"
	done
}

@test "killed mid-update: every crash point of a 1 MB update with deletions spread over it (root-owned spool)" {
	ks_exhaustive 2 10 11 25 30
}

@test "killed mid-update: every crash point of a 1 MB update deleting only the last messages (root-owned spool)" {
	ks_exhaustive 28 29 30
}

@test "the uninterrupted update with many deletions at the start: a journaled prefix, then 10 or more checkpointed windows (root-owned spool)" {
	ks_windows_uninterrupted
}

@test "killed in the windowed update: half-way through journaling the prefix: nothing applied (root-owned spool)" {
	ks_use windows
	ks_case "$(jblock 0.5)" unapplied
}

@test "killed in the windowed update: half-way through writing the prefix into the mbox: replayed (root-owned spool)" {
	ks_use windows
	ks_case "$(pblock 0.5)" applied
}

@test "killed in the windowed update: at the start of the first window (no checkpoint yet): replayed (root-owned spool)" {
	ks_use windows
	ks_case "$(point window 1)" applied
}

@test "killed in the windowed update: half-way through the first window: replayed (root-owned spool)" {
	ks_use windows
	ks_case "$(wblock 1 0.5)" applied
}

@test "killed in the windowed update: first window written, before its fdatasync: replayed (root-owned spool)" {
	ks_use windows
	ks_case "$(point 'window sync' 1)" applied
}

@test "killed in the windowed update: first window durable, before its checkpoint is written: replayed (root-owned spool)" {
	ks_use windows
	ks_case "$(point checkpoint 1)" applied
}

@test "killed in the windowed update: at the start of the second window (first checkpoint durable): replayed (root-owned spool)" {
	ks_use windows
	ks_case "$(point window 2)" applied
}

@test "killed in the windowed update: at the first copy block of the second window: replayed (root-owned spool)" {
	ks_use windows
	ks_case "$(wblock 2 0)" applied
}

@test "killed in the windowed update: half-way through the middle window: replayed (root-owned spool)" {
	ks_use windows
	ks_case "$(ks_mid_window)" applied
}

@test "killed in the windowed update: before the middle window's checkpoint: replayed (root-owned spool)" {
	ks_use windows
	ks_case "$(point checkpoint $(($(wcount) / 2)))" applied
}

@test "killed in the windowed update: half-way through the last window: replayed (root-owned spool)" {
	ks_use windows
	ks_case "$(wblock "$(wcount)" 0.5)" applied
}

@test "killed in the windowed update: all windows written, before the final fdatasync: replayed (root-owned spool)" {
	ks_use windows
	ks_case "$(point 'apply before fsync')" applied
}

@test "killed in the windowed update: mid-window, then the replay killed half-way through its first window: the third session finishes (root-owned spool)" {
	ks_windows_double_crash "copy block" 3
}

@test "killed in the windowed update: mid-window, then the replay killed before its first checkpoint: the third session finishes (root-owned spool)" {
	ks_windows_double_crash checkpoint
}

@test "killed in the windowed update: mid-window, then the replay killed at its second checkpoint: the third session finishes (root-owned spool)" {
	ks_windows_double_crash checkpoint 2
}

@test "killed in the windowed update, then a delivery: mid-window, then an fcntl delivery: it survives the replay (root-owned spool)" {
	ks_windows_delivery_crash
}

@test "killed in the windowed update, a delivery, killed again: mid-window, a delivery, then the replay killed while it journals the delivery: the third session finishes (root-owned spool)" {
	ks_windows_delivery_crash 'journal trailer' 1
}

@test "killed in the windowed update, a delivery, killed again: mid-window, a delivery, then the replay killed in its last window (moving the delivery): the third session finishes (root-owned spool)" {
	ks_windows_delivery_crash window -1
}

@test "killed in the windowed update: the plain binary killed at 4 random moments of the update: all or nothing, never a mix (root-owned spool)" {
	ks_use windows
	local i
	for i in 1 2 3 4; do
		ks_random_kill "$i"
	done
}
