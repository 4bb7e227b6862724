/*
 * 16-byte vectors for the loops that touch every byte of a mailbox.
 *
 * With GCC or clang these are the compilers' vector extensions, which
 * become SSE2 on x86-64 and NEON on arm64: a third of an instruction per
 * byte where a byte loop takes several, the difference between scanning at
 * memory speed and not.  Other compilers get BYTEVEC undefined and the
 * callers' plain byte loops, with the same results.
 */
#ifndef BYTEVEC_H
#define BYTEVEC_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define BYTEVEC 1
typedef unsigned char bytes16 __attribute__((vector_size(16)));

static inline bytes16 load16(const unsigned char *p)
{
	bytes16 v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void store16(unsigned char *p, bytes16 v)
{
	memcpy(p, &v, sizeof(v));
}

static inline bytes16 splat16(unsigned char c)
{
	bytes16 v;
	memset(&v, c, sizeof(v));
	return v;
}

/* Lanes of the result are 0xff where a and b are equal, else 0. */
static inline bytes16 equal16(bytes16 a, bytes16 b)
{
	return (bytes16)(a == b);
}

static inline bool any16(bytes16 v)
{
	uint64_t w[2];
	memcpy(w, &v, sizeof(w));
	return (w[0] | w[1]) != 0;
}

/* Index of the first non-zero lane of a vector that has one. */
static inline unsigned first16(bytes16 v)
{
	uint64_t w[2];
	memcpy(w, &v, sizeof(w));
	/* Lanes are stored in memory order; on a little-endian machine the
	 * first lane is the lowest byte of w[0]. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return w[0] ? (unsigned)__builtin_ctzll(w[0]) / 8
		    : 8 + (unsigned)__builtin_ctzll(w[1]) / 8;
#else
	return w[0] ? (unsigned)__builtin_clzll(w[0]) / 8
		    : 8 + (unsigned)__builtin_clzll(w[1]) / 8;
#endif
}

static inline unsigned sum16(bytes16 v)
{
	unsigned char b[16];
	unsigned sum = 0;
	memcpy(b, &v, sizeof(b));
	for (int i = 0; i < 16; i++)
		sum += b[i];
	return sum;
}
#endif

/*
 * On x86-64, where the baseline stops at SSE2, the hottest loops also come
 * in an AVX2 version, chosen at run time: 64 bytes at a time as a bit mask
 * per byte value (bit i set where p[i] == c), so that a test over a block
 * is a few integer instructions.  The functions that use mask64 carry
 * BYTEMASK64_TARGET and are called only when have_mask64() says the CPU
 * has AVX2 (the compiler's cpuid check, once per process in libgcc).
 */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define BYTEMASK64 1
#define BYTEMASK64_TARGET __attribute__((target("avx2,popcnt,bmi")))

static inline bool have_mask64(void)
{
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
	       __builtin_cpu_supports("bmi");
}

BYTEMASK64_TARGET
static inline uint64_t mask64(const unsigned char *p, unsigned char c)
{
	const __m256i v = _mm256_set1_epi8((char)c);
	__m256i lo, hi;
	memcpy(&lo, p, sizeof(lo));
	memcpy(&hi, p + 32, sizeof(hi));
	uint32_t a = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, v));
	uint32_t b = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, v));
	return (uint64_t)b << 32 | a;
}

/* The sum of the 32 byte lanes of v. */
BYTEMASK64_TARGET
static inline uint64_t sum_lanes(__m256i v)
{
	__m256i quads = _mm256_sad_epu8(v, _mm256_setzero_si256());
	return (uint64_t)_mm256_extract_epi64(quads, 0) +
	       (uint64_t)_mm256_extract_epi64(quads, 1) +
	       (uint64_t)_mm256_extract_epi64(quads, 2) +
	       (uint64_t)_mm256_extract_epi64(quads, 3);
}
#endif

#endif
