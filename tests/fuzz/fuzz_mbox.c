/*
 * Fuzz target: the mbox scanner and the message sender, checked against
 * a deliberately naive model of RFC 4155 as doc/protocol.md states it.
 *
 * The input is a maildrop.  It is opened as a session would open it; then
 * every message is sent with RETR and with TOP, the bytes on the wire are
 * parsed back, and the run aborts when
 *  - the octets RETR sent (before byte-stuffing, without ".CRLF") differ
 *    from the size LIST reports (RFC 1939: clients check them);
 *  - the output is not CRLF lines, correctly byte-stuffed, ending ".CRLF";
 *  - what was sent differs from the model's message text with each line
 *    end made CRLF, or TOP's from the model's header plus k body lines;
 *  - the number of messages differs from the model's, or two unique-ids
 *    are equal or outside RFC 1939's 1-70 characters of 0x21-0x7E;
 *  - after deleting some messages and updating, the maildrop does not
 *    hold exactly the messages kept, byte for byte.
 * When the input holds a 0xFD byte, what follows it is delivered between
 * two sessions: the second session (which may trust the saved index and
 * scan only the new mail) must see what a fresh scan would, and the ids
 * of the messages it saw before must not change (doc/protocol.md: clients
 * would download them again).
 *
 * The file is also scanned with scan_mbox_rounds in rounds of a size the
 * input picks, so that two threads cut it at places of the fuzzer's
 * choosing: the messages emitted must be exactly the one-thread scan's.
 *
 * Large inputs are slow to find by mutation, and the interesting places
 * (block ends at 128 KiB and 256 KiB) are far in: an input starting with
 * 0xFF is "expanded" -- a run of a two-byte pattern, up to 320 KiB long,
 * is put where its first 0xFE byte is.
 */
#include <inttypes.h>
#include <dirent.h>
#include <stdint.h>
#include <sys/mman.h>

#include "fuzz.h"
#include "mailbox.h"
#include "mboxscan.h"
#include "netio.h"


static char mbox_path[128];
static char state_dir[128];
static struct netio io;
static int wire = -1;
static unsigned char *file;
static size_t file_len;      /* what is in the maildrop now */
static size_t delivered_len; /* then appended before the second session */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fuzz_scratch_dir();

	(void)argc;
	(void)argv;
	snprintf(mbox_path, sizeof(mbox_path), "%s/mbox", dir);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	if (mkdir(state_dir, 0700) != 0)
		abort();
	wire = memfd_create("wire", MFD_CLOEXEC);
	if (wire < 0)
		abort();
	return 0;
}

/* ---- a growable byte string ---- */

struct bytes {
	unsigned char *p;
	size_t len, cap;
};

static void reserve(struct bytes *b, size_t len)
{
	if (b->len + len <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + len)
		cap *= 2;
	b->p = realloc(b->p, cap);
	FUZZ_CHECK(b->p != NULL);
	b->cap = cap;
}

