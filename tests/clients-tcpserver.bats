#!/usr/bin/env bats
# pop3-stdio under tcpserver (ucspi-tcp), proven with real clients.
# The shipped deploy/tcpserver/run script runs with the port moved to
# 127.0.0.1:21310 and the test world's options.

load helpers
load deploy-lib
load clients-lib

PORT=21310
DEBUG_PORT=21311

setup_file() {
	suite_requires_tools tcpserver || return 0
	setup_suite_world
	start_tcpserver "$PORT"
}

setup() { skip_unless_suite_can_run; }
teardown_file() { teardown_suite_world; }

@test "tcpserver: fetchmail fetches all (--keep), only new, all again deleting" {
	scenario_fetchmail plain "$PORT"
}

@test "tcpserver: mpop tracks UIDLs across runs, then deletes" {
	scenario_mpop plain "$PORT"
}

@test "tcpserver: getmail6 read_all = false, twice, then only the new message" {
	scenario_getmail plain "$PORT"
}

@test "tcpserver: curl pop3:// LIST, RETR, UIDL, TOP 1 0, DELE 1" {
	scenario_curl plain "$PORT"
}

@test "tcpserver: Python poplib STAT, LIST, UIDL, RETR, TOP, DELE, QUIT" {
	scenario_poplib plain "$PORT"
}

@test "tcpserver -v logs each connection with the client's address (TCPREMOTEIP)" {
	# The sessions of the tests above, in the run script's log.
	grep -Eq '^tcpserver: ok [0-9]+ [^ ]*:127\.0\.0\.1:'"$PORT"' [^ ]*:127\.0\.0\.1:' \
		"$WORLD/tcpserver-$PORT.log"
	grep -Eq '^tcpserver: end [0-9]+ status 0$' "$WORLD/tcpserver-$PORT.log"
}

@test "tcpserver: pop3-stdio logs the connection from the client's address" {
	# With --debug the log lines also go to stderr, which tcpserver keeps
	# for the run script's log; in service they go to syslog (mail).
	start_tcpserver "$DEBUG_PORT" --debug
	new_account
	curl -sS --max-time 20 "pop3://$ACCOUNT:$SECRET@127.0.0.1:$DEBUG_PORT/" >/dev/null
	grep -Eq '^pop3-stdio\[[0-9]+\]: connection from 127\.0\.0\.1$' "$WORLD/tcpserver-$DEBUG_PORT.log"
	grep -Eq "^pop3-stdio\[[0-9]+\]: login: user $ACCOUNT\$" "$WORLD/tcpserver-$DEBUG_PORT.log"
	# The login was AUTH PLAIN, its data masked on the continuation line,
	# so the check below covers the base64 form too.
	grep -qx 'C: AUTH PLAIN' "$WORLD/tcpserver-$DEBUG_PORT.log"
	grep -qx 'C: \*\*\*\*\*\*\*\*' "$WORLD/tcpserver-$DEBUG_PORT.log"
	refute_password_logged "$WORLD/tcpserver-$DEBUG_PORT.log"
}
