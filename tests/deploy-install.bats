#!/usr/bin/env bats
# `make install DESTDIR=...` puts every file where pop3-stdio(8)
# (FILES) and the README say, and the installed deployment files name the
# installed paths, for the default PREFIX and for another one.

load helpers
load deploy-lib

# Two installations for the whole file, one per PREFIX: make is slow to
# start on some machines, and the tests only read what it installed.
setup_file() {
	INSTALLS=$(mktemp -d /tmp/pop3-install.XXXXXX)
	export INSTALLS
	install_into "$INSTALLS/local" /usr/local
	install_into "$INSTALLS/usr" /usr
}

teardown_file() {
	[ -n "${INSTALLS:-}" ] && rm -rf "$INSTALLS"
}

# install_into DESTDIR PREFIX: make install, its output shown on failure.
# In the flavour ./pop3-stdio was built in (build/flavour), so that make
# does not relink it under the other suites (make check SANITIZE=1).
install_into() {
	local flavour=() built
	built=$(cat "$REPO/build/flavour" 2>/dev/null || echo release)
	[ "$built" = sanitize ] && flavour=(SANITIZE=1)
	mkdir -p "$1"
	MAKEFLAGS= make -s -C "$REPO" install DESTDIR="$1" PREFIX="$2" "${flavour[@]}" \
		>"$1.log" 2>&1 || {
		cat "$1.log"
		return 1
	}
}

# use_install PREFIX: DEST is the DESTDIR of that installation.
use_install() {
	case "$1" in
	/usr/local) DEST="$INSTALLS/local" ;;
	/usr) DEST="$INSTALLS/usr" ;;
	esac
}

# installed_files: every file under $DEST, as absolute installed paths.
installed_files() {
	(cd "$DEST" && find . -type f | sed 's|^\.||' | sort)
}

# documented_files PREFIX: the paths FILES lists after "Installed by".
documented_files() {
	sed -n '/^Installed by$/,/^\.Sh /s/^\.It Pa \(\/[^ ]*\).*/\1/p' "$REPO/man/pop3-stdio.8" |
		sed "s|^/usr/local/|$1/|" | sort
}

@test "make install (PREFIX=/usr/local): exactly the files pop3-stdio(8) FILES lists" {
	use_install /usr/local
	[ "$(documented_files /usr/local | wc -l)" -ge 12 ]
	diff <(documented_files /usr/local) <(installed_files)
}

@test "make install PREFIX=/usr: the same files under /usr, and no /usr/local left in them" {
	use_install /usr
	diff <(documented_files /usr) <(installed_files)
	run grep -rl /usr/local "$DEST"
	[ "$status" -eq 1 ]
}

@test "make install: modes, a working binary, the man page renders" {
	use_install /usr/local
	[ "$(stat -c %a "$DEST/usr/local/sbin/pop3-stdio")" = 755 ]
	[ "$(stat -c %a "$DEST/usr/local/share/pop3-stdio/tcpserver/run")" = 755 ]
	[ "$(stat -c %a "$DEST/usr/local/share/man/man8/pop3-stdio.8")" = 644 ]
	[ "$(stat -c %a "$DEST/usr/local/lib/systemd/system/pop3-stdio@.service")" = 644 ]
	run "$DEST/usr/local/sbin/pop3-stdio" --version
	[ "$status" -eq 0 ]
	[[ "$output" == "pop3-stdio "* ]]
	if command -v mandoc >/dev/null; then
		mandoc -Tascii "$DEST/usr/local/share/man/man8/pop3-stdio.8" | grep -q 'POP3 server'
	fi
}

# assert_references PREFIX: the installed xinetd, systemd, stunnel and
# tcpserver files start the installed program, and every file they name
# under PREFIX is installed.
assert_references() {
	local p=$1 share="$1/share/pop3-stdio" units="$1/lib/systemd/system"
	grep -qx $'\tserver\t\t= '"$p/sbin/pop3-stdio" "$DEST$share/xinetd.d/pop3-stdio"
	grep -qx $'\tserver_args\t= '"$share/stunnel/pop3s-stdio-inetd.conf" \
		"$DEST$share/xinetd.d/pop3s-stdio"
	grep -qx "ExecStart=-$p/sbin/pop3-stdio" "$DEST$units/pop3-stdio@.service"
	grep -qx "ExecStart=-/usr/bin/stunnel $share/stunnel/pop3s-stdio-inetd.conf" \
		"$DEST$units/pop3s-stdio@.service"
	grep -qx "ExecStart=-$p/sbin/pop3-stdio --trusted-proxies=local" \
		"$DEST$units/pop3s-stdio-backend@.service"
	grep -qx "ExecStart=/usr/bin/stunnel $share/stunnel/pop3s-stdio.conf" \
		"$DEST$units/pop3s-stdio-stunnel.service"
	local conf
	for conf in pop3s-stdio-exec.conf pop3s-stdio-inetd.conf pop3-stdio-stls.conf; do
		grep -qx "exec = $p/sbin/pop3-stdio" "$DEST$share/stunnel/$conf"
	done
	grep -q " $p/sbin/pop3-stdio\$" "$DEST$share/tcpserver/run"
	# Every path under the prefix that an installed file names exists.
	local path named
	named=$(grep -rhoE "$p/(sbin|share|lib)/[^[:space:]\"']+" "$DEST$share" "$DEST$units" | sort -u)
	[ -n "$named" ]
	for path in $named; do
		[ -e "$DEST$path" ] || {
			echo "named but not installed: $path" >&2
			return 1
		}
	done
}

@test "installed xinetd, systemd, stunnel and tcpserver files reference the installed paths (/usr/local)" {
	use_install /usr/local
	assert_references /usr/local
}

@test "installed xinetd, systemd, stunnel and tcpserver files reference the installed paths (/usr)" {
	use_install /usr
	assert_references /usr
}

@test "installed systemd units pass systemd-analyze verify" {
	skip_unless_tools systemd-analyze
	use_install /usr/local
	local units="$DEST/usr/local/lib/systemd/system"
	# Found through the unit path, as systemd finds units it installs.
	SYSTEMD_UNIT_PATH="$units:" run systemd-analyze verify --man=no \
		pop3-stdio.socket pop3s-stdio.socket pop3-stdio@verify.service \
		pop3s-stdio@verify.service pop3s-stdio-stunnel.service \
		pop3s-stdio-backend.socket pop3s-stdio-backend@verify.service
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "README: the deployment section names every shipped file and where make install puts it" {
	local f
	for f in xinetd.d/pop3-stdio xinetd.d/pop3s-stdio \
		deploy/systemd/pop3-stdio.socket deploy/systemd/pop3-stdio@.service \
		deploy/systemd/pop3s-stdio.socket deploy/systemd/pop3s-stdio@.service \
		deploy/systemd/pop3s-stdio-stunnel.service deploy/stunnel/pop3s-stdio.conf deploy/stunnel/pop3s-stdio-inetd.conf \
		deploy/systemd/pop3s-stdio-backend.socket deploy/systemd/pop3s-stdio-backend@.service \
		deploy/stunnel/pop3s-stdio-exec.conf \
		deploy/stunnel/pop3-stdio-stls.conf deploy/tcpserver/run; do
		[ -e "$REPO/$f" ]
		grep -qF "$f" "$REPO/README.md" || {
			echo "README.md does not name $f" >&2
			return 1
		}
	done
	for f in $(documented_files /usr/local); do
		grep -qF "$f" "$REPO/README.md" || {
			echo "README.md does not name the installed $f" >&2
			return 1
		}
	done
}
