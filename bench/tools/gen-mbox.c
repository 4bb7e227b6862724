/*
 * gen-mbox: write a deterministic, realistic mbox for the benchmarks.
 *
 *   gen-mbox -n MESSAGES [-s SEED] > FILE
 *
 * The same (MESSAGES, SEED) gives the same bytes on every machine with the
 * same libm (the only floating point is the log-normal draw).  What makes it
 * realistic, because each is something the servers' code paths care about:
 *  - 3-6 Received lines, folded DKIM-Signature, encoded-word subjects, the
 *    headers local readers rewrite (Status, X-Status, X-UID) on some messages;
 *  - log-normal body sizes (most mail is small, a few messages are large);
 *  - 8-bit text (UTF-8 and Latin-1), lines that begin with "." (the server
 *    must byte-stuff them) and quoted ">From " lines (must be sent as stored);
 *  - base64 attachments in 76-column lines on about one message in eight;
 *  - a few byte-identical twins (UIDL must still tell them apart).
 * Message separators are the RFC 4155 blank line + "From " line; LF endings.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <unistd.h>

static uint64_t rng_state;

/* splitmix64: tiny, fast, and its output does not depend on the platform. */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static double unit(void)
{
	return ((rnd() >> 11) + 0.5) / 9007199254740992.0;
}

/* exp(N(mu, sigma)) by Box-Muller, clamped to [lo, hi]. */
static size_t lognormal(double median, double sigma, size_t lo, size_t hi)
{
	double z = sqrt(-2.0 * log(unit())) * cos(6.283185307179586 * unit());
	double v = median * exp(sigma * z);
	if (v < (double)lo)
		return lo;
	if (v > (double)hi)
		return hi;
	return (size_t)v;
}

/* The message is built here, then written in one fwrite (twins reuse it). */
static char *msg;
static size_t msg_len, msg_cap;

static void put(const char *s, size_t n)
{
	if (msg_len + n > msg_cap) {
		while (msg_len + n > msg_cap)
			msg_cap = msg_cap ? msg_cap * 2 : 1 << 20;
		msg = realloc(msg, msg_cap);
		if (!msg) {
			perror("gen-mbox: realloc");
			exit(1);
		}
	}
	memcpy(msg + msg_len, s, n);
	msg_len += n;
}

static void puts_(const char *s)
{
	put(s, strlen(s));
}

