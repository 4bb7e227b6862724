# Shared by tests/clients-*.bats and tests/deploy-*.bats: the shipped
# deployment files (xinetd.d/, deploy/) started for real on 127.0.0.1.
#
# Each server is one of the shipped files with only these changes, made by
# tests/deploy-subst (which fails when a file no longer says what is being
# replaced): the port (110/995 -> a test port on 127.0.0.1), the installed
# paths (/usr/local/sbin/pop3-stdio -> ./pop3-stdio, the certificate -> a
# test certificate) and pop3-stdio's options (the test world's spool,
# passwd file, state directory).  Servers run in the background; their PIDs
# go to $SERVER_PIDS and stop_servers ends exactly those.
#
# Needs helpers.bash loaded first (REPO, POP3, WORLD, pop3_args, is_root).

DEPLOY="$REPO/deploy"
# The system's Python: a version manager's shim in PATH can cost a second
# a call, and the tests call it often.
PYTHON=$(command -v /usr/bin/python3 || command -v python3 || echo python3)

# subst FILE OLD NEW...: tests/deploy-subst.
subst() { "$PYTHON" "$REPO/tests/deploy-subst" "$@"; }

# skip_unless_tools TOOL...: skip the test (or file) naming what is missing.
skip_unless_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 ||
			skip "$t is not installed (tests/install-deps installs it)"
	done
}

# Bats 1.8 cannot skip from setup_file, so a suite that cannot run says why
# in setup_file (suite_requires_*, which export SUITE_SKIP and return 1) and
# each test skips in setup (skip_unless_suite_can_run).
suite_requires_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 && continue
		export SUITE_SKIP="$t is not installed (tests/install-deps installs it)"
		return 1
	done
}

# suite_requires_root REASON
suite_requires_root() {
	is_root && return 0
	export SUITE_SKIP="needs root: $1"
	return 1
}

skip_unless_suite_can_run() {
	[ -z "${SUITE_SKIP:-}" ] || skip "$SUITE_SKIP"
}

# port_listening PORT: something listens on 127.0.0.1:PORT (or any address).
# Read from /proc so that waiting does not itself open a POP3 session.
port_listening() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
		END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# poll_until SECONDS WHAT COMMAND...: runs COMMAND every 0.05 s until it
# succeeds; after SECONDS, says WHAT is missing and fails.
poll_until() {
	local seconds=$1 what=$2 tries=$(($1 * 20))
	shift 2
	until "$@"; do
		tries=$((tries - 1))
		if [ "$tries" -le 0 ]; then
			echo "$what after $seconds s" >&2
			return 1
		fi
		sleep 0.05
	done
}

# wait_for_port PORT [SECONDS]: polls until PORT listens; bounded.
wait_for_port() {
	poll_until "${2:-10}" "nothing listens on port $1" port_listening "$1"
}

# require_free_port PORT: fail early and clearly if another program has it.
require_free_port() {
	if port_listening "$1"; then
		echo "port $1 is already in use; the deploy tests need it free" >&2
		return 1
	fi
}

# start_server NAME COMMAND...: COMMAND in the background, its output in
# $WORLD/NAME.log, its PID recorded for stop_servers.
start_server() {
	local name=$1
	shift
	"$@" >"$WORLD/$name.log" 2>&1 3>&- </dev/null &
	echo "$!" >>"$SERVER_PIDS"
}

# stop_servers: ends every server this file started, by PID, and waits
# (bounded) until each is gone.
stop_servers() {
	local pid tries
	[ -f "${SERVER_PIDS:-}" ] || return 0
	while read -r pid; do
		kill "$pid" 2>/dev/null || continue
		tries=100
		while kill -0 "$pid" 2>/dev/null && [ "$tries" -gt 0 ]; do
			sleep 0.05
			tries=$((tries - 1))
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	done <"$SERVER_PIDS"
	: >"$SERVER_PIDS"
}

# server_args: pop3-stdio's options for the test world, on one line.  The
# pre-login chroot is a directory of the test (the default, /var/empty, is
# often missing), so that chroot is exercised behind every superserver.
server_args() {
	mkdir -p "$WORLD/empty"
	echo $(pop3_args) --chroot="$WORLD/empty" "$@"
}

# make_test_cert: a self-signed certificate for 127.0.0.1,
# made for this run ($CERT, $KEY), which the clients are told to trust.
# The address is in the CN too and there is no DNS name: fetchmail checks
# "127.0.0.1" as a host name, which OpenSSL then matches against the CN.
make_test_cert() {
	CERT="$WORLD/tls/cert.pem"
	KEY="$WORLD/tls/key.pem"
	mkdir -p "$WORLD/tls"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 \
		-keyout "$KEY" -out "$CERT" 2>"$WORLD/tls/openssl.log" || {
		cat "$WORLD/tls/openssl.log" >&2
		return 1
	}
	chmod 600 "$KEY"
	export CERT KEY
}

# asan_build: pop3-stdio was built with AddressSanitizer (make SANITIZE=1),
# which reserves terabytes of address space: an rlimit_as kills it.
asan_build() { grep -q __asan_init "$POP3" 2>/dev/null; }

