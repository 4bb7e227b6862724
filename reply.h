/*
 * Everything the server says to the client goes through these: a status
 * line (+OK or -ERR, cut to RFC 2449's 512 octets), the lines of a
 * multi-line response and its end, and the --debug trace of both sides.
 */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "session.h"

/* With --debug, "who text" on stderr (text made printable); else nothing. */
void session_trace(const struct session *s, const char *who, const char *text,
		   size_t len);

__attribute__((format(printf, 2, 3))) void reply_ok(struct session *s,
						    const char *fmt, ...);
/* code: an RFC 2449/3206 response code without brackets, or NULL. */
void reply_err(struct session *s, const char *code, const char *text);

/* One line of a multi-line response; none of ours starts with ".". */
__attribute__((format(printf, 2, 3))) void reply_data(struct session *s,
						      const char *fmt, ...);
/* "<msg> <text>" and "<msg> <size>" listing lines (LIST, UIDL), written
 * without printf: a maildrop may hold a million messages. */
void reply_listing(struct session *s, size_t msg, const char *text,
		   size_t len);
void reply_listing_size(struct session *s, size_t msg, uint64_t size);
/* The "." that ends a multi-line response. */
void reply_end(struct session *s);

#endif
