#!/usr/bin/env bats
# The user story "an administrator has fail2ban ban the addresses that guess
# passwords": each failed login is one log line ending in "; client ADDRESS",
# the shipped filter (deploy/fail2ban) finds every kind of failure in lines
# the real binary wrote and takes the right address from them, no user name
# can make it take another, and a real fail2ban-server bans an address after
# the configured number of failures and not before.

load helpers
bats_require_minimum_version 1.5.0

FILTER="$BATS_TEST_DIRNAME/../deploy/fail2ban/filter.d/pop3-stdio.conf"
JAIL="$BATS_TEST_DIRNAME/../deploy/fail2ban/jail.d/pop3-stdio.conf"
# TEST-NET addresses (RFC 5737, RFC 3849): named by the environment only.
ADDR=192.0.2.7
ADDR6=2001:db8::7
FORGED=198.51.100.66

setup_file() { SECRET_HASH=$(openssl passwd -6 secret); export SECRET_HASH; }

setup() {
	setup_world
	add_user_hash alice "$SECRET_HASH"
	add_user_hash bob "$SECRET_HASH"
	printf 'From a@example.org Mon Nov 23 10:00:00 2026\nSubject: hi\n\nhello\n' | mbox alice
	printf 'bob\n' >"$BLOCKLIST"
	# fail2ban's configuration: the shipped filter beside the common.conf
	# it includes (the one fail2ban itself installs).
	F2B="$WORLD/fail2ban"
	mkdir -p "$F2B/filter.d" "$F2B/jail.d" "$F2B/action.d"
	if [ -f /etc/fail2ban/filter.d/common.conf ]; then
		cp /etc/fail2ban/filter.d/common.conf "$F2B/filter.d/"
	fi
	cp "$FILTER" "$F2B/filter.d/"
	F2B_PID=
}

teardown() {
	if [ -n "$F2B_PID" ]; then
		kill "$F2B_PID" 2>/dev/null || true
		wait "$F2B_PID" 2>/dev/null || true
	fi
	teardown_world
}

need_fail2ban() {
	command -v "$1" >/dev/null || skip "$1 is not installed (package fail2ban)"
	[ -f "$F2B/filter.d/common.conf" ] || skip "fail2ban's filter.d/common.conf is missing"
}

# session VAR=VALUE -- LINE...: one pipelined session whose environment
# names the client as a superserver would; its log lines (no protocol
# trace) go to stdout, dated as rsyslog writes them to /var/log/mail.log.
session() {
	local env=()
	while [ "$1" != "--" ]; do env+=("$1"); shift; done
	shift
	local args
	mapfile -t args < <(pop3_args)
	printf '%s\r\n' "$@" |
		env -u REMOTE_ADDR -u TCPREMOTEIP -u REMOTE_HOST "${env[@]}" \
			"$POP3" "${args[@]}" --debug 2>&1 >/dev/null |
		grep -v '^[CS]: ' | sed "s/^/$(date '+%b %e %H:%M:%S') mailhost /"
}

plain() { printf '%s\0%s\0%s' "$1" "$2" "$3" | base64 -w0; }

# Every kind of failure, from $1 named by the environment variable $2.
all_failures() {
	session "$2=$1" -- "USER alice" "PASS wrong" "USER ghost" "PASS secret" "QUIT"
	session "$2=$1" -- "USER bob" "PASS secret" "USER .hidden" "PASS x" "QUIT"
	session "$2=$1" -- "AUTH PLAIN !!!notbase64" "QUIT"
}

# regex LOG: the address fail2ban-regex takes from each line it matches.
regex() { fail2ban-regex --raw -o ip "$1" "$F2B/filter.d/pop3-stdio.conf"; }

