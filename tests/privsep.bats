#!/usr/bin/env bats
# Privilege separation: started as root, the process that reads
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

# AddressSanitizer reserves terabytes of address space for its shadow and
# heap: reading a sanitized process's memory through /proc/PID/mem would
# take hours (and fails with MemoryError).  The release build's run of the
# suite checks the wiping.
skip_if_sanitized() {
	if readelf -sW --dyn-syms "$POP3" 2>/dev/null | grep -q '__asan_init'; then
		skip "a sanitizer build: its memory is too large to read through /proc/PID/mem"
	fi
}

# mem_holds PID TEXT...: whether a readable mapping of process PID holds
# one of the TEXTs (read through /proc/PID/mem); prints where.
mem_holds() {
	python3 - "$@" <<-'EOF'
		import re, sys
		pid, needles = sys.argv[1], [t.encode() for t in sys.argv[2:]]
		found = False
		with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
		    for line in maps:
		        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) r", line)
		        if not m or line.rstrip().endswith(("[vvar]", "[vsyscall]")):
		            continue
		        try:
		            mem.seek(int(m[1], 16))
		            data = mem.read(int(m[2], 16) - int(m[1], 16))
		        except OSError:
		            continue
		        for n in needles:
		            if n in data:
		                print(f"{n!r} in {line.strip()}")
		                found = True
		sys.exit(0 if found else 1)
	EOF
}

# The pre-login process reads every password; once a PASS or AUTH line has
# been handled, no copy may stay in its memory, where a later compromise
# of it could find them.
@test "after a failed PASS and a failed AUTH PLAIN the pre-login process keeps no copy of the passwords" {
	is_root || skip "needs root: reading another uid's memory (/proc/PID/mem)"
	skip_if_sanitized
	command -v python3 >/dev/null || skip "python3 is not installed"
	local pw1=Zebra-quartz-4711-one pw2=Yak-onyx-0815-two b2
	b2=$(printf '\0alice\0%s' "$pw2" | base64 -w0)
	live_session
	live_wait '^\+OK .*ready'
	child=$(prelogin_pid)
	# Pipelined: the CAPA after them waits in the same input buffer while
	# they are handled, and must still be answered after the wiping.
	live_send "USER alice" "PASS $pw1" "AUTH PLAIN $b2" "CAPA"
	live_wait '^IMPLEMENTATION'
	[ "$(grep -c -- '-ERR \[AUTH\] authentication failed' "$LIVE_OUT")" -eq 2 ]
	refute mem_holds "$child" "$pw1" "$pw2" "$b2"
	# It still holds what it should: the name from USER, say.
	mem_holds "$child" "alice" >/dev/null
	# Nor does the root process, which checked them.
	refute mem_holds "$LIVE_PID" "$pw1" "$pw2"
	live_send "QUIT"
	live_end
	[ "$LIVE_STATUS" -eq 0 ]
}

# challenges N: waits until the live session has sent N "+ " challenges.
challenges() {
	local tries=200
	until [ "$(grep -c '^+ ' "$LIVE_OUT")" -ge "$1" ]; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.05
	done
}

@test "after AUTH PLAIN continuation lines, even an over-long one, the pre-login process keeps no copy" {
	is_root || skip "needs root: reading another uid's memory (/proc/PID/mem)"
	skip_if_sanitized
	command -v python3 >/dev/null || skip "python3 is not installed"
	local pw=Gnu-jade-2342-three long b b_long
	long=$(printf 'L%.0s' $(seq 300))
	b=$(printf '\0alice\0%s' "$pw" | base64 -w0)
	b_long=$(printf '\0alice\0%s' "$long$pw" | base64 -w0)
	live_session
	live_wait '^\+OK .*ready'
	child=$(prelogin_pid)
	# An over-long response is discarded unread, but it was read all the same.
	live_send "AUTH PLAIN"
	challenges 1
	live_send "$b_long$b_long$b_long" "AUTH PLAIN"
	challenges 2
	live_send "$b" "CAPA"
	live_wait '^IMPLEMENTATION'
	[ "$(grep -c -- '-ERR \[AUTH\] ' "$LIVE_OUT")" -eq 2 ]
	refute mem_holds "$child" "$pw" "$b" "${b_long:40:40}"
	live_send "QUIT"
	live_end
	[ "$LIVE_STATUS" -eq 0 ]
}

# state_dir_refused: a session as alice deletes message 1 and quits; the
# state directory must have been refused -- QUIT says try again later, the
# maildrop is untouched and the log names the reason given as $1.
state_dir_refused() {
	cp "$SPOOL/alice" "$WORLD/before"
	printf 'USER alice\r\nPASS secret\r\nDELE 1\r\nQUIT\r\n' |
		"$POP3" $(pop3_args) -d >"$WORLD/out" 2>"$WORLD/err" || true
	grep -q $'^-ERR \\[SYS/TEMP\\] .*\r$' "$WORLD/out"
	cmp "$WORLD/before" "$SPOOL/alice"
	grep -qF -- "$1" "$WORLD/err"
}

@test "privsep: as root, a state directory that is not root's or that others may write is not used; the log says why" {
	is_root || skip "needs root: these rules are for the state directory of a root start"
	mkdir -m 755 "$STATE"
	chown "$SESSION_UID" "$STATE"
	state_dir_refused "$STATE: not used for state: it must be owned by root"
	chown root "$STATE"
	chmod 777 "$STATE"
	state_dir_refused "$STATE: not used for state: it must be owned by root"
	[ ! -e "$STATE/alice" ]
}

@test "privsep: as root, a user's state directory that belongs to another uid is not taken over" {
	is_root || skip "needs root: chown to another uid"
	mkdir -m 755 "$STATE"
	mkdir -m 700 "$STATE/alice"
	chown 4999 "$STATE/alice"
	state_dir_refused "$STATE/alice: belongs to uid 4999, not the user"
	[ "$(stat -c %u "$STATE/alice")" = 4999 ]
}
