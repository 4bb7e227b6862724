/*
 * Little-endian integers in files (the index, the journal) and in hash
 * input, so that what one machine wrote another reads the same way (a
 * spool and its state directory can move between hosts).  memcpy compiles
 * to one load or store; the byte swap exists only on big-endian machines.
 */
#ifndef BYTEORDER_H
#define BYTEORDER_H

#include <stdint.h>
#include <string.h>

static inline uint64_t le64_load(const void *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline void le64_store(void *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	memcpy(p, &v, sizeof(v));
}

static inline uint32_t le32_load(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static inline void le32_store(void *p, uint32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	memcpy(p, &v, sizeof(v));
}

#endif
