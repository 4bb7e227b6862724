/*
 * SASL PLAIN (RFC 4616) as POP3 AUTH carries it (RFC 5034): base64 of
 * "authzid NUL authcid NUL password".  Strict: bad base64, a missing or
 * extra NUL, an over-long field, or an authzid that differs from the
 * authcid are all refused.
 */
#ifndef SASL_H
#define SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "params.h"

struct plain_credentials {
	char user[MAX_USER_NAME + 1];
	size_t user_len;
	char password[MAX_PASSWORD + 1];
	size_t password_len;
};

/* Decodes RFC 4648 base64 with padding; false on any bad character,
 * padding or length, or when the result would exceed cap bytes. */
bool base64_decode(const char *in, size_t len, unsigned char *out, size_t cap,
		   size_t *out_len);

/* The mechanisms AUTH accepts (RFC 5034 4: names compare without case):
 * PLAIN only. */
bool sasl_mechanism_supported(const char *name, size_t len);

/* in is the client's base64 line ("=" is an empty response). */
bool sasl_plain_parse(const char *in, size_t len,
		      struct plain_credentials *creds);

#endif
