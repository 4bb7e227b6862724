/*
 * Client-supplied text (user names, addresses from the environment) made
 * safe for syslog: printable ASCII kept, everything else as \xHH, cut to
 * fit.  A hostile name cannot forge log lines or hide in them.
 */
#ifndef LOGTEXT_H
#define LOGTEXT_H

#include <stddef.h>

/* Room for len bytes made safe: each may become "\xHH", plus the NUL. */
#define LOG_SAFE_SIZE(len) (4 * (len) + 1)

/* Returns out, which has cap bytes (at least 1). */
const char *log_safe(const char *in, size_t len, char *out, size_t cap);

#endif
