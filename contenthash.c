/*
 * The content hash.  See contenthash.h.
 */
#include "contenthash.h"

#include <string.h>

#include "byteorder.h"

/* Odd 64-bit constants with well-mixed bits (from the golden ratio and
 * the splitmix64 finaliser). */
#define MIX_A 0x9e3779b97f4a7c15ULL
#define MIX_B 0xc2b2ae3d27d4eb4fULL
#define FINAL_A 0xbf58476d1ce4e5b9ULL
#define FINAL_B 0x94d049bb133111ebULL

static uint64_t rotate_left(uint64_t x, unsigned bits)
{
	return (x << bits) | (x >> (64 - bits));
}

static uint64_t avalanche(uint64_t x)
{
	x ^= x >> 30;
	x *= FINAL_A;
	x ^= x >> 27;
	x *= FINAL_B;
	x ^= x >> 31;
	return x;
}

static uint64_t mix_word(uint64_t lane, uint64_t word)
{
	return rotate_left(lane + word * MIX_B, 31) * MIX_A;
}

/* Words are read little-endian so that ids do not depend on the machine
 * that computed them. */
static void mix_stripe(struct content_hash *h, const unsigned char *p)
{
	for (int i = 0; i < 4; i++)
		h->lane[i] = mix_word(h->lane[i], le64_load(p + 8 * i));
}

void content_hash_init(struct content_hash *h)
{
	*h = (struct content_hash){ .lane = { MIX_A + MIX_B, MIX_B, 0, -MIX_A } };
}

void content_hash_update(struct content_hash *h, const void *data, size_t len)
{
	const unsigned char *p = data;

	h->length += len;
	if (h->pending_len > 0) {
		size_t n = CONTENT_HASH_STRIPE - h->pending_len < len
				   ? CONTENT_HASH_STRIPE - h->pending_len
				   : len;
		memcpy(h->pending + h->pending_len, p, n);
		h->pending_len += (unsigned)n;
		p += n;
		len -= n;
		if (h->pending_len < CONTENT_HASH_STRIPE)
			return;
		mix_stripe(h, h->pending);
		h->pending_len = 0;
	}
	/* The lanes in locals: through h, every byte store could alias them. */
	uint64_t a = h->lane[0], b = h->lane[1], c = h->lane[2], d = h->lane[3];
	for (; len >= CONTENT_HASH_STRIPE;
	     p += CONTENT_HASH_STRIPE, len -= CONTENT_HASH_STRIPE) {
		a = mix_word(a, le64_load(p));
		b = mix_word(b, le64_load(p + 8));
		c = mix_word(c, le64_load(p + 16));
		d = mix_word(d, le64_load(p + 24));
	}
	h->lane[0] = a;
	h->lane[1] = b;
	h->lane[2] = c;
	h->lane[3] = d;
	memcpy(h->pending, p, len);
	h->pending_len = (unsigned)len;
}

/* The last partial stripe, zero-padded, then the length (which tells
 * the padding from zero bytes), folded into two avalanched halves. */
void content_hash_final(struct content_hash *h, uint8_t digest[CONTENT_DIGEST_SIZE])
{
	memset(h->pending + h->pending_len, 0, CONTENT_HASH_STRIPE - h->pending_len);
	mix_stripe(h, h->pending);
	uint64_t a = rotate_left(h->lane[0], 1) + rotate_left(h->lane[1], 7) +
		     rotate_left(h->lane[2], 12) + rotate_left(h->lane[3], 18);
	uint64_t b = mix_word(h->lane[2] ^ h->lane[0], h->length) + h->lane[1];
	a = avalanche(mix_word(a, h->length) ^ h->lane[3]);
	b = avalanche(b ^ rotate_left(a, 17));
	le64_store(digest, a);
	le64_store(digest + 8, b);
}
