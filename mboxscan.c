/*
 * The mbox scanner.  See mboxscan.h.
 *
 * The file streams through one buffer.  The HISTORY bytes before the
 * current position are always kept, so that a "From " line can be checked
 * for the empty line before it even when that line was in the last block.
 * At the start of a scan the history is all LF, as if a blank line came
 * first.  Line ends are counted in bulk between events, never per line
 * in the body: that is what lets the scan run near the speed of read().
 *
 * A large file is scanned by two threads at once, in chunks they take in
 * turn (see scan_mbox_rounds): copying the file out of the page cache and
 * looking at its bytes each cost about as much as cat, and the two threads
 * share that on two processors.  The second thread runs from the start of
 * the scan to its end and works a chunk ahead, so that neither thread
 * waits for the other at every chunk.  What is emitted is exactly what
 * one thread would emit, in the same order.
 */
#include "mboxscan.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytevec.h"
#include "params.h"
#include "uidl.h"

#define HISTORY 8
/* Enough of a header line to recognise every name in skipped_headers. */
#define LOOKAHEAD 24
/* The scanner reads the mbox in the same blocks as all file I/O. */
#define SCAN_BLOCK IO_BLOCK
#define SCAN_BUFFER (HISTORY + LOOKAHEAD + SCAN_BLOCK)
/* Bytes allocated after the buffer, never filled, so that a 64-byte load
 * at any position in it stays inside the allocation. */
#define SCAN_SLACK 64

/* Headers that local mail readers and POP servers add or rewrite (mutt,
 * pine, UW-IMAP, Thunderbird, qpopper): a message's id must not change
 * when they do. */
/* What a skipped field also tells the scanner. */
enum field_role { FIELD_PLAIN, FIELD_XUIDL, FIELD_UW_IMAP };

struct field_name {
	const char *name;
	size_t len;
	enum field_role role;
};
#define FIELD(n, role) { n, sizeof(n) - 1, role }
static const struct field_name skipped_headers[] = {
	FIELD("Status", FIELD_PLAIN),
	FIELD("X-Status", FIELD_PLAIN),
	FIELD("X-Keywords", FIELD_PLAIN),
	FIELD("X-UID", FIELD_PLAIN),
	FIELD("X-IMAP", FIELD_UW_IMAP),
	FIELD("X-IMAPbase", FIELD_UW_IMAP),
	FIELD("Content-Length", FIELD_PLAIN),
	FIELD("Lines", FIELD_PLAIN),
	FIELD("X-UIDL", FIELD_XUIDL),
	FIELD("X-Mozilla-Status", FIELD_PLAIN),
	FIELD("X-Mozilla-Status2", FIELD_PLAIN),
	FIELD("X-Mozilla-Keys", FIELD_PLAIN),
};
static const struct field_name subject_field = FIELD("Subject", FIELD_PLAIN);

static const char uw_internal_subject[] =
    "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA";

enum part { PART_FROM_LINE, PART_HEADER, PART_BODY };
enum line_mode { LINE_START, LINE_HASHED, LINE_SKIPPED };
enum capture { CAPTURE_NONE, CAPTURE_XUIDL, CAPTURE_SUBJECT };
/* STEP_DONE: a message begins at or past the scanner's limit. */
enum step { STEP_PROGRESS, STEP_NEED_DATA, STEP_FAILED, STEP_DONE };

/* No limit: the scan goes on to the end of the file. */
#define NO_LIMIT UINT64_MAX

struct scanner {
	int fd;
	scan_emit emit;
	void *context;
	unsigned char *buf;
	size_t len;         /* valid bytes in buf */
	size_t pos;         /* first byte not yet looked at */
	size_t counted;     /* line ends are counted up to here */
	uint64_t next_read; /* file offset of buf[len] */
	bool eof;
	uint64_t limit;     /* stop where a message begins at or past it */
	uint64_t stopped_at; /* that message's offset, or NO_LIMIT */
	uint64_t lf_total;
	uint64_t crlf_total;

	enum part part;
	enum line_mode line;
	bool in_run;      /* header bytes from run_start on are to be hashed */
	size_t run_start; /* hashed a run of lines at a time, not line by line */
	bool field_skipped; /* for continuation lines of a skipped field */
	bool saw_imap_header;
	enum capture capture;
	size_t capture_skip; /* bytes of the field name still to pass */
	size_t capture_len;
	bool capture_overflow;
	char captured[MAX_UIDL_LENGTH + 32];
	char subject[sizeof(uw_internal_subject)];

	uint64_t lf_at_data;
	uint64_t crlf_at_data;
	uint64_t body_start;
	bool have_body;
	struct content_hash hash;
	struct scanned_message msg;
};

#ifdef BYTEMASK64
BYTEMASK64_TARGET
static uint64_t count_newlines64(const unsigned char *p, uint64_t n)
{
	uint64_t count = 0;

	for (; n >= 64; p += 64, n -= 64)
		count += (uint64_t)__builtin_popcountll(mask64(p, '\n'));
	for (; n > 0; n--)
		count += *p++ == '\n';
	return count;
}

/* The LFs in p[0..n), adding to *crlf those after a CR (p[-1] is read),
 * in one pass: header runs between events are a few hundred bytes, and a
 * second pass for CRs (nearly always none) cost as much as the first.
 * 64 bytes from the last partial block on may be loaded (the scan
 * buffer's slack): the tail is one masked block, not a byte loop. */
