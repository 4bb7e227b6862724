/*
 * Privilege separation, after popa3d and qmail: the pre-login dialogue
 * runs in a child process that has given up every privilege before it
 * reads a byte from the client.  It asks the parent, over a socketpair,
 * to check credentials: one narrow, length-checked request.  The parent
 * (root when started as root) parses nothing from the client but that
 * request.  After a login it takes over the connection, with whatever
 * input the child had already read, and becomes the user for good.
 */
#ifndef PRIVSEP_H
#define PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "auth.h"
#include "netio.h"
#include "proxyproto.h"

enum login_verdict {
	LOGIN_ACCEPTED,
	LOGIN_REJECTED,
	LOGIN_TEMPFAIL, /* the server cannot check logins now */
};

/* Why the pre-login process refused a login attempt itself, having no
 * credentials to ask about; the values are the bytes on the socketpair. */
enum login_refusal {
	REFUSED_BAD_AUTH_RESPONSE = 'P', /* not a valid AUTH PLAIN message */
	REFUSED_AUTH_TOO_LONG = 'L',     /* AUTH response line over the limit */
};

/* Forks.  Returns the child's pid in the parent, 0 in the child, -1 on
 * error; *channel is this side's end of the socketpair. */
pid_t privsep_fork(int *channel);

/* Child side: asks the parent; the password is wiped by the caller. */
enum login_verdict privsep_ask(int channel, const char *user, size_t user_len,
			       const char *password, size_t password_len);
/* Child side: reports a refused attempt, which the parent waits for, logs
 * and counts like any failed login.  Never LOGIN_ACCEPTED. */
enum login_verdict privsep_refuse(int channel, enum login_refusal why);
/* Child side, after LOGIN_ACCEPTED: flushes the client output and hands
 * the unread client input to the parent. */
bool privsep_hand_over(int channel, struct netio *io);

/* Child side, behind a trusted proxy: tells the parent the client that
 * the PROXY header named (its family, source address and port), before
 * any login. */
bool privsep_tell_client(int channel, const struct proxy_header *h);

/* Parent side: waits for privsep_tell_client.  False when the child ended
 * instead (a bad header: *exit_status set from it) or sent anything else
 * (it is then killed). */
bool privsep_hear_client(int channel, pid_t child, struct proxy_header *h,
			 int *exit_status);

/* Parent side: answers the child's requests until it logs someone in
 * (returns true, with the account and the child's unread input preloaded
 * into io) or ends (returns false, *exit_status set from the child).
 * client is the client's address as logged (peer.h), named at the end of
 * every failed login's line. */
bool privsep_serve(int channel, pid_t child, const struct auth_config *config,
		   unsigned fail_delay, const char *client,
		   struct account *account, struct netio *io, int *exit_status);

#endif
