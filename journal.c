/*
 * Crash-safe rewrite of the end of an mbox.  See journal.h.
 *
 * Every run of kept text moves to a lower offset, by its shift (how much
 * deleted text lies before it), and shifts only grow along the file.  So
 * a window of the new text [w, w + L) with L no larger than the shift at w
 * reads nothing but old text at or beyond w + L: a crash while it is being
 * written leaves its sources intact, and it can simply be written again.
 * Once it is durable, a checkpoint in the journal says so, and only then
 * may the next window overwrite its sources.  Where shifts are small (the
 * first deletions are a few small messages) such windows would be tiny and
 * each costs two fdatasyncs; that first part of the new text, the prefix,
 * is copied into the journal instead and written again from there.
 * Windows grow with the shift, so an update has at most about MAX_WINDOWS
 * of them (params.h).
 *
 * Journal file, in the state directory for good and empty when nothing is
 * pending: a header, the runs, the prefix, a trailer (digest of all three,
 * end mark), then two checkpoint slots written alternately, each with its
 * own check, so a torn slot leaves the other.
 *
 * The file is cut at new_end only when the new text is durable, and only
 * after a mark -- a random value from the header, beginning with a NUL,
 * which no MDA's "From " line does -- has been written at new_end and a
 * checkpoint says so.  Recovery, for a whole journal found at start-up:
 *  (a) not marked: nothing was cut; the file is at least old_end long and
 *      still holds the old bytes after the mark's place (the rewrite
 *      writes only below new_end); mail delivered since is after old_end.
 *      Finish from the last checkpoint and keep that mail.
 *  (b) marked and the mark still there: the same, with all text in place.
 *  (c) marked and the mark gone: the file was cut, and mail delivered since
 *      starts at new_end.  Only clear the journal.
 * A fingerprint of the old bytes after the mark's place and a digest of
 * the last bytes of the new text check (a) and (c): a file that fails them
 * was changed by someone else, and is left alone.
 *
 * POP3_PLANTED_* (test builds only, tests/bin/pop3-stdio-planted-*, never
 * ./pop3-stdio): each removes one of the steps above on purpose, to show
 * that the power-cut simulator (tests/powercut/) notices: the journal's
 * fsync, a window's fdatasync, or the order of mark and cut.
 */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "byteorder.h"
#include "contenthash.h"
#include "fault.h"
#include "fileio.h"
#include "params.h"

#define JOURNAL_FILE "journal"
#define JOURNAL_TEMP "journal.tmp" /* only while recovery extends a journal */
#define JOURNAL_ASIDE "journal.unusable"
#define FINGERPRINT_SPAN 4096
#define MARK_SPAN 16
/* Text moves through the caller's buffer (journal.h): few writes,
 * bounded memory. */
#define COPY_BUFFER JOURNAL_BUFFER
/* Written text is sent on its way to the disk in pieces this big. */
#define WRITEBACK_CHUNK (4u << 20)

static const char header_magic[8] = { 'P', '3', 'S', 'J', 'R', 'N', '0', '2' };
static const char trailer_magic[8] = { 'P', '3', 'S', 'J', 'E', 'N', 'D', '2' };
static const char slot_magic[8] = { 'P', '3', 'S', 'J', 'C', 'K', 'P', '2' };

enum { HEADER_FIELDS = 9,
       HEADER_SIZE = 8 + HEADER_FIELDS * 8 + 2 * CONTENT_DIGEST_SIZE + MARK_SPAN,
       RUN_SIZE = 16, TRAILER_SIZE = CONTENT_DIGEST_SIZE + 8, SLOT_SIZE = 40, SLOTS = 2 };

/* What the journal holds; the runs' destinations are derived from it. */
struct plan {
	uint64_t dev;
	uint64_t ino;
	uint64_t start;      /* where the new text goes */
	uint64_t old_end;    /* size of the mbox when the rewrite began */
	uint64_t new_end;    /* start + the runs' total length */
	uint64_t prefix_len; /* the first new text, kept in the journal */
	uint64_t fingerprint_len;
	uint64_t tail_len;
	/* digests of old bytes after the mark's place, and of new bytes
	 * [new_end - tail_len, new_end) */
	uint8_t fingerprint[CONTENT_DIGEST_SIZE];
	uint8_t tail[CONTENT_DIGEST_SIZE];
	unsigned char mark[MARK_SPAN]; /* written at new_end before the cut */
	size_t count;
	const struct text_run *runs;
	struct text_run *owned; /* runs read from a journal, else NULL */
	size_t cursor;          /* the run last looked up (run_at) */
	uint64_t cursor_dst;    /* where it goes */
};

