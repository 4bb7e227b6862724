/*
 * Message text as POP3 sends it (RFC 1939 3): every line ended by CRLF (a
 * bare LF becomes CRLF, an existing CRLF stays one), a line starting with
 * "." gets another "." in front, a last line without LF still gets CRLF,
 * and "." CRLF ends it all.  For TOP the text stops after the header, the
 * empty line and a given number of body lines.
 *
 * The text arrives in pieces of any size; the state carries across them,
 * so a line may be split anywhere.
 */
#ifndef WIRETEXT_H
#define WIRETEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netio.h"

struct wire_text {
	struct netio *io;
	bool at_line_start;
	bool prev_cr;
	bool in_header;
	bool done; /* TOP's line budget is spent */
	uint64_t line_len;
	uint64_t body_lines_left; /* UINT64_MAX: all */
};

void wire_text_start(struct wire_text *wt, struct netio *io,
		     uint64_t body_lines);
void wire_text_send(struct wire_text *wt, const unsigned char *p, size_t n);
void wire_text_end(struct wire_text *wt);

#endif
