#!/usr/bin/env bats
# pop3-stdio under xinetd, proven with real clients.  xinetd runs
# in the foreground (-dontfork) with its own configuration file holding the
# shipped xinetd.d/pop3-stdio (POP3) and xinetd.d/pop3s-stdio (POP3S: stunnel
# in inetd mode with deploy/stunnel/pop3s-stdio-inetd.conf), moved to test
# ports on 127.0.0.1.  xinetd's services run as root (user = root), as the
# shipped files say, so this suite needs root.

load helpers
load deploy-lib
load clients-lib

PLAIN_PORT=21110
POP3S_PORT=21111

setup_file() {
	suite_requires_root "xinetd's services run as root (user = root in xinetd.d/)" &&
		suite_requires_tools xinetd stunnel openssl || return 0
	setup_suite_world
	make_test_cert
	start_xinetd "$PLAIN_PORT" "$POP3S_PORT"
}

setup() { skip_unless_suite_can_run; }
teardown_file() { teardown_suite_world; }

@test "xinetd pop3-stdio: fetchmail fetches all (--keep), only new, all again deleting" {
	scenario_fetchmail plain "$PLAIN_PORT"
}

@test "xinetd pop3-stdio: mpop tracks UIDLs across runs, then deletes" {
	scenario_mpop plain "$PLAIN_PORT"
}

@test "xinetd pop3-stdio: getmail6 read_all = false, twice, then only the new message" {
	scenario_getmail plain "$PLAIN_PORT"
}

@test "xinetd pop3-stdio: curl pop3:// LIST, RETR, UIDL, TOP 1 0, DELE 1" {
	scenario_curl plain "$PLAIN_PORT"
}

@test "xinetd pop3-stdio: Python poplib STAT, LIST, UIDL, RETR, TOP, DELE, QUIT" {
	scenario_poplib plain "$PLAIN_PORT"
}

@test "xinetd pop3s-stdio (stunnel): fetchmail over TLS" {
	scenario_fetchmail pop3s "$POP3S_PORT"
}

@test "xinetd pop3s-stdio (stunnel): mpop over TLS" {
	scenario_mpop pop3s "$POP3S_PORT"
}

@test "xinetd pop3s-stdio (stunnel): getmail6 over TLS" {
	scenario_getmail pop3s "$POP3S_PORT"
}

@test "xinetd pop3s-stdio (stunnel): curl pop3s://" {
	scenario_curl pop3s "$POP3S_PORT"
}

@test "xinetd pop3s-stdio (stunnel): Python poplib POP3_SSL" {
	scenario_poplib pop3s "$POP3S_PORT"
}

@test "xinetd: each session is logged with its client address and exit status" {
	# xinetd's own log (log_on_success = HOST PID DURATION EXIT) saw the
	# sessions of the tests above, on both services.
	grep -Eq 'START: pop3-stdio pid=[0-9]+ from=127\.0\.0\.1' "$WORLD/xinetd-services.log"
	grep -Eq 'EXIT: pop3-stdio status=0 pid=[0-9]+ duration=' "$WORLD/xinetd-services.log"
	grep -Eq 'START: pop3s-stdio pid=[0-9]+ from=127\.0\.0\.1' "$WORLD/xinetd-services.log"
}
