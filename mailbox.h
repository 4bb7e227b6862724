/*
 * An mbox maildrop (RFC 4155) as POP3 sees it: opened and locked for one
 * session, scanned once into an index of messages, served from that index
 * in blocks, and updated at QUIT so that no message is ever lost.
 *
 * Messages are numbered from 0 here; the session adds 1.
 */
#ifndef MAILBOX_H
#define MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netio.h"

enum mbox_status {
	MBOX_OK,
	MBOX_IN_USE,   /* another POP3 session holds the maildrop */
	MBOX_TEMPFAIL, /* I/O error, lock timeout, disk full: try later */
	MBOX_PERMFAIL, /* not an mbox, not a regular file: will not work */
	MBOX_CHANGED,  /* rewritten by someone else during the session */
	MBOX_GONE,     /* the client went away while a message was sent */
	MBOX_UNFINISHED, /* an update stopped half-way (I/O error); its journal
			  * finishes it at the next login */
};

struct mailbox_config {
	const char *path;      /* the mbox file */
	const char *state_dir; /* per-user journal (and index), or NULL */
};

struct mailbox;

/* Opens, locks and scans the maildrop; finishes an update that a killed
 * session left in its journal first.  A missing file is an empty maildrop. */
enum mbox_status mailbox_open(const struct mailbox_config *config,
			      struct mailbox **out);
void mailbox_close(struct mailbox *mb);

size_t mailbox_count(const struct mailbox *mb);
uint64_t mailbox_size(const struct mailbox *mb, size_t msg);
/* The unique-id of a message; buf has MAX_UIDL_LENGTH + 1 bytes. */
void mailbox_uidl(const struct mailbox *mb, size_t msg, char *buf);

bool mailbox_is_deleted(const struct mailbox *mb, size_t msg);
void mailbox_delete(struct mailbox *mb, size_t msg);
void mailbox_undelete_all(struct mailbox *mb);
/* Messages and octets not marked deleted. */
size_t mailbox_live_count(const struct mailbox *mb);
uint64_t mailbox_live_octets(const struct mailbox *mb);

/* Sends status_line, then the message (all of it, or when body_lines is
 * not UINT64_MAX the headers, the blank line and that many body lines),
 * byte-stuffed with CRLF line ends, then ".".  Checks first that the
 * message is still where it was indexed: MBOX_CHANGED sends nothing.
 * MBOX_GONE and MBOX_TEMPFAIL after the status line end the session. */
enum mbox_status mailbox_send(struct mailbox *mb, size_t msg,
			      uint64_t body_lines, const char *status_line,
			      struct netio *io);

/* Removes the deleted messages from the file (RFC 1939 UPDATE state);
 * mail delivered during the session stays.  Durable before it returns. */
enum mbox_status mailbox_update(struct mailbox *mb);

#endif
