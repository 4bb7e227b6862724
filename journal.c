/*
 * Crash-safe rewrite of the end of an mbox.  See journal.h.
 *
 * Journal file: a header, the new text, a trailer (digest of header and
 * text, end mark).  The file stays in the state directory for good and is
 * empty when nothing is pending: no directory entry to create, rename or
 * remove per update, so an update costs three fsyncs (journal, mbox text,
 * mbox truncation).  A journal that is not whole (a crash while it was
 * written) never reached the mbox and is discarded.
 *
 * Recovery must tell apart, for a whole journal found at start-up:
 *  (a) rewrite started, not finished: the file is at least old_end long
 *      and still holds the old bytes after new_end (the rewrite writes only
 *      below new_end); mail delivered since is after old_end.  Finish the
 *      rewrite and keep that mail.
 *  (b) rewrite finished (truncated to new_end), journal not yet cleared;
 *      mail delivered since starts at new_end, and [start, new_end) holds
 *      the journal's text.  Only clear the journal.
 * The header keeps a fingerprint of the old bytes just after new_end:
 * present means (a); cut off, with the new text in place, means (b);
 * anything else means someone else changed the mbox, and it is left alone.
 */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "fault.h"
#include "fileio.h"
#include "params.h"
#include "uidl.h"

#define JOURNAL_FILE "journal"
#define JOURNAL_TEMP "journal.tmp" /* only while recovery extends a journal */
#define JOURNAL_ASIDE "journal.unusable"
#define FINGERPRINT_SPAN 4096
/* Text moves through a buffer this big: few writes, bounded memory. */
#define COPY_BUFFER IO_BLOCK

static const char header_magic[8] = { 'P', '3', 'S', 'J', 'R', 'N', '0', '1' };
static const char trailer_magic[8] = { 'P', '3', 'S', 'J', 'E', 'N', 'D', '1' };

enum { HEADER_FIELDS = 7, HEADER_SIZE = 8 + HEADER_FIELDS * 8 + 16,
       TRAILER_SIZE = 16 + 8 };

struct journal_header {
	uint64_t dev;
	uint64_t ino;
	uint64_t start;    /* where the new text goes */
	uint64_t old_end;  /* size of the mbox when the rewrite began */
	uint64_t new_end;  /* start + text_len */
	uint64_t text_len;
	uint64_t fingerprint_len;
	uint8_t fingerprint[16]; /* of old bytes [new_end, +fingerprint_len) */
};

struct paths {
	char journal[4096];
	char temp[4096];
	char aside[4096];
};

