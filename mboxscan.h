/*
 * One pass over an mbox file (RFC 4155 as Debian's MDAs write it), finding
 * each message and what POP3 needs of it without ever holding more than a
 * block of the file: where it is, its size as RETR will send it, and the
 * digest and X-UIDL header its unique-id is made from.
 *
 * A message begins at a "From " line at the start of the file or right
 * after an empty line; that empty line is the separator, not message text.
 */
#ifndef MBOXSCAN_H
#define MBOXSCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "contenthash.h"
#include "params.h"

struct scanned_message {
	uint64_t start;  /* offset of the "From " line */
	uint64_t data;   /* offset of the first header byte */
	uint64_t length; /* octets of message text in the file */
	uint64_t size;   /* octets RETR sends: each LF as CRLF, final CRLF */
	uint8_t digest[CONTENT_DIGEST_SIZE];
	bool has_xuidl;
	bool uw_internal; /* UW-IMAP's "FOLDER INTERNAL DATA" pseudo-message */
	char xuidl[MAX_UIDL_LENGTH + 1];
};

enum scan_result {
	SCAN_OK,
	SCAN_NOT_MBOX, /* the data at the start offset is not a "From " line */
	SCAN_IO_ERROR,
	SCAN_NO_MEMORY, /* the emit callback refused */
};

typedef bool (*scan_emit)(void *context, const struct scanned_message *msg);

/* Scans fd from offset start (0, or where an earlier scan said a message
 * begins) to end of file, calling emit for each message in order.  Sets
 * *end to the offset scanned up to.  A file or range that is empty holds
 * no messages and is fine. */
enum scan_result scan_mbox(int fd, uint64_t start, uint64_t *end,
			   scan_emit emit, void *context);

/* The same scan, and the same messages emitted in the same order, with the
 * file cut at likely message starts into chunks of about round_bytes that
 * the calling thread and a second one take in turn: the caller emits its
 * chunks as it scans them and the other's after them (0: one thread for
 * the whole range).  scan_mbox uses it on files of several MB when the
 * process may run on more than one processor; the tests call it with
 * small chunks to put chunk ends everywhere. */
enum scan_result scan_mbox_rounds(int fd, uint64_t start, uint64_t *end,
				  scan_emit emit, void *context,
				  uint64_t round_bytes);

/* Counts the LF bytes in a buffer (used by the scanner and its tests). */
uint64_t count_newlines(const unsigned char *p, uint64_t n);

#endif
