/*
 * Buffered line I/O on the client connection (two file descriptors).
 *
 * Input is read in large blocks and handed out a line at a time; output is
 * collected and written in large blocks, flushed only when no client input
 * is waiting, which is what makes pipelined sessions fast (RFC 2449 6.6).
 * The idle timeout lives here: every wait for the client is a poll().
 */
#ifndef NETIO_H
#define NETIO_H

#include <stdbool.h>
#include <stddef.h>

#include "params.h"

enum line_status {
	LINE_OK,       /* a whole line, terminator removed */
	LINE_TOO_LONG, /* the line exceeded the limit and was discarded whole */
	LINE_EOF,      /* the client closed (a partial last line is dropped) */
	LINE_TIMEOUT,  /* no input within the idle timeout */
	LINE_IO_ERROR, /* read or write failed; see errno in the log */
};

struct netio {
	int in_fd;
	int out_fd;
	int timeout_ms;
	bool write_failed; /* sticky: once set, output is discarded */
	size_t in_pos;
	size_t in_len;
	size_t out_len;
	char in[INPUT_BUFFER];
	char out[OUTPUT_BUFFER];
};

void netio_init(struct netio *io, int in_fd, int out_fd, int timeout_seconds);

/* Reads one line of at most max_octets including its CRLF or LF into line
 * (max_octets bytes of room).  Sets *len to the length without the
 * terminator; the line may contain NUL bytes. */
enum line_status netio_read_line(struct netio *io, char *line,
				 size_t max_octets, size_t *len);

/* Reads one line, its LF and any CR before it included (*len counts
 * them), of at most max_octets, all within timeout_ms in total however
 * the bytes trickle in.  LINE_TOO_LONG as soon as max_octets arrived
 * without a LF, nothing discarded: for a header that opens the connection
 * (PROXY), where anything wrong ends it.  What follows the line stays
 * buffered for netio_read_line. */
enum line_status netio_read_header(struct netio *io, char *line,
				   size_t max_octets, size_t *len,
				   int timeout_ms);

/* Client bytes already read but not yet consumed, for handing the
 * connection to another process (privilege separation). */
size_t netio_pending(const struct netio *io, const char **data);
/* Puts bytes back in front of the input, e.g. what another process read. */
bool netio_preload(struct netio *io, const char *data, size_t len);

/* Output.  Errors are sticky in write_failed and make later calls no-ops. */
void netio_write(struct netio *io, const void *data, size_t len);
void netio_puts(struct netio *io, const char *text);
/* Room for at least min bytes at the end of the output buffer (flushing
 * first when needed); fill some of it, then netio_commit what was used. */
char *netio_space(struct netio *io, size_t min, size_t *avail);
void netio_commit(struct netio *io, size_t used);
bool netio_flush(struct netio *io);

#endif
