/*
 * Client-supplied text (user names, addresses from the environment) made
 * safe for syslog: printable ASCII kept, everything else as \xHH, cut to
 * fit.  A hostile name cannot forge log lines or hide in them.
 */
#ifndef LOGTEXT_H
#define LOGTEXT_H

#include <stddef.h>

/* Returns out, which has cap bytes (at least 1). */
const char *log_safe(const char *in, size_t len, char *out, size_t cap);

#endif
