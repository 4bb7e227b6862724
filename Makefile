# pop3-stdio -- see README.md.
#
#   make                  ./pop3-stdio (hardened, -Wall -Wextra -Werror)
#   make check            every test (bats suites and C unit tests)
#   make check SANITIZE=1 the same with AddressSanitizer + UBSan
#   make install          PREFIX=/usr/local DESTDIR=
#   make deb              the Debian package, in build/deb/ (debian/)
#   make lint | fuzz | bench | clean

PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR = $(PREFIX)/sbin
MANDIR = $(PREFIX)/share/man
SHAREDIR = $(PREFIX)/share/pop3-stdio
# systemd looks here too (/usr/local/lib/systemd/system for the default).
SYSTEMDUNITDIR = $(PREFIX)/lib/systemd/system

CC ?= cc
BATS ?= bats

# Hardening is the default and may be replaced wholesale through CFLAGS /
# LDFLAGS (tests/hardening.bats checks the result).  -fcf-protection and
# -fstack-clash-protection only where the compiler has them for the target;
# -U first, for toolchains that predefine another _FORTIFY_SOURCE level.
compiler_has = $(shell $(CC) $(1) -Werror -c -x c /dev/null -o /dev/null 2>/dev/null && echo $(1))
CF_PROTECTION := $(call compiler_has,-fcf-protection)
STACK_CLASH := $(call compiler_has,-fstack-clash-protection)
CFLAGS ?= -O2 -g -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3 -fstack-protector-strong \
	-fPIE $(CF_PROTECTION) $(STACK_CLASH)
LDFLAGS ?= -pie -Wl,-z,relro,-z,now
# Always applied: the language, the warnings, the feature macros.
REQUIRED_CFLAGS = -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
LDLIBS = -lcrypt

# Each flavour compiles into its own directories, so a sanitizer build
# never mixes with the release objects.
FLAVOUR = release
BUILD = build/release
FAULT_BUILD = build/fault
ifeq ($(SANITIZE),1)
FLAVOUR = sanitize
BUILD = build/sanitize
FAULT_BUILD = build/sanitize-fault
CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
LDFLAGS = -fsanitize=address,undefined
# Runtime defaults built into sanitized programs (the file says why),
# compiled on the link line.
LDLIBS += tests/sanitizer-defaults.c
endif

SOURCES = pop3-stdio.c options.c reply.c authorization.c transaction.c statedir.c mailbox.c \
	mboxscan.c mboxindex.c wiretext.c journal.c uidl.c contenthash.c auth.c \
	blocklist.c checkpassword.c privsep.c netio.c sasl.c number.c fileio.c logtext.c peer.c fault.c \
	proxyproto.c
HEADERS = $(wildcard *.h)
OBJECTS = $(SOURCES:%.c=$(BUILD)/%.o)
FAULT_OBJECTS = $(SOURCES:%.c=$(FAULT_BUILD)/%.o)
LIB_SOURCES = $(filter-out pop3-stdio.c,$(SOURCES))

all: pop3-stdio

pop3-stdio: $(OBJECTS) build/flavour
	$(CC) $(LDFLAGS) -o $@ $(OBJECTS) $(LDLIBS)

$(BUILD)/%.o: %.c $(HEADERS) | $(BUILD)
	$(CC) $(CFLAGS) $(REQUIRED_CFLAGS) -c -o $@ $<

# The same program with crash points compiled in, for the kill tests.
tests/bin/pop3-stdio-fault: $(FAULT_OBJECTS) build/flavour | tests/bin
	$(CC) $(LDFLAGS) -o $@ $(FAULT_OBJECTS) $(LDLIBS)

$(FAULT_BUILD)/%.o: %.c $(HEADERS) | $(FAULT_BUILD)
	$(CC) $(CFLAGS) $(REQUIRED_CFLAGS) -DPOP3_FAULT_INJECTION -c -o $@ $<

