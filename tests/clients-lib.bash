# Shared by tests/clients-*.bats: fixture mail, and one scenario per real
# mail client (fetchmail, mpop, getmail6, curl, Python's poplib), each run
# against a server the calling suite started (see deploy-lib.bash).
#
# A scenario takes a TRANSPORT and a PORT on 127.0.0.1:
#   plain   POP3 without TLS
#   pop3s   POP3 over TLS from the first byte (port 995 style)
#   stls    POP3, then STLS before the login (stunnel's protocol = pop3)
# and checks three things after every client run: the client's exit status,
# what it received (tests/clients-compare: bodies and Message-ID lines
# byte-exact against the fixtures, each message once), and the maildrop
# file on disk, byte for byte.
#
# Fixture messages: tests/clients-messages/*.eml, plus 06-big.eml (about
# 190 kB, made here) so that a message spans I/O blocks and TLS records.
# A maildrop starts with 01 02 03 06; 04 and 05 are delivered later.

CLIENTS_MESSAGES="$REPO/tests/clients-messages"
INITIAL="01 02 03 06"
# The envelope line of every fixture message in an mbox.
FROM_LINE="From MAILER-DAEMON Mon Nov 23 09:00:00 2026"

fail() {
	printf '%s\n' "$*" >&2
	return 1
}

# ---- the world of one suite ----

# setup_suite_world: setup_world for the whole file (servers outlive one
# test), exported so that every test sees it.
setup_suite_world() {
	local f id
	setup_world
	SERVER_PIDS="$WORLD/server.pids"
	MESSAGES="$WORLD/messages"
	: >"$SERVER_PIDS"
	mkdir -p "$MESSAGES"
	for f in "$CLIENTS_MESSAGES"/*.eml; do
		id=${f##*/}
		cp "$f" "$MESSAGES/${id%%-*}.eml"
	done
	make_big_message >"$MESSAGES/06.eml"
	# Per message: its mbox form (ID.mbox) and its POP3 size (in "sizes").
	for f in "$MESSAGES"/*.eml; do
		id=${f##*/}
		id=${id%.eml}
		{ printf '%s\n' "$FROM_LINE"; cat "$f"; printf '\n'; } >"$MESSAGES/$id.mbox"
		echo "$id $(($(wc -c <"$f") + $(wc -l <"$f")))"
	done >"$MESSAGES/sizes"
	export WORLD SPOOL STATE PASSWD BLOCKLIST SERVER_PIDS MESSAGES
}

teardown_suite_world() {
	stop_servers
	# Nothing to remove when setup_file skipped before making the world.
	[ -z "${WORLD:-}" ] || teardown_world
}

# make_big_message: about 190 kB of base64 lines, the same every run.
make_big_message() {
	printf '%s\n' "Return-Path: <archive@example.org>" \
		"From: Archive <archive@example.org>" "To: demo@example.net" \
		"Subject: The whole archive" "Date: Mon, 23 Nov 2026 12:00:00 +0000" \
		"Message-ID: <big-6@example.org>" "MIME-Version: 1.0" \
		"Content-Type: application/octet-stream" \
		"Content-Transfer-Encoding: base64" ""
	seq 1 30000 | base64 -w 76
}

# Process creation is slow on some machines (a second for a handful of
# forks), so the helpers below that run often avoid subshells: they set a
# variable rather than print.

# msgs ID...: sets MSG_FILES to the fixture files of those messages.
msgs() {
	local id
	MSG_FILES=()
	for id in "$@"; do MSG_FILES+=("$MESSAGES/$id.eml"); done
}

# load_sizes: SIZE[ID] is the octet count POP3 gives for message ID (every
# line end a CRLF).
load_sizes() {
	local id size
	declare -gA SIZE=()
	while read -r id size; do SIZE[$id]=$size; done <"$MESSAGES/sizes"
}