static void put(struct bytes *b, const void *data, size_t len)
{
	reserve(b, len);
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

/* ---- the input as a file ---- */

static void build_file(const uint8_t *data, size_t size)
{
	struct bytes b = { 0 };

	if (size >= 6 && data[0] == 0xFF) {
		/* Up to 320 KiB: past the second scan block, yet quick. */
		size_t run = ((size_t)data[1] << 8 | data[2]) * 5 + (data[3] & 7);
		const uint8_t *rest = data + 6;
		size_t rest_len = size - 6;
		const uint8_t *mark = memchr(rest, 0xFE, rest_len);
		size_t at = mark ? (size_t)(mark - rest) : rest_len;
		put(&b, rest, at);
		reserve(&b, run);
		for (size_t i = 0; i < run; i++)
			b.p[b.len + i] = data[4 + (i & 1)];
		b.len += run;
		if (mark)
			put(&b, mark + 1, rest_len - at - 1);
	} else {
		put(&b, data, size);
	}
	free(file);
	file = b.p;
	file_len = b.len;
	delivered_len = 0;
	unsigned char *mark = file ? memchr(file, 0xFD, file_len) : NULL;
	if (mark) {
		size_t at = (size_t)(mark - file);
		delivered_len = file_len - at - 1;
		memmove(mark, mark + 1, delivered_len);
		file_len = at;
	}
	fuzz_write_file(mbox_path, file ? (const void *)file : "", file_len);
}

/* Mail arrives: the rest of the input is appended to the maildrop. */
static void deliver(void)
{
	int fd = open(mbox_path, O_WRONLY | O_APPEND | O_CLOEXEC);

	FUZZ_CHECK(fd >= 0 && write_full(fd, file + file_len, delivered_len) &&
		   close(fd) == 0);
	file_len += delivered_len;
	delivered_len = 0;
}

/* Each input starts with no saved index or journal: runs stay repeatable. */
static void clear_state(void)
{
	DIR *d = opendir(state_dir);
	struct dirent *e;

	FUZZ_CHECK(d != NULL);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			FUZZ_CHECK(unlinkat(dirfd(d), e->d_name, 0) == 0);
	closedir(d);
}

/* ---- the model ---- */

struct model_message {
	size_t text;     /* first byte after the "From " line */
	size_t text_end; /* the separator, or the end of the file */
};

static size_t line_end(size_t at)
{
	const unsigned char *lf = memchr(file + at, '\n', file_len - at);
	return lf ? (size_t)(lf - file) + 1 : file_len;
}

static bool empty_line(size_t start, size_t end)
{
	size_t n = end - start;
	return (n == 1 && file[start] == '\n') ||
	       (n == 2 && file[start] == '\r' && file[start + 1] == '\n');
}

static bool from_line(size_t start)
{
	return file_len - start >= 5 && memcmp(file + start, "From ", 5) == 0;
}

/* RFC 4155 as doc/protocol.md puts it: a message begins at a "From " line
 * at the start of the file or right after an empty line; that empty line
 * is the separator; the file's last empty line ends the last message. */
static size_t model_split(struct model_message *out, size_t max)
{
	size_t count = 0, prev_start = 0;
	bool prev_empty = true;

	for (size_t at = 0; at < file_len;) {
		size_t end = line_end(at);
		if (prev_empty && from_line(at)) {
			if (count > 0)
				out[count - 1].text_end = prev_start;
			FUZZ_CHECK(count < max);
			out[count].text = end;
			out[count].text_end = file_len;
			count++;
		}
		prev_empty = empty_line(at, end);
		prev_start = at;
		at = end;
	}
	/* A final empty line is the separator after the last message. */
	if (count > 0 && prev_empty && prev_start >= out[count - 1].text)
		out[count - 1].text_end = prev_start;
	return count;
}

/* Whether the message's header has a field called name. */
static bool model_has_field(const struct model_message *m, const char *name)
{
	size_t n = strlen(name);

	for (size_t at = m->text; at < m->text_end;) {
		size_t end = line_end(at);
		if (end > m->text_end)
			end = m->text_end;
		if (empty_line(at, end))
			return false;
		if (end - at > n && file[at + n] == ':' &&
		    strncasecmp((const char *)file + at, name, n) == 0)
			return true;
		at = end;
	}
	return false;
}

/* The UW-IMAP pseudo-message the server hides has X-IMAP or X-IMAPbase
 * (its exact rules are the unit tests' business). */
static bool model_uw_candidate(const struct model_message *m)
{
	return model_has_field(m, "X-IMAP") || model_has_field(m, "X-IMAPbase");
}

/* What RETR (body_lines == UINT64_MAX) or TOP must send between the
 * status line and the final ".CRLF", before byte-stuffing (which unframe
 * checks and removes), and its size. */
static void model_send(const struct model_message *m, uint64_t body_lines,
		       struct bytes *out, uint64_t *size)
{
	bool in_header = true;

	*size = 0;
	for (size_t at = m->text; at < m->text_end;) {
		size_t end = line_end(at);
		if (end > m->text_end)
			end = m->text_end;
		size_t n = end - at;
		bool has_lf = n > 0 && file[end - 1] == '\n';
		size_t content = has_lf ? n - 1 : n;
		bool empty = content == 0 || (content == 1 && file[at] == '\r');
		if (!in_header && body_lines != UINT64_MAX && body_lines-- == 0)
			break;
		if (has_lf && content > 0 && file[at + content - 1] == '\r')
			content--; /* a CRLF in the file is sent as it is */
		put(out, file + at, content);
		put(out, "\r\n", 2);
		*size += content + 2;
		if (in_header && empty) {
			in_header = false;
			if (body_lines == 0)
				break;
		}
		at = end;
	}
}

/* ---- the wire ---- */

static void wire_reset(void)
{
	FUZZ_CHECK(ftruncate(wire, 0) == 0 && lseek(wire, 0, SEEK_SET) == 0);
}

static void wire_take(struct bytes *out)
{
	FUZZ_CHECK(netio_flush(&io));
	off_t len = lseek(wire, 0, SEEK_CUR);
	FUZZ_CHECK(len >= 0);
	out->len = 0;
	reserve(out, (size_t)len + 1);
	FUZZ_CHECK(pread_full(wire, out->p, (size_t)len, 0));
	out->len = (size_t)len;
	wire_reset();
}

/* Checks the framing of a multi-line response and removes it: the status
 * line, the byte-stuffing and the ".CRLF".  Returns the unstuffed size. */
static uint64_t unframe(const struct bytes *sent, const char *status,
			struct bytes *text)
{
	size_t slen = strlen(status), at = slen + 2;
	uint64_t size = 0;

	FUZZ_CHECK(sent->len >= at + 3);
	FUZZ_CHECK(memcmp(sent->p, status, slen) == 0);
	FUZZ_CHECK(memcmp(sent->p + slen, "\r\n", 2) == 0);
	text->len = 0;
	for (;;) {
		const unsigned char *lf = memchr(sent->p + at, '\n', sent->len - at);
		FUZZ_CHECK(lf != NULL); /* every line ends in LF ... */
		size_t end = (size_t)(lf - sent->p) + 1;
		FUZZ_CHECK(end - at >= 2 && sent->p[end - 2] == '\r'); /* CRLF */
		if (end - at == 3 && sent->p[at] == '.') {
			FUZZ_CHECK(end == sent->len); /* nothing after ".CRLF" */
			return size;
		}
		size_t from = at;
		if (sent->p[at] == '.') {
			FUZZ_CHECK(end - at >= 4 && sent->p[at + 1] == '.');
			from++;
		}
		put(text, sent->p + from, end - from);
		size += end - from;
		at = end;
	}
}

/* ---- the checks ---- */

static void show(const struct bytes *b)
{
	for (size_t i = 0; i < b->len; i++)
		fprintf(stderr, b->p[i] >= 0x20 && b->p[i] < 0x7f ? "%c" : "\\x%02x",
			b->p[i]);
	fputc('\n', stderr);
}

static void check_send(struct mailbox *mb, size_t msg,
		       const struct model_message *m, uint64_t body_lines)
{
	struct bytes sent = { 0 }, text = { 0 }, want = { 0 };
	uint64_t want_size;
	const char *status = body_lines == UINT64_MAX ? "+OK retr" : "+OK top";

	FUZZ_CHECK(mailbox_send(mb, msg, body_lines, status, &io) == MBOX_OK);
	wire_take(&sent);
	uint64_t size = unframe(&sent, status, &text);
	model_send(m, body_lines, &want, &want_size);
	if (body_lines == UINT64_MAX) {
		/* The RFC 1939 rule clients depend on. */
		FUZZ_CHECK(size == mailbox_size(mb, msg));
		FUZZ_CHECK(want_size == mailbox_size(mb, msg));
	}
	if (text.len != want.len ||
	    (want.len > 0 && memcmp(text.p, want.p, want.len) != 0)) {
		fprintf(stderr, "message %zu, %s %" PRIu64 ": sent %zu octets:\n",
			msg + 1, status, body_lines, text.len);
		show(&text);
		fprintf(stderr, "the model says %zu octets:\n", want.len);
		show(&want);
		FUZZ_CHECK(!"what was sent is what the model says");
	}
	free(sent.p);
	free(text.p);
	free(want.p);
}

static void check_uidls(struct mailbox *mb)
{
	size_t n = mailbox_count(mb);
	char (*ids)[MAX_UIDL_LENGTH + 1] = calloc(n + 1, sizeof(*ids));

	FUZZ_CHECK(ids != NULL);
	for (size_t i = 0; i < n; i++) {
		mailbox_uidl(mb, i, ids[i]);
		size_t len = strlen(ids[i]);
		FUZZ_CHECK(len >= 1 && len <= MAX_UIDL_LENGTH);
		for (size_t k = 0; k < len; k++)
			FUZZ_CHECK(ids[i][k] >= 0x21 && ids[i][k] <= 0x7e);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(ids[i], ids[j]) != 0);
	}
	free(ids);
}

