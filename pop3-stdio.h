/*
 * pop3-stdio: a POP3 server (RFC 1939, 2449, 5034) for one client on
 * stdin/stdout, started by a superserver; mbox maildrops under a spool.
 *
 * This header is what the program offers to its tests and fuzzers: the
 * options and the session, runnable in one process with a stand-in for
 * the privileged login check.
 */
#ifndef POP3_STDIO_H
#define POP3_STDIO_H

#include <stdbool.h>
#include <stddef.h>

#include "options.h"
#include "privsep.h"

typedef enum login_verdict (*login_checker)(void *context, const char *user,
					     size_t user_len,
					     const char *password,
					     size_t password_len);

/* Reports a login attempt refused before its credentials could be
 * checked (privsep_refuse); answers like a checker that said no. */
typedef enum login_verdict (*login_refuser)(void *context,
					     enum login_refusal why);

/* A whole session in this process: AUTHORIZATION with check() deciding
 * logins, then TRANSACTION on the maildrop config->spool_dir/<user> with
 * no privilege change.  For tests and fuzzing; returns the exit status.
 * Refused attempts are counted in this process, with no delay or log. */
int pop3_run_in_process(const struct config *config, int in_fd, int out_fd,
			login_checker check, void *context);

#endif
