/*
 * The TRANSACTION state's commands (RFC 1939 5, 7; RFC 2449 TOP and
 * UIDL), run as the user on the open maildrop, and QUIT, which enters the
 * UPDATE state from there (RFC 1939 6).
 */
#ifndef TRANSACTION_H
#define TRANSACTION_H

#include "session.h"

command_handler cmd_stat;
command_handler cmd_list; /* LIST [msg] */
command_handler cmd_uidl; /* UIDL [msg] */
command_handler cmd_retr; /* RETR msg */
command_handler cmd_top;  /* TOP msg n */
command_handler cmd_dele; /* DELE msg */
command_handler cmd_noop;
command_handler cmd_rset;
command_handler cmd_quit; /* in either state; in TRANSACTION, the update */

#endif