# ---- the shipped files, adapted ----

# stunnel_conf SHIPPED PORT [POP3-OPTION...]: a shipped stunnel file on
# stdout, for the test certificate, ./pop3-stdio and the test world; PORT
# replaces the accept port (not for the inetd-mode file, which has none).
stunnel_conf() {
	local file=$1 port=$2
	shift 2
	local accept=()
	case "$file" in
	*-inetd.conf) ;;
	*-stls.conf) accept=("accept = 110" "accept = 127.0.0.1:$port") ;;
	*) accept=("accept = 995" "accept = 127.0.0.1:$port") ;;
	esac
	# pop3-stdio behind it: run by stunnel (exec), or at the other end of
	# the backend socket (connect; the options then go to the backend).
	local backend=("connect = /run/pop3-stdio/pop3s-backend.sock"
		"connect = $(backend_socket "$port")")
	grep -q '^exec = ' "$DEPLOY/stunnel/$file" &&
		backend=("exec = /usr/local/sbin/pop3-stdio" "exec = $POP3"
			"execArgs = pop3-stdio" "execArgs = pop3-stdio $(server_args "$@")")
	subst "$DEPLOY/stunnel/$file" "${accept[@]}" \
		"cert = /etc/pop3-stdio/pop3s.pem" "cert = $CERT" \
		"key = /etc/pop3-stdio/pop3s.key" "key = $KEY" "${backend[@]}"
}

# backend_socket PORT: the Unix socket between the stunnel daemon on PORT
# and its pop3-stdio (pop3s-stdio-backend.socket's, moved to the test).
backend_socket() { echo "$WORLD/pop3s-backend-$1.sock"; }

# uses_backend_socket SHIPPED: the stunnel file hands sessions to
# pop3s-stdio-backend.socket (rather than exec'ing pop3-stdio itself).
uses_backend_socket() {
	grep -qx 'connect = /run/pop3-stdio/pop3s-backend.sock' "$DEPLOY/stunnel/$1"
}

# wait_for_socket PATH: polls until a socket exists at PATH; bounded.
wait_for_socket() { poll_until 10 "no socket at $1" test -S "$1"; }

# start_backend_socket PORT [POP3-OPTION...]: pop3s-stdio-backend.socket
# for the stunnel daemon on PORT, as systemd-socket-activate --inetd -a on
# its Unix socket running pop3s-stdio-backend@.service's ExecStart (with
# the unit's sandbox settings, tests/deploy-unit-exec).
start_backend_socket() {
	local port=$1 sock script
	shift
	sock=$(backend_socket "$port")
	[ "$(listen_stream pop3s-stdio-backend.socket)" = /run/pop3-stdio/pop3s-backend.sock ] ||
		return 1
	script=$(unit_script pop3s-stdio-backend@.service) || return 1
	subst "$script" "$POP3 $(server_args)" "$POP3 $(server_args "$@")" \
		>"$WORLD/backend-$port.sh" || return 1
	chmod 755 "$WORLD/backend-$port.sh"
	rm -f "$sock"
	start_server "backend-$port" \
		systemd-socket-activate --inetd -a -l "$sock" "$WORLD/backend-$port.sh"
	wait_for_socket "$sock"
}

# xinetd_service NAME PORT: xinetd.d/NAME for 127.0.0.1:PORT.
xinetd_service() {
	local name=$1 port=$2 pairs=() out
	case "$name" in
	pop3-stdio)
		pairs=("$(printf '\tport\t\t= 110')"
			"$(printf '\tport\t\t= %s\n\tbind\t\t= 127.0.0.1' "$port")"
			"/usr/local/sbin/pop3-stdio" "$POP3"
			"$(printf '#\tserver_args\t= --passwd=/etc/pop3-stdio/passwd --spool=/var/mail')"
			"$(printf '\tserver_args\t= %s' "$(server_args)")")
		;;
	pop3s-stdio)
		pairs=("$(printf '\tport\t\t= 995')"
			"$(printf '\tport\t\t= %s\n\tbind\t\t= 127.0.0.1' "$port")"
			"/usr/local/share/pop3-stdio/stunnel/pop3s-stdio-inetd.conf"
			"$WORLD/pop3s-stdio-inetd.conf")
		;;
	esac
	out=$(subst "$REPO/xinetd.d/$name" "${pairs[@]}") || return 1
	asan_build && out=$(grep -v rlimit_as <<<"$out")
	printf '%s\n' "$out"
}

# start_xinetd PLAIN-PORT POP3S-PORT: xinetd in the foreground with its own
# configuration: xinetd.d/pop3-stdio and xinetd.d/pop3s-stdio (which runs
# stunnel in inetd mode with deploy/stunnel/pop3s-stdio-inetd.conf).
start_xinetd() {
	local conf="$WORLD/xinetd.conf"
	stunnel_conf pop3s-stdio-inetd.conf - >"$WORLD/pop3s-stdio-inetd.conf" || return 1
	{
		printf 'defaults\n{\n\tlog_type = FILE %s\n}\n' "$WORLD/xinetd-services.log"
		xinetd_service pop3-stdio "$1" || return 1
		xinetd_service pop3s-stdio "$2" || return 1
	} >"$conf" || return 1
	require_free_port "$1" && require_free_port "$2" || return 1
	start_server xinetd xinetd -dontfork -f "$conf" -pidfile "$WORLD/xinetd.pid"
	wait_for_port "$1" && wait_for_port "$2"
}

