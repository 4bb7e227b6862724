/*
 * Unique-ids for UIDL.  See uidl.h.
 */
#include "uidl.h"

#include <stdio.h>
#include <stdlib.h>
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
static void mix_stripe(struct uidl_hash *h, const unsigned char *p)
{
	for (int i = 0; i < 4; i++)
		h->lane[i] = mix_word(h->lane[i], le64_load(p + 8 * i));
}

void uidl_hash_init(struct uidl_hash *h)
{
	*h = (struct uidl_hash){ .lane = { MIX_A + MIX_B, MIX_B, 0, -MIX_A } };
}

void uidl_hash_update(struct uidl_hash *h, const void *data, size_t len)
{
	const unsigned char *p = data;

	h->length += len;
	if (h->pending_len > 0) {
		size_t n = UIDL_HASH_STRIPE - h->pending_len < len
				   ? UIDL_HASH_STRIPE - h->pending_len
				   : len;
		memcpy(h->pending + h->pending_len, p, n);
		h->pending_len += (unsigned)n;
		p += n;
		len -= n;
		if (h->pending_len < UIDL_HASH_STRIPE)
			return;
		mix_stripe(h, h->pending);
		h->pending_len = 0;
	}
	/* The lanes in locals: through h, every byte store could alias them. */
	uint64_t a = h->lane[0], b = h->lane[1], c = h->lane[2], d = h->lane[3];
	for (; len >= UIDL_HASH_STRIPE; p += UIDL_HASH_STRIPE, len -= UIDL_HASH_STRIPE) {
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
void uidl_hash_final(struct uidl_hash *h, uint8_t digest[16])
{
	memset(h->pending + h->pending_len, 0, UIDL_HASH_STRIPE - h->pending_len);
	mix_stripe(h, h->pending);
	uint64_t a = rotate_left(h->lane[0], 1) + rotate_left(h->lane[1], 7) +
		     rotate_left(h->lane[2], 12) + rotate_left(h->lane[3], 18);
	uint64_t b = mix_word(h->lane[2] ^ h->lane[0], h->length) + h->lane[1];
	a = avalanche(mix_word(a, h->length) ^ h->lane[3]);
	b = avalanche(b ^ rotate_left(a, 17));
	le64_store(digest, a);
	le64_store(digest + 8, b);
}

bool uidl_is_valid(const char *text, size_t len)
{
	if (len < 1 || len > MAX_UIDL_LENGTH)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x21 || (unsigned char)text[i] > 0x7e)
			return false;
	return true;
}

static void format_hex(const uint8_t digest[16], char *buf)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		buf[2 * i] = hex[digest[i] >> 4];
		buf[2 * i + 1] = hex[digest[i] & 15];
	}
	buf[32] = '\0';
}

static const char *xuidl_of(const struct uidl_entry *entry, const char *pool)
{
	return pool + entry->xuidl_at - 1;
}

void uidl_format(const struct uidl_entry *entry, const char *pool, char *buf)
{
	if (entry->use_xuidl) {
		(void)snprintf(buf, MAX_UIDL_LENGTH + 1, "%s", xuidl_of(entry, pool));
		return;
	}
	format_hex(entry->digest, buf);
	if (entry->suffix > 0)
		(void)snprintf(buf + 32, MAX_UIDL_LENGTH + 1 - 32, "-%u",
			       (unsigned)entry->suffix);
}

/*
 * Uniqueness works on 64-bit keys of the id texts, never on the texts: a
 * set costs 8 bytes a slot and a probe no formatting.  Two different texts
 * with one key (never seen, but possible) are taken for equal, which can
 * only cost an unneeded suffix: ids stay unique whatever the keys do.
 */
static uint64_t text_key(const char *text)
{
	struct uidl_hash h;
	uint8_t d[16];

	uidl_hash_init(&h);
	uidl_hash_update(&h, text, strlen(text));
	uidl_hash_final(&h, d);
	uint64_t key = le64_load(d);
	return key ? key : 1; /* 0 marks an empty slot */
}

uint64_t uidl_key(const struct uidl_entry *entry, const char *pool)
{
	char text[MAX_UIDL_LENGTH + 1];
	uidl_format(entry, pool, text);
	return text_key(text);
}

