/*
 * Fuzz target: the QUIT update (mailbox_update, journal_rewrite) and the
 * recovery of an update a crash interrupted (journal_recover, run by
 * mailbox_open).
 *
 * The input describes a maildrop, which of its messages are deleted,
 * mail delivered during the session, and optionally a crash at the k-th
 * crash point of the update (fault.h), mail delivered after it, a second
 * crash at the k2-th point of the recovery and mail delivered after that.
 * The run aborts when
 *  - an update without a crash fails, or leaves anything but the kept
 *    messages in order followed by the mail delivered during the session,
 *    byte for byte;
 *  - after the crashes and the session that recovers, the maildrop is not
 *    exactly the kept messages (or, when the update never reached the
 *    mbox, all of them) followed by all the mail delivered since the
 *    session began: nothing lost, nothing twice, no deletion half done;
 *  - a journal is left pending, set aside or half-replaced;
 *  - a session that trusts the saved index sees other messages (count,
 *    sizes) than one that scans the file afresh.
 *
 * Crashes are real process deaths: the update runs in a forked child
 * whose fault_point() -- this file's, in place of fault.c's -- _exits at
 * the chosen point, as a kill there would; the parent then delivers mail
 * and recovers, as the next session would.  Everything is on tmpfs when
 * there is one, so what a kill leaves is exactly what was written; a
 * power cut (unsynced writes lost) is not modelled.
 *
 * The fuzz build sets MIN_WINDOW to 64 bytes (params.h), so that a few
 * kilobytes of mail already move in checkpointed windows after a journaled
 * prefix, as gigabytes do in production.
 *
 * Input, one byte at a time (missing bytes read as 0):
 *   flags   bits 0-1: messages delivered during the session,
 *           bits 2-3: after the crash, bits 4-5: after the second crash
 *   k       crash at the k-th point of the update (0: no crash)
 *   k2      crash at the k2-th point of the recovery (0: none)
 *   n       1 + n % 32 messages, each:
 *     a     bit 0: deleted; bits 1-2: separator (0, 2: LF; 1: CRLF;
 *           3: none if it is the last); bit 3: raw body; bits 4-7: seed
 *     s     raw: the body's length, then that many bytes;
 *           else: a patterned body of 8 * s bytes from the seed
 *   then for each delivered message
 *     c     bits 0-1: 0 a new message as above (a, s; bit 0 unused),
 *           1 a copy of message j (next byte, mod n), 2 a copy of the
 *           original maildrop from message j on, 3 "From " and raw
 *           bytes (length, bytes), as an MDA might leave them
 * A body never has "From " at the start of a line ('F' there becomes
 * 'f'), so the maildrop has exactly the messages described.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/wait.h>

#include "fault.h"
#include "fuzz.h"
#include "mailbox.h"

#ifndef POP3_FAULT_INJECTION
#error "fuzz_update needs the crash points: build with -DPOP3_FAULT_INJECTION"
#endif

#define MAX_MESSAGES 32
/* How a forked child ends. */
#define CHILD_DONE 0
#define CHILD_FAILED 3
#define CHILD_CRASHED 77

static const char from_line[] = "From fuzz@example.org Thu Jan  1 00:00:00 2026\n";

static char mbox_path[128];
static char state_dir[128];

/* ---- the crash points ---- */

static unsigned long fault_count;   /* points passed in this process */
static unsigned long fault_kill_at; /* 0: never */
static bool fault_trace;

/* Replaces fault.c's: counts the points; in a child set up to crash,
 * dies at the chosen one as a kill would (no exit handlers, no flush). */
void fault_point(const char *where)
{
	fault_count++;
	if (fault_trace)
		fprintf(stderr, "fault point %lu%s: %s\n", fault_count,
			fault_count == fault_kill_at ? " (crash)" : "", where);
	if (fault_kill_at != 0 && fault_count == fault_kill_at)
		_exit(CHILD_CRASHED);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);