/* Deletes every message whose number has its bit set in mask, updates,
 * and checks that the maildrop now holds the others, byte-exact. */
static void check_update(struct mailbox *mb, const struct model_message *m,
			 size_t count, size_t skip, uint32_t mask)
{
	struct bytes before = { 0 }, after = { 0 };
	size_t kept = 0;

	for (size_t i = 0; i < count; i++) {
		uint64_t size;
		if (mask >> (i % 32) & 1) {
			mailbox_delete(mb, i);
			continue;
		}
		model_send(&m[i + skip], UINT64_MAX, &before, &size);
		kept++;
	}
	FUZZ_CHECK(mailbox_update(mb) == MBOX_OK);
	mailbox_close(mb);

	struct mailbox_config mc = { .path = mbox_path, .state_dir = state_dir };
	FUZZ_CHECK(mailbox_open(&mc, &mb) == MBOX_OK);
	FUZZ_CHECK(mailbox_count(mb) == kept);
	for (size_t i = 0; i < kept; i++) {
		struct bytes sent = { 0 };
		FUZZ_CHECK(mailbox_send(mb, i, UINT64_MAX, "+OK", &io) == MBOX_OK);
		wire_take(&sent);
		struct bytes text = { 0 };
		unframe(&sent, "+OK", &text);
		put(&after, text.p, text.len);
		free(text.p);
		free(sent.p);
	}
	mailbox_close(mb);
	FUZZ_CHECK(before.len == after.len &&
		   (before.len == 0 || memcmp(before.p, after.p, before.len) == 0));
	free(before.p);
	free(after.p);
}

