/*
 * pop3-stdio: start-up, and the POP3 session state machine with its
 * command table and dispatcher.
 *
 *   AUTHORIZATION --USER/PASS or AUTH PLAIN--> TRANSACTION --QUIT--> UPDATE
 *
 * The AUTHORIZATION state runs in an unprivileged child (privsep.c); the
 * parent checks the login, becomes the user and runs TRANSACTION.  Both
 * halves share one command table and one dispatcher; the commands of each
 * state are in authorization.c and transaction.c.
 */
#include "pop3-stdio.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
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
#include "authorization.h"
#include "fileio.h"
#include "logtext.h"
#include "mailbox.h"
#include "number.h"
#include "params.h"
#include "peer.h"
#include "reply.h"
#include "sasl.h"
#include "session.h"
#include "statedir.h"
#include "transaction.h"

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

/* How much of a command line the --debug trace shows. */
enum trace_shape {
	TRACE_ALL,       /* the whole line */
	TRACE_KEYWORD,   /* the keyword only: the arguments are secret */
	TRACE_MECHANISM, /* also a supported SASL mechanism named first */
};

struct command {
	const char *name;
	command_handler *handler;
	unsigned states;
	enum arg_shape shape;
	enum trace_shape trace;
};

/* ---- the command table ---- */

static enum next cmd_capa(struct session *s, const struct args *a)
{
	(void)a;
	reply_ok(s, "capability list follows");
	reply_data(s, "TOP");
	reply_data(s, "UIDL");
	if (s->state == STATE_AUTHORIZATION) {
		reply_data(s, "USER");
		reply_data(s, "SASL PLAIN");
	}
	reply_data(s, "RESP-CODES");
	if (s->state == STATE_AUTHORIZATION)
		reply_data(s, "AUTH-RESP-CODE");
	reply_data(s, "PIPELINING");
	reply_data(s, "IMPLEMENTATION %s", POP3_IMPLEMENTATION);
	reply_end(s);
	return NEXT_COMMAND;
}

/*
 * Every command the server knows.  A new command is registered in each of
 * these places, or a client, a reader or a test will miss it:
 *   - this table: keyword, handler (authorization.c or transaction.c, or
 *     here when it serves both states), states, argument shape, trace;
 *   - cmd_capa above, when RFC 2449 has a capability that advertises it;
 *   - man/pop3-stdio.8, the "Commands:" list in DESCRIPTION;
 *   - tests/fuzz/session.dict, so that the session fuzzer tries it;
 *   - a bats test driving it through the binary (tests/protocol.bats for
 *     the TRANSACTION commands, tests/auth.bats for logins).
 * The dispatcher below checks the state and the argument shape before the
 * handler runs; a handler keeps its own state in struct session, never in
 * the dispatcher.
 */
static const struct command commands[] = {
	{ "USER", cmd_user, STATE_AUTHORIZATION, ARG_NAME, TRACE_ALL },
	{ "PASS", cmd_pass, STATE_AUTHORIZATION, ARG_TEXT, TRACE_KEYWORD },
	{ "AUTH", cmd_auth, STATE_AUTHORIZATION, ARG_OPTIONAL_TEXT,
	  TRACE_MECHANISM },
	{ "CAPA", cmd_capa, BOTH_STATES, ARG_NONE, TRACE_ALL },
	{ "QUIT", cmd_quit, BOTH_STATES, ARG_NONE, TRACE_ALL },
	{ "STAT", cmd_stat, STATE_TRANSACTION, ARG_NONE, TRACE_ALL },
	{ "LIST", cmd_list, STATE_TRANSACTION, ARG_OPTIONAL_MESSAGE, TRACE_ALL },
	{ "RETR", cmd_retr, STATE_TRANSACTION, ARG_MESSAGE, TRACE_ALL },
	{ "DELE", cmd_dele, STATE_TRANSACTION, ARG_MESSAGE, TRACE_ALL },
	{ "NOOP", cmd_noop, STATE_TRANSACTION, ARG_NONE, TRACE_ALL },
	{ "RSET", cmd_rset, STATE_TRANSACTION, ARG_NONE, TRACE_ALL },
	{ "TOP", cmd_top, STATE_TRANSACTION, ARG_MESSAGE_LINES, TRACE_ALL },
	{ "UIDL", cmd_uidl, STATE_TRANSACTION, ARG_OPTIONAL_MESSAGE, TRACE_ALL },
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
		reply_err(s, NULL, "invalid message number");
		return false;
	}
	if (n < 1 || n > mailbox_count(s->mailbox)) {
		reply_err(s, NULL, "no such message");
		return false;
	}
	if (mailbox_is_deleted(s->mailbox, (size_t)n - 1)) {
		reply_err(s, NULL, "message already deleted");
		return false;
	}
	*msg = (size_t)n - 1;
	return true;
}

