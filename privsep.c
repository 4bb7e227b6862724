/*
 * Privilege separation.  See privsep.h.
 *
 * Child to parent:  'L' u16 user_len, user, u16 password_len, password
 *                   'F' u8 why, an attempt it refused (enum login_refusal)
 *                   'H' u32 len, the client input read but not yet used
 *                   'A' u8 family (0 unknown, 4, 6), 16 octets of source
 *                       address, u16 source port: the client a trusted
 *                       proxy named, sent first when there is one
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
#include "params.h"

enum { MSG_LOGIN = 'L', MSG_REFUSED = 'F', MSG_HAND_OVER = 'H',
       MSG_CLIENT = 'A' };
enum { CLIENT_MSG_SIZE = 1 + 1 + 16 + 2 };
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

static enum login_verdict read_verdict(int channel)
{
	unsigned char verdict;

	if (!read_full(channel, &verdict, 1))
		return LOGIN_TEMPFAIL;
	if (verdict == VERDICT_YES)
		return LOGIN_ACCEPTED;
	return verdict == VERDICT_NO ? LOGIN_REJECTED : LOGIN_TEMPFAIL;
}

enum login_verdict privsep_ask(int channel, const char *user, size_t user_len,
			       const char *password, size_t password_len)
{
	unsigned char msg[1 + 2 + MAX_USER_NAME + 2 + MAX_PASSWORD];
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
	return sent ? read_verdict(channel) : LOGIN_TEMPFAIL;
}

enum login_verdict privsep_refuse(int channel, enum login_refusal why)
{
	unsigned char msg[2] = { MSG_REFUSED, (unsigned char)why };

	if (!write_full(channel, msg, sizeof(msg)))
		return LOGIN_TEMPFAIL;
	enum login_verdict v = read_verdict(channel);
	return v == LOGIN_ACCEPTED ? LOGIN_TEMPFAIL : v;
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

bool privsep_tell_client(int channel, const struct proxy_header *h)
{
	unsigned char msg[CLIENT_MSG_SIZE] = { MSG_CLIENT };

	msg[1] = h->family == AF_INET ? 4 : h->family == AF_INET6 ? 6 : 0;
	memcpy(msg + 2, h->src, 16);
	put_u16(msg + 18, h->src_port);
	return write_full(channel, msg, sizeof(msg));
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
	char buf[INPUT_BUFFER]; /* no more than the pre-login process's input */

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

/* A failed login is answered `seconds` after its request arrived, or when
 * its check ended if that was later.  Checks differ in length (an external
 * checker runs for some failures only, never for a blocked user): counted
 * from the request, the answers of every kind of failure leave alike. */
static void answer_at(const struct timespec *arrived, unsigned seconds)
{
	struct timespec when = *arrived;

	when.tv_sec += (time_t)seconds;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &when, NULL) == EINTR)
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

/* A failure's line ends in "; client ADDRESS", the last thing on it: the
 * name before it is log-safe but may hold "; client 1.2.3.4", so a reader
 * (fail2ban) takes the address anchored at the end of the line. */
static void log_failure(const char *name, const char *reason,
			const char *client)
{
	syslog(LOG_NOTICE, "login failed: user %s: %s; client %s", name,
	       reason, client);
}

static void log_outcome(const struct login_request *req,
			enum auth_outcome outcome, const char *client)
{
	char name[LOG_SAFE_SIZE(MAX_LOGGED_TEXT)];

	log_safe(req->user, req->user_len, name, sizeof(name));
	if (outcome == AUTH_OK)
		syslog(LOG_INFO, "login: user %s", name);
	else
		log_failure(name, auth_outcome_text(outcome), client);
}

/* A login to check: reads it, checks it, logs it; false when the request
 * was malformed. */
