/*
 * The AUTHORIZATION state: USER/PASS and AUTH PLAIN.  Every login, good
 * or bad, goes through login() to the session's checker; every failure
 * through login_failed(), so that all of them look alike to the client.
 */
#include "authorization.h"

#include <string.h>
#include <strings.h>

#include "auth.h"
#include "reply.h"
#include "sasl.h"

/* Every failed login ends here, whatever its reason, so that the client
 * sees the same line for all of them (RFC 3206 [AUTH]). */
static enum next login_failed(struct session *s, enum login_verdict v)
{
	if (v == LOGIN_TEMPFAIL) {
		reply_err(s, "SYS/TEMP", "cannot check logins now, try again later");
		s->end_reason = "login check unavailable";
		return NEXT_CLOSE;
	}
	if (++s->failures >= MAX_LOGIN_FAILURES) {
		reply_err(s, "AUTH", "authentication failed; too many failures, closing");
		s->end_reason = "too many login failures";
		return NEXT_CLOSE;
	}
	reply_err(s, "AUTH", "authentication failed");
	return NEXT_COMMAND;
}

static enum next login(struct session *s, const char *user, size_t user_len,
		       char *password, size_t password_len)
{
	enum login_verdict v =
	    s->check(s->check_context, user, user_len, password, password_len);

	auth_wipe(password, password_len);
	if (v != LOGIN_ACCEPTED)
		return login_failed(s, v);
	memcpy(s->user, user, user_len);
	s->user[user_len] = '\0';
	s->user_len = user_len;
	return NEXT_LOGGED_IN;
}

/* An attempt that fails before any credentials can be checked (a garbled
 * AUTH PLAIN response) is still reported to the parent, which waits,
 * logs and counts it like a wrong password: no free or faster guesses. */
static enum next login_refused(struct session *s, enum login_refusal why)
{
	enum login_verdict v =
	    s->refuse ? s->refuse(s->check_context, why) : LOGIN_REJECTED;

	return login_failed(s, v == LOGIN_ACCEPTED ? LOGIN_TEMPFAIL : v);
}

enum next cmd_user(struct session *s, const struct args *a)
{
	/* It fits: params.h asserts that a command line is no longer. */
	memcpy(s->user, a->text, a->text_len);
	s->user[a->text_len] = '\0';
	s->user_len = a->text_len;
	/* The same answer for every name: USER reveals nothing. */
	reply_ok(s, "send PASS");
	return NEXT_COMMAND;
}

enum next cmd_pass(struct session *s, const struct args *a)
{
	char password[MAX_COMMAND_LINE];
	enum next next;

	if (s->previous != cmd_user) {
		reply_err(s, NULL, "USER first");
		return NEXT_COMMAND;
	}
	/* One PASS per USER (RFC 1939 7): after a failure, USER again (the
	 * dispatcher records this PASS as the previous command).  The
	 * password is the rest of the line, spaces and all. */
	memcpy(password, a->text, a->text_len);
	password[a->text_len] = '\0';
	next = login(s, s->user, s->user_len, password, a->text_len);
	auth_wipe(password, sizeof(password));
	return next;
}

enum sasl_read { SASL_GOT, SASL_TOO_LONG, SASL_CLOSED };

/* RFC 5034 4: an empty challenge "+ ", then one line from the client. */
static enum sasl_read read_sasl_response(struct session *s, char *line,
					 size_t *len)
{
	session_trace(s, "S:", "+ ", 2);
	netio_write(&s->io, "+ \r\n", 4);
	switch (netio_read_line(&s->io, line, MAX_SASL_LINE, len)) {
	case LINE_OK:
		session_trace(s, "C:", "********", 8);
		return SASL_GOT;
	case LINE_TOO_LONG:
		session_trace(s, "C:", "(line too long)", 15);
		return SASL_TOO_LONG;
	case LINE_EOF:
	case LINE_TIMEOUT:
	case LINE_IO_ERROR:
		break;
	}
	s->end_reason = "connection lost during AUTH";
	return SASL_CLOSED;
}

/* AUTH with no argument lists the mechanisms, as Outlook and others
 * expect from servers that predate RFC 5034's CAPA-only discovery. */
static enum next list_mechanisms(struct session *s)
{
	reply_ok(s, "supported mechanisms follow");
	reply_data(s, "PLAIN");
	reply_end(s);
	return NEXT_COMMAND;
}

static enum next plain_login(struct session *s, const char *response,
			     size_t len)
{
	struct plain_credentials creds;
	enum next next;

	/* RFC 5034 4: "*" cancels with -ERR.  It carries no credentials, so
	 * it is no guess to slow down or count; the idle timeout bounds a
	 * client that only ever cancels. */
	if (len == 1 && response[0] == '*') {
		reply_err(s, NULL, "authentication cancelled");
		return NEXT_COMMAND;
	}
	if (!sasl_plain_parse(response, len, &creds)) {
		auth_wipe(&creds, sizeof(creds));
		return login_refused(s, REFUSED_BAD_AUTH_RESPONSE);
	}
	next = login(s, creds.user, creds.user_len, creds.password,
		     creds.password_len);
	auth_wipe(&creds, sizeof(creds));
	return next;
}

enum next cmd_auth(struct session *s, const struct args *a)
{
	char line[MAX_SASL_LINE + 1];
	size_t len;

	if (!a->text)
		return list_mechanisms(s);
	const char *space = memchr(a->text, ' ', a->text_len);
	size_t mech_len = space ? (size_t)(space - a->text) : a->text_len;
	if (!sasl_mechanism_supported(a->text, mech_len)) {
		reply_err(s, NULL, "unsupported authentication mechanism");
		return NEXT_COMMAND;
	}
	if (space) /* RFC 5034 4: initial response on the command line */
		return plain_login(s, space + 1, a->text_len - mech_len - 1);
	switch (read_sasl_response(s, line, &len)) {
	case SASL_GOT:
		break;
	case SASL_TOO_LONG:
		return login_refused(s, REFUSED_AUTH_TOO_LONG);
	case SASL_CLOSED:
		return NEXT_CLOSE;
	}
	enum next next = plain_login(s, line, len);
	auth_wipe(line, sizeof(line));
	return next;
}
