/*
 * An external password checker.  See checkpassword.h.
 *
 * The child reports a failure to start the checker (which step, errno)
 * over a close-on-exec pipe: after the checker has ended, an empty pipe
 * means it was executed, and only its exit status counts.
 */
#include "checkpassword.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <paths.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "params.h"

/* Descriptors are moved this high in the child before 0-3 are laid out,
 * so that no source is overwritten by another's target. */
#define HIGH_FD 10

/* Why the child could not execute the checker. */
enum start_step { STEP_SESSION, STEP_SIGNALS, STEP_FDS, STEP_DIR, STEP_EXEC };

struct start_failure {
	int step; /* enum start_step */
	int error; /* errno */
};

static const char *step_text(int step)
{
	switch (step) {
	case STEP_SESSION:
		return "setsid";
	case STEP_SIGNALS:
		return "signal set-up";
	case STEP_FDS:
		return "descriptor set-up";
	case STEP_DIR:
		return "chdir /";
	case STEP_EXEC:
		return "exec";
	}
	return "start";
}

/* ---- the child, between fork and exec: async-signal-safe calls only ---- */

/* What the superserver or this program ignored (SIGPIPE) stays ignored
 * across exec: the checker gets every default back, and no blocked signal. */
static bool default_signals(void)
{
	struct sigaction dfl;
	sigset_t none;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, &dfl, NULL) != 0 && errno != EINVAL)
			return false; /* EINVAL: SIGKILL, SIGSTOP, libc's own */
	return sigemptyset(&none) == 0 &&
	       sigprocmask(SIG_SETMASK, &none, NULL) == 0;
}

static int move_high(int fd)
{
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);
}

/* 0 from /dev/null, 1 and 2 to /dev/null, 3 the input; every other
 * descriptor (the client's connection, the log socket, the pre-login
 * channel) closes at exec. */
static bool lay_out_descriptors(int input)
{
	int in = move_high(input);
	int null_in = move_high(open(_PATH_DEVNULL, O_RDONLY | O_CLOEXEC));
	int null_out = move_high(open(_PATH_DEVNULL, O_WRONLY | O_CLOEXEC));

	if (in < 0 || null_in < 0 || null_out < 0)
		return false;
	/* dup2's copies are not close-on-exec: these four are inherited. */
	if (dup2(null_in, 0) != 0 || dup2(null_out, 1) != 1 ||
	    dup2(null_out, 2) != 2 || dup2(in, 3) != 3)
		return false;
	return close_range(4, ~0U, CLOSE_RANGE_CLOEXEC) == 0;
}

static void report_and_exit(int report, enum start_step step)
{
	struct start_failure failure = { (int)step, errno };

	/* Nothing more to do if this fails: the parent sees exit 127, and
	 * logs that instead. */
	if (write(report, &failure, sizeof(failure)) != (ssize_t)sizeof(failure))
		_exit(127);
	_exit(127);
}

__attribute__((noreturn)) static void run_checker(const char *prog, int input,
						  int report)
{
	char *const argv[] = { (char *)prog, (char *)CHECKPASSWORD_NEXT, NULL };
	char *const envp[] = { (char *)CHECKPASSWORD_ENV_PATH, NULL };

	report = move_high(report);
	if (report < 0)
		_exit(127);
	/* Its own process group, so that a hung checker is killed with
	 * whatever it started. */
	if (setsid() < 0)
		report_and_exit(report, STEP_SESSION);
	if (!default_signals())
		report_and_exit(report, STEP_SIGNALS);
	if (!lay_out_descriptors(input))
		report_and_exit(report, STEP_FDS);
	if (chdir("/") != 0)
		report_and_exit(report, STEP_DIR);
	execve(prog, argv, envp);
	report_and_exit(report, STEP_EXEC);
	_exit(127); /* not reached */
}

/* ---- the parent ---- */

/* Up to 512 bytes into an empty pipe: one write that does not block
 * (POSIX: PIPE_BUF is at least 512).  A checker that ends without reading
 * makes it fail with EPIPE, which is no error: its exit status decides. */
static bool send_input(int fd, const char *prog, const char *buf, size_t len)
{
	struct sigaction ignore, saved;
	bool ok = true;

	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	if (sigemptyset(&ignore.sa_mask) != 0 ||
	    sigaction(SIGPIPE, &ignore, &saved) != 0) {
		syslog(LOG_ERR, "checkpassword %s: sigaction: %m", prog);
		return false;
	}
	while (len > 0 && ok) {
		ssize_t n = write(fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EPIPE) {
			len = 0;
		} else if (n == 0 || errno != EINTR) {
			syslog(LOG_ERR, "checkpassword %s: write to it: %m", prog);
			ok = false;
		}
	}
	if (sigaction(SIGPIPE, &saved, NULL) != 0) {
		syslog(LOG_ERR, "checkpassword %s: sigaction: %m", prog);
		ok = false;
	}
	return ok;
}

static long long now_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux; if it did, time stands
	 * still and the waits below end at once. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(long ms)
{
	struct timespec left = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&left, &left) != 0 && errno == EINTR)
		;
}

/* Reaps pid.  False when it has not ended by deadline (or cannot be
 * waited for): the caller kills it.  Short naps, growing to 16 ms: a
 * quick checker is answered within a millisecond or two. */
