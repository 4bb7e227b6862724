/*
 * The one strict parser for decimal numbers from the network, the command
 * line and configuration files: digits only (no sign, no spaces, no hex),
 * at least one, and no overflow -- "4294967297" is never taken for 1.
 */
#ifndef NUMBER_H
#define NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most digits a uint64_t has: 18446744073709551615. */
#define UINT64_DIGITS 20

bool parse_decimal(const char *text, size_t len, uint64_t max, uint64_t *value);

#endif
