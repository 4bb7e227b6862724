/*
 * Privilege separation.  See privsep.h.
 *
 * Child to parent:  'L' u16 user_len, user, u16 password_len, password
 *                   'H' u32 len, the client input read but not yet used
 * Parent to child:  'Y' accepted, 'N' rejected, 'T' cannot check now
 * Integers are little-endian.  Lengths are checked against the limits
 * before anything is read into a buffer.
 */
#include "privsep.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "logtext.h"

enum { MSG_LOGIN = 'L', MSG_HAND_OVER = 'H' };
enum { VERDICT_YES = 'Y', VERDICT_NO = 'N', VERDICT_TEMP = 'T' };

struct login_request {
	size_t user_len;
	size_t password_len;
	char user[MAX_USER_NAME + 1];
	char password[MAX_PASSWORD + 1];
};

pid_t privsep_fork(int *channel)
{
	int pair[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(pair[0]);
		close(pair[1]);
		return -1;
	}
	close(pid == 0 ? pair[0] : pair[1]);
	*channel = pid == 0 ? pair[1] : pair[0];
	return pid;
}

/* ---- child side ---- */

static void put_u16(unsigned char *p, size_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

enum login_verdict privsep_ask(int channel, const char *user, size_t user_len,
			       const char *password, size_t password_len)
{
	unsigned char msg[1 + 2 + MAX_USER_NAME + 2 + MAX_PASSWORD];
	unsigned char verdict;
	size_t n = 0;

	if (user_len > MAX_USER_NAME || password_len > MAX_PASSWORD)
		return LOGIN_REJECTED;
	msg[n++] = MSG_LOGIN;
	put_u16(msg + n, user_len);
	memcpy(msg + n + 2, user, user_len);
	n += 2 + user_len;
	put_u16(msg + n, password_len);
	memcpy(msg + n + 2, password, password_len);
	n += 2 + password_len;
	bool sent = write_full(channel, msg, n);
	auth_wipe(msg, sizeof(msg));
	if (!sent || !read_full(channel, &verdict, 1))
		return LOGIN_TEMPFAIL;
	if (verdict == VERDICT_YES)
		return LOGIN_ACCEPTED;
	return verdict == VERDICT_NO ? LOGIN_REJECTED : LOGIN_TEMPFAIL;
}

bool privsep_hand_over(int channel, struct netio *io)
{
	const char *pending;
	size_t len = netio_pending(io, &pending);
	unsigned char head[5] = { MSG_HAND_OVER, (unsigned char)len,
				  (unsigned char)(len >> 8),
				  (unsigned char)(len >> 16),
				  (unsigned char)(len >> 24) };

	if (!netio_flush(io))
		return false;
	return write_full(channel, head, sizeof(head)) &&
	       write_full(channel, pending, len);
}

/* ---- parent side ---- */

static bool read_field(int channel, char *buf, size_t max, size_t *len)
{
	unsigned char n[2];

	if (!read_full(channel, n, 2))
		return false;
	*len = (size_t)n[0] | (size_t)n[1] << 8;
	if (*len > max || !read_full(channel, buf, *len))
		return false;
	buf[*len] = '\0';
	return true;
}

static bool read_request(int channel, struct login_request *req)
{
	return read_field(channel, req->user, MAX_USER_NAME, &req->user_len) &&
	       read_field(channel, req->password, MAX_PASSWORD,
			  &req->password_len);
}

static bool receive_hand_over(int channel, struct netio *io)
{
	unsigned char head[5];
	char buf[IO_BLOCK];

	if (!read_full(channel, head, sizeof(head)) || head[0] != MSG_HAND_OVER)
		return false;
	size_t len = (size_t)head[1] | (size_t)head[2] << 8 |
		     (size_t)head[3] << 16 | (size_t)head[4] << 24;
	bool ok = len <= sizeof(buf) && read_full(channel, buf, len) &&
		  netio_preload(io, buf, len);
	/* Pipelined input can hold anything, even another PASS line. */
	auth_wipe(buf, sizeof(buf));
	return ok;
}

static void pause_seconds(unsigned seconds)
{
	struct timespec left = { (time_t)seconds, 0 };
	while (nanosleep(&left, &left) != 0 && errno == EINTR)
		;
}

static int wait_for_child(pid_t child)
{
	int status;

	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	syslog(LOG_ERR, "pre-login process ended by signal %d",
	       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return 1;
}

static void log_outcome(const struct login_request *req,
			enum auth_outcome outcome)
{
	char name[4 * 64 + 1];

	log_safe(req->user, req->user_len, name, sizeof(name));
	if (outcome == AUTH_OK)
		syslog(LOG_INFO, "login: user %s", name);
	else
		syslog(LOG_NOTICE, "login failed: user %s: %s", name,
		       auth_outcome_text(outcome));
}

/* A child that breaks the protocol is compromised or broken: end it. */
static bool violation(pid_t child, int *exit_status, const char *what)
{
	syslog(LOG_ERR, "pre-login process: %s; ending the session", what);
	kill(child, SIGKILL);
	wait_for_child(child);
	*exit_status = 1;
	return false;
}

bool privsep_serve(int channel, pid_t child, const struct auth_config *config,
		   unsigned fail_delay, struct account *account,
		   struct netio *io, int *exit_status)
{
	unsigned failures = 0;
	struct login_request req;

	for (;;) {
		unsigned char type;
		if (!read_full(channel, &type, 1)) {
			*exit_status = wait_for_child(child);
			return false;
		}
		if (type != MSG_LOGIN || failures >= MAX_LOGIN_FAILURES)
			return violation(child, exit_status, "unexpected request");
		if (!read_request(channel, &req)) {
			auth_wipe(&req, sizeof(req));
			return violation(child, exit_status, "malformed request");
		}
		enum auth_outcome outcome =
		    auth_check(config, req.user, req.user_len, req.password,
			       req.password_len, account);
		auth_wipe(req.password, sizeof(req.password));
		log_outcome(&req, outcome);
		if (outcome == AUTH_OK) {
			unsigned char yes = VERDICT_YES;
			if (!write_full(channel, &yes, 1) ||
			    !receive_hand_over(channel, io))
				return violation(child, exit_status,
						 "hand-over failed");
			*exit_status = wait_for_child(child);
			return *exit_status == 0;
		}
		failures++;
		pause_seconds(fail_delay);
		unsigned char no = outcome == AUTH_SYSTEM_ERROR ? VERDICT_TEMP
								 : VERDICT_NO;
		if (!write_full(channel, &no, 1)) {
			*exit_status = wait_for_child(child);
			return false;
		}
	}
}
