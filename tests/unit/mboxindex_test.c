/*
 * The maildrop index file (mboxindex.h): what index_save writes,
 * index_load gives back, field for field; and a file that is cut short,
 * has a byte changed or one added, or holds records that contradict each
 * other, is refused as a whole (INDEX_UNUSABLE), without the caller being
 * asked to make room for a damaged count.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "mboxindex.h"

#define RECORDS 5
#define MAX_LOADED 16

/* What a load handed over. */
struct loaded {
	uint64_t refuse_at; /* 1 + the record to refuse; 0: reserve() refuses */
	bool refusing;
	uint64_t reserved; /* the count reserve() was asked for */
	uint64_t count;
	struct index_record r[MAX_LOADED];
};

static bool on_reserve(void *context, uint64_t count)
{
	struct loaded *l = context;
	l->reserved = count;
	return count <= MAX_LOADED && !(l->refusing && l->refuse_at == 0);
}

static bool on_record(void *context, const struct index_record *r)
{
	struct loaded *l = context;
	if (l->count >= MAX_LOADED || (l->refusing && l->refuse_at == l->count + 1))
		return false;
	l->r[l->count++] = *r;
	return true;
}

/* What a save writes: records from an array. */
struct saved {
	struct index_record r[MAX_LOADED];
};

static void give_record(void *context, uint64_t i, struct index_record *r)
{
	const struct saved *s = context;
	*r = s->r[i];
}

static const char pool[] = "<id-1@example.org>\0<id-2@example.org>";
static const uint64_t retired[] = { 7, UINT64_MAX, 0x0123456789abcdefu };

/* A maildrop of RECORDS messages with every field set to something that
 * shows in the file: large offsets, digests, suffixes, pool references. */
static void sample(struct index_header *h, struct saved *s)
{
	*h = (struct index_header){ .dev = UINT64_C(0xfedcba9876543210),
				    .ino = 123456789,
				    .size = UINT64_C(1) << 40,
				    .mtime_sec = -2,
				    .mtime_nsec = 999999999,
				    .count = RECORDS,
				    .pool_len = sizeof(pool),
				    .retired_count = 3,
				    .appendable = true };
	for (int i = 0; i < 16; i++)
		h->tail_digest[i] = (uint8_t)(0xa0 + i);
	uint64_t at = 0;
	for (uint64_t i = 0; i < RECORDS; i++) {
		struct index_record *r = &s->r[i];
		*r = (struct index_record){ .start = at,
					    .data = at + 40 + i,
					    .length = 1000 * (i + 1),
					    .size = 1000 * (i + 1) + 7 };
		for (int k = 0; k < 16; k++)
			r->digest[k] = (uint8_t)(i * 16 + (uint64_t)k);
		r->suffix = (uint32_t)i;
		if (i == 1) {
			r->xuidl_at = 1;
			r->use_xuidl = true;
		}
		if (i == 3)
			r->xuidl_at = 20; /* the second id: known, not used */
		at = r->data + r->length + 1;
	}
	s->r[RECORDS - 1].suffix = (UINT32_C(1) << 31) - 1;
}

static bool same_record(const struct index_record *a, const struct index_record *b)
{
	return a->start == b->start && a->data == b->data && a->length == b->length &&
	       a->size == b->size && memcmp(a->digest, b->digest, 16) == 0 &&
	       a->suffix == b->suffix && a->xuidl_at == b->xuidl_at &&
	       a->use_xuidl == b->use_xuidl;
}

static bool same_header(const struct index_header *a, const struct index_header *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
	       memcmp(a->tail_digest, b->tail_digest, 16) == 0 &&
	       a->count == b->count && a->pool_len == b->pool_len &&
	       a->retired_count == b->retired_count && a->appendable == b->appendable;
}

static enum index_status load(const char *dir, struct index_header *h,
			      struct loaded *l)
{
	struct index_reader reader = { on_reserve, on_record, l };
	char *p;
	uint64_t *r;

