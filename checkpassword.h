/*
 * An external password checker with qmail's checkpassword interface (also
 * Dovecot's checkpassword passdb): the program is started with the user
 * name, the password and an empty timestamp, each NUL-terminated, on
 * descriptor 3, and answers with its exit status: 0 accepted, 1 rejected,
 * anything else (111 by convention) a temporary failure.
 *
 * It runs with stdin, stdout and stderr on /dev/null (its output can hold
 * anything, even the password: it reaches neither the client nor the log),
 * no other descriptor, an environment of PATH alone, "/" as its directory,
 * default signal handling, in a process group of its own, and is killed
 * with that group after CHECKPASSWORD_TIMEOUT seconds.  Its argv is
 * { prog, CHECKPASSWORD_NEXT }: a classic checker switches to the user and
 * executes the next program on success, which then exits 0.
 *
 * Runs as whoever calls it (root in a root start, as PAM needs).  Every
 * failure to run it is logged, never the password.
 */
#ifndef CHECKPASSWORD_H
#define CHECKPASSWORD_H

#include <stddef.h>

enum checkpw_verdict {
	CHECKPW_ACCEPTED,
	CHECKPW_REJECTED,
	CHECKPW_TEMPFAIL, /* did not run, timed out, died, or said so */
};

/* prog: an absolute path.  user and password are exactly len bytes; when
 * together they do not fit qmail's 512-byte limit the checker is not run
 * and the answer is CHECKPW_REJECTED. */
enum checkpw_verdict checkpassword_run(const char *prog, const char *user,
				       size_t user_len, const char *password,
				       size_t password_len);

#endif
