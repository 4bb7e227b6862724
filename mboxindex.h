/*
 * The maildrop index: what a scan of the mbox found, kept in the user's
 * state directory so the next login need not read the mbox again.
 *
 * It is a cache and never more: the mbox is never written for it, and it
 * is believed only while the mbox is the same file (device, inode), no
 * shorter than it was, with the same last block -- and, when the size is
 * unchanged, the same mtime.  Mail appended since is scanned on from the
 * indexed end.  It also keeps the unique-ids it handed out, so twin
 * messages keep theirs when one is deleted, and the ids of deleted
 * messages, so a copy delivered again gets a new one.
 *
 * Written to a temporary name and renamed, mode 600; a checksum over the
 * whole file catches a torn or damaged copy, which is then ignored.
 */
#ifndef MBOXINDEX_H
#define MBOXINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "contenthash.h"

struct index_header {
	uint64_t dev;
	uint64_t ino;
	uint64_t size; /* the mbox was indexed up to here */
	int64_t mtime_sec;
	int64_t mtime_nsec;
	/* of the last 4096 bytes before size */
	uint8_t tail_digest[CONTENT_DIGEST_SIZE];
	uint64_t count;
	uint64_t pool_len;      /* bytes of X-UIDL texts */
	uint64_t retired_count; /* ids of deleted messages */
	bool appendable; /* the last message ends with its separator */
};

struct index_record {
	uint64_t start;
	uint64_t data;
	uint64_t length;
	uint64_t size;
	uint8_t digest[CONTENT_DIGEST_SIZE];
	uint32_t suffix;
	uint32_t xuidl_at; /* 1 + offset in the pool, or 0 */
	bool use_xuidl;
};

/* The reader says first how many records follow (so that room for them
 * is made once), then hands them over one by one; the pool and the
 * retired keys arrive in malloc'd buffers the caller frees.  A false from
 * a callback stops the load.  Nothing is trusted until INDEX_OK. */
struct index_reader {
	bool (*reserve)(void *context, uint64_t count);
	bool (*record)(void *context, const struct index_record *r);
	void *context;
};
enum index_status { INDEX_OK, INDEX_MISSING, INDEX_UNUSABLE };

enum index_status index_load(const char *state_dir, struct index_header *h,
			     const struct index_reader *reader, char **pool,
			     uint64_t **retired);

/* The writer asks for record i of h->count. */
typedef void (*index_record_out)(void *context, uint64_t i,
				 struct index_record *r);

bool index_save(const char *state_dir, const struct index_header *h,
		index_record_out record, void *context, const char *pool,
		const uint64_t *retired);

#endif