static bool answer_login(int channel, const struct auth_config *config,
			 const char *client, struct account *account,
			 unsigned char *verdict)
{
	struct login_request req;
	bool ok = read_request(channel, &req);

	if (ok) {
		enum auth_outcome outcome =
		    auth_check(config, req.user, req.user_len, req.password,
			       req.password_len, account);
		log_outcome(&req, outcome, client);
		*verdict = outcome == AUTH_OK		 ? VERDICT_YES
			   : outcome == AUTH_SYSTEM_ERROR ? VERDICT_TEMP
							  : VERDICT_NO;
	}
	auth_wipe(&req, sizeof(req));
	return ok;
}

static const char *refusal_text(unsigned char why)
{
	switch (why) {
	case REFUSED_BAD_AUTH_RESPONSE:
		return "invalid AUTH PLAIN response";
	case REFUSED_AUTH_TOO_LONG:
		return "AUTH response too long";
	}
	return NULL;
}

/* An attempt the child refused has no name to log: "(no name)" stands in,
 * and cannot be taken for a user's (no valid name has a space). */
static bool answer_refusal(int channel, const char *client,
			   unsigned char *verdict)
{
	unsigned char why;
	const char *reason = read_full(channel, &why, 1) ? refusal_text(why) : NULL;

	if (!reason)
		return false;
	log_failure("(no name)", reason, client);
	*verdict = VERDICT_NO;
	return true;
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

bool privsep_hear_client(int channel, pid_t child, struct proxy_header *h,
			 int *exit_status)
{
	unsigned char msg[CLIENT_MSG_SIZE];

	if (!read_full(channel, msg, 1)) {
		*exit_status = wait_for_child(child);
		return false;
	}
	if (msg[0] != MSG_CLIENT || !read_full(channel, msg + 1, sizeof(msg) - 1) ||
	    (msg[1] != 0 && msg[1] != 4 && msg[1] != 6))
		return violation(child, exit_status, "malformed client address");
	memset(h, 0, sizeof(*h));
	h->family = msg[1] == 4 ? AF_INET : msg[1] == 6 ? AF_INET6 : AF_UNSPEC;
	memcpy(h->src, msg + 2, 16);
	h->src_port = (uint16_t)(msg[18] | msg[19] << 8);
	return true;
}

/* After a login: the child's unread input comes over, and it ends. */
static bool take_over(int channel, pid_t child, struct netio *io,
		      int *exit_status)
{
	unsigned char yes = VERDICT_YES;

	if (!write_full(channel, &yes, 1) || !receive_hand_over(channel, io))
		return violation(child, exit_status, "hand-over failed");
	*exit_status = wait_for_child(child);
	return *exit_status == 0;
}

bool privsep_serve(int channel, pid_t child, const struct auth_config *config,
		   unsigned fail_delay, const char *client,
		   struct account *account, struct netio *io, int *exit_status)
{
	unsigned failures = 0;

	for (;;) {
		unsigned char type, verdict;
		struct timespec arrived;
		if (!read_full(channel, &type, 1)) {
			*exit_status = wait_for_child(child);
			return false;
		}
		/* Cannot fail on Linux; if it did, the epoch is long past and
		 * the answer leaves at once. */
		if (clock_gettime(CLOCK_MONOTONIC, &arrived) != 0)
			arrived = (struct timespec){ 0, 0 };
		if ((type != MSG_LOGIN && type != MSG_REFUSED) ||
		    failures >= MAX_LOGIN_FAILURES)
			return violation(child, exit_status, "unexpected request");
		bool ok = type == MSG_LOGIN
			      ? answer_login(channel, config, client, account,
					     &verdict)
			      : answer_refusal(channel, client, &verdict);
		if (!ok)
			return violation(child, exit_status, "malformed request");
		if (verdict == VERDICT_YES)
			return take_over(channel, child, io, exit_status);
		/* Every failure, whatever its kind, waits and counts alike. */
		failures++;
		answer_at(&arrived, fail_delay);
		if (!write_full(channel, &verdict, 1)) {
			*exit_status = wait_for_child(child);
			return false;
		}
	}
}
