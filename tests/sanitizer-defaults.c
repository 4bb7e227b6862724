/*
 * Linked into `make SANITIZE=1` programs only: defaults for the sanitizer
 * runtime, built in because the superservers the tests drive (xinetd,
 * systemd-socket-activate, stunnel) clear the environment, and with it
 * any ASAN_OPTIONS.  ASAN_OPTIONS, where it arrives, still overrides.
 *
 * detect_leaks=0: LeakSanitizer needs /proc, which a chrooted pre-login
 * process does not have: it would fail every --chroot session at exit.
 * Leaks are checked by valgrind (tests/valgrind.bats, release build) and
 * by the fuzzers (LeakSanitizer, in one process).
 */
const char *__asan_default_options(void);

const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}
