/*
 * Fuzz target: the command-line parser and the session state machine.
 *
 * The input is everything a client sends, written into a pipe whose write
 * end is then closed: the session reads it all, then sees end of input,
 * so no input can make it wait for the idle timeout.  Logins are decided
 * by a stand-in checker (alice/secret gets the fixture maildrop, bob has
 * none, carol's is not an mbox, "temp" cannot be checked now), so the
 * fuzzer reaches TRANSACTION and UPDATE with a two-line password.  The
 * maildrop is rewritten before every input: QUIT may have deleted mail.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>

#include "fuzz.h"
#include "pop3-stdio.h"

static const char fixture[] =
    "From alice@example.com Mon Nov 23 10:00:00 2026\n"
    "Subject: one\n"
    "X-UIDL: first-id\n"
    "\n"
    "body one\n"
    ".a line with a dot\n"
    "\n"
    "From bob@example.com Mon Nov 23 10:01:00 2026\r\n"
    "Subject: two\r\n"
    "\r\n"
    "line 1\r\n"
    ">From quoted\r\n"
    "\r\n"
    "From carol@example.com Mon Nov 23 10:02:00 2026\n"
    "Subject: three, no final newline\n"
    "\n"
    "last";

static struct config config;
static char alice_mbox[128];
static int client_out = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char spool[96], state[96], carol[128];
	const char *dir = fuzz_scratch_dir();

	(void)argc;
	(void)argv;
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	if (mkdir(spool, 0700) != 0 || mkdir(state, 0700) != 0)
		abort();
	snprintf(alice_mbox, sizeof(alice_mbox), "%s/alice", spool);
	snprintf(carol, sizeof(carol), "%s/carol", spool);
	fuzz_write_file(carol, "not an mbox\n", 12);
	config = (struct config){ .spool_dir = spool, .state_dir = state,
				  .timeout = 5, .fail_delay = 0 };
	client_out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (client_out < 0)
		abort();
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static bool is(const char *s, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(s, want, len) == 0;
}

static enum login_verdict check(void *context, const char *user,
				size_t user_len, const char *password,
				size_t password_len)
{
	(void)context;
	FUZZ_CHECK(user_len <= MAX_USER_NAME && password_len <= MAX_PASSWORD);
	if (is(user, user_len, "temp"))
		return LOGIN_TEMPFAIL;
	if (!is(password, password_len, "secret"))
		return LOGIN_REJECTED;
	if (is(user, user_len, "alice") || is(user, user_len, "bob") ||
	    is(user, user_len, "carol"))
		return LOGIN_ACCEPTED;
	return LOGIN_REJECTED;
}

/* A pipe holding the whole input (cut at the pipe's capacity), its write
 * end closed.  Returns the read end. */
static int client_input(const uint8_t *data, size_t size)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) != 0)
		abort();
	(void)fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	(void)fcntl(p[1], F_SETFL, O_NONBLOCK);
	while (size > 0) {
		ssize_t n = write(p[1], data, size);
		if (n <= 0)
			break; /* full: the rest is cut off, never waited for */
		data += n;
		size -= (size_t)n;
	}
	close(p[1]);
	return p[0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_write_file(alice_mbox, fixture, sizeof(fixture) - 1);
	int in = client_input(data, size);
	int status = pop3_run_in_process(&config, in, client_out, check, NULL);
	FUZZ_CHECK(status == 0 || status == 1);
	close(in);
	return 0;
}
