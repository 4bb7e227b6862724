/*
 * The assertions the unit tests share: each CHECK that fails prints its
 * file, line and condition and the test goes on, so that one run shows
 * every broken case; check_summary() prints "N passed, N failed" and is
 * the exit status of main (non-zero when anything failed).
 *
 * The tests link against the real modules (Makefile: tests/unit/%.c ->
 * tests/bin/%) and use only what their headers declare.
 */
#ifndef CHECK_H
#define CHECK_H

#include <stdbool.h>
#include <stdio.h>

/* One test program is one process: these two counters are its result. */
static unsigned check_passed_count, check_failed_count;

static inline bool check_report(bool ok, const char *file, int line,
				const char *what)
{
	if (ok) {
		check_passed_count++;
	} else {
		check_failed_count++;
		printf("%s:%d: failed: %s\n", file, line, what);
	}
	return ok;
}

/* CHECK(condition): counts it; prints where it failed.  Its value is the
 * condition, for tests that cannot go on after a failure. */
#define CHECK(cond) check_report((cond) ? true : false, __FILE__, __LINE__, #cond)

/* CHECK_CASE(condition, name): the same, naming the case in the loop. */
#define CHECK_CASE(cond, name)                                                 \
	(check_report((cond) ? true : false, __FILE__, __LINE__, #cond) ||     \
	 (printf("\tcase: %s\n", (name)), false))

static inline int check_summary(void)
{
	printf("%u passed, %u failed\n", check_passed_count, check_failed_count);
	return check_failed_count == 0 && check_passed_count > 0 ? 0 : 1;
}

#endif