@test "fail2ban: a failed login's line ends in '; client ADDRESS' for every reason, the address from each superserver's variable" {
	local var
	for var in TCPREMOTEIP REMOTE_ADDR REMOTE_HOST; do
		all_failures "$ADDR" "$var" >"$WORLD/log"
		grep 'login failed' "$WORLD/log" >"$WORLD/failed"
		grep -q "login failed: user alice: bad password; client $ADDR\$" "$WORLD/failed"
		grep -q "login failed: user ghost: unknown user; client $ADDR\$" "$WORLD/failed"
		grep -q "login failed: user bob: blocked user; client $ADDR\$" "$WORLD/failed"
		grep -q "login failed: user .hidden: invalid user name; client $ADDR\$" "$WORLD/failed"
		grep -q "login failed: user (no name): invalid AUTH PLAIN response; client $ADDR\$" "$WORLD/failed"
		[ "$(wc -l <"$WORLD/failed")" -eq 5 ]
	done
	# None: the line still ends in the field, and no address is made up.
	session -- "USER alice" "PASS wrong" "QUIT" | grep -q 'login failed: user alice: bad password; client local$'
}

@test "fail2ban: the address of a real TCP client comes from the socket, not from the environment" {
	command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate is not installed"
	command -v curl >/dev/null || skip "curl is not installed"
	local port try
	write_serve_script "REMOTE_ADDR=$FORGED"
	for try in 1 2 3 4 5 6 7 8; do
		port=$((21000 + RANDOM % 1000))
		systemd-socket-activate -l "127.0.0.1:$port" --inetd -a "$WORLD/serve.sh" \
			2>"$WORLD/activate.log" &
		F2B_PID=$!
		local i
		for i in $(seq 100); do
			grep -q 'Listening on' "$WORLD/activate.log" && break 2
			kill -0 "$F2B_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill "$F2B_PID" 2>/dev/null || true
		wait "$F2B_PID" 2>/dev/null || true
		F2B_PID=
	done
	[ -n "$F2B_PID" ]
	run curl -sS --max-time 20 "pop3://alice:wrong@127.0.0.1:$port/"
	[ "$status" -ne 0 ]
	grep -q 'login failed: user alice: bad password; client 127.0.0.1$' "$WORLD/server.log"
	refute grep -q "$FORGED" "$WORLD/server.log"
}

@test "fail2ban: an IPv4 client of a dual-stack socket is logged as plain IPv4, the address a ban must name" {
	is_root || skip "needs root for a network namespace of its own"
	command -v unshare >/dev/null && command -v ip >/dev/null || skip "unshare or ip is missing"
	command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate is not installed"
	write_serve_script
	# In a network namespace of its own with only loopback, the socket
	# listens on [::] (IPv4 too, as systemd's ListenStream=110 does).
	# Everything in it ends with the namespace's shell.
	run timeout 60 unshare --net sh -c '
		ip link set lo up || exit 1
		systemd-socket-activate -l "[::]:1110" --inetd -a "$1" 2>"$2/activate.log" &
		pid=$!
		i=0
		until grep -q "Listening on" "$2/activate.log"; do
			i=$((i + 1)); [ $i -lt 200 ] || { kill $pid; exit 1; }; sleep 0.05
		done
		curl -sS --max-time 20 "pop3://alice:wrong@127.0.0.1:1110/"
		kill $pid; wait $pid
		exit 0' sh "$WORLD/serve.sh" "$WORLD"
	[ "$status" -eq 0 ]
	grep -q 'connection from 127.0.0.1$' "$WORLD/server.log"
	grep -q 'login failed: user alice: bad password; client 127.0.0.1$' "$WORLD/server.log"
}

@test "fail2ban-regex: the shipped filter matches every failure, takes its address, and no line of a successful session" {
	need_fail2ban fail2ban-regex
	{
		all_failures "$ADDR" TCPREMOTEIP
		all_failures "$ADDR6" REMOTE_ADDR
	} >"$WORLD/failures.log"
	session TCPREMOTEIP="$ADDR" -- "USER alice" "PASS secret" "STAT" "RETR 1" "QUIT" >"$WORLD/ok.log"
	session TCPREMOTEIP="$ADDR" -- "AUTH PLAIN $(plain '' alice secret)" "QUIT" >>"$WORLD/ok.log"
	[ "$(grep -c 'login: user alice$' "$WORLD/ok.log")" -eq 2 ]
	run regex "$WORLD/failures.log"
	[ "$status" -eq 0 ]
	[ "$(grep -cx "$ADDR" <<<"$output")" -eq 5 ]
	[ "$(grep -cx "$ADDR6" <<<"$output")" -eq 5 ]
	[ "${#lines[@]}" -eq 10 ]
	run regex "$WORLD/ok.log"
	[ -z "$output" ]
	# The summary, as an administrator checks a filter.
	cat "$WORLD/failures.log" "$WORLD/ok.log" >"$WORLD/all.log"
	run fail2ban-regex --raw "$WORLD/all.log" "$F2B/filter.d/pop3-stdio.conf"
	[ "$status" -eq 0 ]
	local total
	total=$(wc -l <"$WORLD/all.log")
	grep -qx "Lines: $total lines, 0 ignored, 10 matched, $((total - 10)) missed" <<<"$output"
}

