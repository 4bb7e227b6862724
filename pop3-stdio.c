/*
 * pop3-stdio: start-up, options, and the POP3 session state machine.
 *
 *   AUTHORIZATION --USER/PASS or AUTH PLAIN--> TRANSACTION --QUIT--> UPDATE
 *
 * The AUTHORIZATION state runs in an unprivileged child (privsep.c); the
 * parent checks the login, becomes the user and runs TRANSACTION.  Both
 * halves share one command table and one dispatcher.
 */
#include "pop3-stdio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "fileio.h"
#include "journal.h"
#include "logtext.h"
#include "mailbox.h"
#include "number.h"
#include "params.h"
#include "sasl.h"

enum pop3_state { STATE_AUTHORIZATION = 1, STATE_TRANSACTION = 2 };
#define BOTH_STATES (STATE_AUTHORIZATION | STATE_TRANSACTION)

/* What a handler wants to happen next. */
enum next { NEXT_COMMAND, NEXT_LOGGED_IN, NEXT_CLOSE };

/* The argument shapes the dispatcher checks before calling a handler. */
enum arg_shape {
	ARG_NONE,
	ARG_TEXT,          /* the rest of the line, required */
	ARG_NAME,          /* the rest of the line after a space, maybe empty */
	ARG_OPTIONAL_TEXT,
	ARG_MESSAGE,       /* an existing, undeleted message number */
	ARG_OPTIONAL_MESSAGE,
	ARG_MESSAGE_LINES, /* TOP: message number, line count */
};

struct args {
	const char *text;
	size_t text_len;
	bool spaced; /* a space followed the keyword */
	bool has_message;
	size_t message; /* 0-based */
	uint64_t lines;
};

struct session {
	const struct config *config;
	enum pop3_state state;
	login_checker check;
	login_refuser refuse; /* NULL: refusals are only counted here */
	void *check_context;
	bool user_just_given; /* RFC 1939: PASS must follow a USER */
	char user[MAX_USER_NAME + 1];
	size_t user_len;
	unsigned failures;
	struct mailbox *mailbox;
	uint64_t retrieved;
	uint64_t retrieved_octets;
	size_t deleted;
	int exit_status;
	const char *end_reason;
	struct netio io;
};

struct command {
	const char *name;
	enum next (*handler)(struct session *s, const struct args *a);
	unsigned states;
	enum arg_shape shape;
	bool secret; /* arguments never traced */
};

/* ---- responses ---- */

static void trace(const struct session *s, const char *who, const char *text,
		  size_t len)
{
	char safe[4 * MAX_SASL_LINE + 1], line[sizeof(safe) + 8];

	if (!s->config->debug)
		return;
	int n = snprintf(line, sizeof(line), "%s %s\n", who,
			 log_safe(text, len, safe, sizeof(safe)));
	/* The trace is best effort: a full stderr must not end the session. */
	if (n > 0 && !write_full(STDERR_FILENO, line, strlen(line)))
		return;
}

static void reply_line(struct session *s, const char *line, int formatted)
{
	/* RFC 2449 4: a first response line is at most 512 octets. */
	size_t len = formatted < 0 ? 0 : (size_t)formatted;
	if (len > MAX_RESPONSE_LINE - 2)
		len = MAX_RESPONSE_LINE - 2;
	trace(s, "S:", line, len);
	netio_write(&s->io, line, len);
	netio_write(&s->io, "\r\n", 2);
}

__attribute__((format(printf, 2, 3))) static void ok(struct session *s,
						      const char *fmt, ...)
{
	char line[MAX_RESPONSE_LINE];
	va_list ap;

	memcpy(line, "+OK ", 4);
	va_start(ap, fmt);
	int n = vsnprintf(line + 4, sizeof(line) - 4, fmt, ap);
	va_end(ap);
	reply_line(s, line, n < 0 ? n : n + 4);
}

/* code: an RFC 2449/3206 response code without brackets, or NULL. */
static void err(struct session *s, const char *code, const char *text)
{
	char line[MAX_RESPONSE_LINE];
	int n = code ? snprintf(line, sizeof(line), "-ERR [%s] %s", code, text)
		     : snprintf(line, sizeof(line), "-ERR %s", text);
	reply_line(s, line, n);
}

/* One line of a multi-line response; none of ours starts with ".". */
__attribute__((format(printf, 2, 3))) static void data_line(struct session *s,
							     const char *fmt,
							     ...)
{
	char line[MAX_RESPONSE_LINE];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	netio_write(&s->io, line, len);
	netio_write(&s->io, "\r\n", 2);
}