	memset(l, 0, sizeof(*l));
	enum index_status st = index_load(dir, h, &reader, &p, &r);
	if (st == INDEX_OK) {
		CHECK(memcmp(p, pool, sizeof(pool)) == 0 && p[sizeof(pool)] == '\0');
		CHECK(memcmp(r, retired, sizeof(retired)) == 0);
	} else {
		CHECK(p == NULL && r == NULL);
	}
	free(p);
	free(r);
	return st;
}

static bool save(const char *dir, const struct index_header *h, struct saved *s)
{
	return index_save(dir, h, give_record, s, pool, retired);
}

/* The whole file, and putting it back as it was or changed. */
static size_t read_index(const char *path, unsigned char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, cap) : -1;
	if (fd >= 0)
		close(fd);
	CHECK(n > 0 && (size_t)n < cap);
	return n > 0 ? (size_t)n : 0;
}

static void write_index(const char *path, const unsigned char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, buf, len) == (ssize_t)len);
	if (fd >= 0)
		CHECK(close(fd) == 0);
}

static void test_round_trip(const char *dir)
{
	struct index_header h, got;
	struct saved s;
	struct loaded l;

	CHECK(load(dir, &got, &l) == INDEX_MISSING);
	sample(&h, &s);
	CHECK(save(dir, &h, &s));
	if (!CHECK(load(dir, &got, &l) == INDEX_OK))
		return;
	CHECK(same_header(&h, &got));
	CHECK(l.reserved == RECORDS && l.count == RECORDS);
	for (int i = 0; i < RECORDS; i++)
		CHECK(same_record(&s.r[i], &l.r[i]));
	/* Saved again over its own spare, with fewer records and no pool:
	 * the longer old file must not show through. */
	h.count = 1;
	h.pool_len = 0;
	h.retired_count = 0;
	h.appendable = false;
	s.r[0].xuidl_at = 0;
	CHECK(index_save(dir, &h, give_record, &s, "", retired));
	struct index_reader reader = { on_reserve, on_record, &l };
	char *p;
	uint64_t *r;
	memset(&l, 0, sizeof(l));
	CHECK(index_load(dir, &got, &reader, &p, &r) == INDEX_OK &&
	      same_header(&h, &got) && l.count == 1 && same_record(&s.r[0], &l.r[0]));
	free(p);
	free(r);
}

/* Every way the stored bytes can be damaged is caught by the checksum
 * or the structure: cut at any length, any byte changed, a byte added. */
static void test_damaged_file(const char *dir, const char *path)
{
	struct index_header h, got;
	struct saved s;
	struct loaded l;
	static unsigned char good[8192], bad[8192];

	sample(&h, &s);
	if (!CHECK(save(dir, &h, &s)))
		return;
	size_t len = read_index(path, good, sizeof(good));
	unsigned cut_ok = 0, flip_ok = 0;
	for (size_t n = 0; n < len; n++) {
		write_index(path, good, n);
		cut_ok += load(dir, &got, &l) == INDEX_UNUSABLE && l.count <= RECORDS;
	}
	CHECK(cut_ok == len);
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, good, len);
		bad[i] ^= (uint8_t)(1u << (i % 8));
		write_index(path, bad, len);
		flip_ok += load(dir, &got, &l) == INDEX_UNUSABLE;
	}
	CHECK(flip_ok == len);
	memcpy(bad, good, len);
	bad[len] = 0;
	write_index(path, bad, len + 1);
	CHECK(load(dir, &got, &l) == INDEX_UNUSABLE);
	write_index(path, good, len);
	CHECK(load(dir, &got, &l) == INDEX_OK);
}

/* A count far beyond what the file can hold (here its top byte set, as
 * one flipped bit would) is refused before the reader reserves room. */