BYTEMASK64_TARGET
static uint64_t count_line_ends64(const unsigned char *p, size_t n, uint64_t *crlf)
{
	uint64_t lf = 0, pairs = 0, cr_before = p[-1] == '\r';

	for (size_t i = 0; i < n; i += 64) {
		uint64_t in = n - i >= 64 ? ~0ull : (1ull << (n - i)) - 1;
		uint64_t nl = mask64(p + i, '\n') & in, cr = mask64(p + i, '\r');
		lf += (uint64_t)__builtin_popcountll(nl);
		pairs += (uint64_t)__builtin_popcountll(nl & (cr << 1 | cr_before));
		cr_before = cr >> 63;
	}
	*crlf += pairs;
	return lf;
}
#endif

uint64_t count_newlines(const unsigned char *p, uint64_t n)
{
	uint64_t count = 0;

#ifdef BYTEMASK64
	if (have_mask64())
		return count_newlines64(p, n);
#endif
#ifdef BYTEVEC
	const bytes16 lf = splat16('\n');
	while (n >= 16) {
		/* Lane counters hold at most 255 before they are summed. */
		uint64_t blocks = n / 16 < 255 ? n / 16 : 255;
		bytes16 lanes = splat16(0);
		for (uint64_t b = 0; b < blocks; b++, p += 16)
			lanes -= equal16(load16(p), lf);
		count += sum16(lanes);
		n -= blocks * 16;
	}
#endif
	for (; n > 0; n--)
		count += *p++ == '\n';
	return count;
}

#ifdef BYTEVEC
static bytes16 line_starts_with_f(const unsigned char *p, bytes16 v)
{
	return equal16(load16(p - 1), splat16('\n')) & equal16(v, splat16('F'));
}

static bytes16 newlines16(bytes16 v)
{
	return equal16(v, splat16('\n'));
}
#endif

#ifdef BYTEMASK64
/* 64 bytes a round with AVX2.  LFs are counted in byte lanes, summed
 * every 127 rounds (two LFs per lane a round at most).  A line starting
 * with 'F' is an 'F' whose previous byte (the same block loaded one byte
 * earlier) is an LF; only a block that has one -- rare, even in base64,
 * which is full of 'F's but not at line starts -- is looked at as bit
 * masks, to find where.  CRs are gathered in the same pass; the block the
 * 'F' is in counts whole, which only costs a CR LF count that finds none. */
BYTEMASK64_TARGET
static size_t find_from_counting64(const unsigned char *p, size_t n, uint64_t *lf,
				   bool *cr)
{
	const __m256i newline = _mm256_set1_epi8('\n'), letter_f = _mm256_set1_epi8('F'),
		      return_c = _mm256_set1_epi8('\r');
	const unsigned char *q = p, *end = p + (n & ~(size_t)63);
	__m256i crs = _mm256_setzero_si256();

	*cr = p[-1] == '\r';

	while (q < end) {
		const unsigned char *stop = (size_t)(end - q) > 127 * 64 ? q + 127 * 64 : end;
		__m256i lanes = _mm256_setzero_si256();
		for (; q < stop; q += 64) {
			__m256i lo, hi, before_lo, before_hi;
			memcpy(&lo, q, sizeof(lo));
			memcpy(&hi, q + 32, sizeof(hi));
			memcpy(&before_lo, q - 1, sizeof(before_lo));
			memcpy(&before_hi, q + 31, sizeof(before_hi));
			__m256i f = _mm256_or_si256(
			    _mm256_and_si256(_mm256_cmpeq_epi8(lo, letter_f),
					     _mm256_cmpeq_epi8(before_lo, newline)),
			    _mm256_and_si256(_mm256_cmpeq_epi8(hi, letter_f),
					     _mm256_cmpeq_epi8(before_hi, newline)));
			crs = _mm256_or_si256(crs, _mm256_or_si256(_mm256_cmpeq_epi8(lo, return_c),
								      _mm256_cmpeq_epi8(hi, return_c)));
			if (!_mm256_testz_si256(f, f)) {
				*cr |= !_mm256_testz_si256(crs, crs);
				uint64_t nl = mask64(q, '\n');
				uint64_t starts = (nl << 1 | (q[-1] == '\n')) & mask64(q, 'F');
				unsigned at = (unsigned)__builtin_ctzll(starts);
				*lf += sum_lanes(lanes) +
				       (uint64_t)__builtin_popcountll(nl & ((1ull << at) - 1));
				return (size_t)(q - p) + at;
			}
			lanes = _mm256_sub_epi8(lanes, _mm256_cmpeq_epi8(lo, newline));
			lanes = _mm256_sub_epi8(lanes, _mm256_cmpeq_epi8(hi, newline));
		}
		*lf += sum_lanes(lanes);
	}
	*cr |= !_mm256_testz_si256(crs, crs);
	for (size_t i = (size_t)(q - p); i < n; i++) {
		if (p[i] == 'F' && p[(ptrdiff_t)i - 1] == '\n')
			return i;
		*lf += p[i] == '\n';
		*cr |= p[i] == '\r';
	}
	return n;
}
#endif