static const char top_usage[] = "TOP needs a message number and a line count";

/* The answer when a shape's required argument is missing; NULL where
 * there is none (nothing required). */
static const char *const missing_argument[] = {
	[ARG_TEXT] = "argument required",
	[ARG_NAME] = "argument required",
	[ARG_MESSAGE] = "message number required",
	[ARG_MESSAGE_LINES] = top_usage,
};

static bool top_arguments(struct session *s, struct args *a)
{
	const char *space = memchr(a->text, ' ', a->text_len);

	if (!space) {
		reply_err(s, NULL, top_usage);
		return false;
	}
	size_t first = (size_t)(space - a->text);
	if (!message_number(s, a->text, first, &a->message))
		return false;
	if (!parse_decimal(space + 1, a->text_len - first - 1, UINT64_MAX,
			   &a->lines)) {
		reply_err(s, NULL, "invalid line count");
		return false;
	}
	a->has_message = true;
	return true;
}

static bool check_arguments(struct session *s, enum arg_shape shape,
			    struct args *a)
{
	bool present = a->text_len > 0;
	/* "USER " names the empty user: answered like any name, then refused
	 * at PASS like every invalid one, and logged.  A bare "USER" lacks
	 * RFC 1939's required argument. */
	bool given = shape == ARG_NAME ? a->spaced : present;

	if (!given && missing_argument[shape]) {
		reply_err(s, NULL, missing_argument[shape]);
		return false;
	}
	switch (shape) {
	case ARG_NONE:
		if (present)
			reply_err(s, NULL, "no arguments expected");
		return !present;
	case ARG_NAME:
	case ARG_TEXT:
		return true;
	case ARG_OPTIONAL_TEXT:
		if (!present)
			a->text = NULL;
		return true;
	case ARG_MESSAGE:
	case ARG_OPTIONAL_MESSAGE:
		a->has_message = present &&
				 message_number(s, a->text, a->text_len, &a->message);
		return !present || a->has_message;
	case ARG_MESSAGE_LINES:
		return top_arguments(s, a);
	}
	return false;
}

/* RFC 1939 3: keywords are three or four characters. */
#define MAX_KEYWORD 4

/* How many bytes of the line the trace shows: a mechanism AUTH supports
 * (never a client's guess at one, which may be its credentials), only the
 * keyword of PASS, and only a keyword's worth of a line that names no
 * command, which may be a PASS gone wrong ("PASS\tpw", " PASS pw"). */
static size_t traced_length(const struct command *c, const char *line,
			    size_t len)
{
	if (!c)
		return len < MAX_KEYWORD ? len : MAX_KEYWORD;
	size_t keyword = strlen(c->name);
	if (c->trace == TRACE_ALL || len <= keyword)
		return len;
	if (c->trace == TRACE_MECHANISM) {
		const char *mech = line + keyword + 1;
		const char *end = memchr(mech, ' ', len - keyword - 1);
		size_t mech_len = end ? (size_t)(end - mech) : len - keyword - 1;
		if (sasl_mechanism_supported(mech, mech_len))
			return keyword + 1 + mech_len;
	}
	return keyword;
}

static void trace_command(const struct session *s, const struct command *c,
			  const char *line, size_t len)
{
	char masked[MAX_COMMAND_LINE + sizeof(" ********")];
	size_t shown = traced_length(c, line, len);

	if (shown >= len) {
		session_trace(s, "C:", line, len);
		return;
	}
	/* A known keyword is shown as the table spells it. */
	memcpy(masked, line, shown);
	if (c)
		memcpy(masked, c->name, strlen(c->name));
	memcpy(masked + shown, " ********", 9);
	session_trace(s, "C:", masked, shown + 9);
}

/* The handler a command line asks for, once the line, the state and the
 * arguments pass every check; NULL after answering why not. */
static command_handler *accepted_command(struct session *s,
					  const struct command *c, char *line,
					  size_t len, struct args *a)
{
	/* A NUL would cut "alice\0x" to "alice" past every later check. */
	if (has_control_bytes(line, len)) {
		reply_err(s, NULL, "control characters in command line");
		return NULL;
	}
	line[len] = '\0';
	if (!c) {
		reply_err(s, NULL, "unknown command");
		return NULL;
	}
	if (!(c->states & s->state)) {
		reply_err(s, NULL, "command not valid in this state");
		return NULL;
	}
	return check_arguments(s, c->shape, a) ? c->handler : NULL;
}

