/*
 * SASL PLAIN.  See sasl.h.
 */
#include "sasl.h"

#include <string.h>
#include <strings.h>

#include "auth.h"

static int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

bool base64_decode(const char *in, size_t len, unsigned char *out, size_t cap,
		   size_t *out_len)
{
	size_t o = 0;

	if (len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		size_t pad = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + (size_t)k];
			bool last_group = i + 4 == len;
			if (c == '=' && last_group && k >= 2 &&
			    (k == 3 || in[i + 3] == '=')) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0 || (v[k] = base64_value(c)) < 0)
				return false;
		}
		unsigned bits = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 |
				(unsigned)v[2] << 6 | (unsigned)v[3];
		size_t n = 3 - pad;
		if (o + n > cap)
			return false;
		for (size_t k = 0; k < n; k++)
			out[o++] = (unsigned char)(bits >> (16 - 8 * k));
	}
	*out_len = o;
	return true;
}

bool sasl_mechanism_supported(const char *name, size_t len)
{
	return len == 5 && strncasecmp(name, "PLAIN", 5) == 0;
}

bool sasl_plain_parse(const char *in, size_t len,
		      struct plain_credentials *creds)
{
	unsigned char buf[MAX_SASL_PLAIN];
	size_t n;
	bool ok = false;

	if (len == 1 && in[0] == '=')
		len = 0; /* RFC 5034 4: "=" is an empty initial response */
	if (!base64_decode(in, len, buf, sizeof(buf), &n))
		return false;
	unsigned char *nul1 = memchr(buf, '\0', n);
	unsigned char *nul2 = nul1 ? memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - buf)) : NULL;
	if (nul2 && !memchr(nul2 + 1, '\0', n - (size_t)(nul2 + 1 - buf))) {
		size_t authz_len = (size_t)(nul1 - buf);
		size_t user_len = (size_t)(nul2 - nul1 - 1);
		size_t pass_len = n - (size_t)(nul2 + 1 - buf);
		ok = user_len <= MAX_USER_NAME && pass_len <= MAX_PASSWORD &&
		     (authz_len == 0 ||
		      (authz_len == user_len && memcmp(buf, nul1 + 1, user_len) == 0));
		if (ok) {
			memcpy(creds->user, nul1 + 1, user_len);
			creds->user[user_len] = '\0';
			creds->user_len = user_len;
			memcpy(creds->password, nul2 + 1, pass_len);
			creds->password[pass_len] = '\0';
			creds->password_len = pass_len;
		}
	}
	auth_wipe(buf, sizeof(buf));
	return ok;
}
