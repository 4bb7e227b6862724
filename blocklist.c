/*
 * The blocked-users file.  See blocklist.h.
 */
#include "blocklist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

/* Cuts the comment and the spaces around the entry; returns its start. */
static char *trim_entry(char *line, size_t *len)
{
	size_t n = *len;

	for (size_t i = 0; i < n; i++) {
		if (line[i] == '#' && (i == 0 || is_space(line[i - 1]))) {
			n = i;
			break;
		}
	}
	while (n > 0 && is_space(line[n - 1]))
		n--;
	while (n > 0 && is_space(*line)) {
		line++;
		n--;
	}
	*len = n;
	return line;
}

static bool equal_nocase(const char *a, size_t a_len, const char *b,
			 size_t b_len)
{
	return a_len == b_len && strncasecmp(a, b, a_len) == 0;
}

static bool entry_blocks(const char *entry, size_t len, const char *user)
{
	size_t user_len = strlen(user);
	const char *at = strrchr(user, '@');
	size_t local_len = at ? (size_t)(at - user) : user_len;

	if (len >= 2 && entry[0] == '*' && entry[1] == '@') {
		entry++;
		len--;
	}
	if (len > 1 && entry[0] == '@')
		return at && equal_nocase(entry + 1, len - 1, at + 1,
					  strlen(at + 1));
	if (memchr(entry, '@', len))
		return equal_nocase(entry, len, user, user_len);
	return equal_nocase(entry, len, user, local_len);
}

bool blocklist_stream_blocks(FILE *in, const char *user)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	bool blocked = false;

	while (!blocked && (got = getline(&line, &cap, in)) >= 0) {
		size_t len = (size_t)got;
		/* A NUL would hide the rest of the line from string functions;
		 * matching stops there, as an entry cannot contain one. */
		size_t nul = strnlen(line, len);
		len = nul;
		char *entry = trim_entry(line, &len);
		if (len > 0)
			blocked = entry_blocks(entry, len, user);
	}
	free(line);
	return blocked;
}

enum block_verdict blocklist_check(const char *path, bool named,
				   const char *user)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT && !named)
			return BLOCK_ALLOWED;
		syslog(LOG_ERR, "blocked-users file %s: %m; refusing every login",
		       path);
		return BLOCK_UNREADABLE;
	}
	FILE *in = fdopen(fd, "r");
	if (!in) {
		close(fd);
		syslog(LOG_ERR, "blocked-users file %s: %m", path);
		return BLOCK_UNREADABLE;
	}
	bool blocked = blocklist_stream_blocks(in, user);
	bool failed = ferror(in);
	(void)fclose(in); /* read only: a failed close loses nothing */
	if (failed) {
		syslog(LOG_ERR, "blocked-users file %s: read error; refusing every "
				"login", path);
		return BLOCK_UNREADABLE;
	}
	return blocked ? BLOCK_BLOCKED : BLOCK_ALLOWED;
}
