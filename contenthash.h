/*
 * The content hash: 128 bits of a byte stream, fed in pieces of any size.
 * It names messages (the UIDL of uidl.c), checks the index file and the
 * journal for damage, and tells whether mbox text is still what was
 * indexed.  It is not cryptographic: it only has to tell honest data
 * apart, at a fraction of a cycle a byte.
 */
#ifndef CONTENTHASH_H
#define CONTENTHASH_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of a digest. */
#define CONTENT_DIGEST_SIZE 16

/* Four lanes over 32-byte stripes: independent multiplications, so the
 * processor overlaps them and a byte costs a fraction of a cycle. */
#define CONTENT_HASH_STRIPE 32
struct content_hash {
	uint64_t lane[4];
	unsigned char pending[CONTENT_HASH_STRIPE]; /* not yet a whole stripe */
	unsigned pending_len;
	uint64_t length;
};

void content_hash_init(struct content_hash *h);
void content_hash_update(struct content_hash *h, const void *data, size_t len);
void content_hash_final(struct content_hash *h,
			uint8_t digest[CONTENT_DIGEST_SIZE]);

#endif
