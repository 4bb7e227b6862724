/*
 * The TRANSACTION state: listing, reading and marking messages of the
 * open maildrop, and QUIT with the update that removes the marked ones.
 */
#include "transaction.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "number.h"
#include "reply.h"

enum next cmd_stat(struct session *s, const struct args *a)
{
	(void)a;
	reply_ok(s, "%zu %" PRIu64, mailbox_live_count(s->mailbox),
		 mailbox_live_octets(s->mailbox));
	return NEXT_COMMAND;
}

enum next cmd_list(struct session *s, const struct args *a)
{
	struct mailbox *mb = s->mailbox;

	if (a->has_message) {
		reply_ok(s, "%zu %" PRIu64, a->message + 1, mailbox_size(mb, a->message));
		return NEXT_COMMAND;
	}
	reply_ok(s, "%zu messages (%" PRIu64 " octets)", mailbox_live_count(mb),
		 mailbox_live_octets(mb));
	for (size_t i = 0; i < mailbox_count(mb); i++)
		if (!mailbox_is_deleted(mb, i))
			reply_listing_size(s, i + 1, mailbox_size(mb, i));
	reply_end(s);
	return NEXT_COMMAND;
}

enum next cmd_uidl(struct session *s, const struct args *a)
{
	struct mailbox *mb = s->mailbox;
	char id[MAX_UIDL_LENGTH + 1];

	if (a->has_message) {
		mailbox_uidl(mb, a->message, id);
		reply_ok(s, "%zu %s", a->message + 1, id);
		return NEXT_COMMAND;
	}
	reply_ok(s, "unique-id listing follows");
	for (size_t i = 0; i < mailbox_count(mb); i++) {
		if (mailbox_is_deleted(mb, i))
			continue;
		mailbox_uidl(mb, i, id);
		reply_listing(s, i + 1, id, strlen(id));
	}
	reply_end(s);
	return NEXT_COMMAND;
}

/* What a sent message counts as in the session-end log line. */
enum sent_as { SENT_AS_RETR, SENT_AS_TOP };

static enum next send_message(struct session *s, size_t msg, uint64_t lines,
			      const char *status, enum sent_as kind)
{
	session_trace(s, "S:", status, strlen(status));
	switch (mailbox_send(s->mailbox, msg, lines, status, &s->io)) {
	case MBOX_OK:
		if (kind == SENT_AS_RETR) {
			s->retrieved++;
			s->retrieved_octets += mailbox_size(s->mailbox, msg);
		}
		return NEXT_COMMAND;
	case MBOX_CHANGED:
		reply_err(s, "SYS/TEMP", "message unavailable: the maildrop was changed "
					 "by another program");
		return NEXT_COMMAND;
	case MBOX_GONE:
		s->end_reason = "client went away";
		return NEXT_CLOSE;
	default:
		s->end_reason = "read error while sending a message";
		return NEXT_CLOSE;
	}
}

enum next cmd_retr(struct session *s, const struct args *a)
{
	char status[sizeof("+OK  octets") + UINT64_DIGITS];

	(void)snprintf(status, sizeof(status), "+OK %" PRIu64 " octets",
		 mailbox_size(s->mailbox, a->message));
	return send_message(s, a->message, UINT64_MAX, status, SENT_AS_RETR);
}

enum next cmd_top(struct session *s, const struct args *a)
{
	/* More lines than the message has is the whole message (UINT64_MAX
	 * is how the mailbox spells that), but still a TOP, not a RETR. */
	return send_message(s, a->message, a->lines, "+OK top of message follows",
			    SENT_AS_TOP);
}

enum next cmd_dele(struct session *s, const struct args *a)
{
	mailbox_delete(s->mailbox, a->message);
	reply_ok(s, "message %zu deleted", a->message + 1);
	return NEXT_COMMAND;
}

enum next cmd_noop(struct session *s, const struct args *a)
{
	(void)a;
	reply_ok(s, "nothing done");
	return NEXT_COMMAND;
}

enum next cmd_rset(struct session *s, const struct args *a)
{
	(void)a;
	mailbox_undelete_all(s->mailbox);
	reply_ok(s, "maildrop has %zu messages (%" PRIu64 " octets)",
		 mailbox_live_count(s->mailbox), mailbox_live_octets(s->mailbox));
	return NEXT_COMMAND;
}

/* RFC 1939 6: the UPDATE state, entered only by QUIT from TRANSACTION. */
enum next cmd_quit(struct session *s, const struct args *a)
{
	(void)a;
	s->end_reason = "QUIT";
	if (s->state == STATE_AUTHORIZATION) {
		reply_ok(s, "bye");
		s->exit_status = 0;
		return NEXT_CLOSE;
	}
	size_t marked = mailbox_count(s->mailbox) - mailbox_live_count(s->mailbox);
	switch (mailbox_update(s->mailbox)) {
	case MBOX_OK:
		s->deleted = marked;
		s->exit_status = 0;
		reply_ok(s, "bye, %zu messages deleted, %zu left", marked,
			 mailbox_live_count(s->mailbox));
		break;
	case MBOX_CHANGED:
		reply_err(s, "SYS/TEMP", "the maildrop was changed by another program; "
					 "nothing deleted, try again");
		break;
	case MBOX_PERMFAIL:
		reply_err(s, "SYS/PERM", "the maildrop cannot be updated; nothing deleted");
		break;
	case MBOX_UNFINISHED:
		reply_err(s, "SYS/TEMP", "the update was interrupted by an I/O error; it "
					 "will be completed at the next login");
		break;
	default:
		reply_err(s, "SYS/TEMP", "the maildrop could not be updated; try again "
					 "later");
		break;
	}
	return NEXT_CLOSE;
}
