/*
 * Message text on the wire.  See wiretext.h.
 */
#include "wiretext.h"

#include <string.h>

#include "bytevec.h"

void wire_text_start(struct wire_text *wt, struct netio *io,
		     uint64_t body_lines)
{
	*wt = (struct wire_text){ .io = io, .at_line_start = true,
				  .in_header = true,
				  .body_lines_left = body_lines };
}

static void end_of_line(struct wire_text *wt)
{
	bool empty = wt->line_len == 0 || (wt->line_len == 1 && wt->prev_cr);

	wt->at_line_start = true;
	wt->prev_cr = false;
	wt->line_len = 0;
	if (wt->in_header) {
		if (empty) {
			wt->in_header = false;
			wt->done = wt->body_lines_left == 0;
		}
		return;
	}
	if (wt->body_lines_left != UINT64_MAX && --wt->body_lines_left == 0)
		wt->done = true;
}

#ifdef BYTEMASK64
/* What RETR sends, 64 bytes of input a round: the LFs as a bit mask, the
 * bytes between them moved by fixed 64-byte copies that the next copy
 * partly overwrites -- no call and no branch per byte.  RETR has no line
 * budget, so only where lines begin matters here, not the header's end
 * or line lengths.  Each round reads 64 bytes past its block and writes
 * at most 192 bytes plus the 64 of the last copy. */
BYTEMASK64_TARGET
static size_t convert_blocks(struct wire_text *sd, const unsigned char *p,
			     size_t n, unsigned char *out, size_t room,
			     size_t *used)
{
	bool line_start = sd->at_line_start, prev_cr = sd->prev_cr;
	size_t i = 0, o = 0;

	for (; n - i >= 128 && room - o >= 256; i += 64) {
		const unsigned char *b = p + i;
		uint64_t nl = mask64(b, '\n');
		size_t from = 0;
		if (line_start && b[0] == '.')
			out[o++] = '.'; /* RFC 1939 3: byte-stuffing */
		line_start = false;
		for (; nl != 0; nl &= nl - 1) {
			size_t at = (size_t)__builtin_ctzll(nl);
			memcpy(out + o, b + from, 64);
			o += at - from;
			if (!(at > 0 ? b[at - 1] == '\r' : prev_cr))
				out[o++] = '\r';
			out[o++] = '\n';
			from = at + 1;
			if (from == 64)
				line_start = true;
			else if (b[from] == '.')
				out[o++] = '.';
		}
		memcpy(out + o, b + from, 64);
		o += 64 - from;
		prev_cr = b[63] == '\r';
	}
	sd->at_line_start = line_start;
	sd->prev_cr = prev_cr;
	sd->line_len = line_start ? 0 : 2; /* only its being empty counts */
	*used = i;
	return o;
}
#endif

/* Converts as much of p[0..n) as fits in out[0..room); returns the bytes
 * of output and sets *used to the bytes of input taken.  The state is
 * kept in a local copy: through the pointer the compiler would have to
 * store it at every byte written to out. */
static size_t convert(struct wire_text *state, const unsigned char *p, size_t n,
		      unsigned char *out, size_t room, size_t *used)
{
	struct wire_text sd = *state;
	size_t o = 0, i = 0;

#ifdef BYTEMASK64
	if (sd.body_lines_left == UINT64_MAX && have_mask64())
		o = convert_blocks(&sd, p, n, out, room, &i);
#endif

	while (i < n && !sd.done && o + 3 <= room) {
		if (sd.at_line_start) {
			if (p[i] == '.')
				out[o++] = '.'; /* RFC 1939 3: byte-stuffing */
			sd.at_line_start = false;
		}
		size_t max = n - i < room - o - 2 ? n - i : room - o - 2;
		const unsigned char *lf = memchr(p + i, '\n', max);
		size_t seg = lf ? (size_t)(lf - (p + i)) : max;
		memcpy(out + o, p + i, seg);
		o += seg;
		if (seg > 0) {
			sd.prev_cr = p[i + seg - 1] == '\r';
			sd.line_len += seg;
		}
		i += seg;
		if (!lf)
			continue;
		if (!sd.prev_cr)
			out[o++] = '\r';
		out[o++] = '\n';
		i++;
		end_of_line(&sd);
	}
	*state = sd;
	*used = i;
	return o;
}

void wire_text_send(struct wire_text *wt, const unsigned char *p, size_t n)
{
	while (n > 0 && !wt->done) {
		size_t room, used;
		unsigned char *out = (unsigned char *)netio_space(wt->io, 256, &room);
		size_t produced = convert(wt, p, n, out, room, &used);
		netio_commit(wt->io, produced);
		p += used;
		n -= used;
		if (wt->io->write_failed)
			return;
	}
}

void wire_text_end(struct wire_text *wt)
{
	if (!wt->at_line_start)
		netio_write(wt->io, "\r\n", 2); /* the last line had no LF */
	netio_write(wt->io, ".\r\n", 3);
}
