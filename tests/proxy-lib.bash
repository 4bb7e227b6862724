# For tests/proxy-frontends.bats: backend "hosts" in network namespaces,
# and the shipped nginx and HAProxy files in front of them.
#
# Each host is a namespace joined to the root one by a veth pair on a /30
# of 10.231.0.0/16, a range that exists only inside this test:
#   host A  root side 10.231.1.1, in its namespace 10.231.1.2
#   host B  root side 10.231.2.1, in its namespace 10.231.2.2
#   client  root side 10.231.3.1, in its namespace 10.231.3.2 (a client
#           that is neither the proxy nor 127.0.0.1)
# nginx and HAProxy run in the root namespace, so they reach host X from
# 10.231.X.1 -- the address each host trusts with --trusted-proxies.
# Everything started is recorded for stop_servers (deploy-lib.bash) and
# the namespaces are deleted by remove_hosts, also after a failure.
#
# Needs helpers.bash, deploy-lib.bash and clients-lib.bash loaded first.

NGINX_PLAIN_PORT=21510
NGINX_POP3S_PORT=21511
NGINX_AUTH_PORT=21512
HAPROXY_A_PORT=21520
HAPROXY_B_PORT=21521
NGINX_MAIL_MODULE=/usr/lib/nginx/modules/ngx_mail_module.so

# The namespace names, unique to this run ("ip netns" names are global).
proxy_names() {
	NS_TAG="p3x$$"
	NS_A="$NS_TAG-a" NS_B="$NS_TAG-b" NS_C="$NS_TAG-c"
	export NS_TAG NS_A NS_B NS_C
}

# add_host NS N: namespace NS, veth pair to the root namespace,
# 10.231.N.1/30 outside and 10.231.N.2/30 inside.
add_host() {
	local ns=$1 n=$2 out="${NS_TAG}o$2" in="${NS_TAG}i$2"
	ip netns add "$ns" || return 1
	echo "$ns" >>"$WORLD/namespaces"
	ip link add "$out" type veth peer name "$in" netns "$ns" &&
		ip addr add "10.231.$n.1/30" dev "$out" &&
		ip link set "$out" up &&
		ip -n "$ns" addr add "10.231.$n.2/30" dev "$in" &&
		ip -n "$ns" link set "$in" up &&
		ip -n "$ns" link set lo up
}

# remove_hosts: every namespace this run made (their veth pairs go too).
remove_hosts() {
	local ns
	[ -f "${WORLD:-}/namespaces" ] || return 0
	while read -r ns; do
		ip netns del "$ns" 2>/dev/null || true
	done <"$WORLD/namespaces"
	: >"$WORLD/namespaces"
}

# in_ns NS COMMAND...: COMMAND run inside namespace NS.
in_ns() { ip netns exec "$@"; }

# backend_wrapper NAME: a script that runs ./pop3-stdio with its log lines
# and protocol trace (--debug) appended to $WORLD/backend-NAME.log --
# under a superserver stderr may be the client's socket, so the wrapper
# moves it -- and whatever options the superserver passes.
backend_wrapper() {
	local script="$WORLD/pop3-stdio-$1"
	printf '#!/bin/sh\nexec %s "$@" --debug 2>>%s\n' "$POP3" "$WORLD/backend-$1.log" >"$script"
	chmod 755 "$script"
	: >"$WORLD/backend-$1.log"
	echo "$script"
}

