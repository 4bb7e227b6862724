/*
 * Buffered line I/O on the client connection.  See netio.h.
 */
#include "netio.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <syslog.h>
#include <unistd.h>

enum wait_result { WAIT_READY, WAIT_TIMEOUT, WAIT_ERROR };

/* A client that sends but never reads fills the socket buffers, and a
 * blocking write would then wait forever, past any idle timeout: give
 * the socket a send timeout, so that the write returns (EAGAIN) and
 * netio_flush can give up.  Not a socket (the tests' pipes): no effect. */
static void bound_writes(int fd, int timeout_seconds)
{
	struct timeval tv = { .tv_sec = timeout_seconds };

	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void netio_init(struct netio *io, int in_fd, int out_fd, int timeout_seconds)
{
	bound_writes(out_fd, timeout_seconds);
	io->in_fd = in_fd;
	io->out_fd = out_fd;
	io->timeout_ms = timeout_seconds * 1000;
	io->write_failed = false;
	io->in_pos = 0;
	io->in_len = 0;
	io->out_len = 0;
}

static enum wait_result wait_for(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int n = poll(&pfd, 1, timeout_ms);
		if (n > 0)
			return WAIT_READY;
		if (n == 0)
			return WAIT_TIMEOUT;
		if (errno != EINTR)
			return WAIT_ERROR;
	}
}

bool netio_flush(struct netio *io)
{
	size_t done = 0;

	if (io->write_failed) {
		io->out_len = 0;
		return false;
	}
	while (done < io->out_len) {
		ssize_t n = write(io->out_fd, io->out + done, io->out_len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* A client that stops reading must not hold us forever. */
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_for(io->out_fd, POLLOUT, io->timeout_ms) ==
			    WAIT_READY)
				continue;
			syslog(LOG_NOTICE, "client stopped reading; giving up");
		} else if (n < 0 && errno != EPIPE && errno != ECONNRESET) {
			syslog(LOG_ERR, "write to client: %m");
		}
		io->write_failed = true;
		break;
	}
	io->out_len = 0;
	return !io->write_failed;
}

/* Client bytes are wiped as soon as they are used: PASS and AUTH lines
 * carry passwords, and the pre-login process must not keep them for a
 * later compromise to find.  Telling those lines apart here
 * would mean parsing commands twice; a memset per input byte is cheap. */
static void consume(struct netio *io, size_t n)
{
	explicit_bzero(io->in + io->in_pos, n);
	io->in_pos += n;
}

/* Moves the unused input to the front, wiping the copy it leaves behind. */
static void compact_input(struct netio *io)
{
	size_t unused = io->in_len - io->in_pos;

	memmove(io->in, io->in + io->in_pos, unused);
	explicit_bzero(io->in + unused, io->in_len - unused);
	io->in_len = unused;
	io->in_pos = 0;
}

/* Refills the input buffer.  Output is flushed only when the client has
 * nothing more waiting for us: pipelined commands are answered in one go. */
static enum line_status fill_input(struct netio *io)
{
	if (io->in_pos > 0)
		compact_input(io);
	if (wait_for(io->in_fd, POLLIN, 0) != WAIT_READY) {
		if (!netio_flush(io))
			return LINE_IO_ERROR;
		switch (wait_for(io->in_fd, POLLIN, io->timeout_ms)) {
		case WAIT_READY:
			break;
		case WAIT_TIMEOUT:
			return LINE_TIMEOUT;
		case WAIT_ERROR:
			syslog(LOG_ERR, "poll on client: %m");
			return LINE_IO_ERROR;
		}
	}
	for (;;) {
		ssize_t n = read(io->in_fd, io->in + io->in_len,
				 sizeof(io->in) - io->in_len);
		if (n > 0) {
			io->in_len += (size_t)n;
			return LINE_OK;
		}
		if (n == 0)
			return LINE_EOF;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET)
			return LINE_EOF;
		syslog(LOG_ERR, "read from client: %m");
		return LINE_IO_ERROR;
	}
}

/* Throws input away up to and including the next LF: an over-long line
 * gets one error, and nothing in its middle is taken for a command. */
static enum line_status discard_rest_of_line(struct netio *io)
{
	for (;;) {
		char *lf = memchr(io->in + io->in_pos, '\n',
				  io->in_len - io->in_pos);
		if (lf) {
			consume(io, (size_t)(lf - io->in) + 1 - io->in_pos);
			return LINE_TOO_LONG;
		}
		consume(io, io->in_len - io->in_pos);
		enum line_status status = fill_input(io);
		if (status != LINE_OK)
			return status;
	}
}

enum line_status netio_read_line(struct netio *io, char *line,
				 size_t max_octets, size_t *len)
{
	size_t scanned = 0;

	for (;;) {
		const char *start = io->in + io->in_pos;
		size_t avail = io->in_len - io->in_pos;
		char *lf = memchr(start + scanned, '\n', avail - scanned);
		if (lf) {
			size_t octets = (size_t)(lf - start) + 1;
			if (octets > max_octets) {
				consume(io, octets);
				return LINE_TOO_LONG;
			}
			size_t n = octets - 1;
			if (n > 0 && start[n - 1] == '\r')
				n--;
			memcpy(line, start, n);
			*len = n;
			consume(io, octets);
			return LINE_OK;
		}
		if (avail >= max_octets)
			return discard_rest_of_line(io);
		scanned = avail;
		enum line_status status = fill_input(io);
		if (status != LINE_OK)
			return status;
	}
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* fill_input waiting at most until the deadline, not a whole idle time. */
static enum line_status fill_input_by(struct netio *io, long long deadline)
{
	long long left = deadline - now_ms();
	int idle = io->timeout_ms;

	if (left <= 0)
		return LINE_TIMEOUT;
	io->timeout_ms = left < idle ? (int)left : idle;
	enum line_status status = fill_input(io);
	io->timeout_ms = idle;
	return status;
}

enum line_status netio_read_header(struct netio *io, char *line,
				   size_t max_octets, size_t *len,
				   int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		const char *start = io->in + io->in_pos;
		size_t avail = io->in_len - io->in_pos;
		size_t look = avail < max_octets ? avail : max_octets;
		const char *lf = memchr(start, '\n', look);
		if (lf) {
			*len = (size_t)(lf - start) + 1;
			memcpy(line, start, *len);
			consume(io, *len);
			return LINE_OK;
		}
		if (avail >= max_octets)
			return LINE_TOO_LONG;
		enum line_status status = fill_input_by(io, deadline);
		if (status != LINE_OK)
			return status;
	}
}

size_t netio_pending(const struct netio *io, const char **data)
{
	*data = io->in + io->in_pos;
	return io->in_len - io->in_pos;
}

bool netio_preload(struct netio *io, const char *data, size_t len)
{
	if (len > sizeof(io->in) - io->in_len)
		return false;
	memcpy(io->in + io->in_len, data, len);
	io->in_len += len;
	return true;
}

char *netio_space(struct netio *io, size_t min, size_t *avail)
{
	if (sizeof(io->out) - io->out_len < min)
		netio_flush(io);
	*avail = sizeof(io->out) - io->out_len;
	return io->out + io->out_len;
}

void netio_commit(struct netio *io, size_t used)
{
	io->out_len += used;
}

void netio_write(struct netio *io, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		size_t avail;
		char *dst = netio_space(io, 1, &avail);
		size_t n = len < avail ? len : avail;
		memcpy(dst, p, n);
		netio_commit(io, n);
		p += n;
		len -= n;
	}
}

void netio_puts(struct netio *io, const char *text)
{
	netio_write(io, text, strlen(text));
}