/* find_from_counting without AVX2. */
static size_t find_from_counting_bytes(const unsigned char *p, size_t n, uint64_t *lf)
{
	size_t i = 0;

#ifdef BYTEVEC
	while (n - i >= 64) {
		/* Four LFs a round at most: 63 rounds fit a byte lane. */
		size_t rounds = (n - i) / 64 < 63 ? (n - i) / 64 : 63, r;
		bytes16 lanes = splat16(0);
		for (r = 0; r < rounds; r++, i += 64) {
			bytes16 a = load16(p + i), b = load16(p + i + 16),
				c = load16(p + i + 32), d = load16(p + i + 48);
			if (any16(line_starts_with_f(p + i, a) |
				  line_starts_with_f(p + i + 16, b) |
				  line_starts_with_f(p + i + 32, c) |
				  line_starts_with_f(p + i + 48, d)))
				break;
			lanes -= newlines16(a) + newlines16(b) + newlines16(c) +
				 newlines16(d);
		}
		*lf += sum16(lanes);
		if (r < rounds)
			break;
	}
#endif
	for (; i < n; i++) {
		if (p[i] == 'F' && p[(ptrdiff_t)i - 1] == '\n')
			return i;
		*lf += p[i] == '\n';
	}
	return n;
}

/* The first i in [0, n) where a line starts with 'F' (p[-1] readable),
 * adding the LFs in p[0..i) to *lf: in the body the two jobs share one
 * pass over the bytes, 64 of them a round.  *cr is false when no CR lies
 * in p[-1..i): then no CR LF pair ends there, and LF-only files (nearly
 * all) are never looked at a second time for them. */
static size_t find_from_counting(const unsigned char *p, size_t n, uint64_t *lf,
				 bool *cr)
{
#ifdef BYTEMASK64
	if (have_mask64())
		return find_from_counting64(p, n, lf, cr);
#endif
	size_t i = find_from_counting_bytes(p, n, lf);
	*cr = memchr(p - 1, '\r', i + 1) != NULL;
	return i;
}

/* CR LF pairs whose LF lies in p[0..n); p[-1] is readable. */
static uint64_t count_crlf(const unsigned char *p, size_t n)
{
	uint64_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += p[i] == '\n' && p[(ptrdiff_t)i - 1] == '\r';
	return count;
}

static uint64_t offset_of(const struct scanner *s, size_t index)
{
	return s->next_read - (s->len - index);
}

static void count_to(struct scanner *s, size_t index)
{
	if (index <= s->counted)
		return;
	const unsigned char *p = s->buf + s->counted;
	size_t n = index - s->counted;
	s->counted = index;
#ifdef BYTEMASK64
	if (have_mask64()) {
		s->lf_total += count_line_ends64(p, n, &s->crlf_total);
		return;
	}
#endif
	s->lf_total += count_newlines(p, n);
	if (memchr(p - 1, '\r', n + 1))
		s->crlf_total += count_crlf(p, n);
}

static void flush_run(struct scanner *s, size_t upto)
{
	if (!s->in_run)
		return;
	content_hash_update(&s->hash, s->buf + s->run_start, upto - s->run_start);
	s->in_run = false;
}

static enum scan_result refill(struct scanner *s)
{
	/* A run of header lines may go on in the next block. */
	bool run = s->in_run;
	flush_run(s, s->pos);
	s->in_run = run;
	s->run_start = s->pos;
	count_to(s, s->pos);
	size_t drop = s->pos - HISTORY;
	memmove(s->buf, s->buf + drop, s->len - drop);
	s->len -= drop;
	s->pos -= drop;
	s->run_start -= drop;
	s->counted -= drop;
	for (;;) {
		ssize_t n = pread(s->fd, s->buf + s->len, SCAN_BUFFER - s->len,
				  (off_t)s->next_read);
		if (n > 0) {
			s->len += (size_t)n;
			s->next_read += (uint64_t)n;
			return SCAN_OK;
		}
		if (n == 0) {
			s->eof = true;
			return SCAN_OK;
		}
		if (errno != EINTR)
			return SCAN_IO_ERROR;
	}
}

static void begin_message(struct scanner *s, size_t index)
{
	memset(&s->msg, 0, sizeof(s->msg));
	s->msg.start = offset_of(s, index);
	s->part = PART_FROM_LINE;
	s->line = LINE_START;
	s->in_run = false;
	s->field_skipped = false;
	s->saw_imap_header = false;
	s->capture = CAPTURE_NONE;
	s->subject[0] = '\0';
	s->have_body = false;
	content_hash_init(&s->hash);
}

static void finish_digest(struct scanner *s, uint64_t content_end)
{
	uint64_t body = 0;
	unsigned char le[8];

	if (s->have_body && s->body_start < content_end)
		body = content_end - s->body_start;
	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(body >> (8 * i));
	content_hash_update(&s->hash, le, sizeof(le));
	content_hash_final(&s->hash, s->msg.digest);
}

/* Ends the current message, whose text ends at buf[end_index]; the
 * separator after it holds sep_lf LFs of which sep_crlf follow a CR, and
 * the line ends up to the separator's end are already counted. */
