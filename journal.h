/*
 * Crash-safe in-place rewrite of the end of an mbox.
 *
 * To remove messages, everything from the first deleted one to the end of
 * the file is rewritten.  The new text of that region is first written to
 * the journal in the user's state directory and made durable; only then is
 * the mbox overwritten, fsync'd, truncated and fsync'd again, and the
 * journal emptied.  A session killed at any point leaves either an
 * untouched mbox or a whole journal, which the next session replays before
 * it reads the mbox (journal_recover), keeping any mail delivered in
 * between.  When only the end of the file goes, one ftruncate does it.
 *
 * The mbox keeps its inode: an MDA that opened it and waits for the lock
 * still appends to the right file (a rename would lose that mail).
 * The caller holds the mbox's fcntl write lock throughout.
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A piece of the new text: length bytes at offset in fd. */
struct text_source {
	int fd;
	bool is_message; /* must still begin with a "From " line: the check
			  * that nobody moved it costs no read of its own */
	uint64_t offset;
	uint64_t length;
};

enum journal_result {
	JOURNAL_DONE,     /* the mbox holds the new text, durably */
	JOURNAL_NOTHING,  /* failed before the mbox was touched */
	JOURNAL_PENDING,  /* failed while rewriting; the journal is kept */
	JOURNAL_STALE,    /* a message source was not where it was said to be:
			   * someone else changed the mbox; nothing done */
};

/* Replaces the mbox from offset start to its end with the sources'
 * concatenation.  The sources must lie in the mbox at or after start, or
 * in other files; the new text must be shorter than what it replaces. */
enum journal_result journal_rewrite(int mbox_fd, const char *state_dir,
				    uint64_t start,
				    const struct text_source *sources,
				    size_t count);

/* Finishes or discards what a killed rewrite left for this mbox.  Returns
 * false only when the mbox could not be brought to a known state. */
bool journal_recover(int mbox_fd, const char *state_dir);

/* Makes sure dir exists, is a directory owned by us and closed to others. */
bool journal_prepare_dir(const char *dir);

#endif