static bool make_paths(struct paths *p, const char *dir)
{
	return join_path(p->journal, sizeof(p->journal), dir, JOURNAL_FILE) &&
	       join_path(p->temp, sizeof(p->temp), dir, JOURNAL_TEMP) &&
	       join_path(p->aside, sizeof(p->aside), dir, JOURNAL_ASIDE);
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void encode_header(const struct journal_header *h, unsigned char *out)
{
	const uint64_t fields[HEADER_FIELDS] = { h->dev,     h->ino,
						 h->start,   h->old_end,
						 h->new_end, h->text_len,
						 h->fingerprint_len };
	memcpy(out, header_magic, 8);
	for (int i = 0; i < HEADER_FIELDS; i++)
		put_u64(out + 8 + 8 * i, fields[i]);
	memcpy(out + 8 + 8 * HEADER_FIELDS, h->fingerprint, 16);
}

static bool decode_header(const unsigned char *in, struct journal_header *h)
{
	uint64_t f[HEADER_FIELDS];

	if (memcmp(in, header_magic, 8) != 0)
		return false;
	for (int i = 0; i < HEADER_FIELDS; i++)
		f[i] = get_u64(in + 8 + 8 * i);
	*h = (struct journal_header){ .dev = f[0], .ino = f[1], .start = f[2],
				      .old_end = f[3], .new_end = f[4],
				      .text_len = f[5], .fingerprint_len = f[6] };
	memcpy(h->fingerprint, in + 8 + 8 * HEADER_FIELDS, 16);
	return h->text_len <= UINT64_MAX - h->start &&
	       h->new_end == h->start + h->text_len && h->new_end < h->old_end &&
	       h->fingerprint_len <= FINGERPRINT_SPAN;
}

/* Collects text from its sources in one buffer and writes it out a full
 * buffer at a time: an update with thousands of kept messages costs one
 * read each but few writes. */
struct copier {
	int to;
	uint64_t at; /* where the buffer goes in `to` */
	size_t len;
	struct uidl_hash *hash; /* fed everything written, if set */
	char *buf;
};

static bool copier_start(struct copier *c, int to, uint64_t at,
			 struct uidl_hash *hash)
{
	*c = (struct copier){ .to = to, .at = at, .hash = hash };
	c->buf = malloc(COPY_BUFFER);
	return c->buf != NULL;
}

static bool message_starts(const char *p, size_t n)
{
	return n >= 5 && memcmp(p, "From ", 5) == 0;
}

static bool copier_flush(struct copier *c)
{
	if (c->hash)
		uidl_hash_update(c->hash, c->buf, c->len);
	FAULT_POINT("copy block");
	bool ok = pwrite_full(c->to, c->buf, c->len, c->at);
	c->at += c->len;
	c->len = 0;
	return ok;
}

static bool copier_add(struct copier *c, int from, uint64_t offset,
		       uint64_t len, bool is_message)
{
	/* A message's first five bytes are checked in the buffer: keep them
	 * in one piece. */
	if (is_message && COPY_BUFFER - c->len < 5 && !copier_flush(c))
		return false;
	while (len > 0) {
		if (c->len == COPY_BUFFER && !copier_flush(c))
			return false;
		size_t n = COPY_BUFFER - c->len < len ? COPY_BUFFER - c->len
						       : (size_t)len;
		if (!pread_full(from, c->buf + c->len, n, offset))
			return false;
		if (is_message && !message_starts(c->buf + c->len, n)) {
			errno = ESTALE;
			return false;
		}
		is_message = false;
		c->len += n;
		offset += n;
		len -= n;
	}
	return true;
}

/* Flushes what is left and frees the buffer; false if any step failed. */
static bool copier_finish(struct copier *c, bool ok)
{
	ok = ok && (c->len == 0 || copier_flush(c));
	free(c->buf);
	return ok;
}

static bool same_bytes(int a, uint64_t a_off, int b, uint64_t b_off,
		       uint64_t len, bool *equal)
{
	char *x = malloc(IO_BLOCK), *y = malloc(IO_BLOCK);
	bool ok = x && y;

	*equal = true;
	while (ok && *equal && len > 0) {
		size_t n = len < IO_BLOCK ? (size_t)len : IO_BLOCK;
		ok = pread_full(a, x, n, a_off) && pread_full(b, y, n, b_off);
		*equal = ok && memcmp(x, y, n) == 0;
		a_off += n;
		b_off += n;
		len -= n;
	}
	free(x);
	free(y);
	return ok;
}

static bool fingerprint(int fd, uint64_t offset, uint64_t len, uint8_t out[16])
{
	char buf[FINGERPRINT_SPAN];
	struct uidl_hash h;

	if (!pread_full(fd, buf, (size_t)len, offset))
		return false;
	uidl_hash_init(&h);
	uidl_hash_update(&h, buf, (size_t)len);
	uidl_hash_final(&h, out);
	return true;
}

/* RLIMIT_FSIZE fails a write that reaches past it even inside an existing
 * file (EFBIG), so an update that would meet it half-way must not start. */
static bool below_size_limit(uint64_t end)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    end > (uint64_t)rl.rlim_cur) {
		errno = EFBIG;
		return false;
	}
	return true;
}

/* The new text to the mbox, durably, then the mbox cut to its new end. */
static bool apply(int mbox_fd, int journal_fd, const struct journal_header *h)
{
	struct copier c;

	if (!below_size_limit(h->new_end))
		return false;
	FAULT_POINT("apply start");
	if (!copier_start(&c, mbox_fd, h->start, NULL) ||
	    !copier_finish(&c, copier_add(&c, journal_fd, HEADER_SIZE, h->text_len,
					  false)))
		return false;
	FAULT_POINT("apply before fsync");
	if (fsync(mbox_fd) != 0)
		return false;
	FAULT_POINT("apply before truncate");
	if (ftruncate(mbox_fd, (off_t)h->new_end) != 0)
		return false;
	FAULT_POINT("apply before final fsync");
	return fsync(mbox_fd) == 0;
}