static bool end_message(struct scanner *s, size_t end_index, unsigned sep_lf,
			unsigned sep_crlf)
{
	struct scanned_message *m = &s->msg;
	uint64_t content_end = offset_of(s, end_index);

	if (s->part == PART_FROM_LINE) {
		m->data = content_end;
		s->lf_at_data = s->lf_total - sep_lf;
		s->crlf_at_data = s->crlf_total - sep_crlf;
	}
	m->length = content_end - m->data;
	uint64_t lf = s->lf_total - s->lf_at_data - sep_lf;
	uint64_t crlf = s->crlf_total - s->crlf_at_data - sep_crlf;
	m->size = m->length + lf - crlf;
	if (m->length > 0 && s->buf[end_index - 1] != '\n')
		m->size += 2; /* a last line without LF is sent with CRLF */
	finish_digest(s, content_end);
	m->uw_internal = m->start == 0 && s->saw_imap_header &&
			 strcmp(s->subject, uw_internal_subject) == 0;
	return s->emit(s->context, m);
}

static enum step step_from_line(struct scanner *s)
{
	unsigned char *start = s->buf + s->pos;
	unsigned char *lf = memchr(start, '\n', s->len - s->pos);
	size_t end = lf ? (size_t)(lf - s->buf) : s->len;

	content_hash_update(&s->hash, start, end - s->pos);
	if (!lf) {
		s->pos = s->len;
		return STEP_NEED_DATA;
	}
	s->pos = end + 1;
	count_to(s, s->pos);
	s->lf_at_data = s->lf_total;
	s->crlf_at_data = s->crlf_total;
	s->msg.data = offset_of(s, s->pos);
	s->part = PART_HEADER;
	return STEP_PROGRESS;
}

static bool name_is(const unsigned char *p, size_t len,
		    const struct field_name *f)
{
	return len > f->len && p[f->len] == ':' &&
	       strncasecmp((const char *)p, f->name, f->len) == 0;
}

/* Every skipped field starts with one of these letters: most lines are
 * decided by their first byte. */
static bool may_be_skipped(unsigned char c)
{
	c |= 0x20;
	return c == 's' || c == 'x' || c == 'c' || c == 'l';
}

static const struct field_name *skipped_field(const unsigned char *p,
					      size_t avail)
{
	if (!may_be_skipped(p[0]))
		return NULL;
	/* The name's length, from its colon, rules out all but one or two. */
	const unsigned char *colon = memchr(p, ':', avail);
	size_t len = colon ? (size_t)(colon - p) : 0;
	for (size_t i = 0; i < sizeof(skipped_headers) / sizeof(*skipped_headers);
	     i++)
		if (skipped_headers[i].len == len && name_is(p, avail, &skipped_headers[i]))
			return &skipped_headers[i];
	return NULL;
}

/* Decides what to do with a header line, given its first bytes. */
static enum line_mode classify_field(struct scanner *s, const unsigned char *p,
				     size_t avail, size_t *value_at)
{
	*value_at = 0;
	s->capture = CAPTURE_NONE;
	if (p[0] == ' ' || p[0] == '\t')
		return s->field_skipped ? LINE_SKIPPED : LINE_HASHED;
	if (s->msg.start == 0 && name_is(p, avail, &subject_field)) {
		s->capture = CAPTURE_SUBJECT;
		*value_at = subject_field.len + 1;
	}
	const struct field_name *f = skipped_field(p, avail);
	if (!f)
		return LINE_HASHED;
	if (f->role == FIELD_XUIDL) {
		s->capture = CAPTURE_XUIDL;
		*value_at = f->len + 1;
	}
	if (f->role == FIELD_UW_IMAP)
		s->saw_imap_header = true;
	return LINE_SKIPPED;
}

static void capture_bytes(struct scanner *s, const unsigned char *p, size_t n)
{
	size_t skip = n < s->capture_skip ? n : s->capture_skip;
	p += skip;
	n -= skip;
	s->capture_skip -= skip;
	if (n > sizeof(s->captured) - s->capture_len) {
		s->capture_overflow = true;
		n = sizeof(s->captured) - s->capture_len;
	}
	memcpy(s->captured + s->capture_len, p, n);
	s->capture_len += n;
}

static void finish_capture(struct scanner *s)
{
	size_t start = 0, end = s->capture_len;

	while (start < end && (s->captured[start] == ' ' || s->captured[start] == '\t'))
		start++;
	while (end > start && (s->captured[end - 1] == '\n' || s->captured[end - 1] == '\r' ||
			       s->captured[end - 1] == ' ' || s->captured[end - 1] == '\t'))
		end--;
	size_t n = end - start;
	if (s->capture == CAPTURE_XUIDL && !s->capture_overflow && !s->msg.has_xuidl &&
	    uidl_is_valid(s->captured + start, n)) {
		memcpy(s->msg.xuidl, s->captured + start, n);
		s->msg.xuidl[n] = '\0';
		s->msg.has_xuidl = true;
	}
	if (s->capture == CAPTURE_SUBJECT && n < sizeof(s->subject)) {
		memcpy(s->subject, s->captured + start, n);
		s->subject[n] = '\0';
	}
	s->capture = CAPTURE_NONE;
}

/* At the start of a header line: the empty line ending the header, or a
 * field to hash or skip.  Needs LOOKAHEAD bytes (or the whole line). */
static enum step start_header_line(struct scanner *s)
{
	const unsigned char *p = s->buf + s->pos;
	size_t avail = s->len - s->pos;
	size_t look = avail < LOOKAHEAD ? avail : LOOKAHEAD;

