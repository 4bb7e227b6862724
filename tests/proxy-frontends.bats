#!/usr/bin/env bats
# Many hosts behind one address: the shipped nginx mail proxy
# (deploy/nginx/) and HAProxy (deploy/haproxy/) in front of two pop3-stdio
# hosts, each in its own network namespace with its own spool, users and
# blocked-users file, each under a real superserver started from the
# shipped backend files (host A: xinetd.d/pop3-stdio-proxied under xinetd;
# host B: deploy/proxy-backend/ as systemd-socket-activate).  Both proxies
# send a PROXY v1 header; each host trusts only its proxy-side address.
# Real clients (fetchmail, curl, Python's poplib) log in through nginx on
# plain POP3, STLS and POP3S.  Layout and helpers: tests/proxy-lib.bash.
#
#   host A (10.231.1.2): alice (mail 01 02), mallory (blocked), the
#                        scenario accounts u<N>
#   host B (10.231.2.2): bob (mail 03 06), and another "alice" (mail 04,
#                        same password) whom nginx must never reach

load helpers
load deploy-lib
load clients-lib
load proxy-lib

setup_file() {
	suite_requires_root "network namespaces, and xinetd's user = root" &&
		suite_requires_tools ip nginx haproxy xinetd systemd-socket-activate \
			curl fetchmail openssl || return 0
	if [ ! -f "$NGINX_MAIL_MODULE" ]; then
		export SUITE_SKIP="nginx's mail module is not installed (libnginx-mod-mail)"
		return 0
	fi
	build_world || {
		local status=$?
		teardown_file
		return "$status"
	}
}

build_world() {
	setup_suite_world
	: >"$WORLD/namespaces"
	proxy_names
	make_test_cert
	HOST_B="$WORLD/host-b"
	export HOST_B
	mkdir -p "$HOST_B/spool"
	: >"$HOST_B/passwd"
	: >"$HOST_B/blocked-users"
	chown "$FIXTURE_UID:$FIXTURE_GID" "$HOST_B/spool"
	add_user alice alice-pw
	add_user mallory mallory-pw
	echo mallory >"$BLOCKLIST"
	mbox_of 01 02 | mbox alice
	mbox_of 01 | mbox mallory
	PASSWD="$HOST_B/passwd" add_user bob bob-pw
	PASSWD="$HOST_B/passwd" add_user alice alice-pw
	mbox_of 03 06 | SPOOL="$HOST_B/spool" mbox bob
	mbox_of 04 | SPOOL="$HOST_B/spool" mbox alice
	cp "$HOST_B/spool/alice" "$WORLD/b-alice.before"
	add_host "$NS_A" 1 && add_host "$NS_B" 2 && add_host "$NS_C" 3 || return 1
	start_host_a || return 1
	start_host_b || return 1
	HOST_B_PID=$(tail -n 1 "$SERVER_PIDS")
	export HOST_B_PID
	start_nginx || return 1
	start_haproxy
}

setup() { skip_unless_suite_can_run; }

teardown_file() {
	stop_servers
	remove_hosts
	[ -z "${WORLD:-}" ] || teardown_world
}

@test "nginx POP3: fetchmail through the proxy fetches, keeps, then deletes (host A)" {
	scenario_fetchmail plain "$NGINX_PLAIN_PORT"
}

@test "nginx STLS: fetchmail upgrades with STLS, then fetches and deletes" {
	scenario_fetchmail stls "$NGINX_PLAIN_PORT"
}

@test "nginx STLS: curl --ssl-reqd LIST, RETR, UIDL, TOP 1 0, DELE 1" {
	scenario_curl stls "$NGINX_PLAIN_PORT"
}

@test "nginx POP3S: curl pop3s:// LIST, RETR, UIDL, TOP 1 0, DELE 1" {
	scenario_curl pop3s "$NGINX_POP3S_PORT"
}

@test "nginx POP3S: Python poplib POP3_SSL, every command, the maildrop after QUIT" {
	scenario_poplib pop3s "$NGINX_POP3S_PORT"
}

@test "nginx POP3: Python poplib, every command, the maildrop after QUIT" {
	scenario_poplib plain "$NGINX_PLAIN_PORT"
}

