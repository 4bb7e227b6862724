/*
 * Strict decimal numbers.  See number.h.
 */
#include "number.h"

bool parse_decimal(const char *text, size_t len, uint64_t max, uint64_t *value)
{
	uint64_t v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned digit = (unsigned)(unsigned char)text[i] - '0';
		if (digit > 9 || digit > max || v > (max - digit) / 10)
			return false;
		v = v * 10 + digit;
	}
	*value = v;
	return true;
}
