#!/usr/bin/env bats
# The user story "an administrator installs pop3-stdio the Debian way": the
# package built from a clean clone of this tree's HEAD (committed state;
# DEB_BUILD_OPTIONS=nocheck, because make check runs the same suites on the
# tree itself and the build would only repeat check-fast), lintian-clean,
# installed with dpkg -i on this machine (where systemd need not be PID 1:
# the maintainer scripts must not fail there), the installed unit's
# ExecStart serving a real session to curl through systemd-socket-activate
# (installed program, installed paths, a system account made for the test),
# a changed conffile kept through an upgrade to a rebuilt higher version,
# and dpkg -r / dpkg -P leaving nothing of the package behind.
#
# The tests run in order and share the installation; teardown_file purges
# the package, deletes the test account and restores /etc/inetd.conf
# whatever happened.  update-inetd is told not to wake any inetd
# (UPDATE_INETD_FAKE_IT) so that the machine's superservers are left alone.

load helpers
load deploy-lib

PORT=21810
ACCOUNT=p3pkgtest

setup_file() {
	suite_requires_root "dpkg -i installs the package on this machine" &&
		suite_requires_tools git dpkg-buildpackage dpkg-parsechangelog dh lintian \
			curl systemd-socket-activate setpriv useradd userdel openssl || return 0
	if [ "$(cat "$REPO/build/flavour" 2>/dev/null)" = sanitize ]; then
		# The package builds its own release binary from a clone: under
		# make check SANITIZE=1 this suite would only repeat itself.
		export SUITE_SKIP="the package is built with dpkg-buildflags, not the sanitizer build"
		return 0
	fi
	if ! git -C "$REPO" rev-parse -q --verify HEAD >/dev/null 2>&1; then
		export SUITE_SKIP="not a git checkout: the package is built from a clone of HEAD"
		return 0
	fi
	if dpkg-query -W -f='${Status}\n' pop3-stdio 2>/dev/null | grep -q 'ok installed'; then
		export SUITE_SKIP="a pop3-stdio package is already installed here; the test will not replace it"
		return 0
	fi
	if getent passwd "$ACCOUNT" >/dev/null || [ -e "/var/mail/$ACCOUNT" ]; then
		export SUITE_SKIP="account $ACCOUNT or /var/mail/$ACCOUNT exists already"
		return 0
	fi
	PKG=$(mktemp -d /tmp/pop3-package.XXXXXX)
	export PKG
	# /etc/inetd.conf as it was, restored by teardown_file; one is made when
	# there is none, so that the update-inetd path runs.
	if [ -f /etc/inetd.conf ]; then
		cp -p /etc/inetd.conf "$PKG/inetd.conf.saved"
	else
		printf '# /etc/inetd.conf made by tests/package.bats\n\n#:MAIL: Mail, news and uucp services.\n\n' >/etc/inetd.conf
	fi
	git clone -q "$REPO" "$PKG/src"
	build_into "$PKG/v1"
	# The same tree one version up: a changelog entry in front.
	(
		cd "$PKG/src" || exit 1
		v1=$(dpkg-parsechangelog -S Version)
		{
			printf 'pop3-stdio (%s+pkgtest1) unstable; urgency=medium\n\n' "$v1"
			printf '  * Rebuilt by tests/package.bats for the upgrade test.\n\n'
			printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -S Maintainer)" "$(date -R)"
			cat debian/changelog
		} >debian/changelog.new && mv debian/changelog.new debian/changelog
	)
	build_into "$PKG/v2"
	V1=$(cd "$PKG/v1" && dpkg-deb -f pop3-stdio_*.deb Version)
	V2=$(cd "$PKG/v2" && dpkg-deb -f pop3-stdio_*.deb Version)
	export V1 V2
}

# build_into DIR: dpkg-buildpackage in the clone, results moved to DIR.
build_into() {
	mkdir -p "$1"
	(cd "$PKG/src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) \
		>"$1.log" 2>&1 || {
		tail -n 40 "$1.log" >&2
		return 1
	}
	mv "$PKG"/pop3-stdio_* "$PKG"/pop3-stdio-dbgsym_* "$1/"
}