/* Decimal digits of v at out (room for 20); returns how many. */
static size_t format_decimal(uint64_t v, char *out)
{
	char digits[20];
	size_t d = 0, n = 0;

	do
		digits[d++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (d > 0)
		out[n++] = digits[--d];
	return n;
}

/* "<msg> <text>" as one listing line.  LIST and UIDL write one per message
 * of a maildrop that may hold a million, so no printf here. */
static void listing_line(struct session *s, size_t msg, const char *text,
			 size_t len)
{
	char line[20 + 1 + MAX_UIDL_LENGTH + 2];
	size_t n = format_decimal(msg, line);

	line[n++] = ' ';
	memcpy(line + n, text, len);
	n += len;
	line[n++] = '\r';
	line[n++] = '\n';
	netio_write(&s->io, line, n);
}

static void listing_size(struct session *s, size_t msg, uint64_t size)
{
	char text[20];
	size_t len = format_decimal(size, text);
	listing_line(s, msg, text, len);
}

static void end_multiline(struct session *s)
{
	netio_write(&s->io, ".\r\n", 3);
}

/* ---- AUTHORIZATION ---- */

/* Every failed login ends here, whatever its reason, so that the client
 * sees the same line for all of them (RFC 3206 [AUTH]). */
static enum next login_failed(struct session *s, enum login_verdict v)
{
	if (v == LOGIN_TEMPFAIL) {
		err(s, "SYS/TEMP", "cannot check logins now, try again later");
		s->end_reason = "login check unavailable";
		return NEXT_CLOSE;
	}
	if (++s->failures >= MAX_LOGIN_FAILURES) {
		err(s, "AUTH", "authentication failed; too many failures, closing");
		s->end_reason = "too many login failures";
		return NEXT_CLOSE;
	}
	err(s, "AUTH", "authentication failed");
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

static enum next cmd_user(struct session *s, const struct args *a)
{
	/* Longer names cannot fit the 255-octet line anyway. */
	memcpy(s->user, a->text, a->text_len);
	s->user[a->text_len] = '\0';
	s->user_len = a->text_len;
	s->user_just_given = true;
	/* The same answer for every name: USER reveals nothing. */
	ok(s, "send PASS");
	return NEXT_COMMAND;
}

static enum next cmd_pass(struct session *s, const struct args *a)
{
	char password[MAX_COMMAND_LINE];
	enum next next;

	if (!s->user_just_given) {
		err(s, NULL, "USER first");
		return NEXT_COMMAND;
	}
	/* One PASS per USER (RFC 1939 7): after a failure, USER again. */
	s->user_just_given = false;
	/* RFC 1939 7: the password is the rest of the line, spaces and all. */
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
	trace(s, "S:", "+ ", 2);
	netio_write(&s->io, "+ \r\n", 4);
	switch (netio_read_line(&s->io, line, MAX_SASL_LINE, len)) {
	case LINE_OK:
		trace(s, "C:", "********", 8);
		return SASL_GOT;
	case LINE_TOO_LONG:
		trace(s, "C:", "(line too long)", 15);
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
	ok(s, "supported mechanisms follow");
	data_line(s, "PLAIN");
	end_multiline(s);
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
		err(s, NULL, "authentication cancelled");
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

static enum next cmd_auth(struct session *s, const struct args *a)
{
	char line[MAX_SASL_LINE + 1];
	size_t len;

	if (!a->text)
		return list_mechanisms(s);
	const char *space = memchr(a->text, ' ', a->text_len);
	size_t mech_len = space ? (size_t)(space - a->text) : a->text_len;
	if (mech_len != 5 || strncasecmp(a->text, "PLAIN", 5) != 0) {
		err(s, NULL, "unsupported authentication mechanism");
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

static enum next cmd_capa(struct session *s, const struct args *a)
{
	(void)a;
	ok(s, "capability list follows");
	data_line(s, "TOP");
	data_line(s, "UIDL");
	if (s->state == STATE_AUTHORIZATION) {
		data_line(s, "USER");
		data_line(s, "SASL PLAIN");
	}
	data_line(s, "RESP-CODES");
	if (s->state == STATE_AUTHORIZATION)
		data_line(s, "AUTH-RESP-CODE");
	data_line(s, "PIPELINING");
	data_line(s, "IMPLEMENTATION %s", POP3_IMPLEMENTATION);
	end_multiline(s);
	return NEXT_COMMAND;
}

/* ---- TRANSACTION ---- */

static enum next cmd_stat(struct session *s, const struct args *a)
{
	(void)a;
	ok(s, "%zu %" PRIu64, mailbox_live_count(s->mailbox),
	   mailbox_live_octets(s->mailbox));
	return NEXT_COMMAND;
}

static enum next cmd_list(struct session *s, const struct args *a)
{
	struct mailbox *mb = s->mailbox;

	if (a->has_message) {
		ok(s, "%zu %" PRIu64, a->message + 1, mailbox_size(mb, a->message));
		return NEXT_COMMAND;
	}
	ok(s, "%zu messages (%" PRIu64 " octets)", mailbox_live_count(mb),
	   mailbox_live_octets(mb));
	for (size_t i = 0; i < mailbox_count(mb); i++)
		if (!mailbox_is_deleted(mb, i))
			listing_size(s, i + 1, mailbox_size(mb, i));
	end_multiline(s);
	return NEXT_COMMAND;
}

static enum next cmd_uidl(struct session *s, const struct args *a)
{
	struct mailbox *mb = s->mailbox;
	char id[MAX_UIDL_LENGTH + 1];

	if (a->has_message) {
		mailbox_uidl(mb, a->message, id);
		ok(s, "%zu %s", a->message + 1, id);
		return NEXT_COMMAND;
	}
	ok(s, "unique-id listing follows");
	for (size_t i = 0; i < mailbox_count(mb); i++) {
		if (mailbox_is_deleted(mb, i))
			continue;
		mailbox_uidl(mb, i, id);
		listing_line(s, i + 1, id, strlen(id));
	}
	end_multiline(s);
	return NEXT_COMMAND;
}

static enum next send_message(struct session *s, size_t msg, uint64_t lines,
			      const char *status)
{
	trace(s, "S:", status, strlen(status));
	switch (mailbox_send(s->mailbox, msg, lines, status, &s->io)) {
	case MBOX_OK:
		if (lines == UINT64_MAX) {
			s->retrieved++;
			s->retrieved_octets += mailbox_size(s->mailbox, msg);
		}
		return NEXT_COMMAND;
	case MBOX_CHANGED:
		err(s, "SYS/TEMP", "message unavailable: the maildrop was changed "
				   "by another program");
		return NEXT_COMMAND;
	case MBOX_GONE:
		s->end_reason = "client went away";
		return NEXT_CLOSE;
	default:
		s->end_reason = "read error while sending a message";
		return NEXT_CLOSE;
	}
}

static enum next cmd_retr(struct session *s, const struct args *a)
{
	char status[64];

	(void)snprintf(status, sizeof(status), "+OK %" PRIu64 " octets",
		 mailbox_size(s->mailbox, a->message));
	return send_message(s, a->message, UINT64_MAX, status);
}

static enum next cmd_top(struct session *s, const struct args *a)
{
	/* More lines than the message has is the whole message; UINT64_MAX
	 * is how the mailbox spells that. */
	return send_message(s, a->message, a->lines, "+OK top of message follows");
}

static enum next cmd_dele(struct session *s, const struct args *a)
{
	mailbox_delete(s->mailbox, a->message);
	ok(s, "message %zu deleted", a->message + 1);
	return NEXT_COMMAND;
}

static enum next cmd_noop(struct session *s, const struct args *a)
{
	(void)a;
	ok(s, "nothing done");
	return NEXT_COMMAND;
}

static enum next cmd_rset(struct session *s, const struct args *a)
{
	(void)a;
	mailbox_undelete_all(s->mailbox);
	ok(s, "maildrop has %zu messages (%" PRIu64 " octets)",
	   mailbox_live_count(s->mailbox), mailbox_live_octets(s->mailbox));
	return NEXT_COMMAND;
}

/* RFC 1939 6: the UPDATE state, entered only by QUIT from TRANSACTION. */
static enum next cmd_quit(struct session *s, const struct args *a)
{
	(void)a;
	s->end_reason = "QUIT";
	if (s->state == STATE_AUTHORIZATION) {
		ok(s, "bye");
		s->exit_status = 0;
		return NEXT_CLOSE;
	}
	size_t marked = mailbox_count(s->mailbox) - mailbox_live_count(s->mailbox);
	switch (mailbox_update(s->mailbox)) {
	case MBOX_OK:
		s->deleted = marked;
		s->exit_status = 0;
		ok(s, "bye, %zu messages deleted, %zu left", marked,
		   mailbox_live_count(s->mailbox));
		break;
	case MBOX_CHANGED:
		err(s, "SYS/TEMP", "the maildrop was changed by another program; "
				   "nothing deleted, try again");
		break;
	case MBOX_PERMFAIL:
		err(s, "SYS/PERM", "the maildrop cannot be updated; nothing deleted");
		break;
	case MBOX_UNFINISHED:
		err(s, "SYS/TEMP", "the update was interrupted by an I/O error; it "
				   "will be completed at the next login");
		break;
	default:
		err(s, "SYS/TEMP", "the maildrop could not be updated; try again "
				   "later");
		break;
	}
	return NEXT_CLOSE;
}

static const struct command commands[] = {
	{ "USER", cmd_user, STATE_AUTHORIZATION, ARG_NAME, false },
	{ "PASS", cmd_pass, STATE_AUTHORIZATION, ARG_TEXT, true },
	{ "AUTH", cmd_auth, STATE_AUTHORIZATION, ARG_OPTIONAL_TEXT, true },
	{ "CAPA", cmd_capa, BOTH_STATES, ARG_NONE, false },
	{ "QUIT", cmd_quit, BOTH_STATES, ARG_NONE, false },
	{ "STAT", cmd_stat, STATE_TRANSACTION, ARG_NONE, false },
	{ "LIST", cmd_list, STATE_TRANSACTION, ARG_OPTIONAL_MESSAGE, false },
	{ "RETR", cmd_retr, STATE_TRANSACTION, ARG_MESSAGE, false },
	{ "DELE", cmd_dele, STATE_TRANSACTION, ARG_MESSAGE, false },
	{ "NOOP", cmd_noop, STATE_TRANSACTION, ARG_NONE, false },
	{ "RSET", cmd_rset, STATE_TRANSACTION, ARG_NONE, false },
	{ "TOP", cmd_top, STATE_TRANSACTION, ARG_MESSAGE_LINES, false },
	{ "UIDL", cmd_uidl, STATE_TRANSACTION, ARG_OPTIONAL_MESSAGE, false },
};

/* ---- the dispatcher ---- */

static const struct command *find_command(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		if (strlen(commands[i].name) == len &&
		    strncasecmp(commands[i].name, name, len) == 0)
			return &commands[i];
	return NULL;
}

static bool has_control_bytes(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] == 0x7f)
			return true;
	return false;
}

/* Digits only, 1..count, and not deleted (RFC 1939 5). */
static bool message_number(struct session *s, const char *text, size_t len,
			   size_t *msg)
{
	uint64_t n;

	if (!parse_decimal(text, len, UINT64_MAX, &n)) {
		err(s, NULL, "invalid message number");
		return false;
	}
	if (n < 1 || n > mailbox_count(s->mailbox)) {
		err(s, NULL, "no such message");
		return false;
	}
	if (mailbox_is_deleted(s->mailbox, (size_t)n - 1)) {
		err(s, NULL, "message already deleted");
		return false;
	}
	*msg = (size_t)n - 1;
	return true;
}

static bool top_arguments(struct session *s, struct args *a)
{
	const char *space = memchr(a->text, ' ', a->text_len);

	if (!space) {
		err(s, NULL, "TOP needs a message number and a line count");
		return false;
	}
	size_t first = (size_t)(space - a->text);
	if (!message_number(s, a->text, first, &a->message))
		return false;
	if (!parse_decimal(space + 1, a->text_len - first - 1, UINT64_MAX,
			   &a->lines)) {
		err(s, NULL, "invalid line count");
		return false;
	}
	a->has_message = true;
	return true;
}

static bool check_arguments(struct session *s, enum arg_shape shape,
			    struct args *a)
{
	bool present = a->text_len > 0;

	switch (shape) {
	case ARG_NONE:
		if (present)
			err(s, NULL, "no arguments expected");
		return !present;
	case ARG_NAME:
		/* "USER " names the empty user: answered like any name, then
		 * refused at PASS like every invalid one, and logged (issue 2).
		 * A bare "USER" lacks RFC 1939's required argument. */
		if (!a->spaced)
			err(s, NULL, "argument required");
		return a->spaced;
	case ARG_TEXT:
		if (!present)
			err(s, NULL, "argument required");
		return present;
	case ARG_OPTIONAL_TEXT:
		if (!present)
			a->text = NULL;
		return true;
	case ARG_OPTIONAL_MESSAGE:
		if (!present)
			return true;
		a->has_message = message_number(s, a->text, a->text_len, &a->message);
		return a->has_message;
	case ARG_MESSAGE:
		if (!present) {
			err(s, NULL, "message number required");
			return false;
		}
		a->has_message = message_number(s, a->text, a->text_len, &a->message);
		return a->has_message;
	case ARG_MESSAGE_LINES:
		if (!present) {
			err(s, NULL, "TOP needs a message number and a line count");
			return false;
		}
		return top_arguments(s, a);
	}
	return false;
}

static void trace_command(const struct session *s, const struct command *c,
			  const char *line, size_t len)
{
	char masked[8 + sizeof(" ********")];

	if (c && !c->secret) {
		trace(s, "C:", line, len);
		return;
	}
	/* PASS and AUTH arguments are never traced; nor is the rest of a line
	 * that names no command, which may be a PASS gone wrong ("PASS\tpw",
	 * " PASS pw"): only a keyword's worth of it is shown. */
	const char *word = c ? c->name : line;
	size_t word_len = c ? strlen(c->name) : len < 4 ? len : 4;
	if (len <= word_len) {
		trace(s, "C:", line, len);
		return;
	}
	memcpy(masked, word, word_len);
	memcpy(masked + word_len, " ********", 9);
	trace(s, "C:", masked, word_len + 9);
}

static enum next dispatch(struct session *s, char *line, size_t len)
{
	bool user_just_given = s->user_just_given;
	const char *space = memchr(line, ' ', len);
	size_t name_len = space ? (size_t)(space - line) : len;
	const struct command *c = find_command(line, name_len);
	struct args a = { .text = space ? space + 1 : line + len,
			  .text_len = space ? len - name_len - 1 : 0,
			  .spaced = space != NULL };

	trace_command(s, c, line, len);
	s->user_just_given = false;
	/* A NUL would cut "alice\0x" to "alice" past every later check. */
	if (has_control_bytes(line, len)) {
		err(s, NULL, "control characters in command line");
		return NEXT_COMMAND;
	}
	line[len] = '\0';
	if (!c) {
		err(s, NULL, "unknown command");
		return NEXT_COMMAND;
	}
	if (!(c->states & s->state)) {
		err(s, NULL, "command not valid in this state");
		return NEXT_COMMAND;
	}
	if (!check_arguments(s, c->shape, &a))
		return NEXT_COMMAND;
	/* Only a PASS right after USER may use the name. */
	s->user_just_given = user_just_given && c->handler == cmd_pass;
	return c->handler(s, &a);
}

static enum next run_commands(struct session *s)
{
	char line[MAX_COMMAND_LINE + 1];
	size_t len;

	for (;;) {
		enum next next;
		switch (netio_read_line(&s->io, line, MAX_COMMAND_LINE, &len)) {
		case LINE_OK:
			next = dispatch(s, line, len);
			/* It may have been a PASS or AUTH line (issue 5). */
			auth_wipe(line, len + 1);
			if (next != NEXT_COMMAND)
				return next;
			if (s->io.write_failed) {
				s->end_reason = "client went away";
				return NEXT_CLOSE;
			}
			break;
		case LINE_TOO_LONG:
			trace(s, "C:", "(line too long)", 15);
			s->user_just_given = false;
			err(s, NULL, "command line too long");
			break;
		case LINE_EOF:
			s->end_reason = "client closed the connection";
			return NEXT_CLOSE;
		case LINE_TIMEOUT:
			s->end_reason = "idle timeout";
			err(s, NULL, "disconnected for inactivity");
			return NEXT_CLOSE;
		case LINE_IO_ERROR:
			s->end_reason = "connection error";
			return NEXT_CLOSE;
		}
	}
}

/* ---- sessions ---- */

static struct session *new_session(const struct config *config, int in_fd,
				   int out_fd, login_checker check,
				   void *context)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->config = config;
	s->state = STATE_AUTHORIZATION;
	s->check = check;
	s->check_context = context;
	s->exit_status = 1;
	s->end_reason = "unknown";
	netio_init(&s->io, in_fd, out_fd, (int)config->timeout);
	return s;
}

static void greet(struct session *s)
{
	char host[256] = "localhost";

	if (gethostname(host, sizeof(host)) != 0)
		(void)snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			*p = '-';
	/* No <timestamp>: clients such as curl would then try APOP. */
	ok(s, "%s POP3 server ready", host);
}

static enum next enter_transaction(struct session *s, const char *state_dir)
{
	char path[4096];
	struct mailbox_config mc = { .path = path, .state_dir = state_dir };
	enum mbox_status st = MBOX_TEMPFAIL;

	if (join_path(path, sizeof(path), s->config->spool_dir, s->user))
		st = mailbox_open(&mc, &s->mailbox);
	switch (st) {
	case MBOX_OK:
		s->state = STATE_TRANSACTION;
		ok(s, "maildrop has %zu messages (%" PRIu64 " octets)",
		   mailbox_live_count(s->mailbox), mailbox_live_octets(s->mailbox));
		return NEXT_COMMAND;
	case MBOX_IN_USE:
		err(s, "IN-USE", "maildrop is in use by another POP3 session");
		s->end_reason = "maildrop in use";
		return NEXT_CLOSE;
	case MBOX_PERMFAIL:
		err(s, "SYS/PERM", "maildrop cannot be used; ask the administrator");
		s->end_reason = "maildrop unusable";
		return NEXT_CLOSE;
	default:
		err(s, "SYS/TEMP", "maildrop unavailable; try again later");
		s->end_reason = "maildrop unavailable";
		return NEXT_CLOSE;
	}
}

static int end_session(struct session *s)
{
	netio_flush(&s->io);
	if (s->state == STATE_TRANSACTION) {
		char name[4 * 64 + 1];
		syslog(LOG_INFO,
		       "session end: user %s: %s; retrieved %" PRIu64
		       " messages (%" PRIu64 " octets), deleted %zu",
		       log_safe(s->user, s->user_len, name, sizeof(name)),
		       s->end_reason, s->retrieved, s->retrieved_octets,
		       s->deleted);
	}
	int status = s->exit_status;
	mailbox_close(s->mailbox);
	free(s);
	return status;
}

static int serve_transaction(struct session *s, const char *state_dir)
{
	if (enter_transaction(s, state_dir) == NEXT_COMMAND)
		run_commands(s);
	return end_session(s);
}

int pop3_run_in_process(const struct config *config, int in_fd, int out_fd,
			login_checker check, void *context)
{
	struct session *s = new_session(config, in_fd, out_fd, check, context);

	if (!s)
		return 1;
	greet(s);
	if (run_commands(s) != NEXT_LOGGED_IN)
		return end_session(s);
	return serve_transaction(s, config->state_dir);
}

/* ---- where the journal lives ---- */

/* <base>/<user>, new or left by an earlier session, made the user's:
 * never one that belongs to somebody else. */
static bool claim_user_dir(int base_fd, const char *base,
			   const struct account *acct)
{
	struct stat st;

	if (mkdirat(base_fd, acct->name, 0700) != 0 && errno != EEXIST)
		return false;
	int user = openat(base_fd, acct->name,
			  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (user < 0)
		return false;
	bool usable = fstat(user, &st) == 0;
	if (usable && st.st_uid != 0 && st.st_uid != acct->uid) {
		syslog(LOG_WARNING, "%s/%s: belongs to uid %lu, not the user",
		       base, acct->name, (unsigned long)st.st_uid);
		errno = EPERM;
		usable = false;
	}
	usable = usable && fchown(user, acct->uid, acct->gid) == 0 &&
		 fchmod(user, 0700) == 0;
	close(user);
	return usable;
}

/* Root creates <base>/<user> for the user before giving up root: the
 * user could not create it in a root-owned base.  Everything is opened
 * relative to directory descriptors with O_NOFOLLOW, so a symlink planted
 * in the path leads nowhere. */
static bool make_user_dir_as_root(const char *base, const struct account *acct)
{
	struct stat st;

	/* 0711: users may pass through to their own directory, not list. */
	if (mkdir(base, 0711) == 0 ? chmod(base, 0711) != 0 : errno != EEXIST)
		return false;
	int dir = open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return false;
	bool usable = fstat(dir, &st) == 0;
	/* Whoever else can write the base could swap a user's journal. */
	if (usable && (st.st_uid != 0 || (st.st_mode & 022))) {
		syslog(LOG_WARNING, "%s: not used for state: it must be owned by "
		       "root and writable by nobody else", base);
		errno = EPERM;
		usable = false;
	}
	usable = usable && claim_user_dir(dir, base, acct);
	close(dir);
	return usable;
}

/* Without root: <spool>/.pop3-stdio when the spool is ours, else
 * ~/.pop3-stdio; NULL when there is no such place. */
static const char *own_state_base(const struct config *config,
				  const struct account *acct, char *buf,
				  size_t cap)
{
	struct stat st;

	if (stat(config->spool_dir, &st) == 0 && st.st_uid == geteuid() &&
	    join_path(buf, cap, config->spool_dir, ".pop3-stdio"))
		return buf;
	const char *home = acct->home[0] ? acct->home : NULL;
	struct passwd *pw = home ? NULL : getpwuid(geteuid());
	if (!home && pw)
		home = pw->pw_dir;
	if (home && home[0] == '/' && join_path(buf, cap, home, ".pop3-stdio"))
		return buf;
	return NULL;
}

/* Picks and prepares the user's state directory; out is empty when the
 * user has none (deletions are then refused rather than done unsafely). */
static void prepare_state_dir(const struct config *config,
			      const struct account *acct, char *out, size_t cap)
{
	char buf[4096];
	const char *base = config->state_dir;
	bool root = geteuid() == 0;

	out[0] = '\0';
	if (!base && root)
		base = DEFAULT_STATE_DIR;
	if (!base)
		base = own_state_base(config, acct, buf, sizeof(buf));
	if (!base || !join_path(out, cap, base, acct->name))
		goto none;
	if (root ? !make_user_dir_as_root(base, acct)
		 : (mkdir(base, 0700) != 0 && errno != EEXIST))
		goto none;
	return;
none:
	syslog(LOG_WARNING, "user %s: no usable state directory (%s): %m",
	       acct->name, base ? base : "none");
	out[0] = '\0';
}

/* ---- the two processes ---- */

/* Before a session exists: one fixed line, then the exit. */
static int refuse_service(void)
{
	static const char msg[] = "-ERR [SYS/TEMP] server error\r\n";

	if (!write_full(STDOUT_FILENO, msg, sizeof(msg) - 1))
		syslog(LOG_ERR, "write to client: %m");
	return 1;
}

static enum login_verdict ask_parent(void *context, const char *user,
				     size_t user_len, const char *password,
				     size_t password_len)
{
	return privsep_ask(*(int *)context, user, user_len, password,
			   password_len);
}

static enum login_verdict tell_parent(void *context, enum login_refusal why)
{
	return privsep_refuse(*(int *)context, why);
}

static int run_prelogin(const struct config *config, int channel)
{
	if (!auth_become_prelogin(config->prelogin_user, config->chroot_dir))
		return refuse_service();
	struct session *s = new_session(config, STDIN_FILENO, STDOUT_FILENO,
					ask_parent, &channel);
	if (!s)
		return 1;
	s->refuse = tell_parent;
	greet(s);
	if (run_commands(s) != NEXT_LOGGED_IN)
		return end_session(s);
	bool handed = privsep_hand_over(channel, &s->io);
	free(s);
	return handed ? 0 : 1;
}

/* Which uid the pre-login process runs as, so that no login is served
 * with it; not found, that process refuses service before any login. */
static void find_prelogin_uid(const struct config *config,
			      struct auth_config *ac)
{
	struct passwd *pw = ac->as_root ? getpwnam(config->prelogin_user) : NULL;

	ac->has_prelogin_uid = pw != NULL;
	ac->prelogin_uid = pw ? pw->pw_uid : 0;
}

static int run_after_login(const struct config *config, int channel,
			   pid_t child)
{
	struct auth_config ac = { .passwd_file = config->passwd_file,
				  .blocklist = config->blocklist,
				  .blocklist_named = config->blocklist_named,
				  .as_root = geteuid() == 0 };
	struct account acct;
	char state_dir[4096];
	int status;
	struct session *s = new_session(config, STDIN_FILENO, STDOUT_FILENO,
					NULL, NULL);

	if (!s)
		return 1;
	find_prelogin_uid(config, &ac);
	if (!privsep_serve(channel, child, &ac, config->fail_delay, &acct, &s->io,
			   &status)) {
		free(s);
		return status;
	}
	close(channel);
	memcpy(s->user, acct.name, sizeof(s->user));
	s->user_len = strlen(acct.name);
	prepare_state_dir(config, &acct, state_dir, sizeof(state_dir));
	if (!auth_become(&acct)) {
		err(s, "SYS/TEMP", "server error");
		return end_session(s);
	}
	if (state_dir[0] && !journal_prepare_dir(state_dir))
		state_dir[0] = '\0';
	auth_wipe(&acct, sizeof(acct));
	return serve_transaction(s, state_dir[0] ? state_dir : NULL);
}

/* ---- start-up ---- */

/* The client's address when fd 0 is an IP socket, else NULL. */
static const char *socket_peer(char *buf, socklen_t cap)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);

	if (getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &len) != 0)
		return NULL;
	if (ss.ss_family == AF_INET)
		return inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
				 buf, cap);
	if (ss.ss_family == AF_INET6)
		return inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
				 buf, cap);
	return NULL;
}