static enum next dispatch(struct session *s, char *line, size_t len)
{
	const char *space = memchr(line, ' ', len);
	size_t name_len = space ? (size_t)(space - line) : len;
	const struct command *c = find_command(line, name_len);
	struct args a = { .text = space ? space + 1 : line + len,
			  .text_len = space ? len - name_len - 1 : 0,
			  .spaced = space != NULL };

	trace_command(s, c, line, len);
	command_handler *handler = accepted_command(s, c, line, len, &a);
	enum next next = handler ? handler(s, &a) : NEXT_COMMAND;
	s->previous = handler;
	return next;
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
			/* It may have been a PASS or AUTH line. */
			auth_wipe(line, len + 1);
			if (next != NEXT_COMMAND)
				return next;
			if (s->io.write_failed) {
				s->end_reason = "client went away";
				return NEXT_CLOSE;
			}
			break;
		case LINE_TOO_LONG:
			session_trace(s, "C:", "(line too long)", 15);
			s->previous = NULL;
			reply_err(s, NULL, "command line too long");
			break;
		case LINE_EOF:
			s->end_reason = "client closed the connection";
			return NEXT_CLOSE;
		case LINE_TIMEOUT:
			s->end_reason = "idle timeout";
			reply_err(s, NULL, "disconnected for inactivity");
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
	char host[HOST_NAME_MAX + 1] = "localhost";

	if (gethostname(host, sizeof(host)) != 0)
		(void)snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			*p = '-';
	/* No <timestamp>: clients such as curl would then try APOP. */
	reply_ok(s, "%s POP3 server ready", host);
}

static enum next enter_transaction(struct session *s, const char *state_dir)
{
	char path[PATH_BUFFER];
	struct mailbox_config mc = { .path = path, .state_dir = state_dir };
	enum mbox_status st = MBOX_TEMPFAIL;

	if (join_path(path, sizeof(path), s->config->spool_dir, s->user))
		st = mailbox_open(&mc, &s->mailbox);
	switch (st) {
	case MBOX_OK:
		s->state = STATE_TRANSACTION;
		reply_ok(s, "maildrop has %zu messages (%" PRIu64 " octets)",
			 mailbox_live_count(s->mailbox), mailbox_live_octets(s->mailbox));
		return NEXT_COMMAND;
	case MBOX_IN_USE:
		reply_err(s, "IN-USE", "maildrop is in use by another POP3 session");
		s->end_reason = "maildrop in use";
		return NEXT_CLOSE;
	case MBOX_PERMFAIL:
		reply_err(s, "SYS/PERM", "maildrop cannot be used; ask the administrator");
		s->end_reason = "maildrop unusable";
		return NEXT_CLOSE;
	default:
		reply_err(s, "SYS/TEMP", "maildrop unavailable; try again later");
		s->end_reason = "maildrop unavailable";
		return NEXT_CLOSE;
	}
}

