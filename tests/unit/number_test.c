/*
 * parse_decimal (number.h): digits only, at least one, no overflow.
 * Message numbers, TOP line counts, uids, gids and option values all go
 * through it, so a number the client wrote is never wrapped around or cut
 * into a valid one.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "number.h"

static bool parses(const char *text, uint64_t max, uint64_t *value)
{
	return parse_decimal(text, strlen(text), max, value);
}

/* The text is accepted with exactly this value. */
static void accepted(const char *text, uint64_t max, uint64_t want)
{
	uint64_t v = ~want;
	CHECK_CASE(parses(text, max, &v) && v == want, text);
}

/* The text is refused and *value is left alone. */
static void refused(const char *text, uint64_t max)
{
	uint64_t v = 12345;
	CHECK_CASE(!parses(text, max, &v) && v == 12345, text);
}

static void test_plain_numbers(void)
{
	accepted("0", UINT64_MAX, 0);
	accepted("1", UINT64_MAX, 1);
	accepted("42", UINT64_MAX, 42);
	accepted("0001", UINT64_MAX, 1); /* leading zeros are digits */
	accepted("4294967295", UINT64_MAX, UINT32_MAX);
	accepted("4294967297", UINT64_MAX, UINT64_C(4294967297));
}

/* Anything but digits, anywhere, is refused: no sign, no space, no hex,
 * no trailing junk (strtoul would take all of these). */
static void test_not_digits(void)
{
	const char *bad[] = { "",   "-1",  "+1",  "1x",   "x1",  " 1",  "1 ",
			      "0x1", "1.0", "1e3", "\xd9\xa1",    "\t1", "1\r", "--1",
			      "1-",  "+",   "-" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i], UINT64_MAX);
}

/* The length is what counts, not a NUL: "12" cut to 1 byte is 1, and an
 * embedded NUL is not a digit. */
static void test_length_not_nul(void)
{
	uint64_t v = 0;
	CHECK(parse_decimal("12", 1, UINT64_MAX, &v) && v == 1);
	CHECK(!parse_decimal("1\0002", 3, UINT64_MAX, &v));
	CHECK(!parse_decimal("7", 0, UINT64_MAX, &v));
}

/* At the top of the range: the maximum is accepted, one more is not, and
 * nothing wraps around to a small number. */
static void test_overflow(void)
{
	accepted("18446744073709551615", UINT64_MAX, UINT64_MAX);
	accepted("018446744073709551615", UINT64_MAX, UINT64_MAX);
	refused("18446744073709551616", UINT64_MAX);  /* 2^64 -> 0 */
	refused("18446744073709551617", UINT64_MAX);  /* 2^64 + 1 -> 1 */
	refused("18446744073709551620", UINT64_MAX);
	refused("99999999999999999999", UINT64_MAX);
	refused("36893488147419103233", UINT64_MAX);  /* 2^65 + 1 -> 1 */
	refused("184467440737095516150", UINT64_MAX);
	refused("1000000000000000000000000000000000000000", UINT64_MAX);
}

/* A smaller maximum is a hard limit too: 2^32 + 1 is no uid. */
static void test_smaller_maximum(void)
{
	accepted("4294967294", UINT32_MAX - 1, UINT32_MAX - 1);
	refused("4294967295", UINT32_MAX - 1);
	refused("4294967297", UINT32_MAX - 1);
	refused("4294967297", UINT32_MAX);
	accepted("4294967295", UINT32_MAX, UINT32_MAX);
	accepted("86400", 86400, 86400);
	refused("86401", 86400);
	refused("90000", 86400);
	accepted("0", 0, 0);
	refused("1", 0);
	accepted("9", 9, 9);
	refused("10", 9);
	accepted("10", 10, 10);
	refused("11", 10);
}

int main(void)
{
	test_plain_numbers();
	test_not_digits();
	test_length_not_nul();
	test_overflow();
	test_smaller_maximum();
	return check_summary();
}
