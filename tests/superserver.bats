#!/usr/bin/env bats
# The user story "an administrator puts pop3-stdio behind a superserver and
# a mail client fetches mail": real superservers (socat as inetd, systemd's
# socket activation in --inetd mode) on 127.0.0.1, real clients (curl's
# pop3://, Python's poplib), and what arrives compared with the fixture bytes.

load helpers

setup() {
	setup_world
	add_user alice secret
	{
		printf 'From sender@example.org Mon Nov 23 10:00:00 2026\n'
		printf 'Subject: one\nX-Test: caf\xc3\xa9\n\n.dot line\n>From quoted\n..two dots\nbody one\n\n'
		printf 'From sender@example.org Mon Nov 23 10:01:00 2026\r\n'
		printf 'Subject: two\r\n\r\nbody two\r\n'
	} | mbox alice
	# What a client must receive for each message (CRLF, unstuffed).
	printf 'Subject: one\r\nX-Test: caf\xc3\xa9\r\n\r\n.dot line\r\n>From quoted\r\n..two dots\r\nbody one\r\n' >"$WORLD/msg1"
	printf 'Subject: two\r\n\r\nbody two\r\n' >"$WORLD/msg2"
	SIZE1=$(wc -c <"$WORLD/msg1")
	SIZE2=$(wc -c <"$WORLD/msg2")
	write_serve_script
	SERVER_PID=
}

teardown() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	teardown_world
}

# wait_for_text FILE TEXT PID: up to 5 s for TEXT in FILE while PID lives.
wait_for_text() {
	local i
	for i in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# start_server socat|systemd: listens on a free port in 20000-20999 (PORT).
start_server() {
	local try
	for try in 1 2 3 4 5 6 7 8; do
		PORT=$((20000 + RANDOM % 1000))
		case $1 in
		socat)
			# nofork: the session gets the TCP socket itself, as from inetd.
			socat -d -d "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork" \
				"EXEC:$WORLD/serve.sh,nofork" 2>"$WORLD/superserver.log" &
			SERVER_PID=$!
			wait_for_text "$WORLD/superserver.log" 'listening on' "$SERVER_PID" && return 0
			;;
		systemd)
			systemd-socket-activate -l "127.0.0.1:$PORT" --inetd -a "$WORLD/serve.sh" \
				2>"$WORLD/superserver.log" &
			SERVER_PID=$!
			wait_for_text "$WORLD/superserver.log" 'Listening on' "$SERVER_PID" && return 0
			;;
		esac
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	done
	echo "no superserver could listen" >&2
	return 1
}

# fetch CURL-ARGS...: curl against alice's maildrop, bounded in time.
fetch() {
	curl -sS --max-time 10 "$@"
}

url() { printf 'pop3://alice:secret@127.0.0.1:%s/%s' "$PORT" "${1:-}"; }

# uidl_over_pipe: the UIDL data lines straight from a pipe session.
uidl_over_pipe() {
	pop3 -- "USER alice" "PASS secret" "UIDL" "QUIT" | sed -n '5,6p'
}

@test "superserver: curl pop3:// through socat lists, retrieves, and sees UIDL and TOP" {
	command -v socat >/dev/null || skip "socat not installed"
	command -v curl >/dev/null || skip "curl not installed"
	start_server socat
	fetch "$(url)" >"$WORLD/list"
	printf '1 %s\r\n2 %s\r\n' "$SIZE1" "$SIZE2" >"$WORLD/expected"
	same_bytes "$WORLD/expected" "$WORLD/list"
	fetch "$(url 1)" >"$WORLD/got1"
	same_bytes "$WORLD/msg1" "$WORLD/got1"
	fetch "$(url 2)" >"$WORLD/got2"
	same_bytes "$WORLD/msg2" "$WORLD/got2"
	fetch -X UIDL "$(url)" >"$WORLD/uidl"
	uidl_over_pipe >"$WORLD/expected"
	[ -s "$WORLD/expected" ]
	same_bytes "$WORLD/expected" "$WORLD/uidl"
	fetch -X 'TOP 1 0' "$(url)" >"$WORLD/top"
	printf 'Subject: one\r\nX-Test: caf\xc3\xa9\r\n\r\n' >"$WORLD/expected"
	same_bytes "$WORLD/expected" "$WORLD/top"
	# curl logs in with AUTH PLAIN (it reads SASL PLAIN in CAPA)
	grep -qx 'C: AUTH PLAIN' "$WORLD/server.log"
	grep -qx 'C: \*\*\*\*\*\*\*\*' "$WORLD/server.log"
	grep -q 'connection from 127.0.0.1' "$WORLD/server.log"
	refute grep -q secret "$WORLD/server.log"
}

