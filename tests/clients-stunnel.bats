#!/usr/bin/env bats
# TLS through stunnel, proven with real clients, with a certificate
# this suite makes.  Standalone stunnel (foreground = yes, as Debian's
# stunnel@.service needs) with the shipped files moved to test ports:
#   deploy/stunnel/pop3s-stdio.conf      POP3S, port 995 -> 21410, with
#                                        pop3s-stdio-backend.socket behind
#                                        it (a Unix socket of the test's)
#   deploy/stunnel/pop3-stdio-stls.conf  TLS required on 110: stunnel's
#                                        protocol = pop3 -> 21411
# getmail6 has no STLS support, so it is tried on POP3S only.

load helpers
load deploy-lib
load clients-lib

POP3S_PORT=21410
STLS_PORT=21411
DEBUG_PORT=21412
EXEC_PORT=21413

setup_file() {
	suite_requires_tools stunnel openssl || return 0
	setup_suite_world
	make_test_cert
	start_stunnel pop3s-stdio.conf "$POP3S_PORT"
	start_stunnel pop3-stdio-stls.conf "$STLS_PORT"
}

setup() { skip_unless_suite_can_run; }
teardown_file() { teardown_suite_world; }

@test "stunnel POP3S: fetchmail fetches all (--keep), only new, all again deleting" {
	scenario_fetchmail pop3s "$POP3S_PORT"
}

@test "stunnel POP3S: mpop tracks UIDLs across runs, then deletes" {
	scenario_mpop pop3s "$POP3S_PORT"
}

@test "stunnel POP3S: getmail6 read_all = false, twice, then only the new message" {
	scenario_getmail pop3s "$POP3S_PORT"
}

@test "stunnel POP3S: curl pop3s:// LIST, RETR, UIDL, TOP 1 0, DELE 1" {
	scenario_curl pop3s "$POP3S_PORT"
}

@test "stunnel POP3S: Python poplib POP3_SSL" {
	scenario_poplib pop3s "$POP3S_PORT"
}

@test "stunnel STLS (protocol = pop3): fetchmail upgrades with STLS" {
	scenario_fetchmail stls "$STLS_PORT"
}

@test "stunnel STLS (protocol = pop3): mpop with tls_starttls" {
	scenario_mpop stls "$STLS_PORT"
}

@test "stunnel STLS (protocol = pop3): curl pop3:// --ssl-reqd" {
	scenario_curl stls "$STLS_PORT"
}

@test "stunnel STLS (protocol = pop3): Python poplib stls()" {
	scenario_poplib stls "$STLS_PORT"
}

@test "stunnel STLS (protocol = pop3): USER before STLS is refused, the password never asked for" {
	new_account
	fresh_dir refused
	"$PYTHON" "$REPO/tests/clients-poplib" stls-skipped "$STLS_PORT" "$ACCOUNT" \
		"$SECRET" "$FRESH" "$CERT"
	grep -q '^refused' "$FRESH/result"
	# The greeting is pop3-stdio's, relayed by stunnel before TLS.
	grep -Eq '^\+OK .*POP3 server ready' "$FRESH/welcome"
	assert_maildrop $INITIAL
}

@test "stunnel STLS (protocol = pop3): a client that does not insist on TLS cannot log in" {
	new_account
	# curl without --ssl-reqd sees only STLS in CAPA (no USER, no SASL):
	# it has no way to log in and gives up (67: login denied).
	run curl -sS --max-time 20 "pop3://$ACCOUNT:$SECRET@127.0.0.1:$STLS_PORT/"
	[ "$status" -eq 67 ]
	assert_maildrop $INITIAL
}

@test "stunnel daemon: its PROXY header names the client, and pop3-stdio behind the Unix socket logs it" {
	# The backend's only peer is stunnel on the Unix socket: the address
	# in the log comes from the header (--trusted-proxies=local in
	# pop3s-stdio-backend@.service).  With --debug the log lines also go
	# to stderr, which systemd-socket-activate keeps.
	start_stunnel pop3s-stdio.conf "$DEBUG_PORT" --debug
	new_account
	curl -sS --max-time 20 --cacert "$CERT" \
		"pop3s://$ACCOUNT:$SECRET@127.0.0.1:$DEBUG_PORT/" >/dev/null
	local log="$WORLD/backend-$DEBUG_PORT.log"
	grep -Eq '^pop3-stdio\[[0-9]+\]: connection from 127\.0\.0\.1 port [0-9]+ via proxy local$' "$log"
	grep -Eq "^pop3-stdio\[[0-9]+\]: login: user $ACCOUNT\$" "$log"
	# The login was AUTH PLAIN, its data masked on the continuation line,
	# so the check below covers the base64 form too.
	grep -qx 'C: AUTH PLAIN' "$log"
	grep -qx 'C: \*\*\*\*\*\*\*\*' "$log"
	refute_password_logged "$log"
	refute_password_logged "$WORLD/stunnel-$DEBUG_PORT.log"
	# A failed login names the client too: the line fail2ban acts on.
	run curl -sS --max-time 20 --cacert "$CERT" \
		"pop3s://$ACCOUNT:wrong-$SECRET@127.0.0.1:$DEBUG_PORT/"
	[ "$status" -ne 0 ]
	grep -Eq "^pop3-stdio\[[0-9]+\]: login failed: user $ACCOUNT: [a-z ]+; client 127\.0\.0\.1\$" "$log"
	assert_maildrop $INITIAL
}

@test "stunnel exec'ing pop3-stdio per connection: curl, and the address from REMOTE_HOST" {
	# pop3s-stdio-exec.conf: stunnel's exec gives pop3-stdio a socket
	# pair, not the TCP socket, so the address can only come from
	# REMOTE_HOST.
	start_stunnel pop3s-stdio-exec.conf "$EXEC_PORT" --debug
	scenario_curl pop3s "$EXEC_PORT"
	local log="$WORLD/stunnel-$EXEC_PORT.log"
	grep -Eq '^pop3-stdio\[[0-9]+\]: connection from 127\.0\.0\.1$' "$log"
	grep -Eq "^pop3-stdio\[[0-9]+\]: login: user $ACCOUNT\$" "$log"
	refute_password_logged "$log"
}
