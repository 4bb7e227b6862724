/*
 * Deterministic crash points for the integrity tests.
 *
 * Built with -DPOP3_FAULT_INJECTION into tests/bin/pop3-stdio-fault only
 * (make tests/bin/pop3-stdio-fault; make check builds it), never into
 * ./pop3-stdio: every FAULT_POINT in the update path counts itself; when
 * the count reaches $POP3_FAULT_KILL_AT the process kills itself with
 * SIGKILL, exactly like a crash or power cut at that step.
 * $POP3_FAULT_TRACE=1 prints each point to stderr so tests can list them.
 * Release builds compile it to nothing.
 */
#ifndef FAULT_H
#define FAULT_H

#ifdef POP3_FAULT_INJECTION
void fault_point(const char *where);
#define FAULT_POINT(where) fault_point(where)
#else
#define FAULT_POINT(where) ((void)0)
#endif

#endif