# start_host_a: xinetd.d/pop3-stdio-proxied in namespace A, changed only
# in its addresses, the program's path and the test world's options.
start_host_a() {
	local wrapper conf="$WORLD/xinetd-a.conf" out
	wrapper=$(backend_wrapper a) || return 1
	out=$(subst "$REPO/xinetd.d/pop3-stdio-proxied" \
		"$(printf '\tbind\t\t= 10.0.0.11')" "$(printf '\tbind\t\t= 10.231.1.2')" \
		"$(printf 'only_from\t= 10.0.0.1')" "$(printf 'only_from\t= 10.231.1.1')" \
		"/usr/local/sbin/pop3-stdio" "$wrapper" \
		"--trusted-proxies=10.0.0.1" "--trusted-proxies=10.231.1.1 $(server_args)") ||
		return 1
	asan_build && out=$(grep -v rlimit_as <<<"$out")
	{
		printf 'defaults\n{\n\tlog_type = FILE %s\n}\n' "$WORLD/xinetd-a-services.log"
		printf '%s\n' "$out"
	} >"$conf"
	start_server xinetd-a ip netns exec "$NS_A" xinetd -dontfork -f "$conf" -pidfile "$WORLD/xinetd-a.pid"
	wait_in_ns "$NS_A" 110
}

# start_host_b: the systemd drop-ins of deploy/proxy-backend/ as
# systemd-socket-activate in namespace B: socket-proxy.conf's ListenStream
# and service-proxy.conf's ExecStart, addresses and paths changed.
start_host_b() {
	local wrapper listen exec_line script="$WORLD/host-b.sh"
	wrapper=$(backend_wrapper b) || return 1
	listen=$(subst "$DEPLOY/proxy-backend/socket-proxy.conf" "10.0.0.11:110" "10.231.2.2:110" |
		sed -n 's/^ListenStream=\(..*\)$/\1/p')
	[ "$listen" = 10.231.2.2:110 ] || return 1
	exec_line=$(subst "$DEPLOY/proxy-backend/service-proxy.conf" \
		"/usr/local/sbin/pop3-stdio" "$wrapper" \
		"--trusted-proxies=10.0.0.1" "--trusted-proxies=10.231.2.1" |
		sed -n 's/^ExecStart=-\(..*\)$/\1/p')
	[ -n "$exec_line" ] || return 1
	printf '#!/bin/sh\nexec %s %s\n' "$exec_line" \
		"$(server_args_b)" >"$script"
	chmod 755 "$script"
	start_server host-b ip netns exec "$NS_B" systemd-socket-activate --inetd -a -l "$listen" "$script"
	wait_in_ns "$NS_B" 110
}

# server_args_b: host B's own spool, users, blocked users and state.
server_args_b() {
	mkdir -p "$WORLD/empty"
	echo --spool="$HOST_B/spool" --passwd="$HOST_B/passwd" --state-dir="$HOST_B/state" \
		--blocklist="$HOST_B/blocked-users" --fail-delay=0 --timeout=30 \
		--chroot="$WORLD/empty"
}

# wait_in_ns NS PORT: until something listens on PORT inside NS; bounded.
wait_in_ns() {
	local tries=200
	until in_ns "$1" awk -v p=":$(printf '%04X' "$2")" \
		'$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
		/proc/net/tcp; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || { echo "nothing listens on $2 in $1" >&2; return 1; }
		sleep 0.05
	done
}