/* A fork copies the page tables of ASan's quarantine of freed memory
 * (256 MB by default), which made each crash cost ~14 ms; 16 MB still
 * holds everything one input frees. */
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=16";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fuzz_scratch_dir();
	const char *trace = getenv("FUZZ_UPDATE_TRACE");

	(void)argc;
	(void)argv;
	fault_trace = trace && *trace == '1';
	snprintf(mbox_path, sizeof(mbox_path), "%s/mbox", dir);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	if (mkdir(state_dir, 0700) != 0)
		abort();
	return 0;
}

/* ---- bytes ---- */

struct bytes {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct bytes *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + len)
			cap *= 2;
		b->p = realloc(b->p, cap);
		FUZZ_CHECK(b->p != NULL);
		b->cap = cap;
	}
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void put_str(struct bytes *b, const char *s)
{
	put(b, s, strlen(s));
}

static bool same(const struct bytes *a, const struct bytes *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t take(struct input *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

/* ---- the scenario ---- */

struct scenario {
	struct bytes orig;      /* the maildrop as the session finds it */
	struct bytes kept;      /* what the update should leave of it */
	size_t start[MAX_MESSAGES + 1]; /* of each message in orig, and its end */
	bool deleted[MAX_MESSAGES];
	size_t count;
	struct bytes during, after, after2; /* deliveries */
	unsigned k, k2;
};

/* No "From " at the start of a body line: it would start a message. */
static void put_body_byte(struct bytes *b, unsigned char c)
{
	if (c == 'F' && b->len > 0 && b->p[b->len - 1] == '\n')
		c = 'f';
	put(b, &c, 1);
}

/* A body made from a seed: lines of letters and digits, some empty lines,
 * some CRLF; bodies with the same seed and length are the same. */
static void patterned_body(struct bytes *b, unsigned seed, size_t len)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789 .";
	size_t line = 8 + seed * 5;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)alphabet[(seed * 7 + i * (seed | 1)) %
							    (sizeof(alphabet) - 1)];
		if (i % line == line - 1)
			c = '\n';
		else if (i % line == line - 2 && seed & 1)
			c = '\r';
		else if (i % (3 * line) == 0 && seed & 2)
			c = '\n';
		put_body_byte(b, c);
	}
}

/* One message from a, s (see the top) into b. */
static void put_message(struct bytes *b, struct input *in, uint8_t a, bool last)
{
	char subject[32];
	unsigned seed = a >> 4;

	put_str(b, from_line);
	snprintf(subject, sizeof(subject), "Subject: %u\n\n", seed);
	put_str(b, subject);
	size_t body = b->len;
	if (a & 8) {
		size_t len = take(in);
		for (size_t i = 0; i < len; i++)
			put_body_byte(b, take(in));
	} else {
		patterned_body(b, seed, (size_t)take(in) * 8);
	}
	if (b->len > body && b->p[b->len - 1] != '\n')
		put_str(b, "\n");
	switch (a >> 1 & 3) {
	case 1:
		put_str(b, "\r\n");
		break;
	case 3:
		if (last)
			break;
		/* fall through */
	default:
		put_str(b, "\n");
	}
}

static void put_delivery(struct scenario *s, struct bytes *b, struct input *in)
{
	uint8_t c = take(in);
	size_t j, len;

	switch (c & 3) {
	case 0:
		put_message(b, in, take(in) & ~1u, false);
		break;
	case 1:
		j = take(in) % s->count;
		put(b, s->orig.p + s->start[j], s->start[j + 1] - s->start[j]);
		break;
	case 2:
		j = take(in) % s->count;
		put(b, s->orig.p + s->start[j], s->orig.len - s->start[j]);
		break;
	default:
		/* A "From " first: the maildrop stays an mbox even when the
		 * update left it empty. */
		put_str(b, "From ");
		len = take(in);
		for (size_t i = 0; i < len; i++) {
			uint8_t byte = take(in);
			put(b, &byte, 1);
		}
	}
}

