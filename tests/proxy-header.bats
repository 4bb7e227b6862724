#!/usr/bin/env bats
# The PROXY protocol v1 (HAProxy's proxy-protocol.txt 2.1) from a trusted
# proxy: the connection must open with the header, which names the client
# for every log line; anything else from that peer ends the connection
# before a greeting.  The peer must be a real TCP socket for
# --trusted-proxies to match: tests/proxy-connect listens on 127.0.0.1
# (or ::1), connects to itself and runs the server on the accepted socket,
# as inetd would.  Log lines come on stderr with --debug.

load helpers
bats_require_minimum_version 1.5.0

FROM_LINE='From sender@example.org Mon Nov 23 10:00:00 2026'
GOOD4='PROXY TCP4 192.0.2.7 198.51.100.1 56324 110'

setup_file() { SECRET_HASH=$(openssl passwd -6 secret); export SECRET_HASH; }

setup() {
	setup_world
	add_user_hash alice "$SECRET_HASH"
	printf '%s\nSubject: one\n\nfirst\n\n%s\nSubject: two\n\nsecond\n' \
		"$FROM_LINE" "$FROM_LINE" | mbox alice
	cp "$SPOOL/alice" "$WORLD/alice.before"
	OUT="$WORLD/out"
	LOG="$WORLD/log"
}
teardown() { teardown_world; }

# connect [--addr A] [--dribble S] TRUSTED: the server behind a TCP peer
# (127.0.0.1 unless --addr), trusting TRUSTED (none when empty), with
# stdin's bytes as the client's; $OUT its answer, $LOG its log, $status.
connect() {
	local helper_opts=() trusted
	while [ "${1#--}" != "$1" ]; do
		helper_opts+=("$1" "$2")
		shift 2
	done
	trusted=$1
	local args
	mapfile -t args < <(pop3_args)
	args+=(--debug)
	[ -z "$trusted" ] || args+=(--trusted-proxies="$trusted")
	status=0
	"$PYTHON" "$REPO/tests/proxy-connect" "${helper_opts[@]}" "$OUT" -- \
		"$POP3" "${args[@]}" 2>"$LOG" || status=$?
}

PYTHON=$(command -v python3)

# refused REASON: closed without a byte, exit non-zero, the reason and the
# peer in the log, the maildrop as it was.
refused() {
	[ "$status" -ne 0 ] || { echo "exit status 0"; return 1; }
	[ ! -s "$OUT" ] || { echo "answered:"; cat -A "$OUT"; return 1; }
	grep -F "PROXY header from 127.0.0.1: $1; closing" "$LOG" ||
		{ echo "log:"; cat "$LOG"; return 1; }
	refute grep -q 'connection from\|login:\|login failed' "$LOG"
	cmp "$WORLD/alice.before" "$SPOOL/alice"
}

@test "PROXY: a header and pipelined commands in one write: served, the header's client logged, DELE on disk" {
	connect 127.0.0.1 < <(printf '%s\r\n' "$GOOD4" "USER alice" "PASS secret" "STAT" "RETR 2" "DELE 1" "QUIT")
	[ "$status" -eq 0 ]
	grep -Eq "$greeting_re" <(head -n 1 "$OUT")
	printf '+OK send PASS\r\n+OK maildrop has 2 messages (47 octets)\r\n+OK 2 47\r\n+OK 24 octets\r\nSubject: two\r\n\r\nsecond\r\n.\r\n+OK message 1 deleted\r\n+OK bye, 1 messages deleted, 1 left\r\n' >"$WORLD/want"
	after_greeting "$OUT" >"$WORLD/got"
	same_bytes "$WORLD/want" "$WORLD/got"
	grep -F 'connection from 192.0.2.7 port 56324 via proxy 127.0.0.1' "$LOG"
	refute grep -F 'connection from 127.0.0.1' "$LOG"
	printf '%s\nSubject: two\n\nsecond\n' "$FROM_LINE" >"$WORLD/want.mbox"
	cmp "$WORLD/want.mbox" "$SPOOL/alice"
}

@test "PROXY: a CIDR entry trusts the proxy; a failed login is logged for the header's client" {
	connect 10.0.0.0/8,127.0.0.0/8 < <(printf '%s\r\n' "$GOOD4" "USER alice" "PASS wrong" "QUIT")
	[ "$status" -eq 0 ]
	after_greeting "$OUT" | grep -q '^-ERR \[AUTH\]'
	grep -F 'connection from 192.0.2.7 port 56324 via proxy 127.0.0.1' "$LOG"
	# The failure's own line names the client too (what fail2ban reads).
	grep -E 'login failed: user alice: bad password; client 192\.0\.2\.7$' "$LOG"
	cmp "$WORLD/alice.before" "$SPOOL/alice"
}

