/*
 * Unique-ids for UIDL.  See uidl.h.
 */
#include "uidl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void mix_word(struct uidl_hash *h, uint64_t word)
{
	h->lane_a = rotate_left(h->lane_a ^ word, 31) * MIX_A;
	h->lane_b = (rotate_left(h->lane_b, 27) + word) * MIX_B ^ h->lane_a;
}

void uidl_hash_init(struct uidl_hash *h)
{
	h->lane_a = MIX_B;
	h->lane_b = MIX_A;
	h->pending = 0;
	h->pending_len = 0;
	h->length = 0;
}

/* Words are read little-endian so that ids do not depend on the machine
 * that computed them (a spool can move between hosts).  memcpy compiles to
 * one load; the byte swap only exists on big-endian machines. */
static uint64_t load_le64(const unsigned char *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

void uidl_hash_update(struct uidl_hash *h, const void *data, size_t len)
{
	const unsigned char *p = data;

	h->length += len;
	while (len > 0 && h->pending_len > 0) {
		h->pending |= (uint64_t)*p++ << (8 * h->pending_len);
		len--;
		if (++h->pending_len == 8) {
			mix_word(h, h->pending);
			h->pending = 0;
			h->pending_len = 0;
		}
	}
	for (; len >= 8; p += 8, len -= 8)
		mix_word(h, load_le64(p));
	for (; len > 0; len--)
		h->pending |= (uint64_t)*p++ << (8 * h->pending_len++);
}

void uidl_hash_final(struct uidl_hash *h, uint8_t digest[16])
{
	mix_word(h, h->pending ^ ((uint64_t)h->pending_len << 56));
	mix_word(h, h->length);
	uint64_t a = avalanche(h->lane_a + h->lane_b);
	uint64_t b = avalanche(h->lane_b ^ rotate_left(a, 17));
	for (int i = 0; i < 8; i++) {
		digest[i] = (uint8_t)(a >> (8 * i));
		digest[8 + i] = (uint8_t)(b >> (8 * i));
	}
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

void uidl_format(const struct uidl_entry *entry, char *buf)
{
	if (entry->use_xuidl) {
		snprintf(buf, MAX_UIDL_LENGTH + 1, "%s", entry->xuidl);
		return;
	}
	format_hex(entry->digest, buf);
	if (entry->suffix > 0)
		snprintf(buf + 32, MAX_UIDL_LENGTH + 1 - 32, "-%u",
			 (unsigned)entry->suffix);
}

/*
 * A set of id texts, each named by the entry that produced it; texts are
 * compared by formatting them again, so the set costs 8 bytes a slot.
 */
enum text_kind { TEXT_HEX, TEXT_XUIDL, TEXT_FINAL };

struct text_set {
	uint32_t *slots; /* (entry index << 2 | kind) + 1; 0 = empty */
	uint32_t *counts;
	size_t mask;
	const struct uidl_entry *entries;
};

static void text_of(const struct text_set *set, uint32_t slot, char *buf)
{
	uint32_t v = slot - 1;
	const struct uidl_entry *e = &set->entries[v >> 2];

	switch ((enum text_kind)(v & 3)) {
	case TEXT_HEX:
		format_hex(e->digest, buf);
		break;
	case TEXT_XUIDL:
		snprintf(buf, MAX_UIDL_LENGTH + 1, "%s", e->xuidl);
		break;
	case TEXT_FINAL:
		uidl_format(e, buf);
		break;
	}
}

static uint64_t text_key(const char *text)
{
	struct uidl_hash h;
	uint8_t d[16];

	uidl_hash_init(&h);
	uidl_hash_update(&h, text, strlen(text));
	uidl_hash_final(&h, d);
	return load_le64(d);
}

static bool text_set_init(struct text_set *set, size_t count,
			  const struct uidl_entry *entries)
{
	size_t size = 16;
	while (size < 4 * count) {
		if (size > SIZE_MAX / 8)
			return false;
		size *= 2;
	}
	set->slots = calloc(size, sizeof(*set->slots));
	set->counts = calloc(size, sizeof(*set->counts));
	set->mask = size - 1;
	set->entries = entries;
	if (!set->slots || !set->counts) {
		free(set->slots);
		free(set->counts);
		return false;
	}
	return true;
}

static void text_set_free(struct text_set *set)
{
	free(set->slots);
	free(set->counts);
}

/* Returns the slot position holding text, or the empty one it would take. */
static size_t text_set_find(const struct text_set *set, const char *text)
{
	char other[MAX_UIDL_LENGTH + 1];
	size_t pos = (size_t)text_key(text) & set->mask;

	while (set->slots[pos] != 0) {
		text_of(set, set->slots[pos], other);
		if (strcmp(other, text) == 0)
			return pos;
		pos = (pos + 1) & set->mask;
	}
	return pos;
}

static void text_set_add(struct text_set *set, size_t index,
			 enum text_kind kind)
{
	char text[MAX_UIDL_LENGTH + 1];
	uint32_t slot = (uint32_t)((index << 2) | kind) + 1;

	text_of(set, slot, text);
	size_t pos = text_set_find(set, text);
	if (set->slots[pos] == 0)
		set->slots[pos] = slot;
	set->counts[pos]++;
}

static uint32_t text_set_count(const struct text_set *set, const char *text)
{
	size_t pos = text_set_find(set, text);
	return set->slots[pos] ? set->counts[pos] : 0;
}

uint64_t uidl_key(const struct uidl_entry *entry)
{
	char text[MAX_UIDL_LENGTH + 1];
	uidl_format(entry, text);
	return text_key(text);
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
 * text, as its X-UIDL or as its digest: a copied or forged header must not
 * make two messages share an id. */
static void choose_xuidl(struct uidl_entry *entries, size_t count, size_t fixed,
			 const struct text_set *all)
{
	for (size_t i = fixed; i < count; i++)
		entries[i].use_xuidl =
		    entries[i].xuidl &&
		    text_set_count(all, entries[i].xuidl) == 1;
}

static bool take(struct text_set *taken, size_t i)
{
	char text[MAX_UIDL_LENGTH + 1];

	uidl_format(&taken->entries[i], text);
	size_t pos = text_set_find(taken, text);
	if (taken->slots[pos] != 0)
		return false;
	taken->slots[pos] = (uint32_t)((i << 2) | TEXT_FINAL) + 1;
	return true;
}

static void choose_suffixes(struct uidl_entry *entries, size_t count,
			    size_t fixed, struct text_set *taken,
			    const uint64_t *retired, size_t retired_count)
{
	for (size_t i = 0; i < fixed; i++)
		take(taken, i);
	for (size_t i = fixed; i < count; i++) {
		entries[i].suffix = 0;
		while (is_retired(uidl_key(&entries[i]), retired, retired_count) ||
		       !take(taken, i)) {
			if (entries[i].use_xuidl)
				entries[i].use_xuidl = false;
			else
				entries[i].suffix =
				    entries[i].suffix ? entries[i].suffix + 1 : 2;
		}
	}
}

bool uidl_assign(struct uidl_entry *entries, size_t count, size_t fixed,
		 const uint64_t *retired, size_t retired_count)
{
	struct text_set all, taken;

	if (count > (UINT32_MAX >> 2) - 1)
		return false;
	if (!text_set_init(&all, 2 * count, entries))
		return false;
	for (size_t i = 0; i < count; i++) {
		text_set_add(&all, i, i < fixed ? TEXT_FINAL : TEXT_HEX);
		if (i >= fixed && entries[i].xuidl)
			text_set_add(&all, i, TEXT_XUIDL);
	}
	choose_xuidl(entries, count, fixed, &all);
	text_set_free(&all);
	if (!text_set_init(&taken, count, entries))
		return false;
	choose_suffixes(entries, count, fixed, &taken, retired, retired_count);
	text_set_free(&taken);
	return true;
}
