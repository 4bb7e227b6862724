/*
 * Unique-ids for RFC 1939 UIDL: the content hash (contenthash.h) of the
 * parts of a message that nobody rewrites, and the pass that makes the ids
 * unique in a maildrop.  Uniqueness never depends on the hash: equal ids
 * get a "-N" suffix.
 */
#ifndef UIDL_H
#define UIDL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "contenthash.h"
#include "params.h"

/* RFC 1939 7: 1 to 70 characters in 0x21..0x7E. */
bool uidl_is_valid(const char *text, size_t len);

/* What the uniqueness pass needs to know of each message, and what it sets. */
struct uidl_entry {
	uint8_t digest[CONTENT_DIGEST_SIZE];
	uint32_t xuidl_at;      /* 1 + offset of a valid X-UIDL value in the
				 * caller's pool of such texts, or 0 */
	uint32_t suffix : 31;   /* out: 0, or N for "<id>-N" */
	uint32_t use_xuidl : 1; /* out: the X-UIDL is unique and is the id */
};

/* Chooses the ids of entries[fixed..count): a message's X-UIDL when that
 * is unique in the maildrop, else its hex digest, with "-N" added when the
 * id is already taken -- by an earlier message, or by one of the retired
 * ids (keys of ids of deleted messages, sorted ascending), so that a copy
 * of a deleted message delivered again is new to the client.  Entries
 * before `fixed` keep the ids they have (from the index).  Returns false
 * when out of memory. */
bool uidl_assign(struct uidl_entry *entries, size_t count, size_t fixed,
		 const char *pool, const uint64_t *retired,
		 size_t retired_count);

/* A 64-bit key of an entry's id text, for the retired list. */
uint64_t uidl_key(const struct uidl_entry *entry, const char *pool);

/* Writes the id of an entry as text; buf has MAX_UIDL_LENGTH + 1 bytes. */
void uidl_format(const struct uidl_entry *entry, const char *pool, char *buf);

#endif
