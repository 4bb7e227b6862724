/*
 * Fuzz target: the virtual-users file parser (auth_find_virtual), and the
 * helpers that see the same untrusted names: auth_name_is_valid, log_safe
 * and parse_decimal.
 *
 * Input: a user name, LF, then the file.  Checked besides crashes and
 * leaks: a hash found fits its buffer and is NUL-free; a user added at the
 * end of any file is found; the first hash is set whenever a line parsed;
 * log_safe output is printable and fits; parse_decimal agrees with a
 * plain model on the name's bytes.
 */
#include <stdint.h>

#include "auth.h"
#include "fuzz.h"
#include "logtext.h"
#include "number.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool find(const char *text, size_t len, const char *user,
		 struct virtual_user *vu, char first_hash[256])
{
	FILE *in = fmemopen((void *)text, len, "r");

	FUZZ_CHECK(in != NULL);
	bool found = auth_find_virtual(in, user, vu, first_hash);
	fclose(in);
	if (found) {
		FUZZ_CHECK(strnlen(vu->hash, sizeof(vu->hash)) < sizeof(vu->hash));
		FUZZ_CHECK(first_hash[0] != '\0' || vu->hash[0] == '\0');
	}
	FUZZ_CHECK(strnlen(first_hash, 256) < 256);
	return found;
}

static void check_log_safe(const char *text, size_t len)
{
	char out[4 * 64 + 1];

	log_safe(text, len, out, sizeof(out));
	size_t n = strnlen(out, sizeof(out));
	FUZZ_CHECK(n < sizeof(out));
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(out[i] >= 0x20 && out[i] < 0x7f);
}

static void check_decimal(const char *text, size_t len)
{
	uint64_t value, model = 0;
	bool model_ok = len > 0;

	for (size_t i = 0; i < len && model_ok; i++) {
		unsigned d = (unsigned char)text[i] - (unsigned)'0';
		if (d > 9 || model > (UINT32_MAX - d) / 10)
			model_ok = false;
		else
			model = model * 10 + d;
	}
	bool ok = parse_decimal(text, len, UINT32_MAX, &value);
	FUZZ_CHECK(ok == model_ok && (!ok || value == model));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *lf = memchr(data, '\n', size);
	size_t user_len = lf ? (size_t)(lf - data) : size;
	char user[MAX_USER_NAME + 1];
	struct virtual_user vu;
	char first_hash[256];

	check_log_safe((const char *)data, size);
	check_decimal((const char *)data, user_len);
	if (!auth_name_is_valid((const char *)data, user_len) ||
	    memchr(data, '\0', user_len))
		return 0;
	memcpy(user, data, user_len);
	user[user_len] = '\0';
	const char *file = lf ? (const char *)lf + 1 : "";
	size_t file_len = lf ? size - user_len - 1 : 0;
	find(file, file_len, user, &vu, first_hash);

	if (user[0] == '#' || strchr(user, ':'))
		return 0; /* cannot be named in the file */
	static const char hash[] = ":$6$salt$hash\n";
	char *more = malloc(file_len + 1 + user_len + sizeof(hash));
	FUZZ_CHECK(more != NULL);
	memcpy(more, file, file_len);
	more[file_len] = '\n';
	memcpy(more + file_len + 1, user, user_len);
	memcpy(more + file_len + 1 + user_len, hash, sizeof(hash) - 1);
	FUZZ_CHECK(find(more, file_len + user_len + sizeof(hash), user, &vu,
			first_hash));
	free(more);
	return 0;
}