# For the power-cut simulator (tests/powercut/powercut.py): the recorder
# preloaded into the unchanged server, and builds with one known mistake
# planted each (journal.c), which the simulator must catch.  Test-only.
POWERCUT_TOOLS = tests/bin/powercut-recorder.so \
	$(PLANTED_DEFECTS:%=tests/bin/pop3-stdio-planted-%)
PLANTED_DEFECTS = skip-journal-fsync skip-window-sync mark-after-cut
tests/bin/powercut-recorder.so: tests/powercut/recorder.c | tests/bin
	$(CC) -shared -fPIC -O2 -Wall -Wextra -Werror -o $@ $< -ldl
tests/bin/pop3-stdio-planted-%: $(SOURCES) $(HEADERS) build/flavour | tests/bin
	$(CC) $(CFLAGS) $(REQUIRED_CFLAGS) \
		-DPOP3_PLANTED_$$(echo $* | tr a-z- A-Z_) -o $@ $(SOURCES) \
		$(LDFLAGS) $(LDLIBS)

# Unit tests for the parsers, linked against the real modules.
UNIT_TESTS = $(patsubst tests/unit/%.c,tests/bin/%,$(wildcard tests/unit/*.c))
tests/bin/%: tests/unit/%.c $(LIB_SOURCES) $(HEADERS) build/flavour | tests/bin
	$(CC) $(CFLAGS) $(REQUIRED_CFLAGS) -I. -o $@ $< $(LIB_SOURCES) $(LDFLAGS) $(LDLIBS)

$(BUILD) $(FAULT_BUILD) tests/bin:
	mkdir -p $@

# ./pop3-stdio and the test programs keep their paths in every flavour;
# this file changes with the flavour, so they are relinked when it does.
build/flavour: FORCE
	@mkdir -p build
	@echo $(FLAVOUR) | cmp -s - $@ || echo $(FLAVOUR) >$@
FORCE:

# A sanitizer build skips the power-cut suite (its runtime must be loaded
# before the recorder): its tools are not built then.
ifneq ($(SANITIZE),1)
CHECK_TOOLS = $(POWERCUT_TOOLS)
endif
check: pop3-stdio tests/bin/pop3-stdio-fault $(UNIT_TESTS) $(CHECK_TOOLS)
	@for t in $(UNIT_TESTS); do echo "unit: $$t"; $$t || exit 1; done
	$(BATS) tests

# The quick part of check: the unit tests and the suites that need no
# root, network or other program (the Debian package's build runs it).
CHECK_FAST_SUITES = tests/smoke.bats tests/protocol.bats tests/mbox.bats \
	tests/uidl.bats tests/blocklist.bats tests/options.bats
check-fast: pop3-stdio $(UNIT_TESTS)
	@for t in $(UNIT_TESTS); do echo "unit: $$t"; $$t || exit 1; done
	$(BATS) $(CHECK_FAST_SUITES)

.PHONY: check-fast

# The whole power-cut simulation (tests/powercut/powercut.py): every case,
# at least 10,000 crash states; then each planted defect must be caught.
# Ends with "powercut: N crash states, F failed (seed S)" for the release
# build.  POWERCUT_SEED picks the sample, POWERCUT_SCALE=quick takes the
# small one of make check; POWERCUT_ARGS adds options (powercut.py -h).
POWERCUT_SEED ?= 1
PYTHON ?= $(firstword $(wildcard /usr/bin/python3) python3)
POWERCUT_SCALE ?= full
powercut: pop3-stdio $(POWERCUT_TOOLS)
	@for d in $(PLANTED_DEFECTS); do \
		$(PYTHON) tests/powercut/powercut.py --seed $(POWERCUT_SEED) \
			--server tests/bin/pop3-stdio-planted-$$d --label "planted $$d" \
			--expect-failures --show 2 || exit 1; \
	done
	$(PYTHON) tests/powercut/powercut.py --scale $(POWERCUT_SCALE) \
		--seed $(POWERCUT_SEED) \
		$(POWERCUT_ARGS)

.PHONY: powercut

# Side-by-side benchmark with popa3d, Dovecot and the machine's limits,
# then POP3S and POP3 with many clients at once (bench/README.md); needs
# root for the anchors.  Not part of check.
#   make bench BENCH_ARGS="--size S --runs 3" BENCH_TLS_ARGS="--runs 1"
bench: pop3-stdio
	bench/run $(BENCH_ARGS)
	bench/tls $(BENCH_TLS_ARGS)

.PHONY: bench

# Fuzzing with clang's libFuzzer (tests/fuzz/README.md): each target runs
# for FUZZ_SECONDS.  The code under test is instrumented for coverage; the
# targets' own checking code is not, so it costs no fuzzing speed.
# The crash points are compiled in (fault.h; without $$POP3_FAULT_KILL_AT
# they do nothing), and the update's windows may be as small as 64 bytes
# (params.h), so that small inputs reach the windowed update.
FUZZ_TARGETS = session mbox blocklist passwd sasl update proxy
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all \
	-fsanitize-ignorelist=tests/fuzz/known-issues.ignorelist \
	$(REQUIRED_CFLAGS) -DPOP3_NO_MAIN -DPOP3_FAULT_INJECTION -DMIN_WINDOW=64u -I.
FUZZ_OBJECTS = $(SOURCES:%.c=build/fuzz/%.o)
FUZZ_BINARIES = $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)

# With no main(), its helpers are unused.
build/fuzz/pop3-stdio.o: FUZZ_CFLAGS += -Wno-unused-function
build/fuzz/%.o: %.c $(HEADERS) tests/fuzz/known-issues.ignorelist | build/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
build/fuzz/fuzz_%.o: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(HEADERS) | build/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
build/fuzz/fuzz_%: build/fuzz/fuzz_%.o $(FUZZ_OBJECTS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJECTS) $(LDLIBS)
# fuzz_update brings its own fault_point(): the crash it simulates.
build/fuzz/fuzz_update: build/fuzz/fuzz_update.o $(filter-out build/fuzz/fault.o,$(FUZZ_OBJECTS))
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
build/fuzz:
	mkdir -p $@

fuzz: $(FUZZ_BINARIES)
	tests/fuzz/run $(FUZZ_SECONDS) build/fuzz $(FUZZ_TARGETS)

# Static analysis: cppcheck, and clang-tidy as .clang-tidy configures it.
# Any finding fails but those in tests/lint/known-findings (reported).
lint:
	tests/lint/run $(SOURCES)

.PHONY: fuzz lint
.SECONDARY: $(FUZZ_OBJECTS) $(FUZZ_BINARIES:%=%.o)

install: pop3-stdio
	install -d $(DESTDIR)$(SBINDIR)
	install -m 755 pop3-stdio $(DESTDIR)$(SBINDIR)/pop3-stdio
	# The man page and the xinetd, systemd, stunnel and tcpserver files,
	# with the installed paths written in.
	sh deploy/install-files "$(DESTDIR)" "$(SBINDIR)" "$(SHAREDIR)" \
		"$(SYSTEMDUNITDIR)" "$(MANDIR)"

# The Debian package, built with dpkg-buildpackage in a copy of this tree
# (its results would land in the parent directory, and its clean step would
# remove this tree's build): pop3-stdio_VERSION_ARCH.deb, the -dbgsym
# package, .buildinfo and .changes in build/deb/.
#   make deb DEB_BUILD_OPTIONS=nocheck    without make check-fast
deb:
	rm -rf build/deb
	mkdir -p build/deb/src
	tar -cf - --exclude=./build --exclude=./.git --exclude=./tests/bin \
		--exclude=./pop3-stdio . | tar -xf - -C build/deb/src
	cd build/deb/src && dpkg-buildpackage -us -uc -b
	rm -rf build/deb/src

clean:
	rm -rf build tests/bin pop3-stdio

.PHONY: all check install deb clean