# mbox_of ID...: an mbox holding those messages, as an MDA writes it.
mbox_of() {
	local id chunks=()
	for id in "$@"; do chunks+=("$MESSAGES/$id.mbox"); done
	[ $# -eq 0 ] || cat "${chunks[@]}"
}

# new_account: a fresh virtual user for this test ($ACCOUNT, $SECRET)
# whose maildrop holds the initial messages, and a client directory $CDIR.
new_account() {
	ACCOUNT="u$BATS_TEST_NUMBER"
	SECRET="Pw-$BATS_TEST_NUMBER-$RANDOM"
	CDIR="$WORLD/client-$BATS_TEST_NUMBER"
	add_user "$ACCOUNT" "$SECRET"
	mbox_of $INITIAL | mbox "$ACCOUNT"
	mkdir -p "$CDIR"
	load_sizes
}

# refute_password_logged LOG: $SECRET is not in LOG, nor in either base64
# form a client sends it in: the AUTH PLAIN message "\0$ACCOUNT\0$SECRET"
# (curl logs in with AUTH PLAIN when CAPA offers SASL PLAIN) and the
# password alone.
refute_password_logged() {
	local plain alone
	plain=$(printf '\0%s\0%s' "$ACCOUNT" "$SECRET" | base64 -w0)
	alone=$(printf '%s' "$SECRET" | base64 -w0)
	refute grep -F -e "$SECRET" -e "$plain" -e "$alone" -- "$1"
}

# deliver ID: appends message ID to the maildrop, under an fcntl lock as
# Debian's MDAs (Postfix local, procmail) take it.
deliver() {
	mbox_of "$1" | "$PYTHON" -c '
import fcntl, sys
with open(sys.argv[1], "ab") as f:
    fcntl.lockf(f, fcntl.LOCK_EX)
    f.write(sys.stdin.buffer.read())
' "$SPOOL/$ACCOUNT"
}

# assert_maildrop ID...: the maildrop file is exactly those messages.
assert_maildrop() {
	local want="$CDIR/maildrop.expected"
	mbox_of "$@" >"$want"
	cmp "$want" "$SPOOL/$ACCOUNT" ||
		fail "maildrop of $ACCOUNT is not messages [$*]: $(wc -c <"$SPOOL/$ACCOUNT") bytes"
}

# assert_received MODE DIR ID...: the files in DIR are exactly messages ID.
assert_received() {
	local mode=$1 dir=$2 files
	shift 2
	files=("$dir"/*)
	[ -e "${files[0]}" ] || files=()
	msgs "$@"
	"$PYTHON" "$REPO/tests/clients-compare" "$mode" "${MSG_FILES[@]}" -- "${files[@]}"
}

# fresh_dir NAME: an empty directory $CDIR/NAME, also in $FRESH.
fresh_dir() {
	FRESH="$CDIR/$1"
	rm -rf "$FRESH"
	mkdir -p "$FRESH"
}

# new_in_maildir MAILDIR NAME: copies the maildir's messages that no
# earlier call saw into the fresh directory $CDIR/NAME ($FRESH).
new_in_maildir() {
	local f
	declare -gA SEEN_IN_MAILDIR
	fresh_dir "$2"
	for f in "$1"/new/* "$1"/cur/*; do
		[ -f "$f" ] && [ -z "${SEEN_IN_MAILDIR[$f]:-}" ] || continue
		SEEN_IN_MAILDIR[$f]=1
		cp "$f" "$FRESH/"
	done
}

# ---- fetchmail ----

# fetchmail_run EXPECTED-STATUS OPTION...: one poll with the suite's rc
# file; each message goes to clients-mda, into $CDIR/fetchmail/<run>.
# Its pid file is the suite's own: as root, fetchmail's default is
# /var/run/fetchmail.pid, which a fetchmail of another run would hold.
fetchmail_run() {
	local want=$1 status=0
	shift
	FM_RUNS=$((FM_RUNS + 1))
	fresh_dir "fetchmail-$FM_RUNS"
	FM_OUT=$FRESH
	FETCHMAILHOME="$CDIR/fetchmail-home" fetchmail -f "$CDIR/fetchmailrc" \
		--idfile "$CDIR/fetchmail-home/ids" --pidfile "$CDIR/fetchmail-home/pid" \
		--nosyslog --nodetach \
		--mda "$REPO/tests/clients-mda $FM_OUT" "$@" \
		>"$FM_OUT.log" 2>&1 || status=$?
	[ "$status" = "$want" ] ||
		fail "fetchmail $* exited $status, not $want: $(cat "$FM_OUT.log")"
}

# The user story: fetch all and keep them; after a delivery fetch only the
# new one; fetch all and delete them; after a delivery fetch and delete it.
scenario_fetchmail() {
	local transport=$1 port=$2 tls
	skip_unless_tools fetchmail
	new_account
	case "$transport" in
	plain) tls="sslproto ''" ;;
	pop3s) tls="ssl sslcertck sslcertfile '$CERT'" ;;
	stls) tls="sslproto 'tls1.2+' sslcertck sslcertfile '$CERT'" ;;
	esac
	mkdir -p "$CDIR/fetchmail-home"
	chmod 700 "$CDIR/fetchmail-home"
	cat >"$CDIR/fetchmailrc" <<-EOF
		poll 127.0.0.1 service $port protocol pop3 uidl timeout 20
		  user "$ACCOUNT" password "$SECRET" $tls
	EOF
	chmod 600 "$CDIR/fetchmailrc"
	FM_RUNS=0

	fetchmail_run 0 --keep
	assert_received client "$FM_OUT" $INITIAL
	assert_maildrop $INITIAL

	deliver 04
	fetchmail_run 0 --keep
	assert_received client "$FM_OUT" 04
	assert_maildrop $INITIAL 04

	fetchmail_run 0 --nokeep --all
	assert_received client "$FM_OUT" $INITIAL 04
	assert_maildrop

	deliver 05
	fetchmail_run 0 --nokeep
	assert_received client "$FM_OUT" 05
	assert_maildrop

	fetchmail_run 1 --nokeep
	assert_received client "$FM_OUT"
}

# ---- mpop ----

# mpop_run OPTION...: one run; the maildir is $CDIR/mpop-maildir, and
# MP_NEW lists the files this run added to it.
mpop_run() {
	MP_RUNS=$((MP_RUNS + 1))
	mpop -C "$CDIR/mpoprc" -a "$@" >"$CDIR/mpop-$MP_RUNS.log" 2>&1 ||
		fail "mpop $* failed: $(cat "$CDIR/mpop-$MP_RUNS.log")"
	new_in_maildir "$CDIR/mpop-maildir" "mpop-$MP_RUNS"
	MP_NEW=$FRESH
}

# The user story: UIDL tracking across runs (nothing twice, nothing
# missed), then delete mode removes what was retrieved.
scenario_mpop() {
	local transport=$1 port=$2
	skip_unless_tools mpop
	new_account
	mkdir -p "$CDIR"/mpop-maildir/{cur,new,tmp}
	{
		echo "account test"
		echo "host 127.0.0.1"
		echo "port $port"
		echo "timeout 20"
		echo "user $ACCOUNT"
		echo "password $SECRET"
		echo "auth user"
		case "$transport" in
		plain) echo "tls off" ;;
		pop3s) printf '%s\n' "tls on" "tls_starttls off" "tls_trust_file $CERT" ;;
		stls) printf '%s\n' "tls on" "tls_starttls on" "tls_trust_file $CERT" ;;
		esac
		echo "delivery maildir $CDIR/mpop-maildir"
		echo "uidls_file $CDIR/mpop-uidls"
		echo "keep on"
	} >"$CDIR/mpoprc"
	chmod 600 "$CDIR/mpoprc"
	MP_RUNS=0

	mpop_run
	assert_received client "$MP_NEW" $INITIAL
	assert_maildrop $INITIAL

	mpop_run
	assert_received client "$MP_NEW"
	assert_maildrop $INITIAL

	deliver 04
	mpop_run
	assert_received client "$MP_NEW" 04
	assert_maildrop $INITIAL 04

	# Delete mode: what earlier runs retrieved is deleted now.
	deliver 05
	mpop_run --keep=off
	assert_received client "$MP_NEW" 05
	assert_maildrop
	[ "$(grep -c '^[^ #]' "$CDIR/mpop-uidls")" = 0 ] ||
		fail "mpop still lists UIDs of deleted mail: $(cat "$CDIR/mpop-uidls")"
}

# ---- getmail6 ----

# getmail_run: one run of the suite's getmailrc; GM_NEW lists the files it
# added to the maildir.
getmail_run() {
	GM_RUNS=$((GM_RUNS + 1))
	getmail --getmaildir="$CDIR/getmail" --rcfile=getmailrc \
		>"$CDIR/getmail-$GM_RUNS.log" 2>&1 ||
		fail "getmail failed: $(cat "$CDIR/getmail-$GM_RUNS.log")"
	! grep -qi 'error' "$CDIR/getmail-$GM_RUNS.log" ||
		fail "getmail reported an error: $(cat "$CDIR/getmail-$GM_RUNS.log")"
	new_in_maildir "$CDIR/getmail-maildir" "getmail-$GM_RUNS"
	GM_NEW=$FRESH
}

# The user story: read_all = false, run twice: the second run gets nothing;
# after a delivery, only the new message.  delete = false keeps the maildrop.
scenario_getmail() {
	local transport=$1 port=$2 retriever=SimplePOP3Retriever tls=""
	skip_unless_tools getmail
	new_account
	mkdir -p "$CDIR/getmail" "$CDIR"/getmail-maildir/{cur,new,tmp}
	if [ "$transport" = pop3s ]; then
		retriever=SimplePOP3SSLRetriever
		tls="ca_certs = $CERT"
	fi
	local deliver_as=""
	if is_root; then
		# getmail will not write a maildir as root; it switches to a
		# user it finds by name.  The client's maildir is no session's:
		# nobody will do (the fixture ids need have no name).
		chown -R nobody: "$CDIR/getmail-maildir"
		deliver_as="user = nobody"
	fi
	cat >"$CDIR/getmail/getmailrc" <<-EOF
		[retriever]
		type = $retriever
		server = 127.0.0.1
		port = $port
		username = $ACCOUNT
		password = $SECRET
		timeout = 20
		$tls

		[destination]
		type = Maildir
		path = $CDIR/getmail-maildir/
		$deliver_as

		[options]
		read_all = false
		delete = false
		verbose = 1
	EOF
	GM_RUNS=0

	getmail_run
	assert_received client "$GM_NEW" $INITIAL
	assert_maildrop $INITIAL

	getmail_run
	assert_received client "$GM_NEW"
	assert_maildrop $INITIAL

	deliver 04
	getmail_run
	assert_received client "$GM_NEW" 04
	assert_maildrop $INITIAL 04
}

# ---- curl ----

# curl_pop3 PATH [OPTION...]: curl on the scenario's URL; output on stdout.
curl_pop3() {
	local path=$1
	shift
	curl -sS --max-time 20 "${CURL_TLS[@]}" "$@" \
		"$CURL_URL/$path"
}

# The commands a curl user runs: LIST, RETR, UIDL, TOP 1 0, DELE 1, each
# compared byte for byte (curl shows the multi-line data as it came, CRLF,
# with the byte-stuffing removed).
scenario_curl() {
	local transport=$1 port=$2 n id
	skip_unless_tools curl
	new_account
	CURL_TLS=()
	case "$transport" in
	plain) CURL_URL="pop3://$ACCOUNT:$SECRET@127.0.0.1:$port" ;;
	pop3s)
		CURL_URL="pop3s://$ACCOUNT:$SECRET@127.0.0.1:$port"
		CURL_TLS=(--cacert "$CERT")
		;;
	stls)
		CURL_URL="pop3://$ACCOUNT:$SECRET@127.0.0.1:$port"
		CURL_TLS=(--ssl-reqd --cacert "$CERT")
		;;
	esac

	# LIST: every message with its exact size.
	curl_pop3 "" >"$CDIR/list"
	n=0
	for id in $INITIAL; do
		printf '%s %s\r\n' $((++n)) "${SIZE[$id]}"
	done >"$CDIR/list.expected"
	cmp "$CDIR/list.expected" "$CDIR/list" || fail "LIST: $(cat -A "$CDIR/list")"

	# RETR n: each message byte-exact with CRLF line ends; one curl
	# for all of them (it reuses the connection where it can).
	local retr urls=()
	fresh_dir retr
	retr=$FRESH
	n=0
	for id in $INITIAL; do
		n=$((n + 1))
		urls+=("$CURL_URL/$n" -o "$retr/$n")
	done
	curl -sS --max-time 20 "${CURL_TLS[@]}" "${urls[@]}" || fail "RETR failed"
	assert_received crlf "$retr" $INITIAL

	# UIDL: one line per message; ids unique, 1-70 printable characters,
	# the same when asked again.
	curl_pop3 "" -X UIDL >"$CDIR/uidl"
	[ "$(wc -l <"$CDIR/uidl")" = 4 ] || fail "UIDL: $(cat -A "$CDIR/uidl")"
	grep -Evq $'^[1-4] [\x21-\x7e]{1,70}\r$' "$CDIR/uidl" &&
		fail "UIDL: malformed line: $(cat -A "$CDIR/uidl")"
	[ "$(cut -d' ' -f2 "$CDIR/uidl" | sort -u | wc -l)" = 4 ] ||
		fail "UIDL: ids not unique: $(cat "$CDIR/uidl")"
	curl_pop3 "" -X UIDL | cmp "$CDIR/uidl" - || fail "UIDL changed between sessions"

	# TOP 1 0: the header section and the blank line.
	curl_pop3 "" -X 'TOP 1 0' >"$CDIR/top"
	sed -n '1,/^$/s/$/\r/p' "$MESSAGES/01.eml" >"$CDIR/top.expected"
	cmp "$CDIR/top.expected" "$CDIR/top" || fail "TOP 1 0: $(cat -A "$CDIR/top")"

	# DELE 1 (curl needs -I: DELE has no multi-line answer), then QUIT:
	# message 1 is gone from the file; the others keep their ids.
	curl_pop3 "" -X 'DELE 1' -I >"$CDIR/dele" || fail "DELE 1 failed"
	assert_maildrop 02 03 06
	curl_pop3 "" -X UIDL >"$CDIR/uidl-after"
	sed -n '2,4p' "$CDIR/uidl" | cut -d' ' -f2 >"$CDIR/ids-kept"
	cut -d' ' -f2 "$CDIR/uidl-after" | cmp "$CDIR/ids-kept" - ||
		fail "UIDL of the kept messages changed after DELE: $(cat "$CDIR/uidl-after")"
}

# ---- Python poplib ----

# The whole command set through poplib: STAT, LIST, UIDL, RETR of every
# message (byte-exact once poplib has removed CRLF and byte-stuffing),
# TOP 1 0, DELE 1, QUIT, and then the file on disk.
scenario_poplib() {
	local transport=$1 port=$2 out n id
	new_account
	fresh_dir poplib
	out=$FRESH
	"$PYTHON" "$REPO/tests/clients-poplib" "$transport" "$port" "$ACCOUNT" \
		"$SECRET" "$out" ${CERT:+"$CERT"} || fail "poplib session failed"
	local total=0
	n=0
	for id in $INITIAL; do
		n=$((n + 1))
		total=$((total + SIZE[$id]))
		echo "$n ${SIZE[$id]}"
	done >"$CDIR/list.expected"
	[ "$(cat "$out/stat")" = "4 $total" ] || fail "STAT: $(cat "$out/stat")"
	cmp "$CDIR/list.expected" "$out/list" || fail "LIST: $(cat "$out/list")"
	[ "$(wc -l <"$out/uidl")" = 4 ] || fail "UIDL: $(cat "$out/uidl")"
	grep -q '^IMPLEMENTATION pop3-stdio$' "$out/capa" || fail "CAPA: $(cat "$out/capa")"
	local retr
	fresh_dir poplib-retr
	retr=$FRESH
	cp "$out"/retr-[0-9] "$retr/"
	assert_received exact "$retr" $INITIAL
	sed -n '1,/^$/p' "$MESSAGES/01.eml" | cmp - "$out/top-1-0" || fail "TOP 1 0 differs"
	grep -q '^+OK' "$out/dele-1" || fail "DELE 1: $(cat "$out/dele-1")"
	grep -q '^+OK' "$out/quit" || fail "QUIT: $(cat "$out/quit")"
	assert_maildrop 02 03 06
	if [ "$transport" = stls ]; then
		# Before TLS only stunnel speaks: one CAPA that offers STLS alone.
		[ "$(cat "$out/capa-before-tls")" = STLS ] ||
			fail "CAPA before TLS: $(cat "$out/capa-before-tls")"
	fi
}