static int end_session(struct session *s)
{
	netio_flush(&s->io);
	if (s->state == STATE_TRANSACTION) {
		char name[LOG_SAFE_SIZE(MAX_LOGGED_TEXT)];
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

/* Behind a trusted proxy the connection opens with its PROXY header, read
 * here, unprivileged, with the strictness of a command line: anything
 * wrong and the connection ends before a greeting.  What follows the
 * header in the same read stays buffered: it is the client's. */
static bool read_proxy_header(struct session *s, int channel,
			      const char *proxy)
{
	char line[PROXY_V1_MAX_OCTETS];
	struct proxy_header h;
	const char *why = NULL;
	size_t len = 0;

	switch (netio_read_header(&s->io, line, sizeof(line), &len,
				  PROXY_HEADER_TIMEOUT * 1000)) {
	case LINE_OK:
		session_trace(s, "C:", line, len);
		why = proxy_parse_v1(line, len, &h);
		break;
	case LINE_TOO_LONG: why = "no CRLF within 107 octets"; break;
	case LINE_EOF: why = "closed before a whole header"; break;
	case LINE_TIMEOUT: why = "no whole header in time"; break;
	case LINE_IO_ERROR: why = "read error"; break;
	}
	auth_wipe(line, sizeof(line));
	if (why) {
		syslog(LOG_NOTICE, "PROXY header from %s: %s; closing", proxy,
		       why);
		return false;
	}
	return privsep_tell_client(channel, &h);
}

/* proxy: the trusted proxy's address when the connection comes from one,
 * else NULL. */
static int run_prelogin(const struct config *config, int channel,
			const char *proxy)
{
	if (!auth_become_prelogin(config->prelogin_user, config->chroot_dir))
		return refuse_service();
	struct session *s = new_session(config, STDIN_FILENO, STDOUT_FILENO,
					ask_parent, &channel);
	if (!s)
		return 1;
	if (proxy && !read_proxy_header(s, channel, proxy)) {
		free(s);
		return 1;
	}
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

/* Behind a trusted proxy: the client its header named (read by the
 * pre-login process) replaces the proxy's address in client, the text
 * every later log line names; after UNKNOWN the proxy's address stays.
 * Then the connection line.  False when the pre-login process ended
 * instead (*status set). */
static bool hear_proxy_client(int channel, pid_t child, char *client,
			      size_t cap, int *status)
{
	char proxy[PEER_TEXT_SIZE], src[INET6_ADDRSTRLEN];
	struct proxy_header h;

	if (!privsep_hear_client(channel, child, &h, status))
		return false;
	if (h.family == AF_UNSPEC) {
		syslog(LOG_INFO, "connection from %s (proxy, client unknown)",
		       client);
		return true;
	}
	(void)snprintf(proxy, sizeof(proxy), "%s", client);
	(void)snprintf(client, cap, "%s", proxy_source_text(&h, src, sizeof(src)));
	syslog(LOG_INFO, "connection from %s port %u via proxy %s", client,
	       (unsigned)h.src_port, proxy);
	return true;
}

static int run_after_login(const struct config *config, int channel,
			   pid_t child, const char *client)
{
	struct auth_config ac = { .passwd_file = config->passwd_file,
				  .checkpassword = config->checkpassword,
				  .blocklist = config->blocklist,
				  .blocklist_named = config->blocklist_named,
				  .as_root = geteuid() == 0 };
	struct account acct;
	char state_dir[PATH_BUFFER];
	int status;
	struct session *s = new_session(config, STDIN_FILENO, STDOUT_FILENO,
					NULL, NULL);

	if (!s)
		return 1;
	find_prelogin_uid(config, &ac);
	if (!privsep_serve(channel, child, &ac, config->fail_delay, client, &acct,
			   &s->io, &status)) {
		free(s);
		return status;
	}
	close(channel);
	memcpy(s->user, acct.name, sizeof(s->user));
	s->user_len = strlen(acct.name);
	statedir_prepare(config->state_dir, config->spool_dir, &acct, state_dir,
			 sizeof(state_dir));
	if (!auth_become(&acct)) {
		reply_err(s, "SYS/TEMP", "server error");
		return end_session(s);
	}
	if (state_dir[0] && !statedir_ready(state_dir))
		state_dir[0] = '\0';
	auth_wipe(&acct, sizeof(acct));
	return serve_transaction(s, state_dir[0] ? state_dir : NULL);
}

/* ---- start-up ---- */

/* Whether fd 0's own end is a socket file (see unix_socket_has_file). */
static bool on_unix_socket_file(void)
{
	struct sockaddr_storage own = { 0 };
	socklen_t len = sizeof(own);

	return getsockname(STDIN_FILENO, (struct sockaddr *)&own, &len) == 0 &&
	       unix_socket_has_file((struct sockaddr *)&own, len);
}

/* Whether fd 0's peer is one of the trusted proxies. */
static bool behind_trusted_proxy(const struct trusted_proxies *list)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);

	if (list->count == 0 ||
	    getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &len) != 0 ||
	    !trusted_proxies_match(list, (struct sockaddr *)&ss, len))
		return false;
	return ss.ss_family != AF_UNIX || on_unix_socket_file();
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


#ifndef POP3_NO_MAIN
int main(int argc, char **argv)
{
	struct config config;
	char client[PEER_TEXT_SIZE];
	int channel;

	int status = parse_options(argc, argv, &config);
	if (status >= 0)
		return status;
	prepare_process(&config);
	/* Found once: every line that names the client uses this text --
	 * behind a trusted proxy, once its header has named the client. */
	peer_address(client, sizeof(client));
	bool proxied = behind_trusted_proxy(&config.trusted_proxies);
	if (!proxied)
		syslog(LOG_INFO, "connection from %s", client);
	pid_t child = privsep_fork(&channel);
	if (child < 0) {
		syslog(LOG_ERR, "fork: %m");
		return refuse_service();
	}
	if (child == 0)
		return run_prelogin(&config, channel, proxied ? client : NULL);
	if (proxied &&
	    !hear_proxy_client(channel, child, client, sizeof(client), &status))
		return status;
	return run_after_login(&config, channel, child, client);
}
#endif