	if (avail == 0 || (!s->eof && p[0] == '\r' && avail < 2))
		return STEP_NEED_DATA;
	if (p[0] == '\n' || (p[0] == '\r' && avail >= 2 && p[1] == '\n')) {
		flush_run(s, s->pos);
		s->pos += p[0] == '\n' ? 1 : 2;
		s->body_start = offset_of(s, s->pos);
		s->have_body = true;
		s->part = PART_BODY;
		return STEP_PROGRESS;
	}
	if (!s->eof && look < LOOKAHEAD && !memchr(p, '\n', look))
		return STEP_NEED_DATA;
	size_t value_at;
	s->line = classify_field(s, p, look, &value_at);
	s->field_skipped = s->line == LINE_SKIPPED;
	if (s->line == LINE_SKIPPED)
		flush_run(s, s->pos);
	else if (!s->in_run) {
		s->in_run = true;
		s->run_start = s->pos;
	}
	s->capture_len = 0;
	s->capture_overflow = false;
	s->capture_skip = value_at;
	return STEP_PROGRESS;
}

/* Does a header line starting with c need a closer look (the end of the
 * header, a field to skip or to capture, a continuation of a skipped
 * field), or is it simply hashed with the lines around it? */
static bool plain_line(const struct scanner *s, unsigned char c)
{
	if (c == ' ' || c == '\t')
		return !s->field_skipped;
	return c != '\n' && c != '\r' && !may_be_skipped(c);
}

/* Past plain lines from pos (one is): the start of the first line that
 * is not plain, lies within LOOKAHEAD of the end of the data, or has no
 * LF in it yet.  The lines passed are all hashed, so nothing else about
 * them matters. */
static size_t next_unplain_line(const struct scanner *s, size_t pos)
{
	const unsigned char *b = s->buf;

	do {
		const unsigned char *lf = memchr(b + pos, '\n', s->len - pos);
		if (!lf)
			break;
		pos = (size_t)(lf - b) + 1;
	} while (s->len - pos >= LOOKAHEAD && plain_line(s, b[pos]));
	return pos;
}

#ifdef BYTEMASK64
/* The same, finding the LFs 64 bytes at a time as a bit mask: the
 * lines are short, so one mask usually serves a line or two.  Loads may
 * reach into the buffer's slack; LFs found there are not data. */
BYTEMASK64_TARGET
static size_t next_unplain_line64(const struct scanner *s, size_t pos)
{
	const unsigned char *b = s->buf;
	size_t block = pos;
	uint64_t lfs = mask64(b + block, '\n');

	do {
		while (lfs == 0) {
			block += 64;
			if (block >= s->len)
				return pos;
			lfs = mask64(b + block, '\n');
		}
		size_t lf = block + (size_t)__builtin_ctzll(lfs);
		lfs &= lfs - 1;
		if (lf >= s->len)
			return pos;
		pos = lf + 1;
	} while (s->len - pos >= LOOKAHEAD && plain_line(s, b[pos]));
	return pos;
}
#endif

/* Most header lines (Received and its continuations, To, Date...) are
 * hashed as they are: pass them with one look at their first byte each,
 * and leave the line that needs more to start_header_line.  Whatever
 * lines are passed extend the run of hashed lines. */
static void pass_plain_lines(struct scanner *s)
{
	if (s->len - s->pos < LOOKAHEAD || !plain_line(s, s->buf[s->pos]))
		return;
	if (!s->in_run) {
		s->in_run = true;
		s->run_start = s->pos;
	}
	/* A plain line begins a hashed field or continues one. */
	s->field_skipped = false;
#ifdef BYTEMASK64
	if (have_mask64()) {
		s->pos = next_unplain_line64(s, s->pos);
		return;
	}
#endif
	s->pos = next_unplain_line(s, s->pos);
}

static enum step step_header(struct scanner *s)
{
	if (s->line == LINE_START) {
		pass_plain_lines(s);
		return start_header_line(s);
	}

	unsigned char *start = s->buf + s->pos;
	unsigned char *lf = memchr(start, '\n', s->len - s->pos);
	size_t end = lf ? (size_t)(lf - s->buf) + 1 : s->len;

	if (s->capture != CAPTURE_NONE)
		capture_bytes(s, start, end - s->pos);
	s->pos = end;
	if (!lf)
		return STEP_NEED_DATA;
	if (s->capture != CAPTURE_NONE)
		finish_capture(s);
	s->line = LINE_START;
	return STEP_PROGRESS;
}

static bool is_separator_at(const struct scanner *s, size_t lf)
{
	const unsigned char *b = s->buf;
	return b[lf - 1] == '\n' || (b[lf - 1] == '\r' && b[lf - 2] == '\n');
}

/* In the body only a "From " line after an empty line matters. */
static enum step step_body(struct scanner *s)
{
	size_t from = s->pos;

	for (;;) {
		count_to(s, from);
		bool cr;
		size_t f = from + find_from_counting(s->buf + from, s->len - from,
						     &s->lf_total, &cr);
		if (cr)
			s->crlf_total += count_crlf(s->buf + from, f - from);
		s->counted = f;
		if (f == s->len || (f + 5 > s->len && !s->eof)) {
			/* Nothing, or a "From " cut by the end of the buffer:
			 * look again from there when more has been read. */
			s->pos = f;
			return STEP_NEED_DATA;
		}
		if (f + 5 > s->len || memcmp(s->buf + f, "From ", 5) != 0 ||
		    !is_separator_at(s, f - 1)) {
			from = f + 1;
			continue;
		}
		size_t lf = f - 1;
		bool crlf = s->buf[lf - 1] == '\r';
		if (!end_message(s, crlf ? lf - 1 : lf, 1, crlf ? 1 : 0))
			return STEP_FAILED;
		if (offset_of(s, f) >= s->limit) {
			s->stopped_at = offset_of(s, f);
			return STEP_DONE;
		}
		s->pos = f;
		begin_message(s, f);
		return STEP_PROGRESS;
	}
}

