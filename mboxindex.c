/*
 * The maildrop index file.  See mboxindex.h.
 *
 * Layout, integers little-endian:
 *   "P3SIDX02", dev, ino, size, mtime_sec, mtime_nsec, tail_digest[16],
 *   count, pool_len, retired_count, flags
 *   count records: start, data, length, size, digest[16], suffix(u32),
 *                  xuidl_at(u32), use_xuidl(u8), 7 zero bytes  (64 bytes)
 *   the X-UIDL pool, pool_len bytes
 *   retired_count keys (u64)
 *   digest[16] of everything before it
 * The file streams through a small buffer both ways, so memory stays
 * proportional to the number of messages, not to twice that.
 */
#include "mboxindex.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "byteorder.h"
#include "contenthash.h"
#include "fileio.h"
#include "params.h"

#define INDEX_FILE "index"
/* The index is written here, then swapped in (index_save). */
#define INDEX_SPARE "index.spare"
#define RECORD_BYTES 64
/* An index can describe at most this many messages: a sanity bound on a
 * damaged count, far beyond any mbox (1,000,000 messages is 64 MB). */
#define MAX_RECORDS (UINT64_C(1) << 32)

static const char magic[8] = { 'P', '3', 'S', 'I', 'D', 'X', '0', '2' };

/* ---- a checksummed stream over a file descriptor ---- */

struct stream {
	int fd;
	bool failed;
	size_t len; /* bytes buffered */
	size_t pos; /* reader: next byte in buf */
	size_t hashed; /* reader: buf is hashed up to here */
	struct content_hash hash;
	unsigned char buf[65536];
};

/* The writer hashes a buffer at a time as it writes it out, like the
 * reader below: the checksum then costs a fraction of a cycle a byte. */
static void stream_flush(struct stream *w)
{
	content_hash_update(&w->hash, w->buf, w->len);
	if (!w->failed)
		w->failed = !write_full(w->fd, w->buf, w->len);
	w->len = 0;
}

static void stream_write(struct stream *w, const void *data, size_t n)
{
	const unsigned char *p = data;

	while (n > 0) {
		if (w->len == sizeof(w->buf))
			stream_flush(w);
		size_t k = sizeof(w->buf) - w->len < n ? sizeof(w->buf) - w->len : n;
		memcpy(w->buf + w->len, p, k);
		w->len += k;
		p += k;
		n -= k;
	}
}

static void stream_write_u64(struct stream *w, uint64_t v)
{
	unsigned char b[8];
	le64_store(b, v);
	stream_write(w, b, 8);
}

/* The reader hashes what it has consumed a buffer at a time, not field
 * by field: the checksum then costs about an instruction a byte. */
static void hash_consumed(struct stream *r)
{
	content_hash_update(&r->hash, r->buf + r->hashed, r->pos - r->hashed);
	r->hashed = r->pos;
}

static bool stream_read(struct stream *r, void *data, size_t n)
{
	unsigned char *p = data;

	while (n > 0 && !r->failed) {
		if (r->pos == r->len) {
			hash_consumed(r);
			ssize_t got = read(r->fd, r->buf, sizeof(r->buf));
			if (got < 0 && errno == EINTR)
				continue;
			r->failed = got <= 0;
			r->len = got > 0 ? (size_t)got : 0;
			r->pos = r->hashed = 0;
			continue;
		}
		size_t k = r->len - r->pos < n ? r->len - r->pos : n;
		memcpy(p, r->buf + r->pos, k);
		r->pos += k;
		p += k;
		n -= k;
	}
	return !r->failed;
}

static uint64_t stream_read_u64(struct stream *r)
{
	unsigned char b[8];
	return stream_read(r, b, 8) ? le64_load(b) : 0;
}

/* ---- reading ---- */

static bool read_header(struct stream *r, struct index_header *h)
{
	unsigned char m[8];

	if (!stream_read(r, m, 8) || memcmp(m, magic, 8) != 0)
		return false;
	h->dev = stream_read_u64(r);
	h->ino = stream_read_u64(r);
	h->size = stream_read_u64(r);
	h->mtime_sec = (int64_t)stream_read_u64(r);
	h->mtime_nsec = (int64_t)stream_read_u64(r);
	stream_read(r, h->tail_digest, CONTENT_DIGEST_SIZE);
	h->count = stream_read_u64(r);
	h->pool_len = stream_read_u64(r);
	h->retired_count = stream_read_u64(r);
	h->appendable = stream_read_u64(r) & 1;
	return !r->failed && h->count < MAX_RECORDS &&
	       h->pool_len < UINT32_MAX && h->retired_count < MAX_RECORDS;
}

