/*
 * Crash-safe in-place rewrite of the end of an mbox.
 *
 * To remove messages, the kept text after the first deleted one moves
 * towards the start of the file, run by run, and the file is cut at its
 * new end.  Before the mbox is touched, the journal in the user's state
 * directory is made durable: the plan (which runs go where) and, for the
 * first part of the new text, where the runs move only a little, that text
 * itself.  The rest moves in windows no longer than the distance it moves,
 * each durable (fdatasync) and checkpointed in the journal before the next
 * one overwrites its old place.  A session killed at any point leaves an
 * untouched mbox or a journal from which the next session finishes the
 * update (journal_recover) before it reads the mbox, keeping any mail
 * delivered in between.  When only the end of the file goes, one
 * ftruncate does it.
 *
 * The cost is one write of the new text, plus the journaled part once
 * more; for the common case -- many deletions -- that part is small.
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

#include "params.h"

/* A piece of the new text: length bytes at offset in the mbox. */
struct text_run {
	uint64_t offset;
	uint64_t length;
};

enum journal_result {
	JOURNAL_DONE,    /* the mbox holds the new text, durably */
	JOURNAL_NOTHING, /* failed before the mbox was touched */
	JOURNAL_PENDING, /* failed while rewriting; the journal is kept */
};

/* Both calls copy text through a buffer of JOURNAL_BUFFER bytes that the
 * caller lends (the mailbox's read block: memory is counted per message). */
#define JOURNAL_BUFFER IO_BLOCK

/* Replaces the mbox from offset start to its end with the runs'
 * concatenation.  The runs lie in the mbox after start, in ascending
 * order without overlap; the new text is shorter than what it replaces. */
enum journal_result journal_rewrite(int mbox_fd, const char *state_dir,
				    uint64_t start, const struct text_run *runs,
				    size_t count, void *buffer);

/* Finishes or discards what a killed rewrite left for this mbox.  Returns
 * false only when the mbox could not be brought to a known state. */
bool journal_recover(int mbox_fd, const char *state_dir, void *buffer);

#endif