static void putf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void putf(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	put(line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static const char *const first[] = {
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
	"ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil",
	"trent", "victor", "walter", "zoe", "jurgen", "francois", "jose", "bjorn",
};
static const char *const display[] = {
	"Alice Martin", "Bob Dupont", "Carol Schmidt", "Dave O'Brien",
	"=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?=", "=?ISO-8859-1?Q?Fran=E7ois_L=E9vy?=",
	"Grace Hopper", "Heidi Klum", "Ivan Petrov", "Judy Chen", "Mallory Kane",
	"=?UTF-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?=", "Olivia Rossi", "Peggy Sue",
};
static const char *const domain[] = {
	"example.com", "example.org", "example.net", "lists.example.org",
	"mail.example.de", "univ.example.edu", "corp.example.co.uk",
	"bounce.example.info", "newsletter.example.fr",
};
static const char *const relay[] = {
	"mx1.example.net", "mx2.example.net", "smtp-out.example.com",
	"mail-ed1-f41.example.org", "relay.univ.example.edu", "localhost",
	"outbound.example.de", "mta12.newsletter.example.fr",
};
static const char *const software[] = {
	"Postfix", "Exim 4.96", "Microsoft SMTP Server (version=TLS1_2)",
	"Google Transport Security", "Sendmail 8.17.1/8.17.1", "OpenSMTPD",
};
static const char *const mailer[] = {
	"Mozilla Thunderbird", "Apple Mail (2.3774.400.31)", "Mutt/2.2.9 (2022-11-12)",
	"Microsoft Outlook 16.0", "Evolution 3.46.4", "Roundcube Webmail/1.6.1",
};
static const char *const subject[] = {
	"Re: quarterly report", "Meeting notes", "Your invoice #%u",
	"Fwd: holiday photos", "[list] Patch v%u: fix the scanner", "Lunch?",
	"=?UTF-8?B?UmU6IEdyw7zDn2UgYXVzIE3DvG5jaGVu?=", "Build %u failed",
	"=?ISO-8859-1?Q?R=E9union_de_l'=E9quipe?=", "Re: Re: question about %u",
	"Newsletter week %u", "Security notice", "Password reset request",
};
static const char *const wday[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char *const month[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Words of the body text: ASCII, UTF-8 and (in "\xe9t\xe9") Latin-1. */
static const char *const word[] = {
	"the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "for",
	"was", "on", "are", "with", "as", "be", "this", "have", "from", "or",
	"mailbox", "server", "message", "report", "meeting", "tomorrow", "please",
	"attached", "thanks", "regards", "question", "number", "update", "review",
	"Gr\xc3\xbc\xc3\x9f" "e", "caf\xc3\xa9", "na\xc3\xafve", "\xc3\xa0", "stra\xc3\x9f" "e",
	"\xe9t\xe9", "r\xe9sum\xe9", "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
	"\xe2\x82\xac" "42", "\xe6\x97\xa5\xe6\x9c\xac", "deadline", "budget",
};
#define NWORDS (sizeof(word) / sizeof(word[0]))
#define PICK(a) (a[below(sizeof(a) / sizeof(a[0]))])

struct clock {
	long t; /* seconds since 2023-01-01 00:00 UTC, only ever increases */
};

static void date_parts(long t, int *wd, int *d, int *mo, int *y, int *h, int *mi, int *s)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	long days = t / 86400, rem = t % 86400;
	*wd = (int)((days + 6) % 7); /* 2023-01-01 was a Sunday */
	*y = 2023;
	for (;;) {
		int leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
		if (days < 365 + leap)
			break;
		days -= 365 + leap;
		(*y)++;
	}
	int leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
	for (*mo = 0; *mo < 12; (*mo)++) {
		int md = mdays[*mo] + (*mo == 1 && leap);
		if (days < md)
			break;
		days -= md;
	}
	*d = (int)days + 1;
	*h = (int)(rem / 3600);
	*mi = (int)(rem / 60 % 60);
	*s = (int)(rem % 60);
}

static void rfc2822_date(long t)
{
	int wd, d, mo, y, h, mi, s;
	date_parts(t, &wd, &d, &mo, &y, &h, &mi, &s);
	putf("%s, %d %s %d %02d:%02d:%02d +0000", wday[wd], d, month[mo], y, h, mi, s);
}

static void text_line(size_t width)
{
	size_t col = 0;
	/* Lines the server must treat with care, at realistic rates. */
	unsigned r = below(1000);
	if (r < 4)
		puts_(">From the minutes of the last meeting: ");
	else if (r < 5)
		puts_(">>From ");
	else if (r < 9)
		puts_(".");
	else if (r < 11) {
		puts_(".\n");
		return;
	} else if (r < 12)
		puts_("..");
	else if (r < 40)
		puts_("> ");
	while (col < width) {
		const char *w = word[below(NWORDS)];
		size_t n = strlen(w);
		put(w, n);
		col += n + 1;
		if (col < width)
			put(" ", 1);
	}
	put("\n", 1);
}

static void text_body(size_t bytes)
{
	size_t start = msg_len;
	while (msg_len - start < bytes) {
		if (below(8) == 0)
			put("\n", 1); /* paragraph break */
		text_line(40 + below(36));
	}
}

static void base64_block(size_t raw)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[80];
	size_t col = 0;
	for (size_t i = 0; i < raw; i += 3) {
		uint64_t r = rnd();
		for (int k = 0; k < 4; k++) {
			line[col++] = b64[r & 63];
			r >>= 6;
		}
		if (col == 76) {
			line[col++] = '\n';
			put(line, col);
			col = 0;
		}
	}
	if (col) {
		line[col++] = '\n';
		put(line, col);
	}
}

static void message(unsigned n, long t)
{
	const char *fu = PICK(first), *fd = PICK(domain);
	int wd, d, mo, y, h, mi, s;
	unsigned hops = 3 + below(4);
	int attach = below(8) == 0;
	char boundary[64];

	date_parts(t, &wd, &d, &mo, &y, &h, &mi, &s);
	putf("From %s@%s %s %s %2d %02d:%02d:%02d %d\n", fu, fd, wday[wd], month[mo], d,
	     h, mi, s, y);
	putf("Return-Path: <%s@%s>\n", fu, fd);
	putf("X-Original-To: user@example.net\nDelivered-To: user@example.net\n");
	for (unsigned i = 0; i < hops; i++) {
		const char *rl = PICK(relay);
		putf("Received: from %s (%s [192.0.2.%u])\n\tby %s (%s) with ESMTPS id %08X%04X\n"
		     "\tfor <user@example.net>; ",
		     rl, rl, 1 + below(254), i == 0 ? "mail.example.net" : PICK(relay),
		     PICK(software), (unsigned)rnd(), below(65536));
		rfc2822_date(t - (long)i * 2);
		puts_("\n");
	}
	if (below(3) == 0) {
		putf("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s;\n"
		     "\ts=selector1; h=from:to:subject:date:message-id;\n\tbh=", fd);
		base64_block(32);
		msg_len--;
		puts_(";\n\tb=");
		for (int i = 0; i < 4; i++) {
			base64_block(48);
			msg[msg_len - 1] = '\n';
			puts_("\t ");
		}
		puts_("x=\n");
	}
	puts_("Date: ");
	rfc2822_date(t - (long)hops * 2 - 7);
	putf("\nFrom: %s <%s@%s>\nTo: User <user@example.net>\n", PICK(display), fu, fd);
	if (below(4) == 0)
		putf("Cc: %s@%s, %s@%s\n", PICK(first), PICK(domain), PICK(first), PICK(domain));
	puts_("Subject: ");
	putf(PICK(subject), n);
	putf("\nMessage-ID: <%08x.%u.%lx@%s>\n", (unsigned)rnd(), n, t, fd);
	if (below(3) == 0)
		putf("In-Reply-To: <%08x@%s>\n", (unsigned)rnd(), PICK(domain));
	putf("MIME-Version: 1.0\nX-Mailer: %s\n", PICK(mailer));
	if (attach) {
		snprintf(boundary, sizeof(boundary), "=_%016llx", (unsigned long long)rnd());
		putf("Content-Type: multipart/mixed; boundary=\"%s\"\n", boundary);
	} else {
		putf("Content-Type: text/plain; charset=%s\nContent-Transfer-Encoding: 8bit\n",
		     below(5) ? "utf-8" : "iso-8859-1");
	}
	if (below(5) == 0) /* what local readers add; must not change the UIDL */
		putf("Status: RO\nX-Status: A\nX-UID: %u\n", n);
	puts_("\n");
	size_t body = lognormal(1800.0, 1.0, 20, 2000000);
	if (attach) {
		putf("This is a multi-part message in MIME format.\n\n--%s\n"
		     "Content-Type: text/plain; charset=utf-8\n"
		     "Content-Transfer-Encoding: 8bit\n\n", boundary);
		text_body(body);
		putf("\n--%s\nContent-Type: application/pdf; name=\"doc%u.pdf\"\n"
		     "Content-Transfer-Encoding: base64\n"
		     "Content-Disposition: attachment; filename=\"doc%u.pdf\"\n\n",
		     boundary, n, n);
		base64_block(lognormal(27000.0, 1.1, 500, 20000000));
		putf("\n--%s--\n", boundary);
	} else {
		text_body(body);
	}
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	uint64_t seed = 1;
	int c;

	while ((c = getopt(argc, argv, "n:s:")) != -1) {
		if (c == 'n')
			count = strtoul(optarg, NULL, 10);
		else if (c == 's')
			seed = strtoull(optarg, NULL, 10);
		else
			goto usage;
	}
	if (count == 0 || optind != argc)
		goto usage;
	rng_state = seed;
	static char obuf[1 << 20];
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

	long t = 0;
	unsigned long long total = 0;
	for (unsigned long n = 1; n <= count; n++) {
		t += 1 + below(3600);
		/* About one in 2000 is a byte-identical twin of the one before
		 * (a list message delivered twice): UIDL must differ anyway. */
		if (n == 1 || below(2000) != 0) {
			msg_len = 0;
			message((unsigned)n, t);
		}
		if (n > 1) {
			putchar('\n'); /* the separator's blank line */
			total++;
		}
		fwrite(msg, 1, msg_len, stdout);
		total += msg_len;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("gen-mbox: write");
		return 1;
	}
	fprintf(stderr, "gen-mbox: %lu messages, %llu bytes\n", count, total);
	return 0;
usage:
	fprintf(stderr, "usage: gen-mbox -n MESSAGES [-s SEED] > FILE\n");
	return 2;
}
