#!/usr/bin/env bats
# The shipped front-end and backend files as their own tools read them,
# installed (make install DESTDIR=...): nginx -t on the nginx files in the
# nginx.conf an administrator has (the mail{} block at the top level, the
# auth server inside http{}), haproxy -c on pop3.cfg, and systemd-analyze
# verify on the units with the backend drop-ins in place.  That they work
# is proven by tests/proxy-frontends.bats; here, that they load as shipped.

load helpers
load deploy-lib

setup_file() {
	INSTALLED=$(mktemp -d /tmp/pop3-proxy-install.XXXXXX)
	export INSTALLED
	local flavour=() built
	built=$(cat "$REPO/build/flavour" 2>/dev/null || echo release)
	[ "$built" = sanitize ] && flavour=(SANITIZE=1)
	MAKEFLAGS= make -s -C "$REPO" install DESTDIR="$INSTALLED" "${flavour[@]}" \
		>"$INSTALLED.log" 2>&1 || { cat "$INSTALLED.log"; return 1; }
	SHARE="$INSTALLED/usr/local/share/pop3-stdio"
	export SHARE
}

teardown_file() {
	[ -n "${INSTALLED:-}" ] && rm -rf "$INSTALLED" "$INSTALLED.log"
}

setup() { WORK=$(mktemp -d /tmp/pop3-proxy-deploy.XXXXXX); }
teardown() { rm -rf "$WORK"; }

@test "deploy: the nginx files load in nginx -t as installed (only the certificate, map and pid paths made local)" {
	skip_unless_tools nginx openssl
	[ -f /usr/lib/nginx/modules/ngx_mail_module.so ] ||
		skip "nginx's mail module is not installed (libnginx-mod-mail)"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
	echo '"alice" 10.0.0.11;' >"$WORK/users.map"
	subst "$SHARE/nginx/pop3-proxy.conf" \
		/etc/ssl/certs/mail.example.org.pem "$WORK/cert.pem" \
		/etc/ssl/private/mail.example.org.key "$WORK/key.pem" >"$WORK/mail.conf"
	subst "$SHARE/nginx/pop3-auth.conf" /etc/nginx/pop3-users.map "$WORK/users.map" \
		>"$WORK/auth.conf"
	cat >"$WORK/nginx.conf" <<-EOF
		load_module /usr/lib/nginx/modules/ngx_mail_module.so;
		pid $WORK/nginx.pid;
		events { }
		include $WORK/mail.conf;
		http {
			client_body_temp_path $WORK/body;
			proxy_temp_path $WORK/proxy;
			fastcgi_temp_path $WORK/fastcgi;
			uwsgi_temp_path $WORK/uwsgi;
			scgi_temp_path $WORK/scgi;
			include $WORK/auth.conf;
		}
	EOF
	run nginx -t -e "$WORK/error.log" -p "$WORK" -c "$WORK/nginx.conf"
	echo "$output"
	[ "$status" -eq 0 ]
	# As installed, the comment's include line names the installed file.
	grep -qF "include /usr/local/share/pop3-stdio/nginx/pop3-proxy.conf ;" \
		"$SHARE/nginx/pop3-proxy.conf"
}

@test "deploy: haproxy -c accepts pop3.cfg as installed; its timeouts are at least RFC 1939's 10 minutes" {
	skip_unless_tools haproxy
	run haproxy -c -f "$SHARE/haproxy/pop3.cfg"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx $'\ttimeout client 11m' "$SHARE/haproxy/pop3.cfg"
	grep -qx $'\ttimeout server 11m' "$SHARE/haproxy/pop3.cfg"
	[ "$(grep -c ' send-proxy check check-send-proxy ' "$SHARE/haproxy/pop3.cfg")" = 2 ]
}

@test "deploy: the backend drop-ins pass systemd-analyze verify with the installed units" {
	skip_unless_tools systemd-analyze
	local units="$INSTALLED/usr/local/lib/systemd/system"
	mkdir -p "$units/pop3-stdio.socket.d" "$units/pop3-stdio@.service.d"
	cp "$SHARE/proxy-backend/socket-proxy.conf" "$units/pop3-stdio.socket.d/proxy.conf"
	cp "$SHARE/proxy-backend/service-proxy.conf" "$units/pop3-stdio@.service.d/proxy.conf"
	SYSTEMD_UNIT_PATH="$units:" run systemd-analyze verify --man=no \
		pop3-stdio.socket pop3-stdio@verify.service
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# The drop-in's ExecStart is the installed program with the option.
	grep -qx 'ExecStart=-/usr/local/sbin/pop3-stdio --trusted-proxies=10.0.0.1' \
		"$units/pop3-stdio@.service.d/proxy.conf"
}