# unit_script UNIT: deploy/systemd/UNIT as a shell script for one
# connection (tests/deploy-unit-exec), paths adapted.
unit_script() {
	local script="$WORLD/${1%@.service}.sh"
	"$PYTHON" "$REPO/tests/deploy-unit-exec" "$DEPLOY/systemd/$1" >"$script.shipped" || return 1
	case "$1" in
	pop3s-stdio-stunnel.service)
		subst "$script.shipped" \
			"/usr/local/share/pop3-stdio/stunnel/pop3s-stdio.conf" \
			"$WORLD/pop3s-stdio-stunnel.conf" >"$script" || return 1
		;;
	pop3s-stdio@.service)
		subst "$script.shipped" \
			"/usr/local/share/pop3-stdio/stunnel/pop3s-stdio-inetd.conf" \
			"$WORLD/pop3s-stdio-inetd.conf" >"$script" || return 1
		;;
	*)
		subst "$script.shipped" \
			"/usr/local/sbin/pop3-stdio" "$POP3 $(server_args)" \
			>"$script" || return 1
		;;
	esac
	chmod 755 "$script"
	echo "$script"
}

# listen_stream UNIT.socket: the ListenStream= port, and Accept=yes checked.
listen_stream() {
	local file="$DEPLOY/systemd/$1"
	grep -qx 'Accept=yes' "$file" || {
		echo "$1: no Accept=yes" >&2
		return 1
	}
	sed -n 's/^ListenStream=//p' "$file"
}

# start_socket_activate PLAIN-PORT POP3S-PORT: pop3-stdio.socket and
# pop3s-stdio.socket as systemd-socket-activate --inetd -a (Accept=yes,
# StandardInput=socket), each running its @.service's ExecStart.
start_socket_activate() {
	local plain pop3s
	[ "$(listen_stream pop3-stdio.socket)" = 110 ] || return 1
	[ "$(listen_stream pop3s-stdio.socket)" = 995 ] || return 1
	stunnel_conf pop3s-stdio-inetd.conf - >"$WORLD/pop3s-stdio-inetd.conf" || return 1
	plain=$(unit_script pop3-stdio@.service) || return 1
	pop3s=$(unit_script pop3s-stdio@.service) || return 1
	require_free_port "$1" && require_free_port "$2" || return 1
	start_server socket-activate-plain \
		systemd-socket-activate --inetd -a -l "127.0.0.1:$1" "$plain"
	start_server socket-activate-pop3s \
		systemd-socket-activate --inetd -a -l "127.0.0.1:$2" "$pop3s"
	wait_for_port "$1" && wait_for_port "$2"
}

# start_stunnel_unit PORT: pop3s-stdio-stunnel.service, the standalone
# stunnel daemon, run as its ExecStart under the unit's NoNewPrivileges,
# CapabilityBoundingSet, UMask and Limit* settings (tests/deploy-unit-exec)
# with deploy/stunnel/pop3s-stdio.conf moved to PORT, and the
# pop3s-stdio-backend.socket it hands its sessions to.
start_stunnel_unit() {
	local script
	stunnel_conf pop3s-stdio.conf "$1" >"$WORLD/pop3s-stdio-stunnel.conf" || return 1
	script=$(unit_script pop3s-stdio-stunnel.service) || return 1
	require_free_port "$1" || return 1
	start_backend_socket "$1" || return 1
	start_server "stunnel-unit-$1" "$script"
	wait_for_port "$1"
}

# start_tcpserver PORT [POP3-OPTION...]: deploy/tcpserver/run on PORT.
start_tcpserver() {
	local port=$1
	shift
	subst "$DEPLOY/tcpserver/run" \
		" 0 110 " " 127.0.0.1 $port " \
		"/usr/local/sbin/pop3-stdio" "$POP3 $(server_args "$@")" \
		>"$WORLD/tcpserver-run-$port" || return 1
	require_free_port "$port" || return 1
	start_server "tcpserver-$port" sh "$WORLD/tcpserver-run-$port"
	wait_for_port "$port"
}

# start_stunnel SHIPPED-CONF PORT [POP3-OPTION...]: a standalone stunnel
# configuration from deploy/stunnel (foreground = yes is in the file).
start_stunnel() {
	local conf=$1 port=$2
	shift 2
	stunnel_conf "$conf" "$port" "$@" >"$WORLD/stunnel-$port.conf" || return 1
	require_free_port "$port" || return 1
	if uses_backend_socket "$conf"; then
		start_backend_socket "$port" "$@" || return 1
	fi
	start_server "stunnel-$port" stunnel "$WORLD/stunnel-$port.conf"
	wait_for_port "$port"
}
