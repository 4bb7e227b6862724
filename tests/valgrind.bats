#!/usr/bin/env bats
# A representative session under valgrind's memcheck -- both
# processes (the session forks its pre-login half) -- has no memory error
# and leaks nothing for certain.

load helpers

setup() {
	command -v valgrind >/dev/null || skip "valgrind is not installed"
	# ASan and valgrind cannot share a process.
	if readelf -sW --dyn-syms "$POP3" 2>/dev/null | grep -q __asan_init; then
		skip "a sanitizer build: valgrind checks the release build"
	fi
	setup_world
	add_user alice secret
	printf 'From a@b Mon Nov 23 10:00:00 2026\nSubject: one\nX-UIDL: first\n\nbody one\n.dot\n\nFrom c@d Mon Nov 23 10:01:00 2026\r\nSubject: two\r\n\r\nbody two\r\n\r\nFrom e@f Mon Nov 23 10:02:00 2026\nSubject: three\n\nno final newline' | mbox alice
}

teardown() { [ -z "${WORLD:-}" ] || teardown_world; } # setup may skip first

# memcheck LINE...: one session under valgrind, one log per process
# (--vgdb=no: the pre-login process, once nobody, could not remove the
# gdbserver FIFOs root made in /tmp, and would say so in its log).
memcheck() {
	local args
	mapfile -t args < <(pop3_args)
	printf '%s\r\n' "$@" |
		valgrind --quiet --vgdb=no --trace-children=yes --child-silent-after-fork=no \
			--leak-check=full --errors-for-leak-kinds=definite \
			--error-exitcode=99 --log-file="$WORLD/vg.%p" \
			"$POP3" "${args[@]}" >"$WORLD/out"
}

# Every process's log: no error, no definite leak.
clean_logs() {
	local n=0
	for log in "$WORLD"/vg.*; do
		n=$((n + 1))
		if [ -s "$log" ]; then
			cat "$log"
			return 1
		fi
	done
	[ "$n" -ge 2 ] # the session and its pre-login process
}

@test "valgrind: a whole session (failed login, AUTH PLAIN, every TRANSACTION command, UPDATE) is clean" {
	plain=$(printf '\0alice\0secret' | base64)
	status=0
	memcheck "CAPA" "USER alice" "PASS wrong" "AUTH PLAIN $plain" \
		"STAT" "LIST" "LIST 2" "UIDL" "UIDL 1" "RETR 1" "TOP 2 0" "TOP 3 5" \
		"DELE 2" "RSET" "DELE 1" "NOOP" "RETR 9" "QUIT" || status=$?
	[ "$status" -eq 0 ]
	clean_logs
	grep -q $'^\\+OK bye, 1 messages deleted' "$WORLD/out"
}

@test "valgrind: a session that fails three logins and one that drops mid-session are clean" {
	status=0
	memcheck "USER alice" "PASS a" "USER alice" "PASS b" "USER bob" "PASS c" || status=$?
	[ "$status" -eq 1 ] # closed after three failures; not a valgrind error
	clean_logs
	rm -f "$WORLD"/vg.*
	status=0
	memcheck "USER alice" "PASS secret" "DELE 1" "RETR 2" || status=$?
	[ "$status" -eq 1 ] # end of input without QUIT
	clean_logs
}