/* A record is read whole and decoded in place: a million of them are
 * read at every login to a large maildrop. */
/* The next n bytes where they lie in the buffer, or copied into scratch
 * when they straddle its end (a record in a thousand). */
static const unsigned char *stream_next(struct stream *r, unsigned char *scratch,
				 size_t n)
{
	if (r->len - r->pos >= n) {
		r->pos += n;
		return r->buf + r->pos - n;
	}
	return stream_read(r, scratch, n) ? scratch : NULL;
}

static bool read_record(struct stream *r, struct index_record *rec,
			uint64_t pool_len)
{
	unsigned char scratch[RECORD_BYTES];
	const unsigned char *b = stream_next(r, scratch, RECORD_BYTES);

	if (!b)
		return false;
	rec->start = le64_load(b);
	rec->data = le64_load(b + 8);
	rec->length = le64_load(b + 16);
	rec->size = le64_load(b + 24);
	memcpy(rec->digest, b + 32, CONTENT_DIGEST_SIZE);
	rec->suffix = le32_load(b + 48);
	rec->xuidl_at = le32_load(b + 52);
	rec->use_xuidl = b[56] != 0;
	/* Offsets must be in order and inside the indexed part; an id from
	 * the pool must point into it. */
	return rec->start < rec->data && rec->data <= UINT64_MAX - rec->length &&
	       rec->suffix < (UINT32_C(1) << 31) && rec->xuidl_at <= pool_len &&
	       (!rec->use_xuidl || rec->xuidl_at);
}

static bool read_rest(struct stream *r, const struct index_header *h,
		      char **pool, uint64_t **retired)
{
	uint8_t expected[CONTENT_DIGEST_SIZE], found[CONTENT_DIGEST_SIZE];

	*pool = malloc(h->pool_len + 1);
	*retired = malloc((h->retired_count + 1) * sizeof(**retired));
	if (!*pool || !*retired || !stream_read(r, *pool, h->pool_len))
		return false;
	(*pool)[h->pool_len] = '\0';
	for (uint64_t i = 0; i < h->retired_count; i++)
		(*retired)[i] = stream_read_u64(r);
	hash_consumed(r);
	content_hash_final(&r->hash, expected);
	unsigned char extra;
	return stream_read(r, found, CONTENT_DIGEST_SIZE) &&
	       memcmp(found, expected, CONTENT_DIGEST_SIZE) == 0 &&
	       !stream_read(r, &extra, 1);
}

static bool pool_is_sane(const char *pool, uint64_t len)
{
	return len == 0 || pool[len - 1] == '\0';
}

enum index_status index_load(const char *state_dir, struct index_header *h,
			     const struct index_reader *reader, char **pool,
			     uint64_t **retired)
{
	char path[PATH_BUFFER];
	struct stream *r = calloc(1, sizeof(*r));
	bool ok = false;

	*pool = NULL;
	*retired = NULL;
	if (!r || !join_path(path, sizeof(path), state_dir, INDEX_FILE)) {
		free(r);
		return INDEX_UNUSABLE;
	}
	r->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (r->fd < 0) {
		int missing = errno == ENOENT;
		free(r);
		return missing ? INDEX_MISSING : INDEX_UNUSABLE;
	}
	content_hash_init(&r->hash);
	struct stat st;
	/* A damaged count must not make the caller reserve room for it. */
	if (fstat(r->fd, &st) == 0 && read_header(r, h) &&
	    h->count <= (uint64_t)st.st_size / RECORD_BYTES &&
	    reader->reserve(reader->context, h->count)) {
		struct index_record rec;
		uint64_t i = 0, last_end = 0;
		for (; i < h->count; i++) {
			if (!read_record(r, &rec, h->pool_len) || rec.start < last_end ||
			    rec.data + rec.length > h->size ||
			    !reader->record(reader->context, &rec))
				break;
			last_end = rec.data + rec.length;
		}
		ok = i == h->count && read_rest(r, h, pool, retired) &&
		     pool_is_sane(*pool, h->pool_len);
	}
	close(r->fd);
	free(r);
	if (!ok) {
		free(*pool);
		free(*retired);
		*pool = NULL;
		*retired = NULL;
	}
	return ok ? INDEX_OK : INDEX_UNUSABLE;
}

/* ---- writing ---- */

