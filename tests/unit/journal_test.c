/*
 * The update journal (journal.h), through its public calls: a rewrite
 * that completes; one that fails once the journal is durable but before
 * the mbox is written (the mbox descriptor is read-only, so every write
 * to it fails), whose journal journal_recover then reads back and
 * finishes -- the plan's encoding and decoding, round trip; the same with
 * mail delivered in between; and journals cut short or with a byte
 * changed, which recovery must discard or finish, never half apply.
 * Checkpoints written during the windowed move are checked by the kill
 * tests (tests/integrity-kill.bats) and the update fuzzer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "journal.h"

static char dir[64], mbox_path[96], journal_path[96];
static unsigned char buffer[JOURNAL_BUFFER];

/* A growable byte string. */
struct bytes {
	unsigned char *p;
	size_t len;
};

static void append(struct bytes *b, const void *data, size_t len)
{
	unsigned char *p = realloc(b->p, b->len + len + 1);
	if (!p) {
		perror("realloc");
		exit(2);
	}
	memcpy(p + b->len, data, len);
	b->p = p;
	b->len += len;
}

/* n bytes of a message: a From line, then a pattern that depends on seed,
 * so that text moved to the wrong place shows. */
static void message(struct bytes *b, size_t n, unsigned seed)
{
	static const char from[] = "From a@b Mon Nov 23 10:00:00 2026\n";
	unsigned char *text = malloc(n);
	if (!text) {
		perror("malloc");
		exit(2);
	}
	memcpy(text, from, sizeof(from) - 1 < n ? sizeof(from) - 1 : n);
	for (size_t i = sizeof(from) - 1; i < n; i++)
		text[i] = i % 61 == 60 ? '\n' : (unsigned char)('a' + (seed + i) % 26);
	append(b, text, n);
	free(text);
}

static void write_file(const char *path, const struct bytes *b)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, b->p, b->len) == (ssize_t)b->len);
	if (fd >= 0)
		CHECK(close(fd) == 0);
}