static enum step step(struct scanner *s)
{
	switch (s->part) {
	case PART_FROM_LINE:
		return step_from_line(s);
	case PART_HEADER:
		return step_header(s);
	case PART_BODY:
		return step_body(s);
	}
	return STEP_FAILED;
}

/* The last message ends at end of file, minus one trailing empty line. */
static bool end_last_message(struct scanner *s)
{
	const unsigned char *b = s->buf;
	size_t len = s->len;
	uint64_t file_end = s->next_read;
	uint64_t data = s->part == PART_FROM_LINE ? file_end : s->msg.data;
	unsigned sep = 0;

	flush_run(s, len);
	count_to(s, len);
	if (b[len - 1] == '\n' && b[len - 2] == '\n' && file_end - 1 >= data)
		sep = 1;
	else if (b[len - 1] == '\n' && b[len - 2] == '\r' && b[len - 3] == '\n' &&
		 file_end - 2 >= data && file_end >= 2)
		sep = 2;
	return end_message(s, len - sep, sep ? 1 : 0, sep == 2 ? 1 : 0);
}

static enum scan_result check_first_line(struct scanner *s)
{
	while (!s->eof && s->len - s->pos < 5) {
		enum scan_result r = refill(s);
		if (r != SCAN_OK)
			return r;
	}
	if (s->len == s->pos)
		return SCAN_OK;
	if (s->len - s->pos < 5 || memcmp(s->buf + s->pos, "From ", 5) != 0)
		return SCAN_NOT_MBOX;
	return SCAN_OK;
}

static enum scan_result scan_all(struct scanner *s)
{
	enum scan_result r = check_first_line(s);
	if (r != SCAN_OK || s->len == s->pos)
		return r;
	begin_message(s, s->pos);
	for (;;) {
		enum step st = step(s);
		if (st == STEP_FAILED)
			return SCAN_NO_MEMORY;
		if (st == STEP_DONE)
			return SCAN_OK;
		if (st == STEP_PROGRESS)
			continue;
		if (s->eof) {
			/* every step consumes all input at end of file */
			if (s->pos != s->len)
				return SCAN_IO_ERROR;
			break;
		}
		if (!s->eof && (r = refill(s)) != SCAN_OK)
			return r;
	}
	return end_last_message(s) ? SCAN_OK : SCAN_NO_MEMORY;
}

static struct scanner *scanner_new(void)
{
	struct scanner *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->buf = malloc(SCAN_BUFFER + SCAN_SLACK);
	if (!s->buf) {
		free(s);
		return NULL;
	}
	return s;
}

static void scanner_free(struct scanner *s)
{
	if (s)
		free(s->buf);
	free(s);
}

/* Scans from offset from (a message's start) until a message begins at or
 * past limit (s->stopped_at says where) or to the end of the file. */
static enum scan_result scan_range(struct scanner *s, int fd, uint64_t from,
				   uint64_t limit, scan_emit emit, void *context)
{
	unsigned char *buf = s->buf;

	memset(s, 0, sizeof(*s));
	s->buf = buf;
	s->fd = fd;
	s->emit = emit;
	s->context = context;
	s->limit = limit;
	s->stopped_at = NO_LIMIT;
	memset(s->buf, '\n', HISTORY);
	s->len = s->pos = s->counted = HISTORY;
	s->next_read = from;
	return scan_all(s);
}

/* ---- two threads ---- */

/* How much is read at once when looking for a message start. */
#define PROBE_BLOCK 4096

enum chunk_state { CHUNK_FREE, CHUNK_SCANNING, CHUNK_DONE };

/* A chunk [from, limit) scanned ahead by one of the threads, its messages
 * held until those before them have been emitted. */
struct chunk {
	enum chunk_state state;
	uint64_t from, limit;
	enum scan_result result;
	uint64_t stopped_at; /* where the message after the chunk begins */
	uint64_t end;        /* scanned up to, for a chunk that ends the file */
	size_t count;
	struct scanned_message *held;
};

/* Chunk i is claimed in order by whichever thread is free, into slot
 * i mod CHUNK_SLOTS once the chunk that had it has been emitted. */
struct pipeline {
	pthread_mutex_t lock;
	pthread_cond_t changed; /* a chunk's state or stop changed */
	bool stop;
	int fd;
	uint64_t chunk_bytes;
	uint64_t next_from; /* where the next chunk begins; NO_LIMIT: none */
	size_t claimed;     /* chunks claimed so far */
	struct scanner *worker; /* the worker's scanner */
	struct chunk chunks[CHUNK_SLOTS];
};

/* What hold_message fills. */
struct holder {
	struct scanner *s;
	struct chunk *c;
};