static void write_header(struct stream *w, const struct index_header *h)
{
	stream_write(w, magic, 8);
	stream_write_u64(w, h->dev);
	stream_write_u64(w, h->ino);
	stream_write_u64(w, h->size);
	stream_write_u64(w, (uint64_t)h->mtime_sec);
	stream_write_u64(w, (uint64_t)h->mtime_nsec);
	stream_write(w, h->tail_digest, CONTENT_DIGEST_SIZE);
	stream_write_u64(w, h->count);
	stream_write_u64(w, h->pool_len);
	stream_write_u64(w, h->retired_count);
	stream_write_u64(w, h->appendable ? 1 : 0);
}

/* Encoded whole and handed over in one piece, for the same reason. */
static void write_record(struct stream *w, const struct index_record *rec)
{
	unsigned char b[RECORD_BYTES] = { 0 };

	le64_store(b, rec->start);
	le64_store(b + 8, rec->data);
	le64_store(b + 16, rec->length);
	le64_store(b + 24, rec->size);
	memcpy(b + 32, rec->digest, CONTENT_DIGEST_SIZE);
	le32_store(b + 48, rec->suffix);
	le32_store(b + 52, rec->xuidl_at);
	b[56] = rec->use_xuidl;
	if (sizeof(w->buf) - w->len < sizeof(b)) {
		stream_write(w, b, sizeof(b));
		return;
	}
	memcpy(w->buf + w->len, b, sizeof(b)); /* a fixed size: no call */
	w->len += sizeof(b);
}

static bool write_index(struct stream *w, const struct index_header *h,
			index_record_out record, void *context, const char *pool,
			const uint64_t *retired)
{
	uint8_t digest[CONTENT_DIGEST_SIZE];

	content_hash_init(&w->hash);
	write_header(w, h);
	for (uint64_t i = 0; i < h->count && !w->failed; i++) {
		struct index_record rec;
		record(context, i, &rec);
		write_record(w, &rec);
	}
	stream_write(w, pool, h->pool_len);
	for (uint64_t i = 0; i < h->retired_count; i++)
		stream_write_u64(w, retired[i]);
	stream_flush(w);
	content_hash_final(&w->hash, digest);
	stream_write(w, digest, CONTENT_DIGEST_SIZE);
	if (!w->failed)
		w->failed = !write_full(w->fd, w->buf, w->len);
	return !w->failed;
}

/* The file the next index is written to: the previous generation's, left
 * by the last save and overwritten in place, or a new one. */
static int open_spare(const char *spare)
{
	struct stat st;
	int fd = open(spare, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_uid == geteuid() && st.st_nlink == 1 && !(st.st_mode & 077))
		return fd;
	if (fd >= 0)
		close(fd);
	if (unlink(spare) != 0 && errno != ENOENT)
		return -1;
	return open(spare, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
}

/* Puts the spare in the index's place, atomically.  Exchanging the two
 * names keeps the old index's file as the next spare: replacing it would
 * free its blocks, which for a large index costs more than writing it. */
static bool install(const char *spare, const char *path)
{
#ifdef RENAME_EXCHANGE
	if (renameat2(AT_FDCWD, spare, AT_FDCWD, path, RENAME_EXCHANGE) == 0)
		return true;
	if (errno != ENOENT && errno != EINVAL && errno != ENOSYS)
		return false;
#endif
	return rename(spare, path) == 0;
}

bool index_save(const char *state_dir, const struct index_header *h,
		index_record_out record, void *context, const char *pool,
		const uint64_t *retired)
{
	char path[PATH_BUFFER], spare[PATH_BUFFER];
	struct stream *w = calloc(1, sizeof(*w));

	if (!w || !join_path(path, sizeof(path), state_dir, INDEX_FILE) ||
	    !join_path(spare, sizeof(spare), state_dir, INDEX_SPARE)) {
		free(w);
		return false;
	}
	w->fd = open_spare(spare);
	bool ok = w->fd >= 0 && write_index(w, h, record, context, pool, retired);
	/* The spare may have been longer.  No fsync: a cache lost in a crash
	 * is rebuilt, a torn one is caught by its checksum. */
	if (ok) {
		off_t end = lseek(w->fd, 0, SEEK_CUR);
		ok = end >= 0 && ftruncate(w->fd, end) == 0;
	}
	if (w->fd >= 0 && close(w->fd) != 0)
		ok = false;
	if (ok && !install(spare, path))
		ok = false;
	if (!ok) {
		syslog(LOG_WARNING, "%s: cannot write the index: %m", path);
		unlink(spare);
	}
	free(w);
	return ok;
}
