/*
 * Unique-ids for UIDL.  See uidl.h.
 */
#include "uidl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byteorder.h"

bool uidl_is_valid(const char *text, size_t len)
{
	if (len < 1 || len > MAX_UIDL_LENGTH)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x21 || (unsigned char)text[i] > 0x7e)
			return false;
	return true;
}

static void format_hex(const uint8_t digest[CONTENT_DIGEST_SIZE], char *buf)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < CONTENT_DIGEST_SIZE; i++) {
		buf[2 * i] = hex[digest[i] >> 4];
		buf[2 * i + 1] = hex[digest[i] & 15];
	}
	buf[2 * CONTENT_DIGEST_SIZE] = '\0';
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
	struct content_hash h;
	uint8_t d[CONTENT_DIGEST_SIZE];

	content_hash_init(&h);
	content_hash_update(&h, text, strlen(text));
	content_hash_final(&h, d);
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
