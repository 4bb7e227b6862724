/*
 * The blocked-users matcher (blocklist.h): entries, comments, spaces and
 * case, as README "Blocked users" describes them, and the verdicts for a
 * missing or unreadable file.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blocklist.h"
#include "check.h"

/* Whether a file holding exactly `text` (len bytes) blocks user. */
static bool blocks_n(const char *text, size_t len, const char *user)
{
	FILE *in = fmemopen((void *)text, len, "r");
	if (!CHECK(in != NULL))
		return false;
	bool blocked = blocklist_stream_blocks(in, user);
	fclose(in);
	return blocked;
}

static bool blocks(const char *text, const char *user)
{
	return blocks_n(text, strlen(text), user);
}

#define BLOCKED(text, user) CHECK_CASE(blocks(text, user), user)
#define ALLOWED(text, user) CHECK_CASE(!blocks(text, user), user)

static void test_address_entry(void)
{
	const char *f = "john@example.com\n";
	BLOCKED(f, "john@example.com");
	BLOCKED(f, "JOHN@Example.COM");
	ALLOWED(f, "john");
	ALLOWED(f, "john@example.org");
	ALLOWED(f, "john@example.com.evil");
	ALLOWED(f, "xjohn@example.com");
	ALLOWED(f, "jo@example.com");
}

/* A bare name blocks that local name at any domain, and nothing longer
 * or shorter. */
static void test_name_entry(void)
{
	const char *f = "john\n";
	BLOCKED(f, "john");
	BLOCKED(f, "John");
	BLOCKED(f, "john@example.com");
	ALLOWED(f, "johnny");
	ALLOWED(f, "joh");
	ALLOWED(f, "mary@john");
	ALLOWED(f, "");
}

static void test_domain_entry(void)
{
	for (int form = 0; form < 2; form++) {
		const char *f = form ? "*@example.com\n" : "@example.com\n";
		BLOCKED(f, "john@example.com");
		BLOCKED(f, "mary@EXAMPLE.com");
		ALLOWED(f, "example.com");
		ALLOWED(f, "john@sub.example.com");
		ALLOWED(f, "john@example.co");
		ALLOWED(f, "john");
	}
	/* "@" alone names no domain: it blocks nobody, not everyone. */
	ALLOWED("@\n", "john@example.com");
	ALLOWED("*@\n", "john@example.com");
}

static void test_comments_and_spaces(void)
{
	const char *f = "# john\n"
			"\n"
			"   \t\n"
			"  mary   # our mary\n"
			"\tbob@example.com\t\r\n"
			"#eve\n"
			"carol#x\n";
	ALLOWED(f, "john");
	BLOCKED(f, "mary");
	BLOCKED(f, "mary@example.org");
	BLOCKED(f, "bob@example.com");
	ALLOWED(f, "eve");
	ALLOWED(f, "# john");
	/* '#' starts a comment only at the start or after a space. */
	BLOCKED(f, "carol#x");
	ALLOWED(f, "carol");
	/* The last line needs no newline. */
	BLOCKED("alice\nbob", "bob");
}

static void test_empty_and_odd_files(void)
{
	ALLOWED("", "john");
	ALLOWED("\n\n\n", "john");
	ALLOWED("#\n# only comments\n", "john");
	/* An entry stops at a NUL: the rest of that line is not an entry. */
	const char nul[] = "mary\0john\nbob\n";
	CHECK(blocks_n(nul, sizeof(nul) - 1, "mary"));
	CHECK(!blocks_n(nul, sizeof(nul) - 1, "john"));
	CHECK(blocks_n(nul, sizeof(nul) - 1, "bob"));
	/* A line far longer than any name is read whole, not cut into
	 * entries. */
	size_t n = 100000;
	char *big = malloc(n + 16);
	if (!CHECK(big != NULL))
		return;
	memset(big, 'x', n);
	memcpy(big + n, "john\nbob", 9);
	CHECK(!blocks(big, "john"));
	CHECK(blocks(big, "bob"));
	big[n - 1] = ' ';
	CHECK(!blocks(big, "john")); /* "xxx...x john" is one entry */
	free(big);
}

/* blocklist_check: a missing default file blocks nobody; a missing or
 * unreadable file named on the command line refuses everyone. */
static void test_file_verdicts(void)
{
	char dir[] = "/tmp/blocklist-test.XXXXXX";
	if (!CHECK(mkdtemp(dir) != NULL))
		return;
	char path[sizeof(dir) + 16];
	snprintf(path, sizeof(path), "%s/blocked", dir);

	CHECK(blocklist_check(path, false, "john") == BLOCK_ALLOWED);
	CHECK(blocklist_check(path, true, "john") == BLOCK_UNREADABLE);
	FILE *f = fopen(path, "w");
	if (CHECK(f != NULL)) {
		fputs("john\n", f);
		CHECK(fclose(f) == 0);
	}
	CHECK(blocklist_check(path, true, "john") == BLOCK_BLOCKED);
	CHECK(blocklist_check(path, false, "john@example.com") == BLOCK_BLOCKED);
	CHECK(blocklist_check(path, true, "mary") == BLOCK_ALLOWED);
	/* A directory in its place cannot be read as a list. */
	CHECK(unlink(path) == 0);
	CHECK(mkdir(path, 0700) == 0);
	CHECK(blocklist_check(path, true, "mary") == BLOCK_UNREADABLE);
	CHECK(blocklist_check(path, false, "mary") == BLOCK_UNREADABLE);
	CHECK(rmdir(path) == 0);
	CHECK(rmdir(dir) == 0);
}

int main(void)
{
	test_address_entry();
	test_name_entry();
	test_domain_entry();
	test_comments_and_spaces();
	test_empty_and_odd_files();
	test_file_verdicts();
	return check_summary();
}