/* A rewrite under way: the plan, and how far the mbox holds it durably. */
struct rewrite {
	int mbox;
	int journal;
	struct plan *plan;
	uint64_t done;          /* new text below here is durable */
	bool marked;            /* and the mark, too: the file may be cut */
	bool prefix_in_journal; /* whole and durable there, */
	uint64_t prefix_offset; /* at this offset */
	uint64_t seq;           /* of the last checkpoint */
	char *buf;
};

struct paths {
	char journal[PATH_BUFFER];
	char temp[PATH_BUFFER];
	char aside[PATH_BUFFER];
};

static bool make_paths(struct paths *p, const char *dir)
{
	return join_path(p->journal, sizeof(p->journal), dir, JOURNAL_FILE) &&
	       join_path(p->temp, sizeof(p->temp), dir, JOURNAL_TEMP) &&
	       join_path(p->aside, sizeof(p->aside), dir, JOURNAL_ASIDE);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ---- layout ---- */

static uint64_t prefix_at(const struct plan *p)
{
	return HEADER_SIZE + (uint64_t)p->count * RUN_SIZE;
}

static uint64_t trailer_at(const struct plan *p)
{
	return prefix_at(p) + p->prefix_len;
}

static uint64_t slot_at(const struct plan *p, unsigned slot)
{
	return trailer_at(p) + TRAILER_SIZE + (uint64_t)slot * SLOT_SIZE;
}

static uint64_t journal_size(const struct plan *p)
{
	return slot_at(p, SLOTS);
}

/* The mark takes the first bytes of what is cut off, 16 or fewer. */
static uint64_t mark_len(const struct plan *p)
{
	return min_u64(p->old_end - p->new_end, MARK_SPAN);
}

static void encode_header(const struct plan *p, unsigned char *out)
{
	const uint64_t fields[HEADER_FIELDS] = {
		p->dev,	       p->ino,        p->start,
		p->old_end,    p->new_end,    (uint64_t)p->count,
		p->prefix_len, p->fingerprint_len, p->tail_len
	};
	memcpy(out, header_magic, 8);
	for (int i = 0; i < HEADER_FIELDS; i++)
		le64_store(out + 8 + 8 * i, fields[i]);
	memcpy(out + 8 + 8 * HEADER_FIELDS, p->fingerprint, CONTENT_DIGEST_SIZE);
	memcpy(out + 8 + 8 * HEADER_FIELDS + CONTENT_DIGEST_SIZE, p->tail,
	       CONTENT_DIGEST_SIZE);
	memcpy(out + 8 + 8 * HEADER_FIELDS + 32, p->mark, MARK_SPAN);
}

/* The header's fields, checked against each other and against the size
 * of the journal file (which bounds the run count). */
static bool decode_header(const unsigned char *in, uint64_t file_size,
			  struct plan *p)
{
	uint64_t f[HEADER_FIELDS];

	if (memcmp(in, header_magic, 8) != 0)
		return false;
	for (int i = 0; i < HEADER_FIELDS; i++)
		f[i] = le64_load(in + 8 + 8 * i);
	*p = (struct plan){ .dev = f[0], .ino = f[1], .start = f[2],
			    .old_end = f[3], .new_end = f[4],
			    .prefix_len = f[6], .fingerprint_len = f[7],
			    .tail_len = f[8] };
	memcpy(p->fingerprint, in + 8 + 8 * HEADER_FIELDS, CONTENT_DIGEST_SIZE);
	memcpy(p->tail, in + 8 + 8 * HEADER_FIELDS + CONTENT_DIGEST_SIZE,
	       CONTENT_DIGEST_SIZE);
	memcpy(p->mark, in + 8 + 8 * HEADER_FIELDS + 32, MARK_SPAN);
	if (f[5] > file_size / RUN_SIZE || p->start >= p->new_end ||
	    p->new_end >= p->old_end || p->prefix_len > p->new_end - p->start ||
	    p->prefix_len > file_size || p->fingerprint_len > FINGERPRINT_SPAN ||
	    p->tail_len > FINGERPRINT_SPAN || p->tail_len > p->new_end - p->start)
		return false;
	p->count = (size_t)f[5];
	return journal_size(p) == file_size;
}

/* Runs ascending, each after its destination, none overlapping the next,
 * all inside the old file, adding up to the new text. */
static bool check_runs(const struct plan *p)
{
	uint64_t at = p->start; /* where run i goes */
	uint64_t last_end = at; /* where run i - 1 ended */

	for (size_t i = 0; i < p->count; i++) {
		const struct text_run *r = &p->runs[i];
		if (r->length == 0 || r->offset <= at || r->offset < last_end ||
		    r->offset > p->old_end || r->length > p->old_end - r->offset)
			return false;
		at += r->length;
		last_end = r->offset + r->length;
	}
	return at == p->new_end;
}

/* The runs: the caller's array (given), or room for reading them. */
static bool set_runs(struct plan *p, size_t count, const struct text_run *given)
{
	p->count = count;
	p->runs = given;
	if (!given)
		p->runs = p->owned = calloc(count ? count : 1, sizeof(*p->owned));
	p->cursor = 0;
	p->cursor_dst = p->start;
	return p->runs != NULL;
}

static void free_plan(struct plan *p)
{
	free(p->owned);
	p->runs = p->owned = NULL;
}

/* ---- where the new text is ---- */

/* The run that new text at dst comes from, and where that run goes.
 * Lookups mostly go forward, so each starts from the last (or from the
 * first run when it goes back): a pass over the plan costs a step a run,
 * and no array of destinations is kept. */
static size_t run_at(struct plan *p, uint64_t dst, uint64_t *run_dst)
{
	if (dst < p->cursor_dst) {
		p->cursor = 0;
		p->cursor_dst = p->start;
	}
	while (p->cursor + 1 < p->count &&
	       p->cursor_dst + p->runs[p->cursor].length <= dst) {
		p->cursor_dst += p->runs[p->cursor].length;
		p->cursor++;
	}
	*run_dst = p->cursor_dst;
	return p->cursor;
}

static uint64_t shift_at(struct plan *p, uint64_t dst)
{
	uint64_t run_dst;
	size_t i = run_at(p, dst, &run_dst);
	return p->runs[i].offset - run_dst;
}

/* Where the byte of new text at dst can be read now, and how many bytes
 * after it lie in the same place: in the mbox at dst once it is durably
 * there, in the journal for the prefix, else at its source. */
static void locate(const struct rewrite *j, uint64_t dst, int *fd, uint64_t *at,
		   uint64_t *avail)
{
	struct plan *p = j->plan; /* its lookup cursor moves */

	if (dst < j->done) {
		*fd = j->mbox;
		*at = dst;
		*avail = j->done - dst;
	} else if (j->prefix_in_journal && dst < p->start + p->prefix_len) {
		*fd = j->journal;
		*at = j->prefix_offset + (dst - p->start);
		*avail = p->start + p->prefix_len - dst;
	} else {
		uint64_t run_dst;
		size_t i = run_at(p, dst, &run_dst);
		*fd = j->mbox;
		*at = p->runs[i].offset + (dst - run_dst);
		*avail = run_dst + p->runs[i].length - dst;
	}
}

/* ---- copying ---- */

/* Collects text in the job's buffer and writes it out a full buffer at a
 * time: thousands of runs cost one read each but few writes. */
struct copier {
	int to;
	uint64_t at; /* where the buffer goes in `to` */
	size_t len;
	struct content_hash *hash; /* fed everything written, if set */
	char *buf;
	uint64_t unflushed; /* start of what is written but not yet on its
			     * way to the disk, for early writeback */
};

static struct copier copier_start(const struct rewrite *j, int to, uint64_t at,
				  struct content_hash *hash)
{
	return (struct copier){ .to = to, .at = at, .hash = hash, .buf = j->buf,
				.unflushed = at };
}

/* Starts writing back what the copier has written so far, so that the
 * disk works while the next blocks are copied and the fdatasync that
 * follows has little left to wait for.  Only a hint: durability still
 * comes from that fdatasync. */
static void start_writeback(struct copier *c, uint64_t min)
{
#ifdef SYNC_FILE_RANGE_WRITE
	if (c->at - c->unflushed < min)
		return;
	if (sync_file_range(c->to, (off_t)c->unflushed,
			    (off_t)(c->at - c->unflushed), SYNC_FILE_RANGE_WRITE) != 0)
		syslog(LOG_DEBUG, "sync_file_range: %m");
	c->unflushed = c->at;
#else
	(void)c;
	(void)min;
#endif
}

static bool copier_flush(struct copier *c)
{
	if (c->len == 0)
		return true;
	if (c->hash)
		content_hash_update(c->hash, c->buf, c->len);
	FAULT_POINT("copy block");
	bool ok = pwrite_full(c->to, c->buf, c->len, c->at);
	c->at += c->len;
	c->len = 0;
	start_writeback(c, WRITEBACK_CHUNK);
	return ok;
}

static bool copier_put(struct copier *c, const void *data, size_t len)
{
	if (COPY_BUFFER - c->len < len && !copier_flush(c))
		return false;
	memcpy(c->buf + c->len, data, len);
	c->len += len;
	return true;
}

static bool copier_add(struct copier *c, int from, uint64_t offset, uint64_t len)
{
	while (len > 0) {
		if (c->len == COPY_BUFFER && !copier_flush(c))
			return false;
		size_t n = (size_t)min_u64(COPY_BUFFER - c->len, len);
		if (!pread_full(from, c->buf + c->len, n, offset))
			return false;
		c->len += n;
		offset += n;
		len -= n;
	}
	return true;
}

/* Adds the new text [from, to), from wherever it is now. */
static bool copier_add_text(struct copier *c, const struct rewrite *j,
			    uint64_t from, uint64_t to)
{
	while (from < to) {
		int fd;
		uint64_t at, avail;
		locate(j, from, &fd, &at, &avail);
		uint64_t n = min_u64(avail, to - from);
		if (!copier_add(c, fd, at, n))
			return false;
		from += n;
	}
	return true;
}

/* The new text [from, to) into its place in the mbox. */
static bool write_text(const struct rewrite *j, uint64_t from, uint64_t to)
{
	struct copier c = copier_start(j, j->mbox, from, NULL);
	bool ok = copier_add_text(&c, j, from, to) && copier_flush(&c);
	start_writeback(&c, 1);
	return ok;
}

static bool digest_of(int fd, uint64_t offset, uint64_t len,
		      uint8_t out[CONTENT_DIGEST_SIZE])
{
	char buf[FINGERPRINT_SPAN];
	struct content_hash h;

	if (!pread_full(fd, buf, (size_t)len, offset))
		return false;
	content_hash_init(&h);
	content_hash_update(&h, buf, (size_t)len);
	content_hash_final(&h, out);
	return true;
}

/* The digest of the last tail_len bytes of the new text. */
static bool digest_new_tail(const struct rewrite *j,
			    uint8_t out[CONTENT_DIGEST_SIZE])
{
	const struct plan *p = j->plan;
	struct copier c = copier_start(j, -1, 0, NULL);
	struct content_hash h;

	if (!copier_add_text(&c, j, p->new_end - p->tail_len, p->new_end))
		return false;
	content_hash_init(&h);
	content_hash_update(&h, c.buf, c.len);
	content_hash_final(&h, out);
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

/* ---- checkpoints ---- */

static void encode_slot(unsigned char *out, uint64_t seq, uint64_t done,
			bool marked)
{
	uint8_t check[CONTENT_DIGEST_SIZE];
	struct content_hash h;

	memcpy(out, slot_magic, 8);
	le64_store(out + 8, seq);
	le64_store(out + 16, done);
	le64_store(out + 24, marked);
	content_hash_init(&h);
	content_hash_update(&h, out, 32);
	content_hash_final(&h, check);
	memcpy(out + 32, check, 8);
}

static bool decode_slot(const unsigned char *in, uint64_t *seq, uint64_t *done,
			bool *marked)
{
	unsigned char expect[SLOT_SIZE];
	uint64_t flag = le64_load(in + 24);

	*seq = le64_load(in + 8);
	*done = le64_load(in + 16);
	*marked = flag == 1;
	encode_slot(expect, *seq, *done, *marked);
	return flag <= 1 && memcmp(in, expect, SLOT_SIZE) == 0;
}

/* What is before `at` (and, if marked, the mark) is durable, so the next
 * step may overwrite its sources: the mbox is synced, then the journal
 * says so. */
static bool checkpoint(struct rewrite *j, uint64_t at, bool marked)
{
	unsigned char slot[SLOT_SIZE];
	uint64_t seq = j->seq + 1;

	FAULT_POINT("window sync");
#ifndef POP3_PLANTED_SKIP_WINDOW_SYNC
	if (fdatasync(j->mbox) != 0)
		return false;
#endif
	encode_slot(slot, seq, at, marked);
	FAULT_POINT("checkpoint");
	if (!pwrite_full(j->journal, slot, sizeof(slot), slot_at(j->plan, seq % SLOTS)) ||
	    fdatasync(j->journal) != 0)
		return false;
	j->seq = seq;
	j->done = at;
	j->marked = marked;
	return true;
}

/* The newest whole checkpoint that makes sense for the plan. */
static bool read_checkpoint(struct rewrite *j)
{
	const struct plan *p = j->plan;
	unsigned char slots[SLOTS * SLOT_SIZE];

	j->done = p->start;
	j->seq = 0;
	j->marked = false;
	if (!pread_full(j->journal, slots, sizeof(slots), slot_at(p, 0)))
		return false;
	for (unsigned i = 0; i < SLOTS; i++) {
		uint64_t seq, done;
		bool marked;
		if (decode_slot(slots + i * SLOT_SIZE, &seq, &done, &marked) &&
		    seq > j->seq && done >= p->start + p->prefix_len &&
		    done <= p->new_end && (!marked || done == p->new_end)) {
			j->seq = seq;
			j->done = done;
			j->marked = marked;
		}
	}
	return true;
}

/* ---- the rewrite ---- */

/* The new text to the mbox, durably: the prefix from the journal, then
 * the windows.  Picks up where j->done says. */
static bool move_text(struct rewrite *j)
{
	struct plan *p = j->plan;
	uint64_t at = j->done;
	bool window_pending = false;

	if (at == p->start && p->prefix_len > 0) {
		/* Its sources do not matter any more: no checkpoint needed. */
		if (!write_text(j, at, p->start + p->prefix_len))
			return false;
		at = p->start + p->prefix_len;
	}
	while (at < p->new_end) {
		if (window_pending && !checkpoint(j, at, false))
			return false;
		uint64_t len = min_u64(shift_at(p, at), p->new_end - at);
		FAULT_POINT("window");
		if (!write_text(j, at, at + len))
			return false;
		at += len;
		window_pending = true;
	}
	FAULT_POINT("apply before fsync");
	/* The last window's sources are where the mark goes. */
	if (window_pending)
		return checkpoint(j, p->new_end, false);
	return fdatasync(j->mbox) == 0;
}

/* The mark at new_end, durably, and a checkpoint saying so: from now on
 * recovery can tell a cut file from one not yet cut, whatever mail is
 * appended to it. */
static bool mark_end(struct rewrite *j)
{
	const struct plan *p = j->plan;

	FAULT_POINT("mark");
	return pwrite_full(j->mbox, p->mark, (size_t)mark_len(p), p->new_end) &&
#ifdef POP3_PLANTED_MARK_AFTER_CUT
	       ftruncate(j->mbox, (off_t)p->new_end) == 0 &&
#endif
	       checkpoint(j, p->new_end, true);
}

/* All of the rewrite: move, mark, cut. */
static bool run_rewrite(struct rewrite *j)
{
	const struct plan *p = j->plan;

	if (!below_size_limit(p->new_end))
		return false;
	FAULT_POINT("apply start");
	if (!j->marked && !(move_text(j) && mark_end(j)))
		return false;
	FAULT_POINT("apply before truncate");
	if (ftruncate(j->mbox, (off_t)p->new_end) != 0)
		return false;
	FAULT_POINT("apply before final fsync");
	return fsync(j->mbox) == 0;
}

/* Header, runs, prefix, trailer and blank checkpoint slots (or one that
 * carries j->done over), made durable. */
static bool write_journal(struct rewrite *j, int fd)
{
	const struct plan *p = j->plan;
	unsigned char header[HEADER_SIZE], trailer[TRAILER_SIZE];
	unsigned char slots[SLOTS * SLOT_SIZE] = { 0 };
	struct content_hash hash;
	struct copier c = copier_start(j, fd, 0, &hash);
	bool ok;

	encode_header(p, header);
	content_hash_init(&hash);
	FAULT_POINT("journal header");
	ok = ftruncate(fd, 0) == 0 && copier_put(&c, header, sizeof(header));
	for (size_t i = 0; ok && i < p->count; i++) {
		unsigned char run[RUN_SIZE];
		le64_store(run, p->runs[i].offset);
		le64_store(run + 8, p->runs[i].length);
		ok = copier_put(&c, run, sizeof(run));
	}
	ok = ok && copier_add_text(&c, j, p->start, p->start + p->prefix_len) &&
	     copier_flush(&c);
	if (!ok)
		return false;
	content_hash_final(&hash, trailer);
	memcpy(trailer + 16, trailer_magic, 8);
	if (j->seq > 0)
		encode_slot(slots + (j->seq % SLOTS) * SLOT_SIZE, j->seq, j->done,
			    j->marked);
	FAULT_POINT("journal trailer");
	if (!pwrite_full(fd, trailer, sizeof(trailer), trailer_at(p)) ||
	    !pwrite_full(fd, slots, sizeof(slots), slot_at(p, 0)))
		return false;
	FAULT_POINT("journal fsync");
#ifdef POP3_PLANTED_SKIP_JOURNAL_FSYNC
	return true;
#else
	return fsync(fd) == 0;
#endif
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

/* Writes the job's journal through a temporary name, so that the old one
 * stays whole until the new one is (recovery uses this when mail arrived
 * after a crash and the text to write grows).  The new descriptor
 * replaces j->journal. */
static bool replace_journal(struct rewrite *j, const struct paths *p, const char *dir)
{
	if (unlink(p->temp) != 0 && errno != ENOENT)
		return false;
	int fd = open(p->temp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	if (fd < 0)
		return false;
	if (write_journal(j, fd) && rename(p->temp, p->journal) == 0 &&
	    fsync_directory(dir)) {
		close(j->journal);
		j->journal = fd;
		j->prefix_offset = prefix_at(j->plan);
		return true;
	}
	int saved = errno;
	unlink(p->temp);
	close(fd);
	errno = saved;
	return false;
}

/* How much of the new text goes into the journal: up to the first run
 * whose shift is large enough for windows of a useful size (see the top). */
static uint64_t choose_prefix(const struct plan *p)
{
	uint64_t text = p->new_end - p->start;
	uint64_t enough = text / MAX_WINDOWS > MIN_WINDOW ? text / MAX_WINDOWS
							  : MIN_WINDOW;

	uint64_t at = p->start;

	for (size_t i = 0; i < p->count; at += p->runs[i++].length)
		if (p->runs[i].offset - at >= enough)
			return at - p->start;
	return text;
}

/* A value nobody else writes at new_end: a NUL (an MDA's mail begins
 * with "From ") and random bytes, or, without getrandom, bytes that
 * depend on this update. */
static void make_mark(struct plan *p)
{
	unsigned char *m = p->mark;

	if (getrandom(m, MARK_SPAN, 0) != MARK_SPAN) {
		struct content_hash h;
		struct timespec now;
		uint8_t digest[CONTENT_DIGEST_SIZE];
		pid_t pid = getpid();
		(void)clock_gettime(CLOCK_REALTIME, &now);
		content_hash_init(&h);
		content_hash_update(&h, &now, sizeof(now));
		content_hash_update(&h, &pid, sizeof(pid));
		content_hash_update(&h, p, offsetof(struct plan, fingerprint));
		content_hash_final(&h, digest);
		memcpy(m, digest, MARK_SPAN);
	}
	m[0] = '\0';
}

/* The mark, fingerprint and tail digest of a plan whose runs are set. */
static bool seal_plan(struct rewrite *j)
{
	struct plan *p = j->plan;
	uint64_t after_mark = p->new_end + mark_len(p);

	make_mark(p);
	p->fingerprint_len = min_u64(p->old_end - after_mark, FINGERPRINT_SPAN);
	p->tail_len = min_u64(p->new_end - p->start, FINGERPRINT_SPAN);
	return below_size_limit(p->new_end) && below_size_limit(journal_size(p)) &&
	       digest_of(j->mbox, after_mark, p->fingerprint_len, p->fingerprint) &&
	       digest_new_tail(j, p->tail);
}

/* Fills in the plan for replacing [start, end of file) by the runs. */
static bool plan_rewrite(struct rewrite *j, uint64_t start,
			 const struct text_run *runs, size_t count)
{
	struct plan *p = j->plan;
	struct stat st;

	if (fstat(j->mbox, &st) != 0)
		return false;
	*p = (struct plan){ .dev = (uint64_t)st.st_dev, .ino = (uint64_t)st.st_ino,
			    .start = start, .old_end = (uint64_t)st.st_size,
			    .new_end = start };
	if (!set_runs(p, count, runs))
		return false;
	for (size_t i = 0; i < count; i++)
		p->new_end += runs[i].length;
	if (p->new_end >= p->old_end || !check_runs(p)) {
		errno = EINVAL; /* a rewrite here only ever shrinks the file */
		return false;
	}
	p->prefix_len = choose_prefix(p);
	j->done = start;
	return seal_plan(j);
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

static enum journal_result rewrite_and_clear(struct rewrite *j,
					     const struct paths *p)
{
	if (!run_rewrite(j)) {
		syslog(LOG_ERR, "mbox rewrite failed, journal %s kept for the "
				"next session: %m", p->journal);
		return JOURNAL_PENDING;
	}
	clear_journal(j->journal, p);
	return JOURNAL_DONE;
}

static enum journal_result rewrite_with(struct rewrite *j, const struct paths *p,
					const char *dir, uint64_t start,
					const struct text_run *runs, size_t count)
{
	if (!plan_rewrite(j, start, runs, count)) {
		syslog(LOG_ERR, "%s: cannot plan the update: %m", dir);
		return JOURNAL_NOTHING;
	}
	if ((j->journal = open_journal(p, dir)) < 0 || !write_journal(j, j->journal)) {
		syslog(LOG_ERR, "%s: cannot write the update journal: %m", p->journal);
		if (j->journal >= 0)
			clear_journal(j->journal, p);
		return JOURNAL_NOTHING;
	}
	j->prefix_in_journal = true;
	j->prefix_offset = prefix_at(j->plan);
	return rewrite_and_clear(j, p);
}

enum journal_result journal_rewrite(int mbox_fd, const char *state_dir,
				    uint64_t start, const struct text_run *runs,
				    size_t count, void *buffer)
{
	struct paths p;
	struct plan plan = { 0 };
	struct rewrite j = { .mbox = mbox_fd, .journal = -1, .plan = &plan,
			 .buf = buffer };
	uint64_t text_len = 0;

	for (size_t i = 0; i < count; i++)
		text_len += runs[i].length;
	if (text_len == 0)
		return truncate_only(mbox_fd, start);
	if (!make_paths(&p, state_dir)) {
		syslog(LOG_ERR, "%s: cannot plan the update: %m", state_dir);
		return JOURNAL_NOTHING;
	}
	enum journal_result r = rewrite_with(&j, &p, state_dir, start, runs, count);
	if (j.journal >= 0)
		close(j.journal);
	free_plan(&plan);
	return r;
}

/* ---- recovery ---- */

/* A journal we cannot use is kept for the administrator, never deleted. */
static void set_aside(const struct paths *p, const char *why)
{
	syslog(LOG_CRIT, "%s: %s; renamed to %s for inspection", p->journal, why,
	       p->aside);
	if (rename(p->journal, p->aside) != 0)
		syslog(LOG_CRIT, "%s: rename: %m", p->journal);
}

enum plan_read { PLAN_WHOLE, PLAN_TORN, PLAN_IO_ERROR };

/* A read of the journal that failed: an I/O error, or a short file. */
static enum plan_read read_failed(void)
{
	return errno == ENODATA ? PLAN_TORN : PLAN_IO_ERROR;
}

/* The runs, fed to the digest as they are read. */
static enum plan_read read_runs(struct rewrite *j, struct content_hash *hash)
{
	struct plan *p = j->plan;

	for (size_t i = 0; i < p->count; i++) {
		unsigned char run[RUN_SIZE];
		if (!pread_full(j->journal, run, sizeof(run), HEADER_SIZE + i * RUN_SIZE))
			return read_failed();
		content_hash_update(hash, run, sizeof(run));
		p->owned[i] = (struct text_run){ le64_load(run), le64_load(run + 8) };
	}
	return PLAN_WHOLE;
}

static enum plan_read read_prefix(struct rewrite *j, struct content_hash *hash)
{
	const struct plan *p = j->plan;

	for (uint64_t done = 0; done < p->prefix_len;) {
		size_t n = (size_t)min_u64(p->prefix_len - done, COPY_BUFFER);
		if (!pread_full(j->journal, j->buf, n, prefix_at(p) + done))
			return read_failed();
		content_hash_update(hash, j->buf, n);
		done += n;
	}
	return PLAN_WHOLE;
}

/* Reads the plan and checks that the journal is whole: header, runs and
 * prefix against the trailer's digest.  A disk error is not a torn
 * journal: that one must not be discarded. */
static enum plan_read read_plan(struct rewrite *j, uint64_t file_size)
{
	struct plan *p = j->plan;
	unsigned char header[HEADER_SIZE], trailer[TRAILER_SIZE];
	unsigned char digest[CONTENT_DIGEST_SIZE];
	struct content_hash hash;
	enum plan_read r;

	if (file_size < HEADER_SIZE)
		return PLAN_TORN;
	if (!pread_full(j->journal, header, sizeof(header), 0))
		return read_failed();
	if (!decode_header(header, file_size, p))
		return PLAN_TORN;
	if (!set_runs(p, p->count, NULL))
		return PLAN_IO_ERROR;
	content_hash_init(&hash);
	content_hash_update(&hash, header, sizeof(header));
	if ((r = read_runs(j, &hash)) != PLAN_WHOLE ||
	    (r = read_prefix(j, &hash)) != PLAN_WHOLE)
		return r;
	content_hash_final(&hash, digest);
	if (!pread_full(j->journal, trailer, sizeof(trailer), trailer_at(p)) ||
	    !read_checkpoint(j))
		return read_failed();
	return memcmp(digest, trailer, CONTENT_DIGEST_SIZE) == 0 &&
			       memcmp(trailer + 16, trailer_magic, 8) == 0 &&
			       check_runs(p)
		       ? PLAN_WHOLE
		       : PLAN_TORN;
}

/* Cases (a) and (b) of the comment at the top: nothing cut, the old
 * bytes after the mark's place still there. */
static bool old_tail_present(const struct rewrite *j, uint64_t size)
{
	const struct plan *p = j->plan;
	uint8_t now[CONTENT_DIGEST_SIZE];

	return size >= p->old_end &&
	       digest_of(j->mbox, p->new_end + mark_len(p), p->fingerprint_len, now) &&
	       memcmp(now, p->fingerprint, CONTENT_DIGEST_SIZE) == 0;
}

/* Case (b) rather than (c): the mark is still at new_end. */
static bool mark_present(const struct rewrite *j, uint64_t size)
{
	const struct plan *p = j->plan;
	unsigned char now[MARK_SPAN];
	size_t n = (size_t)mark_len(p);

	return size >= p->new_end + n && pread_full(j->mbox, now, n, p->new_end) &&
	       memcmp(now, p->mark, n) == 0;
}

/* Case (c): the new text ends at new_end. */
static bool new_tail_present(const struct rewrite *j, uint64_t size)
{
	const struct plan *p = j->plan;
	uint8_t now[CONTENT_DIGEST_SIZE];

	return size >= p->new_end &&
	       digest_of(j->mbox, p->new_end - p->tail_len, p->tail_len, now) &&
	       memcmp(now, p->tail, CONTENT_DIGEST_SIZE) == 0;
}

enum recovery_case { NOT_CUT, CUT, CHANGED };

/* Which of the cases at the top the file is in. */
static enum recovery_case recovery_case(const struct rewrite *j, uint64_t size)
{
	if (!j->marked)
		return old_tail_present(j, size) ? NOT_CUT : CHANGED;
	if (mark_present(j, size))
		return size >= j->plan->old_end ? NOT_CUT : CHANGED;
	return new_tail_present(j, size) ? CUT : CHANGED;
}

/* Mail delivered after the crash lies beyond old_end: it becomes one more
 * run of the plan, in a new journal that carries the checkpoint over. */
static bool extend(struct rewrite *j, uint64_t size, const struct paths *paths,
		   const char *dir)
{
	struct plan *p = j->plan;
	struct text_run *runs = realloc(p->owned, (p->count + 1) * sizeof(*runs));
	if (!runs)
		return false;
	p->runs = p->owned = runs;
	uint64_t added = size - p->old_end;
	runs[p->count] = (struct text_run){ p->old_end, added };
	p->count++;
	p->new_end += added;
	p->old_end = size;
	/* The checkpoint carries over, the mark does not: it moves with the
	 * new end.  The prefix is read from the old journal before it is
	 * replaced. */
	j->marked = false;
	j->seq = j->done > p->start ? 1 : 0;
	return seal_plan(j) && replace_journal(j, paths, dir);
}

static bool finish_interrupted(struct rewrite *j, uint64_t size,
			       const struct paths *paths, const char *dir)
{
	syslog(LOG_NOTICE, "%s: finishing an interrupted update", paths->journal);
	if (size > j->plan->old_end && !extend(j, size, paths, dir))
		return false;
	return rewrite_and_clear(j, paths) == JOURNAL_DONE;
}

static bool recover_from(struct rewrite *j, const struct stat *jst,
			 const struct paths *p, const char *dir)
{
	struct stat st;

	if (!S_ISREG(jst->st_mode) || jst->st_uid != geteuid() ||
	    (jst->st_mode & 022)) {
		syslog(LOG_CRIT, "%s: not a regular file of ours, not replayed",
		       p->journal);
		return false;
	}
	enum plan_read r = read_plan(j, (uint64_t)jst->st_size);
	if (r == PLAN_IO_ERROR)
		return false;
	if (r == PLAN_TORN) {
		/* Torn while being written: the mbox was never touched. */
		syslog(LOG_NOTICE, "%s: incomplete journal discarded", p->journal);
		clear_journal(j->journal, p);
		return true;
	}
	j->prefix_in_journal = true;
	j->prefix_offset = prefix_at(j->plan);
	if (fstat(j->mbox, &st) != 0)
		return false;
	if (j->plan->dev != (uint64_t)st.st_dev || j->plan->ino != (uint64_t)st.st_ino) {
		set_aside(p, "journal of a maildrop that has since been replaced");
		return true;
	}
	uint64_t size = (uint64_t)st.st_size;
	switch (recovery_case(j, size)) {
	case NOT_CUT:
		return finish_interrupted(j, size, p, dir);
	case CUT:
		clear_journal(j->journal, p);
		return true;
	case CHANGED:
		break;
	}
	set_aside(p, "maildrop changed by someone else after an interrupted "
		     "update; left as it is");
	return false;
}

bool journal_recover(int mbox_fd, const char *state_dir, void *buffer)
{
	struct paths p;
	struct stat jst;
	struct plan plan = { 0 };
	struct rewrite j = { .mbox = mbox_fd, .plan = &plan, .buf = buffer };

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
	j.journal = fd;
	bool ok = fstat(j.journal, &jst) == 0 &&
		  (jst.st_size == 0 || recover_from(&j, &jst, &p, state_dir));
	if (!ok)
		syslog(LOG_ERR, "%s: recovery failed: %m", p.journal);
	close(j.journal);
	free_plan(&plan);
	return ok;
}
