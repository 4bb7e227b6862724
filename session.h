/*
 * One POP3 session as the dispatcher (pop3-stdio.c) and the command
 * handlers of each state (authorization.c, transaction.c) share it.
 * Nothing outside those files and reply.c looks inside.
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailbox.h"
#include "netio.h"
#include "params.h"
#include "pop3-stdio.h"

/* RFC 1939 3: the states a command may be given in (a bit mask). */
enum pop3_state { STATE_AUTHORIZATION = 1, STATE_TRANSACTION = 2 };
#define BOTH_STATES (STATE_AUTHORIZATION | STATE_TRANSACTION)

/* What a handler wants to happen next. */
enum next { NEXT_COMMAND, NEXT_LOGGED_IN, NEXT_CLOSE };

/* A command's arguments, checked against its shape before the handler
 * sees them (pop3-stdio.c). */
struct args {
	const char *text;
	size_t text_len;
	bool spaced; /* a space followed the keyword */
	bool has_message;
	size_t message; /* 0-based */
	uint64_t lines;
};

struct session;
/* Every command handler: the session and its checked arguments. */
typedef enum next command_handler(struct session *s, const struct args *a);

struct session {
	const struct config *config;
	enum pop3_state state;
	login_checker check;
	login_refuser refuse; /* NULL: refusals are only counted here */
	void *check_context;
	/* The command on the line before, if it was accepted and run; NULL
	 * after a refused or unreadable line (RFC 1939: PASS must follow
	 * a USER). */
	command_handler *previous;
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

#endif
