/*
 * The server's side of the conversation: status lines, multi-line
 * responses, and the --debug trace.
 */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "logtext.h"
#include "number.h"

void session_trace(const struct session *s, const char *who, const char *text,
		   size_t len)
{
	char safe[LOG_SAFE_SIZE(MAX_SASL_LINE)], line[sizeof(safe) + 8];

	if (!s->config->debug)
		return;
	int n = snprintf(line, sizeof(line), "%s %s\n", who,
			 log_safe(text, len, safe, sizeof(safe)));
	/* The trace is best effort: a full stderr must not end the session. */
	if (n > 0 && !write_full(STDERR_FILENO, line, strlen(line)))
		return;
}

static void status_line(struct session *s, const char *line, int formatted)
{
	/* RFC 2449 4: a first response line is at most 512 octets. */
	size_t len = formatted < 0 ? 0 : (size_t)formatted;
	if (len > MAX_RESPONSE_LINE - 2)
		len = MAX_RESPONSE_LINE - 2;
	session_trace(s, "S:", line, len);
	netio_write(&s->io, line, len);
	netio_write(&s->io, "\r\n", 2);
}

void reply_ok(struct session *s, const char *fmt, ...)
{
	char line[MAX_RESPONSE_LINE];
	va_list ap;

	memcpy(line, "+OK ", 4);
	va_start(ap, fmt);
	int n = vsnprintf(line + 4, sizeof(line) - 4, fmt, ap);
	va_end(ap);
	status_line(s, line, n < 0 ? n : n + 4);
}

void reply_err(struct session *s, const char *code, const char *text)
{
	char line[MAX_RESPONSE_LINE];
	int n = code ? snprintf(line, sizeof(line), "-ERR [%s] %s", code, text)
		     : snprintf(line, sizeof(line), "-ERR %s", text);
	status_line(s, line, n);
}

void reply_data(struct session *s, const char *fmt, ...)
{
	char line[MAX_RESPONSE_LINE];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	netio_write(&s->io, line, len);
	netio_write(&s->io, "\r\n", 2);
}

/* Decimal digits of v at out (room for UINT64_DIGITS); returns how many. */
static size_t format_decimal(uint64_t v, char *out)
{
	char digits[UINT64_DIGITS];
	size_t d = 0, n = 0;

	do
		digits[d++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (d > 0)
		out[n++] = digits[--d];
	return n;
}

void reply_listing(struct session *s, size_t msg, const char *text,
		   size_t len)
{
	char line[UINT64_DIGITS + 1 + MAX_UIDL_LENGTH + 2];
	size_t n = format_decimal(msg, line);

	line[n++] = ' ';
	memcpy(line + n, text, len);
	n += len;
	line[n++] = '\r';
	line[n++] = '\n';
	netio_write(&s->io, line, n);
}

void reply_listing_size(struct session *s, size_t msg, uint64_t size)
{
	char text[UINT64_DIGITS];
	size_t len = format_decimal(size, text);
	reply_listing(s, msg, text, len);
}

void reply_end(struct session *s)
{
	netio_write(&s->io, ".\r\n", 3);
}
