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
 * more small messages in a round than the second thread may hold.  Each
 * is scanned with rounds of many sizes, so that the guessed cut points
 * fall on, before and after every kind of place.
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

static void check(const char *what, const struct text *t, uint64_t start)
{
	static const size_t rounds[] = { 1, 2, 3, 5, 8, 13, 64, 100, 333, 1000, 4095, 4096,
					 4097, 9000, 30000, 100000, 1u << 20 };
	int fd = memfd_create("mbox", MFD_CLOEXEC);
	if (fd < 0 || write(fd, t->p, t->len) != (ssize_t)t->len) {
		perror("memfd");
		exit(1);
	}
	struct list one = { 0 };
	uint64_t end_one;
	enum scan_result r = scan_mbox_rounds(fd, start, &end_one, collect, &one, 0);
	CHECK_CASE(r == SCAN_OK && one.n > 0, what);
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

	free(t.p);
	return check_summary();
}
