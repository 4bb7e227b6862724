/*
 * The AUTHORIZATION state's commands (RFC 1939 4, RFC 5034): USER and
 * PASS, and AUTH PLAIN.  They run in the unprivileged pre-login process;
 * the session's login_checker decides every login.
 */
#ifndef AUTHORIZATION_H
#define AUTHORIZATION_H

#include "session.h"

command_handler cmd_user; /* USER name: remembered for the next PASS */
command_handler cmd_pass; /* PASS password: right after USER only */
command_handler cmd_auth; /* AUTH [PLAIN [initial-response]] */

#endif