static void log_connection(void)
{
	char addr[INET6_ADDRSTRLEN], safe[4 * 64 + 1];
	const char *from = socket_peer(addr, sizeof(addr));

	/* systemd, tcpserver, xinetd and stunnel name the peer in the
	 * environment; it is only logged, and made safe for that. */
	const char *vars[] = { "REMOTE_ADDR", "TCPREMOTEIP", "REMOTE_HOST" };
	for (size_t i = 0; !from && i < sizeof(vars) / sizeof(*vars); i++)
		from = getenv(vars[i]);
	if (!from)
		from = "local";
	syslog(LOG_INFO, "connection from %s",
	       log_safe(from, strnlen(from, 64), safe, sizeof(safe)));
}

/* Each response batch leaves in one write; without Nagle's delay it is
 * not held back waiting for an ACK the client delays (RFC 1122 4.2.3.4). */
static void set_no_delay(int fd)
{
	int on = 1, type;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	    type == SOCK_STREAM)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

static void prepare_process(const struct config *config)
{
	struct rlimit none = { 0, 0 };

	/* A core dump could hold passwords or someone's mail. */
	setrlimit(RLIMIT_CORE, &none);
	/* A vanished client is a write error, a file-size limit an EFBIG:
	 * both are handled where they happen, not by dying mid-update. */
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGXFSZ, SIG_IGN);
	umask(077);
	tzset();
	/* With --debug the log lines also go to stderr, beside the trace. */
	openlog("pop3-stdio", LOG_PID | LOG_NDELAY | (config->debug ? LOG_PERROR : 0),
		LOG_MAIL);
	set_no_delay(STDIN_FILENO);
	set_no_delay(STDOUT_FILENO);
}