static struct bytes read_file(const char *path)
{
	struct bytes b = { NULL, 0 };
	unsigned char chunk[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
		append(&b, chunk, (size_t)n);
	if (fd >= 0)
		close(fd);
	append(&b, "", 0);
	return b;
}

static bool file_is(const char *path, const struct bytes *want)
{
	struct bytes got = read_file(path);
	bool same = got.len == want->len && memcmp(got.p, want->p, got.len) == 0;
	free(got.p);
	return same;
}

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* A maildrop of messages, and which of them the rewrite keeps. */
struct scenario {
	struct bytes mbox;     /* as it was */
	struct bytes expected; /* after the rewrite */
	uint64_t start;        /* the first byte that changes */
	struct text_run runs[8];
	size_t count;
};

/* sizes[i] > 0: a kept message of that size; < 0: a deleted one. */
static void build(struct scenario *s, const long *sizes, size_t n)
{
	memset(s, 0, sizeof(*s));
	bool changed = false;
	for (size_t i = 0; i < n; i++) {
		size_t at = s->mbox.len;
		size_t len = (size_t)(sizes[i] < 0 ? -sizes[i] : sizes[i]);
		message(&s->mbox, len, (unsigned)i);
		if (sizes[i] < 0 && !changed) {
			changed = true;
			s->start = at;
		}
		if (sizes[i] > 0) {
			append(&s->expected, s->mbox.p + at, len);
			if (changed)
				s->runs[s->count++] = (struct text_run){ at, len };
		}
	}
}

static void free_scenario(struct scenario *s)
{
	free(s->mbox.p);
	free(s->expected.p);
}

static enum journal_result rewrite(const struct scenario *s, int flags)
{
	int fd = open(mbox_path, flags);
	if (!CHECK(fd >= 0))
		return JOURNAL_NOTHING;
	enum journal_result r =
		journal_rewrite(fd, dir, s->start, s->runs, s->count, buffer);
	close(fd);
	return r;
}

static bool recover(void)
{
	int fd = open(mbox_path, O_RDWR);
	if (!CHECK(fd >= 0))
		return false;
	bool ok = journal_recover(fd, dir, buffer);
	close(fd);
	return ok;
}

/* The journal a rewrite leaves when it cannot write the mbox at all. */
static bool pending_journal(const struct scenario *s, struct bytes *journal)
{
	write_file(mbox_path, &s->mbox);
	bool ok = CHECK(rewrite(s, O_RDONLY) == JOURNAL_PENDING) &&
		  CHECK(file_is(mbox_path, &s->mbox)) &&
		  CHECK(file_size(journal_path) > 0);
	*journal = read_file(journal_path);
	return ok;
}

/* Small maildrops (the new text goes in the journal) and one where a
 * deleted message is bigger than the smallest window, so that the kept
 * text moves in windows straight from its old place. */
static const long small_drop[] = { 300, -200, 500, -100, -50, 700, 90 };
static const long head_only[] = { 300, 500, -200, -100 };
static const long first_gone[] = { -300, 400 };
#define MIB (1L << 20)
static const long big_gap[] = { 1000, -5 * MIB, 9 * MIB, -300, 2 * MIB };

#define SCENARIO(a) a, sizeof(a) / sizeof(a[0])

static void test_rewrite(const long *sizes, size_t n)
{
	struct scenario s;
	build(&s, sizes, n);
	write_file(mbox_path, &s.mbox);
	CHECK(rewrite(&s, O_RDWR) == JOURNAL_DONE);
	CHECK(file_is(mbox_path, &s.expected));
	/* Nothing pending: the journal is empty, and recovery finds nothing. */
	CHECK(file_size(journal_path) <= 0);
	CHECK(recover() && file_is(mbox_path, &s.expected));
	free_scenario(&s);
}

/* The plan written by journal_rewrite, read back by journal_recover. */
static void test_round_trip(const long *sizes, size_t n)
{
	struct scenario s;
	struct bytes journal;
	build(&s, sizes, n);
	if (pending_journal(&s, &journal)) {
		CHECK(recover() && file_is(mbox_path, &s.expected));
		CHECK(file_size(journal_path) == 0);
	}
	/* Mail delivered before the recovery is kept, after the new text. */
	write_file(mbox_path, &s.mbox);
	write_file(journal_path, &journal);
	struct bytes late = { NULL, 0 }, with_late = { NULL, 0 }, want = { NULL, 0 };
	message(&late, 333, 7);
	append(&with_late, s.mbox.p, s.mbox.len);
	append(&with_late, late.p, late.len);
	write_file(mbox_path, &with_late);
	append(&want, s.expected.p, s.expected.len);
	append(&want, late.p, late.len);
	CHECK(recover() && file_is(mbox_path, &want));
	CHECK(file_size(journal_path) == 0);
	free(late.p);
	free(with_late.p);
	free(want.p);
	free(journal.p);
	free_scenario(&s);
}

/* A journal cut anywhere was torn while being written, before the mbox
 * was touched: recovery discards it and leaves the mbox as it is.  A
 * changed byte either makes the journal unusable in the same way or
 * (in a checkpoint slot not yet used) changes nothing: the mbox ends up
 * as it was or as planned, never in between. */
static void test_damaged_journal(void)
{
	struct scenario s;
	struct bytes journal, cut;
	build(&s, SCENARIO(small_drop));
	if (!pending_journal(&s, &journal)) {
		free_scenario(&s);
		return;
	}
	size_t cut_ok = 0, flip_ok = 0, flip_discarded = 0;
	for (size_t n = 0; n < journal.len; n++) {
		write_file(mbox_path, &s.mbox);
		cut = journal;
		cut.len = n;
		write_file(journal_path, &cut);
		cut_ok += recover() && file_is(mbox_path, &s.mbox) &&
			  file_size(journal_path) == 0;
	}
	CHECK(cut_ok == journal.len);
	for (size_t i = 0; i < journal.len; i++) {
		for (unsigned bit = 0; bit < 8; bit += 7) {
			write_file(mbox_path, &s.mbox);
			journal.p[i] ^= (unsigned char)(1u << bit);
			write_file(journal_path, &journal);
			journal.p[i] ^= (unsigned char)(1u << bit);
			bool ok = recover();
			bool old = file_is(mbox_path, &s.mbox);
			bool planned = file_is(mbox_path, &s.expected);
			flip_ok += ok && (old || planned);
			flip_discarded += old;
		}
	}
	CHECK(flip_ok == 2 * journal.len);
	/* The plan (all but the two checkpoint slots at the end) is
	 * checksummed: most changes must have been caught. */
	CHECK(flip_discarded > journal.len);
	free(journal.p);
	free_scenario(&s);
}

/* Runs that do not describe a shrinking rewrite of the file's end are
 * refused before the mbox or the journal is touched. */
static void test_bad_plans(void)
{
	struct scenario s;
	build(&s, SCENARIO(small_drop));
	const struct text_run keep[3] = { s.runs[0], s.runs[1], s.runs[2] };
	uint64_t end = s.mbox.len;
	struct {
		const char *name;
		uint64_t start;
		struct text_run runs[3];
		size_t count;
	} bad[] = {
		{ "out of order", s.start, { keep[1], keep[0] }, 2 },
		{ "overlapping", s.start, { keep[0], { keep[0].offset + 1, 10 } }, 2 },
		{ "run before start", keep[0].offset + 1, { keep[0] }, 1 },
		{ "run at its own place", s.start, { { s.start, 10 } }, 1 },
		{ "run past the end", s.start, { { end - 10, 11 } }, 1 },
		{ "length wraps", s.start, { { keep[0].offset, UINT64_MAX } }, 1 },
		{ "empty run", s.start, { keep[0], { keep[1].offset, 0 }, keep[2] }, 3 },
		{ "file would grow", 0, { { 1, end - 1 }, { 1, 2 } }, 2 },
		{ "start past the end", end + 10, { { end + 20, 1 } }, 1 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(mbox_path, &s.mbox);
		s.start = bad[i].start;
		memcpy(s.runs, bad[i].runs, sizeof(bad[i].runs));
		s.count = bad[i].count;
		CHECK_CASE(rewrite(&s, O_RDWR) == JOURNAL_NOTHING, bad[i].name);
		CHECK_CASE(file_is(mbox_path, &s.mbox), bad[i].name);
		CHECK_CASE(file_size(journal_path) <= 0, bad[i].name);
	}
	free_scenario(&s);
}

/* Only the end goes: a cut, no journal. */
static void test_cut_only(void)
{
	struct scenario s;
	build(&s, SCENARIO(head_only));
	write_file(mbox_path, &s.mbox);
	CHECK(s.count == 0);
	CHECK(rewrite(&s, O_RDWR) == JOURNAL_DONE && file_is(mbox_path, &s.expected));
	free_scenario(&s);
}

int main(void)
{
	/* tmpfs where there is one: the journal fsyncs a lot, and what is
	 * checked here is what the files hold, not the disk. */
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/journal-test.XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror(dir);
		return 1;
	}
	snprintf(mbox_path, sizeof(mbox_path), "%s/mbox", dir);
	snprintf(journal_path, sizeof(journal_path), "%s/journal", dir);

	test_rewrite(SCENARIO(small_drop));
	test_rewrite(SCENARIO(first_gone));
	test_rewrite(SCENARIO(big_gap));
	test_round_trip(SCENARIO(small_drop));
	test_round_trip(SCENARIO(first_gone));
	test_round_trip(SCENARIO(big_gap));
	test_damaged_journal();
	test_bad_plans();
	test_cut_only();

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		CHECK(!"temporary directory removed");
	return check_summary();
}