/* What one session sees: the model of the maildrop as it is now. */
struct view {
	struct model_message *m;
	size_t count; /* messages the server shows */
	size_t skip;  /* 1 when the model's first is the hidden UW one */
};

/* Opens the maildrop as a session would and checks every message against
 * the model; NULL when the file is not an mbox (and may not be). */
static struct mailbox *open_and_check(struct view *v, uint64_t top_k)
{
	struct mailbox *mb;
	struct mailbox_config mc = { .path = mbox_path, .state_dir = state_dir };
	enum mbox_status st = mailbox_open(&mc, &mb);

	if (file_len > 0 && !from_line(0)) {
		FUZZ_CHECK(st == MBOX_PERMFAIL);
		return NULL;
	}
	FUZZ_CHECK(st == MBOX_OK);
	size_t max = file_len / 6 + 2;
	v->m = calloc(max, sizeof(*v->m));
	FUZZ_CHECK(v->m != NULL);
	size_t all = model_split(v->m, max);
	v->skip = all == mailbox_count(mb) + 1 && model_uw_candidate(&v->m[0]);
	v->count = all - v->skip;
	FUZZ_CHECK(v->count == mailbox_count(mb));

	uint64_t total = 0;
	for (size_t i = 0; i < v->count; i++) {
		const struct model_message *m = &v->m[i + v->skip];
		check_send(mb, i, m, UINT64_MAX);
		check_send(mb, i, m, 0);
		check_send(mb, i, m, 1);
		check_send(mb, i, m, top_k);
		total += mailbox_size(mb, i);
	}
	FUZZ_CHECK(mailbox_live_octets(mb) == total);
	check_uidls(mb);
	return mb;
}

/* The ids a session shows, kept for after it ends. */
static char (*save_ids(struct mailbox *mb))[MAX_UIDL_LENGTH + 1]
{
	size_t n = mb ? mailbox_count(mb) : 0;
	char (*ids)[MAX_UIDL_LENGTH + 1] = calloc(n + 1, sizeof(*ids));

	FUZZ_CHECK(ids != NULL);
	for (size_t i = 0; i < n; i++)
		mailbox_uidl(mb, i, ids[i]);
	return ids;
}