static bool reap_by(pid_t pid, long long deadline, int *status)
{
	long nap = 1;

	for (;;) {
		pid_t got = waitpid(pid, status, WNOHANG);
		if (got == pid)
			return true;
		if (got < 0 && errno != EINTR) {
			syslog(LOG_ERR, "waitpid: %m");
			return false;
		}
		if (now_ms() >= deadline)
			return false;
		nap_ms(nap);
		nap = nap < 16 ? nap * 2 : 16;
	}
}

/* The checker and everything in its process group. */
static void kill_checker(pid_t pid)
{
	int status;

	if (kill(-pid, SIGKILL) != 0 && kill(pid, SIGKILL) != 0)
		syslog(LOG_ERR, "kill %ld: %m", (long)pid);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			syslog(LOG_ERR, "waitpid: %m");
			return;
		}
}

/* After the child has ended: did it ever become the checker? */
static bool started(int report, const char *prog)
{
	struct start_failure failure;
	ssize_t n;

	while ((n = read(report, &failure, sizeof(failure))) < 0 && errno == EINTR)
		;
	if (n == 0)
		return true;
	if (n == (ssize_t)sizeof(failure))
		syslog(LOG_ERR, "checkpassword %s: %s: %s", prog,
		       step_text(failure.step), strerror(failure.error));
	else
		syslog(LOG_ERR, "checkpassword %s: start report unreadable", prog);
	return false;
}

static enum checkpw_verdict verdict_of(int status, const char *prog)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return CHECKPW_ACCEPTED;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
		return CHECKPW_REJECTED;
	if (WIFEXITED(status))
		syslog(LOG_ERR, "checkpassword %s: exit status %d: temporary "
				"failure", prog, WEXITSTATUS(status));
	else
		syslog(LOG_ERR, "checkpassword %s: ended by signal %d", prog,
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return CHECKPW_TEMPFAIL;
}

/* The checker is running with input[0] as its descriptor 3. */
static enum checkpw_verdict converse(const char *prog, pid_t pid, int input,
				     int report, const char *data, size_t len)
{
	long long deadline = now_ms() + CHECKPASSWORD_TIMEOUT * 1000LL;
	int status;
	bool sent = send_input(input, prog, data, len);

	if (close(input) != 0) {
		syslog(LOG_ERR, "checkpassword %s: close: %m", prog);
		sent = false;
	}
	if (!sent) {
		kill_checker(pid);
		return CHECKPW_TEMPFAIL;
	}
	if (!reap_by(pid, deadline, &status)) {
		syslog(LOG_ERR, "checkpassword %s: no answer in %d s; killed",
		       prog, CHECKPASSWORD_TIMEOUT);
		kill_checker(pid);
		return CHECKPW_TEMPFAIL;
	}
	if (!started(report, prog))
		return CHECKPW_TEMPFAIL;
	return verdict_of(status, prog);
}

/* name NUL password NUL timestamp NUL, the timestamp empty (it is for
 * APOP-style challenges, which this server does not offer). */
static size_t pack_input(char *buf, const char *user, size_t user_len,
			 const char *password, size_t password_len)
{
	memcpy(buf, user, user_len);
	buf[user_len] = '\0';
	memcpy(buf + user_len + 1, password, password_len);
	buf[user_len + 1 + password_len] = '\0';
	buf[user_len + 2 + password_len] = '\0';
	return user_len + password_len + 3;
}

static void close_pair(int pair[2])
{
	/* Pipes we never wrote to: a failed close loses nothing. */
	(void)close(pair[0]);
	(void)close(pair[1]);
}

enum checkpw_verdict checkpassword_run(const char *prog, const char *user,
				       size_t user_len, const char *password,
				       size_t password_len)
{
	char data[CHECKPASSWORD_MAX_INPUT];
	int input[2], report[2];

	if (user_len > sizeof(data) || password_len > sizeof(data) - user_len ||
	    sizeof(data) - user_len - password_len < 3) {
		syslog(LOG_NOTICE, "checkpassword %s: name and password longer "
				   "than its %d bytes; not run", prog,
		       CHECKPASSWORD_MAX_INPUT);
		return CHECKPW_REJECTED;
	}
	if (pipe2(input, O_CLOEXEC) != 0) {
		syslog(LOG_ERR, "checkpassword %s: pipe: %m", prog);
		return CHECKPW_TEMPFAIL;
	}
	if (pipe2(report, O_CLOEXEC) != 0) {
		syslog(LOG_ERR, "checkpassword %s: pipe: %m", prog);
		close_pair(input);
		return CHECKPW_TEMPFAIL;
	}
	pid_t pid = fork();
	if (pid == 0)
		run_checker(prog, input[0], report[1]);
	if (pid < 0) {
		syslog(LOG_ERR, "checkpassword %s: fork: %m", prog);
		close_pair(input);
		close_pair(report);
		return CHECKPW_TEMPFAIL;
	}
	/* The child's ends: read-only or unwritten by us. */
	(void)close(input[0]);
	(void)close(report[1]);
	size_t len = pack_input(data, user, user_len, password, password_len);
	enum checkpw_verdict v = converse(prog, pid, input[1], report[0], data, len);
	explicit_bzero(data, sizeof(data));
	(void)close(report[0]);
	return v;
}
