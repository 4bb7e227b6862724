/*
 * The two-thread scan (scan_mbox_rounds) emits exactly what the one-thread
 * scan emits: the same messages, offsets, sizes, digests, X-UIDL values
 * and UW-IMAP flags, in the same order, and ends at the same offset.
 *
 * Maildrops made to be hard to cut: "From " lines in bodies with and
 * without an empty line before them (RFC 4155: only the second starts a
 * message), ">From " lines, CRLF line ends and CRLF empty lines before
 * "From ", empty bodies and empty headers, X-UIDL and Status headers,
 * the UW-IMAP pseudo-message first, no LF at the end of the file, and
 * more small messages in a round than the second thread may hold, CR LF
 * pairs cut by the scanner's 128 KiB blocks, a message longer than many
 * chunks, an empty file.  Each is scanned with chunks of many sizes, so
 * that the guessed cut points fall on, before and after every kind of
 * place; and the one-thread scan's sizes are checked against a plain
 * count of the text (RETR sends each line end as CRLF, and a last line
 * without LF with one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "mboxscan.h"

struct list {
	struct scanned_message *m;
	size_t n, cap;
};

static bool collect(void *context, const struct scanned_message *msg)
{
	struct list *l = context;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->m = realloc(l->m, l->cap * sizeof(*l->m));
		if (!l->m)
			return false;
	}
	l->m[l->n++] = *msg;
	return true;
}

/* A small deterministic generator: the same maildrops on every run. */
static uint64_t rng_state = 88172645463325252ull;
static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

struct text {
	char *p;
	size_t len, cap;
};

static void add(struct text *t, const char *s)
{
	size_t n = strlen(s);
	if (n == 0)
		return;
	if (t->len + n > t->cap) {
		t->cap = (t->len + n) * 2;
		t->p = realloc(t->p, t->cap);
		if (!t->p)
			abort();
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
}

static void add_message(struct text *t, unsigned i, unsigned small)
{
	const char *eol = rnd(6) == 0 ? "\r\n" : "\n";
	char line[160];

	(void)snprintf(line, sizeof(line), "From sender%u@example.org Mon Dec  7 01:%02u:00 2026%s",
		 i, i % 60, eol);
	add(t, line);
	if (rnd(8) != 0) { /* else: no header at all */
		(void)snprintf(line, sizeof(line), "Subject: message %u%s", i, eol);
		add(t, line);
		if (rnd(4) == 0) {
			(void)snprintf(line, sizeof(line), "X-UIDL: uidl-%u-%u%s", i, rnd(1000), eol);
			add(t, line);
		}
		if (rnd(3) == 0) {
			add(t, "Status: RO");
			add(t, eol);
		}
		(void)snprintf(line, sizeof(line), "Received: from host%u%s\tby mx%s", rnd(99), eol, eol);
		add(t, line);
	}
	add(t, eol); /* the end of the header */
	unsigned lines = small ? rnd(3) : rnd(40);
	for (unsigned l = 0; l < lines; l++) {
		switch (rnd(10)) {
		case 0:
			add(t, "From the body, not after an empty line");
			break;
		case 1:
			add(t, ">From quoted");
			break;
		case 2:
			break; /* an empty line */
		case 3:
			add(t, "F");
			break;
		default:
			(void)snprintf(line, sizeof(line), "body line %u of message %u, some text", l, i);
			add(t, line);
		}
		add(t, eol);
	}
	/* The separator: an empty line, LF or CRLF. */
	add(t, rnd(5) == 0 ? "\r\n" : "\n");
}

/* The same messages, field by field, and the same end. */
static bool same_scan(const struct list *a, const struct list *b, uint64_t end_a,
		      uint64_t end_b)
{
	if (a->n != b->n || end_a != end_b)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct scanned_message *x = &a->m[i], *y = &b->m[i];
		if (x->start != y->start || x->data != y->data || x->length != y->length ||
		    x->size != y->size || memcmp(x->digest, y->digest, 16) != 0 ||
		    x->has_xuidl != y->has_xuidl || x->uw_internal != y->uw_internal ||
		    (x->has_xuidl && strcmp(x->xuidl, y->xuidl) != 0))
			return false;
	}
	return true;
}

/* The size RETR sends for text p[0..n), counted the plain way. */
static uint64_t plain_size(const char *p, uint64_t n)
{
	uint64_t size = n;

	for (uint64_t i = 0; i < n; i++)
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			size++;
	return n > 0 && p[n - 1] != '\n' ? size + 2 : size;
}

static bool plain_sizes(const struct list *l, const struct text *t)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct scanned_message *m = &l->m[i];
		if (m->data + m->length > t->len ||
		    m->size != plain_size(t->p + m->data, m->length))
			return false;
	}
	return true;
}

static int memfd_of(const struct text *t)
{
	int fd = memfd_create("mbox", MFD_CLOEXEC);
	if (fd < 0 || (t->len > 0 && write(fd, t->p, t->len) != (ssize_t)t->len)) {
		perror("memfd");
		exit(1);
	}
	return fd;
}

static void check(const char *what, const struct text *t, uint64_t start)
{
	static const size_t rounds[] = { 1, 2, 3, 5, 8, 13, 64, 100, 333, 1000, 4095, 4096,
					 4097, 9000, 30000, 100000, 1u << 20 };
	int fd = memfd_of(t);
	struct list one = { 0 };
	uint64_t end_one;
	enum scan_result r = scan_mbox_rounds(fd, start, &end_one, collect, &one, 0);
	CHECK_CASE(r == SCAN_OK && one.n > 0, what);
	CHECK_CASE(plain_sizes(&one, t), what);
	for (size_t i = 0; i < sizeof(rounds) / sizeof(rounds[0]); i++) {
		struct list two = { 0 };
		uint64_t end_two;
		char name[200];
		r = scan_mbox_rounds(fd, start, &end_two, collect, &two, rounds[i]);
		(void)snprintf(name, sizeof(name), "%s, rounds of %zu bytes", what, rounds[i]);
		CHECK_CASE(r == SCAN_OK && same_scan(&one, &two, end_one, end_two), name);
		free(two.m);
	}
	free(one.m);
	close(fd);
}