teardown_file() {
	[ -n "${PKG:-}" ] || return 0
	stop_servers 2>/dev/null || true
	if ! git -C "$REPO" rev-parse -q --verify HEAD >/dev/null 2>&1; then
		export SUITE_SKIP="not a git checkout: the package is built from a clone of HEAD"
		return 0
	fi
	if dpkg-query -W -f='${Status}\n' pop3-stdio 2>/dev/null | grep -q 'installed'; then
		UPDATE_INETD_FAKE_IT=1 dpkg -P pop3-stdio >/dev/null 2>&1 || true
	fi
	if getent passwd "$ACCOUNT" >/dev/null; then
		userdel "$ACCOUNT" 2>/dev/null || true
	fi
	rm -f "/var/mail/$ACCOUNT"
	rm -rf "/var/lib/pop3-stdio/$ACCOUNT"
	rmdir /var/lib/pop3-stdio 2>/dev/null || true
	if [ -f "$PKG/inetd.conf.saved" ]; then
		cp -p "$PKG/inetd.conf.saved" /etc/inetd.conf
	else
		rm -f /etc/inetd.conf
	fi
	rm -rf "$PKG"
}

setup() {
	skip_unless_suite_can_run
	SERVER_PIDS="$PKG/server.pids"
	WORLD="$PKG"
	touch "$SERVER_PIDS"
}

teardown() { stop_servers; }

deb() { echo "$PKG/$1"/pop3-stdio_*.deb; }

# dpkg_quiet ARGS...: dpkg with no terminal to ask on (a conffile prompt
# fails the call instead of waiting) and no inetd woken.
dpkg_quiet() {
	UPDATE_INETD_FAKE_IT=1 dpkg "$@" </dev/null >"$PKG/dpkg.log" 2>&1 || {
		cat "$PKG/dpkg.log" >&2
		return 1
	}
}

# The client's view of the message in the test maildrop.
MESSAGE=$'Subject: package test\r\nMessage-ID: <pkg@example.org>\r\n\r\n.a line that begins with a dot\r\nbody\r\n'

# serve_with_installed_unit: the installed pop3-stdio@.service's ExecStart,
# with the unit's privilege settings (tests/deploy-unit-exec), behind
# systemd-socket-activate on 127.0.0.1:PORT; no option added.
serve_with_installed_unit() {
	"$PYTHON" "$REPO/tests/deploy-unit-exec" /lib/systemd/system/pop3-stdio@.service \
		>"$PKG/unit.sh" || return 1
	chmod 755 "$PKG/unit.sh"
	grep -q ' /usr/sbin/pop3-stdio "\$@"$' "$PKG/unit.sh" || return 1
	require_free_port "$PORT" || return 1
	start_server socket-activate systemd-socket-activate --inetd -a \
		-l "127.0.0.1:$PORT" "$PKG/unit.sh"
	wait_for_port "$PORT"
}

@test "package: dpkg-buildpackage from a clean clone; lintian finds no error and no warning in the .debs and the .changes" {
	[ -n "$V1" ] && [ -n "$V2" ]
	dpkg --compare-versions "$V2" gt "$V1"
	run lintian --fail-on error,warning "$PKG"/v1/pop3-stdio_*.changes
	echo "$output"
	[ "$status" -eq 0 ]
	refute grep -E '^[EW]: ' <<<"$output"
}