static bool write_journal(int fd, struct journal_header *h,
			  const struct text_source *src, size_t count)
{
	unsigned char header[HEADER_SIZE], trailer[TRAILER_SIZE];
	struct uidl_hash hash;
	struct copier c;
	bool ok = true;

	encode_header(h, header);
	uidl_hash_init(&hash);
	uidl_hash_update(&hash, header, sizeof(header));
	FAULT_POINT("journal header");
	if (ftruncate(fd, 0) != 0 || !pwrite_full(fd, header, sizeof(header), 0) ||
	    !copier_start(&c, fd, HEADER_SIZE, &hash))
		return false;
	for (size_t i = 0; ok && i < count; i++)
		ok = copier_add(&c, src[i].fd, src[i].offset, src[i].length,
				src[i].is_message);
	uint64_t at = HEADER_SIZE + h->text_len;
	if (!copier_finish(&c, ok))
		return false;
	uidl_hash_final(&hash, trailer);
	memcpy(trailer + 16, trailer_magic, 8);
	FAULT_POINT("journal trailer");
	if (!pwrite_full(fd, trailer, sizeof(trailer), at))
		return false;
	FAULT_POINT("journal fsync");
	return fsync(fd) == 0;
}

/* The journal file, created once (and its name made durable then). */
static int open_journal(const struct paths *p, const char *dir)
{
	struct stat st;
	int fd = open(p->journal, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);

	if (fd >= 0) {
		if (fsync_directory(dir))
			return fd;
		close(fd);
		unlink(p->journal);
		return -1;
	}
	if (errno != EEXIST)
		return -1;
	fd = open(p->journal, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
			st.st_uid != geteuid() || (st.st_mode & 022))) {
		syslog(LOG_ERR, "%s: not a private file of ours", p->journal);
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* Nothing pending any more.  Not fsync'd: a journal that comes back after
 * a power cut is recognised as finished (case (b) above). */
static void clear_journal(int fd, const struct paths *p)
{
	FAULT_POINT("journal clear");
	if (ftruncate(fd, 0) != 0)
		syslog(LOG_WARNING, "%s: cannot clear: %m", p->journal);
}

/* Writes a new journal over the old through a temporary name, so that the
 * old one stays whole until the new one is (recovery uses this when mail
 * arrived after a crash and the text to write grows). */
static int replace_journal(const struct paths *p, const char *dir,
			   struct journal_header *h,
			   const struct text_source *src, size_t count)
{
	if (unlink(p->temp) != 0 && errno != ENOENT)
		return -1;
	int fd = open(p->temp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	if (fd < 0)
		return -1;
	if (write_journal(fd, h, src, count) && rename(p->temp, p->journal) == 0 &&
	    fsync_directory(dir))
		return fd;
	int saved = errno;
	unlink(p->temp);
	close(fd);
	errno = saved;
	return -1;
}

/* Fills in the header for replacing [start, end of file) by count sources. */
static bool plan(int mbox_fd, uint64_t start, const struct text_source *src,
		 size_t count, struct journal_header *h)
{
	struct stat st;

	*h = (struct journal_header){ .start = start };
	for (size_t i = 0; i < count; i++)
		h->text_len += src[i].length;
	if (fstat(mbox_fd, &st) != 0)
		return false;
	h->dev = (uint64_t)st.st_dev;
	h->ino = (uint64_t)st.st_ino;
	h->old_end = (uint64_t)st.st_size;
	h->new_end = start + h->text_len;
	if (h->new_end >= h->old_end) {
		errno = EINVAL; /* a rewrite here only ever shrinks the file */
		return false;
	}
	h->fingerprint_len = h->old_end - h->new_end < FINGERPRINT_SPAN
				 ? h->old_end - h->new_end
				 : FINGERPRINT_SPAN;
	return below_size_limit(h->new_end) &&
	       below_size_limit(HEADER_SIZE + h->text_len + TRAILER_SIZE) &&
	       fingerprint(mbox_fd, h->new_end, h->fingerprint_len,
			   h->fingerprint);
}

/* Only cutting off the end: one ftruncate is atomic, no journal needed;
 * a power cut before the fsync can only undo the deletion. */
static enum journal_result truncate_only(int mbox_fd, uint64_t start)
{
	FAULT_POINT("truncate only");
	if (ftruncate(mbox_fd, (off_t)start) != 0) {
		syslog(LOG_ERR, "mbox truncate: %m");
		return JOURNAL_NOTHING;
	}
	FAULT_POINT("truncate only fsync");
	if (fsync(mbox_fd) != 0) {
		syslog(LOG_ERR, "mbox fsync: %m");
		return JOURNAL_PENDING;
	}
	return JOURNAL_DONE;
}

static enum journal_result apply_and_clear(int mbox_fd, int fd,
					   const struct journal_header *h,
					   const struct paths *p)
{
	if (!apply(mbox_fd, fd, h)) {
		syslog(LOG_ERR, "mbox rewrite failed, journal %s kept for the "
				"next session: %m", p->journal);
		return JOURNAL_PENDING;
	}
	clear_journal(fd, p);
	return JOURNAL_DONE;
}

enum journal_result journal_rewrite(int mbox_fd, const char *state_dir,
				    uint64_t start,
				    const struct text_source *sources,
				    size_t count)
{
	struct paths p;
	struct journal_header h;
	int fd = -1;

	if (!make_paths(&p, state_dir) || !plan(mbox_fd, start, sources, count, &h)) {
		syslog(LOG_ERR, "%s: cannot plan the update: %m", state_dir);
		return JOURNAL_NOTHING;
	}
	if (h.text_len == 0)
		return truncate_only(mbox_fd, start);
	if ((fd = open_journal(&p, state_dir)) < 0 ||
	    !write_journal(fd, &h, sources, count)) {
		bool stale = errno == ESTALE;
		if (!stale)
			syslog(LOG_ERR, "%s: cannot write the update journal: %m",
			       p.journal);
		if (fd >= 0) {
			clear_journal(fd, &p);
			close(fd);
		}
		return stale ? JOURNAL_STALE : JOURNAL_NOTHING;
	}
	enum journal_result r = apply_and_clear(mbox_fd, fd, &h, &p);
	close(fd);
	return r;
}

/* A journal we cannot use is kept for the administrator, never deleted. */
static void set_aside(const struct paths *p, const char *why)
{
	syslog(LOG_CRIT, "%s: %s; renamed to %s for inspection", p->journal, why,
	       p->aside);
	if (rename(p->journal, p->aside) != 0)
		syslog(LOG_CRIT, "%s: rename: %m", p->journal);
}

static bool read_journal(int fd, const struct stat *st, struct journal_header *h)
{
	unsigned char header[HEADER_SIZE], trailer[TRAILER_SIZE], digest[16];
	struct uidl_hash hash;

	if ((uint64_t)st->st_size < HEADER_SIZE + TRAILER_SIZE ||
	    !pread_full(fd, header, sizeof(header), 0) || !decode_header(header, h) ||
	    (uint64_t)st->st_size != HEADER_SIZE + h->text_len + TRAILER_SIZE ||
	    !pread_full(fd, trailer, sizeof(trailer), HEADER_SIZE + h->text_len))
		return false;
	uidl_hash_init(&hash);
	uidl_hash_update(&hash, header, sizeof(header));
	char *buf = malloc(IO_BLOCK);
	bool ok = buf != NULL;
	for (uint64_t done = 0; ok && done < h->text_len;) {
		size_t n = h->text_len - done < IO_BLOCK ? (size_t)(h->text_len - done)
							  : IO_BLOCK;
		ok = pread_full(fd, buf, n, HEADER_SIZE + done);
		uidl_hash_update(&hash, buf, n);
		done += n;
	}
	free(buf);
	uidl_hash_final(&hash, digest);
	return ok && memcmp(digest, trailer, 16) == 0 &&
	       memcmp(trailer + 16, trailer_magic, 8) == 0;
}

/* Case (a) of the comment at the top: the old bytes after new_end are
 * still there. */
static bool old_tail_present(int mbox_fd, const struct journal_header *h,
			     uint64_t size)
{
	uint8_t now[16];

	return size >= h->old_end &&
	       fingerprint(mbox_fd, h->new_end, h->fingerprint_len, now) &&
	       memcmp(now, h->fingerprint, 16) == 0;
}

/* Completes the rewrite; mail delivered after the crash (beyond old_end)
 * becomes part of the new text, through a new journal. */
static bool finish(int mbox_fd, int fd, const struct journal_header *h,
		   uint64_t size, const struct paths *p, const char *dir)
{
	struct journal_header grown;

	if (size == h->old_end)
		return apply_and_clear(mbox_fd, fd, h, p) == JOURNAL_DONE;
	struct text_source src[2] = {
		{ fd, false, HEADER_SIZE, h->text_len },
		{ mbox_fd, false, h->old_end, size - h->old_end },
	};
	if (!plan(mbox_fd, h->start, src, 2, &grown))
		return false;
	int new_fd = replace_journal(p, dir, &grown, src, 2);
	if (new_fd < 0)
		return false;
	bool ok = apply_and_clear(mbox_fd, new_fd, &grown, p) == JOURNAL_DONE;
	close(new_fd);
	return ok;
}

static bool recover_from(int mbox_fd, int fd, const struct stat *jst,
			 const struct paths *p, const char *dir)
{
	struct journal_header h;
	struct stat st;
	bool written;

	if (!S_ISREG(jst->st_mode) || jst->st_uid != geteuid() ||
	    (jst->st_mode & 022)) {
		syslog(LOG_CRIT, "%s: not a regular file of ours, not replayed",
		       p->journal);
		return false;
	}
	if (!read_journal(fd, jst, &h)) {
		/* Torn while being written: the mbox was never touched. */
		syslog(LOG_NOTICE, "%s: incomplete journal discarded", p->journal);
		clear_journal(fd, p);
		return true;
	}
	if (fstat(mbox_fd, &st) != 0)
		return false;
	if (h.dev != (uint64_t)st.st_dev || h.ino != (uint64_t)st.st_ino) {
		set_aside(p, "journal of a maildrop that has since been replaced");
		return true;
	}
	uint64_t size = (uint64_t)st.st_size;
	if (old_tail_present(mbox_fd, &h, size)) {
		syslog(LOG_NOTICE, "%s: finishing an interrupted update", p->journal);
		return finish(mbox_fd, fd, &h, size, p, dir);
	}
	if (size >= h.new_end &&
	    same_bytes(mbox_fd, h.start, fd, HEADER_SIZE, h.text_len, &written) &&
	    written) {
		clear_journal(fd, p); /* case (b): finished */
		return true;
	}
	set_aside(p, "maildrop changed by someone else after an interrupted "
		     "update; left as it is");
	return false;
}

bool journal_recover(int mbox_fd, const char *state_dir)
{
	struct paths p;
	struct stat jst;

	if (!make_paths(&p, state_dir))
		return false;
	/* A journal.tmp that was never renamed never reached the mbox. */
	if (unlink(p.temp) != 0 && errno != ENOENT)
		syslog(LOG_WARNING, "%s: unlink: %m", p.temp);
	int fd = open(p.journal, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return true;
		syslog(LOG_ERR, "%s: %m", p.journal);
		return false;
	}
	bool ok = fstat(fd, &jst) == 0 &&
		  (jst.st_size == 0 || recover_from(mbox_fd, fd, &jst, &p, state_dir));
	if (!ok)
		syslog(LOG_ERR, "%s: recovery failed: %m", p.journal);
	close(fd);
	return ok;
}

bool journal_prepare_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return false;
	if (lstat(dir, &st) != 0)
		return false;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		syslog(LOG_ERR, "%s: not a private directory of ours, not used", dir);
		errno = EPERM;
		return false;
	}
	return true;
}
