/*
 * An LD_PRELOAD library for tests/auth.bats: every crypt_r(3) call appends
 * its setting (the hash or salt string, never the password) as one line to
 * the file $CRYPT_SPY_LOG, then runs the real crypt_r.  It shows which
 * method and cost a failed login's check used, without timing anything.
 *
 *   cc -shared -fPIC -o crypt-spy.so tests/tools/crypt-spy.c -ldl
 */
#define _GNU_SOURCE
#include <crypt.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef char *crypt_r_fn(const char *, const char *, struct crypt_data *);

char *crypt_r(const char *phrase, const char *setting, struct crypt_data *data)
{
	crypt_r_fn *real = (crypt_r_fn *)dlsym(RTLD_NEXT, "crypt_r");
	const char *path = getenv("CRYPT_SPY_LOG");
	FILE *log = path ? fopen(path, "a") : NULL;

	if (log) {
		fprintf(log, "%s\n", setting ? setting : "(null)");
		fclose(log);
	}
	return real ? real(phrase, setting, data) : NULL;
}
