#!/usr/bin/env bats
# Issue 5, privilege separation: started as root, the process that reads
# the client before login runs as nobody with no other groups and no
# capabilities (chrooted when asked); after login the session is the
# original process, switched to the mail user for good, and nothing of
# the session runs as root any more.  Core dumps are off in both.

load helpers

# The session user must differ from the pre-login user (nobody), or the
# checks could not tell the two switches apart.
SESSION_UID=4242
SESSION_GID=4243

setup() {
	setup_world
	if is_root; then
		hash=$(openssl passwd -6 secret)
		printf 'alice:%s:%s:%s\n' "$hash" "$SESSION_UID" "$SESSION_GID" >"$PASSWD"
		printf 'From a@b Mon Nov 23 10:00:00 2026\nSubject: s\n\nbody\n' >"$SPOOL/alice"
		chown "$SESSION_UID:$SESSION_GID" "$SPOOL/alice"
		chmod 600 "$SPOOL/alice"
	else
		add_user alice secret
		printf 'From a@b Mon Nov 23 10:00:00 2026\nSubject: s\n\nbody\n' | mbox alice
	fi
}

teardown() {
	[ -n "${LIVE_PID:-}" ] && kill "$LIVE_PID" 2>/dev/null
	teardown_world
}

# The pre-login process: the session's only child while nobody has logged in.
prelogin_pid() {
	local child tries=200
	while :; do
		child=$(pgrep -P "$LIVE_PID" | head -n 1)
		[ -n "$child" ] && break
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.05
	done
	echo "$child"
}

# all_four "A B C D" ID: real, effective, saved and filesystem ids all ID.
all_four() {
	[ "$(printf '%s\n' $1 | sort -u)" = "$2" ] && [ "$(printf '%s\n' $1 | wc -l)" -eq 4 ]
}

no_capabilities() {
	for cap in CapInh CapPrm CapEff CapAmb; do
		[ "$(proc_line "$1" "$cap")" = 0000000000000000 ] || return 1
	done
}

@test "privsep: before login the client talks to nobody (uid/gid 65534 x4, no other groups, no capabilities)" {
	is_root || skip "needs root: the switch to nobody only happens when started as root"
	live_session
	live_wait '^\+OK .*ready'
	child=$(prelogin_pid)
	all_four "$(proc_line "$child" Uid)" 65534
	all_four "$(proc_line "$child" Gid)" 65534
	groups=$(proc_line "$child" Groups)
	[ -z "$(printf '%s\n' $groups | grep -vx 65534)" ]
	no_capabilities "$child"
	# ... while the parent, which checks passwords, parses nothing of the client.
	[ "$(proc_line "$LIVE_PID" Uid | awk '{print $2}')" = 0 ]
	live_send "QUIT"
	live_end
	[ "$LIVE_STATUS" -eq 0 ]
}

@test "privsep: after login the session is the original process, as the user for good; no root process is left" {
	is_root || skip "needs root: the switch to the user only happens when started as root"
	live_session
	live_wait '^\+OK .*ready'
	child=$(prelogin_pid)
	live_send "USER alice" "PASS secret"
	live_wait '^\+OK maildrop has'
	# The pre-login process has gone; the original pid serves the session.
	for _ in $(seq 100); do [ -d "/proc/$child" ] || break; sleep 0.05; done
	[ ! -d "/proc/$child" ]
	[ -z "$(pgrep -P "$LIVE_PID")" ]
	all_four "$(proc_line "$LIVE_PID" Uid)" "$SESSION_UID"
	all_four "$(proc_line "$LIVE_PID" Gid)" "$SESSION_GID"
	groups=$(proc_line "$LIVE_PID" Groups)
	[ -z "$(printf '%s\n' $groups | grep -vx "$SESSION_GID")" ]
	no_capabilities "$LIVE_PID"
	live_send "STAT" "QUIT"
	live_end
	[ "$LIVE_STATUS" -eq 0 ]
	grep -q $'^\\+OK 1 ' "$LIVE_OUT"
}

@test "privsep: --chroot puts the pre-login process in the empty directory" {
	is_root || skip "needs root: chroot only happens when started as root"
	mkdir "$WORLD/empty"
	live_session --chroot="$WORLD/empty"
	live_wait '^\+OK .*ready'
	child=$(prelogin_pid)
	[ "$(readlink "/proc/$child/root")" = "$WORLD/empty" ]
	# Only the pre-login process: the parent keeps the real root.
	[ "$(readlink "/proc/$LIVE_PID/root")" = / ]
	live_send "USER alice" "PASS secret" "STAT" "QUIT"
	live_end
	[ "$LIVE_STATUS" -eq 0 ]
	grep -q $'^\\+OK 1 ' "$LIVE_OUT"
}

@test "privsep: a pre-login user that is root or unknown is refused, never used" {
	is_root || skip "needs root: the pre-login user is only used when started as root"
	run pop3 --prelogin-user=root -- "QUIT"
	[[ "$output" == *"-ERR [SYS/TEMP]"* ]]
	run pop3 --prelogin-user=no-such-user-here -- "QUIT"
	[[ "$output" == *"-ERR [SYS/TEMP]"* ]]
}

@test "privsep: without root the same two processes run, both as the caller" {
	is_root && skip "checks the non-root structure; run as a normal user"
	live_session
	live_wait '^\+OK .*ready'
	child=$(prelogin_pid)
	all_four "$(proc_line "$child" Uid)" "$(id -u)"
	all_four "$(proc_line "$LIVE_PID" Uid)" "$(id -u)"
	live_send "USER alice" "PASS secret" "STAT" "QUIT"
	live_end
	[ "$LIVE_STATUS" -eq 0 ]
	grep -q $'^\\+OK 1 ' "$LIVE_OUT"
}

# "Max core file size   0   0   bytes": soft and hard limit both 0.
core_limit_zero() {
	awk '/^Max core file size/ { exit !($5 == 0 && $6 == 0) }' "/proc/$1/limits"
}

@test "privsep: core dumps are off (RLIMIT_CORE 0, soft and hard) before and after login" {
	live_session
	live_wait '^\+OK .*ready'
	child=$(prelogin_pid)
	core_limit_zero "$child"
	core_limit_zero "$LIVE_PID"
	live_send "USER alice" "PASS secret"
	live_wait '^\+OK maildrop has'
	core_limit_zero "$LIVE_PID"
	live_send "QUIT"
	live_end
	[ "$LIVE_STATUS" -eq 0 ]
}