@test "PROXY: TCP6 from a trusted IPv6 proxy names the IPv6 client" {
	"$PYTHON" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null ||
		skip "no IPv6 loopback here"
	connect --addr ::1 ::1 < <(printf '%s\r\n' 'PROXY TCP6 2001:db8::7 2001:db8::1 4000 995' "USER alice" "PASS secret" "QUIT")
	[ "$status" -eq 0 ]
	grep -q '^+OK bye' "$OUT"
	grep -F 'connection from 2001:db8::7 port 4000 via proxy ::1' "$LOG"
}

@test "PROXY: UNKNOWN keeps the proxy's own address for the log, and serves" {
	connect 127.0.0.1 < <(printf '%s\r\n' 'PROXY UNKNOWN' "USER alice" "PASS secret" "STAT" "QUIT")
	[ "$status" -eq 0 ]
	grep -q '^+OK 2 47' "$OUT"
	grep -F 'connection from 127.0.0.1 (proxy, client unknown)' "$LOG"
}

@test "PROXY: from a peer not in the list the header is no header: an unknown command after the greeting" {
	connect 10.231.0.1 < <(printf '%s\r\n' "$GOOD4" "USER alice" "PASS secret" "QUIT")
	[ "$status" -eq 0 ]
	printf -- '-ERR unknown command\r\n+OK send PASS\r\n+OK maildrop has 2 messages (47 octets)\r\n+OK bye, 0 messages deleted, 2 left\r\n' >"$WORLD/want"
	after_greeting "$OUT" >"$WORLD/got"
	same_bytes "$WORLD/want" "$WORLD/got"
	grep -F 'connection from 127.0.0.1' "$LOG"
	refute grep -F '192.0.2.7' "$LOG"
}

@test "PROXY: local trusts a peer on a Unix socket file: the header's client logged, the session served" {
	connect --addr "unix:$WORLD/backend.sock" local \
		< <(printf '%s\r\n' "$GOOD4" "USER alice" "PASS wrong" "USER alice" "PASS secret" "STAT" "QUIT")
	[ "$status" -eq 0 ]
	printf -- '+OK send PASS\r\n-ERR [AUTH] authentication failed\r\n+OK send PASS\r\n+OK maildrop has 2 messages (47 octets)\r\n+OK 2 47\r\n+OK bye, 0 messages deleted, 2 left\r\n' >"$WORLD/want"
	after_greeting "$OUT" >"$WORLD/got"
	same_bytes "$WORLD/want" "$WORLD/got"
	grep -F 'connection from 192.0.2.7 port 56324 via proxy local' "$LOG"
	grep -E 'login failed: user alice: bad password; client 192\.0\.2\.7$' "$LOG"
}

@test "PROXY: local never trusts a socketpair (stunnel's exec relays a remote client's bytes): the header is an unknown command" {
	connect --addr socketpair local < <(printf '%s\r\n' "$GOOD4" "USER alice" "PASS wrong" "QUIT")
	[ "$status" -eq 0 ]
	after_greeting "$OUT" | head -n 1 | grep -q '^-ERR unknown command'
	refute grep -F '192.0.2.7' "$LOG"
	refute grep -F 'via proxy' "$LOG"
	cmp "$WORLD/alice.before" "$SPOOL/alice"
}

@test "PROXY: a Unix socket peer is not trusted by addresses alone, only by local" {
	connect --addr "unix:$WORLD/backend.sock" 127.0.0.1,::1 < <(printf '%s\r\n' "$GOOD4" "QUIT")
	[ "$status" -eq 0 ]
	after_greeting "$OUT" | head -n 1 | grep -q '^-ERR unknown command'
	refute grep -F '192.0.2.7' "$LOG"
}

@test "PROXY: without --trusted-proxies nothing is parsed, even from a socket peer" {
	connect "" < <(printf '%s\r\n' "$GOOD4" "QUIT")
	[ "$status" -eq 0 ]
	after_greeting "$OUT" | head -n 1 | grep -q '^-ERR unknown command'
	refute grep -F '192.0.2.7' "$LOG"
}