@test "fail2ban-regex: a server-side failure (system error) and a session with no address are not counted" {
	need_fail2ban fail2ban-regex
	# A virtual-users file that cannot be read: the server cannot check.
	PASSWD="$WORLD/missing"
	session TCPREMOTEIP="$ADDR" -- "USER alice" "PASS secret" "QUIT" >"$WORLD/log"
	grep -q "login failed: user alice: system error; client $ADDR\$" "$WORLD/log"
	PASSWD="$WORLD/passwd"
	session -- "USER alice" "PASS wrong" "QUIT" >>"$WORLD/log"
	grep -q 'client local$' "$WORLD/log"
	run regex "$WORLD/log"
	[ -z "$output" ]
}

@test "fail2ban: a user name holding '; client ADDRESS', 'rip=' or a line break cannot name another address" {
	need_fail2ban fail2ban-regex
	local fake="Dec  7 01:00:00 mailhost pop3-stdio[1]: login failed: user x: bad password; client $FORGED"
	{
		session TCPREMOTEIP="$ADDR" -- "USER x; client $FORGED" "PASS x" \
			"USER rip=$FORGED" "PASS x" "USER x;client=$FORGED" "PASS x" "QUIT"
		session TCPREMOTEIP="$ADDR" -- \
			"AUTH PLAIN $(plain '' "a: bad password; client $FORGED" x)" \
			"AUTH PLAIN $(plain '' "y"$'\n'"$fake" x)" \
			"AUTH PLAIN $(plain '' "z; client $FORGED; client $FORGED" x)" "QUIT"
	} >"$WORLD/log"
	# The names are there, made log-safe (the line break as \x0a) ...
	grep -q "user x; client $FORGED: invalid user name; client $ADDR\$" "$WORLD/log"
	grep -q "user rip=$FORGED: unknown user; client $ADDR\$" "$WORLD/log"
	grep -q 'user y\\x0aDec  7 01:00:00 mailhost pop3-stdio\[1\]: login failed' "$WORLD/log"
	[ "$(grep -c 'login failed' "$WORLD/log")" -eq 6 ]
	# ... every line ends with the real address, and only it is taken.
	[ "$(grep -c "; client $ADDR\$" "$WORLD/log")" -eq 6 ]
	run regex "$WORLD/log"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 6 ]
	[ "$(grep -cx "$ADDR" <<<"$output")" -eq 6 ]
	refute grep -q "$FORGED" <<<"$output"
}

@test "fail2ban-client --test: both shipped jails load, the journal one matching SYSLOG_IDENTIFIER=pop3-stdio" {
	need_fail2ban fail2ban-client
	cp "$JAIL" "$F2B/jail.d/pop3-stdio.conf"
	grep -qx 'enabled  = false' <(sed -n '/^\[pop3-stdio\]/,/^\[/p' "$JAIL")
	grep -qx 'enabled  = false' <(sed -n '/^\[pop3-stdio-file\]/,$p' "$JAIL")
	printf '[%s]\nenabled = true\naction =\n' pop3-stdio pop3-stdio-file >"$F2B/jail.d/pop3-stdio.local"
	printf 'logpath = %s\n' "$WORLD/mail.log" >>"$F2B/jail.d/pop3-stdio.local"
	: >"$WORLD/mail.log"
	printf '[Definition]\nsocket = %s\npidfile = %s\ndbfile = :memory:\nlogtarget = %s\n' \
		"$F2B/sock" "$F2B/pid" "$WORLD/f2b.log" >"$F2B/fail2ban.conf"
	printf '[DEFAULT]\n' >"$F2B/jail.conf"
	run fail2ban-client -c "$F2B" --test
	echo "$output"
	[ "$status" -eq 0 ]
	run fail2ban-client -c "$F2B" -d
	[ "$status" -eq 0 ]
	grep -qF "['add', 'pop3-stdio', 'systemd']" <<<"$output"
	[ "$(grep -cF "['set', 'pop3-stdio', 'addjournalmatch', 'SYSLOG_IDENTIFIER=pop3-stdio']" <<<"$output")" -eq 1 ]
	grep -qF "['set', 'pop3-stdio', 'maxretry', 5]" <<<"$output"
	grep -qF "['set', 'pop3-stdio-file', 'addlogpath', '$WORLD/mail.log'" <<<"$output"
}

