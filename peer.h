/*
 * The client's address, as pop3-stdio logs it.  Found once at start-up
 * and handed to every line that names the client, so each line stands on
 * its own (one failed-login line is enough for fail2ban).
 */
#ifndef PEER_H
#define PEER_H

#include <stddef.h>

#include "logtext.h"
#include "params.h"

/* Room for the text: an address taken from the environment is cut at
 * MAX_LOGGED_TEXT octets (an IPv6 address with a scope fits), each of
 * which may become \xHH in log-safe form. */
#define PEER_TEXT_SIZE LOG_SAFE_SIZE(MAX_LOGGED_TEXT)

/* Writes the client's address into out (cap bytes, at least 1) and returns
 * out: the peer of fd 0 when it is an IP socket (an IPv4-mapped IPv6
 * address as plain IPv4), else $REMOTE_ADDR, $TCPREMOTEIP or $REMOTE_HOST
 * made log-safe, else "local". */
const char *peer_address(char *out, size_t cap);

#endif
