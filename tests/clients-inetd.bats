#!/usr/bin/env bats
# pop3-stdio under classic inetd (Debian's openbsd-inetd), proven with real
# clients.  inetd runs in the foreground (-i) with its own configuration:
# the two lines of the shipped deploy/inetd/pop3-stdio.conf (POP3, and
# POP3S through stunnel in inetd mode with
# deploy/stunnel/pop3s-stdio-inetd.conf), moved to test ports on 127.0.0.1.
# The services run as root, as the shipped lines say, so this suite needs
# root.
#
# openbsd-inetd and xinetd cannot be installed together (both provide
# inet-superserver), so tests/install-deps unpacks openbsd-inetd's program
# into $OPENBSD_INETD's directory instead of installing it; an installed
# openbsd-inetd is used when there is one.  inetd writes /run/inetd.pid,
# which update-inetd reads: it runs in a mount namespace of its own with a
# private /run, so the machine's inetd (if any) is never confused with it.

load helpers
load deploy-lib
load clients-lib

PLAIN_PORT=21710
POP3S_PORT=21711

find_inetd() {
	local unpacked=${OPENBSD_INETD:-/opt/pop3-stdio-tests/openbsd-inetd/usr/sbin/inetd}
	if [ -x "$unpacked" ]; then
		echo "$unpacked"
	elif dpkg-query -W -f='${Status}\n' openbsd-inetd 2>/dev/null | grep -q 'install ok installed'; then
		echo /usr/sbin/inetd
	else
		return 1
	fi
}

# inetd_lines PLAIN-PORT POP3S-PORT: the shipped lines, adapted.
inetd_lines() {
	subst "$DEPLOY/inetd/pop3-stdio.conf" \
		"$(printf 'pop3\tstream')" "$(printf '127.0.0.1:%s\tstream' "$1")" \
		"$(printf 'pop3s\tstream')" "$(printf '127.0.0.1:%s\tstream' "$2")" \
		"$(printf '\t/usr/local/sbin/pop3-stdio\tpop3-stdio')" \
		"$(printf '\t%s\tpop3-stdio %s' "$POP3" "$(server_args)")" \
		"/usr/local/share/pop3-stdio/stunnel/pop3s-stdio-inetd.conf" \
		"$WORLD/pop3s-stdio-inetd.conf" | grep -v '^#'
}

setup_file() {
	suite_requires_root "inetd's services run as root (the shipped lines say so), and inetd gets a private /run" &&
		suite_requires_tools stunnel openssl unshare || return 0
	if ! INETD=$(find_inetd); then
		export SUITE_SKIP="openbsd-inetd's program is missing (tests/install-deps unpacks it)"
		return 0
	fi
	setup_suite_world
	make_test_cert
	stunnel_conf pop3s-stdio-inetd.conf - >"$WORLD/pop3s-stdio-inetd.conf"
	inetd_lines "$PLAIN_PORT" "$POP3S_PORT" >"$WORLD/inetd.conf"
	[ "$(grep -c . "$WORLD/inetd.conf")" -eq 2 ]
	require_free_port "$PLAIN_PORT" && require_free_port "$POP3S_PORT"
	# unshare execs (no fork), and so does sh: the recorded PID is inetd's.
	start_server inetd unshare --mount --propagation private sh -c \
		'mount -t tmpfs -o mode=755 pop3-stdio-test-run /run && exec "$0" -i "$1"' \
		"$INETD" "$WORLD/inetd.conf"
	wait_for_port "$PLAIN_PORT" && wait_for_port "$POP3S_PORT"
}

setup() { skip_unless_suite_can_run; }
teardown_file() { teardown_suite_world; }

@test "inetd: the shipped lines are two valid inetd.conf entries, POP3 on pop3 (110) and POP3S on pop3s (995)" {
	local plain pop3s
	plain=$(grep -P '^pop3\t' "$DEPLOY/inetd/pop3-stdio.conf")
	pop3s=$(grep -P '^pop3s\t' "$DEPLOY/inetd/pop3-stdio.conf")
	[ "$(awk -F'\t' '{print NF}' <<<"$plain")" -eq 7 ]
	[ "$(awk -F'\t' '{print $2,$3,$4,$5,$6,$7}' <<<"$plain")" = "stream tcp nowait root /usr/local/sbin/pop3-stdio pop3-stdio" ]
	[ "$(awk -F'\t' '{print $2,$3,$4,$5,$6}' <<<"$pop3s")" = "stream tcp nowait root /usr/bin/stunnel" ]
	[ "$(awk -F'\t' '{print $7}' <<<"$pop3s")" = "stunnel /usr/local/share/pop3-stdio/stunnel/pop3s-stdio-inetd.conf" ]
	grep -Eq '^pop3[[:space:]]+110/tcp' /etc/services
	grep -Eq '^pop3s[[:space:]]+995/tcp' /etc/services
}

@test "inetd pop3-stdio: fetchmail fetches all (--keep), only new, all again deleting" {
	scenario_fetchmail plain "$PLAIN_PORT"
}

@test "inetd pop3-stdio: mpop tracks UIDLs across runs, then deletes" {
	scenario_mpop plain "$PLAIN_PORT"
}

@test "inetd pop3-stdio: getmail6 read_all = false, twice, then only the new message" {
	scenario_getmail plain "$PLAIN_PORT"
}

@test "inetd pop3-stdio: curl pop3:// LIST, RETR, UIDL, TOP 1 0, DELE 1" {
	scenario_curl plain "$PLAIN_PORT"
}

@test "inetd pop3-stdio: Python poplib STAT, LIST, UIDL, RETR, TOP, DELE, QUIT" {
	scenario_poplib plain "$PLAIN_PORT"
}

@test "inetd pop3s (stunnel): fetchmail over TLS" {
	scenario_fetchmail pop3s "$POP3S_PORT"
}

@test "inetd pop3s (stunnel): mpop over TLS" {
	scenario_mpop pop3s "$POP3S_PORT"
}

@test "inetd pop3s (stunnel): getmail6 over TLS" {
	scenario_getmail pop3s "$POP3S_PORT"
}

@test "inetd pop3s (stunnel): curl pop3s://" {
	scenario_curl pop3s "$POP3S_PORT"
}

@test "inetd pop3s (stunnel): Python poplib POP3_SSL" {
	scenario_poplib pop3s "$POP3S_PORT"
}

@test "inetd: the machine's /run/inetd.pid was never touched by the test's inetd" {
	local pid
	pid=$(head -n 1 "$SERVER_PIDS")
	kill -0 "$pid"
	# inetd wrote its pid file in its own /run, not in the machine's.
	if [ -f /run/inetd.pid ]; then
		[ "$(cat /run/inetd.pid)" != "$pid" ]
	fi
	[ "$(nsenter -t "$pid" -m cat /run/inetd.pid)" = "$pid" ]
}
