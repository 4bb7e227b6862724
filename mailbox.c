/*
 * An mbox maildrop for one POP3 session.  See mailbox.h.
 *
 * Locks, as Debian's MDAs (Postfix local, procmail, Exim) expect:
 *  - flock() on the mbox for the whole session, so a second POP3 session
 *    gets [IN-USE].  MDAs on Debian lock with fcntl(), which on Linux is
 *    independent of flock(), so deliveries are not held up; the kernel drops
 *    the lock with the process, so it cannot go stale.
 *  - fcntl() over the whole file only while scanning and while updating,
 *    so deliveries never interleave with our reads or writes.
 * No dotlock: only group mail can create one in /var/mail, a killed
 * process would leave it behind, and every Debian MDA also takes fcntl.
 */
#include "mailbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "contenthash.h"
#include "fileio.h"
#include "journal.h"
#include "mboxindex.h"
#include "mboxscan.h"
#include "uidl.h"
#include "wiretext.h"

/* What is checked of the end of the indexed part of the file before an
 * update: a rewrite by someone else almost surely changes it. */
#define TAIL_CHECK 4096

/* 32 bytes a message (with the 24 of its id, the memory a message costs):
 * the text ends where the next message starts, less its separator. */
struct message {
	uint64_t start; /* the "From " line */
	uint64_t data;  /* first header byte */
	uint64_t size;  /* octets as sent */
	uint8_t separator; /* octets of the empty line after the text: 0-2 */
	bool deleted;
};

struct mailbox {
	char *path;
	char *state_dir;
	int fd; /* -1: no file, an empty maildrop */
	bool writable;
	dev_t dev;
	ino_t ino;
	uint64_t indexed_end; /* the file's size when it was scanned */
	uint8_t tail_digest[CONTENT_DIGEST_SIZE];
	struct timespec mtime; /* when it was scanned */
	uint64_t last_text_end; /* of the last message scanned */
	bool appendable;  /* the last message ends with its separator */
	bool index_stale; /* the saved index needs writing */
	uint64_t *retired; /* keys of deleted messages' ids, oldest first */
	size_t retired_count;
	struct message *msgs;
	struct uidl_entry *ids;
	size_t count;
	size_t capacity;
	char *xuidl_pool;
	size_t pool_len;
	size_t pool_cap;
	size_t live_count;
	uint64_t live_octets;
	unsigned char *block; /* holds the file from block_at on: */
	uint64_t block_at;
	size_t block_len;     /* 0: nothing */
};

/* ---- locking ---- */

static bool fcntl_lock(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	time_t deadline = time(NULL) + LOCK_WAIT_SECONDS;

	/* Polled rather than F_SETLKW: the wait stays bounded with no alarm. */
	for (;;) {
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return true;
		if (errno != EACCES && errno != EAGAIN && errno != EINTR)
			return false;
		if (time(NULL) >= deadline) {
			errno = ETIMEDOUT;
			return false;
		}
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 200 * 1000 * 1000)
			pause.tv_nsec *= 2;
	}
}

static void fcntl_unlock(int fd)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };
	if (fcntl(fd, F_SETLK, &fl) != 0)
		syslog(LOG_ERR, "fcntl unlock: %m");
}

/* ---- the message index ---- */

static bool add_xuidl(struct mailbox *mb, struct uidl_entry *id, const char *xuidl)
{
	size_t n = strlen(xuidl) + 1;

	if (mb->pool_len + n > UINT32_MAX - 1)
		return true; /* the id falls back to the digest */
	if (mb->pool_len + n > mb->pool_cap) {
		/* A pool loaded from the index is exactly full and may be
		 * smaller than the text: grow until it fits. */
		size_t cap = mb->pool_cap ? mb->pool_cap : 4096;
		while (cap < mb->pool_len + n)
			cap *= 2;
		char *p = realloc(mb->xuidl_pool, cap);
		if (!p)
			return false;
		mb->xuidl_pool = p;
		mb->pool_cap = cap;
	}
	memcpy(mb->xuidl_pool + mb->pool_len, xuidl, n);
	id->xuidl_at = (uint32_t)mb->pool_len + 1;
	mb->pool_len += n;
	return true;
}

