#!/usr/bin/env bats
# pop3-stdio started the way systemd starts it, proven with real clients.
# deploy/systemd/pop3-stdio.socket + pop3-stdio@.service (port 110) and
# pop3s-stdio.socket + pop3s-stdio@.service (995, stunnel in inetd mode)
# run as systemd-socket-activate --inetd -a (Accept=yes, StandardInput=
# socket): each connection runs the unit's ExecStart under the unit's
# NoNewPrivileges, CapabilityBoundingSet, UMask and Limit* settings
# (tests/deploy-unit-exec), so a capability the session needs and the unit
# lacks fails these tests.  pop3s-stdio-stunnel.service (995, one stunnel
# daemon, the recommended POP3S set-up) runs its ExecStart once, under the
# same settings, with deploy/stunnel/pop3s-stdio.conf on a test port; the
# sessions it hands on go to pop3s-stdio-backend.socket, played the same
# way on a Unix socket of the test, running pop3s-stdio-backend@.service.

load helpers
load deploy-lib
load clients-lib

PLAIN_PORT=21210
POP3S_PORT=21211
DAEMON_PORT=21212

setup_file() {
	suite_requires_tools systemd-socket-activate stunnel openssl setpriv || return 0
	setup_suite_world
	make_test_cert
	start_socket_activate "$PLAIN_PORT" "$POP3S_PORT"
	start_stunnel_unit "$DAEMON_PORT"
}

setup() { skip_unless_suite_can_run; }
teardown_file() { teardown_suite_world; }

@test "systemd pop3-stdio.socket: fetchmail fetches all (--keep), only new, all again deleting" {
	scenario_fetchmail plain "$PLAIN_PORT"
}

@test "systemd pop3-stdio.socket: mpop tracks UIDLs across runs, then deletes" {
	scenario_mpop plain "$PLAIN_PORT"
}

@test "systemd pop3-stdio.socket: getmail6 read_all = false, twice, then only the new message" {
	scenario_getmail plain "$PLAIN_PORT"
}

@test "systemd pop3-stdio.socket: curl pop3:// LIST, RETR, UIDL, TOP 1 0, DELE 1" {
	scenario_curl plain "$PLAIN_PORT"
}

@test "systemd pop3-stdio.socket: Python poplib STAT, LIST, UIDL, RETR, TOP, DELE, QUIT" {
	scenario_poplib plain "$PLAIN_PORT"
}

@test "systemd pop3s-stdio.socket (stunnel): fetchmail over TLS" {
	scenario_fetchmail pop3s "$POP3S_PORT"
}

@test "systemd pop3s-stdio.socket (stunnel): mpop over TLS" {
	scenario_mpop pop3s "$POP3S_PORT"
}

@test "systemd pop3s-stdio.socket (stunnel): getmail6 over TLS" {
	scenario_getmail pop3s "$POP3S_PORT"
}

@test "systemd pop3s-stdio.socket (stunnel): curl pop3s://" {
	scenario_curl pop3s "$POP3S_PORT"
}

@test "systemd pop3s-stdio.socket (stunnel): Python poplib POP3_SSL" {
	scenario_poplib pop3s "$POP3S_PORT"
}

@test "systemd pop3s-stdio-stunnel.service (stunnel daemon): fetchmail over TLS" {
	scenario_fetchmail pop3s "$DAEMON_PORT"
}

@test "systemd pop3s-stdio-stunnel.service (stunnel daemon): mpop over TLS" {
	scenario_mpop pop3s "$DAEMON_PORT"
}

@test "systemd pop3s-stdio-stunnel.service (stunnel daemon): getmail6 over TLS" {
	scenario_getmail pop3s "$DAEMON_PORT"
}

@test "systemd pop3s-stdio-stunnel.service (stunnel daemon): curl pop3s://" {
	scenario_curl pop3s "$DAEMON_PORT"
}

@test "systemd pop3s-stdio-stunnel.service (stunnel daemon): Python poplib POP3_SSL" {
	scenario_poplib pop3s "$DAEMON_PORT"
}

# What the daemon is for: a client that comes back offers the session of
# its last connection and gets it, where stunnel started per connection
# has no session to give back.
resumed_twice() {
	local port=$1 out
	rm -f "$WORLD/tls-session"
	# The TLS 1.3 ticket comes after the handshake: the client waits for
	# the greeting and QUIT's answer before it saves the session.
	printf 'QUIT\r\n' | openssl s_client -connect "127.0.0.1:$port" -CAfile "$CERT" \
		-verify_return_error -ign_eof -sess_out "$WORLD/tls-session" \
		>"$WORLD/tls-first" 2>&1
	grep -q '^+OK .*POP3 server ready' "$WORLD/tls-first"
	out=$(printf 'QUIT\r\n' | openssl s_client -connect "127.0.0.1:$port" \
		-CAfile "$CERT" -verify_return_error -ign_eof -sess_in "$WORLD/tls-session" 2>&1)
	grep -q '^+OK .*POP3 server ready' <<<"$out"
	grep -E '^(Reused|New), ' <<<"$out" | head -1
}

@test "systemd pop3s-stdio-stunnel.service: a returning client resumes its TLS session" {
	run resumed_twice "$DAEMON_PORT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == Reused,* ]]
}

@test "systemd pop3s-stdio.socket (stunnel per connection): a returning client gets a full handshake" {
	run resumed_twice "$POP3S_PORT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == New,* ]]
}
