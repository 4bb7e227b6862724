/*
 * Where a user's mbox index and update journal live (mailbox.c, journal.c
 * use the directory; this module picks it and vouches for its owner).
 *
 * Started as root: <state-dir>/<user>, created by root in a root-owned
 * base and handed to the user before root is given up.  Without root:
 * <spool>/.pop3-stdio/<user> when the spool is ours, else
 * ~/.pop3-stdio/<user>.  With no usable place there is no directory, and
 * the mailbox then refuses deletions rather than doing them unsafely.
 */
#ifndef STATEDIR_H
#define STATEDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"

/* Picks the user's directory under configured (NULL: the default for how
 * we run) into out, making it the user's when run as root; out is empty
 * when the user has none.  Called before the privilege switch. */
void statedir_prepare(const char *configured, const char *spool_dir,
		      const struct account *acct, char *out, size_t cap);

/* Called as the user: makes sure dir exists, is a directory owned by us
 * and closed to others.  False: do not use it. */
bool statedir_ready(const char *dir);

#endif