static bool hold_message(void *context, const struct scanned_message *msg)
{
	struct holder *h = context;
	struct chunk *c = h->c;

	if (c->count == HELD_MAX)
		return false; /* cannot happen: the scan stops at HELD_MAX */
	c->held[c->count++] = *msg;
	if (c->count == HELD_MAX)
		h->s->limit = 0; /* stop where the next message begins */
	return true;
}

/* Does a message seem to begin at p (a "From " line after an empty line,
 * p[-3] readable)?  Only a guess to cut the file at: the scanner that
 * reaches the place decides, and a wrong guess only costs a chunk. */
static bool looks_like_start(const unsigned char *p)
{
	return memcmp(p, "From ", 5) == 0 &&
	       (p[-2] == '\n' || (p[-2] == '\r' && p[-3] == '\n')) && p[-1] == '\n';
}

/* The offset of the first likely message start at or after from, or
 * NO_LIMIT if there is none before the end of the file. */
static enum scan_result find_start(int fd, uint64_t from, uint64_t *at)
{
	unsigned char block[PROBE_BLOCK];
	/* Three bytes before a start are looked at; the file's first three
	 * bytes are its first line's. */
	uint64_t pos = (from < 3 ? 3 : from) - 3;

	for (;;) {
		ssize_t n = pread(fd, block, sizeof(block), (off_t)pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return SCAN_IO_ERROR;
		/* Line by line: memchr finds an LF faster than memmem finds
		 * "\nFrom " (glibc's memmem takes a byte at a time). */
		const unsigned char *p = block + 2, *end = block + n;
		while (end - p >= 6 && (p = memchr(p, '\n', (size_t)(end - p - 5)))) {
			if (looks_like_start(p + 1)) {
				*at = pos + (uint64_t)(p + 1 - block);
				return SCAN_OK;
			}
			p++;
		}
		if ((size_t)n < sizeof(block)) {
			*at = NO_LIMIT;
			return SCAN_OK;
		}
		pos += sizeof(block) - 7; /* a start cut by the block's end */
	}
}

/* A likely message start a chunk's length past from; NO_LIMIT when there
 * is none, or when it cannot be read (the session's thread scans on
 * itself and meets the error, where the one-thread scan would). */
static uint64_t start_after(const struct pipeline *p, uint64_t from)
{
	uint64_t at;

	if (from == NO_LIMIT || p->chunk_bytes > NO_LIMIT - from ||
	    find_start(p->fd, from + p->chunk_bytes, &at) != SCAN_OK)
		return NO_LIMIT;
	return at;
}

/* Under the lock: the next chunk, if there is one and its slot is free.
 * Its end is probed here (a 4 KiB read or two) so that chunks follow each
 * other exactly. */
static struct chunk *claim(struct pipeline *p)
{
	struct chunk *c = &p->chunks[p->claimed % CHUNK_SLOTS];

