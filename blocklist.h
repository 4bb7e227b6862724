/*
 * Who is refused: the blocked-users file, read fresh for every login.
 *
 * One entry a line; '#' starts a comment (at the start of a line or after
 * a space); blank lines are ignored; spaces around an entry are trimmed;
 * matching ignores case.  An entry is
 *   john@example.com       that address
 *   john                   the name john, and john@ any domain
 *   @example.com           everyone at that domain
 *   *@example.com          the same
 */
#ifndef BLOCKLIST_H
#define BLOCKLIST_H

#include <stdbool.h>
#include <stdio.h>

enum block_verdict {
	BLOCK_ALLOWED,
	BLOCK_BLOCKED,
	BLOCK_UNREADABLE, /* a file the administrator named cannot be read */
};

/* path: the file; named: true when it was given on the command line (a
 * missing default file blocks nobody; a named one that cannot be read
 * refuses everyone, and says why in the log). */
enum block_verdict blocklist_check(const char *path, bool named,
				   const char *user);

/* The matching itself, on an open stream (for tests and fuzzing). */
bool blocklist_stream_blocks(FILE *in, const char *user);

#endif