/* A message seen before new mail came keeps its id, unless it changed
 * (the new mail continued it) or its id came from an X-UIDL header (which
 * counts only while unique, and the new mail may repeat it). */
static void check_ids_kept(char (*before)[MAX_UIDL_LENGTH + 1],
			   const struct view *old, struct mailbox *now_mb,
			   const struct view *now)
{
	char id[MAX_UIDL_LENGTH + 1];

	if (old->skip != now->skip)
		return;
	for (size_t i = 0; i < old->count && i < now->count; i++) {
		const struct model_message *m = &old->m[i + old->skip];
		const struct model_message *n = &now->m[i + now->skip];
		if (m->text != n->text || m->text_end != n->text_end ||
		    model_has_field(n, "X-UIDL"))
			continue;
		mailbox_uidl(now_mb, i, id);
		FUZZ_CHECK(strcmp(before[i], id) == 0);
	}
}

/* ---- the two-thread scan against the one-thread scan ---- */

struct scan_list {
	struct scanned_message *m;
	size_t n, cap;
};

static bool scan_collect(void *context, const struct scanned_message *msg)
{
	struct scan_list *l = context;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->m = realloc(l->m, l->cap * sizeof(*l->m));
		FUZZ_CHECK(l->m != NULL);
	}
	l->m[l->n++] = *msg;
	return true;
}

static void check_rounds(uint64_t round_bytes)
{
	struct scan_list one = { 0 }, two = { 0 };
	uint64_t end_one, end_two;
	int fd = open(mbox_path, O_RDONLY | O_CLOEXEC);

	FUZZ_CHECK(fd >= 0);
	enum scan_result r1 = scan_mbox_rounds(fd, 0, &end_one, scan_collect, &one, 0);
	enum scan_result r2 = scan_mbox_rounds(fd, 0, &end_two, scan_collect, &two, round_bytes);
	FUZZ_CHECK(r1 == r2);
	if (r1 == SCAN_OK) {
		FUZZ_CHECK(one.n == two.n && end_one == end_two);
		for (size_t i = 0; i < one.n; i++) {
			const struct scanned_message *x = &one.m[i], *y = &two.m[i];
			FUZZ_CHECK(x->start == y->start && x->data == y->data &&
				   x->length == y->length && x->size == y->size &&
				   memcmp(x->digest, y->digest, 16) == 0 &&
				   x->has_xuidl == y->has_xuidl &&
				   x->uw_internal == y->uw_internal &&
				   (!x->has_xuidl || strcmp(x->xuidl, y->xuidl) == 0));
		}
	}
	free(one.m);
	free(two.m);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct view v = { 0 }, first = { 0 };
	uint64_t top_k = size > 0 ? data[size - 1] % 8 : 2;

	clear_state();
	build_file(data, size);
	/* Rounds of 1 to 4096 bytes, at most about 64 of them. */
	uint64_t round_bytes = size > 1 ? ((uint64_t)data[size - 2] << 4 | 1) : 1;
	if (round_bytes < file_len / 64)
		round_bytes = file_len / 64;
	check_rounds(round_bytes);
	wire_reset();
	netio_init(&io, -1, wire, 5);
	struct mailbox *mb = open_and_check(&v, top_k);
	if (delivered_len > 0) {
		/* The first session ends without an update; mail arrives;
		 * a second session starts. */
		char (*ids)[MAX_UIDL_LENGTH + 1] = save_ids(mb);
		mailbox_close(mb);
		first = v;
		v = (struct view){ 0 };
		deliver();
		mb = open_and_check(&v, top_k);
		if (mb && first.m)
			check_ids_kept(ids, &first, mb, &v);
		free(ids);
	}
	uint32_t mask = 0;
	for (size_t i = 0; i < size && i < 4; i++)
		mask = mask << 8 | data[size - 1 - i];
	if (mb && mailbox_count(mb) > 0)
		check_update(mb, v.m, mailbox_count(mb), v.skip, mask);
	else
		mailbox_close(mb);
	free(v.m);
	free(first.m);
	return 0;
}