@test "superserver: curl with a wrong password is refused (login denied)" {
	command -v socat >/dev/null || skip "socat not installed"
	start_server socat
	run curl -sS --max-time 10 "pop3://alice:wrong@127.0.0.1:$PORT/"
	[ "$status" -eq 67 ] # CURLE_LOGIN_DENIED
	grep -q 'login failed: user alice: bad password' "$WORLD/server.log"
}

# poplib_session PORT: USER/PASS, CAPA, STAT, LIST, UIDL, RETR, TOP, then
# DELE 1 and QUIT; results to files in $WORLD/py-*.
poplib_session() {
	# The system's python3: a version manager's shim can take seconds.
	local python=/usr/bin/python3
	[ -x "$python" ] || python=python3
	WORLD="$WORLD" "$python" - "$1" <<'EOF'
import os, poplib, sys

world = os.environ["WORLD"]
def save(name, data):
    with open(os.path.join(world, name), "wb") as f:
        f.write(data)

p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
caps = p.capa()
p.user("alice")
p.pass_("secret")
count, octets = p.stat()
listing = p.list()[1]
uidl = p.uidl()[1]
for n in (1, 2):
    status, lines, size = p.retr(n)
    # poplib undoes the byte-stuffing and counts each line plus CRLF
    save("py-retr%d" % n, b"".join(l + b"\r\n" for l in lines))
    save("py-size%d" % n, b"%d %s" % (size, status))
top = p.top(1, 0)[1]
save("py-top", b"".join(l + b"\r\n" for l in top))
p.dele(1)
bye = p.quit()
save("py-summary", b"\n".join([
    b"caps " + b" ".join(sorted(k.encode() for k in caps)),
    b"stat %d %d" % (count, octets),
    b"list " + b" ".join(listing),
    b"uidl " + b" ".join(uidl),
    b"quit " + bye,
]) + b"\n")
EOF
}

# check_poplib: what poplib_session saw and did, against the fixture.
check_poplib() {
	local uidl=$1
	same_bytes "$WORLD/msg1" "$WORLD/py-retr1"
	same_bytes "$WORLD/msg2" "$WORLD/py-retr2"
	[ "$(cat "$WORLD/py-size1")" = "$SIZE1 +OK $SIZE1 octets" ]
	[ "$(cat "$WORLD/py-size2")" = "$SIZE2 +OK $SIZE2 octets" ]
	printf 'Subject: one\r\nX-Test: caf\xc3\xa9\r\n\r\n' >"$WORLD/expected"
	same_bytes "$WORLD/expected" "$WORLD/py-top"
	{
		echo "caps AUTH-RESP-CODE IMPLEMENTATION PIPELINING RESP-CODES SASL TOP UIDL USER"
		echo "stat 2 $((SIZE1 + SIZE2))"
		echo "list 1 $SIZE1 2 $SIZE2"
		echo "uidl $uidl"
		echo "quit +OK bye, 1 messages deleted, 1 left"
	} >"$WORLD/expected"
	same_bytes "$WORLD/expected" "$WORLD/py-summary"
	# DELE 1 and QUIT took exactly message 1 out of the file
	printf 'From sender@example.org Mon Nov 23 10:01:00 2026\r\nSubject: two\r\n\r\nbody two\r\n' >"$WORLD/left"
	same_bytes "$WORLD/left" "$SPOOL/alice"
}

@test "superserver: Python poplib through socat: every command, bytes and sizes, DELE on disk" {
	command -v socat >/dev/null || skip "socat not installed"
	local uidl
	uidl=$(uidl_over_pipe | tr -d '\r' | paste -sd ' ')
	[ -n "$uidl" ]
	start_server socat
	run poplib_session "$PORT"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	check_poplib "$uidl"
	grep -q 'connection from 127.0.0.1' "$WORLD/server.log"
	grep -q 'login: user alice' "$WORLD/server.log"
	refute grep -q secret "$WORLD/server.log"
}

@test "superserver: systemd-socket-activate --inetd with curl and poplib" {
	command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
	command -v curl >/dev/null || skip "curl not installed"
	start_server systemd
	fetch "$(url)" >"$WORLD/list"
	printf '1 %s\r\n2 %s\r\n' "$SIZE1" "$SIZE2" >"$WORLD/expected"
	same_bytes "$WORLD/expected" "$WORLD/list"
	fetch "$(url 1)" >"$WORLD/got1"
	same_bytes "$WORLD/msg1" "$WORLD/got1"
	# each connection is a new process: the log shows the TCP peer
	[ "$(grep -c 'connection from 127.0.0.1' "$WORLD/server.log")" -eq 2 ]
	local uidl
	uidl=$(uidl_over_pipe | tr -d '\r' | paste -sd ' ')
	run poplib_session "$PORT"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	check_poplib "$uidl"
}
