#!/usr/bin/env bats
# The release binary is built hardened (PIE, full RELRO, no
# executable stack, stack protector, _FORTIFY_SOURCE, CET where the
# compiler has it), the flags stay overridable, and gcc and clang both
# build the sources warning-free.

load helpers

setup() {
	command -v readelf >/dev/null || skip "readelf (binutils) is not installed"
	# make check SANITIZE=1 builds with its own flags, not the hardened ones.
	if readelf -sW --dyn-syms "$POP3" | grep -q '__asan_init'; then
		skip "a sanitizer build: the hardening flags are not used"
	fi
}

@test "hardening: pop3-stdio is a position-independent executable" {
	run readelf -hW "$POP3"
	[[ "$output" == *"Type:"*"DYN"* ]]
	run readelf -dW "$POP3"
	[[ "$output" =~ FLAGS_1.*PIE ]]
}

@test "hardening: full RELRO -- a GNU_RELRO segment and BIND_NOW" {
	run readelf -lW "$POP3"
	[[ "$output" == *GNU_RELRO* ]]
	run readelf -dW "$POP3"
	[[ "$output" =~ \(FLAGS\).*BIND_NOW ]] || [[ "$output" =~ FLAGS_1.*NOW ]]
}

@test "hardening: the stack is not executable" {
	run readelf -lW "$POP3"
	line=$(printf '%s\n' "$output" | grep GNU_STACK)
	[[ "$line" == *" RW "* ]]
	[[ "$line" != *RWE* ]]
}

@test "hardening: stack protector and _FORTIFY_SOURCE checks are linked in" {
	run readelf -sW --dyn-syms "$POP3"
	[[ "$output" == *__stack_chk_fail* ]]
	# Fortified calls become __*_chk; the code uses snprintf and memcpy.
	[[ "$output" == *__snprintf_chk* ]]
	[[ "$output" == *__memcpy_chk* ]]
}

@test "hardening: -fcf-protection -- functions start with endbr64 (x86-64)" {
	[ "$(uname -m)" = x86_64 ] || skip "CET is x86-64 only"
	command -v objdump >/dev/null || skip "objdump (binutils) is not installed"
	run objdump -d --no-show-raw-insn "$POP3"
	# The first instruction of main is an indirect-branch landing pad.
	printf '%s\n' "$output" | grep -A1 '<main>:$' | grep -q endbr64
}

@test "hardening: CFLAGS and LDFLAGS given to make replace the defaults" {
	run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -s -n -B -C "$REPO" CFLAGS="-O1" LDFLAGS="-Wl,--as-needed" pop3-stdio
	[ "$status" -eq 0 ]
	compile=$(printf '%s\n' "$output" | grep -- ' -c -o build/release/auth.o ')
	[[ "$compile" == *" -O1 "* ]]
	[[ "$compile" != *FORTIFY* ]]
	[[ "$compile" == *-Werror* ]] # the warnings are not optional
	link=$(printf '%s\n' "$output" | grep -- ' -o pop3-stdio ')
	[[ "$link" == *--as-needed* ]]
	[[ "$link" != *relro* ]]
}

# Both compilers, each in a scratch copy so the tree's objects are untouched.
build_with() {
	command -v "$1" >/dev/null || skip "$1 is not installed"
	local dir
	dir=$(mktemp -d /tmp/pop3-build.XXXXXX)
	cp "$REPO"/*.c "$REPO"/*.h "$REPO/Makefile" "$dir/"
	# A make of its own: under `make check` the jobserver flags would
	# make it print a warning of its own.
	run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$dir" -j2 CC="$1" pop3-stdio
	rm -rf "$dir"
	[ "$status" -eq 0 ]
	[[ "$output" != *": warning:"* ]]
}

@test "hardening: gcc builds the sources with -Wall -Wextra -Werror, no warning" {
	build_with gcc
}

@test "hardening: clang builds the sources with -Wall -Wextra -Werror, no warning" {
	build_with clang
}