@test "nginx: each user gets exactly the mail of the host the map names; the other host's namesake is never reached" {
	CDIR="$WORLD/own-mail"
	fresh_dir bob
	curl -sS --max-time 20 "pop3://bob:bob-pw@127.0.0.1:$NGINX_PLAIN_PORT/1" -o "$FRESH/1" \
		"pop3://bob:bob-pw@127.0.0.1:$NGINX_PLAIN_PORT/2" -o "$FRESH/2"
	assert_received crlf "$FRESH" 03 06
	fresh_dir alice
	curl -sS --max-time 20 --cacert "$CERT" \
		"pop3s://alice:alice-pw@127.0.0.1:$NGINX_POP3S_PORT/1" -o "$FRESH/1" \
		"pop3s://alice:alice-pw@127.0.0.1:$NGINX_POP3S_PORT/2" -o "$FRESH/2"
	assert_received crlf "$FRESH" 01 02
	# bob deletes his first message: only host B's file changes.
	curl -sS --max-time 20 "pop3://bob:bob-pw@127.0.0.1:$NGINX_PLAIN_PORT/" -X 'DELE 1' -I
	mbox_of 06 | cmp - "$HOST_B/spool/bob"
	mbox_of 01 02 | cmp - "$SPOOL/alice"
	cmp "$WORLD/b-alice.before" "$HOST_B/spool/alice"
	# Neither user's session was ever served by the other host.
	refute grep -q 'login: user bob' "$WORLD/backend-a.log"
	refute grep -q 'user alice' "$WORLD/backend-b.log"
}

@test "nginx: the host logs the client the PROXY header names (a client in its own namespace), not the proxy" {
	in_ns "$NS_C" curl -sS --max-time 20 "pop3://alice:alice-pw@10.231.3.1:$NGINX_PLAIN_PORT/" >"$WORLD/c-list"
	[ "$(wc -l <"$WORLD/c-list")" = 2 ]
	in_ns "$NS_C" curl -sS --max-time 20 "pop3://alice:wrong@10.231.3.1:$NGINX_PLAIN_PORT/" || true
	# The connection lines: the client's address and port, the proxy
	# named as such; the failed login in the same process.
	local pid
	pid=$(sed -n 's/^pop3-stdio\[\([0-9]*\)\]: connection from 10\.231\.3\.2 port [0-9]* via proxy 10\.231\.1\.1$/\1/p' \
		"$WORLD/backend-a.log" | tail -n 1)
	[ -n "$pid" ] || { cat "$WORLD/backend-a.log"; return 1; }
	grep -q "^pop3-stdio\[$pid\]: login failed: user alice: bad password; client 10\.231\.3\.2\$" \
		"$WORLD/backend-a.log"
	# The shipped fail2ban filter takes the client from that line, not the proxy.
	if command -v fail2ban-regex >/dev/null && [ -f /etc/fail2ban/filter.d/common.conf ]; then
		mkdir -p "$WORLD/fail2ban/filter.d"
		cp /etc/fail2ban/filter.d/common.conf "$DEPLOY/fail2ban/filter.d/pop3-stdio.conf" \
			"$WORLD/fail2ban/filter.d/"
		grep "^pop3-stdio\[$pid\]: login failed" "$WORLD/backend-a.log" |
			sed "s/^/$(date '+%b %e %H:%M:%S') mailhost /" >"$WORLD/f2b.log"
		[ "$(fail2ban-regex --raw -o ip "$WORLD/f2b.log" \
			"$WORLD/fail2ban/filter.d/pop3-stdio.conf")" = 10.231.3.2 ]
	fi
	[ "$(grep -c 'connection from 10\.231\.3\.2 port [0-9]* via proxy 10\.231\.1\.1$' "$WORLD/backend-a.log")" = 2 ]
	# Behind a proxy no connection line names the peer alone.
	refute grep -q 'connection from 10\.231\.1\.1$' "$WORLD/backend-a.log"
}