@test "package: its files, conffiles, modes and relations" {
	local d v1deb
	v1deb=$(deb v1)
	dpkg-deb -c "$v1deb" | awk '{print $1, $6}' >"$PKG/contents"
	for f in ./usr/sbin/pop3-stdio ./usr/share/man/man8/pop3-stdio.8.gz \
		./lib/systemd/system/pop3-stdio.socket ./lib/systemd/system/pop3-stdio@.service \
		./lib/systemd/system/pop3s-stdio.socket ./lib/systemd/system/pop3s-stdio@.service \
		./lib/systemd/system/pop3s-stdio-stunnel.service \
		./lib/systemd/system/pop3s-stdio-backend.socket \
		./lib/systemd/system/pop3s-stdio-backend@.service \
		./usr/share/pop3-stdio/stunnel/pop3s-stdio-exec.conf \
		./usr/share/pop3-stdio/xinetd.d/pop3-stdio ./usr/share/pop3-stdio/xinetd.d/pop3s-stdio \
		./usr/share/pop3-stdio/stunnel/pop3s-stdio-inetd.conf \
		./usr/share/pop3-stdio/stunnel/pop3s-stdio.conf \
		./usr/share/pop3-stdio/stunnel/pop3-stdio-stls.conf \
		./usr/share/pop3-stdio/tcpserver/run ./usr/share/pop3-stdio/inetd/pop3-stdio.conf \
		./etc/pop3-stdio/blocked-users ./etc/fail2ban/filter.d/pop3-stdio.conf \
		./etc/fail2ban/jail.d/pop3-stdio.conf; do
		grep -q " $f\$" "$PKG/contents" || {
			echo "missing: $f" >&2
			return 1
		}
	done
	# Every example deploy/ holds comes along (nginx, HAProxy, ... too).
	for d in "$REPO"/deploy/*/; do
		d=$(basename "$d")
		case $d in systemd | fail2ban) continue ;; esac
		grep -q " ./usr/share/pop3-stdio/$d/" "$PKG/contents"
	done
	# Nothing that would start listening by itself: no /etc/xinetd.d file.
	refute grep -q ' ./etc/xinetd.d' "$PKG/contents"
	grep -qx 'drwx--x--x ./var/lib/pop3-stdio/' "$PKG/contents"
	dpkg-deb --ctrl-tarfile "$v1deb" | tar -xOf - ./conffiles | sort >"$PKG/conffiles"
	printf '%s\n' /etc/fail2ban/filter.d/pop3-stdio.conf /etc/fail2ban/jail.d/pop3-stdio.conf \
		/etc/pop3-stdio/blocked-users | diff - "$PKG/conffiles"
	[ "$(dpkg-deb -f "$v1deb" Recommends)" = stunnel4 ]
	dpkg-deb -f "$v1deb" Suggests | grep -q fail2ban
	refute grep -Eq 'stunnel|xinetd|fail2ban|inetd' <<<"$(dpkg-deb -f "$v1deb" Depends)"
}

@test "dpkg -i (systemd not required as PID 1): POP3S stunnel daemon enabled, its per-connection socket and POP3 on 110 not, inetd lines added disabled" {
	dpkg_quiet -i "$(deb v1)"
	[ "$(dpkg-query -W -f='${Status} ${Version}' pop3-stdio)" = "install ok installed $V1" ]
	dpkg -L pop3-stdio | sort >"$PKG/files-v1"
	[ -L /etc/systemd/system/multi-user.target.wants/pop3s-stdio-stunnel.service ]
	[ ! -e /etc/systemd/system/sockets.target.wants/pop3s-stdio.socket ]
	[ ! -e /etc/systemd/system/sockets.target.wants/pop3-stdio.socket ]
	# Pulled in by the stunnel daemon's Requires=, not enabled on its own.
	[ ! -e /etc/systemd/system/sockets.target.wants/pop3s-stdio-backend.socket ]
	[ "$(stat -c '%U %a' /var/lib/pop3-stdio)" = "root 711" ]
	grep -qx 'enabled  = false' /etc/fail2ban/jail.d/pop3-stdio.conf
	refute grep -q '^enabled *= *true' /etc/fail2ban/jail.d/pop3-stdio.conf
	[ "$(grep -cP '^#<off># pop3\tstream\ttcp\tnowait\troot\t/usr/sbin/pop3-stdio\tpop3-stdio$' /etc/inetd.conf)" -eq 1 ]
	[ "$(grep -cP '^#<off># pop3s\tstream\ttcp\tnowait\troot\t/usr/bin/stunnel\tstunnel /usr/share/pop3-stdio/stunnel/pop3s-stdio-inetd.conf$' /etc/inetd.conf)" -eq 1 ]
}

@test "installed unit: its ExecStart serves a session to curl with the installed program and paths (system account, /var/mail, /var/lib/pop3-stdio)" {
	local password hash
	password=$(openssl rand -hex 12)
	hash=$(openssl passwd -6 "$password")
	useradd -M -s /usr/sbin/nologin -c "pop3-stdio package test" -p "$hash" "$ACCOUNT"
	printf 'From sender@example.org Mon Nov 23 10:00:00 2026\nSubject: package test\nMessage-ID: <pkg@example.org>\n\n.a line that begins with a dot\nbody\n' \
		>"/var/mail/$ACCOUNT"
	chown "$ACCOUNT:mail" "/var/mail/$ACCOUNT"
	chmod 600 "/var/mail/$ACCOUNT"
	echo "$password" >"$PKG/password"
	serve_with_installed_unit
	curl -sS --max-time 20 "pop3://$ACCOUNT:$password@127.0.0.1:$PORT/1" >"$PKG/got"
	printf '%s' "$MESSAGE" >"$PKG/expected"
	same_bytes "$PKG/expected" "$PKG/got"
	# DELE through the update journal in the installed state directory.
	curl -sS --max-time 20 -X 'DELE 1' -I "pop3://$ACCOUNT:$password@127.0.0.1:$PORT/"
	[ ! -s "/var/mail/$ACCOUNT" ]
	[ -d "/var/lib/pop3-stdio/$ACCOUNT" ]
	[ "$(stat -c %U "/var/lib/pop3-stdio/$ACCOUNT")" = "$ACCOUNT" ]
}

@test "installed POP3S default: the stunnel daemon's unit and the backend socket's pop3-stdio serve curl over TLS" {
	skip_unless_tools stunnel
	local password sock=/run/pop3-stdio-package-test/backend.sock port=$((PORT + 1))
	password=$(cat "$PKG/password")
	printf 'From sender@example.org Mon Nov 23 11:00:00 2026\nSubject: over TLS\n\nthrough stunnel\n\n' \
		>"/var/mail/$ACCOUNT"
	WORLD=$PKG make_test_cert
	"$PYTHON" "$REPO/tests/deploy-unit-exec" /lib/systemd/system/pop3s-stdio-backend@.service \
		>"$PKG/backend.sh"
	chmod 755 "$PKG/backend.sh"
	grep -q ' /usr/sbin/pop3-stdio --trusted-proxies=local "\$@"$' "$PKG/backend.sh"
	[ "$(sed -n 's/^ListenStream=//p' /lib/systemd/system/pop3s-stdio-backend.socket)" = \
		/run/pop3-stdio/pop3s-backend.sock ]
	mkdir -p "${sock%/*}"
	start_server backend systemd-socket-activate --inetd -a -l "$sock" "$PKG/backend.sh"
	wait_for_socket "$sock"
	subst /usr/share/pop3-stdio/stunnel/pop3s-stdio.conf \
		"accept = 995" "accept = 127.0.0.1:$port" \
		"cert = /etc/pop3-stdio/pop3s.pem" "cert = $PKG/tls/cert.pem" \
		"key = /etc/pop3-stdio/pop3s.key" "key = $PKG/tls/key.pem" \
		"connect = /run/pop3-stdio/pop3s-backend.sock" "connect = $sock" >"$PKG/stunnel.conf"
	"$PYTHON" "$REPO/tests/deploy-unit-exec" /lib/systemd/system/pop3s-stdio-stunnel.service \
		>"$PKG/stunnel.sh.installed"
	subst "$PKG/stunnel.sh.installed" /usr/share/pop3-stdio/stunnel/pop3s-stdio.conf \
		"$PKG/stunnel.conf" >"$PKG/stunnel.sh"
	chmod 755 "$PKG/stunnel.sh"
	require_free_port "$port"
	start_server stunnel "$PKG/stunnel.sh"
	wait_for_port "$port"
	curl -sS --max-time 20 --cacert "$PKG/tls/cert.pem" \
		"pop3s://$ACCOUNT:$password@127.0.0.1:$port/1" >"$PKG/got-tls"
	printf 'Subject: over TLS\r\n\r\nthrough stunnel\r\n' >"$PKG/expected-tls"
	same_bytes "$PKG/expected-tls" "$PKG/got-tls"
	stop_servers
	rm -rf "${sock%/*}"
	: >"/var/mail/$ACCOUNT"
}

@test "conffile: the administrator's blocked-users entry refuses the login, and survives an upgrade to a rebuilt higher version" {
	local password
	password=$(cat "$PKG/password")
	echo "$ACCOUNT   # added by the administrator" >>/etc/pop3-stdio/blocked-users
	cp /etc/pop3-stdio/blocked-users "$PKG/blocked-users.changed"
	serve_with_installed_unit
	run curl -sS --max-time 20 "pop3://$ACCOUNT:$password@127.0.0.1:$PORT/"
	[ "$status" -ne 0 ]
	stop_servers
	# No prompt (stdin is /dev/null): the packaged file did not change.
	dpkg_quiet -i "$(deb v2)"
	[ "$(dpkg-query -W -f='${Status} ${Version}' pop3-stdio)" = "install ok installed $V2" ]
	cmp /etc/pop3-stdio/blocked-users "$PKG/blocked-users.changed"
	[ ! -e /etc/pop3-stdio/blocked-users.dpkg-new ]
	[ ! -e /etc/pop3-stdio/blocked-users.dpkg-dist ]
	serve_with_installed_unit
	run curl -sS --max-time 20 "pop3://$ACCOUNT:$password@127.0.0.1:$PORT/"
	[ "$status" -ne 0 ]
	# The upgrade added no second inetd line and kept the unit choice.
	[ "$(grep -c '^#<off># pop3[[:space:]]' /etc/inetd.conf)" -eq 1 ]
	[ "$(grep -c '^#<off># pop3s[[:space:]]' /etc/inetd.conf)" -eq 1 ]
	[ -L /etc/systemd/system/multi-user.target.wants/pop3s-stdio-stunnel.service ]
	[ ! -e /etc/systemd/system/sockets.target.wants/pop3s-stdio.socket ]
	[ ! -e /etc/systemd/system/sockets.target.wants/pop3-stdio.socket ]
}

@test "dpkg -r keeps only the conffiles; dpkg -P leaves no file of the package, its state directory or its inetd lines" {
	local path
	dpkg -L pop3-stdio | sort >"$PKG/files-v2"
	diff "$PKG/files-v1" "$PKG/files-v2"
	# An administrator who moved POP3S to inetd.
	UPDATE_INETD_FAKE_IT=1 update-inetd --enable pop3s 2>/dev/null
	grep -q '^pop3s[[:space:]].*pop3s-stdio-inetd.conf$' /etc/inetd.conf
	dpkg_quiet -r pop3-stdio
	[ "$(dpkg-query -W -f='${Status}' pop3-stdio)" = "deinstall ok config-files" ]
	while read -r path; do
		[ -d "$path" ] && continue
		case $path in
		/etc/*) [ -f "$path" ] ;; # conffiles stay until purge
		*) [ ! -e "$path" ] || {
			echo "left after dpkg -r: $path" >&2
			return 1
		} ;;
		esac
	done <"$PKG/files-v2"
	# The program is gone: its inetd lines stay disabled.
	refute grep -Eq '^pop3s?[[:space:]]' /etc/inetd.conf
	# An update a killed session left half-done (a non-empty journal) is
	# kept by the purge, and said so; finished state goes.
	mkdir -m 700 /var/lib/pop3-stdio/pending
	printf 'unfinished' >/var/lib/pop3-stdio/pending/journal
	dpkg_quiet -P pop3-stdio
	grep -q 'kept /var/lib/pop3-stdio/pending: its journal holds an unfinished update' "$PKG/dpkg.log"
	[ "$(ls -A /var/lib/pop3-stdio)" = pending ]
	rm -r /var/lib/pop3-stdio
	run dpkg-query -W -f='${Status}' pop3-stdio
	[ "$status" -ne 0 ] || [ "$output" = "unknown ok not-installed" ]
	# Every path it had is gone, but directories other packages own.
	while read -r path; do
		[ "$path" != /. ] && [ -e "$path" ] || continue
		if [ -d "$path" ] && dpkg-query -S "$path" >/dev/null 2>&1; then
			continue
		fi
		echo "left after dpkg -P: $path" >&2
		return 1
	done <"$PKG/files-v2"
	[ ! -e /var/lib/pop3-stdio ]
	[ ! -e /etc/pop3-stdio ]
	[ ! -e /etc/systemd/system/sockets.target.wants/pop3s-stdio.socket ]
	[ ! -e /etc/systemd/system/multi-user.target.wants/pop3s-stdio-stunnel.service ]
	refute grep -q 'pop3-stdio' /etc/inetd.conf
}