	if (p->next_from == NO_LIMIT || c->state != CHUNK_FREE)
		return NULL;
	c->from = p->next_from;
	c->limit = start_after(p, c->from);
	c->count = 0;
	c->state = CHUNK_SCANNING;
	p->next_from = c->limit;
	p->claimed++;
	return c;
}

/* Scans a claimed chunk into its held messages, outside the lock. */
static void scan_held(struct pipeline *p, struct scanner *s, struct chunk *c)
{
	struct holder h = { s, c };

	pthread_mutex_unlock(&p->lock);
	c->result = scan_range(s, p->fd, c->from, c->limit, hold_message, &h);
	c->stopped_at = s->stopped_at;
	c->end = s->next_read;
	pthread_mutex_lock(&p->lock);
	c->state = CHUNK_DONE;
	pthread_cond_broadcast(&p->changed);
}

/* The worker: chunk after chunk, until there are none or it is stopped. */
static void *run_worker(void *arg)
{
	struct pipeline *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stop && p->next_from != NO_LIMIT) {
		struct chunk *c = claim(p);
		if (c)
			scan_held(p, p->worker, c);
		else
			pthread_cond_wait(&p->changed, &p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* The caller's emit for each message a chunk held, in order. */
static bool emit_held(const struct chunk *c, scan_emit emit, void *context)
{
	for (size_t i = 0; i < c->count; i++)
		if (!emit(context, &c->held[i]))
			return false;
	return true;
}

/* The session's thread, where the emitting is. */
struct emitter {
	struct scanner *s;
	scan_emit emit;
	void *context;
	uint64_t pos; /* where the next message to emit begins */
	size_t next;  /* the chunk that comes next */
	uint64_t *end;
};

/* Scans and emits from pos up to the next chunk claimed, or on through
 * the next one when none is (claiming it, so that the worker does not).
 * True when that ends the scan, *res saying how. */
static bool scan_up_to_chunk(struct pipeline *p, struct emitter *e,
			     enum scan_result *res)
{
	const struct chunk *c = &p->chunks[e->next % CHUNK_SLOTS];
	struct chunk *mine = e->next == p->claimed ? claim(p) : NULL;
	uint64_t limit = mine ? mine->limit : e->next < p->claimed ? c->from : NO_LIMIT;

	pthread_mutex_unlock(&p->lock);
	*res = scan_range(e->s, p->fd, e->pos, limit, e->emit, e->context);
	pthread_mutex_lock(&p->lock);
	if (mine) {
		mine->state = CHUNK_FREE;
		e->next++;
	}
	if (*res != SCAN_OK || e->s->stopped_at == NO_LIMIT) {
		*e->end = e->s->next_read;
		return true;
	}
	e->pos = e->s->stopped_at;
	return false;
}

/* The next chunk is still being scanned: scan the one after it rather
 * than wait, if there is one and a slot for it. */
static void scan_ahead_or_wait(struct pipeline *p, struct scanner *s)
{
	struct chunk *ahead = claim(p);

	if (ahead)
		scan_held(p, s, ahead);
	else
		pthread_cond_wait(&p->changed, &p->lock);
}

/* The next chunk, done: its messages emitted if it begins where those
 * emitted end; else the guess was wrong and it is dropped (the messages
 * from pos on are scanned again, up to the chunk after).  True when that
 * ends the scan, *res saying how. */
static bool take_chunk(struct pipeline *p, struct emitter *e, struct chunk *c,
		       enum scan_result *res)
{
	*res = SCAN_OK;
	if (c->from == e->pos) {
		if (c->result != SCAN_OK) {
			*e->end = c->end;
			*res = c->result;
			return true;
		}
		/* A chunk done is the session thread's alone. */
		pthread_mutex_unlock(&p->lock);
		bool emitted = emit_held(c, e->emit, e->context);
		pthread_mutex_lock(&p->lock);
		if (!emitted) {
			*res = SCAN_NO_MEMORY;
			return true;
		}
		if (c->stopped_at == NO_LIMIT) {
			*e->end = c->end;
			return true;
		}
		e->pos = c->stopped_at;
	}
	c->state = CHUNK_FREE;
	pthread_cond_broadcast(&p->changed);
	e->next++;
	return false;
}

/* Emits every message from e->pos (where one begins) on, in order: those
 * it scans itself and those of the chunks scanned ahead.  Called and
 * returns with the lock held. */
static enum scan_result scan_chunks(struct pipeline *p, struct emitter *e)
{
	enum scan_result res = SCAN_OK;
	bool finished = false;

	while (!finished) {
		struct chunk *c = &p->chunks[e->next % CHUNK_SLOTS];
		if (e->next == p->claimed || c->from > e->pos)
			finished = scan_up_to_chunk(p, e, &res);
		else if (c->state == CHUNK_SCANNING)
			scan_ahead_or_wait(p, e->s);
		else
			finished = take_chunk(p, e, c, &res);
	}
	return res;
}

/* Starts the worker with every signal blocked: they are the main
 * thread's to handle. */
static bool start_worker(pthread_t *thread, struct pipeline *p)
{
	sigset_t all, old;

	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0)
		return false;
	bool started = pthread_create(thread, NULL, run_worker, p) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return started;
}

static void stop_worker(struct pipeline *p, pthread_t thread)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	pthread_join(thread, NULL);
}

static bool pipeline_init(struct pipeline *p)
{
	if (!(p->worker = scanner_new()))
		return false;
	for (size_t i = 0; i < CHUNK_SLOTS; i++)
		if (!(p->chunks[i].held = malloc(HELD_MAX * sizeof(*p->chunks[i].held))))
			return false;
	return true;
}

static void pipeline_free(struct pipeline *p)
{
	for (size_t i = 0; i < CHUNK_SLOTS; i++)
		free(p->chunks[i].held);
	scanner_free(p->worker);
}

/* The scan with a worker thread; false if none could be started (then
 * nothing was emitted). */
static bool scan_with_worker(struct emitter *e, int fd, uint64_t chunk_bytes,
			     enum scan_result *res)
{
	struct pipeline p = { .fd = fd, .chunk_bytes = chunk_bytes, .next_from = e->pos };
	pthread_t thread;
	bool started = false;

	if (pthread_mutex_init(&p.lock, NULL) != 0)
		return false;
	if (pthread_cond_init(&p.changed, NULL) == 0) {
		started = pipeline_init(&p) && start_worker(&thread, &p);
		if (started) {
			pthread_mutex_lock(&p.lock);
			*res = scan_chunks(&p, e);
			pthread_mutex_unlock(&p.lock);
			stop_worker(&p, thread);
		}
		pipeline_free(&p);
		pthread_cond_destroy(&p.changed);
	}
	pthread_mutex_destroy(&p.lock);
	return started;
}

enum scan_result scan_mbox_rounds(int fd, uint64_t start, uint64_t *end,
				  scan_emit emit, void *context,
				  uint64_t round_bytes)
{
	struct scanner *s = scanner_new();
	struct emitter e = { .s = s, .emit = emit, .context = context, .pos = start,
			     .end = end };
	enum scan_result res = SCAN_OK;

	*end = start;
	if (!s)
		return SCAN_NO_MEMORY;
	if (round_bytes == 0 || !scan_with_worker(&e, fd, round_bytes, &res)) {
		/* One thread: the whole file in one range. */
		res = scan_range(s, fd, start, NO_LIMIT, emit, context);
		*end = s->next_read;
	}
	scanner_free(s);
	return res;
}

enum scan_result scan_mbox(int fd, uint64_t start, uint64_t *end,
			   scan_emit emit, void *context)
{
	struct stat st;
	cpu_set_t cpus;
	uint64_t chunk_bytes = 0;

	/* The processors this process may run on, not all the machine has. */
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size >= start + PARALLEL_MIN &&
	    sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) > 1)
		chunk_bytes = CHUNK_BYTES;
	return scan_mbox_rounds(fd, start, end, emit, context, chunk_bytes);
}