@test "nginx: a wrong password and a blocked user look the same to the client; an unknown user gets the same line" {
	pop3_talk "$NGINX_PLAIN_PORT" "USER alice" "PASS wrong" >"$WORLD/wrong"
	pop3_talk "$NGINX_PLAIN_PORT" "USER mallory" "PASS mallory-pw" >"$WORLD/blocked"
	same_bytes "$WORLD/wrong" "$WORLD/blocked"
	tail -n 1 "$WORLD/wrong" | grep -qx -e $'-ERR \\[AUTH\\] authentication failed\r'
	# Both reached host A, which told them apart in its log only.
	grep -q 'login failed: user alice: bad password' "$WORLD/backend-a.log"
	grep -q 'login failed: user mallory: blocked user' "$WORLD/backend-a.log"
	# A name in no map: nginx refuses it itself, with the same line.
	pop3_talk "$NGINX_PLAIN_PORT" "USER nobody-here" "PASS x" "QUIT" >"$WORLD/unknown"
	sed -n 3p "$WORLD/unknown" | grep -qx -e $'-ERR \\[AUTH\\] authentication failed\r'
	mbox_of 01 | cmp - "$SPOOL/mallory"
}

@test "HAProxy: each frontend address reaches its own host, the client's address logged there; the health check greets and QUITs" {
	CDIR="$WORLD/haproxy-a"
	fresh_dir mail
	curl -sS --max-time 20 "pop3://alice:alice-pw@127.0.0.1:$HAPROXY_A_PORT/1" -o "$FRESH/1"
	assert_received crlf "$FRESH" 01
	fresh_dir b-mail
	curl -sS --max-time 20 "pop3://bob:bob-pw@127.0.0.1:$HAPROXY_B_PORT/1" -o "$FRESH/1"
	assert_received crlf "$FRESH" 06
	grep -Eq 'connection from 127\.0\.0\.1 port [0-9]+ via proxy 10\.231\.2\.1$' "$WORLD/backend-b.log"
	grep -Eq 'connection from 127\.0\.0\.1 port [0-9]+ via proxy 10\.231\.1\.1$' "$WORLD/backend-a.log"
	# The checks (every second here) come with their own PROXY header and
	# end with QUIT before any login.
	local tries=100
	until grep -q '^S: +OK bye$' "$WORLD/backend-b.log"; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || { tail -n 20 "$WORLD/backend-b.log"; return 1; }
		sleep 0.1
	done
	refute grep -q 'PROXY header from' "$WORLD/backend-a.log" "$WORLD/backend-b.log"
}

@test "a host that is down: nginx refuses its users' login (-ERR, or a close), HAProxy closes; the other host keeps serving" {
	cp "$HOST_B/spool/bob" "$WORLD/bob.before"
	kill "$HOST_B_PID"
	local tries=100
	while kill -0 "$HOST_B_PID" 2>/dev/null; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.05
	done
	pop3_talk "$NGINX_PLAIN_PORT" "USER bob" "PASS bob-pw" "STAT" >"$WORLD/down"
	cat -A "$WORLD/down"
	# The greeting and USER's +OK come from nginx itself.  After PASS,
	# nginx answers -ERR when its connect() is refused; when the refusal
	# comes as it sends the PROXY header, nginx 1.22 closes without a word.
	# Either way no login succeeds, and its error log names the refusal.
	[ "$(sed -n 2p "$WORLD/down")" = $'+OK\r' ]
	refute grep -v -e '^-ERR ' <(sed -n '3,$p' "$WORLD/down")
	grep -Eq '\(111: Connection refused\) while .*upstream' "$WORLD/nginx/error.log"
	pop3_talk "$HAPROXY_B_PORT" "USER bob" >"$WORLD/down-haproxy"
	refute grep -q '^+OK' "$WORLD/down-haproxy"
	# Host A's users are not affected, through either proxy.
	curl -sS --max-time 20 "pop3://alice:alice-pw@127.0.0.1:$NGINX_PLAIN_PORT/" >"$WORLD/a-list"
	[ "$(wc -l <"$WORLD/a-list")" = 2 ]
	curl -sS --max-time 20 "pop3://alice:alice-pw@127.0.0.1:$HAPROXY_A_PORT/" >"$WORLD/a-list2"
	[ "$(wc -l <"$WORLD/a-list2")" = 2 ]
	cmp "$WORLD/bob.before" "$HOST_B/spool/bob"
}
