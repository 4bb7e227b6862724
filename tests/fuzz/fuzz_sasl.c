/*
 * Fuzz target: the AUTH PLAIN decoder (sasl_plain_parse, base64_decode).
 *
 * The input is the client's base64 line.  Checked besides crashes, leaks
 * and overflows: accepted credentials fit their limits and hold no NUL;
 * encoding them again gives the same credentials; base64_decode inverts
 * a plain encoder on any bytes (and refuses when the output would not
 * fit); what it accepts decodes and re-encodes to the same length.
 */
#include <stdint.h>

#include "fuzz.h"
#include "sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t encode(const unsigned char *in, size_t len, char *out)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
	}
	return o;
}

static void check_credentials(const struct plain_credentials *c)
{
	struct plain_credentials again;
	unsigned char raw[2 + MAX_USER_NAME + MAX_PASSWORD];
	char line[sizeof(raw) * 4 / 3 + 4];

	FUZZ_CHECK(c->user_len <= MAX_USER_NAME && c->password_len <= MAX_PASSWORD);
	FUZZ_CHECK(c->user[c->user_len] == '\0' &&
		   c->password[c->password_len] == '\0');
	FUZZ_CHECK(!memchr(c->user, '\0', c->user_len) &&
		   !memchr(c->password, '\0', c->password_len));
	raw[0] = '\0';
	memcpy(raw + 1, c->user, c->user_len);
	raw[1 + c->user_len] = '\0';
	memcpy(raw + 2 + c->user_len, c->password, c->password_len);
	size_t n = encode(raw, 2 + c->user_len + c->password_len, line);
	FUZZ_CHECK(sasl_plain_parse(line, n, &again));
	FUZZ_CHECK(again.user_len == c->user_len &&
		   again.password_len == c->password_len &&
		   memcmp(again.user, c->user, c->user_len) == 0 &&
		   memcmp(again.password, c->password, c->password_len) == 0);
}

static void check_round_trip(const uint8_t *data, size_t size)
{
	char *text = malloc(size * 4 / 3 + 4);
	unsigned char *out = malloc(size + 1);
	size_t n, got;

	FUZZ_CHECK(text && out);
	n = encode(data, size, text);
	FUZZ_CHECK(base64_decode(text, n, out, size, &got));
	FUZZ_CHECK(got == size && (size == 0 || memcmp(out, data, size) == 0));
	if (size > 0)
		FUZZ_CHECK(!base64_decode(text, n, out, size - 1, &got));
	free(text);
	free(out);
}

static void check_decode(const uint8_t *data, size_t size)
{
	size_t cap = size / 4 * 3, got;
	unsigned char *out = malloc(cap + 1);
	char *text = malloc(cap * 4 / 3 + 4);

	FUZZ_CHECK(out && text);
	if (base64_decode((const char *)data, size, out, cap, &got)) {
		FUZZ_CHECK(got <= cap);
		FUZZ_CHECK(encode(out, got, text) == size);
	}
	free(out);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plain_credentials creds;

	if (sasl_plain_parse((const char *)data, size, &creds))
		check_credentials(&creds);
	check_round_trip(data, size);
	check_decode(data, size);
	return 0;
}
