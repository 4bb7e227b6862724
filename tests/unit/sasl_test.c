/*
 * The SASL PLAIN decoder (sasl.h): RFC 4648 base64 as RFC 5034 carries
 * it, and RFC 4616's "authzid NUL authcid NUL password".
 */
#include <string.h>

#include "check.h"
#include "params.h"
#include "sasl.h"

/* base64 of len bytes, RFC 4648 with padding (the client's side). */
static void encode(const void *data, size_t len, char *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
}

static bool parse_raw(const void *message, size_t len,
		      struct plain_credentials *c)
{
	char b64[4 * MAX_SASL_LINE];
	encode(message, len, b64);
	return sasl_plain_parse(b64, strlen(b64), c);
}

static bool parse_text(const char *b64, struct plain_credentials *c)
{
	return sasl_plain_parse(b64, strlen(b64), c);
}

static void test_base64(void)
{
	unsigned char out[16];
	size_t n = 99;

	/* RFC 4648 10's test vectors. */
	const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	const char *coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
				"Zm9vYmFy" };
	for (size_t i = 0; i < 7; i++)
		CHECK_CASE(base64_decode(coded[i], strlen(coded[i]), out, sizeof(out), &n) &&
				   n == strlen(plain[i]) && memcmp(out, plain[i], n) == 0,
			   coded[i]);
	/* Lengths that are no multiple of 4, padding in the wrong place,
	 * characters outside the alphabet, URL-safe base64, whitespace. */
	const char *bad[] = { "Zg",    "Zg=",      "Zm9",   "Z===",   "====",  "Zg==Zg==",
			      "Z=g=",  "Zm=v",     "Zm9v=", "Zm9-",   "Zm9_",  "Zm9 ",
			      "Zm9\n", "Zm9vYg=A", "*",     "Zm\0v"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_CASE(!base64_decode(bad[i], i == 15 ? 4 : strlen(bad[i]), out,
					  sizeof(out), &n),
			   bad[i]);
	/* Exactly the room given, and not a byte more. */
	CHECK(base64_decode("Zm9vYmFy", 8, out, 6, &n) && n == 6);
	CHECK(!base64_decode("Zm9vYmFy", 8, out, 5, &n));
	CHECK(!base64_decode("Zm9vYg==", 8, out, 3, &n));
}

static void test_plain_accepted(void)
{
	struct plain_credentials c;

	CHECK(parse_raw("\0alice\0secret", 13, &c) && c.user_len == 5 &&
	      strcmp(c.user, "alice") == 0 && c.password_len == 6 &&
	      strcmp(c.password, "secret") == 0);
	/* An authzid equal to the authcid is the same login. */
	CHECK(parse_raw("alice\0alice\0secret", 18, &c) && strcmp(c.user, "alice") == 0);
	/* Passwords may hold any byte but NUL, and may be empty. */
	CHECK(parse_raw("\0bob\0p a\x01\xff:ss", 13, &c) && c.password_len == 8 &&
	      memcmp(c.password, "p a\x01\xff:ss", 8) == 0);
	CHECK(parse_raw("\0bob\0", 5, &c) && c.password_len == 0 &&
	      c.password[0] == '\0');
	CHECK(parse_text("AGFsaWNlAHNlY3JldA==", &c) && strcmp(c.user, "alice") == 0);
}

static void test_plain_refused(void)
{
	struct plain_credentials c;

	CHECK(!parse_text("=", &c)); /* an empty response holds no NULs */
	CHECK(!parse_text("", &c));
	CHECK(!parse_text("*", &c));
	CHECK(!parse_text("AGFsaWNlAHNlY3JldA", &c)); /* padding missing */
	CHECK(!parse_raw("alice", 5, &c));
	CHECK(!parse_raw("\0alice", 6, &c));                /* one NUL */
	CHECK(!parse_raw("alice\0secret", 12, &c));         /* one NUL */
	CHECK(!parse_raw("\0alice\0sec\0ret", 14, &c));     /* three */
	CHECK(!parse_raw("\0alice\0secret\0", 14, &c));
	CHECK(!parse_raw("\0\0\0", 3, &c));
	/* Someone else's authorization identity: no proxy logins. */
	CHECK(!parse_raw("root\0alice\0secret", 17, &c));
	CHECK(!parse_raw("alicf\0alice\0secret", 18, &c));
	CHECK(!parse_raw("alic\0alice\0secret", 17, &c));
	CHECK(!parse_raw("alice \0alice\0secret", 19, &c));
}

/* Fields at their limits (params.h) and one byte over. */
static void test_plain_limits(void)
{
	struct plain_credentials c;
	char msg[1 + MAX_USER_NAME + 2 + MAX_PASSWORD + 2];
	size_t n;

	for (int user_extra = 0; user_extra < 2; user_extra++) {
		for (int pass_extra = 0; pass_extra < 2; pass_extra++) {
			size_t ulen = MAX_USER_NAME + (size_t)user_extra;
			size_t plen = MAX_PASSWORD + (size_t)pass_extra;
			n = 0;
			msg[n++] = '\0';
			memset(msg + n, 'u', ulen);
			n += ulen;
			msg[n++] = '\0';
			memset(msg + n, 'p', plen);
			n += plen;
			bool ok = parse_raw(msg, n, &c);
			if (user_extra || pass_extra) {
				CHECK(!ok);
			} else {
				CHECK(ok && c.user_len == MAX_USER_NAME &&
				      c.password_len == MAX_PASSWORD &&
				      c.user[MAX_USER_NAME] == '\0' &&
				      c.password[MAX_PASSWORD] == '\0');
			}
		}
	}
	/* An authzid so long the whole message does not fit the decoder. */
	char huge[3 * MAX_USER_NAME + 64];
	memset(huge, 'a', sizeof(huge));
	memcpy(huge + sizeof(huge) - 9, "\0a\0secret", 9);
	CHECK(!parse_raw(huge, sizeof(huge), &c));
}

int main(void)
{
	test_base64();
	test_plain_accepted();
	test_plain_refused();
	test_plain_limits();
	return check_summary();
}