static void test_damaged_count(const char *dir, const char *path)
{
	struct index_header h, got;
	struct saved s;
	struct loaded l;
	static unsigned char buf[8192];

	sample(&h, &s);
	if (!CHECK(save(dir, &h, &s)))
		return;
	size_t len = read_index(path, buf, sizeof(buf));
	/* The count is the first 8-byte field after the header's fixed
	 * fields: find it as the little-endian RECORDS after the digest. */
	size_t at = 0;
	for (size_t i = 8; i + 8 <= len && !at; i++)
		if (buf[i] == RECORDS && memcmp(buf + i + 1, "\0\0\0\0\0\0\0", 7) == 0 &&
		    memcmp(buf + i - 16, h.tail_digest, 16) == 0)
			at = i;
	if (!CHECK(at != 0))
		return;
	for (int byte = 1; byte < 8; byte++) {
		buf[at + (size_t)byte] = 0x80;
		write_index(path, buf, len);
		CHECK(load(dir, &got, &l) == INDEX_UNUSABLE && l.reserved == 0);
		buf[at + (size_t)byte] = 0;
	}
}

/* Records that are well stored but cannot describe an mbox: the index
 * is not believed, whatever its checksum says. */
static void test_inconsistent_records(const char *dir)
{
	struct index_header h, got;
	struct saved s;
	struct loaded l;

	enum { DATA_BEFORE_START, PAST_INDEXED_SIZE, OVERLAP, LENGTH_WRAPS,
	       XUIDL_OUTSIDE_POOL, XUIDL_USED_BUT_NONE, SUFFIX_TOO_BIG,
	       POOL_UNTERMINATED, CASES };
	for (int c = 0; c < CASES; c++) {
		sample(&h, &s);
		struct index_record *r = &s.r[2];
		switch (c) {
		case DATA_BEFORE_START: r->data = r->start; break;
		case PAST_INDEXED_SIZE: r->length = h.size; break;
		case OVERLAP: r->start = s.r[1].data + s.r[1].length - 1; break;
		case LENGTH_WRAPS: r->length = UINT64_MAX - r->data + 1; break;
		case XUIDL_OUTSIDE_POOL: r->xuidl_at = (uint32_t)h.pool_len + 1; break;
		case XUIDL_USED_BUT_NONE:
			r->xuidl_at = 0;
			r->use_xuidl = true;
			break;
		case SUFFIX_TOO_BIG: r->suffix = UINT32_C(1) << 31; break;
		case POOL_UNTERMINATED: h.pool_len = sizeof(pool) - 1; break;
		}
		char name[32];
		snprintf(name, sizeof(name), "inconsistent case %d", c);
		if (CHECK_CASE(save(dir, &h, &s), name))
			CHECK_CASE(load(dir, &got, &l) == INDEX_UNUSABLE, name);
	}
}

/* The caller may refuse too: a reserve() or record() that says no stops
 * the load, and nothing is handed back. */
static void test_caller_refuses(const char *dir)
{
	struct index_header h, got;
	struct saved s;
	struct loaded l;

	sample(&h, &s);
	CHECK(save(dir, &h, &s));
	for (uint64_t refuse = 0; refuse <= RECORDS; refuse++) {
		memset(&l, 0, sizeof(l));
		l.refusing = true;
		l.refuse_at = refuse;
		struct index_reader reader = { on_reserve, on_record, &l };
		char *p;
		uint64_t *r;
		enum index_status st = index_load(dir, &got, &reader, &p, &r);
		CHECK(st == INDEX_UNUSABLE && p == NULL && r == NULL);
	}
	CHECK(load(dir, &got, &l) == INDEX_OK);
}

int main(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	char dir[64], path[96];

	snprintf(dir, sizeof(dir), "%s/mboxindex-test.XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror(dir);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/index", dir);
	test_round_trip(dir);
	test_damaged_file(dir, path);
	test_damaged_count(dir, path);
	test_inconsistent_records(dir);
	test_caller_refuses(dir);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		CHECK(!"temporary directory removed");
	return check_summary();
}
