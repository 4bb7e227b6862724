/*
 * Crash points for tests.  See fault.h.  Empty in release builds.
 */
#include "fault.h"

#ifdef POP3_FAULT_INJECTION
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

void fault_point(const char *where)
{
	static unsigned long passed; /* test-only state, not in release */
	const char *kill_at = getenv("POP3_FAULT_KILL_AT");
	const char *trace = getenv("POP3_FAULT_TRACE");

	passed++;
	if (trace && *trace == '1')
		fprintf(stderr, "fault point %lu: %s\n", passed, where);
	if (kill_at && strtoul(kill_at, NULL, 10) == passed)
		raise(SIGKILL);
}
#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int fault_injection_disabled;
#endif
