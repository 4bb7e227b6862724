/*
 * Fuzz target: the blocked-users file parser (blocklist_stream_blocks).
 *
 * Input: a user name, LF, then the file.  Besides crashes and leaks it
 * checks what an administrator relies on: whatever the file holds, a
 * line naming the user (in any case), or "@" and the user's domain,
 * added at its end blocks that user; and adding lines never unblocks.
 */
#include <ctype.h>
#include <stdint.h>

#include "auth.h"
#include "blocklist.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool blocks(const char *text, size_t len, const char *user)
{
	FILE *in = fmemopen((void *)text, len, "r");

	FUZZ_CHECK(in != NULL);
	bool blocked = blocklist_stream_blocks(in, user);
	fclose(in);
	return blocked;
}

/* The file with one more line at its end. */
static bool blocks_with(const char *file, size_t len, const char *entry,
			const char *user)
{
	size_t n = strlen(entry);
	char *text = malloc(len + n + 3);

	FUZZ_CHECK(text != NULL);
	memcpy(text, file, len);
	text[len] = '\n';
	memcpy(text + len + 1, entry, n);
	text[len + 1 + n] = '\n';
	bool blocked = blocks(text, len + n + 2, user);
	free(text);
	return blocked;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *lf = memchr(data, '\n', size);
	size_t user_len = lf ? (size_t)(lf - data) : size;
	char user[MAX_USER_NAME + 1], upper[MAX_USER_NAME + 1];

	/* auth_check hands over only valid names, NUL-free. */
	if (!auth_name_is_valid((const char *)data, user_len) ||
	    memchr(data, '\0', user_len))
		return 0;
	memcpy(user, data, user_len);
	user[user_len] = '\0';
	const char *file = lf ? (const char *)lf + 1 : "";
	size_t file_len = lf ? size - user_len - 1 : 0;

	bool blocked = blocks(file, file_len, user);
	/* A line starting with '#' is a comment; one starting with "@" or
	 * "*@" names a domain: such names cannot be named alone. */
	if (user[0] == '#' || user[0] == '@' || strncmp(user, "*@", 2) == 0)
		return 0;
	for (size_t i = 0; i <= user_len; i++)
		upper[i] = (char)toupper((unsigned char)user[i]);
	FUZZ_CHECK(blocks_with(file, file_len, user, user));
	FUZZ_CHECK(blocks_with(file, file_len, upper, user));
	if (blocked)
		FUZZ_CHECK(blocks_with(file, file_len, "# a comment", user));
	const char *at = strrchr(user, '@');
	if (at && at[1] != '\0' && at[1] != '#')
		FUZZ_CHECK(blocks_with(file, file_len, at, user));
	return 0;
}