static uint64_t hex_key(const struct uidl_entry *entry)
{
	char text[33];
	format_hex(entry->digest, text);
	return text_key(text);
}

struct key_set {
	uint64_t *keys;
	uint32_t *counts; /* NULL when the set does not count */
	size_t mask;
};

/* Room for n keys at a load of at most two thirds. */
static bool key_set_init(struct key_set *set, size_t n, bool counting)
{
	size_t size = 16;

	while (size < n + n / 2) {
		if (size > SIZE_MAX / 16)
			return false;
		size *= 2;
	}
	set->mask = size - 1;
	set->keys = calloc(size, sizeof(*set->keys));
	set->counts = counting ? calloc(size, sizeof(*set->counts)) : NULL;
	if (!set->keys || (counting && !set->counts)) {
		free(set->keys);
		free(set->counts);
		return false;
	}
	return true;
}

static void key_set_free(struct key_set *set)
{
	free(set->keys);
	free(set->counts);
}

static size_t key_set_slot(const struct key_set *set, uint64_t key)
{
	size_t pos = (size_t)(key ^ (key >> 29)) & set->mask;
	while (set->keys[pos] != 0 && set->keys[pos] != key)
		pos = (pos + 1) & set->mask;
	return pos;
}

/* Adds key; returns false when it was there already. */
static bool key_set_add(struct key_set *set, uint64_t key)
{
	size_t pos = key_set_slot(set, key);
	bool fresh = set->keys[pos] == 0;

	set->keys[pos] = key;
	if (set->counts)
		set->counts[pos]++;
	return fresh;
}

static uint32_t key_set_count(const struct key_set *set, uint64_t key)
{
	size_t pos = key_set_slot(set, key);
	return set->keys[pos] ? set->counts[pos] : 0;
}

static bool is_retired(uint64_t key, const uint64_t *retired, size_t count)
{
	size_t lo = 0, hi = count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (retired[mid] == key)
			return true;
		if (retired[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* An X-UIDL header is honoured only when no other message claims the same
 * text, as its X-UIDL, its digest or its id: a copied or forged header
 * must not make two messages share an id. */
static bool choose_xuidl(struct uidl_entry *e, size_t count, size_t fixed,
			 const char *pool)
{
	struct key_set claims;
	size_t xuidls = 0;

	for (size_t i = fixed; i < count; i++) {
		xuidls += e[i].xuidl_at != 0;
		e[i].use_xuidl = false;
	}
	if (xuidls == 0)
		return true; /* the usual case: no set to build */
	if (!key_set_init(&claims, count + xuidls, true))
		return false;
	for (size_t i = 0; i < count; i++) {
		key_set_add(&claims, i < fixed ? uidl_key(&e[i], pool) : hex_key(&e[i]));
		if (i >= fixed && e[i].xuidl_at)
			key_set_add(&claims, text_key(xuidl_of(&e[i], pool)));
	}
	for (size_t i = fixed; i < count; i++)
		e[i].use_xuidl = e[i].xuidl_at &&
				 key_set_count(&claims, text_key(xuidl_of(&e[i], pool))) == 1;
	key_set_free(&claims);
	return true;
}

static bool choose_suffixes(struct uidl_entry *e, size_t count, size_t fixed,
			    const char *pool, const uint64_t *retired,
			    size_t retired_count)
{
	struct key_set taken;

	if (!key_set_init(&taken, count, false))
		return false;
	for (size_t i = 0; i < fixed; i++)
		key_set_add(&taken, uidl_key(&e[i], pool));
	for (size_t i = fixed; i < count; i++) {
		e[i].suffix = 0;
		for (;;) {
			uint64_t key = uidl_key(&e[i], pool);
			if (!is_retired(key, retired, retired_count) &&
			    key_set_add(&taken, key))
				break;
			if (e[i].use_xuidl)
				e[i].use_xuidl = false;
			else
				e[i].suffix = e[i].suffix ? e[i].suffix + 1 : 2;
		}
	}
	key_set_free(&taken);
	return true;
}

bool uidl_assign(struct uidl_entry *entries, size_t count, size_t fixed,
		 const char *pool, const uint64_t *retired,
		 size_t retired_count)
{
	return choose_xuidl(entries, count, fixed, pool) &&
	       choose_suffixes(entries, count, fixed, pool, retired,
			       retired_count);
}
