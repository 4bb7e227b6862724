#!/usr/bin/env bats
# The systemd units' hardening still lets pop3-stdio do its work.
# What can be checked without running systemd: the units' syntax, the
# exposure systemd rates them at, and that a traced session (login, RETR,
# a failed login, DELE and QUIT through the update journal) makes no system
# call the SystemCallFilter= would refuse and opens no socket family
# RestrictAddressFamilies= forbids.  The capability bounding set and
# NoNewPrivileges are exercised by every test in clients-systemd.bats.

load helpers
load deploy-lib
load clients-lib

PLAIN_PORT=21610
POP3S_PORT=21611
DAEMON_PORT=21612

# Only the traced sessions need a world (and make one); the others read
# the unit files.
teardown() {
	[ -z "${WORLD:-}" ] || teardown_suite_world
}

@test "systemd units: systemd-analyze verify finds nothing to say" {
	skip_unless_tools systemd-analyze
	SYSTEMD_UNIT_PATH="$DEPLOY/systemd:" run systemd-analyze verify --man=no \
		pop3-stdio.socket pop3s-stdio.socket pop3-stdio@verify.service \
		pop3s-stdio@verify.service pop3s-stdio-stunnel.service \
		pop3s-stdio-backend.socket pop3s-stdio-backend@verify.service
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "systemd units: socket pairs listen on 110 and 995, one service per connection" {
	[ "$(listen_stream pop3-stdio.socket)" = 110 ]
	[ "$(listen_stream pop3s-stdio.socket)" = 995 ]
	for unit in pop3-stdio@.service pop3s-stdio@.service pop3s-stdio-backend@.service; do
		grep -qx 'StandardInput=socket' "$DEPLOY/systemd/$unit"
		grep -qx 'StandardOutput=socket' "$DEPLOY/systemd/$unit"
	done
}

@test "systemd units: the stunnel daemon takes 995 through its stunnel file, never with the socket unit" {
	local unit="$DEPLOY/systemd/pop3s-stdio-stunnel.service"
	grep -qx 'ExecStart=/usr/bin/stunnel /usr/local/share/pop3-stdio/stunnel/pop3s-stdio.conf' "$unit"
	grep -qx 'accept = 995' "$DEPLOY/stunnel/pop3s-stdio.conf"
	grep -qx 'Conflicts=pop3s-stdio.socket' "$unit"
	# Binding 995 is all stunnel needs: the sessions run elsewhere.
	grep -qx 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' "$unit"
	grep -qx 'Requires=pop3s-stdio-backend.socket' "$unit"
}

@test "systemd units: the stunnel daemon's sessions reach pop3-stdio on root's own socket, which alone may name the client" {
	local socket="$DEPLOY/systemd/pop3s-stdio-backend.socket"
	local path
	path=$(listen_stream pop3s-stdio-backend.socket)
	grep -qx "connect = $path" "$DEPLOY/stunnel/pop3s-stdio.conf"
	grep -qx 'protocol = proxy' "$DEPLOY/stunnel/pop3s-stdio.conf"
	grep -qx 'SocketUser=root' "$socket"
	grep -qx 'SocketGroup=root' "$socket"
	grep -qx 'SocketMode=0600' "$socket"
	grep -qx 'ExecStart=-/usr/local/sbin/pop3-stdio --trusted-proxies=local' \
		"$DEPLOY/systemd/pop3s-stdio-backend@.service"
}

@test "systemd units: systemd-analyze security rates the services' exposure 3.0 or lower" {
	skip_unless_tools systemd-analyze
	local unit
	setup_world
	for unit in pop3-stdio@.service pop3s-stdio@.service pop3s-stdio-stunnel.service \
		pop3s-stdio-backend@.service; do
		# The program must exist for the offline analysis.
		subst "$DEPLOY/systemd/$unit" /usr/local/sbin/pop3-stdio "$POP3" \
			>"$WORLD/$unit" 2>/dev/null ||
			cp "$DEPLOY/systemd/$unit" "$WORLD/$unit"
		run systemd-analyze security --offline=true --threshold=30 "$WORLD/$unit"
		echo "${lines[-1]}"
		[ "$status" -eq 0 ]
	done
}

# traced_sessions UNIT PORT TRANSPORT: the unit's ExecStart under strace -ff
# (for each connection, or once for the stunnel daemon, whose
# pop3s-stdio-backend@.service sessions are traced into $WORLD/trace/b.*),
# then a login with RETR, a failed login, and DELE 1 with QUIT; the traces
# are in $WORLD/trace.
traced_sessions() {
	local unit=$1 port=$2 transport=$3 script url tls=()
	mkdir -p "$WORLD/trace"
	if [ "$unit" = pop3s-stdio-stunnel.service ]; then
		stunnel_conf pop3s-stdio.conf "$port" >"$WORLD/pop3s-stdio-stunnel.conf"
		script=$(unit_script pop3s-stdio-backend@.service)
		start_server "strace-backend-$port" systemd-socket-activate --inetd -a \
			-l "$(backend_socket "$port")" strace -ff -qq -o "$WORLD/trace/b" "$script"
		wait_for_socket "$(backend_socket "$port")"
		script=$(unit_script "$unit")
		start_server "strace-$port" strace -ff -qq -o "$WORLD/trace/t" "$script"
		wait_for_port "$port"
		# Ending strace would leave the traced daemon running: it is
		# stopped by its own PID too, the one listening on the port.
		ss -Hltnp "sport = :$port" | grep -o 'pid=[0-9]*' | cut -d= -f2 >>"$SERVER_PIDS"
	else
		[ "$transport" = plain ] ||
			stunnel_conf pop3s-stdio-inetd.conf - >"$WORLD/pop3s-stdio-inetd.conf"
		script=$(unit_script "$unit")
		start_server "strace-$port" systemd-socket-activate --inetd -a \
			-l "127.0.0.1:$port" strace -ff -qq -o "$WORLD/trace/t" "$script"
	fi
	wait_for_port "$port"
	new_account
	url="pop3://$ACCOUNT:$SECRET@127.0.0.1:$port"
	if [ "$transport" = pop3s ]; then
		url="pop3s://$ACCOUNT:$SECRET@127.0.0.1:$port"
		tls=(--cacert "$CERT")
	fi
	curl -sS --max-time 30 "${tls[@]}" "$url/1" >"$CDIR/retr"
	cmp <(sed 's/$/\r/' "$MESSAGES/01.eml") "$CDIR/retr"
	run curl -sS --max-time 30 "${tls[@]}" "${url/$SECRET/wrong}/"
	[ "$status" -ne 0 ]
	curl -sS --max-time 30 "${tls[@]}" -X 'DELE 1' -I "$url/" >/dev/null
	assert_maildrop 02 03 06
}

@test "pop3-stdio@.service: a traced session makes only system calls the unit's filter allows" {
	is_root || skip "the session switches users only when started as root"
	skip_unless_tools strace systemd-socket-activate systemd-analyze curl
	setup_suite_world
	traced_sessions pop3-stdio@.service "$PLAIN_PORT" plain
	"$PYTHON" "$REPO/tests/deploy-syscalls" "$DEPLOY/systemd/pop3-stdio@.service" \
		"$POP3" "$WORLD"/trace/t.*
}

@test "pop3s-stdio@.service: stunnel and pop3-stdio make only system calls the unit's filter allows" {
	is_root || skip "the session switches users only when started as root"
	skip_unless_tools strace systemd-socket-activate systemd-analyze curl stunnel openssl
	setup_suite_world
	make_test_cert
	traced_sessions pop3s-stdio@.service "$POP3S_PORT" pop3s
	"$PYTHON" "$REPO/tests/deploy-syscalls" "$DEPLOY/systemd/pop3s-stdio@.service" \
		/usr/bin/stunnel "$WORLD"/trace/t.*
}

@test "pop3s-stdio-stunnel.service and its backend: stunnel and pop3-stdio each make only system calls their unit's filter allows" {
	is_root || skip "the session switches users only when started as root"
	skip_unless_tools strace systemd-socket-activate systemd-analyze curl stunnel openssl ss
	setup_suite_world
	make_test_cert
	traced_sessions pop3s-stdio-stunnel.service "$DAEMON_PORT" pop3s
	"$PYTHON" "$REPO/tests/deploy-syscalls" "$DEPLOY/systemd/pop3s-stdio-stunnel.service" \
		/usr/bin/stunnel "$WORLD"/trace/t.*
	"$PYTHON" "$REPO/tests/deploy-syscalls" "$DEPLOY/systemd/pop3s-stdio-backend@.service" \
		"$POP3" "$WORLD"/trace/b.*
}