static bool reserve_index(struct mailbox *mb, size_t cap)
{
	if (cap > SIZE_MAX / sizeof(struct message))
		return false;
	struct message *msgs = realloc(mb->msgs, cap * sizeof(*msgs));
	if (!msgs)
		return false;
	mb->msgs = msgs;
	struct uidl_entry *ids = realloc(mb->ids, cap * sizeof(*ids));
	if (!ids)
		return false;
	mb->ids = ids;
	mb->capacity = cap;
	return true;
}

static bool grow_index(struct mailbox *mb)
{
	return reserve_index(mb, mb->capacity ? 2 * mb->capacity : 256);
}

/* Where message msg's text is followed by the next message, or by the
 * end of what was indexed. */
static uint64_t message_end(const struct mailbox *mb, size_t msg)
{
	return msg + 1 < mb->count ? mb->msgs[msg + 1].start : mb->indexed_end;
}

static uint64_t text_end(const struct mailbox *mb, size_t msg)
{
	return message_end(mb, msg) - mb->msgs[msg].separator;
}

/* The previous message's text ended at last_text_end; now that we know
 * where the next one starts, what lies between is its separator. */
static bool close_previous(struct mailbox *mb, uint64_t next_start)
{
	if (mb->count == 0)
		return true;
	uint64_t gap = next_start - mb->last_text_end;
	if (next_start < mb->last_text_end || gap > 2)
		return false;
	mb->msgs[mb->count - 1].separator = (uint8_t)gap;
	return true;
}

static bool add_message(void *context, const struct scanned_message *sm)
{
	struct mailbox *mb = context;

	if (sm->uw_internal) {
		/* pine/UW-IMAP bookkeeping, not mail; always the first */
		mb->last_text_end = sm->data + sm->length;
		return true;
	}
	if (!close_previous(mb, sm->start) ||
	    (mb->count == mb->capacity && !grow_index(mb)))
		return false;
	mb->last_text_end = sm->data + sm->length;
	mb->msgs[mb->count] = (struct message){ .start = sm->start,
						.data = sm->data, .size = sm->size };
	struct uidl_entry *id = &mb->ids[mb->count];
	memset(id, 0, sizeof(*id));
	memcpy(id->digest, sm->digest, CONTENT_DIGEST_SIZE);
	if (sm->has_xuidl && !add_xuidl(mb, id, sm->xuidl))
		return false;
	mb->count++;
	return true;
}

static bool tail_digest(int fd, uint64_t end,
			uint8_t digest[CONTENT_DIGEST_SIZE])
{
	unsigned char buf[TAIL_CHECK];
	size_t n = end < TAIL_CHECK ? (size_t)end : TAIL_CHECK;
	struct content_hash h;

	if (!pread_full(fd, buf, n, end - n))
		return false;
	content_hash_init(&h);
	content_hash_update(&h, buf, n);
	content_hash_final(&h, digest);
	return true;
}