static void build_scenario(struct scenario *s, const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	uint8_t flags = take(&in);

	*s = (struct scenario){ .k = take(&in), .k2 = take(&in) };
	s->count = 1 + take(&in) % MAX_MESSAGES;
	for (size_t i = 0; i < s->count; i++) {
		uint8_t a = take(&in);
		s->start[i] = s->orig.len;
		s->deleted[i] = a & 1;
		put_message(&s->orig, &in, a, i + 1 == s->count);
		if (!s->deleted[i])
			put(&s->kept, s->orig.p + s->start[i], s->orig.len - s->start[i]);
	}
	s->start[s->count] = s->orig.len;
	for (unsigned i = 0; i < (flags & 3u); i++)
		put_delivery(s, &s->during, &in);
	for (unsigned i = 0; i < (flags >> 2 & 3u); i++)
		put_delivery(s, &s->after, &in);
	for (unsigned i = 0; i < (flags >> 4 & 3u); i++)
		put_delivery(s, &s->after2, &in);
}

static void free_scenario(struct scenario *s)
{
	free(s->orig.p);
	free(s->kept.p);
	free(s->during.p);
	free(s->after.p);
	free(s->after2.p);
}

/* ---- the files ---- */

/* Each input starts with no maildrop, index or journal. */
static void clear_dir(void)
{
	DIR *d = opendir(state_dir);
	struct dirent *e;

	FUZZ_CHECK(d != NULL);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			FUZZ_CHECK(unlinkat(dirfd(d), e->d_name, 0) == 0);
	closedir(d);
	FUZZ_CHECK(unlink(mbox_path) == 0 || errno == ENOENT);
}