# start_nginx: deploy/nginx/pop3-proxy.conf and pop3-auth.conf, changed in
# ports, addresses and paths, in a minimal nginx.conf of this test.
start_nginx() {
	local dir="$WORLD/nginx"
	mkdir -p "$dir"
	subst "$DEPLOY/nginx/pop3-proxy.conf" \
		"listen 110;" "listen 127.0.0.1:$NGINX_PLAIN_PORT; listen 10.231.3.1:$NGINX_PLAIN_PORT;" \
		"listen 995 ssl;" "listen 127.0.0.1:$NGINX_POP3S_PORT ssl;" \
		"auth_http 127.0.0.1:9110/" "auth_http 127.0.0.1:$NGINX_AUTH_PORT/" \
		"/etc/ssl/certs/mail.example.org.pem" "$CERT" \
		"/etc/ssl/private/mail.example.org.key" "$KEY" >"$dir/mail.conf" || return 1
	subst "$DEPLOY/nginx/pop3-auth.conf" \
		"listen 127.0.0.1:9110;" "listen 127.0.0.1:$NGINX_AUTH_PORT;" \
		"/etc/nginx/pop3-users.map" "$dir/users.map" >"$dir/auth.conf" || return 1
	# The map as the comments say to generate it: one line per user.
	{
		awk -F: '{ printf "\"%s\" 10.231.1.2;\n", $1 }' "$PASSWD"
		awk -F: '$1 != "alice" { printf "\"%s\" 10.231.2.2;\n", $1 }' "$HOST_B/passwd"
		# The accounts the client scenarios create as they go, on A.
		printf '"~^u[0-9]+$" 10.231.1.2;\n'
	} >"$dir/users.map"
	cat >"$dir/nginx.conf" <<-EOF
		load_module $NGINX_MAIL_MODULE;
		pid $dir/nginx.pid;
		error_log $dir/error.log info;
		worker_processes 1;
		events { worker_connections 128; }
		include $dir/mail.conf;
		http {
			client_body_temp_path $dir/body;
			proxy_temp_path $dir/proxy;
			fastcgi_temp_path $dir/fastcgi;
			uwsgi_temp_path $dir/uwsgi;
			scgi_temp_path $dir/scgi;
			access_log off;
			include $dir/auth.conf;
		}
	EOF
	local port
	for port in "$NGINX_PLAIN_PORT" "$NGINX_POP3S_PORT" "$NGINX_AUTH_PORT"; do
		require_free_port "$port" || return 1
	done
	nginx -t -q -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" || return 1
	start_server nginx nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
	wait_for_port "$NGINX_PLAIN_PORT" && wait_for_port "$NGINX_POP3S_PORT" &&
		wait_for_port "$NGINX_AUTH_PORT"
}

# start_haproxy: deploy/haproxy/pop3.cfg with its two frontends on test
# ports, its servers at the hosts' addresses, its chroot a test directory,
# and checks every second instead of 30 (so that a test need not wait).
start_haproxy() {
	mkdir -p "$WORLD/haproxy-root"
	subst "$DEPLOY/haproxy/pop3.cfg" \
		"bind 192.0.2.11:110" "bind 127.0.0.1:$HAPROXY_A_PORT" \
		"bind 192.0.2.12:110" "bind 127.0.0.1:$HAPROXY_B_PORT" \
		"10.0.0.11:110" "10.231.1.2:110" \
		"10.0.0.12:110" "10.231.2.2:110" \
		"chroot /var/lib/haproxy" "chroot $WORLD/haproxy-root" \
		"inter 30s" "inter 1s" >"$WORLD/haproxy.cfg" || return 1
	require_free_port "$HAPROXY_A_PORT" && require_free_port "$HAPROXY_B_PORT" || return 1
	haproxy -c -q -f "$WORLD/haproxy.cfg" || return 1
	start_server haproxy haproxy -db -f "$WORLD/haproxy.cfg"
	wait_for_port "$HAPROXY_A_PORT" && wait_for_port "$HAPROXY_B_PORT"
}

# pop3_talk PORT LINE...: a raw session with whatever listens on
# 127.0.0.1:PORT: reads the greeting, sends each LINE and reads its answer,
# then reads until the peer closes (at most 5 s more); everything the
# server sent goes to stdout.
pop3_talk() {
	"$PYTHON" - "$@" <<'EOF'
import socket, sys, time
port, lines = int(sys.argv[1]), sys.argv[2:]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
out = bytearray()
# A reset is a close: a proxy that closed while a command was on its way
# resets the connection when that command arrives.
def receive():
    try:
        return s.recv(4096)
    except ConnectionResetError:
        return b""
def answer():
    start = len(out)
    while len(out) == start or not out.endswith(b"\r\n"):
        chunk = receive()
        if not chunk:
            return False
        out.extend(chunk)
    return True
alive = answer()
for line in lines:
    if not alive:
        break
    try:
        s.sendall(line.encode() + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        break
    alive = answer()
s.settimeout(5)
try:
    while alive:
        chunk = receive()
        if not chunk:
            break
        out.extend(chunk)
except socket.timeout:
    pass
sys.stdout.buffer.write(bytes(out))
EOF
}