static int compare_keys(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Ids for messages [fixed, count); those before come from the index. */
static bool assign_ids(struct mailbox *mb, size_t fixed)
{
	if (fixed == mb->count)
		return true; /* all from the index: nothing to choose */
	uint64_t *sorted = malloc((mb->retired_count + 1) * sizeof(*sorted));
	if (!sorted)
		return false;
	if (mb->retired_count > 0) /* memcpy's pointers may not be NULL */
		memcpy(sorted, mb->retired, mb->retired_count * sizeof(*sorted));
	qsort(sorted, mb->retired_count, sizeof(*sorted), compare_keys);
	bool ok = uidl_assign(mb->ids, mb->count, fixed, mb->xuidl_pool, sorted,
			      mb->retired_count);
	free(sorted);
	return ok;
}

/* ---- the saved index ---- */

/* Room for the indexed messages and, without another copy, for some
 * delivered since. */
static bool reserve_indexed(void *context, uint64_t count)
{
	struct mailbox *mb = context;
	uint64_t want = count + count / 8 + 256;
	return mb->capacity >= count || (want <= SIZE_MAX && reserve_index(mb, (size_t)want));
}

static bool add_indexed(void *context, const struct index_record *r)
{
	struct mailbox *mb = context;

	if (!close_previous(mb, r->start) ||
	    (mb->count == mb->capacity && !grow_index(mb)))
		return false;
	mb->last_text_end = r->data + r->length;
	mb->msgs[mb->count] = (struct message){ .start = r->start, .data = r->data,
						.size = r->size };
	struct uidl_entry *id = &mb->ids[mb->count];
	*id = (struct uidl_entry){ .xuidl_at = r->xuidl_at, .suffix = r->suffix,
				   .use_xuidl = r->use_xuidl };
	memcpy(id->digest, r->digest, CONTENT_DIGEST_SIZE);
	mb->count++;
	return true;
}

static void forget_messages(struct mailbox *mb)
{
	free(mb->xuidl_pool);
	free(mb->retired);
	mb->xuidl_pool = NULL;
	mb->pool_len = mb->pool_cap = 0;
	mb->retired = NULL;
	mb->retired_count = 0;
	mb->count = 0;
	mb->last_text_end = 0;
}

static bool same_time(const struct timespec *a, int64_t sec, int64_t nsec)
{
	return a->tv_sec == sec && a->tv_nsec == nsec;
}

/* Is the index still a true account of the start of this file? */
static bool index_fits(struct mailbox *mb, const struct index_header *h,
		       const struct stat *st)
{
	uint8_t digest[CONTENT_DIGEST_SIZE];
	uint64_t size = (uint64_t)st->st_size;

	if (h->dev != (uint64_t)st->st_dev || h->ino != (uint64_t)st->st_ino ||
	    h->size > size)
		return false;
	if (h->size == size ? !same_time(&st->st_mtim, h->mtime_sec, h->mtime_nsec)
			    : !h->appendable)
		return false;
	return tail_digest(mb->fd, h->size, digest) &&
	       memcmp(digest, h->tail_digest, CONTENT_DIGEST_SIZE) == 0;
}

/* Takes what the saved index says; returns the offset to scan on from
 * (the file's size when nothing was appended), or 0 to scan it all. */
static uint64_t use_index(struct mailbox *mb, const struct stat *st)
{
	struct index_header h;
	char *pool;
	uint64_t *retired;

	if (!mb->state_dir)
		return 0;
	const struct index_reader reader = { reserve_indexed, add_indexed, mb };
	enum index_status r = index_load(mb->state_dir, &h, &reader, &pool, &retired);
	if (r != INDEX_OK || !close_previous(mb, h.size) || !index_fits(mb, &h, st)) {
		if (r == INDEX_OK) {
			free(pool);
			free(retired);
		}
		if (r == INDEX_UNUSABLE)
			syslog(LOG_NOTICE, "%s: index unusable, rescanning", mb->path);
		forget_messages(mb);
		return 0;
	}
	mb->xuidl_pool = pool;
	mb->pool_len = mb->pool_cap = h.pool_len;
	mb->retired = retired;
	mb->retired_count = h.retired_count;
	mb->appendable = h.appendable;
	mb->indexed_end = h.size;
	return h.size;
}

static enum mbox_status scan_failed(struct mailbox *mb, enum scan_result r)
{
	switch (r) {
	case SCAN_NOT_MBOX:
		syslog(LOG_ERR, "%s: not an mbox (does not begin with \"From \")",
		       mb->path);
		return MBOX_PERMFAIL;
	case SCAN_IO_ERROR:
		syslog(LOG_ERR, "%s: read: %m", mb->path);
		return MBOX_TEMPFAIL;
	default:
		syslog(LOG_ERR, "%s: out of memory indexing the mbox", mb->path);
		return MBOX_TEMPFAIL;
	}
}

/* Scans what the index does not cover: all of the file, or the mail
 * appended since.  Falls back to a full scan when the appended part does
 * not start a message where the index ended. */
static enum scan_result scan_rest(struct mailbox *mb, uint64_t from,
				  uint64_t size, size_t *fixed)
{
	uint64_t end;
	enum scan_result r = SCAN_OK;

	*fixed = mb->count;
	if (from == size && from > 0)
		return SCAN_OK;
	mb->index_stale = true;
	if (from > 0) {
		r = scan_mbox(mb->fd, from, &end, add_message, mb);
		if (r == SCAN_NOT_MBOX) {
			forget_messages(mb);
			*fixed = 0;
			from = 0;
		}
	}
	if (from == 0)
		r = scan_mbox(mb->fd, 0, &end, add_message, mb);
	if (r == SCAN_OK && !close_previous(mb, end))
		r = SCAN_IO_ERROR; /* the scanner broke its own rules */
	if (r == SCAN_OK) {
		mb->indexed_end = end;
		mb->appendable = end == 0 || mb->last_text_end < end;
	}
	return r;
}

/* Under the fcntl read lock: the message index, from the saved index
 * and/or a scan. */
static enum mbox_status index_mailbox(struct mailbox *mb)
{
	struct stat st;
	size_t fixed;

	if (fstat(mb->fd, &st) != 0) {
		syslog(LOG_ERR, "%s: fstat: %m", mb->path);
		return MBOX_TEMPFAIL;
	}
	uint64_t from = use_index(mb, &st);
	enum scan_result r = scan_rest(mb, from, (uint64_t)st.st_size, &fixed);
	if (r != SCAN_OK)
		return scan_failed(mb, r);
	mb->mtime = st.st_mtim;
	if (!tail_digest(mb->fd, mb->indexed_end, mb->tail_digest)) {
		syslog(LOG_ERR, "%s: read: %m", mb->path);
		return MBOX_TEMPFAIL;
	}
	if (!assign_ids(mb, fixed)) {
		syslog(LOG_ERR, "%s: out of memory assigning unique-ids", mb->path);
		return MBOX_TEMPFAIL;
	}
	mailbox_undelete_all(mb);
	return MBOX_OK;
}

static void record_out(void *context, uint64_t i, struct index_record *r)
{
	const struct mailbox *mb = context;
	const struct message *m = &mb->msgs[i];
	const struct uidl_entry *id = &mb->ids[i];

	*r = (struct index_record){ .start = m->start, .data = m->data,
				    .length = text_end(mb, i) - m->data,
				    .size = m->size, .suffix = id->suffix,
				    .xuidl_at = id->xuidl_at,
				    .use_xuidl = id->use_xuidl };
	memcpy(r->digest, id->digest, CONTENT_DIGEST_SIZE);
}

/* Best effort: a session works the same without it, only slower next
 * time. */
static void save_index(struct mailbox *mb)
{
	struct index_header h = {
		.dev = (uint64_t)mb->dev, .ino = (uint64_t)mb->ino,
		.size = mb->indexed_end, .mtime_sec = mb->mtime.tv_sec,
		.mtime_nsec = mb->mtime.tv_nsec, .count = mb->count,
		.pool_len = mb->pool_len, .retired_count = mb->retired_count,
		.appendable = mb->appendable,
	};

	if (!mb->state_dir || !mb->index_stale)
		return;
	memcpy(h.tail_digest, mb->tail_digest, CONTENT_DIGEST_SIZE);
	if (index_save(mb->state_dir, &h, record_out, mb, mb->xuidl_pool,
		       mb->retired))
		mb->index_stale = false;
}

/* ---- opening ---- */

/* O_NOFOLLOW: a maildrop that is a symlink (to another user's file, say)
 * is refused, as is anything but a regular file. */
static enum mbox_status open_file(struct mailbox *mb)
{
	struct stat st;

	mb->writable = true;
	mb->fd = open(mb->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (mb->fd < 0 && errno == EACCES) {
		mb->writable = false;
		mb->fd = open(mb->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	}
	if (mb->fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return MBOX_OK;
		syslog(LOG_ERR, "%s: open: %m", mb->path);
		/* A symlink, a directory, a file we may not read: an
		 * administrator's mistake that retrying will not fix. */
		return e == ELOOP || e == EACCES || e == EISDIR ? MBOX_PERMFAIL
							       : MBOX_TEMPFAIL;
	}
	if (fstat(mb->fd, &st) != 0) {
		syslog(LOG_ERR, "%s: fstat: %m", mb->path);
		return MBOX_TEMPFAIL;
	}
	if (!S_ISREG(st.st_mode)) {
		syslog(LOG_ERR, "%s: not a regular file", mb->path);
		return MBOX_PERMFAIL;
	}
	mb->dev = st.st_dev;
	mb->ino = st.st_ino;
	return MBOX_OK;
}

static enum mbox_status lock_session(struct mailbox *mb)
{
	if (flock(mb->fd, LOCK_EX | LOCK_NB) == 0)
		return MBOX_OK;
	if (errno == EWOULDBLOCK)
		return MBOX_IN_USE;
	syslog(LOG_ERR, "%s: flock: %m", mb->path);
	return MBOX_TEMPFAIL;
}

/* Finishes an update a killed session left, under the write lock. */
static enum mbox_status recover(struct mailbox *mb)
{
	if (!mb->state_dir || !mb->writable)
		return MBOX_OK;
	if (!fcntl_lock(mb->fd, F_WRLCK)) {
		syslog(LOG_ERR, "%s: lock: %m", mb->path);
		return MBOX_TEMPFAIL;
	}
	bool ok = journal_recover(mb->fd, mb->state_dir, mb->block);
	fcntl_unlock(mb->fd);
	return ok ? MBOX_OK : MBOX_TEMPFAIL;
}

static enum mbox_status load(struct mailbox *mb)
{
	enum mbox_status st = open_file(mb);
	if (st != MBOX_OK || mb->fd < 0)
		return st;
	if ((st = lock_session(mb)) != MBOX_OK || (st = recover(mb)) != MBOX_OK)
		return st;
	if (!fcntl_lock(mb->fd, F_RDLCK)) {
		syslog(LOG_ERR, "%s: lock: %m", mb->path);
		return MBOX_TEMPFAIL;
	}
	st = index_mailbox(mb);
	fcntl_unlock(mb->fd);
	if (st == MBOX_OK)
		save_index(mb);
	return st;
}

enum mbox_status mailbox_open(const struct mailbox_config *config,
			      struct mailbox **out)
{
	struct mailbox *mb = calloc(1, sizeof(*mb));

	*out = NULL;
	if (!mb)
		return MBOX_TEMPFAIL;
	mb->fd = -1;
	mb->path = strdup(config->path);
	mb->state_dir = config->state_dir ? strdup(config->state_dir) : NULL;
	mb->block = malloc(IO_BLOCK);
	if (!mb->path || (config->state_dir && !mb->state_dir) || !mb->block) {
		mailbox_close(mb);
		return MBOX_TEMPFAIL;
	}
	enum mbox_status st = load(mb);
	if (st != MBOX_OK) {
		mailbox_close(mb);
		return st;
	}
	*out = mb;
	return MBOX_OK;
}

void mailbox_close(struct mailbox *mb)
{
	if (!mb)
		return;
	if (mb->fd >= 0)
		close(mb->fd);
	free(mb->path);
	free(mb->state_dir);
	free(mb->msgs);
	free(mb->ids);
	free(mb->xuidl_pool);
	free(mb->retired);
	free(mb->block);
	free(mb);
}

/* ---- reading ---- */

size_t mailbox_count(const struct mailbox *mb)
{
	return mb->count;
}

uint64_t mailbox_size(const struct mailbox *mb, size_t msg)
{
	return mb->msgs[msg].size;
}

void mailbox_uidl(const struct mailbox *mb, size_t msg, char *buf)
{
	uidl_format(&mb->ids[msg], mb->xuidl_pool, buf);
}

bool mailbox_is_deleted(const struct mailbox *mb, size_t msg)
{
	return mb->msgs[msg].deleted;
}

void mailbox_delete(struct mailbox *mb, size_t msg)
{
	if (mb->msgs[msg].deleted)
		return;
	mb->msgs[msg].deleted = true;
	mb->live_count--;
	mb->live_octets -= mb->msgs[msg].size;
}

void mailbox_undelete_all(struct mailbox *mb)
{
	mb->live_count = mb->count;
	mb->live_octets = 0;
	for (size_t i = 0; i < mb->count; i++) {
		mb->msgs[i].deleted = false;
		mb->live_octets += mb->msgs[i].size;
	}
}

size_t mailbox_live_count(const struct mailbox *mb)
{
	return mb->live_count;
}

uint64_t mailbox_live_octets(const struct mailbox *mb)
{
	return mb->live_octets;
}


/* A message starts at a "From " line with an empty line (or nothing)
 * before it.  p holds the bytes from offset - before. */
static bool is_message_start(const unsigned char *p, size_t before)
{
	if (memcmp(p + before, "From ", 5) != 0)
		return false;
	if (before == 0)
		return true;
	return p[before - 1] == '\n' &&
	       (before == 1 || p[before - 2] == '\n' ||
		(before >= 3 && p[before - 2] == '\r' && p[before - 3] == '\n'));
}

static bool check_start(struct mailbox *mb, uint64_t offset)
{
	unsigned char buf[8];
	size_t before = offset < 3 ? (size_t)offset : 3;

	return pread_full(mb->fd, buf, before + 5, offset - before) &&
	       is_message_start(buf, before);
}

/* What follows a message's text up to the next message's "From " (or the
 * indexed end): nothing but its separator, then that "From ". */
static bool is_message_end(const unsigned char *p, size_t n, bool next_follows)
{
	size_t gap = n - (next_follows ? 5 : 0);

	if (n < (next_follows ? 5u : 0u) || gap > 2)
		return false;
	if ((gap == 1 && p[0] != '\n') || (gap == 2 && (p[0] != '\r' || p[1] != '\n')))
		return false;
	return !next_follows || (gap > 0 && memcmp(p + gap, "From ", 5) == 0);
}

/* The part of the file that serving a message reads: from up to three
 * bytes before its "From " line (the empty line before it) to the next
 * message's "From " or the indexed end; checking both ends costs no read
 * of its own for any message smaller than a block. */
struct extent {
	uint64_t begin;    /* where reading starts */
	size_t before;     /* bytes before the "From " line */
	uint64_t text;     /* the message text */
	uint64_t text_end;
	uint64_t end;
	bool next_follows;
};

static struct extent message_extent(const struct mailbox *mb, size_t msg)
{
	const struct message *m = &mb->msgs[msg];
	struct extent e = { .text = m->data, .text_end = text_end(mb, msg) };

	e.before = m->start < 3 ? (size_t)m->start : 3;
	e.begin = m->start - e.before;
	e.next_follows = msg + 1 < mb->count;
	e.end = e.next_follows ? mb->msgs[msg + 1].start + 5 : mb->indexed_end;
	return e;
}

/* The file's bytes [at, at + need), need <= IO_BLOCK, from mb->block.
 * A read fills the whole block, so the messages after this one -- the
 * next RETRs of a client that fetches everything -- are served from it:
 * one read for a block of them instead of one each.  What the block holds
 * was read during this session and is checked like a fresh read. */
static const unsigned char *file_bytes(struct mailbox *mb, uint64_t at, size_t need)
{
	if (at >= mb->block_at && need <= mb->block_len &&
	    at - mb->block_at <= mb->block_len - need)
		return mb->block + (at - mb->block_at);
	size_t got = 0;
	mb->block_len = 0;
	while (got < IO_BLOCK) {
		ssize_t n = pread(mb->fd, mb->block + got, IO_BLOCK - got, (off_t)(at + got));
		if (n > 0)
			got += (size_t)n;
		else if (n == 0)
			break;
		else if (errno != EINTR)
			return NULL;
	}
	mb->block_at = at;
	mb->block_len = got;
	if (got < need) {
		errno = ENODATA;
		return NULL;
	}
	return mb->block;
}

/* The first block of the extent, once it is checked that the message is
 * still exactly where it was indexed; *got is its length. */
static const unsigned char *read_checked(struct mailbox *mb,
					 const struct extent *e, size_t *got)
{
	unsigned char tail[8];
	size_t first = e->end - e->begin < IO_BLOCK ? (size_t)(e->end - e->begin)
						    : IO_BLOCK;
	size_t tail_len = (size_t)(e->end - e->text_end);
	const unsigned char *p = tail_len <= sizeof(tail)
					 ? file_bytes(mb, e->begin, first)
					 : NULL;

	*got = first;
	if (!p || !is_message_start(p, e->before))
		return NULL;
	if (e->begin + first == e->end)
		return is_message_end(p + (e->text_end - e->begin), tail_len,
				      e->next_follows)
			       ? p
			       : NULL;
	return pread_full(mb->fd, tail, tail_len, e->text_end) &&
		       is_message_end(tail, tail_len, e->next_follows)
		   ? p
		   : NULL;
}

/* Sends the text: first what read_checked found, then the rest a block
 * at a time. */
static enum mbox_status stream_message(struct mailbox *mb,
				       const struct extent *e,
				       const unsigned char *first, size_t got,
				       uint64_t body_lines, struct netio *io)
{
	struct wire_text sd;

	wire_text_start(&sd, io, body_lines);
	uint64_t block_end = e->begin + got, offset = e->text;

	/* A "From " line longer than a block leaves no text in it. */
	if (offset < block_end) {
		uint64_t upto = block_end < e->text_end ? block_end : e->text_end;
		wire_text_send(&sd, first + (offset - e->begin), (size_t)(upto - offset));
		offset = upto;
	}
	while (offset < e->text_end && !sd.done && !io->write_failed) {
		uint64_t left = e->text_end - offset;
		size_t n = left < IO_BLOCK ? (size_t)left : IO_BLOCK;
		const unsigned char *p = file_bytes(mb, offset, n);
		if (!p) {
			syslog(LOG_ERR, "%s: read: %m", mb->path);
			return MBOX_TEMPFAIL;
		}
		wire_text_send(&sd, p, n);
		offset += n;
	}
	wire_text_end(&sd);
	return io->write_failed ? MBOX_GONE : MBOX_OK;
}

enum mbox_status mailbox_send(struct mailbox *mb, size_t msg,
			      uint64_t body_lines, const char *status_line,
			      struct netio *io)
{
	struct extent e = message_extent(mb, msg);
	size_t got;
	const unsigned char *first = read_checked(mb, &e, &got);

	if (!first) {
		syslog(LOG_ERR, "%s: message %zu is not where it was indexed "
				"(changed by another program?): %m",
		       mb->path, msg + 1);
		return MBOX_CHANGED;
	}
	netio_puts(io, status_line);
	netio_write(io, "\r\n", 2);
	return stream_message(mb, &e, first, got, body_lines, io);
}

/* ---- updating ---- */

/* Still the file we indexed, and its indexed part unchanged as far as
 * its end and the first deleted message's start can tell. */
static bool unchanged_since_scan(struct mailbox *mb, size_t from)
{
	struct stat now, path_now;
	uint8_t digest[CONTENT_DIGEST_SIZE];

	if (fstat(mb->fd, &now) != 0 || lstat(mb->path, &path_now) != 0)
		return false;
	if (now.st_dev != mb->dev || now.st_ino != mb->ino ||
	    path_now.st_dev != mb->dev || path_now.st_ino != mb->ino ||
	    (uint64_t)now.st_size < mb->indexed_end)
		return false;
	return tail_digest(mb->fd, mb->indexed_end, digest) &&
	       memcmp(digest, mb->tail_digest, CONTENT_DIGEST_SIZE) == 0 &&
	       check_start(mb, mb->msgs[from].start);
}

/* Every run of kept messages still begins with a "From " line where it
 * was indexed: with the checks above, a message moved by another program
 * shows before anything is written. */
static bool runs_in_place(struct mailbox *mb, const struct text_run *runs,
			  size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (runs[i].offset < mb->indexed_end && !check_start(mb, runs[i].offset))
			return false;
	return true;
}

static size_t first_deleted(const struct mailbox *mb)
{
	size_t i = 0;
	while (i < mb->count && !mb->msgs[i].deleted)
		i++;
	return i;
}

/* The kept messages after the first deleted one, adjacent ones merged,
 * then whatever was delivered during the session.  Returns the count. */
static size_t kept_text(struct mailbox *mb, size_t first, uint64_t file_end,
			struct text_run *runs)
{
	size_t n = 0;

	for (size_t i = first; i < mb->count; i++) {
		if (mb->msgs[i].deleted)
			continue;
		uint64_t start = mb->msgs[i].start, end = message_end(mb, i);
		if (n > 0 && runs[n - 1].offset + runs[n - 1].length == start)
			runs[n - 1].length += end - start;
		else
			runs[n++] = (struct text_run){ start, end - start };
	}
	if (file_end > mb->indexed_end)
		runs[n++] = (struct text_run){ mb->indexed_end,
					       file_end - mb->indexed_end };
	return n;
}

static void retire(struct mailbox *mb, const struct uidl_entry *id)
{
	if (mb->retired_count == MAX_RETIRED_IDS) {
		memmove(mb->retired, mb->retired + 1,
			(mb->retired_count - 1) * sizeof(*mb->retired));
		mb->retired_count--;
	}
	mb->retired[mb->retired_count++] = uidl_key(id, mb->xuidl_pool);
}

/* The index of the file as the update left it: kept messages moved up
 * over the deleted ones, deleted ids retired.  Under the write lock, so
 * size, mtime and last block are the update's own. */
static void reindex_after_update(struct mailbox *mb, size_t first)
{
	struct stat st;
	uint64_t shift = 0;
	size_t out = first;
	bool last_kept = !mb->msgs[mb->count - 1].deleted;
	size_t room = mb->retired_count + (mb->count - first);
	uint64_t *retired = realloc(mb->retired, (room + 1) * sizeof(*retired));

	if (!retired)
		return; /* the next session rescans */
	mb->retired = retired;
	for (size_t i = first; i < mb->count; i++) {
		uint64_t region = message_end(mb, i) - mb->msgs[i].start;
		if (mb->msgs[i].deleted) {
			retire(mb, &mb->ids[i]);
			shift += region;
			continue;
		}
		mb->msgs[out] = mb->msgs[i];
		mb->msgs[out].start -= shift;
		mb->msgs[out].data -= shift;
		mb->ids[out] = mb->ids[i];
		out++;
	}
	mb->count = out;
	mb->indexed_end -= shift;
	/* A message that had a successor ends with its separator. */
	mb->appendable = mb->appendable || !last_kept;
	if (fstat(mb->fd, &st) != 0 ||
	    !tail_digest(mb->fd, mb->indexed_end, mb->tail_digest))
		return;
	mb->mtime = st.st_mtim;
	mb->index_stale = true;
}

static enum mbox_status rewrite(struct mailbox *mb, size_t first)
{
	struct stat st;

	if (!unchanged_since_scan(mb, first)) {
		syslog(LOG_ERR, "%s: changed by someone else during the session; "
				"no messages deleted", mb->path);
		return MBOX_CHANGED;
	}
	if (fstat(mb->fd, &st) != 0)
		return MBOX_TEMPFAIL;
	struct text_run *runs = calloc(mb->count - first + 1, sizeof(*runs));
	if (!runs)
		return MBOX_TEMPFAIL;
	size_t n = kept_text(mb, first, (uint64_t)st.st_size, runs);
	/* Size and mtime as the scan saw them: nothing has written to the
	 * file since (the index trusts the same sign); otherwise the moves
	 * are checked one by one. */
	bool untouched = (uint64_t)st.st_size == mb->indexed_end &&
			 st.st_mtim.tv_sec == mb->mtime.tv_sec &&
			 st.st_mtim.tv_nsec == mb->mtime.tv_nsec;
	if (!untouched && !runs_in_place(mb, runs, n)) {
		free(runs);
		syslog(LOG_ERR, "%s: a kept message moved during the session; "
				"no messages deleted", mb->path);
		return MBOX_CHANGED;
	}
	enum journal_result r =
	    journal_rewrite(mb->fd, mb->state_dir, mb->msgs[first].start, runs, n,
			    mb->block);
	free(runs);
	if (r != JOURNAL_DONE)
		return r == JOURNAL_PENDING ? MBOX_UNFINISHED : MBOX_TEMPFAIL;
	reindex_after_update(mb, first);
	return MBOX_OK;
}

enum mbox_status mailbox_update(struct mailbox *mb)
{
	size_t first = first_deleted(mb);

	if (first == mb->count)
		return MBOX_OK;
	if (!mb->writable) {
		syslog(LOG_ERR, "%s: not writable; no messages deleted", mb->path);
		return MBOX_PERMFAIL;
	}
	if (!mb->state_dir) {
		syslog(LOG_ERR, "%s: no state directory for the update journal; "
				"no messages deleted", mb->path);
		return MBOX_TEMPFAIL;
	}
	if (!fcntl_lock(mb->fd, F_WRLCK)) {
		syslog(LOG_ERR, "%s: lock: %m", mb->path);
		return MBOX_TEMPFAIL;
	}
	enum mbox_status st = rewrite(mb, first);
	fcntl_unlock(mb->fd);
	mb->block_len = 0; /* the file has moved under it */
	if (st == MBOX_OK)
		save_index(mb);
	return st;
}