# f2b_status: the jail's status, from the running server.
f2b_status() { fail2ban-client -s "$F2B/sock" status pop3-stdio-file 2>/dev/null; }

# wait_status PATTERN: up to 30 s for the jail's status to match PATTERN
# while the server runs.
wait_status() {
	local i
	for i in $(seq 300); do
		f2b_status | grep -Eq "$1" && return 0
		kill -0 "$F2B_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	echo "status never matched '$1':" >&2
	f2b_status >&2
	return 1
}

@test "fail2ban-server: the shipped jail bans an address at its third failure, not before, and never a bystander" {
	need_fail2ban fail2ban-server
	command -v fail2ban-client >/dev/null || skip "fail2ban-client is not installed"
	# The shipped jail file, its rsyslog jail turned on for a log file
	# here, read by polling, with an action that only records the ban.
	cp "$JAIL" "$F2B/jail.d/pop3-stdio.conf"
	cat >"$F2B/jail.d/pop3-stdio.local" <<-EOF
		[pop3-stdio-file]
		enabled = true
		backend = polling
		logpath = $WORLD/mail.log
		maxretry = 3
		findtime = 1h
		action = record
	EOF
	cat >"$F2B/action.d/record.conf" <<-EOF
		[Definition]
		actionban = echo <ip> >>$WORLD/banned
		actionunban = echo unban <ip> >>$WORLD/banned
	EOF
	cat >"$F2B/fail2ban.conf" <<-EOF
		[Definition]
		loglevel = INFO
		logtarget = $WORLD/fail2ban.log
		socket = $F2B/sock
		pidfile = $F2B/pid
		dbfile = $F2B/db
	EOF
	printf '[DEFAULT]\nignoreself = true\n' >"$F2B/jail.conf"
	: >"$WORLD/mail.log"
	: >"$WORLD/banned"
	fail2ban-server -f -x -c "$F2B" -s "$F2B/sock" -p "$F2B/pid" \
		>"$WORLD/server.out" 2>&1 &
	F2B_PID=$!
	wait_status 'Currently failed:[[:space:]]*0'
	# Two failures from ADDR, one from a bystander, a success from ADDR.
	session TCPREMOTEIP="$ADDR" -- "USER alice" "PASS wrong" "USER ghost" "PASS x" "QUIT" >>"$WORLD/mail.log"
	session TCPREMOTEIP="$ADDR6" -- "USER alice" "PASS wrong" "QUIT" >>"$WORLD/mail.log"
	session TCPREMOTEIP="$ADDR" -- "USER alice" "PASS secret" "QUIT" >>"$WORLD/mail.log"
	wait_status 'Total failed:[[:space:]]*3'
	f2b_status | grep -Eq 'Total banned:[[:space:]]*0'
	[ ! -s "$WORLD/banned" ]
	# The third failure from ADDR (a blocked user) is the one that bans.
	session TCPREMOTEIP="$ADDR" -- "USER bob" "PASS secret" "QUIT" >>"$WORLD/mail.log"
	wait_status 'Total banned:[[:space:]]*1'
	f2b_status | grep -q "Banned IP list:.*$ADDR"
	local i
	for i in $(seq 100); do
		[ -s "$WORLD/banned" ] && break
		sleep 0.1
	done
	[ "$(cat "$WORLD/banned")" = "$ADDR" ]
	kill "$F2B_PID"
	wait "$F2B_PID" || true
	F2B_PID=
}