@test "PROXY: the family must match the addresses (TCP4 with IPv6, TCP6 with IPv4)" {
	connect 127.0.0.1 < <(printf '%s\r\n' 'PROXY TCP4 2001:db8::7 2001:db8::1 4000 110' "USER alice")
	refused "address not of the named family"
	connect 127.0.0.1 < <(printf '%s\r\n' 'PROXY TCP6 192.0.2.7 198.51.100.1 4000 110' "USER alice")
	refused "address not of the named family"
}

@test "PROXY: 108 octets without a CRLF, and a whole 108-octet header, are closed" {
	connect 127.0.0.1 < <({ printf 'PROXY UNKNOWN '; printf 'x%.0s' $(seq 94); printf '\r\nUSER alice\r\n'; })
	refused "no CRLF within 107 octets"
	connect 127.0.0.1 < <({ printf 'PROXY UNKNOWN '; printf 'x%.0s' $(seq 92); printf '\r\nUSER alice\r\n'; })
	refused "no CRLF within 107 octets"
}

@test "PROXY: an LF without its CR, a missing field, port 65536, a leading zero: closed" {
	connect 127.0.0.1 < <(printf '%s\nUSER alice\r\n' "$GOOD4")
	refused "not ended by CRLF"
	connect 127.0.0.1 < <(printf '%s\r\n' 'PROXY TCP4 192.0.2.7 198.51.100.1 56324' "USER alice")
	refused "wrong number of fields"
	connect 127.0.0.1 < <(printf '%s\r\n' 'PROXY TCP4 192.0.2.7 198.51.100.1 65536 110' "USER alice")
	refused "invalid port"
	connect 127.0.0.1 < <(printf '%s\r\n' 'PROXY TCP4 192.0.2.7 198.51.100.1 056324 110' "USER alice")
	refused "invalid port"
	connect 127.0.0.1 < <(printf '%s\r\n' 'PROXY TCP4 192.0.2.07 198.51.100.1 56324 110' "USER alice")
	refused "address not of the named family"
}

@test "PROXY: garbage, a command, and a binary v2 signature instead of a header: closed" {
	connect 127.0.0.1 < <(printf 'GET / HTTP/1.0\r\n\r\n')
	refused "not a PROXY header"
	connect 127.0.0.1 < <(printf '%s\r\n' "USER alice" "PASS secret" "QUIT")
	refused "not a PROXY header"
	connect 127.0.0.1 < <(printf '\r\n\r\n\0\r\nQUIT\n!\021\0\014')
	refused "not a PROXY header"
}

@test "PROXY: no header at all, and a header dribbled past the deadline: closed after about 5 s" {
	connect 127.0.0.1 </dev/null
	refused "no whole header in time"
	# One byte per second: each arrives well within any idle timeout, the
	# whole header not within the header's own deadline.
	connect --dribble 1 127.0.0.1 < <(printf '%s\r\n' "$GOOD4")
	refused "no whole header in time"
}

@test "PROXY: a peer that closes in the middle of the header is not served" {
	printf 'PROXY TCP4 192.0.2.7' >"$WORLD/half"
	"$PYTHON" - "$WORLD" "$POP3" $(pop3_args) --debug --trusted-proxies=127.0.0.1 <<'EOF' 2>"$LOG"
import socket, subprocess, sys
world, command = sys.argv[1], sys.argv[2:]
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
c = socket.create_connection(l.getsockname()); s, _ = l.accept()
p = subprocess.Popen(command, stdin=s.fileno(), stdout=s.fileno()); s.close()
c.sendall(open(world + "/half", "rb").read()); c.shutdown(socket.SHUT_WR)
got = c.recv(100)
sys.exit(0 if got == b"" and p.wait(timeout=20) != 0 else 1)
EOF
	grep -F 'PROXY header from 127.0.0.1: closed before a whole header; closing' "$LOG"
}

@test "PROXY: bad --trusted-proxies values: one line on stderr, exit 2" {
	local bad
	for bad in "" "," "10.0.0.1," "10.0.0.1/33" "10.0.0.1/8" "proxy.example" \
		"10.0.0.01" "2001:db8::/129" "10.0.0.0/08"; do
		run --separate-stderr "$POP3" --trusted-proxies="$bad" </dev/null
		[ "$status" -eq 2 ] || { echo "'$bad' -> $status"; return 1; }
		[ -z "$output" ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == *"--trusted-proxies"* ]]
	done
}