/* Mail arrives, as an MDA appends it (under no lock of ours). */
static void deliver(const struct bytes *mail)
{
	if (mail->len == 0)
		return;
	int fd = open(mbox_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	FUZZ_CHECK(fd >= 0 && write_full(fd, mail->p, mail->len) && close(fd) == 0);
}

static void read_mbox(struct bytes *out)
{
	unsigned char buf[65536];
	int fd = open(mbox_path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	FUZZ_CHECK(fd >= 0);
	out->len = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		put(out, buf, (size_t)n);
	FUZZ_CHECK(n == 0);
	close(fd);
}

static bool state_file_exists(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", state_dir, name);
	return stat(path, &st) == 0;
}

static off_t state_file_size(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", state_dir, name);
	return stat(path, &st) == 0 ? st.st_size : 0;
}

/* Nothing pending: no journal with content, none set aside or half made. */
static void check_no_journal(void)
{
	FUZZ_CHECK(state_file_size("journal") == 0);
	FUZZ_CHECK(!state_file_exists("journal.unusable"));
	FUZZ_CHECK(!state_file_exists("journal.tmp"));
}

/* ---- the checks ---- */

static void show_difference(const char *what, const struct bytes *got,
			    const struct bytes *want)
{
	size_t at = 0;

	while (at < got->len && at < want->len && got->p[at] == want->p[at])
		at++;
	fprintf(stderr, "%s: the maildrop has %zu bytes, %zu expected; they "
			"differ from offset %zu\n",
		what, got->len, want->len, at);
}

/* base, then the deliveries up to the given stage. */
static void expected(struct bytes *out, const struct bytes *base,
		     const struct scenario *s, int stage)
{
	out->len = 0;
	put(out, base->p, base->len);
	put(out, s->during.p, s->during.len);
	if (stage >= 1)
		put(out, s->after.p, s->after.len);
	if (stage >= 2)
		put(out, s->after2.p, s->after2.len);
}

/* What a session sees: the number of messages and their sizes. */
struct view {
	size_t count;
	uint64_t *sizes;
};

static void take_view(struct mailbox *mb, struct view *v)
{
	v->count = mailbox_count(mb);
	v->sizes = calloc(v->count + 1, sizeof(*v->sizes));
	FUZZ_CHECK(v->sizes != NULL);
	for (size_t i = 0; i < v->count; i++)
		v->sizes[i] = mailbox_size(mb, i);
}

/* The session that opened with the saved index (and recovered) saw what
 * a fresh scan of the file sees. */
static void check_view(const struct view *indexed)
{
	struct mailbox_config fresh = { .path = mbox_path, .state_dir = NULL };
	struct mailbox *mb;
	struct view v;

	FUZZ_CHECK(mailbox_open(&fresh, &mb) == MBOX_OK);
	take_view(mb, &v);
	mailbox_close(mb);
	FUZZ_CHECK(v.count == indexed->count);
	for (size_t i = 0; i < v.count; i++)
		FUZZ_CHECK(v.sizes[i] == indexed->sizes[i]);
	free(v.sizes);
}

/* The next session: recovers, then the maildrop is checked. */
static void open_and_check(const struct scenario *s, bool must_be_done)
{
	struct mailbox_config mc = { .path = mbox_path, .state_dir = state_dir };
	struct mailbox *mb;
	struct bytes now = { 0 }, done = { 0 }, undone = { 0 };
	struct view v;

	FUZZ_CHECK(mailbox_open(&mc, &mb) == MBOX_OK);
	take_view(mb, &v);
	mailbox_close(mb);
	check_no_journal();
	read_mbox(&now);
	expected(&done, &s->kept, s, 2);
	expected(&undone, &s->orig, s, 2);
	if (!same(&now, &done) && (must_be_done || !same(&now, &undone))) {
		show_difference("as updated", &now, &done);
		if (!must_be_done)
			show_difference("as not updated", &now, &undone);
		FUZZ_CHECK(!"the maildrop holds every message once, deletions "
			    "all done or none");
	}
	check_view(&v);
	free(v.sizes);
	free(now.p);
	free(done.p);
	free(undone.p);
}

/* ---- crashes ---- */

/* Runs what the child is for in a fork that crashes at the k-th crash
 * point from now; returns how it ended. */
static int in_crashing_child(struct mailbox *mb, unsigned k)
{
	pid_t pid = fork();
	int status;

	FUZZ_CHECK(pid >= 0);
	if (pid == 0) {
		enum mbox_status st;
		fault_kill_at = fault_count + k;
		if (mb) {
			st = mailbox_update(mb);
		} else {
			struct mailbox_config mc = { .path = mbox_path,
						     .state_dir = state_dir };
			st = mailbox_open(&mc, &mb);
		}
		_exit(st == MBOX_OK ? CHILD_DONE : CHILD_FAILED);
	}
	while (waitpid(pid, &status, 0) != pid)
		FUZZ_CHECK(errno == EINTR);
	if (!WIFEXITED(status) || (WEXITSTATUS(status) != CHILD_DONE &&
				   WEXITSTATUS(status) != CHILD_CRASHED)) {
		fprintf(stderr, "%s child: status %#x\n", mb ? "update" : "recovery",
			(unsigned)status);
		FUZZ_CHECK(!"the update or recovery either finishes or crashes");
	}
	return WEXITSTATUS(status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailbox_config mc = { .path = mbox_path, .state_dir = state_dir };
	struct scenario s;
	struct mailbox *mb;

	clear_dir();
	build_scenario(&s, data, size);
	fuzz_write_file(mbox_path, s.orig.p, s.orig.len);
	FUZZ_CHECK(mailbox_open(&mc, &mb) == MBOX_OK);
	FUZZ_CHECK(mailbox_count(mb) == s.count); /* the harness's own check */
	for (size_t i = 0; i < s.count; i++)
		if (s.deleted[i])
			mailbox_delete(mb, i);
	deliver(&s.during);

	if (s.k == 0) {
		FUZZ_CHECK(mailbox_update(mb) == MBOX_OK);
		mailbox_close(mb);
		check_no_journal();
		struct bytes now = { 0 }, want = { 0 };
		read_mbox(&now);
		expected(&want, &s.kept, &s, 0);
		if (!same(&now, &want)) {
			show_difference("update", &now, &want);
			FUZZ_CHECK(!"the update leaves the kept messages and the "
				    "mail delivered meanwhile");
		}
		free(now.p);
		free(want.p);
		/* The saved index from here on, and new mail. */
		deliver(&s.after);
		deliver(&s.after2);
		open_and_check(&s, true);
		free_scenario(&s);
		return 0;
	}

	bool finished = in_crashing_child(mb, s.k) == CHILD_DONE;
	mailbox_close(mb);
	deliver(&s.after);
	if (s.k2 != 0)
		in_crashing_child(NULL, s.k2);
	deliver(&s.after2);
	open_and_check(&s, finished);
	free_scenario(&s);
	return 0;
}