/* ---- options ---- */

enum { OPT_FAIL_DELAY = 256, OPT_STATE_DIR, OPT_PRELOGIN_USER, OPT_CHROOT };

static const struct option long_options[] = {
	{ "spool", required_argument, NULL, 's' },
	{ "passwd", required_argument, NULL, 'p' },
	{ "blocklist", required_argument, NULL, 'b' },
	{ "timeout", required_argument, NULL, 't' },
	{ "fail-delay", required_argument, NULL, OPT_FAIL_DELAY },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "cache-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "prelogin-user", required_argument, NULL, OPT_PRELOGIN_USER },
	{ "chroot", required_argument, NULL, OPT_CHROOT },
	{ "debug", no_argument, NULL, 'd' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char usage[] =
    "usage: pop3-stdio [OPTIONS]   (the client is on stdin/stdout)\n"
    "  -s, --spool=DIR        maildrop of user U is the mbox DIR/U "
    "(default " DEFAULT_SPOOL_DIR ")\n"
    "  -p, --passwd=FILE      virtual users, name:crypt-hash[:uid:gid] "
    "(default: system accounts)\n"
    "  -b, --blocklist=FILE   blocked users (default " DEFAULT_BLOCKLIST ")\n"
    "  -t, --timeout=SECS     idle timeout (default 600)\n"
    "      --fail-delay=SECS  pause before a failed login's answer "
    "(default 2)\n"
    "      --state-dir=DIR    per-user update journal under DIR/<user> "
    "(alias --cache-dir)\n"
    "      --prelogin-user=U  account for the pre-login dialogue when root "
    "(default " DEFAULT_PRELOGIN_USER ")\n"
    "      --chroot=DIR       empty directory for the pre-login dialogue "
    "(default " DEFAULT_CHROOT_DIR ")\n"
    "  -d, --debug            protocol trace on stderr, passwords masked\n"
    "  -V, --version          print the version and exit\n"
    "  -h, --help             print this help and exit\n";

/* One line on stderr naming the problem, and exit status 2. */
static int usage_error(const char *problem, const char *subject)
{
	/* Nothing better to do when stderr itself fails: the status says it. */
	(void)fprintf(stderr, "pop3-stdio: %s '%s' (try --help)\n", problem,
		      subject);
	return 2;
}

static bool seconds_value(const char *text, unsigned max, unsigned *out)
{
	uint64_t v;
	if (!parse_decimal(text, strlen(text), max, &v))
		return false;
	*out = (unsigned)v;
	return true;
}

static int print_and_exit(const char *text)
{
	if (fputs(text, stdout) == EOF || fflush(stdout) == EOF)
		return 1;
	return 0;
}

static int apply_option(int opt, const char *arg, struct config *c)
{
	switch (opt) {
	case 's': c->spool_dir = arg; break;
	case 'p': c->passwd_file = arg; break;
	case 'b':
		c->blocklist = arg;
		c->blocklist_named = true;
		break;
	case 't':
		if (!seconds_value(arg, MAX_TIMEOUT_SECONDS, &c->timeout) ||
		    c->timeout == 0)
			return usage_error("invalid value for --timeout:", arg);
		break;
	case OPT_FAIL_DELAY:
		if (!seconds_value(arg, MAX_FAIL_DELAY_SECONDS, &c->fail_delay))
			return usage_error("invalid value for --fail-delay:", arg);
		break;
	case OPT_STATE_DIR: c->state_dir = arg; break;
	case OPT_PRELOGIN_USER: c->prelogin_user = arg; break;
	case OPT_CHROOT: c->chroot_dir = arg; break;
	case 'd': c->debug = true; break;
	case 'V': return print_and_exit("pop3-stdio " POP3_VERSION "\n");
	case 'h': return print_and_exit(usage);
	}
	return -1;
}

int parse_options(int argc, char **argv, struct config *c)
{
	*c = (struct config){ .spool_dir = DEFAULT_SPOOL_DIR,
			      .blocklist = DEFAULT_BLOCKLIST,
			      .prelogin_user = DEFAULT_PRELOGIN_USER,
			      .chroot_dir = DEFAULT_CHROOT_DIR,
			      .timeout = DEFAULT_IDLE_TIMEOUT,
			      .fail_delay = DEFAULT_FAIL_DELAY };
	opterr = 0;
	for (;;) {
		int before = optind;
		int opt = getopt_long(argc, argv, ":s:p:b:t:dVh", long_options, NULL);
		if (opt == -1)
			break;
		const char *name = argv[before < argc ? before : argc - 1];
		if (opt == '?')
			return usage_error("unknown option", optopt ? argv[optind - 1] : name);
		if (opt == ':')
			return usage_error("missing value for option", argv[optind - 1]);
		int status = apply_option(opt, optarg, c);
		if (status >= 0)
			return status;
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	if (c->spool_dir[0] == '\0')
		return usage_error("invalid value for --spool:", c->spool_dir);
	return -1;
}

#ifndef POP3_NO_MAIN
int main(int argc, char **argv)
{
	struct config config;
	int channel;

	int status = parse_options(argc, argv, &config);
	if (status >= 0)
		return status;
	prepare_process(&config);
	log_connection();
	pid_t child = privsep_fork(&channel);
	if (child < 0) {
		syslog(LOG_ERR, "fork: %m");
		return refuse_service();
	}
	if (child == 0)
		return run_prelogin(&config, channel);
	return run_after_login(&config, channel, child);
}
#endif