int main(void)
{
	struct text t = { 0 };

	/* Ordinary mail, mixed line ends. */
	for (unsigned i = 0; i < 300; i++)
		add_message(&t, i, 0);
	check("mixed maildrop", &t, 0);

	/* The same, scanned from a later message on (mail appended to an
	 * indexed maildrop is scanned from where the index ends). */
	{
		const char *second = strstr(t.p + 1, "\nFrom sender1@");
		while (second && second[-1] != '\n' && second[-1] != '\r')
			second = strstr(second + 1, "\nFrom sender");
		if (!second)
			abort();
		check("mixed maildrop from its second message", &t,
		      (uint64_t)(second + 1 - t.p));
	}

	/* More messages in a round than the second thread holds. */
	t.len = 0;
	for (unsigned i = 0; i < 5000; i++)
		add_message(&t, i, 1);
	check("5000 small messages", &t, 0);

	/* UW-IMAP's pseudo-message first; the last line without LF. */
	t.len = 0;
	add(&t, "From MAILER-DAEMON Mon Dec  7 01:00:00 2026\nDate: Mon, 7 Dec 2026\n"
		"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
		"X-IMAP: 1234 0000000001\n\nThis text is part of the internal format.\n\n");
	for (unsigned i = 0; i < 200; i++)
		add_message(&t, i, 0);
	add(&t, "From last@example.org Mon Dec  7 02:00:00 2026\nSubject: last\n\nno LF at the end");
	check("UW-IMAP pseudo-message first, no final LF", &t, 0);

	/* "From " after an empty line inside what looks like one message:
	 * by RFC 4155 that begins the next message, wherever the cut is. */
	t.len = 0;
	for (unsigned i = 0; i < 400; i++) {
		add(&t, "From a@b Mon Dec  7 01:00:00 2026\n\nFrom b@c\n\n\nFrom \n");
		add(&t, i % 2 ? "\r\n" : "\n");
	}
	check("empty headers and bodies, From lines everywhere", &t, 0);

	/* CRLF only, 1.2 MB: lines of a few bytes, so that the 128 KiB
	 * blocks the scanner reads cut CR LF pairs, in headers and bodies. */
	t.len = 0;
	for (unsigned i = 0; i < 8000; i++) {
		char line[200];
		(void)snprintf(line, sizeof(line),
			       "From c%u@example.org Mon Dec  7 01:00:00 2026\r\n"
			       "Subject: %u\r\nX: \r\n\r\n", i, i);
		add(&t, line);
		for (unsigned l = 0; l < 1 + rnd(40); l++) {
			(void)snprintf(line, sizeof(line), "%.*s\r\n", (int)rnd(3), "Fx");
			add(&t, line);
		}
		add(&t, "\r\n");
	}
	check("CRLF maildrop of many blocks", &t, 0);

	/* The same, aimed: the scanner's first read ends 131096 bytes in (8
	 * bytes of history, then 24 of lookahead and a 128 KiB block); put
	 * the CR of a body line there, away from any 'F' (a line starting
	 * with 'F' near a block's end is looked at again with the next), its
	 * LF first in the next block and a long line starting with 'F' after
	 * it: the LF is alone between two stops, and its CR lies before
	 * everything the next pass reads. */
	t.len = 0;
	add(&t, "From cut@example.org Mon Dec  7 01:00:00 2026\r\nSubject: cut\r\n\r\n");
	{
		const size_t first_read_end = 131096;
		while (t.len + 4 + 6 < first_read_end - 1)
			add(&t, "Fx\r\n");
		while (t.len < first_read_end - 1)
			add(&t, "y");
		add(&t, "\r\nF0123456789012345678901234567890123456789012345678901234567890123456789\r\n");
		if (t.p[first_read_end - 1] != '\r' || t.p[first_read_end] != '\n')
			abort();
		while (t.len < 2 * first_read_end)
			add(&t, "Fx\r\n");
	}
	add(&t, "\r\nFrom next@example.org Mon Dec  7 01:00:00 2026\r\n\r\nx\r\n");
	check("a CR LF pair cut by the first block", &t, 0);

	/* One message longer than many chunks and blocks: no chunk after
	 * the first finds a message to begin at. */
	t.len = 0;
	add(&t, "From big@example.org Mon Dec  7 01:00:00 2026\nSubject: big\n\n");
	for (unsigned l = 0; l < 40000; l++)
		add(&t, l % 7 ? "a line of a long message, with From in it\n" : "From here\n");
	add(&t, "\nFrom last@example.org Mon Dec  7 02:00:00 2026\n\nshort\n");
	check("a 1.6 MB message", &t, 0);

	/* An empty file holds no messages, however it is cut. */
	{
		struct text empty = { 0 };
		int fd = memfd_of(&empty);
		for (uint64_t chunk = 0; chunk < 3; chunk++) {
			struct list l = { 0 };
			uint64_t end = 1;
			CHECK(scan_mbox_rounds(fd, 0, &end, collect, &l, chunk) == SCAN_OK &&
			      l.n == 0 && end == 0);
			free(l.m);
		}
		close(fd);
	}

	free(t.p);
	return check_summary();
}
