#!/usr/bin/env bats
# README.md stays true: its Layout section names every source file and
# folder of the tree (and nothing that is not there), and the sessions its
# "Try it" section shows run exactly as written -- the commands are read
# from the README's code blocks, not copied here -- and answer what the
# README says they answer, byte for byte.

load helpers
load deploy-lib

README="$REPO/README.md"

setup() {
	setup_world
	SERVER_PIDS="$WORLD/server.pids"
}

teardown() {
	stop_servers
	teardown_world
}

# readme_section TITLE: the lines of README's "## TITLE" section.
readme_section() {
	awk -v title="## $1" '$0 == title { on = 1; next } on && /^## / { exit } on' "$README"
}

# code_block N: the Nth code block (lines indented by four spaces) of
# stdin, without the indentation.
code_block() {
	awk -v n="$1" '/^    / { if (!inside) { b++; inside = 1 } if (b == n) print substr($0, 5); next }
		{ inside = 0 }'
}

# block_with TEXT: the number of the first code block of stdin with a line
# containing TEXT (a fixed string).
block_with() {
	TEXT="$1" awk '/^    / { if (!inside) { b++; inside = 1 }
			if (index($0, ENVIRON["TEXT"])) { print b; found = 1; exit } next }
		{ inside = 0 } END { exit !found }'
}

# The names the Layout section gives in backquotes: files (x.c, x.h) and
# folders (x/ or x/y/), one a line.
layout_names() {
	readme_section Layout | grep -o '`[^`]*`' | tr -d '`' | sort -u
}

# The session's answer as the README shows it after the given block.
readme_answer_after() {
	local n
	n=$(readme_section "Try it" | block_with "$1") || return 1
	readme_section "Try it" | code_block $((n + 1))
}

# answer_matches README-LINES ACTUAL: the server sent the README's lines,
# each with CRLF, but for the host name in the greeting, which is ours.
answer_matches() {
	local greeting
	greeting=$(head -n 1 "$2")
	[[ "$greeting" =~ $greeting_re ]] || {
		echo "no greeting: $greeting"
		return 1
	}
	[[ "$(head -n 1 "$1")"$'\r' =~ $greeting_re ]] || {
		echo "the README's answer does not start with a greeting"
		return 1
	}
	{
		printf '%s\n' "$greeting"
		tail -n +2 "$1" | crlf
	} >"$WORLD/expected"
	same_bytes "$WORLD/expected" "$2"
}

# layout_agrees TREE KIND PATTERN: every line of the sorted file TREE is
# named in the Layout section, and every name there that matches the
# extended regular expression PATTERN is a line of TREE.
layout_agrees() {
	local missing stale
	layout_names >"$WORLD/named"
	missing=$(comm -13 "$WORLD/named" "$1")
	stale=$(grep -E "$3" "$WORLD/named" | comm -23 - "$1")
	[ -z "$missing" ] || echo "not in README's Layout: $missing"
	[ -z "$stale" ] || echo "in README's Layout but not a $2 of the tree: $stale"
	[ -z "$missing" ] && [ -z "$stale" ]
}

@test "README Layout: every top-level .c and .h file is named, and every name is a file" {
	(cd "$REPO" && ls -- *.c *.h) | sort >"$WORLD/files"
	layout_agrees "$WORLD/files" file '^[^/]+\.[ch]$'
	# The parser does find the section: the program itself is there.
	grep -qx 'pop3-stdio.c' "$WORLD/named"
}

@test "README Layout: every folder and every folder of tests/ is named, and every name is a folder" {
	# What the build and the tests make (.gitignore) is not the tree.
	(cd "$REPO" && find . -mindepth 1 -maxdepth 2 -type d ! -name '.*' ! -path './.*' \
		! -path ./build ! -path './build/*' ! -path ./tests/bin |
		sed 's|^\./||' | awk -F/ 'NF == 1 || $1 == "tests"' | sed 's|$|/|' | sort) \
		>"$WORLD/folders"
	layout_agrees "$WORLD/folders" folder '/$'
	grep -qx 'tests/unit/' "$WORLD/named"
}

@test "README Try it: the piped session runs as written, as a normal user, and answers what the README shows" {
	local n
	n=$(readme_section "Try it" | block_with '| ./pop3-stdio')
	readme_section "Try it" | code_block "$n" >"$WORLD/commands"
	readme_answer_after '| ./pop3-stdio' >"$WORLD/answer"
	grep -q 'STAT' "$WORLD/commands"
	grep -q '^+OK 3 ' "$WORLD/answer"
	# A directory laid out like the repository (the program and example/),
	# which the user running the commands owns, and its own TMPDIR for
	# the commands' mktemp.
	local try="$WORLD/try"
	mkdir -p "$try/tmp"
	cp "$POP3" "$try/pop3-stdio"
	cp -r "$REPO/example" "$try/example"
	cp "$WORLD/commands" "$try/commands"
	if is_root; then
		command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
		chown -R "$FIXTURE_UID:$FIXTURE_GID" "$try"
		(cd "$try" && setpriv --reuid="$FIXTURE_UID" --regid="$FIXTURE_GID" --clear-groups \
			env HOME="$try" TMPDIR="$try/tmp" sh commands) >"$WORLD/actual"
	else
		(cd "$try" && HOME="$try" TMPDIR="$try/tmp" sh commands) >"$WORLD/actual"
	fi
	answer_matches "$WORLD/answer" "$WORLD/actual"
	# The copy is the maildrop; the state went where the README says.
	local spool
	spool=$(find "$try/tmp" -mindepth 1 -maxdepth 1 -type d)
	cmp "$REPO/example/spool/demo" "$spool/demo"
	[ -d "$spool/.pop3-stdio/demo" ]
}

@test "README Try it: the session through nc against example/serve answers what the README shows" {
	skip_unless_tools nc socat
	port_listening 1110 && skip "port 1110 is in use (is example/serve running?)"
	local n
	n=$(readme_section "Try it" | block_with '| nc ')
	readme_section "Try it" | code_block "$n" | grep -F '| nc ' >"$WORLD/commands"
	readme_answer_after '| ./pop3-stdio' >"$WORLD/answer"
	grep -q '127.0.0.1 1110' "$WORLD/commands"
	# example/serve builds with make: build the flavour already built, so
	# that a sanitizer run keeps its binary.  As root it also runs
	# tests/install-deps, which does nothing when the test dependencies
	# are installed.
	local sanitize=()
	[ "$(cat "$REPO/build/flavour" 2>/dev/null)" = sanitize ] && sanitize=(SANITIZE=1)
	start_server serve env MAKEFLAGS= MAKELEVEL= "${sanitize[@]}" "$REPO/example/serve"
	wait_for_port 1110 60 || {
		cat "$WORLD/serve.log"
		return 1
	}
	(cd "$WORLD" && timeout 30 sh "$WORLD/commands") >"$WORLD/actual"
	answer_matches "$WORLD/answer" "$WORLD/actual"
}
